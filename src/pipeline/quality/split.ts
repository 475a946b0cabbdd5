/**
 * The quality report of a split-and-stitch encode (split/): each chunk's encoder prints its own
 * closing statistics, the audio (encoded once, whole) goes through an ebur128 branch, and the
 * figures are combined once every piece is joined. A chunk may run on another worker of the
 * cluster, so what its run measured travels back with its result (queue/bull-chunks.ts).
 */
import type { VideoCodec } from '../../domain/format.ts';
import type { QualityFigure, QualitySummary } from '../../domain/quality.ts';
import { UnitFigures, type UnitMeasure } from '../../domain/split-unit.ts';
import { QualityLog, type EncoderStats } from './log.ts';
import { durationOf, loudnessFigure, notMeasured, PSNR_MEANING, round } from './report.ts';

/** Figures as recorded beside a piece (JSON); null when there are none or they cannot be read. */
export function parseFigures(text: string): UnitFigures | null {
  try {
    const parsed = UnitFigures.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}

/** Reads a unit's stderr as it streams by (runFfmpeg's onStderrLine); `figures()` after the run. */
export function unitReader(measure: UnitMeasure): { line(line: string): void; figures(): UnitFigures } {
  const log = new QualityLog();
  return {
    line: (line) => log.line(line),
    figures: () => {
      const stats = log.encoderStats;
      // A chunk's process has exactly one video encoder; anything else cannot be attributed.
      const encoder: EncoderStats | null = measure.stats && stats.length === 1 ? stats[0]! : null;
      const lufs = measure.loudnessFilter !== null ? log.loudness(measure.loudnessFilter) : undefined;
      return { encoder, ...(lufs !== undefined ? { loudness: lufs } : {}) };
    },
  };
}

export interface SplitFacts {
  codec: VideoCodec;
  /** Every chunk in order, with its frame count and what its run measured (null: kept from an interrupted run that did not record it). */
  chunks: { frames: number; figures: UnitFigures | null }[];
  /** The audio unit's figures; `none`: the output has no audio. */
  audio: UnitFigures | null | 'none';
  /** Seconds of media, and wall seconds of the whole split encode (chunks, audio and the join). */
  encodedSec: number;
  wallSec: number;
  /** Length of the source part the output is made from. */
  expectedSec: number;
  output: string;
}

export async function summarizeSplit(f: SplitFacts, opts: { ffprobe: string; signal?: AbortSignal }): Promise<QualitySummary> {
  const n = f.chunks.length;
  const realtimeFactor: QualityFigure = f.wallSec > 0 && f.encodedSec > 0
    ? { value: round(f.encodedSec / f.wallSec, 2), method: `seconds of media / wall seconds of the whole split encode (${n} chunks, the audio and the join)` }
    : notMeasured('the encode took no measurable time');
  const durationDifference = await durationOf(f.output, f.expectedSec, opts);
  const { psnr, ssim } = combineChunks(f.codec, f.chunks);
  const loudness = f.audio === 'none'
    ? notMeasured('the output has no audio')
    : f.audio === null ? notMeasured('the audio was kept from an interrupted run that did not record its measure') : loudnessFigure(f.audio.loudness);
  return { psnr, ssim, loudness, durationDifference, realtimeFactor };
}

/**
 * The output's PSNR and SSIM from its chunks'. Each encoder's figures are means over its frames of
 * per-frame values (x264's `Avg`, x265's `Global PSNR` and both SSIM means), so the mean over the
 * whole output is the frame-weighted mean of the chunks' means; none unless every chunk reported.
 */
function combineChunks(codec: VideoCodec, chunks: SplitFacts['chunks']): { psnr: QualityFigure; ssim: QualityFigure } {
  const missing = chunks.findIndex((c) => !c.figures?.encoder);
  if (missing >= 0) {
    const why = chunks[missing]!.figures === null
      ? `chunk ${missing + 1} was kept from an interrupted run that did not record its statistics`
      : `${codec} printed no statistics for chunk ${missing + 1}`;
    const reason = codec === 'libx264' || codec === 'libx265' ? why : `${codec} does not report it`;
    return { psnr: notMeasured(reason), ssim: notMeasured(reason) };
  }
  const stats = chunks.map((c) => ({ frames: c.frames, s: c.figures!.encoder! }));
  const encoder = stats[0]!.s.encoder;
  const frames = stats.reduce((a, c) => a + c.frames, 0);
  const mean = (pick: (s: EncoderStats) => number | null): number | null => {
    if (frames <= 0 || stats.some((c) => pick(c.s) === null)) return null;
    return stats.reduce((a, c) => a + pick(c.s)! * c.frames, 0) / frames;
  };
  const psnr = mean((s) => s.psnr);
  const ssim = mean((s) => s.ssim);
  const over = `frame-weighted mean of the ${stats.length} chunks' own means (each chunk encoded apart), against the scaled picture fed to the encoder`;
  return {
    psnr: psnr !== null
      ? { value: round(psnr, 2), method: `${encoder} statistics: ${PSNR_MEANING[encoder]}, as the ${over}` }
      : notMeasured(`${encoder} printed no PSNR for some chunk`),
    ssim: ssim !== null
      ? { value: round(ssim, 5), method: `${encoder} statistics: mean luma SSIM, as the ${over}` }
      : notMeasured(`${encoder} printed no SSIM for some chunk`),
  };
}
