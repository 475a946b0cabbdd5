/**
 * Loudness (EBU R128 integrated, true peak), silence, black and frozen video, measured in one
 * FFmpeg decode of the output with ebur128, silencedetect, blackdetect and freezedetect; their
 * findings are read from FFmpeg's log line by line as it runs.
 */
import type { QcChecks } from '../../domain/qc.ts';
import { buildArgs, filter, type FilterChain } from '../ffmpeg/args.ts';
import { runFfmpeg } from '../ffmpeg/run.ts';
import type { MediaProbe } from '../ffmpeg/probe.ts';
import { outside, round, type CheckResult } from './report.ts';
import { describeBounds } from './checks.ts';

export interface Interval {
  start: number;
  end: number;
}

export interface Detections {
  integratedLufs: number | null;
  truePeakDbtp: number | null;
  silence: Interval[];
  black: Interval[];
  freeze: Interval[];
}

/** Whether the checks ask for anything this pass measures. */
export const needsDetection = (c: QcChecks): boolean => Boolean(c.loudness || c.truePeak || c.silence || c.black || c.freeze);

/** Detection granularity: the allowed length itself (anything detected is at least that long), or min_duration when 0 is allowed. */
const detectionLength = (d: { maxDuration: number; minDuration?: number }): number => (d.maxDuration > 0 ? d.maxDuration : d.minDuration ?? 0.05);

export function detectionArgs(file: string, c: QcChecks, probe: MediaProbe): string[] | null {
  const chains: FilterChain[] = [];
  const maps: string[] = [];
  if (probe.audio.length > 0 && (c.loudness || c.truePeak || c.silence)) {
    const filters = [filter('ebur128', { peak: 'true', framelog: 'verbose' })];
    if (c.silence) filters.push(filter('silencedetect', { n: `${c.silence.noiseDb}dB`, d: detectionLength({ maxDuration: c.silence.maxDuration, minDuration: 0.05 }) }));
    chains.push({ inputs: ['0:a:0'], filters, outputs: ['qa'] });
    maps.push('[qa]');
  }
  if (probe.video && (c.black || c.freeze)) {
    const filters = [];
    if (c.black) filters.push(filter('blackdetect', { d: detectionLength(c.black), pix_th: c.black.pixelThreshold }));
    if (c.freeze) filters.push(filter('freezedetect', { n: `${c.freeze.noiseDb}dB`, d: detectionLength(c.freeze) }));
    chains.push({ inputs: ['0:v:0'], filters, outputs: ['qv'] });
    maps.push('[qv]');
  }
  if (chains.length === 0) return null;
  return buildArgs({ inputs: [{ path: file, role: 'ownOutput' }], filterGraph: chains, outputs: [{ url: '-', maps, options: ['-f', 'null'] }] });
}

/** Reads the detectors' log lines; open intervals are closed at `durationSec`. */
export class DetectionLog {
  readonly d: Detections = { integratedLufs: null, truePeakDbtp: null, silence: [], black: [], freeze: [] };
  #silenceStart: number | null = null;
  #freezeStart: number | null = null;
  #section: 'loudness' | 'peak' | null = null;

  line(l: string): void {
    let m: RegExpExecArray | null;
    if (/Integrated loudness:/.test(l)) this.#section = 'loudness';
    else if (/True peak:/.test(l)) this.#section = 'peak';
    else if (/Loudness range:/.test(l)) this.#section = null;
    if ((m = /^\s+I:\s+(-?[\d.]+|-inf)\s+LUFS/.exec(l)) && this.#section === 'loudness') this.d.integratedLufs = num(m[1]!);
    else if ((m = /^\s+Peak:\s+(-?[\d.]+|-inf)\s+dBFS/.exec(l)) && this.#section === 'peak') this.d.truePeakDbtp = num(m[1]!);
    else if ((m = /silence_start:\s*(-?[\d.]+)/.exec(l))) this.#silenceStart = Math.max(0, Number(m[1]));
    else if ((m = /silence_end:\s*(-?[\d.]+)\s*\|\s*silence_duration:\s*([\d.]+)/.exec(l))) {
      const end = Number(m[1]);
      this.d.silence.push({ start: this.#silenceStart ?? end - Number(m[2]), end });
      this.#silenceStart = null;
    } else if ((m = /black_start:\s*([\d.]+)\s+black_end:\s*([\d.]+)/.exec(l))) this.d.black.push({ start: Number(m[1]), end: Number(m[2]) });
    else if ((m = /freeze_start:\s*([\d.]+)/.exec(l))) this.#freezeStart = Number(m[1]);
    else if ((m = /freeze_end:\s*([\d.]+)/.exec(l))) {
      this.d.freeze.push({ start: this.#freezeStart ?? 0, end: Number(m[1]) });
      this.#freezeStart = null;
    }
  }

  close(durationSec: number): Detections {
    // A silence or freeze running to the end is reported with a start only.
    if (this.#silenceStart !== null) this.d.silence.push({ start: this.#silenceStart, end: Math.max(this.#silenceStart, durationSec) });
    if (this.#freezeStart !== null) this.d.freeze.push({ start: this.#freezeStart, end: Math.max(this.#freezeStart, durationSec) });
    this.#silenceStart = this.#freezeStart = null;
    return this.d;
  }
}

const num = (s: string): number => (s === '-inf' ? -Infinity : Number(s));

export async function detect(file: string, c: QcChecks, probe: MediaProbe, durationSec: number, opts: { ffmpeg: string; signal?: AbortSignal; threads?: number }): Promise<Detections | null> {
  const args = detectionArgs(file, c, probe);
  if (!args) return null;
  const log = new DetectionLog();
  await runFfmpeg(args, { ffmpeg: opts.ffmpeg, signal: opts.signal, threads: opts.threads, onStderrLine: (l) => log.line(l) });
  return log.close(durationSec);
}

/** The checks of what the detection pass found. */
export function detectionChecks(c: QcChecks, d: Detections | null, probe: MediaProbe): CheckResult[] {
  const out: CheckResult[] = [];
  const hasAudio = probe.audio.length > 0;
  const noAudio = (name: string, expected: string): CheckResult => ({ name, result: outside('fatal'), measured: 'no audio stream', expected, reason: 'the output has no audio stream' });
  if (c.loudness) {
    const expected = describeBounds(c.loudness, 'LUFS');
    if (!hasAudio || !d) out.push(noAudio('qc_loudness', expected));
    else {
      const v = d.integratedLufs;
      const low = v === null || (c.loudness.min !== undefined && v < c.loudness.min);
      const high = v !== null && c.loudness.max !== undefined && v > c.loudness.max;
      const ok = !low && !high;
      out.push({ name: 'qc_loudness', result: ok ? 'pass' : outside(c.loudness.severity), measured: v === null ? 'unavailable' : `${v} LUFS`, expected,
        reason: ok ? undefined : v === null ? 'FFmpeg reported no integrated loudness' : `integrated loudness ${v} LUFS is ${low ? 'below' : 'above'} ${expected}` });
    }
  }
  if (c.truePeak) {
    const expected = `≤ ${c.truePeak.max} dBTP`;
    if (!hasAudio || !d) out.push(noAudio('qc_true_peak', expected));
    else {
      const v = d.truePeakDbtp;
      const ok = v !== null && v <= c.truePeak.max;
      out.push({ name: 'qc_true_peak', result: ok ? 'pass' : outside(c.truePeak.severity), measured: v === null ? 'unavailable' : `${v} dBTP`, expected,
        reason: ok ? undefined : v === null ? 'FFmpeg reported no true peak' : `true peak ${v} dBTP is above ${c.truePeak.max} dBTP` });
    }
  }
  const intervals = (name: string, what: string, list: Interval[] | undefined, rule: { maxDuration: number; severity: 'fatal' | 'warning' }) => {
    const longest = (list ?? []).reduce<Interval | null>((a, b) => (a === null || b.end - b.start > a.end - a.start ? b : a), null);
    const len = longest ? longest.end - longest.start : 0;
    const ok = len <= rule.maxDuration + 1e-6;
    out.push({
      name,
      result: ok ? 'pass' : outside(rule.severity),
      measured: longest ? `longest ${round(len, 3)} s (${list!.length} found)` : 'none found',
      expected: `none longer than ${rule.maxDuration} s`,
      reason: ok ? undefined : `${what} from ${round(longest!.start, 3)} s to ${round(longest!.end, 3)} s (${round(len, 3)} s), longer than the ${rule.maxDuration} s allowed`,
    });
  };
  if (c.silence) {
    if (!hasAudio || !d) out.push(noAudio('qc_silence', `no silence longer than ${c.silence.maxDuration} s`));
    else intervals('qc_silence', `silence (below ${c.silence.noiseDb} dB)`, d.silence, c.silence);
  }
  const noVideo = (name: string): CheckResult => ({ name, result: 'fail', measured: 'no video stream', expected: 'a video stream', reason: 'the output has no video stream' });
  if (c.black) {
    if (!probe.video || !d) out.push(noVideo('qc_black'));
    else intervals('qc_black', 'black video', d.black, c.black);
  }
  if (c.freeze) {
    if (!probe.video || !d) out.push(noVideo('qc_freeze'));
    else intervals('qc_freeze', 'frozen video', d.freeze, c.freeze);
  }
  return out;
}
