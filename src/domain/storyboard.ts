/**
 * Thumbnail storyboards (reference 4.8, `use_vtt=yes`): thumbnails tiled into sprite sheets and a
 * WebVTT file with one cue per thumbnail, `sheet.jpg#xywh=x,y,w,h`. Pure rules shared by the
 * planner (which writes the VTT), the pipeline (which delivers it) and GetStatus (which lists it).
 *
 * The VTT written at encode time names the sheets by their local file names, which is right for
 * outputs kept on this server (the download links sit side by side). Each delivery rewrites those
 * names for where the sheets will be: their names at the destination when the VTT goes beside
 * them, their full public URL when `vtt_destination` puts it elsewhere.
 */
import path from 'node:path';
import type { FieldMap } from './fields.ts';
import { parseFormat, type StoryboardSpec } from './format.ts';
import { besideUrl, destinationFor } from './destinations.ts';

/** The storyboard settings of a stored task (its output and format JSON), or null when it is not a `use_vtt` thumbnail. */
export function storyboardOf(output: string, format: string): StoryboardSpec | null {
  if (output !== 'thumbnail') return null;
  const parsed = parseFormat(JSON.parse(format) as FieldMap);
  return parsed.ok && parsed.spec.kind === 'thumbnail' ? parsed.spec.storyboard : null;
}

export interface SheetLayout {
  /** Tiles in a row and rows in a sheet. */
  perRow: number;
  rows: number;
  /** One tile, in pixels. */
  tileWidth: number;
  tileHeight: number;
}

export interface Cue {
  start: number;
  end: number;
  /** 0-based sheet index. */
  sheet: number;
  x: number;
  y: number;
  w: number;
  h: number;
}

/**
 * One cue per thumbnail: thumbnail k shows the moment k × every and lasts until the next one; the
 * last cue ends at the duration. Thumbnails at or past the end (a rounding extra) get no cue.
 */
export function storyboardCues(count: number, every: number, duration: number, layout: SheetLayout): Cue[] {
  const perSheet = layout.perRow * layout.rows;
  const cues: Cue[] = [];
  for (let k = 0; k < count; k++) {
    const start = k * every;
    if (duration > 0 && start >= duration - 1e-6) break;
    const slot = k % perSheet;
    cues.push({
      start,
      end: (k + 1) * every,
      sheet: Math.floor(k / perSheet),
      x: (slot % layout.perRow) * layout.tileWidth,
      y: Math.floor(slot / layout.perRow) * layout.tileHeight,
      w: layout.tileWidth,
      h: layout.tileHeight,
    });
  }
  const last = cues.at(-1);
  if (last && duration > 0) last.end = duration;
  return cues;
}

/** `HH:MM:SS.mmm`, the one timestamp form every WebVTT reader takes. */
export function vttTime(seconds: number): string {
  const ms = Math.round(seconds * 1000);
  const h = Math.floor(ms / 3_600_000);
  const m = Math.floor(ms / 60_000) % 60;
  const s = Math.floor(ms / 1000) % 60;
  const pad = (n: number, w = 2): string => String(n).padStart(w, '0');
  return `${pad(h)}:${pad(m)}:${pad(s)}.${pad(ms % 1000, 3)}`;
}

export function renderVtt(cues: Cue[], sheetName: (sheet: number) => string): string {
  const blocks = cues.map((c) => `${vttTime(c.start)} --> ${vttTime(c.end)}\n${sheetName(c.sheet)}#xywh=${c.x},${c.y},${c.w},${c.h}`);
  return `WEBVTT\n\n${blocks.join('\n\n')}\n`;
}

/** The VTT with every sheet reference (a cue line `name#xywh=…`) replaced by `target(name)`. */
export function retargetVtt(text: string, target: (name: string) => string): string {
  return text
    .split('\n')
    .map((line) => line.replace(/^([^\s#]+)(#xywh=\d+,\d+,\d+,\d+)$/, (_, name: string, frag: string) => target(name) + frag))
    .join('\n');
}

/** The URL without the parts that must never be published in a VTT: credentials, query, fragment. */
function publicForm(url: string): string {
  const u = new URL(url);
  u.username = '';
  u.password = '';
  u.search = '';
  u.hash = '';
  return u.href;
}

/**
 * The .vtt beside the sheets of one destination: in a folder destination under its own name;
 * else the destination's name with `.vtt` for its extension (`…/thumbs.jpg` → `…/thumbs.vtt`).
 */
export function vttBeside(destUrl: string, vttFile: string): string {
  if (destUrl.replace(/[?#].*$/, '').endsWith('/')) return destinationFor(destUrl, vttFile, 0, 1);
  return besideUrl(destUrl, '.vtt');
}

/** One file of a storyboard task sent to one destination; `retarget` set for the VTT. */
export interface StoryboardUpload {
  file: string;
  url: string;
  /** Local sheet name → what the delivered VTT calls it. */
  retarget?: (name: string) => string;
}

/** What each destination row holds: the sheets (and the VTT beside them, unless it goes elsewhere), or only the VTT. */
export type StoryboardRole = 'sheets+vtt' | 'sheets' | 'vtt';

/**
 * Roles of a storyboard task's destination rows, in order. AddMedia appends `vtt_destination`
 * as the last row, after every sheet destination.
 */
export function storyboardRoles(board: StoryboardSpec, destUrls: string[]): StoryboardRole[] {
  const elsewhere = board.destination !== null && destUrls.length > 1 && destUrls.at(-1) === board.destination;
  return destUrls.map((_, i) => (!elsewhere ? 'sheets+vtt' : i === destUrls.length - 1 ? 'vtt' : 'sheets'));
}

/**
 * The uploads for destination row `index`. `files` are the task's outputs: the sheets, then the
 * VTT last.
 */
export function storyboardUploads(board: StoryboardSpec, destUrls: string[], index: number, files: string[]): StoryboardUpload[] {
  const sheets = files.slice(0, -1);
  const vtt = files.at(-1)!;
  const role = storyboardRoles(board, destUrls)[index]!;
  const url = destUrls[index]!;
  const sheetUrl = (dest: string, name: string): string => {
    const i = sheets.findIndex((s) => path.basename(s) === name);
    return i < 0 ? name : destinationFor(dest, sheets[i]!, i, sheets.length);
  };
  const uploads: StoryboardUpload[] = [];
  if (role !== 'vtt') sheets.forEach((file, i) => uploads.push({ file, url: destinationFor(url, file, i, sheets.length) }));
  if (role === 'sheets+vtt') {
    // Beside the sheets, a bare name is enough and survives the folder being moved or mirrored.
    const lastSegment = (u: string): string => u.replace(/[?#].*$/, '').split('/').at(-1)!;
    uploads.push({ file: vtt, url: vttBeside(url, path.basename(vtt)), retarget: (name) => lastSegment(sheetUrl(url, name)) });
  }
  if (role === 'vtt') {
    // The sheets as the first destination names them; public_url, when given, stands for that destination's folder.
    const publicUrl = board.publicUrl;
    const named = (name: string): string => {
      const atDest = publicForm(sheetUrl(destUrls[0]!, name));
      return publicUrl === null ? atDest : publicForm(new URL(atDest.split('/').at(-1)!, publicUrl).href);
    };
    uploads.push({ file: vtt, url: destinationFor(url, vtt, 0, 1), retarget: named });
  }
  return uploads;
}

/** The URLs GetStatus lists for each destination row of a storyboard task whose VTT is named `vttFile`. */
export function storyboardListing(board: StoryboardSpec, destUrls: string[], vttFile: string): string[][] {
  return storyboardRoles(board, destUrls).map((role, i) => {
    const url = destUrls[i]!;
    if (role === 'vtt') return [destinationFor(url, vttFile, 0, 1)];
    return role === 'sheets+vtt' ? [url, vttBeside(url, vttFile)] : [url];
  });
}
