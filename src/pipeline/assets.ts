/**
 * The files a format's editing needs (logo, overlays, fonts, the text to draw), fetched into the
 * media's scratch folder with the same transfer rules and limits as sources. Each URL is fetched
 * once per run however many formats name it. A bad asset fails only the tasks that use it.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { editingOf, hasEditing, type Editing, type OutputSpec } from '../domain/format.ts';
import { download, localSourcePath, redactUrl } from '../transfer/index.ts';
import type { TransferContext } from '../transfer/types.ts';
import { inputArgs, RefusedInputError, refusalOf, sniffNotMedia } from './ffmpeg/inputs.ts';
import { probeMedia } from './ffmpeg/probe.ts';
import type { EditAssets, LocalAsset } from './plan/editing.ts';
import { describeError } from '../domain/errors.ts';

export interface AssetContext {
  scratch: string;
  transfer: TransferContext;
  ffprobe: string;
  ffmpeg: string;
  signal: AbortSignal;
}

export interface FetchedAssets {
  assets: Map<number, EditAssets>;
  failed: { taskId: number; error: Error }[];
}

/** Fetches and checks what the tasks' editing needs; tasks without editing get nothing. */
export async function fetchEditingAssets(tasks: { taskId: number; spec: OutputSpec }[], ctx: AssetContext): Promise<FetchedAssets> {
  const files = new Map<string, Promise<string>>();
  const fetchOnce = (url: string): Promise<string> => {
    let p = files.get(url);
    if (!p) {
      // No extension: FFmpeg then tells the format from the bytes, not from the name the URL gave.
      p = fetchFile(url, path.join(ctx.scratch, `asset-${files.size}`), ctx);
      // Settled here too, so a failure nobody awaits yet is not reported as unhandled.
      p.catch(() => undefined);
      files.set(url, p);
    }
    return p;
  };
  const result: FetchedAssets = { assets: new Map(), failed: [] };
  for (const { taskId, spec } of tasks) {
    const editing = editingOf(spec);
    if (!editing || !hasEditing(editing)) continue;
    // A restarted media may find its scratch folder gone (sources read in place need none).
    await fs.mkdir(ctx.scratch, { recursive: true });
    try {
      result.assets.set(taskId, await assetsFor(taskId, editing, ctx, fetchOnce));
    } catch (err) {
      if (ctx.signal.aborted) throw err;
      result.failed.push({ taskId, error: err instanceof Error ? err : new Error(String(err)) });
    }
  }
  return result;
}

async function assetsFor(taskId: number, editing: Editing, ctx: AssetContext, fetchOnce: (url: string) => Promise<string>): Promise<EditAssets> {
  const picture = async (url: string, field: string, what: string, stillOnly: boolean): Promise<LocalAsset> => {
    const file = await fetchOnce(url).catch((err: unknown) => {
      throw new Error(`${field} ${redactUrl(url)} could not be fetched: ${describeError(err)}`);
    });
    let probe;
    try {
      probe = await probeMedia(file, { ffprobe: ctx.ffprobe, signal: ctx.signal });
    } catch (err) {
      if (ctx.signal.aborted) throw err;
      if (err instanceof RefusedInputError) throw new Error(`${field} ${redactUrl(url)} is ${err.refusal.what}; ${err.refusal.advice}.`);
      // ffprobe's own words; the probe's sentence around them speaks of sources.
      const message = describeError(err);
      const reason = /\(ffprobe: (.*)\)\. Check/.exec(message)?.[1] ?? message;
      throw new Error(`${field} ${redactUrl(url)} is not ${what} FFmpeg can read: ${reason}`);
    }
    if (!probe.video || probe.video.width === 0 || probe.video.height === 0) {
      throw new Error(`${field} ${redactUrl(url)} is not ${what} FFmpeg can read: it has no picture.`);
    }
    // A header can look right over broken data: decode the first picture to be sure.
    const decodeError = await firstFrameError(file, ctx);
    if (decodeError !== null) throw new Error(`${field} ${redactUrl(url)} is not ${what} FFmpeg can read: ${decodeError}`);
    const still = isStill(probe.formatName, probe.video.durationSec);
    if (stillOnly && !still && !/gif/.test(probe.formatName)) {
      throw new Error(`${field} ${redactUrl(url)} is not ${what} FFmpeg can read: it is a ${probe.formatName} video.`);
    }
    return { path: file, probe, still };
  };
  const logo = editing.logo ? await picture(editing.logo.source, 'logo_source', 'an image', true) : null;
  const overlays: LocalAsset[] = [];
  for (const o of editing.overlays) overlays.push(await picture(o.source, 'overlay_source', 'an image or a video', false));
  const fonts: (string | null)[] = [];
  const textFiles: string[] = [];
  for (const [i, t] of editing.texts.entries()) {
    if (t.fontSource) {
      const file = await fetchOnce(t.fontSource).catch((err: unknown) => {
        throw new Error(`font_source ${redactUrl(t.fontSource!)} could not be fetched: ${describeError(err)}`);
      });
      const notFont = await sniffNotMedia(file);
      if (notFont) {
        const refusal = refusalOf(notFont);
        throw new Error(`font_source ${redactUrl(t.fontSource)} is ${refusal.what}; give a TrueType or OpenType font file (.ttf, .otf).`);
      }
      if (!(await looksLikeFont(file))) {
        throw new Error(`font_source ${redactUrl(t.fontSource)} is not a TrueType or OpenType font (.ttf, .otf).`);
      }
      fonts.push(file);
    } else fonts.push(null);
    const textFile = path.join(ctx.scratch, `text-${taskId}-${i}.txt`);
    await fs.writeFile(textFile, t.text, 'utf8');
    textFiles.push(textFile);
  }
  return { logo, overlays, fonts, textFiles };
}

/** file:// assets are read in place (inside the file roots); everything else is downloaded. */
export async function fetchFile(url: string, to: string, ctx: Pick<AssetContext, 'transfer'>): Promise<string> {
  const local = await localSourcePath(url, ctx.transfer);
  if (local) return local;
  await download(url, to, ctx.transfer);
  return to;
}

/** Image demuxers, or a picture without a length. */
function isStill(formatName: string, durationSec: number | null): boolean {
  if (/(^|,)(image2|png_pipe|jpeg_pipe|bmp_pipe|webp_pipe|tiff_pipe)(,|$)/.test(formatName)) return true;
  return durationSec === null || durationSec <= 0.05;
}

/** The first four bytes of a TrueType (00 01 00 00, `true`), OpenType (`OTTO`) or collection (`ttcf`) file. */
async function looksLikeFont(file: string): Promise<boolean> {
  const handle = await fs.open(file, 'r');
  try {
    const { buffer, bytesRead } = await handle.read(Buffer.alloc(4), 0, 4, 0);
    if (bytesRead < 4) return false;
    const tag = buffer.toString('latin1');
    return tag === '\u0000\u0001\u0000\u0000' || tag === 'OTTO' || tag === 'true' || tag === 'ttcf';
  } finally {
    await handle.close();
  }
}

/** null when FFmpeg decodes the first picture; else its last error lines. */
function firstFrameError(file: string, ctx: AssetContext): Promise<string | null> {
  return new Promise((resolve, reject) => {
    execFile(ctx.ffmpeg, ['-v', 'error', '-nostdin', ...inputArgs({ path: file }), '-map', '0:v:0', '-frames:v', '1', '-f', 'null', '-'],
      { signal: ctx.signal, maxBuffer: 1024 * 1024, windowsHide: true }, (err, _stdout, stderr) => {
        if (ctx.signal.aborted) return reject(ctx.signal.reason);
        if (!err) return resolve(null);
        const lines = stderr.split('\n').map((l) => l.replace(/^\[[^\]]*\]\s*/, '').trim()).filter(Boolean);
        resolve(lines.slice(0, 2).join(' / ') || `ffmpeg exited with code ${String(err.code)}`);
      });
  });
}
