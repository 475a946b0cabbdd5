/** Pictures made from a video (reference 4.9): thumbnails, animated GIFs and single images. */
import { FormatProblem, type Fields, type Size, parseDecimal, parseNonNegativeInt, parseSize, parseTime } from './fields.ts';
import { readTrim, type TrimFields } from './video.ts';

export type ThumbnailTime =
  | { kind: 'at'; seconds: number }
  | { kind: 'percent'; percent: number }
  | { kind: 'every'; seconds: number };

export interface ThumbnailSpec {
  kind: 'thumbnail';
  output: 'thumbnail';
  /** @default { kind: 'at', seconds: 5 } */
  time: ThumbnailTime;
  /** null = from the other side, or the source size when both are null. */
  width: number | null;
  height: number | null;
  /** 1 (smallest file) to 100 (best). @default 90 */
  quality: number;
}

export const GIF_DITHERS = ['bayer', 'heckbert', 'floyd_steinberg', 'sierra2', 'sierra2_4a'] as const;
export type GifDither = (typeof GIF_DITHERS)[number];

/** An animated GIF (reference 4.9), made with a palette computed from its own frames. */
export interface GifSpec extends TrimFields {
  kind: 'gif';
  output: 'gif';
  /** Frame delay in 1/100 s; the frame rate is 100/interval. @default 10 */
  interval: number;
  /** encoding.com's meaning: -1 loops forever, 0 plays once, N > 0 repeats N times. @default 0 */
  loop: number;
  /** Palette size, 4 to 255. @default 128 */
  colors: number;
  /** @default 'sierra2_4a' */
  dither: GifDither;
  /** null = the source's display size. */
  size: Size | null;
  /** @default true */
  keepAspectRatio: boolean;
}

export type ImageFormat = 'jpg' | 'png' | 'gif' | 'webp';
/**
 * How a picture is brought to `size` when both sides are given: `resize` fits it inside keeping
 * the aspect (one side may come out smaller; with keep_aspect_ratio no it is stretched), `crop`
 * fills the size and cuts what overflows, `combine` fits it inside and pads to the size.
 */
export type ResizeMethod = 'resize' | 'crop' | 'combine';

/** One still picture (reference 4.9). */
export interface ImageSpec {
  kind: 'image';
  output: 'image';
  /** @default 'jpg' */
  imageFormat: ImageFormat;
  /** @default 'resize' */
  resizeMethod: ResizeMethod;
  /** null = the source's display size. */
  size: Size | null;
  keepAspectRatio: boolean;
  /** 1 to 100; JPEG and WebP only. @default 90 */
  quality: number;
  /** Like a thumbnail's, without the every-N-seconds form. @default { kind: 'at', seconds: 5 } */
  time: Exclude<ThumbnailTime, { kind: 'every' }>;
}

export function readThumbnail(f: Fields): ThumbnailSpec {
  const timeRaw = f.str('time');
  let time: ThumbnailTime = { kind: 'at', seconds: 5 };
  if (timeRaw !== null) {
    const parsed = parseThumbnailTime(timeRaw);
    if (typeof parsed === 'string') throw new FormatProblem(parsed);
    time = parsed;
  }
  let width = f.parse('width', 'a width in pixels like 320', parseNonNegativeInt);
  let height = f.parse('height', 'a height in pixels like 180', parseNonNegativeInt);
  // Some clients send `size` for thumbnails too; width/height win when both are present.
  const size = f.parse('size', 'a size like 320x180', parseSize);
  if (width === null && height === null && size) ({ width, height } = size);
  for (const [name, v] of [['width', width], ['height', height]] as const) {
    if (v !== null && v > 8192) throw new FormatProblem(`${name} "${v}" is too large; use at most 8192 pixels.`);
  }
  const quality = f.parse('quality', 'a quality from 1 to 100', parseNonNegativeInt) ?? 90;
  if (quality < 1 || quality > 100) throw new FormatProblem(`quality "${quality}" is out of range; use 1 to 100.`);
  return { kind: 'thumbnail', output: 'thumbnail', time, width: width || null, height: height || null, quality };
}

/** `size` (WxH, one side 0 keeps the aspect), or `width`/`height` as thumbnails take them. */
export function readStillSize(f: Fields): Size | null {
  const size = f.parse('size', 'a size like 320x180 (even numbers; 0 keeps the aspect ratio)', parseSize);
  if (size) return size;
  const width = f.parse('width', 'a width in pixels like 320', parseNonNegativeInt) ?? 0;
  const height = f.parse('height', 'a height in pixels like 180', parseNonNegativeInt) ?? 0;
  for (const [name, v] of [['width', width], ['height', height]] as const) {
    if (v > 8192) throw new FormatProblem(`${name} "${v}" is too large; use at most 8192 pixels.`);
    if (v % 2 !== 0) throw new FormatProblem(`${name} "${v}" must be an even number of pixels.`);
  }
  return width || height ? { width, height } : null;
}

export function readGif(f: Fields): GifSpec {
  const interval = f.parse('interval', 'a frame delay in hundredths of a second like 10', parseNonNegativeInt) ?? 10;
  if (interval < 2 || interval > 1000) {
    throw new FormatProblem(`interval "${interval}" is out of range; use 2 to 1000 hundredths of a second (10 = 10 frames a second).`);
  }
  const loopRaw = f.str('loop');
  let loop = 0;
  if (loopRaw !== null) {
    if (!/^(-1|\d{1,5})$/.test(loopRaw)) throw new FormatProblem(`loop "${loopRaw}" is not -1 (loop forever), 0 (play once) or a number of repeats.`);
    loop = Number(loopRaw);
  }
  const colors = f.parse('colors', 'a number of colours from 4 to 255', parseNonNegativeInt) ?? 128;
  if (colors < 4 || colors > 255) throw new FormatProblem(`colors "${colors}" is out of range; use 4 to 255.`);
  const ditherRaw = f.str('dither');
  let dither: GifDither = 'sierra2_4a';
  if (ditherRaw !== null) {
    const found = GIF_DITHERS.find((d) => d === ditherRaw.toLowerCase());
    if (!found) throw new FormatProblem(`dither "${ditherRaw}" is not one of ${GIF_DITHERS.join(', ')}.`);
    dither = found;
  }
  return {
    kind: 'gif', output: 'gif', interval, loop, colors, dither, size: readStillSize(f),
    keepAspectRatio: f.flag('keep_aspect_ratio', true), ...readTrim(f),
  };
}

export const IMAGE_FORMATS: Record<string, ImageFormat> = { jpg: 'jpg', jpeg: 'jpg', png: 'png', gif: 'gif', webp: 'webp' };

export function readImage(f: Fields): ImageSpec {
  const formatRaw = f.str('image_format');
  let imageFormat: ImageFormat = 'jpg';
  if (formatRaw !== null) {
    const found = IMAGE_FORMATS[formatRaw.toLowerCase()];
    if (!found) throw new FormatProblem(`image_format "${formatRaw}" is not one of jpg, png, gif, webp.`);
    imageFormat = found;
  }
  const methodRaw = f.str('resize_method');
  let resizeMethod: ResizeMethod = 'resize';
  if (methodRaw !== null) {
    const m = methodRaw.toLowerCase();
    if (m !== 'resize' && m !== 'crop' && m !== 'combine') throw new FormatProblem(`resize_method "${methodRaw}" is not one of resize, crop, combine.`);
    resizeMethod = m;
  }
  const quality = f.parse('quality', 'a quality from 1 to 100', parseNonNegativeInt) ?? 90;
  if (quality < 1 || quality > 100) throw new FormatProblem(`quality "${quality}" is out of range; use 1 to 100.`);
  const timeRaw = f.str('time');
  let time: ImageSpec['time'] = { kind: 'at', seconds: 5 };
  if (timeRaw !== null) {
    const parsed = parseThumbnailTime(timeRaw);
    if (typeof parsed === 'string') throw new FormatProblem(parsed);
    if (parsed.kind === 'every') throw new FormatProblem(`time "${timeRaw}" asks for a picture every few seconds; an image is one picture: use a time like 5 or 10%, or output thumbnail.`);
    time = parsed;
  }
  return {
    kind: 'image', output: 'image', imageFormat, resizeMethod, size: readStillSize(f), keepAspectRatio: f.flag('keep_aspect_ratio', true),
    quality, time,
  };
}

export function parseThumbnailTime(raw: string): ThumbnailTime | string {
  const bad = `time "${raw}" is not a thumbnail time like 5, 00:00:05.5, 10% or 2! (every 2 seconds).`;
  const every = /^!\s*(.+)$/.exec(raw) ?? /^(.+?)\s*!$/.exec(raw);
  if (every) {
    const n = parseDecimal(every[1] ?? '');
    if (n === null) return bad;
    if (n < 1) return `time "${raw}" takes a thumbnail too often; use every 1 second (1!) or more.`;
    return { kind: 'every', seconds: n };
  }
  const pct = /^(.+?)\s*%$/.exec(raw);
  if (pct) {
    const n = parseDecimal(pct[1] ?? '');
    if (n === null) return bad;
    if (n > 100) return `time "${raw}" is out of range; use 0% to 100%.`;
    return { kind: 'percent', percent: n };
  }
  if (raw.startsWith('-')) return `time "${raw}" must not be negative.`;
  const t = parseTime(raw);
  if (t === null || t.timecode) return bad;
  return { kind: 'at', seconds: t.seconds };
}
