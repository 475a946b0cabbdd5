/**
 * The short quality summary every encoded video output carries (extended GetStatus, notify):
 * PSNR and SSIM against the source, integrated loudness, the duration difference and the
 * realtime factor of the encode. Each figure says how it was obtained; a figure that was not
 * measured is absent and its method says why, never a guessed number.
 */
import { z } from 'zod';

const figure = z.object({ value: z.number().finite().nullable(), method: z.string() });

export const qualitySummarySchema = z.object({
  /** dB: mean over frames of the per-frame PSNR of Y, U and V together. */
  psnr: figure,
  /** Mean SSIM of the luma plane, 0..1. */
  ssim: figure,
  /** Integrated loudness, LUFS (EBU R128). */
  loudness: figure,
  /** Seconds: output duration minus the duration of the source part it was made from. */
  durationDifference: figure,
  /** Seconds of media encoded per second of wall time. */
  realtimeFactor: figure,
  /** HLS and DASH: each video variant's own PSNR and SSIM (the top-level ones are the lowest of these). */
  variants: z.array(z.object({ name: z.string(), psnr: figure, ssim: figure })).optional(),
});

export type QualitySummary = z.infer<typeof qualitySummarySchema>;
export type QualityFigure = z.infer<typeof figure>;

/** The stored JSON of a task's summary; null when it has none or it cannot be read. */
export function parseQuality(text: string | null): QualitySummary | null {
  if (!text) return null;
  try {
    const parsed = qualitySummarySchema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}

/** One line for the task's log: the figures with their units, "n/m" for those not measured. */
export function describeQuality(q: QualitySummary): string {
  const show = (f: QualityFigure, unit: string): string => (f.value === null ? 'n/m' : `${f.value}${unit}`);
  return [
    `PSNR ${show(q.psnr, ' dB')}`, `SSIM ${show(q.ssim, '')}`, `loudness ${show(q.loudness, ' LUFS')}`,
    `duration difference ${show(q.durationDifference, ' s')}`, `realtime factor ${show(q.realtimeFactor, 'x')}`,
  ].join(', ');
}
