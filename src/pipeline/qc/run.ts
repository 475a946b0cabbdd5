/** Runs every check and metric a QC spec asks for on one output, and writes the report. */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { QcChecks, QcSpec, TrackEncryption } from '../../domain/qc.ts';
import { readOutputEncryption } from '../drm/inspect.ts';
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
  // An encrypted output (cenc) is checked from its packets and boxes: no test decodes it.
  let encryption: TrackEncryption[] = [];
  const results: CheckResult[] = [];
  try {
    encryption = await readOutputEncryption(input.files);
  } catch (err) {
    results.push({ name: 'qc_encryption', result: 'fail', measured: 'unreadable', expected: 'readable init and media segments', reason: `the output's boxes cannot be read: ${describeError(err)}` });
  }
  const encrypted = encryption.length > 0;
  if (encrypted) results.push(encryptionCheck(encryption));
  const checks = spec.auto ? { ...autoChecks(probe, segmented), ...spec.checks } : spec.checks;
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
  const notDecoded = 'not measured: the output is encrypted and QC holds no content key';
  if (needsDetection(checks) && encrypted) {
    results.push({ name: 'qc_detection', result: 'warning', measured: 'unavailable', expected: 'a decodable output', reason: notDecoded });
  } else if (needsDetection(checks)) {
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
    if (encrypted) {
      metrics = spec.metrics.map((m) => ({ metric: m.metric, result: 'unavailable', reason: notDecoded }));
    } else if (!ref) {
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
    ...(encrypted ? { encryption } : {}),
    checks: results,
    metrics,
  };
}

/** qc_encryption: every track of an encrypted output has a key id and every media segment its sample IVs. */
export function encryptionCheck(tracks: readonly TrackEncryption[]): CheckResult {
  const clear = tracks.filter((t) => t.scheme === null || t.keyId === null).map((t) => t.track);
  const segments = tracks.reduce((n, t) => n + t.segments, 0);
  const encrypted = tracks.reduce((n, t) => n + t.encryptedSegments, 0);
  const schemes = [...new Set(tracks.flatMap((t) => (t.scheme ? [t.scheme] : [])))].join(', ');
  const ok = clear.length === 0 && encrypted === segments;
  const problems = [
    ...(clear.length > 0 ? [`track(s) without protection: ${clear.join(', ')}`] : []),
    ...tracks.filter((t) => t.encryptedSegments < t.segments).map((t) => `${t.track}: ${t.segments - t.encryptedSegments} of ${t.segments} segments without sample encryption`),
  ];
  return {
    name: 'qc_encryption',
    // A clear track or segment in a protected output is content given away: always fatal.
    result: ok ? 'pass' : 'fail',
    measured: `${tracks.length - clear.length} of ${tracks.length} tracks and ${encrypted} of ${segments} segments encrypted (${schemes || 'no scheme'})`,
    expected: 'every track and segment encrypted',
    reason: ok ? undefined : problems.join('; '),
  };
}
