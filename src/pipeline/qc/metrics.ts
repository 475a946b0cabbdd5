/**
 * `qc_video_metrics`: per-frame PSNR and SSIM from FFmpeg's psnr and ssim filters (one decode of
 * both files, stats files read line by line), MS-SSIM computed here from the luma planes FFmpeg
 * streams out frame by frame, VMAF from libvmaf when this FFmpeg has it. The reference (the
 * source or `original_source`) is scaled to the output's frame size and, when the frame rates
 * differ, resampled to the output's rate, so frames pair up by timestamp.
 */
import fs from 'node:fs/promises';
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { MetricSpec } from '../../domain/qc.ts';
import { buildArgs, filter, type Filter, type FilterChain } from '../ffmpeg/args.ts';
import { runFfmpeg } from '../ffmpeg/run.ts';
import type { MediaProbe } from '../ffmpeg/probe.ts';
import { describeError } from '../../domain/errors.ts';
import { Worker } from 'node:worker_threads';
import type { Readable } from 'node:stream';
import { MS_SSIM_MIN_SIDE } from './msssim.ts';
import { judgeMetric, summarize, type MetricResult } from './report.ts';

/** PSNR of identical frames is infinite; frames are capped here so means stay finite. */
export const PSNR_CAP_DB = 100;

export interface MetricsInput {
  distorted: string;
  distortedProbe: MediaProbe;
  reference: string;
  referenceProbe: MediaProbe;
  scratch: string;
  ffmpeg: string;
  threads?: number;
  signal?: AbortSignal;
}

/** A growable list of per-frame values, without boxing each number. */
class Series {
  #data = new Float64Array(1024);
  #n = 0;
  push(v: number): void {
    if (this.#n === this.#data.length) {
      const next = new Float64Array(this.#data.length * 2);
      next.set(this.#data);
      this.#data = next;
    }
    this.#data[this.#n++] = v;
  }
  get values(): Float64Array {
    return this.#data.subarray(0, this.#n);
  }
}

export async function computeMetrics(specs: MetricSpec[], input: MetricsInput): Promise<MetricResult[]> {
  const v = input.distortedProbe.video;
  const r = input.referenceProbe.video;
  if (!v || !r) {
    const why = !v ? 'the output has no video stream' : 'the reference has no video stream';
    return specs.map((s) => ({ metric: s.metric, result: 'unavailable' as const, reason: why }));
  }
  await fs.mkdir(input.scratch, { recursive: true });
  const perc = (s: MetricSpec): number[] => s.thresholds.flatMap((t) => t.rules.flatMap((x) => (x.perc !== undefined ? [x.perc] : [])));
  const want = new Set(specs.map((s) => s.metric));
  const series = new Map<string, Series>();
  const failures = new Map<string, string>();
  if (want.has('psnr') || want.has('ssim')) {
    try {
      const got = await psnrSsim(input, want.has('psnr'), want.has('ssim'));
      for (const [k, s] of got) series.set(k, s);
    } catch (err) {
      if (input.signal?.aborted) throw err;
      for (const m of ['psnr', 'ssim']) failures.set(m, `FFmpeg could not compare the output with the reference: ${describeError(err)}`);
    }
  }
  if (want.has('ms_ssim')) {
    if (Math.min(v.width, v.height) < MS_SSIM_MIN_SIDE) failures.set('ms_ssim', `the output's ${v.width}x${v.height} frames are too small for 5 scales (each side needs ${MS_SSIM_MIN_SIDE} pixels)`);
    else {
      try {
        series.set('ms_ssim', await msSsimSeries(input));
      } catch (err) {
        if (input.signal?.aborted) throw err;
        failures.set('ms_ssim', `MS-SSIM could not be computed: ${describeError(err)}`);
      }
    }
  }
  if (want.has('vmaf')) {
    if (!(await hasLibvmaf(input.ffmpeg))) failures.set('vmaf', 'VMAF is unavailable: this FFmpeg was built without libvmaf (`ffmpeg -filters` does not list it); no VMAF score is reported');
    else {
      try {
        series.set('vmaf', await vmafSeries(input, specs.find((s) => s.metric === 'vmaf')?.model ?? null));
      } catch (err) {
        if (input.signal?.aborted) throw err;
        failures.set('vmaf', `libvmaf failed: ${describeError(err)}`);
      }
    }
  }
  return specs.map((s): MetricResult => {
    const failed = failures.get(s.metric);
    if (failed) return { metric: s.metric, result: 'unavailable', reason: failed };
    const summary = summarize(series.get(s.metric)?.values ?? new Float64Array(), perc(s));
    if (!summary) return { metric: s.metric, result: 'unavailable', reason: 'no frame pair could be compared' };
    return judgeMetric(s.metric, summary, s.thresholds);
  });
}

/** The reference's chain: same size, square pixels, the output's frame rate, timestamps from 0. */
function referenceFilters(input: MetricsInput): Filter[] {
  const v = input.distortedProbe.video!;
  const r = input.referenceProbe.video!;
  const f: Filter[] = [filter('scale', { w: v.width, h: v.height, flags: 'bicubic' }), filter('setsar', ['1'])];
  if (v.fps > 0 && Math.abs(v.fps - r.fps) > 0.01) f.push(filter('fps', { fps: v.fps }));
  f.push(filter('settb', ['AVTB']), filter('setpts', ['PTS-STARTPTS']));
  return f;
}

const distortedFilters = (): Filter[] => [filter('setsar', ['1']), filter('settb', ['AVTB']), filter('setpts', ['PTS-STARTPTS'])];

async function psnrSsim(input: MetricsInput, psnr: boolean, ssim: boolean): Promise<Map<string, Series>> {
  const psnrLog = path.join(input.scratch, 'psnr.log');
  const ssimLog = path.join(input.scratch, 'ssim.log');
  const n = (psnr ? 1 : 0) + (ssim ? 1 : 0);
  const dOut = n === 2 ? ['d1', 'd2'] : ['d1'];
  const rOut = n === 2 ? ['r1', 'r2'] : ['r1'];
  const chains: FilterChain[] = [
    { inputs: ['0:v:0'], filters: [...distortedFilters(), ...(n === 2 ? [filter('split')] : [])], outputs: dOut },
    { inputs: ['1:v:0'], filters: [...referenceFilters(input), ...(n === 2 ? [filter('split')] : [])], outputs: rOut },
  ];
  const maps: string[] = [];
  let i = 0;
  if (psnr) {
    chains.push({ inputs: [dOut[i]!, rOut[i]!], filters: [filter('psnr', { stats_file: psnrLog })], outputs: ['op'] });
    maps.push('[op]');
    i++;
  }
  if (ssim) {
    chains.push({ inputs: [dOut[i]!, rOut[i]!], filters: [filter('ssim', { stats_file: ssimLog })], outputs: ['os'] });
    maps.push('[os]');
  }
  const args = buildArgs({
    inputs: [{ path: input.distorted, role: 'ownOutput' }, { path: input.reference }],
    filterGraph: chains,
    outputs: maps.map((m) => ({ url: '-', maps: [m], options: ['-f', 'null'] })),
  });
  await runFfmpeg(args, { ffmpeg: input.ffmpeg, signal: input.signal, threads: input.threads });
  const out = new Map<string, Series>();
  // Luma values, as MS-SSIM and most published figures use.
  if (psnr) out.set('psnr', await readStats(psnrLog, /psnr_y:(\S+)/, (s) => (s === 'inf' ? PSNR_CAP_DB : Math.min(PSNR_CAP_DB, Number(s)))));
  if (ssim) out.set('ssim', await readStats(ssimLog, /\bY:(\S+)/, Number));
  await Promise.all([psnrLog, ssimLog].map((f) => fs.rm(f, { force: true })));
  return out;
}

async function readStats(file: string, re: RegExp, parse: (s: string) => number): Promise<Series> {
  const s = new Series();
  for await (const line of createInterface({ input: createReadStream(file) })) {
    const m = re.exec(line);
    if (!m) continue;
    const v = parse(m[1]!);
    if (Number.isFinite(v)) s.push(v);
  }
  return s;
}

/**
 * Luma planes of both files stacked (output above, reference below), one frame at a time on
 * pipe 3, scored by a worker thread. FFmpeg is held back (the pipe paused) while frames wait, so
 * at most a few frames are ever in memory.
 */
async function msSsimSeries(input: MetricsInput): Promise<Series> {
  const v = input.distortedProbe.video!;
  const w = v.width;
  const h = v.height;
  const args = buildArgs({
    inputs: [{ path: input.distorted, role: 'ownOutput' }, { path: input.reference }],
    filterGraph: [
      { inputs: ['0:v:0'], filters: [...distortedFilters(), filter('format', ['gray'])], outputs: ['d'] },
      { inputs: ['1:v:0'], filters: [...referenceFilters(input), filter('format', ['gray'])], outputs: ['r'] },
      { inputs: ['d', 'r'], filters: [filter('vstack', { inputs: 2, shortest: 1 })], outputs: ['s'] },
    ],
    outputs: [{ url: 'pipe:3', maps: ['[s]'], options: ['-f', 'rawvideo', '-pix_fmt', 'gray'] }],
  });
  const worker = new Worker(new URL('./msssim-worker.mjs', import.meta.url));
  const scores: number[] = [];
  let sent = 0;
  let received = 0;
  let failure: Error | null = null;
  let pipe: Readable | null = null;
  let drained: (() => void) | null = null;
  worker.on('message', (m: { id: number; score?: number; error?: string }) => {
    received++;
    if (m.error !== undefined) failure ??= new Error(m.error);
    else scores[m.id] = m.score!;
    if (sent - received < MS_SSIM_IN_FLIGHT) pipe?.resume();
    if (received === sent) drained?.();
  });
  worker.on('error', (err) => {
    failure ??= err;
    pipe?.resume();
    drained?.();
  });
  try {
    const frameBytes = w * h * 2;
    let frame = new Uint8Array(frameBytes);
    let filled = 0;
    await runFfmpeg(args, {
      ffmpeg: input.ffmpeg, signal: input.signal, threads: input.threads,
      onPipe3: (stream) => {
        pipe = stream;
        stream.on('data', (chunk: Buffer) => {
          let off = 0;
          while (off < chunk.length) {
            const n = Math.min(frameBytes - filled, chunk.length - off);
            frame.set(chunk.subarray(off, off + n), filled);
            filled += n;
            off += n;
            if (filled === frameBytes) {
              worker.postMessage({ id: sent++, frame: frame.buffer, width: w, height: h }, [frame.buffer]);
              frame = new Uint8Array(frameBytes);
              filled = 0;
            }
          }
          if (sent - received >= MS_SSIM_IN_FLIGHT) stream.pause();
        });
      },
    });
    if (received < sent && !failure) await new Promise<void>((resolve) => (drained = resolve));
    if (failure) throw failure;
  } finally {
    await worker.terminate();
  }
  const s = new Series();
  for (const score of scores) s.push(score);
  return s;
}

/** Frames handed to the MS-SSIM worker and not yet scored before FFmpeg is paused. */
const MS_SSIM_IN_FLIGHT = 2;

export async function hasLibvmaf(ffmpeg: string): Promise<boolean> {
  try {
    const { stdout } = await promisify(execFile)(ffmpeg, ['-hide_banner', '-filters'], { maxBuffer: 4 * 1024 * 1024 });
    return /^\s*\S+\s+libvmaf\s/m.test(stdout);
  } catch {
    return false;
  }
}

async function vmafSeries(input: MetricsInput, model: string | null): Promise<Series> {
  const log = path.join(input.scratch, 'vmaf.json');
  const opts: Record<string, string> = { log_path: log, log_fmt: 'json' };
  // The reference's `4ktv` model name; anything else keeps libvmaf's default HD model.
  if (model === '4ktv') opts.model = 'version=vmaf_4k_v0.6.1';
  const args = buildArgs({
    inputs: [{ path: input.distorted, role: 'ownOutput' }, { path: input.reference }],
    filterGraph: [
      { inputs: ['0:v:0'], filters: distortedFilters(), outputs: ['d'] },
      { inputs: ['1:v:0'], filters: referenceFilters(input), outputs: ['r'] },
      { inputs: ['d', 'r'], filters: [filter('libvmaf', opts)], outputs: ['o'] },
    ],
    outputs: [{ url: '-', maps: ['[o]'], options: ['-f', 'null'] }],
  });
  await runFfmpeg(args, { ffmpeg: input.ffmpeg, signal: input.signal, threads: input.threads });
  const json = JSON.parse(await fs.readFile(log, 'utf8')) as { frames?: { metrics?: { vmaf?: number } }[] };
  await fs.rm(log, { force: true });
  const s = new Series();
  for (const f of json.frames ?? []) if (typeof f.metrics?.vmaf === 'number') s.push(f.metrics.vmaf);
  return s;
}
