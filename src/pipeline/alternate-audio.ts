/**
 * The alternate_source files of a media's segmented formats (domain/audio-languages.ts), fetched
 * into the scratch folder with the same transfer rules and limits as sources (file:// is read in
 * place, inside the file roots), each once however many formats name it, and probed: a file
 * without sound fails only the tasks that name it.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { audioLanguagesOf } from '../domain/audio-languages.ts';
import { describeError } from '../domain/errors.ts';
import type { OutputSpec } from '../domain/format.ts';
import { redactUrl } from '../transfer/index.ts';
import { fetchFile, type AssetContext } from './assets.ts';
import { RefusedInputError } from './ffmpeg/inputs.ts';
import { probeMedia } from './ffmpeg/probe.ts';
import type { LocalAudio } from './plan/variants.ts';

export async function fetchAlternateAudio(tasks: { taskId: number; spec: OutputSpec }[], ctx: Omit<AssetContext, 'ffmpeg'>): Promise<{
  files: Map<number, LocalAudio[]>; failed: { taskId: number; error: Error }[];
}> {
  const fetched = new Map<string, Promise<LocalAudio>>();
  const fetchOnce = (url: string): Promise<LocalAudio> => {
    let p = fetched.get(url);
    if (!p) {
      p = readAudio(url, path.join(ctx.scratch, `alternate-${fetched.size}`), ctx);
      // Settled here too, so a failure nobody awaits yet is not reported as unhandled.
      p.catch(() => undefined);
      fetched.set(url, p);
    }
    return p;
  };
  const files = new Map<number, LocalAudio[]>();
  const failed: { taskId: number; error: Error }[] = [];
  for (const { taskId, spec } of tasks) {
    const { alternates } = audioLanguagesOf(spec);
    if (alternates.length === 0) continue;
    await fs.mkdir(ctx.scratch, { recursive: true });
    try {
      const list: LocalAudio[] = [];
      for (const a of alternates) list.push(await fetchOnce(a.source));
      files.set(taskId, list);
    } catch (err) {
      if (ctx.signal.aborted) throw err;
      failed.push({ taskId, error: err instanceof Error ? err : new Error(String(err)) });
    }
  }
  return { files, failed };
}

async function readAudio(url: string, to: string, ctx: Omit<AssetContext, 'ffmpeg'>): Promise<LocalAudio> {
  const where = `alternate_source ${redactUrl(url)}`;
  const file = await fetchFile(url, to, ctx).catch((err: unknown) => {
    throw new Error(`${where} could not be fetched: ${describeError(err)}`);
  });
  let probe;
  try {
    probe = await probeMedia(file, { ffprobe: ctx.ffprobe, signal: ctx.signal });
  } catch (err) {
    if (ctx.signal.aborted) throw err;
    if (err instanceof RefusedInputError) throw new Error(`${where} is ${err.refusal.what}; ${err.refusal.advice}.`);
    throw new Error(`${where} is not a file FFmpeg can read: ${describeError(err)}`);
  }
  const audio = probe.audio[0];
  if (!audio) throw new Error(`${where} has no audio track; give an audio file (or a video with sound).`);
  return { path: file, audio };
}
