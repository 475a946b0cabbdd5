/**
 * Picture geometry, computed here rather than with FFmpeg expressions so the planner knows the
 * exact output size (padding offsets, concatenation, thumbnails) and every size comes out even.
 */
import type { Crop, Size } from '../../domain/format.ts';
import type { VideoStreamInfo } from '../ffmpeg/probe.ts';
import { filter, type Filter } from '../ffmpeg/args.ts';

export type QuarterTurn = 0 | 90 | 180 | 270;

/** The frame as our filters receive it (after autorotate and our own transpose). */
export interface Frame {
  /** Pixels of the decoded frame. */
  width: number;
  height: number;
  /** Width multiplier from pixels to square pixels (the sample aspect ratio). */
  sar: number;
}

export interface Box {
  width: number;
  height: number;
}

/** Round to the nearest even number, at least 2: yuv420p and most encoders need even sizes. */
export function even(n: number): number {
  return Math.max(2, Math.round(n / 2) * 2);
}

/**
 * The frame after FFmpeg's autorotate (which turns `sourceRotation` clockwise) and then our own
 * `extra` clockwise turn.
 */
export function rotatedFrame(video: VideoStreamInfo, extra: QuarterTurn): Frame {
  const [num, den] = video.pixelAspectRatio.split(':').map(Number) as [number, number];
  const sar = num > 0 && den > 0 ? num / den : 1;
  const total = (video.rotation + extra) % 360;
  const sideways = total === 90 || total === 270;
  return sideways ? { width: video.height, height: video.width, sar: 1 / sar } : { width: video.width, height: video.height, sar };
}

export function croppedFrame(frame: Frame, crop: Crop): Frame {
  const width = frame.width - crop.left - crop.right;
  const height = frame.height - crop.top - crop.bottom;
  if (width < 2 || height < 2) {
    throw new Error(
      `The crop (left ${crop.left}, right ${crop.right}, top ${crop.top}, bottom ${crop.bottom}) removes the whole ${frame.width}x${frame.height} picture; use smaller crop values.`,
    );
  }
  return { width, height, sar: frame.sar };
}

/** The display size in square pixels. */
export function displayBox(frame: Frame): Box {
  return { width: frame.width * frame.sar, height: frame.height };
}

/** Output size for a requested size: null keeps the source size; 0 on one side keeps the aspect. */
export function targetBox(display: Box, size: Size | null): Box {
  if (!size) return { width: even(display.width), height: even(display.height) };
  if (size.width === 0) return { width: even((size.height * display.width) / display.height), height: size.height };
  if (size.height === 0) return { width: size.width, height: even((size.width * display.height) / display.width) };
  return { width: size.width, height: size.height };
}

/**
 * Filters that bring a frame to exactly `box`: fit inside and pad with black (`keepAspect`), or
 * stretch. Both end with square pixels.
 */
export function fitFilters(display: Box, box: Box, keepAspect: boolean): Filter[] {
  if (!keepAspect) return [filter('scale', { w: box.width, h: box.height }), filter('setsar', ['1'])];
  const scale = Math.min(box.width / display.width, box.height / display.height);
  const width = Math.min(box.width, even(display.width * scale));
  const height = Math.min(box.height, even(display.height * scale));
  const filters = [filter('scale', { w: width, h: height })];
  if (width !== box.width || height !== box.height) {
    // Even offsets keep the chroma planes aligned.
    const x = Math.floor((box.width - width) / 4) * 2;
    const y = Math.floor((box.height - height) / 4) * 2;
    filters.push(filter('pad', { w: box.width, h: box.height, x, y, color: 'black' }));
  }
  filters.push(filter('setsar', ['1']));
  return filters;
}

/** `transpose` filters for a clockwise quarter turn. */
export function turnFilters(turn: QuarterTurn): Filter[] {
  switch (turn) {
    case 0:
      return [];
    case 90:
      return [filter('transpose', ['clock'])];
    case 180:
      return [filter('hflip'), filter('vflip')];
    case 270:
      return [filter('transpose', ['cclock'])];
  }
}

export function cropFilters(crop: Crop): Filter[] {
  if (crop.left + crop.right + crop.top + crop.bottom === 0) return [];
  return [filter('crop', { w: `iw-${crop.left + crop.right}`, h: `ih-${crop.top + crop.bottom}`, x: crop.left, y: crop.top })];
}
