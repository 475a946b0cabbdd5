/**
 * How much work an output is, and how far a media has come (reference 3.4, the seed's GetStatus):
 * `progress` is the whole media, `progress_current` the current status only, each with its
 * `time_left`. Pure: the tracker (pipeline/progress.ts) feeds it what it measures.
 *
 * Work is counted in model seconds: what an encode takes on a reference machine, from the
 * encoded length × output pixels × a cost per codec (figures measured with FFmpeg 5.1 on a
 * 2-core machine). A real machine differs by a factor that the tracker measures as encodes run;
 * the costs only need to be right relative to each other.
 */
import type { OutputSpec, Size } from './format.ts';
import { ENCODER_COST, type VideoCodec } from './encoders.ts';
import { PHASE_WEIGHTS } from './status.ts';

export interface SourceShape {
  /** Display size and rate of the first source's picture; null for an audio-only source. */
  video: { width: number; height: number; fps: number } | null;
}

/** turbo=yes picks the encoder's faster preset (x264 `veryfast`). */
const TURBO_FACTOR = 0.57;
/** A second pass costs a full encode; the first pass is analysis at about half of one. */
const TWO_PASS_FACTOR = 1.5;
/** Decoding the (H.264) source, per source megapixel-frame, once per FFmpeg process. */
const DECODE_COST = 0.0035;
/** Scaling a source frame to an output size, per source megapixel-frame. */
const SCALE_COST = 0.002;
/** Palette making and dithering of an animated GIF, per output megapixel-frame. */
const GIF_COST = 0.1;
/** Audio encoding, per second of audio. */
const AUDIO_COST = 0.004;
/** Starting FFmpeg, opening the source and seeking to where it starts. */
const PROCESS_COST = 0.3;
/** Scaling and compressing one still picture. */
const PICTURE_COST = 0.02;

/** A group's expected work and each member's share of it (the shared decode split evenly). */
export interface GroupWork {
  total: number;
  shares: number[];
}

/**
 * The work of one FFmpeg process making `specs` from a source of `durationSec` seconds (the
 * encoded length; `passes` FFmpeg runs). A still made at one point costs a start-up, not a decode.
 */
export function groupWork(specs: readonly OutputSpec[], source: SourceShape, durationSec: number): GroupWork {
  const seconds = Math.max(0, durationSec);
  const v = source.video;
  const sourceMpx = v ? (v.width * v.height) / 1e6 : 0;
  const fps = v && v.fps > 0 ? v.fps : 25;
  const own = specs.map((s) => outputWork(s, source, seconds));
  const decodes = specs.some((s) => decodesWhole(s)) && v ? DECODE_COST * sourceMpx * fps * seconds : 0;
  const shared = PROCESS_COST + decodes;
  const total = shared + own.reduce((a, b) => a + b, 0);
  return { total, shares: own.map((w) => w + shared / Math.max(1, specs.length)) };
}

function decodesWhole(spec: OutputSpec): boolean {
  if (spec.kind === 'image') return false;
  if (spec.kind === 'thumbnail') return spec.time.kind === 'every';
  return spec.kind !== 'audio';
}

function outputWork(spec: OutputSpec, source: SourceShape, seconds: number): number {
  const v = source.video;
  const sourceFps = v && v.fps > 0 ? v.fps : 25;
  const sourceFrames = sourceFps * seconds;
  const sourceMpx = v ? (v.width * v.height) / 1e6 : 0;
  const scaled = SCALE_COST * sourceMpx * sourceFrames;
  switch (spec.kind) {
    case 'video': {
      const passes = spec.twoPass ? TWO_PASS_FACTOR : 1;
      return passes * (videoWork(spec, v, seconds) + scaled) + AUDIO_COST * seconds;
    }
    case 'hls':
    case 'dash':
      return spec.streams.reduce((sum, s) => sum + (s.audioOnly ? 0 : videoWork(s, v, seconds) + scaled) + (s.videoOnly ? 0 : AUDIO_COST * seconds), 0);
    case 'audio':
      return AUDIO_COST * seconds;
    case 'gif': {
      const box = boxOf(spec.size, v);
      return GIF_COST * ((box.width * box.height) / 1e6) * (100 / spec.interval) * seconds + scaled * Math.min(1, 10 / sourceFps);
    }
    case 'thumbnail':
      return spec.time.kind === 'every' ? Math.ceil(seconds / spec.time.seconds) * PICTURE_COST : PICTURE_COST;
    case 'image':
      return PICTURE_COST;
  }
}

function videoWork(enc: { videoCodec: VideoCodec; size: Size | null; framerate: number | 'copy' | null; turbo: boolean }, v: SourceShape['video'], seconds: number): number {
  if (!v) return 0;
  const box = boxOf(enc.size, v);
  const fps = typeof enc.framerate === 'number' ? enc.framerate : v.fps > 0 ? v.fps : 25;
  const cost = ENCODER_COST[enc.videoCodec] * (enc.turbo ? TURBO_FACTOR : 1);
  return cost * ((box.width * box.height) / 1e6) * fps * seconds;
}

function boxOf(size: Size | null, v: SourceShape['video']): { width: number; height: number } {
  const w = v?.width ?? 640;
  const h = v?.height ?? 360;
  if (!size || (size.width === 0 && size.height === 0)) return { width: w, height: h };
  if (size.width === 0) return { width: (size.height * w) / h, height: size.height };
  if (size.height === 0) return { width: size.width, height: (size.width * h) / w };
  return size;
}

// --- how far along --------------------------------------------------------------------------

/**
 * A task's own progress over the media's whole run, 0..1: the shared download, its encode and its
 * delivery, by the phase weights. A media's progress is its tasks' progress weighted by their
 * work, so a media with one task reads exactly like that task.
 */
export function taskProgress(downloaded: number, encoded: number, saved: number): number {
  return PHASE_WEIGHTS.download * clamp01(downloaded) + PHASE_WEIGHTS.encode * clamp01(encoded) + PHASE_WEIGHTS.save * clamp01(saved);
}

/** The weighted mean of tasks' progress; equal weights when none is known yet. */
export function weightedProgress(tasks: readonly { weight: number; progress: number }[]): number {
  if (tasks.length === 0) return 0;
  const total = tasks.reduce((a, t) => a + Math.max(0, t.weight), 0);
  if (!(total > 0)) return tasks.reduce((a, t) => a + t.progress, 0) / tasks.length;
  return tasks.reduce((a, t) => a + Math.max(0, t.weight) * t.progress, 0) / total;
}

/** Below this a figure shows 99.9, not 100: 100 is for Finished only. */
export const NOT_DONE_CEILING = 0.999;

/**
 * A figure that never goes back: a new estimate below the last one shown keeps the last one
 * until the work catches up. Held below `ceiling` (a media's progress reaches 100 only with
 * Finished, written by the run's end, not by the estimate).
 */
export class Monotonic {
  #value = 0;
  constructor(private readonly ceiling = NOT_DONE_CEILING) {}
  get value(): number {
    return this.#value;
  }
  offer(x: number): number {
    this.#value = Math.max(this.#value, Math.min(this.ceiling, clamp01(x)));
    return this.#value;
  }
}

// --- how long still --------------------------------------------------------------------------

/** One FFmpeg process of the encode phase as the tracker sees it. */
export interface GroupState {
  /** Model seconds (groupWork().total). */
  work: number;
  /** 0..1 as FFmpeg reports it. */
  fraction: number;
  /** Wall seconds it has run (so far, or in all when done). */
  elapsedSec: number;
  state: 'waiting' | 'running' | 'done';
  /** Where its own pace is measured from (paceFrom); absent: from its start. */
  paceFrom?: Report | null;
}

/** A process's progress as it reported it at some moment. */
export interface Report {
  elapsedSec: number;
  fraction: number;
}

/**
 * The report to time a process's own pace from, given its reports in order: the one nearest
 * before half its running time, so the pace follows the machine's current load and leaves out
 * the start (a GIF is silent until its palette is made; an encoder starts slow) once there is
 * more to go by; never before its first report.
 */
export function paceFrom(reports: readonly Report[], elapsedSec: number): Report | null {
  let from: Report | null = null;
  for (const r of reports) {
    if (r.fraction <= 0) continue;
    if (from === null || r.elapsedSec <= elapsedSec / 2) from = r;
    else break;
  }
  return from;
}

/**
 * Until it has advanced this share its own pace is too noisy (the first keyframes, a burst once a
 * GIF's palette is made) to trust alone: its estimate blends from the model to its own pace.
 */
const TRUST_OWN_PACE_AT = 0.25;
/** What a process that has run longer than expected is still given, as a share of its expected time. */
const OVERRUN_FLOOR = 0.05;
/** Seconds a process must have run before its pace counts at all. */
const MIN_MEASURED_SEC = 1;
/** A running process's pace counts from this share on (before it, start-up dominates). */
const MIN_MEASURED_FRACTION = 0.05;

/**
 * Wall seconds per model second, measured over the processes that ran (wholly or so far);
 * `prior` until something has run long enough to tell.
 */
export function measuredPace(groups: readonly GroupState[], prior: number): number {
  let work = 0;
  let wall = 0;
  for (const g of groups) {
    if (g.state === 'done' || (g.state === 'running' && g.elapsedSec >= MIN_MEASURED_SEC && g.fraction >= MIN_MEASURED_FRACTION)) {
      work += g.work * (g.state === 'done' ? 1 : g.fraction);
      wall += g.elapsedSec;
    }
  }
  return work > 0 && wall > 0 ? wall / work : prior;
}

/** Wall seconds one process still needs, at `pace` blended with its own measured pace as it runs. */
export function groupLeft(g: GroupState, pace: number): number {
  if (g.state === 'done') return 0;
  const expected = g.work * pace;
  if (g.state === 'waiting') return expected;
  // Some processes report nothing until their end (a GIF's palette needs every frame first):
  // the model's time counts down as the process runs, to a floor while it overruns.
  const modelLeft = Math.max(expected * OVERRUN_FLOOR, Math.min(expected * (1 - g.fraction), expected - g.elapsedSec));
  const from = g.paceFrom ?? { elapsedSec: 0, fraction: 0 };
  const ran = g.elapsedSec - from.elapsedSec;
  const advanced = g.fraction - from.fraction;
  if (ran < MIN_MEASURED_SEC || advanced <= 0) return modelLeft;
  const ownLeft = (ran * (1 - g.fraction)) / advanced;
  const trust = Math.min(1, advanced / TRUST_OWN_PACE_AT);
  return trust * ownLeft + (1 - trust) * modelLeft;
}

/** The processes run one after another: what is left of all of them. */
export function encodeLeft(groups: readonly GroupState[], pace: number): number {
  return groups.reduce((sum, g) => sum + groupLeft(g, pace), 0);
}

/** Seconds until the process at `index` starts (0 once it has). */
export function untilStart(groups: readonly GroupState[], index: number, pace: number): number {
  if (groups[index]?.state !== 'waiting') return 0;
  return groups.slice(0, index).reduce((sum, g) => sum + groupLeft(g, pace), 0);
}

/** Seconds to move `bytes` at a measured rate in bytes per second. */
export function transferLeft(bytes: number, bytesPerSec: number): number {
  return bytesPerSec > 0 ? Math.max(0, bytes) / bytesPerSec : 0;
}

/**
 * Expected size of an encoded output before it exists, for the delivery estimate: the bit rates
 * asked for, or about 0.1 bit per pixel for a constant-quality video.
 */
export function expectedBytes(spec: OutputSpec, source: SourceShape, seconds: number): number {
  const v = source.video;
  const videoBits = (enc: { bitrate: number | null; size: Size | null }): number => {
    if (enc.bitrate) return enc.bitrate;
    const box = boxOf(enc.size, v);
    return box.width * box.height * (v?.fps ?? 25) * 0.1;
  };
  switch (spec.kind) {
    case 'video':
      return ((videoBits(spec) + (spec.audioBitrate ?? 128_000)) * seconds) / 8;
    case 'hls':
    case 'dash':
      return (spec.streams.reduce((sum, s) => sum + (s.audioOnly ? 0 : videoBits(s)) + (s.videoOnly ? 0 : s.audioBitrate ?? 128_000), 0) * seconds) / 8;
    case 'audio':
      return ((spec.audioBitrate ?? 128_000) * seconds) / 8;
    case 'gif': {
      const box = boxOf(spec.size, v);
      return box.width * box.height * 0.3 * (100 / spec.interval) * seconds;
    }
    case 'thumbnail':
    case 'image':
      return 100_000;
  }
}

const clamp01 = (x: number): number => (Number.isFinite(x) ? Math.min(1, Math.max(0, x)) : 0);
