/**
 * Quality control requested on a format (`<qc>` inside `<format>`) or on the whole media (`<qc>`
 * beside `<source>`, for every format without its own). Field names follow encoding.com's QC
 * tests (`qc_duration`, `qc_video_codec`, ..., `qc_video_metrics` with `original_source`,
 * `metrics`/`metric`/`thresholds`/`severity`) where they are known; the rest are ours and the
 * README lists them all.
 *
 * Pure: zod checks the request once in AddMedia; the pipeline (pipeline/qc/) gets the typed spec.
 */
import { z } from 'zod';
import type { FieldMap, FieldValue } from './fields.ts';

export const QC_SEVERITIES = ['fatal', 'warning'] as const;
export type QcSeverity = (typeof QC_SEVERITIES)[number];

/** The metrics compared against the source; `vmaf` only where FFmpeg has libvmaf. */
export const QC_METRICS = ['psnr', 'ssim', 'ms_ssim', 'vmaf'] as const;
export type QcMetricName = (typeof QC_METRICS)[number];

/** Statistics over the per-frame values a threshold may bound (reference names). */
export const QC_STATS = ['min', 'max', 'mean', 'median', 'harm_mean'] as const;
export type QcStat = (typeof QC_STATS)[number];

const MAX_PERCENTILE_RULES = 10;

// --- value parsers: the wire gives strings --------------------------------------------------

const num = (what: string) =>
  z.string().trim().regex(/^-?\d+(\.\d+)?$/, `must be a number${what}`).transform(Number);
const nonNeg = (what: string) => num(what).refine((n) => n >= 0, `must not be negative${what}`);
const positive = (what: string) => num(what).refine((n) => n > 0, `must be greater than 0${what}`);
const severity = z
  .string()
  .trim()
  .transform((s) => s.toLowerCase())
  .pipe(z.enum(QC_SEVERITIES, { error: 'must be fatal or warning' }));
const text = z.string().trim().min(1, 'must not be empty').max(100, 'is too long');

/** `<qc_validate_dts/>`, `yes` or a map with only a severity turns a test on. */
const presence = z.union([
  z.string().trim().regex(/^(yes|no)?$/i, 'must be empty, yes, no or a set of test fields (severity)').transform((s) => (s.toLowerCase() === 'no' ? null : {})),
  z.object({ severity: severity.optional() }).strict(),
]);

function test<T extends z.ZodRawShape>(shape: T) {
  const fields = [...Object.keys(shape), 'severity'].join(', ');
  return z.union([
    z.string().refine((s) => s.trim() === '', `must be empty (defaults) or a set of test fields (${fields})`).transform(() => null),
    z.object({ ...shape, severity: severity.optional() }).strict(),
  ]);
}

const bounds = (unit: string) => test({ min: nonNeg(unit).optional(), max: nonNeg(unit).optional() });
const signedBounds = (unit: string) => test({ min: num(unit).optional(), max: num(unit).optional() });
const expected = test({ value: text });
const expectedNumber = (unit: string) => test({ value: positive(unit) });
const expectedWithDeviation = test({ value: text, deviation: nonNeg('').optional() });

const statBounds = z.object({ lower: num('').optional(), upper: num('').optional() }).strict();
const thresholds = z
  .object({
    severity: severity.optional(),
    min: statBounds.optional(),
    max: statBounds.optional(),
    mean: statBounds.optional(),
    median: statBounds.optional(),
    harm_mean: statBounds.optional(),
    percentile: z.object({ perc: num('').refine((p) => p > 0 && p < 100, 'must be between 0 and 100'), lower: num('').optional(), upper: num('').optional() }).strict().optional(),
  })
  .strict();

const oneOrMany = <T extends z.ZodType>(item: T) => z.union([item.transform((x) => [x]), z.array(item).max(MAX_PERCENTILE_RULES, 'is given too many times')]);

const metric = z
  .object({
    metric: z.string().trim().transform((s) => s.toLowerCase()).pipe(z.enum(QC_METRICS, { error: `must be one of ${QC_METRICS.join(', ')}` })),
    model: z.string().trim().optional(),
    thresholds: oneOrMany(thresholds).optional(),
  })
  .strict();

const videoMetrics = z
  .object({
    original_source: z.string().trim().min(1, 'must be a URL').optional(),
    metrics: oneOrMany(metric),
  })
  .strict();

const qcObject = z
  .object({
    qc_duration: test({ deviation: nonNeg(' (seconds)').optional() }).optional(),
    qc_file_size: bounds(' (bytes)').optional(),
    qc_bitrate: bounds(' (kbit/s)').optional(),
    qc_video_codec: expected.optional(),
    qc_video_codec_profile: expected.optional(),
    qc_video_level: expected.optional(),
    qc_frame_size: expected.optional(),
    qc_aspect_ratio: expectedWithDeviation.optional(),
    qc_frame_rate: expectedWithDeviation.optional(),
    qc_video_streams_number: test({ value: nonNeg('') }).optional(),
    qc_audio_streams_number: test({ value: nonNeg('') }).optional(),
    qc_audio_channels: expectedNumber('').optional(),
    qc_audio_sample_rate: expectedNumber(' (Hz)').optional(),
    qc_validate_dts: presence.optional(),
    qc_validate_pts: presence.optional(),
    qc_idr_interval: test({ max: positive(' (seconds)') }).optional(),
    qc_segment_starts_with_idr: presence.optional(),
    qc_short_segment: test({ min: positive(' (seconds)').optional() }).optional(),
    qc_loudness: signedBounds(' (LUFS)').optional(),
    qc_true_peak: test({ max: num(' (dBTP)') }).optional(),
    qc_silence: test({ noise: num(' (dB)').optional(), max_duration: nonNeg(' (seconds)').optional() }).optional(),
    qc_black: test({ max_duration: nonNeg(' (seconds)').optional(), pixel_threshold: nonNeg('').optional(), min_duration: positive(' (seconds)').optional() }).optional(),
    qc_freeze: test({ max_duration: nonNeg(' (seconds)').optional(), noise: num(' (dB)').optional(), min_duration: positive(' (seconds)').optional() }).optional(),
    qc_video_metrics: videoMetrics.optional(),
  })
  .strict();

/** The tests a `<qc>` block may hold, as the schema above takes them (the field registry lists them). */
export const QC_TESTS: readonly string[] = Object.keys(qcObject.shape);

/** `<qc>auto</qc>` (reference) or a set of tests. */
const qcField = z.union([
  z.string().trim().regex(/^auto$/i, 'must be auto or a set of QC tests').transform(() => 'auto' as const),
  qcObject,
]);

type QcObject = z.output<typeof qcObject>;

// --- the typed spec the pipeline reads ----------------------------------------------------

export interface Bounds {
  min?: number;
  max?: number;
}

export interface QcChecks {
  duration?: { deviation: number; severity: QcSeverity };
  fileSize?: Bounds & { severity: QcSeverity };
  bitrateKbps?: Bounds & { severity: QcSeverity };
  videoCodec?: { value: string; severity: QcSeverity };
  profile?: { value: string; severity: QcSeverity };
  level?: { value: string; severity: QcSeverity };
  frameSize?: { value: string; severity: QcSeverity };
  aspectRatio?: { value: string; deviation: number; severity: QcSeverity };
  frameRate?: { value: string; deviation: number; severity: QcSeverity };
  videoStreams?: { value: number; severity: QcSeverity };
  audioStreams?: { value: number; severity: QcSeverity };
  audioChannels?: { value: number; severity: QcSeverity };
  sampleRate?: { value: number; severity: QcSeverity };
  dts?: { severity: QcSeverity };
  pts?: { severity: QcSeverity };
  idrInterval?: { max: number; severity: QcSeverity };
  segmentStartsWithIdr?: { severity: QcSeverity };
  shortSegment?: { min: number; severity: QcSeverity };
  loudness?: Bounds & { severity: QcSeverity };
  truePeak?: { max: number; severity: QcSeverity };
  silence?: { noiseDb: number; maxDuration: number; severity: QcSeverity };
  black?: { maxDuration: number; pixelThreshold: number; minDuration: number; severity: QcSeverity };
  freeze?: { maxDuration: number; noiseDb: number; minDuration: number; severity: QcSeverity };
}

export interface StatRule {
  stat: QcStat | 'percentile';
  /** Only for `percentile`. */
  perc?: number;
  lower?: number;
  upper?: number;
}

export interface MetricThreshold {
  severity: QcSeverity;
  rules: StatRule[];
}

export interface MetricSpec {
  metric: QcMetricName;
  model: string | null;
  thresholds: MetricThreshold[];
}

export interface QcSpec {
  /** `auto`: the checks derived from the format and the source (pipeline/qc/auto.ts). */
  auto: boolean;
  checks: QcChecks;
  metrics: MetricSpec[];
  /** `original_source`: the reference for the metrics instead of the media's own source. */
  originalSource: string | null;
  /** `qc_fail_parent`: a fatal QC result puts the output task itself in Error. */
  failParent: boolean;
}

/** Defaults, documented in the README's Quality control section. */
export const QC_DEFAULTS = {
  durationDeviationSec: 0.1,
  frameRateDeviation: 0.01,
  aspectRatioDeviation: 0.01,
  shortSegmentSec: 1,
  silenceNoiseDb: -60,
  silenceMaxSec: 2,
  blackMaxSec: 0.5,
  blackPixelThreshold: 0.1,
  blackMinSec: 0.1,
  freezeMaxSec: 2,
  freezeNoiseDb: -60,
  freezeMinSec: 0.5,
} as const;

export type QcParseResult = { ok: true; spec: QcSpec | null } | { ok: false; error: string };

/**
 * Reads the QC fields of one format, falling back to the media-level `qc` and `qc_fail_parent`.
 * null spec: no QC asked. Errors name the field, e.g. `qc.qc_duration.deviation must be a number`.
 */
export function parseQc(format: FieldMap, media: FieldMap = {}): QcParseResult {
  const own = format['qc'] !== undefined;
  const raw = own ? format['qc'] : media['qc'];
  const failRaw = format['qc_fail_parent'] ?? media['qc_fail_parent'];
  let failParent = false;
  if (failRaw !== undefined) {
    if (typeof failRaw !== 'string' || !/^(yes|no|)$/i.test(failRaw.trim())) return { ok: false, error: 'Field "qc_fail_parent" must be yes or no.' };
    failParent = failRaw.trim().toLowerCase() === 'yes';
  }
  if (raw === undefined || raw === '') {
    if (failParent) return { ok: false, error: 'Field "qc_fail_parent" needs a "qc" field with the tests to run.' };
    return { ok: true, spec: null };
  }
  const parsed = qcField.safeParse(raw);
  if (!parsed.success) return { ok: false, error: describeIssue(parsed.error) };
  if (parsed.data === 'auto') return { ok: true, spec: { auto: true, checks: {}, metrics: [], originalSource: null, failParent } };
  return { ok: true, spec: toSpec(parsed.data, failParent) };
}

function describeIssue(err: z.ZodError): string {
  // The deepest issue names the exact field; a union reports each branch, so take the longest path.
  const issues = flatten(err.issues);
  // The deepest path; among equals, a rule's own message before a shape mismatch of another branch.
  const rank = (i: Issue): number => i.path.length * 2 + (i.code === 'invalid_type' ? 0 : 1);
  const best = issues.reduce((a, b) => (rank(b) > rank(a) ? b : a), issues[0]!);
  const field = ['qc', ...best.path.map(String)].join('.');
  let message = best.message;
  if (best.code === 'unrecognized_keys') return `Field "${field}" has unknown QC field(s): ${best.keys.join(', ')}.`;
  if (best.code === 'invalid_type') {
    message = /received undefined/.test(best.message) ? 'is required' : 'has the wrong shape (a value where a set of fields is expected, or the reverse)';
  }
  return `Field "${field}" ${message}.`;
}

type Issue = z.core.$ZodIssue;
function flatten(issues: readonly Issue[], prefix: PropertyKey[] = []): Issue[] {
  const out: Issue[] = [];
  for (const issue of issues) {
    const path = [...prefix, ...issue.path];
    if (issue.code === 'invalid_union' && issue.errors.length > 0) {
      for (const branch of issue.errors) out.push(...flatten(branch, path));
    } else {
      out.push({ ...issue, path } as Issue);
    }
  }
  return out;
}

function toSpec(o: QcObject, failParent: boolean): QcSpec {
  const sev = (t: { severity?: QcSeverity } | null | undefined): QcSeverity => t?.severity ?? 'fatal';
  const d = QC_DEFAULTS;
  const checks: QcChecks = {};
  if (o.qc_duration !== undefined) checks.duration = { deviation: o.qc_duration?.deviation ?? d.durationDeviationSec, severity: sev(o.qc_duration) };
  if (o.qc_file_size) checks.fileSize = { min: o.qc_file_size.min, max: o.qc_file_size.max, severity: sev(o.qc_file_size) };
  if (o.qc_bitrate) checks.bitrateKbps = { min: o.qc_bitrate.min, max: o.qc_bitrate.max, severity: sev(o.qc_bitrate) };
  if (o.qc_video_codec) checks.videoCodec = { value: o.qc_video_codec.value, severity: sev(o.qc_video_codec) };
  if (o.qc_video_codec_profile) checks.profile = { value: o.qc_video_codec_profile.value, severity: sev(o.qc_video_codec_profile) };
  if (o.qc_video_level) checks.level = { value: o.qc_video_level.value, severity: sev(o.qc_video_level) };
  if (o.qc_frame_size) checks.frameSize = { value: o.qc_frame_size.value, severity: sev(o.qc_frame_size) };
  if (o.qc_aspect_ratio) checks.aspectRatio = { value: o.qc_aspect_ratio.value, deviation: o.qc_aspect_ratio.deviation ?? d.aspectRatioDeviation, severity: sev(o.qc_aspect_ratio) };
  if (o.qc_frame_rate) checks.frameRate = { value: o.qc_frame_rate.value, deviation: o.qc_frame_rate.deviation ?? d.frameRateDeviation, severity: sev(o.qc_frame_rate) };
  if (o.qc_video_streams_number) checks.videoStreams = { value: o.qc_video_streams_number.value, severity: sev(o.qc_video_streams_number) };
  if (o.qc_audio_streams_number) checks.audioStreams = { value: o.qc_audio_streams_number.value, severity: sev(o.qc_audio_streams_number) };
  if (o.qc_audio_channels) checks.audioChannels = { value: o.qc_audio_channels.value, severity: sev(o.qc_audio_channels) };
  if (o.qc_audio_sample_rate) checks.sampleRate = { value: o.qc_audio_sample_rate.value, severity: sev(o.qc_audio_sample_rate) };
  if (o.qc_validate_dts) checks.dts = { severity: sev(o.qc_validate_dts) };
  if (o.qc_validate_pts) checks.pts = { severity: sev(o.qc_validate_pts) };
  if (o.qc_idr_interval) checks.idrInterval = { max: o.qc_idr_interval.max, severity: sev(o.qc_idr_interval) };
  if (o.qc_segment_starts_with_idr) checks.segmentStartsWithIdr = { severity: sev(o.qc_segment_starts_with_idr) };
  if (o.qc_short_segment !== undefined) checks.shortSegment = { min: o.qc_short_segment?.min ?? d.shortSegmentSec, severity: sev(o.qc_short_segment) };
  if (o.qc_loudness) checks.loudness = { min: o.qc_loudness.min, max: o.qc_loudness.max, severity: sev(o.qc_loudness) };
  if (o.qc_true_peak) checks.truePeak = { max: o.qc_true_peak.max, severity: sev(o.qc_true_peak) };
  if (o.qc_silence !== undefined) {
    checks.silence = { noiseDb: o.qc_silence?.noise ?? d.silenceNoiseDb, maxDuration: o.qc_silence?.max_duration ?? d.silenceMaxSec, severity: sev(o.qc_silence) };
  }
  if (o.qc_black !== undefined) {
    checks.black = {
      maxDuration: o.qc_black?.max_duration ?? d.blackMaxSec,
      pixelThreshold: o.qc_black?.pixel_threshold ?? d.blackPixelThreshold,
      minDuration: o.qc_black?.min_duration ?? d.blackMinSec,
      severity: sev(o.qc_black),
    };
  }
  if (o.qc_freeze !== undefined) {
    checks.freeze = {
      maxDuration: o.qc_freeze?.max_duration ?? d.freezeMaxSec,
      noiseDb: o.qc_freeze?.noise ?? d.freezeNoiseDb,
      minDuration: o.qc_freeze?.min_duration ?? d.freezeMinSec,
      severity: sev(o.qc_freeze),
    };
  }
  const vm = o.qc_video_metrics;
  const metrics: MetricSpec[] = (vm?.metrics ?? []).map((m) => ({
    metric: m.metric,
    model: m.model ?? null,
    thresholds: (m.thresholds ?? []).map((t) => {
      const rules: StatRule[] = [];
      for (const stat of QC_STATS) {
        const b = t[stat];
        if (b) rules.push({ stat, lower: b.lower, upper: b.upper });
      }
      if (t.percentile) rules.push({ stat: 'percentile', perc: t.percentile.perc, lower: t.percentile.lower, upper: t.percentile.upper });
      return { severity: t.severity ?? 'fatal', rules };
    }),
  }));
  return { auto: false, checks, metrics, originalSource: vm?.original_source ?? null, failParent };
}

/**
 * The tests of a spec that decode the output (pictures, sound, metrics): QC holds no content key,
 * so an encrypted output refuses them; the other tests read packets and boxes only.
 */
export function decodingTests(spec: QcSpec): string[] {
  const c = spec.checks;
  const names: [unknown, string][] = [
    [c.loudness, 'qc_loudness'], [c.truePeak, 'qc_true_peak'], [c.silence, 'qc_silence'], [c.black, 'qc_black'], [c.freeze, 'qc_freeze'],
    [spec.metrics.length > 0 ? spec.metrics : undefined, 'qc_video_metrics'],
  ];
  return names.filter(([given]) => given !== undefined).map(([, name]) => name);
}

/** The QC fields a format stores for its child media (echoed in the child's GetStatus). */
export function qcFieldsOf(format: FieldMap, media: FieldMap): FieldMap {
  const out: FieldMap = {};
  const qc: FieldValue | undefined = format['qc'] ?? media['qc'];
  if (qc !== undefined) out['qc'] = qc;
  const fail = format['qc_fail_parent'] ?? media['qc_fail_parent'];
  if (fail !== undefined) out['qc_fail_parent'] = fail;
  return out;
}

// --- the report a QC child keeps (pipeline/qc/ writes it, GetStatus and qc_notify show it) ----

export type QcResult = 'pass' | 'warning' | 'fail';

export interface CheckResult {
  /** The request's test name, e.g. `qc_duration`. */
  name: string;
  result: QcResult;
  /** What was measured, with its unit; `unavailable` when it could not be. */
  measured: string;
  expected: string;
  /** A sentence a person reads; set for warnings and failures. */
  reason?: string;
}

export interface MetricSummary {
  frames: number;
  min: number;
  max: number;
  mean: number;
  median: number;
  harm_mean: number;
  /** Percentiles asked for by thresholds, plus the 5th (the worst frames) always. */
  percentiles: { perc: number; value: number }[];
}

export interface MetricResult {
  /** `psnr`, `ssim`, `ms_ssim`, `vmaf`. */
  metric: string;
  result: QcResult | 'unavailable';
  summary?: MetricSummary;
  /** Why a metric could not be computed, or which thresholds were crossed. */
  reason?: string;
}

/** One track of an encrypted output as its own boxes say (pipeline/drm/inspect.ts), read without the key. */
export interface TrackEncryption {
  /** The track's folder in the output (`stream_0`, `audio_eng`, …). */
  track: string;
  kind: 'video' | 'audio' | 'other';
  /** `schm` scheme type (`cenc`); null: the track is clear. */
  scheme: string | null;
  /** `tenc` default_KID as a UUID; null when the track is clear. */
  keyId: string | null;
  /** DRM systems with a `pssh` box in the init segment (names, or system ids Encodery does not know). */
  systems: string[];
  segments: number;
  /** Media segments whose every fragment carries sample encryption (`senc`). */
  encryptedSegments: number;
}

export interface QcReport {
  result: QcResult;
  /**
   * An encrypted output's tracks: key id, scheme and systems each (absent for a clear output).
   * @default undefined
   */
  encryption?: TrackEncryption[];
  /** The reference the metrics compared against (redacted URL or `source`). */
  reference?: string;
  checks: CheckResult[];
  metrics: MetricResult[];
}

