/** Runs every check and metric a QC spec asks for on one output, and writes the report. */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { QcChecks, QcSpec } from '../../domain/qc.ts';
import { probeMedia, type MediaProbe } from '../ffmpeg/probe.ts';
import { describeError } from '../../domain/errors.ts';
import { readPacketFacts, runStreamChecks, type PacketFacts } from './checks.ts';
import { detect, detectionChecks, needsDetection } from './detect.ts';
import { computeMetrics } from './metrics.ts';
import { runSegmentChecks } from './segments.ts';
import { overall, type CheckResult, type QcReport } from './report.ts';

export interface QcRunInput {
  spec: QcSpec;
  /** Every file of the output (an HLS output: playlists and segments). */
  files: string[];
  /** The reference for qc_duration and the metrics: the source, or the downloaded original_source; null when neither is at hand. */
  reference: { path: string; probe: MediaProbe; shown: string } | null;
  scratch: string;
  ffmpeg: string;
  ffprobe: string;
  threads?: number;
  signal?: AbortSignal;
  /** Progress notes for the child's state log. */
  note?: (message: string) => Promise<void>;
}

/** The file the stream checks and the metrics read: a media playlist for HLS, else the media file. */
export async function mainFileOf(files: string[]): Promise<string | null> {
  for (const f of files.filter((x) => /\.m3u8$/i.test(x))) {
    const text = await fs.readFile(f, 'utf8').catch(() => '');
    if (text.includes('#EXTINF') && !text.includes('#EXT-X-I-FRAMES-ONLY')) return f;
  }
  return files.find((f) => /\.mpd$/i.test(f)) ?? files.find((f) => !/\.(m3u8|vtt|srt|scc|dfxp|jpe?g|png|json|xml)$/i.test(f)) ?? files[0] ?? null;
}

/** `<qc>auto</qc>`: the reference's automatic tests that apply to this output, as warnings. */
export function autoChecks(probe: MediaProbe, segmented: boolean): QcChecks {
  const c: QcChecks = { duration: { deviation: 0.2, severity: 'warning' } };
  if (probe.video) {
    c.videoStreams = { value: 1, severity: 'warning' };
    c.dts = { severity: 'warning' };
    c.pts = { severity: 'warning' };
  }
  if (segmented) {
    c.segmentStartsWithIdr = { severity: 'warning' };
    c.shortSegment = { min: 1, severity: 'warning' };
  }
  return c;
}

export async function runQc(input: QcRunInput): Promise<QcReport> {
  const { spec, signal } = input;
  const opts = { ffprobe: input.ffprobe, ffmpeg: input.ffmpeg, signal, threads: input.threads };
  const note = input.note ?? (async () => {});
  const main = await mainFileOf(input.files);
  let bytes = 0;
  for (const f of input.files) bytes += (await fs.stat(f).catch(() => null))?.size ?? 0;
  let probe: MediaProbe;
  try {
    if (!main) throw new Error('the output has no files');
    probe = await probeMedia(main, { ...opts, role: 'ownOutput' });
  } catch (err) {
    if (signal?.aborted) throw err;
    const check: CheckResult = { name: 'qc_readable', result: 'fail', measured: 'unreadable', expected: 'a readable media file', reason: `the output cannot be read: ${describeError(err)}` };
    return { result: 'fail', checks: [check], metrics: [] };
  }
  const segmented = input.files.some((f) => /\.(m3u8|mpd)$/i.test(f));
  const checks = spec.auto ? { ...autoChecks(probe, segmented), ...spec.checks } : spec.checks;
  const results: CheckResult[] = [];
  let packets: PacketFacts | null = null;
  if (probe.video && (checks.duration || checks.dts || checks.pts || checks.idrInterval)) {
    try {
      packets = await readPacketFacts(main!, opts);
    } catch (err) {
      if (signal?.aborted) throw err;
      results.push({ name: 'qc_readable', result: 'fail', measured: 'unreadable packets', expected: 'readable video packets', reason: describeError(err) });
    }
  }
  const ref = input.reference;
  const refDuration = ref ? (probe.video ? ref.probe.video?.durationSec ?? ref.probe.durationSec : ref.probe.audio[0]?.durationSec ?? ref.probe.durationSec) : null;
  if (packets || !probe.video || !(checks.dts || checks.pts || checks.idrInterval)) {
    results.push(...runStreamChecks(checks, { probe, bytes, packets, sourceDurationSec: refDuration && refDuration > 0 ? refDuration : null }));
  }
  if (checks.segmentStartsWithIdr || checks.shortSegment) {
    await note('QC: checking segments');
    results.push(...(await runSegmentChecks(checks, input.files, path.join(input.scratch, 'segments'), opts)));
  }
  if (needsDetection(checks)) {
    await note('QC: measuring loudness, silence, black and frozen video');
    const duration = packets?.durationSec ?? probe.durationSec;
    try {
      results.push(...detectionChecks(checks, await detect(main!, checks, probe, duration, opts), probe));
    } catch (err) {
      if (signal?.aborted) throw err;
      results.push({ name: 'qc_detection', result: 'fail', measured: 'unavailable', expected: 'a decodable output', reason: `decoding the output failed: ${describeError(err)}` });
    }
  }
  let metrics: QcReport['metrics'] = [];
  if (spec.metrics.length > 0) {
    if (!ref) {
      metrics = spec.metrics.map((m) => ({ metric: m.metric, result: 'unavailable', reason: 'no reference: the source is no longer at hand and no original_source was given' }));
    } else {
      await note(`QC: comparing with ${ref.shown} (${spec.metrics.map((m) => m.metric).join(', ')})`);
      metrics = await computeMetrics(spec.metrics, {
        distorted: main!, distortedProbe: probe, reference: ref.path, referenceProbe: ref.probe, scratch: path.join(input.scratch, 'metrics'), ffmpeg: input.ffmpeg, threads: input.threads, signal,
      });
    }
  }
  return {
    result: overall([...results.map((r) => r.result), ...metrics.map((m) => m.result)]),
    reference: spec.metrics.length > 0 && ref ? ref.shown : undefined,
    checks: results,
    metrics,
  };
}
