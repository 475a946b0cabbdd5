/** Turns what one FFmpeg run printed, and the output it wrote, into a task's quality summary. */
import { probeMedia } from '../ffmpeg/probe.ts';
import type { EncoderStats, QualityLog } from './log.ts';
import type { QualityFigure, QualityPlan, QualitySummary } from './summary.ts';

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
const PSNR_MEANING: Record<EncoderStats['encoder'], string> = {
  libx264: 'mean over frames of the PSNR of Y, U and V together',
  libx265: 'mean over frames of the PSNR of Y, U and V weighted 6:1:1',
};

const SILENCE_LUFS = -70;

const notMeasured = (why: string): QualityFigure => ({ value: null, method: `not measured: ${why}` });

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
  let psnr: QualityFigure;
  let ssim: QualityFigure;
  const stats = plan.encoderSlot !== null && log.encoderStats.length === facts.expectedStats ? log.encoderStats[plan.encoderSlot] : undefined;
  if (plan.encoderSlot === null) {
    psnr = ssim = notMeasured(`${plan.videoCodec} does not report it`);
  } else if (!stats) {
    psnr = ssim = notMeasured(`${plan.videoCodec}'s statistics could not be matched to this output`);
  } else {
    const against = 'against the scaled picture fed to the encoder';
    psnr = stats.psnr !== null
      ? { value: round(stats.psnr, 2), method: `${stats.encoder} statistics: ${PSNR_MEANING[stats.encoder]} ${against}` }
      : notMeasured(`${stats.encoder} printed no PSNR`);
    ssim = stats.ssim !== null
      ? { value: round(stats.ssim, 5), method: `${stats.encoder} statistics: mean luma SSIM ${against}` }
      : notMeasured(`${stats.encoder} printed no SSIM`);
  }
  let loudness: QualityFigure;
  if (plan.audio === 'copied') loudness = notMeasured('the audio was copied, not re-encoded');
  else if (plan.audio === 'none') loudness = notMeasured('the output has no audio');
  else {
    const lufs = plan.loudnessFilter !== null ? log.loudness(plan.loudnessFilter) : undefined;
    if (lufs === undefined || lufs === null) loudness = notMeasured('FFmpeg printed no loudness summary');
    // ebur128 prints its -70 LUFS absolute gate for audio with nothing above it: silence, not a level.
    else if (lufs <= SILENCE_LUFS) loudness = { value: null, method: `ebur128 filter: silent (nothing above the ${SILENCE_LUFS} LUFS gate of EBU R128)` };
    else loudness = { value: round(lufs, 1), method: 'ebur128 filter: integrated loudness (EBU R128, LUFS) of the audio fed to the encoder' };
  }
  return { psnr, ssim, loudness, durationDifference, realtimeFactor };
}

async function durationOf(output: string, expectedSec: number, opts: { ffprobe: string; signal?: AbortSignal }): Promise<QualityFigure> {
  try {
    const probe = await probeMedia(output, opts);
    if (!(probe.durationSec > 0)) return notMeasured('ffprobe found no duration in the output');
    return { value: round(probe.durationSec - expectedSec, 3), method: 'ffprobe duration of the output minus the length of the source part it was made from' };
  } catch (err) {
    if (opts.signal?.aborted) throw err;
    return notMeasured('ffprobe could not read the output');
  }
}

function round(n: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}
