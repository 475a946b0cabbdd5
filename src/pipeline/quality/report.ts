/** Turns what one FFmpeg run printed, and the output it wrote, into a task's quality summary. */
import { probeMedia } from '../ffmpeg/probe.ts';
import { mp4HeaderDuration } from '../ffmpeg/mp4-duration.ts';
import { hlsPlaylistDuration } from './hls-duration.ts';
import type { EncoderStats, QualityLog } from './log.ts';
import type { QualityFigure, QualitySummary } from '../../domain/quality.ts';
import type { PlannedEncoder, QualityPlan } from './plan.ts';

export interface EncodeFacts {
  /** What the process encoded, seconds, and how long it ran. */
  encodedSec: number;
  wallSec: number;
  /** How many outputs the process made (one decode shared among them). */
  outputs: number;
  /** FFmpeg runs: 2 for a two-pass encode, one more for a remux that adds rotation metadata. */
  runs: number;
  /** Encoders of this process that printed statistics, expected and seen; unequal means they cannot be matched. */
  expectedStats: number;
}

/** What each encoder's PSNR figure averages (x264's `Avg`, x265's `Global PSNR`). */
export const PSNR_MEANING: Record<EncoderStats['encoder'], string> = {
  libx264: 'mean over frames of the PSNR of Y, U and V together',
  libx265: 'mean over frames of the PSNR of Y, U and V weighted 6:1:1',
};

const SILENCE_LUFS = -70;

const HLS_PLAYLIST_DURATION = 'the sum of the #EXTINF durations of the first variant\'s media playlist (what ffprobe reports for the master playlist)';

export const notMeasured = (why: string): QualityFigure => ({ value: null, method: `not measured: ${why}` });

export async function summarize(
  plan: QualityPlan,
  log: QualityLog,
  facts: EncodeFacts,
  output: string,
  opts: { ffprobe: string; signal?: AbortSignal },
): Promise<QualitySummary> {
  const shared = facts.outputs > 1 ? `, shared by ${facts.outputs} outputs` : '';
  const ran = facts.runs > 1 ? `its ${facts.runs} FFmpeg runs` : 'the FFmpeg process';
  const realtimeFactor: QualityFigure = facts.wallSec > 0 && facts.encodedSec > 0
    ? { value: round(facts.encodedSec / facts.wallSec, 2), method: `seconds encoded / wall seconds of ${ran}${shared}` }
    : notMeasured('the encode took no measurable time');
  const durationDifference = await durationOf(output, plan.durationSec, opts);
  if (plan.kind === 'remuxed') {
    const why = 'remuxed without re-encoding, so the streams are the source\'s own';
    return { psnr: notMeasured(why), ssim: notMeasured(why), loudness: notMeasured(why), durationDifference, realtimeFactor };
  }
  const matched = log.encoderStats.length === facts.expectedStats;
  const figures = plan.encoders.map((e) => encoderFigures(e, matched ? log.encoderStats : []));
  let { psnr, ssim } = figures[0] ?? { psnr: notMeasured('the output has no video'), ssim: notMeasured('the output has no video') };
  let variants: QualitySummary['variants'];
  if (plan.encoders.length > 1 || plan.encoders[0]?.variant) {
    variants = plan.encoders.map((e, k) => ({ name: e.variant ?? String(k), ...figures[k]! }));
    psnr = lowest(figures.map((f) => f.psnr), plan.encoders.length);
    ssim = lowest(figures.map((f) => f.ssim), plan.encoders.length);
  }
  let loudness: QualityFigure;
  if (plan.audio === 'copied') loudness = notMeasured('the audio was copied, not re-encoded');
  else if (plan.audio === 'none') loudness = notMeasured('the output has no audio');
  else loudness = loudnessFigure(plan.loudnessFilter !== null ? log.loudness(plan.loudnessFilter) : undefined);
  return { psnr, ssim, loudness, durationDifference, realtimeFactor, ...(variants ? { variants } : {}) };
}

/** The loudness figure from an ebur128 summary's integrated loudness (undefined: no summary was printed). */
export function loudnessFigure(lufs: number | null | undefined): QualityFigure {
  if (lufs === undefined || lufs === null) return notMeasured('FFmpeg printed no loudness summary');
  // ebur128 prints its -70 LUFS absolute gate for audio with nothing above it: silence, not a level.
  if (lufs <= SILENCE_LUFS) return { value: null, method: `ebur128 filter: silent (nothing above the ${SILENCE_LUFS} LUFS gate of EBU R128)` };
  return { value: round(lufs, 1), method: 'ebur128 filter: integrated loudness (EBU R128, LUFS) of the audio fed to the encoder' };
}

/** One video encoder's PSNR and SSIM from its closing statistics (`stats`: every measured encoder of the process, in order). */
function encoderFigures(e: PlannedEncoder, stats: readonly EncoderStats[]): { psnr: QualityFigure; ssim: QualityFigure } {
  if (e.slot === null) return { psnr: notMeasured(`${e.codec} does not report it`), ssim: notMeasured(`${e.codec} does not report it`) };
  const s = stats[e.slot];
  if (!s) {
    const why = `${e.codec}'s statistics could not be matched to this output`;
    return { psnr: notMeasured(why), ssim: notMeasured(why) };
  }
  const against = 'against the scaled picture fed to the encoder';
  return {
    psnr: s.psnr !== null
      ? { value: round(s.psnr, 2), method: `${s.encoder} statistics: ${PSNR_MEANING[s.encoder]} ${against}` }
      : notMeasured(`${s.encoder} printed no PSNR`),
    ssim: s.ssim !== null
      ? { value: round(s.ssim, 5), method: `${s.encoder} statistics: mean luma SSIM ${against}` }
      : notMeasured(`${s.encoder} printed no SSIM`),
  };
}

/** A multi-variant output's figure: its worst variant's, and none unless every variant was measured. */
function lowest(figures: QualityFigure[], count: number): QualityFigure {
  const missing = figures.find((f) => f.value === null);
  if (missing) return { value: null, method: `${missing.method} (for at least one of ${count} variants; see variant)` };
  const worst = figures.reduce((w, f) => (f.value! < w.value! ? f : w));
  return { value: worst.value, method: `the lowest of ${count} variants (each under variant); ${worst.method}` };
}

const PART_LENGTH = 'the length of the source part it was made from';
const MP4_HEADER_DURATION = 'the duration the output\'s MP4 header (mvhd) states, which is what ffprobe reports for it,';

export async function durationOf(output: string, expectedSec: number, opts: { ffprobe: string; signal?: AbortSignal }): Promise<QualityFigure> {
  try {
    // An MP4's header states the very duration ffprobe reports for it: no ffprobe process to start.
    const stated = await mp4HeaderDuration(output).catch(() => null);
    if (stated !== null) return { value: round(stated - expectedSec, 3), method: `${MP4_HEADER_DURATION} minus ${PART_LENGTH}` };
    const listed = await hlsPlaylistDuration(output);
    if (listed !== null) return { value: round(listed - expectedSec, 3), method: `${HLS_PLAYLIST_DURATION} minus ${PART_LENGTH}` };
    const probe = await probeMedia(output, { ...opts, role: 'ownOutput' });
    if (!(probe.durationSec > 0)) return notMeasured('ffprobe found no duration in the output');
    return { value: round(probe.durationSec - expectedSec, 3), method: `ffprobe duration of the output minus ${PART_LENGTH}` };
  } catch (err) {
    if (opts.signal?.aborted) throw err;
    return notMeasured('ffprobe could not read the output');
  }
}

export function round(n: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}
