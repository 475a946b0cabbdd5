/**
 * Reads the figures a quality report needs from FFmpeg's stderr as it streams by, keeping only
 * those (never the whole log):
 * - libx264's closing statistics (`[libx264 @ 0x…] SSIM Mean Y:…` and `PSNR Mean Y:… Avg:…`),
 *   printed when asked with `-flags +psnr -ssim 1`;
 * - libx265's closing line (`encoded N frames … Global PSNR: …, SSIM Mean Y: …`), printed with
 *   `psnr=1:ssim=1:log-level=info`;
 * - the ebur128 filter's summary (`[Parsed_ebur128_N @ 0x…] Summary:` then `I: -23.0 LUFS`).
 *
 * FFmpeg closes its encoders one after another in output-stream order, so the encoders' closing
 * statistics arrive in that order: {@link encoderStats} lists them so, one entry per encoder.
 */

export interface EncoderStats {
  /** Mean over frames of the per-frame PSNR of all three planes, dB. */
  psnr: number | null;
  /** Mean luma SSIM. */
  ssim: number | null;
  /** Which encoder's own statistics these are. */
  encoder: 'libx264' | 'libx265';
}

const X264 = /^\[libx264 @ (0x[0-9a-f]+)\] (SSIM|PSNR) Mean Y:\s*([\d.]+)(?:.* Avg:([\d.]+))?/;
const X265 = /^encoded \d+ frames in .*Global PSNR: ([\d.]+)(?:, SSIM Mean Y: ([\d.]+))?/;
const EBUR128 = /^\[Parsed_ebur128_(\d+) @ 0x[0-9a-f]+\] Summary:/;
const INTEGRATED = /^\s*I:\s+(-?[\d.]+|-inf|nan) LUFS/;

export class QualityLog {
  readonly #encoders: EncoderStats[] = [];
  readonly #x264 = new Map<string, EncoderStats>();
  readonly #loudness = new Map<number, number | null>();
  /** The ebur128 filter whose summary is being read. */
  #summaryOf: number | null = null;

  get encoderStats(): readonly EncoderStats[] {
    return this.#encoders;
  }

  /** Integrated loudness by ebur128 filter index; null when the filter measured nothing (silence gives -inf). */
  loudness(filterIndex: number): number | null | undefined {
    return this.#loudness.get(filterIndex);
  }

  /** One line of FFmpeg's stderr, in order (runFfmpeg's onStderrLine). */
  line(line: string): void {
    const x264 = X264.exec(line);
    if (x264) {
      const [, address, kind, y, avg] = x264;
      let stats = this.#x264.get(address!);
      if (!stats) {
        stats = { psnr: null, ssim: null, encoder: 'libx264' };
        this.#x264.set(address!, stats);
        this.#encoders.push(stats);
      }
      if (kind === 'SSIM') stats.ssim = finite(y);
      else stats.psnr = finite(avg);
      return;
    }
    const x265 = X265.exec(line);
    if (x265) {
      this.#encoders.push({ psnr: finite(x265[1]), ssim: finite(x265[2]), encoder: 'libx265' });
      return;
    }
    const summary = EBUR128.exec(line);
    if (summary) {
      this.#summaryOf = Number(summary[1]);
      return;
    }
    if (this.#summaryOf !== null) {
      const integrated = INTEGRATED.exec(line);
      if (integrated) {
        this.#loudness.set(this.#summaryOf, finite(integrated[1]));
        this.#summaryOf = null;
      }
    }
  }
}

function finite(text: string | undefined): number | null {
  if (text === undefined) return null;
  const n = Number(text);
  return Number.isFinite(n) ? n : null;
}
