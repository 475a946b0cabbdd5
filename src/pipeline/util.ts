import path from 'node:path';
import type { MediaProbe } from './ffmpeg/probe.ts';

/** One line a person can act on; errors from our modules are already phrased for users. */
export function describeError(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return message.replace(/\s+/g, ' ').trim().slice(0, 1000) || 'unknown error';
}

export async function mapLimit<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const errors: unknown[] = [];
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++]!;
      await fn(item).catch((err) => errors.push(err));
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (errors.length > 0) throw errors[0];
}

/**
 * The URL one output file goes to. A destination ending in `/` is a folder; a task that made
 * several files (thumbnails every N seconds) numbers them before the extension.
 */
export function destinationFor(url: string, file: string, index: number, count: number): string {
  const q = url.search(/[?#]/);
  const base = q >= 0 ? url.slice(0, q) : url;
  const rest = q >= 0 ? url.slice(q) : '';
  if (base.endsWith('/')) return base + encodeURIComponent(path.basename(file)) + rest;
  if (count <= 1) return url;
  const n = String(index + 1).padStart(4, '0');
  const dot = base.lastIndexOf('.');
  const slash = base.lastIndexOf('/');
  const numbered = dot > slash ? `${base.slice(0, dot)}_${n}${base.slice(dot)}` : `${base}_${n}`;
  return numbered + rest;
}

/** Outputs made of several files that keep their relative layout (HLS: master, variant folders). */
export function keepsLayout(output: string): boolean {
  return output === 'advanced_hls';
}

/**
 * The URL of one file of an output that keeps its layout: the main file (the HLS master
 * playlist) goes to the destination itself (into it, under its own name, when the destination is
 * a folder ending in `/`), every other file to its path relative to the main file, beside it:
 * `…/out/video.m3u8` → `…/out/stream_0/index.m3u8`. A query string is kept on every file.
 * `relative` is the file's path below the task's folder, with `/` separators.
 */
export function destinationForLayout(url: string, relative: string, main: string): string {
  const q = url.search(/[?#]/);
  const base = q >= 0 ? url.slice(0, q) : url;
  const rest = q >= 0 ? url.slice(q) : '';
  if (relative === main && !base.endsWith('/')) return url;
  const encoded = relative.split('/').map(encodeURIComponent).join('/');
  return new URL(encoded, base).href + rest;
}

export function describeProbe(p: MediaProbe): string {
  const parts = [`${p.formatName}, ${p.durationSec.toFixed(2)} s`];
  if (p.video) parts.push(`video ${p.video.codec} ${p.video.width}x${p.video.height} ${p.video.fps.toFixed(2)} fps${p.video.rotation ? ` rotated ${p.video.rotation}` : ''}`);
  for (const a of p.audio) parts.push(`audio ${a.codec} ${a.sampleRate} Hz ${a.channels} ch`);
  return parts.join(', ');
}
