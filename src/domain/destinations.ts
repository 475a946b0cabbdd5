import path from 'node:path';
import { SEGMENTED_OUTPUTS } from './outputs.ts';
import { sidecarTail } from './captions.ts';

/**
 * Where a task's files go at a destination URL: pure rules shared by the pipeline (which
 * delivers them) and GetStatus (which lists them).
 */

/** The URL without and with its query string or fragment, which stays on every file's URL. */
function splitQuery(url: string): { base: string; rest: string } {
  const q = url.search(/[?#]/);
  return q >= 0 ? { base: url.slice(0, q), rest: url.slice(q) } : { base: url, rest: '' };
}

/**
 * The URL one output file goes to. A destination ending in `/` is a folder; a task that made
 * several files (thumbnails every N seconds) numbers them before the extension.
 */
export function destinationFor(url: string, file: string, index: number, count: number): string {
  const { base, rest } = splitQuery(url);
  if (base.endsWith('/')) return base + encodeURIComponent(path.basename(file)) + rest;
  if (count <= 1) return url;
  const n = String(index + 1).padStart(4, '0');
  const dot = base.lastIndexOf('.');
  const slash = base.lastIndexOf('/');
  const numbered = dot > slash ? `${base.slice(0, dot)}_${n}${base.slice(dot)}` : `${base}_${n}`;
  return numbered + rest;
}

/**
 * The URL of a file delivered beside the one at `url`, named after it: its extension replaced by
 * `tail` (`…/video.mp4` + `.srt` → `…/video.srt`); a query string stays on.
 */
export function besideUrl(url: string, tail: string): string {
  const { base, rest } = splitQuery(url);
  const dot = base.lastIndexOf('.');
  return (dot > base.lastIndexOf('/') ? base.slice(0, dot) : base) + tail + rest;
}

/** Outputs made of several files that keep their relative layout (HLS, DASH: manifests, variant folders). */
export function keepsLayout(output: string): boolean {
  return (SEGMENTED_OUTPUTS as readonly string[]).includes(output);
}

/**
 * Which of a layout-keeping output's files goes to the destination URL itself (and is uploaded
 * last): its last file (the HLS master, the MPD), except that advanced_fmp4, which has both, makes
 * its MPD the main file at a destination whose path ends in `.mpd`. `relative` is the task's file
 * list, main file last; returns an index into it.
 */
export function layoutMain(output: string, relative: string[], url: string): number {
  const last = relative.length - 1;
  if (output !== 'advanced_fmp4' || !splitQuery(url).base.toLowerCase().endsWith('.mpd')) return last;
  const mpd = relative.findIndex((f) => !f.includes('/') && f.toLowerCase().endsWith('.mpd'));
  return mpd >= 0 ? mpd : last;
}

/**
 * The URL of one file of an output that keeps its layout: the main file (the HLS master
 * playlist) goes to the destination itself (into it, under its own name, when the destination is
 * a folder ending in `/`), every other file to its path relative to the main file, beside it:
 * `…/out/video.m3u8` → `…/out/stream_0/index.m3u8`. A query string is kept on every file.
 * `relative` is the file's path below the task's folder, with `/` separators.
 *
 * A packed output (HLS `pack_files`) has an archive as its main file: it goes to the destination
 * with `.m3u8` replaced by the archive's extension (`…/video.m3u8` → `…/video.tar`), or to the
 * destination as given when that already ends in `.tar`/`.zip` (or has another extension).
 */
export function destinationForLayout(url: string, relative: string, main: string): string {
  const { base, rest } = splitQuery(url);
  if (relative === main && !base.endsWith('/')) return ARCHIVE.test(main) ? archiveUrl(base, main) + rest : url;
  const encoded = relative.split('/').map(encodeURIComponent).join('/');
  return new URL(encoded, base).href + rest;
}

const ARCHIVE = /\.(tar|zip)$/i;

function archiveUrl(base: string, main: string): string {
  const ext = ARCHIVE.exec(main)![0];
  return /\.m3u8$/i.test(base) ? base.replace(/\.m3u8$/i, ext) : base;
}

/**
 * A task's caption sidecars (closed_captions `extract srt` …) at the destination `url`: each goes
 * beside the output's main file, named after it (`…/video.mp4` → `…/video.srt`, a second SRT
 * `…/video_2.srt`). `relative` is the task's file list (paths below its folder); returns the
 * index of each sidecar in it with its URL, none for a task without sidecars.
 */
export function sidecarDestinations(output: string, relative: string[], url: string): { index: number; url: string }[] {
  const tails = relative.map((f) => sidecarTail(f));
  if (tails.every((t) => t === null)) return [];
  const files = relative.filter((_, i) => tails[i] === null);
  if (files.length === 0) return [];
  let main: string;
  if (keepsLayout(output)) {
    const m = files[layoutMain(output, files, url)]!;
    main = destinationForLayout(url, m, m);
  } else {
    main = destinationFor(url, files[0]!, 0, files.length);
  }
  return tails.flatMap((tail, index) => (tail === null ? [] : [{ index, url: besideUrl(main, tail) }]));
}
