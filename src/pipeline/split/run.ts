/**
 * Split-and-stitch, run here: chunks (video only) and the whole audio as separate FFmpeg runs,
 * at most `concurrency` at once, then one remux joins them (concat demuxer, `-c copy`).
 */
import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { VideoSpec } from '../../domain/format.ts';
import { buildArgs, ffmpegUrl, renderFilterGraph } from '../ffmpeg/args.ts';
import { hostname } from 'node:os';
import { runFfmpeg, type RunFfmpegOptions, type RunFfmpegResult } from '../ffmpeg/run.ts';
import { planMedia, type PlanInput } from '../plan/index.ts';
import { audioEncodeOptions, audioTarget, firstAudio, levelFilters, volumeFilters } from '../plan/common.ts';
import { containerExtension, containerOptions } from '../plan/codecs.ts';
import { tagOptions } from '../plan/edits.ts';
import { chunkSpec, type Chunk } from './plan.ts';
import { GraphBuilder } from '../plan/graph.ts';
import { filter } from '../ffmpeg/args.ts';
import { loudnessBranch } from '../quality/plan.ts';
import { parseFigures, unitReader } from '../quality/split.ts';
import type { SplitUnit, UnitExecutor, UnitFigures, UnitMeasure, UnitResult } from '../../domain/split-unit.ts';
import { UserFacingError } from '../../domain/errors.ts';

/**
 * Where the pieces of one split task are joined, in the data dir of the worker holding the media.
 * Chunk workers write there directly when they share that data dir; otherwise their pieces come
 * through the shared storage (pieces.ts) and are fetched to this path.
 */
export function splitPiecePath(workDir: string, piece: string): string {
  return path.join(workDir, piece);
}

export interface SplitPlan {
  units: SplitUnit[];
  /** The remux that joins the pieces into `finalPath`. */
  stitch: string[];
  listFile: string;
  listText: string;
  finalPath: string;
  chunks: Chunk[];
}

/**
 * All FFmpeg runs of one split task; pure apart from paths. `quality`: each chunk's encoder is
 * asked for its statistics and the audio is measured (quality/split.ts).
 */
export function planSplit(spec: VideoSpec, input: PlanInput, chunks: Chunk[], workDir: string, finalPath: string, opts: { quality?: boolean } = {}): SplitPlan {
  const quality = opts.quality ?? false;
  const source = input.paths[0]!;
  const probe = input.probes[0]!;
  const ext = containerExtension(spec.container);
  const videoOnly: PlanInput = { paths: [source], probes: [{ ...probe, audio: [] }] };
  const total = probe.video?.durationSec ?? probe.durationSec;
  const origin = Number(probe.raw.format?.['start_time']);
  const units: SplitUnit[] = chunks.map((c) => {
    const baseName = `chunk-${String(c.index).padStart(4, '0')}`;
    const plan = planMedia([{ taskId: 0, spec: chunkSpec(spec, c, Number.isFinite(origin) ? origin : 0), out: { dir: workDir, baseName } }], videoOnly, { quality });
    if (plan.failed[0]) throw plan.failed[0].error;
    const group = plan.groups[0]!;
    if (group.passes.length !== 1) throw new Error('internal: a chunk must be one FFmpeg run');
    const length = c.lengthSec ?? Math.max(0, total - c.startSec);
    const measured = group.quality(0);
    const measure: UnitMeasure | null = measured?.kind === 'encoded' ? { stats: measured.encoders[0]?.slot != null, loudnessFilter: null } : null;
    return {
      ...(measure ? { measure } : {}),
      kind: 'chunk', index: c.index, args: group.passes[0]!, durationSec: length, source,
      file: splitPiecePath(workDir, `${baseName}.${ext}`),
      describe: `chunk ${c.index + 1} of ${chunks.length} (${c.startSec.toFixed(2)}–${(c.startSec + length).toFixed(2)} s, ${c.frames} frames)`,
    };
  });
  const audio = spec.videoOnly ? undefined : firstAudio(input);
  let audioFile: string | null = null;
  if (audio) {
    audioFile = splitPiecePath(workDir, `audio.${ext}`);
    const target = audioTarget(spec, audio);
    const filters = [...levelFilters(spec, target), ...volumeFilters(spec)];
    const encode = [...audioEncodeOptions(spec, target), '-ar', String(target.sampleRate), '-ac', String(target.channels), '-map_metadata', '-1', ...containerOptions(spec.container)];
    let args: string[];
    let measure: UnitMeasure | undefined;
    if (quality) {
      // The encoder is fed one copy of the audio and an ebur128 filter the other, as in a one-piece encode.
      const graph = new GraphBuilder(input, null);
      const prepared = graph.label('a');
      graph.add({ inputs: ['0:a:0'], filters: filters.length ? filters : [filter('anull')], outputs: [prepared] });
      const branch = loudnessBranch(graph, prepared);
      const chains = graph.chains();
      measure = { stats: false, loudnessFilter: chains.flatMap((ch) => ch.filters).indexOf(branch.meter) };
      args = buildArgs({
        inputs: [{ path: source }],
        filterGraph: chains,
        outputs: [{ url: ffmpegUrl(audioFile), maps: [`[${branch.audio}]`], options: ['-vn', ...encode] }],
      });
    } else {
      args = buildArgs({
        inputs: [{ path: source }],
        outputs: [{
          url: ffmpegUrl(audioFile),
          maps: ['0:a:0'],
          options: ['-vn', ...(filters.length ? ['-af', renderFilterGraph([{ inputs: [], filters, outputs: [] }])] : []), ...encode],
        }],
      });
    }
    units.push({ kind: 'audio', index: -1, durationSec: total, source, file: audioFile, describe: 'the audio', args, ...(measure ? { measure } : {}) });
  }
  const listFile = splitPiecePath(workDir, 'chunks.txt');
  // The concat demuxer's own quoting: inside single quotes, a quote is written '\''.
  const listText = units.filter((u) => u.kind === 'chunk').map((u) => `file '${u.file.replace(/'/g, `'\\''`)}'\n`).join('');
  const stitch = buildArgs({
    inputs: [{ path: listFile, role: 'joinList' }, ...(audioFile ? [{ path: audioFile, role: 'ownOutput' as const }] : [])],
    outputs: [{
      url: ffmpegUrl(finalPath),
      maps: ['0:v:0', ...(audioFile ? ['1:a:0'] : [])],
      options: ['-c', 'copy', ...tagOptions({ ...spec, copyMetadata: false }), ...containerOptions(spec.container)],
    }],
  });
  return { units, stitch, listFile, listText, finalPath, chunks };
}

/** What one unit's run reports back. */
/**
 * Runs a unit's FFmpeg into a file of this run's own, renamed to the piece's name once FFmpeg ended
 * well. Two runs of one piece can overlap: when the media's worker dies, BullMQ hands its stalled
 * chunk jobs to other workers while the resumed media queues the same pieces afresh. Writing one
 * file, their bytes mixed into a piece that joined with frames missing; renamed, the last complete
 * one wins.
 */
export async function runPiece(args: string[], opts: RunFfmpegOptions): Promise<RunFfmpegResult> {
  const output = args.at(-1) ?? '';
  if (!output.startsWith('file:')) return runFfmpeg(args, opts);
  const file = output.slice('file:'.length);
  const own = path.join(path.dirname(file), `run-${process.pid}-${crypto.randomBytes(4).toString('hex')}-${path.basename(file)}`);
  try {
    const result = await runFfmpeg([...args.slice(0, -1), ffmpegUrl(own)], opts);
    await fs.rename(own, file);
    return result;
  } finally {
    await fs.rm(own, { force: true });
  }
}

/** The embedded executor: `concurrency` FFmpeg processes of this process. */
export function localExecutor(opts: { ffmpeg: string; threads: number; concurrency: number }): UnitExecutor {
  const worker = `${hostname()}:${process.pid}`;
  return {
    lanes: opts.concurrency,
    run: async (unit, signal, onProgress) => {
      const reader = unit.measure ? unitReader(unit.measure) : null;
      const r = await runPiece(unit.args, {
        ffmpeg: opts.ffmpeg, durationSec: unit.durationSec, signal, threads: opts.threads, onProgress: (p) => onProgress(p.fraction),
        ...(reader ? { onStderrLine: (line: string) => reader.line(line) } : {}),
      });
      return { wallSec: r.wallSec, cpuSec: r.cpuSec, worker, ...(reader ? { figures: reader.figures() } : {}) };
    },
  };
}

export interface RunSplitOptions {
  ffmpeg: string;
  /** Runs the video chunks. */
  executor: UnitExecutor;
  /**
   * Runs the audio, from the start and beside the chunks: it is short, and on a chunk lane it
   * would leave the other lanes idle at the end. It is the media's own slot, idle otherwise.
   */
  audio: UnitExecutor;
  signal: AbortSignal;
  /** 0..1 over all units (weighted by duration; the audio counts a tenth of its length). */
  onProgress(fraction: number): void;
  /** After each unit ends well; null when an earlier run of the task had made it already. */
  onUnitDone?(unit: SplitUnit, result: UnitResult | null): Promise<void> | void;
}

/**
 * A piece is only trusted once its run ended well, which a marker beside it records (a killed
 * FFmpeg leaves a partial file). The marker holds what the run measured, so that a resumed run
 * still has each kept piece's figures (a piece kept in the storage has them beside it, pieces.ts).
 * Returns null when the piece must be made; `figures` is null when a kept piece's are not known.
 */
async function pieceDone(unit: SplitUnit, executor: UnitExecutor, signal: AbortSignal): Promise<{ figures: UnitFigures | null } | null> {
  const [marker, file] = await Promise.all([fs.readFile(`${unit.file}.done`, 'utf8').catch(() => null), fs.stat(unit.file).catch(() => null)]);
  if (marker !== null && file !== null && file.size > 0) return { figures: parseFigures(marker) };
  // A piece the storage cannot give back is simply encoded again.
  const stored = await executor.kept?.(unit, signal).catch(() => null);
  if (!stored) return null;
  await markDone(unit, stored.figures);
  return stored;
}

/** Written whole or not at all (a rename): a run killed mid-write must not leave a marker without its figures. */
async function markDone(unit: SplitUnit, figures: UnitFigures | null): Promise<void> {
  await fs.writeFile(`${unit.file}.done.tmp`, JSON.stringify(figures));
  await fs.rename(`${unit.file}.done.tmp`, `${unit.file}.done`);
}

export class SplitPieceError extends UserFacingError {
  override name = 'SplitPieceError';
  readonly code = 'ENCODERY_SPLIT_PIECE_FAILED';
}

/** Runs every unit (first failure stops the rest), checks the pieces, and joins them. */
export async function runSplit(plan: SplitPlan, opts: RunSplitOptions): Promise<{ wallSec: number; cpuSec: number; workers: string[]; figures: Map<SplitUnit, UnitFigures | null> }> {
  const weight = (u: SplitUnit): number => (u.kind === 'audio' ? u.durationSec / 10 : u.durationSec) || 1;
  const totalWeight = plan.units.reduce((a, u) => a + weight(u), 0);
  const done = new Map<SplitUnit, number>();
  const report = (): void => opts.onProgress([...done].reduce((a, [u, f]) => a + weight(u) * f, 0) / totalWeight);
  const stop = new AbortController();
  const signal = AbortSignal.any([opts.signal, stop.signal]);
  const started = performance.now();
  let cpuSec = 0;
  const workers = new Set<string>();
  /** What each unit's run measured; null: a piece kept from an interrupted run that did not record it. */
  const figures = new Map<SplitUnit, UnitFigures | null>();
  let failure: Error | null = null;
  const runUnit = async (unit: SplitUnit, executor: UnitExecutor): Promise<void> => {
    const kept = await pieceDone(unit, executor, signal);
    if (kept) {
      done.set(unit, 1);
      figures.set(unit, kept.figures);
      report();
      await opts.onUnitDone?.(unit, null);
      return;
    }
    try {
      const result = await executor.run(unit, signal, (f) => {
        done.set(unit, f);
        report();
      });
      cpuSec += result.cpuSec;
      workers.add(result.worker);
      const measured = result.figures ?? { encoder: null };
      figures.set(unit, measured);
      await markDone(unit, measured);
      done.set(unit, 1);
      report();
      await opts.onUnitDone?.(unit, result);
    } catch (err) {
      if (opts.signal.aborted) throw err;
      if (!failure) {
        failure = new SplitPieceError(`Encoding ${unit.describe} failed: ${err instanceof Error ? err.message : String(err)}`);
        stop.abort();
      }
    }
  };
  const chunks = plan.units.filter((u) => u.kind === 'chunk');
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < chunks.length && !failure && !signal.aborted) await runUnit(chunks[next++]!, opts.executor);
  };
  const audio = plan.units.filter((u) => u.kind === 'audio').map((u) => runUnit(u, opts.audio));
  await Promise.all([...audio, ...Array.from({ length: Math.max(1, Math.min(opts.executor.lanes, chunks.length)) }, lane)]);
  opts.signal.throwIfAborted();
  if (failure) throw failure;
  for (const u of plan.units) {
    const st = await fs.stat(u.file).catch(() => null);
    if (!st || st.size === 0) throw new SplitPieceError(`The piece for ${u.describe} is missing (${path.basename(u.file)}); it cannot be joined.`);
  }
  await fs.writeFile(plan.listFile, plan.listText);
  try {
    const joined = await runFfmpeg(plan.stitch, { ffmpeg: opts.ffmpeg, signal: opts.signal });
    cpuSec += joined.cpuSec;
  } catch (err) {
    if (opts.signal.aborted) throw err;
    throw new SplitPieceError(`Joining the ${plan.chunks.length} chunks failed: ${err instanceof Error ? err.message : String(err)}`);
  }
  return { wallSec: (performance.now() - started) / 1000, cpuSec, workers: [...workers], figures };
}
