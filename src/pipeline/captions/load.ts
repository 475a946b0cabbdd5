/**
 * The caption files of a media's formats (closed_captions), fetched into the scratch folder with
 * the same transfer rules and limits as sources, read into cues, moved by `time_offset`, and
 * written again by Encodery: a WebVTT file per track (what FFmpeg reads for a subtitle stream, and
 * what HLS and DASH renditions are cut from) and an ASS file per burned track (what libass draws).
 * FFmpeg never reads a user's caption file as it came, except an SCC file whose lines were
 * checked here, read with its demuxer forced. A file that does not parse fails only the tasks
 * that use it, with the line it failed on.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { captionsOf, type CaptionTrack } from '../../domain/captions.ts';
import { CaptionError, CaptionParseError, parseCaptionText, shiftCues, writeVtt, type Cue } from '../../domain/caption-cues.ts';
import { describeError } from '../../domain/errors.ts';
import { editingOf, type OutputSpec } from '../../domain/format.ts';
import { download, localSourcePath, redactUrl } from '../../transfer/index.ts';
import type { TransferContext } from '../../transfer/types.ts';
import { inputArgs, refusalOf, sniffNotMedia } from '../ffmpeg/inputs.ts';
import type { EditAssets } from '../plan/editing.ts';
import { parseTtml } from '../../domain/caption-ttml.ts';
import { extractCea608, toScc, type SourceVideo, type TimedPairs } from './cea608.ts';
import { fontFamily, useFontFamily } from './font.ts';

/** A caption track read and rewritten by Encodery. */
export interface LoadedCaption {
  track: CaptionTrack;
  /** On the source's clock, `time_offset` applied. */
  cues: Cue[];
  /** The cues as a WebVTT file Encodery wrote. */
  vttPath: string;
  /** `extract`: the source's CEA-608 byte pairs the cues were decoded from, `time_offset` not applied (an SCC sidecar is written from them). */
  cea608: TimedPairs[] | null;
}

/** Where a track's cues came from: a caption file, or the source's CEA-608 (with its byte pairs). */
interface CaptionText {
  cues: Cue[];
  cea608: TimedPairs[] | null;
}

/** A burned track as libass reads it: the ASS file Encodery wrote, and the folder of its own font. */
export interface BurnedCaption {
  file: string;
  fontsDir: string | null;
}

/** What one task's captions became: its tracks, and its burned captions. */
export interface TaskCaptions {
  tracks: LoadedCaption[];
  burned: BurnedCaption[];
}

export interface CaptionContext {
  scratch: string;
  transfer: TransferContext;
  ffmpeg: string;
  ffprobe: string;
  /** The (first) source, whose CEA-608 captions `extract` reads. */
  source: SourceVideo | null;
  signal: AbortSignal;
}

/** Caption files larger than this are refused: a day of dense subtitles is a few MB. */
const MAX_CAPTION_BYTES = 20 * 1024 * 1024;

/** Loads every task's captions; tasks without any get nothing. */
export async function loadCaptions(tasks: { taskId: number; spec: OutputSpec }[], ctx: CaptionContext): Promise<{
  captions: Map<number, TaskCaptions>; failed: { taskId: number; error: Error }[];
}> {
  const files = new Map<string, Promise<CaptionText>>();
  const textOf = (track: CaptionTrack): Promise<CaptionText> => {
    const key = track.source ?? '';
    let p = files.get(key);
    if (!p) {
      const scratch = path.join(ctx.scratch, `captions-${files.size}`);
      p = track.source === null ? readEmbedded(scratch, ctx) : readCaptionFile(track.source, scratch, ctx).then((cues) => ({ cues, cea608: null }));
      p.catch(() => undefined);
      files.set(key, p);
    }
    return p;
  };
  const captions = new Map<number, TaskCaptions>();
  const failed: { taskId: number; error: Error }[] = [];
  for (const { taskId, spec } of tasks) {
    const tracks = captionsOf(spec);
    const burned = editingOf(spec)?.captions ?? [];
    if (tracks.length === 0 && burned.length === 0) continue;
    await fs.mkdir(ctx.scratch, { recursive: true });
    try {
      const loaded: LoadedCaption[] = [];
      for (const [i, track] of tracks.entries()) {
        const text = await textOf(track);
        const cues = shiftCues(text.cues, track.timeOffset);
        const vttPath = path.join(ctx.scratch, `captions-${taskId}-${i}.vtt`);
        await fs.writeFile(vttPath, writeVtt(cues));
        loaded.push({ track, cues, vttPath, cea608: text.cea608 });
      }
      const ass: BurnedCaption[] = [];
      for (const [i, track] of burned.entries()) {
        const vttPath = path.join(ctx.scratch, `burn-${taskId}-${i}.vtt`);
        await fs.writeFile(vttPath, writeVtt(shiftCues((await textOf(track)).cues, track.timeOffset)));
        const assPath = path.join(ctx.scratch, `burn-${taskId}-${i}.ass`);
        await ffmpegConvert(ctx, { path: vttPath, role: 'captionText' }, ['-c:s', 'ass', '-f', 'ass'], assPath);
        const fontsDir = track.fontSource === null ? null : await fetchFont(track.fontSource, path.join(ctx.scratch, `font-${taskId}-${i}`), assPath, ctx);
        ass.push({ file: assPath, fontsDir });
      }
      captions.set(taskId, { tracks: loaded, burned: ass });
    } catch (err) {
      if (ctx.signal.aborted) throw err;
      failed.push({ taskId, error: err instanceof Error ? err : new Error(String(err)) });
    }
  }
  return { captions, failed };
}

/** The source's CEA-608 captions (`extract`), through an SCC file made from its SEI (cea608.ts). */
async function readEmbedded(scratch: string, ctx: CaptionContext): Promise<CaptionText> {
  if (!ctx.source) throw new CaptionError('closed_captions extract needs a source with video.');
  const cea608 = await extractCea608(ctx.source, `${scratch}.video`, ctx);
  if (cea608 === null) throw new CaptionError('closed_captions extract: the source carries no CEA-608 captions (A/53 in H.264 SEI or MPEG-2 user data, field 1).');
  await fs.writeFile(`${scratch}.scc`, toScc(cea608));
  const vtt = `${scratch}.scc.vtt`;
  await ffmpegConvert(ctx, { path: `${scratch}.scc`, role: 'sccCaptions' }, ['-c:s', 'webvtt', '-f', 'webvtt'], vtt);
  return { cues: parseCaptionText(await fs.readFile(vtt, 'utf8'), 'vtt'), cea608 };
}

/**
 * A burned track's font, fetched into a folder of its own (libass loads every font of the folder it
 * is given), and named in the track's ASS styles. Returns the folder.
 */
async function fetchFont(url: string, dir: string, assFile: string, ctx: CaptionContext): Promise<string> {
  const shown = `closed_captions font_source ${redactUrl(url)}`;
  await fs.mkdir(dir, { recursive: true });
  const file = path.join(dir, 'font');
  try {
    const local = await localSourcePath(url, ctx.transfer);
    if (local) await fs.copyFile(local, file);
    else await download(url, file, ctx.transfer);
  } catch (err) {
    if (ctx.signal.aborted) throw err;
    throw new CaptionError(`${shown} could not be fetched: ${describeError(err)}`);
  }
  const head = await fs.readFile(file);
  const tag = head.toString('latin1', 0, 4);
  const family = ['\u0000\u0001\u0000\u0000', 'OTTO', 'true'].includes(tag) ? fontFamily(head) : null;
  if (family === null) throw new CaptionError(`${shown} is not a TrueType or OpenType font with a family name (.ttf, .otf).`);
  await useFontFamily(assFile, family);
  return dir;
}

type CaptionFileKind = 'srt' | 'vtt' | 'scc' | 'ttml';

/** Fetches one caption file and reads its cues; errors name the URL (redacted) and the line. */
async function readCaptionFile(url: string, to: string, ctx: CaptionContext): Promise<Cue[]> {
  const shown = `closed_captions source ${redactUrl(url)}`;
  let file: string;
  try {
    file = (await localSourcePath(url, ctx.transfer)) ?? (await download(url, to, ctx.transfer), to);
  } catch (err) {
    if (ctx.signal.aborted) throw err;
    throw new CaptionError(`${shown} could not be fetched: ${describeError(err)}`);
  }
  const size = (await fs.stat(file)).size;
  if (size > MAX_CAPTION_BYTES) throw new CaptionError(`${shown} is ${size} bytes; caption files of up to ${MAX_CAPTION_BYTES / 1024 / 1024} MB are read.`);
  const notMedia = await sniffNotMedia(file);
  if (notMedia) throw new CaptionError(`${shown} is ${refusalOf(notMedia).what}; give an SRT, WebVTT, SCC or TTML/DFXP caption file.`);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(await fs.readFile(file));
  } catch {
    throw new CaptionError(`${shown} is not UTF-8 text; save the caption file as UTF-8.`);
  }
  const kind = kindOf(text);
  try {
    if (kind === 'scc') {
      checkScc(text);
      const vtt = `${to}.scc.vtt`;
      await ffmpegConvert(ctx, { path: file, role: 'sccCaptions' }, ['-c:s', 'webvtt', '-f', 'webvtt'], vtt);
      return parseCaptionText(await fs.readFile(vtt, 'utf8'), 'vtt');
    }
    return kind === 'ttml' ? parseTtml(text.replace(/^\uFEFF/, '')) : parseCaptionText(text, kind);
  } catch (err) {
    if (err instanceof CaptionParseError) throw new CaptionError(`${shown} does not parse as ${KIND_NAMES[kind]}: ${err.message}`);
    throw err;
  }
}

const KIND_NAMES: Record<CaptionFileKind, string> = { srt: 'SRT', vtt: 'WebVTT', scc: 'SCC', ttml: 'TTML' };

/** By content, not by name: a URL's extension is only what its server says. */
function kindOf(text: string): CaptionFileKind {
  const head = text.replace(/^\uFEFF/, '').trimStart();
  if (head.startsWith('WEBVTT')) return 'vtt';
  if (head.startsWith('Scenarist_SCC')) return 'scc';
  if (head.startsWith('<')) return 'ttml';
  return 'srt';
}

/** SCC: the header, then lines of a timecode, a tab and 4-digit hex words (FFmpeg skips what it cannot read). */
function checkScc(text: string): void {
  const lines = text.replace(/^\uFEFF/, '').replace(/\r\n?/g, '\n').split('\n');
  if (!/^Scenarist_SCC V1\.0\s*$/.test(lines[0]!)) throw new CaptionParseError(1, 'the header must be "Scenarist_SCC V1.0"');
  let cues = 0;
  for (const [i, line] of lines.entries()) {
    if (i === 0 || line.trim() === '') continue;
    if (!/^\d{2}:\d{2}:\d{2}[:;.]\d{2}\s+[0-9a-f]{4}( [0-9a-f]{4})*\s*$/i.test(line)) {
      throw new CaptionParseError(i + 1, `expected a timecode, a tab and 4-digit hex words like "00:00:01:00\t9420 9420", found "${line.slice(0, 80)}"`);
    }
    cues++;
  }
  if (cues === 0) throw new CaptionParseError(1, 'the file holds no caption data');
}

/** One FFmpeg run turning a guarded subtitle input into another subtitle format. */
function ffmpegConvert(ctx: CaptionContext, input: { path: string; role: 'captionText' | 'sccCaptions' }, format: string[], to: string): Promise<void> {
  const args = ['-v', 'error', '-nostdin', '-y', ...inputArgs(input), '-map', '0:s:0', ...format, `file:${to}`];
  return new Promise((resolve, reject) => {
    execFile(ctx.ffmpeg, args, { signal: ctx.signal, maxBuffer: 1024 * 1024, windowsHide: true }, (err, _stdout, stderr) => {
      if (ctx.signal.aborted) return reject(ctx.signal.reason);
      if (!err) return resolve();
      const lines = stderr.split('\n').map((l) => l.replace(/^\[[^\]]*\]\s*/, '').trim()).filter(Boolean);
      reject(new CaptionError(`the captions could not be converted: ${lines.slice(0, 2).join(' / ') || `ffmpeg exited with code ${String(err.code)}`}`));
    });
  });
}

/** A planned task with what its captions became: its tracks, and its burned captions among its editing assets. */
export function withLoadedCaptions<T extends { assets?: EditAssets; captions?: LoadedCaption[] }>(task: T, loaded: TaskCaptions | undefined): T {
  if (!loaded) return task;
  const assets = loaded.burned.length > 0
    ? { ...(task.assets ?? { logo: null, overlays: [], fonts: [], textFiles: [] }), subtitles: loaded.burned }
    : task.assets;
  return { ...task, captions: loaded.tracks, ...(assets ? { assets } : {}) };
}
