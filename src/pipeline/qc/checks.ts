/**
 * `qc_check`-style tests on one output: its streams as ffprobe sees them and its video packets
 * as the demuxer hands them over (timestamps, keyframes), read as a stream, never decoded.
 */
import type { QcChecks, QcSeverity } from '../../domain/qc.ts';
import { PROBED_VIDEO_CODEC, VIDEO_CODEC_NAMES } from '../../domain/encoders.ts';
import { forEachVideoPacket, type MediaProbe } from '../ffmpeg/probe.ts';
import { outside, round, type CheckResult } from './report.ts';

export interface PacketFacts {
  packets: number;
  /** Decodable video duration: last packet end minus first packet start, seconds. */
  durationSec: number | null;
  dtsErrors: number;
  firstDtsError: string | null;
  ptsErrors: number;
  firstPtsError: string | null;
  keyframes: number;
  /** Longest time between two keyframes (or from the last one to the end), seconds. */
  maxKeyframeGapSec: number | null;
  firstIsKeyframe: boolean;
}

/**
 * One pass over the video packets. DTS must strictly increase; PTS must be present, not before
 * its DTS and never repeat (B-frames make PTS non-monotonic in decode order, which is fine).
 */
export async function readPacketFacts(file: string, opts: { ffprobe: string; signal?: AbortSignal }): Promise<PacketFacts> {
  const f: PacketFacts = {
    packets: 0, durationSec: null, dtsErrors: 0, firstDtsError: null, ptsErrors: 0, firstPtsError: null, keyframes: 0, maxKeyframeGapSec: null, firstIsKeyframe: false,
  };
  let lastDts = -Infinity;
  let minPts = Infinity;
  let maxEnd = -Infinity;
  let lastKey: number | null = null;
  let maxGap = 0;
  const seenPts = new Set<number>();
  await forEachVideoPacket(file, ['pts_time', 'dts_time', 'duration_time', 'flags'], { ...opts, role: 'ownOutput' }, ([ptsS, dtsS, durS, flags]) => {
    const i = f.packets++;
    const pts = Number(ptsS);
    const dts = Number(dtsS);
    const dur = Number(durS);
    const hasPts = ptsS !== undefined && ptsS !== 'N/A' && Number.isFinite(pts);
    const hasDts = dtsS !== undefined && dtsS !== 'N/A' && Number.isFinite(dts);
    if (hasDts) {
      if (dts <= lastDts) {
        f.dtsErrors++;
        f.firstDtsError ??= `packet ${i}: DTS ${dts} s does not increase (previous ${lastDts} s)`;
      }
      lastDts = dts;
    } else {
      f.dtsErrors++;
      f.firstDtsError ??= `packet ${i} has no DTS`;
    }
    if (!hasPts) {
      f.ptsErrors++;
      f.firstPtsError ??= `packet ${i} has no PTS`;
      return;
    }
    if (hasDts && pts < dts - 1e-9) {
      f.ptsErrors++;
      f.firstPtsError ??= `packet ${i}: PTS ${pts} s is before its DTS ${dts} s`;
    } else if (seenPts.has(pts)) {
      f.ptsErrors++;
      f.firstPtsError ??= `packet ${i}: PTS ${pts} s repeats`;
    }
    seenPts.add(pts);
    minPts = Math.min(minPts, pts);
    maxEnd = Math.max(maxEnd, pts + (Number.isFinite(dur) ? dur : 0));
    if (flags?.includes('K')) {
      if (i === 0) f.firstIsKeyframe = true;
      if (lastKey !== null) maxGap = Math.max(maxGap, pts - lastKey);
      lastKey = pts;
      f.keyframes++;
    }
  });
  if (f.packets > 0 && Number.isFinite(minPts)) {
    f.durationSec = maxEnd - minPts;
    if (lastKey !== null) f.maxKeyframeGapSec = Math.max(maxGap, maxEnd - lastKey);
  }
  return f;
}

export interface CheckInput {
  probe: MediaProbe;
  /** Every file of the output, bytes added up. */
  bytes: number;
  packets: PacketFacts | null;
  /** The source's duration, for qc_duration; null when unknown. */
  sourceDurationSec: number | null;
}

/** Each requested check of the streams, in the request's order of the reference table. */
export function runStreamChecks(c: QcChecks, input: CheckInput): CheckResult[] {
  const { probe, packets } = input;
  const out: CheckResult[] = [];
  const v = probe.video;
  const a = probe.audio[0];
  const duration = packets?.durationSec ?? probe.durationSec;
  if (c.duration) {
    if (input.sourceDurationSec === null) out.push(unavailable('qc_duration', `source duration ± ${c.duration.deviation} s`, 'the source duration is unknown'));
    else {
      const diff = duration - input.sourceDurationSec;
      const ok = Math.abs(diff) <= c.duration.deviation;
      out.push(result('qc_duration', ok, c.duration.severity, `${round(duration, 3)} s`, `${round(input.sourceDurationSec, 3)} s ± ${c.duration.deviation} s`,
        `the output lasts ${round(duration, 3)} s, ${round(Math.abs(diff), 3)} s ${diff < 0 ? 'shorter' : 'longer'} than the source (${round(input.sourceDurationSec, 3)} s); allowed ± ${c.duration.deviation} s`));
    }
  }
  if (c.fileSize) {
    out.push(bounded('qc_file_size', input.bytes, c.fileSize, c.fileSize.severity, 'bytes'));
  }
  if (c.bitrateKbps) {
    const kbps = probe.bitrate ? probe.bitrate / 1000 : duration > 0 ? (input.bytes * 8) / duration / 1000 : null;
    if (kbps === null) out.push(unavailable('qc_bitrate', describeBounds(c.bitrateKbps, 'kbit/s'), 'neither the file nor its duration tells the bitrate'));
    else out.push(bounded('qc_bitrate', round(kbps, 1), c.bitrateKbps, c.bitrateKbps.severity, 'kbit/s'));
  }
  const needVideo = (name: string, expected: string): boolean => {
    if (v) return true;
    out.push({ name, result: 'fail', measured: 'no video stream', expected, reason: 'the output has no video stream' });
    return false;
  };
  if (c.videoCodec && needVideo('qc_video_codec', c.videoCodec.value)) {
    out.push(result('qc_video_codec', codecName(v!.codec) === codecName(c.videoCodec.value), c.videoCodec.severity, v!.codec, c.videoCodec.value, `the video codec is ${v!.codec}, not ${c.videoCodec.value}`));
  }
  if (c.profile && needVideo('qc_video_codec_profile', c.profile.value)) {
    const p = v!.profile ?? 'unknown';
    out.push(result('qc_video_codec_profile', p.toLowerCase() === c.profile.value.toLowerCase(), c.profile.severity, p, c.profile.value, `the video profile is ${p}, not ${c.profile.value}`));
  }
  if (c.level && needVideo('qc_video_level', c.level.value)) {
    const measured = levelOf(v!.codec, v!.level ?? null);
    const want = Number(c.level.value);
    const ok = measured !== null && Number.isFinite(want) && Math.abs(measured - (Number.isInteger(want) && want >= 10 ? want / 10 : want)) < 1e-6;
    out.push(result('qc_video_level', ok, c.level.severity, measured === null ? 'unknown' : measured.toFixed(1), c.level.value, `the video level is ${measured === null ? 'unknown' : measured.toFixed(1)}, not ${c.level.value}`));
  }
  if (c.frameSize && needVideo('qc_frame_size', c.frameSize.value)) {
    const size = `${v!.width}x${v!.height}`;
    out.push(result('qc_frame_size', size === c.frameSize.value.toLowerCase(), c.frameSize.severity, size, c.frameSize.value, `the frame size is ${size}, not ${c.frameSize.value}`));
  }
  if (c.aspectRatio && needVideo('qc_aspect_ratio', c.aspectRatio.value)) {
    const m = ratio(v!.displayAspectRatio);
    const e = ratio(c.aspectRatio.value);
    const ok = m !== null && e !== null && Math.abs(m - e) <= c.aspectRatio.deviation;
    out.push(result('qc_aspect_ratio', ok, c.aspectRatio.severity, v!.displayAspectRatio, `${c.aspectRatio.value} ± ${c.aspectRatio.deviation}`, `the display aspect ratio is ${v!.displayAspectRatio}, not ${c.aspectRatio.value}`));
  }
  if (c.frameRate && needVideo('qc_frame_rate', c.frameRate.value)) {
    const e = ratio(c.frameRate.value.replace('/', ':'));
    const ok = e !== null && Math.abs(v!.fps - e) <= c.frameRate.deviation;
    out.push(result('qc_frame_rate', ok, c.frameRate.severity, `${round(v!.fps, 3)} fps`, `${c.frameRate.value} ± ${c.frameRate.deviation} fps`, `the frame rate is ${round(v!.fps, 3)} fps, not ${c.frameRate.value}`));
  }
  const streams = probe.raw.streams ?? [];
  if (c.videoStreams) {
    const n = streams.filter((s) => s['codec_type'] === 'video').length;
    out.push(result('qc_video_streams_number', n === c.videoStreams.value, c.videoStreams.severity, String(n), String(c.videoStreams.value), `the output has ${n} video stream(s), not ${c.videoStreams.value}`));
  }
  if (c.audioStreams) {
    const n = probe.audio.length;
    out.push(result('qc_audio_streams_number', n === c.audioStreams.value, c.audioStreams.severity, String(n), String(c.audioStreams.value), `the output has ${n} audio stream(s), not ${c.audioStreams.value}`));
  }
  if (c.audioChannels) {
    const n = a?.channels ?? 0;
    out.push(result('qc_audio_channels', n === c.audioChannels.value, c.audioChannels.severity, a ? String(n) : 'no audio stream', String(c.audioChannels.value), `the audio has ${n} channel(s), not ${c.audioChannels.value}`));
  }
  if (c.sampleRate) {
    const n = a?.sampleRate ?? 0;
    out.push(result('qc_audio_sample_rate', n === c.sampleRate.value, c.sampleRate.severity, a ? `${n} Hz` : 'no audio stream', `${c.sampleRate.value} Hz`, `the audio sample rate is ${n} Hz, not ${c.sampleRate.value} Hz`));
  }
  if (c.dts && needVideo('qc_validate_dts', 'increasing DTS')) {
    const p = packets!;
    out.push(result('qc_validate_dts', p.dtsErrors === 0, c.dts.severity, `${p.dtsErrors} error(s) in ${p.packets} packets`, 'strictly increasing DTS', `${p.dtsErrors} DTS error(s); first: ${p.firstDtsError}`));
  }
  if (c.pts && needVideo('qc_validate_pts', 'valid PTS')) {
    const p = packets!;
    out.push(result('qc_validate_pts', p.ptsErrors === 0, c.pts.severity, `${p.ptsErrors} error(s) in ${p.packets} packets`, 'every PTS present, unique and not before its DTS', `${p.ptsErrors} PTS error(s); first: ${p.firstPtsError}`));
  }
  if (c.idrInterval && needVideo('qc_idr_interval', `≤ ${c.idrInterval.max} s`)) {
    const gap = packets!.maxKeyframeGapSec;
    const ok = gap !== null && gap <= c.idrInterval.max + 1e-6;
    out.push(result('qc_idr_interval', ok, c.idrInterval.severity, gap === null ? 'no keyframe' : `${round(gap, 3)} s`, `≤ ${c.idrInterval.max} s`,
      gap === null ? 'the video has no keyframe' : `the longest keyframe interval is ${round(gap, 3)} s, more than ${c.idrInterval.max} s`));
  }
  return out;
}

function result(name: string, ok: boolean, severity: QcSeverity, measured: string, expected: string, reason: string): CheckResult {
  return ok ? { name, result: 'pass', measured, expected } : { name, result: outside(severity), measured, expected, reason };
}

export function unavailable(name: string, expected: string, why: string): CheckResult {
  // A check that was asked for and could not be made is not a pass.
  return { name, result: 'warning', measured: 'unavailable', expected, reason: why };
}

function bounded(name: string, value: number, b: { min?: number; max?: number }, severity: QcSeverity, unit: string): CheckResult {
  const low = b.min !== undefined && value < b.min;
  const high = b.max !== undefined && value > b.max;
  const reason = low ? `${value} ${unit} is below the minimum ${b.min} ${unit}` : `${value} ${unit} is above the maximum ${b.max} ${unit}`;
  return result(name, !low && !high, severity, `${value} ${unit}`, describeBounds(b, unit), reason);
}

export function describeBounds(b: { min?: number; max?: number }, unit: string): string {
  if (b.min !== undefined && b.max !== undefined) return `${b.min}–${b.max} ${unit}`;
  if (b.min !== undefined) return `≥ ${b.min} ${unit}`;
  if (b.max !== undefined) return `≤ ${b.max} ${unit}`;
  return 'any';
}

/** Every name `video_codec` takes, as ffprobe calls what that encoder makes, and the codec tags. */
const CODEC_ALIASES: Record<string, string> = {
  ...Object.fromEntries(Object.entries(VIDEO_CODEC_NAMES).map(([name, encoder]) => [name, PROBED_VIDEO_CODEC[encoder]])),
  avc: 'h264', avc1: 'h264', hvc1: 'hevc',
};
const codecName = (c: string): string => CODEC_ALIASES[c.toLowerCase()] ?? c.toLowerCase();

/** As a decimal level: H.264 reports 31 for 3.1, HEVC 93 (30 × 3.1). */
function levelOf(codec: string, level: number | null): number | null {
  if (level === null || level <= 0) return null;
  return codecName(codec) === 'hevc' ? level / 30 : level / 10;
}

/** `16:9`, `4/3` or `1.333` as a number. */
function ratio(s: string): number | null {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(?:[:/]\s*(\d+(?:\.\d+)?))?\s*$/.exec(s);
  if (!m) return null;
  const n = Number(m[1]);
  const d = m[2] !== undefined ? Number(m[2]) : 1;
  return d > 0 ? n / d : null;
}
