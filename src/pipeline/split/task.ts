/** One task encoded split-and-stitch inside the media's run: chosen, planned, run, recorded. */
import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Config } from '../../config.ts';
import type { Db } from '../../store/db.ts';
import * as repo from '../../store/repo.ts';
import type { VideoSpec } from '../../domain/format.ts';
import { TaskStatus } from '../../domain/status.ts';
import { mediaDirs } from '../../domain/layout.ts';
import { formatCommandLine } from '../ffmpeg/args.ts';
import { FFMPEG_PREFIX_ARGS, withThreads } from '../ffmpeg/run.ts';
import type { MediaTask, PlanInput } from '../plan/index.ts';
import { containerExtension } from '../plan/codecs.ts';
import { describeError } from '../../domain/errors.ts';
import { readFrameTimes } from './keyframes.ts';
import { chooseChunks, wantsSplit, whyNotSplit, type Chunk } from './plan.ts';
import { localExecutor, planSplit, runSplit } from './run.ts';
import type { SplitUnit, UnitExecutor, UnitFigures } from '../../domain/split-unit.ts';
import { SplitPieces } from './pieces.ts';
import { summarizeSplit } from '../quality/split.ts';
import { describeQuality } from '../../domain/quality.ts';
import type { SharedStorage } from '../../storage/shared-storage.ts';
import type { Logger } from 'pino';
import { mediaOptions } from '../../domain/media-options.ts';

export interface SplitDeps {
  config: Config;
  db: Db;
  mediaId: number;
  signal: AbortSignal;
  setTaskStatus(id: number, status: TaskStatus, patch?: repo.TaskPatch): Promise<void>;
  failTask(id: number, err: unknown): Promise<void>;
  setFraction(id: number, fraction: number): void;
  taskEncoded(seconds: number, output: string): void;
  /** Where the chunks run, given where their pieces go (null: the data dir); null: FFmpeg processes of this worker. */
  chunkExecutor: ((pieces: SplitPieces | null) => UnitExecutor) | null;
  /** ENCODERY_STORAGE_URL: chunks run elsewhere take the source from it and put their pieces in it. */
  storage: SharedStorage | null;
  log: Logger;
}

export interface SplitTask {
  member: MediaTask & { spec: VideoSpec };
  chunks: Chunk[];
  durationSec: number;
}

/** The tasks of this media to split, with their chunks, and a log line for each format that asked but cannot be. */
export async function splitCandidates(members: MediaTask[], input: PlanInput, optionsJson: string, deps: SplitDeps): Promise<{ tasks: SplitTask[]; notes: { taskId: number; message: string }[] }> {
  const notes: { taskId: number; message: string }[] = [];
  const options = mediaOptions(optionsJson);
  const settings = { aboveSeconds: deps.config.splitAboveSeconds, chunkSeconds: deps.config.splitChunkSeconds };
  if (!wantsSplit(options, input.probes, settings)) return { tasks: [], notes };
  const eligible: (MediaTask & { spec: VideoSpec })[] = [];
  for (const m of members) {
    const why = input.splitScreen ? 'the sources are shown side by side' : whyNotSplit(m.spec, input.probes);
    if (why === null && m.spec.kind === 'video') eligible.push({ ...m, spec: m.spec });
    else if (m.spec.kind === 'video' || m.spec.kind === 'hls' || m.spec.kind === 'dash') notes.push({ taskId: m.taskId, message: `Not split into chunks: ${why}; encoded in one piece` });
  }
  if (eligible.length === 0) return { tasks: [], notes };
  let chunks: Chunk[];
  try {
    chunks = chooseChunks(await readFrameTimes(input.paths[0]!, { ffprobe: deps.config.ffprobe, signal: deps.signal }), settings.chunkSeconds);
  } catch (err) {
    if (deps.signal.aborted) throw err;
    for (const m of eligible) notes.push({ taskId: m.taskId, message: `Not split into chunks: the source's keyframes could not be read (${describeError(err)}); encoded in one piece` });
    return { tasks: [], notes };
  }
  if (chunks.length < 2) {
    for (const m of eligible) notes.push({ taskId: m.taskId, message: `Not split into chunks: the source has no keyframe to cut at near every ${settings.chunkSeconds} s; encoded in one piece` });
    return { tasks: [], notes };
  }
  const probe = input.probes[0]!;
  const durationSec = probe.video?.durationSec ?? probe.durationSec;
  return { tasks: eligible.map((member) => ({ member, chunks, durationSec })), notes };
}

/** Encodes one split task and moves it to Saving, or to Error with the reason. */
export async function encodeSplitTask(t: SplitTask, input: PlanInput, deps: SplitDeps): Promise<void> {
  const { member, chunks } = t;
  const id = member.taskId;
  const c = deps.config;
  // Named after what is encoded: a run that resumes this task (its worker died or handed it
  // back) finds the pieces already made; a changed format or chunking starts afresh.
  const key = crypto.createHash('sha256').update(JSON.stringify([member.spec, chunks])).digest('hex').slice(0, 16);
  const workDir = path.join(mediaDirs(c.dataDir, deps.mediaId).scratch, `split-${id}-${key}`);
  // In a cluster with a shared storage, chunk workers need not see this data dir.
  const pieces = deps.chunkExecutor && deps.storage ? new SplitPieces(deps.storage, deps.mediaId, `${id}-${key}`, input.paths[0]!) : null;
  let keep = false;
  const finalPath = path.join(member.out.dir, `${member.out.baseName}.${containerExtension(member.spec.container)}`);
  try {
    await fs.mkdir(workDir, { recursive: true });
    let plan;
    try {
      plan = planSplit(member.spec, input, chunks, workDir, finalPath, { quality: c.qualityReport });
    } catch (err) {
      await deps.failTask(id, err);
      return;
    }
    const show = (args: string[]): string => formatCommandLine(c.ffmpeg, [...FFMPEG_PREFIX_ARGS, ...withThreads(args, c.ffmpegThreads)]);
    const command = [...plan.units.map((u) => show(u.args)), show(plan.stitch)].join(' ; ');
    deps.setFraction(id, 0);
    await deps.setTaskStatus(id, TaskStatus.Processing, { started_at: Date.now(), command });
    const lengths = chunks.map((ch) => ch.lengthSec).filter((x): x is number => x !== null);
    const typical = lengths.length ? lengths.reduce((a, b) => a + b, 0) / lengths.length : t.durationSec;
    const executor = deps.chunkExecutor?.(pieces) ?? localExecutor({ ffmpeg: c.ffmpeg, threads: c.ffmpegThreads, concurrency: c.splitConcurrency });
    const audio = localExecutor({ ffmpeg: c.ffmpeg, threads: c.ffmpegThreads, concurrency: 1 });
    const where = deps.chunkExecutor ? `as jobs any worker of the cluster takes${pieces ? `, through the shared storage ${deps.storage!.shown}` : ''}` : `${Math.min(executor.lanes, chunks.length)} at a time on this worker`;
    await repo.appendLog(deps.db, [id], `Split into ${chunks.length} chunks of ~${Math.round(typical)} s at keyframes; encoding them ${where}, the audio once and whole`);
    let result;
    try {
      result = await runSplit(plan, {
        ffmpeg: c.ffmpeg, executor, audio, signal: deps.signal,
        onProgress: (f) => deps.setFraction(id, Math.min(0.99, f)),
        onUnitDone: (u, r) => repo.appendLog(deps.db, [id], r ? `Encoded ${u.describe} in ${r.wallSec.toFixed(2)} s (${r.cpuSec.toFixed(2)} CPU s) on ${r.worker}` : `Kept ${u.describe} from the interrupted run`),
      });
    } catch (err) {
      if (deps.signal.aborted) {
        keep = true;
        throw err;
      }
      await deps.failTask(id, err);
      return;
    }
    const size = (await fs.stat(finalPath)).size;
    const speed = result.wallSec > 0 ? t.durationSec / result.wallSec : null;
    const audioUnit = plan.units.find((u) => u.kind === 'audio');
    const figuresOf = (u: SplitUnit): UnitFigures | null => result.figures.get(u) ?? null;
    const quality = c.qualityReport
      ? await summarizeSplit({
          codec: member.spec.videoCodec,
          chunks: plan.units.filter((u) => u.kind === 'chunk').map((u) => ({ frames: chunks[u.index]!.frames, figures: figuresOf(u) })),
          audio: audioUnit ? figuresOf(audioUnit) : 'none',
          encodedSec: t.durationSec, wallSec: result.wallSec, expectedSec: t.durationSec, output: finalPath,
        }, { ffprobe: c.ffprobe, signal: deps.signal })
      : null;
    deps.setFraction(id, 1);
    await deps.setTaskStatus(id, TaskStatus.Saving, {
      converted_size: size, cpu_sec: result.cpuSec, speed, outputs: JSON.stringify([path.relative(c.dataDir, finalPath)]),
      quality: quality ? JSON.stringify(quality) : null,
    });
    if (quality) await repo.appendLog(deps.db, [id], `Quality: ${describeQuality(quality)}`);
    const n = result.workers.length;
    await repo.appendLog(deps.db, [id], `Split into ${chunks.length} chunks of ~${Math.round(typical)} s at keyframes; encoded on ${n} worker${n === 1 ? '' : 's'}; joined without re-encoding`);
    await repo.appendLog(deps.db, [id], `Encoded 1 file(s), ${size} bytes in ${result.wallSec.toFixed(2)} s (${speed ? speed.toFixed(2) : '?'}x realtime, ${result.cpuSec.toFixed(2)} CPU s)`);
    deps.taskEncoded(result.wallSec, member.spec.output);
  } finally {
    if (!keep) {
      await fs.rm(workDir, { recursive: true, force: true });
      await pieces?.remove(deps.log);
    }
  }
}
