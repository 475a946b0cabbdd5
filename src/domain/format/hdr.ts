/**
 * `hdr`, Encodery's own field: what a video output does with an HDR (PQ or HLG) source.
 * - `tonemap` (the default): the picture is tone-mapped to BT.709 SDR, so no output comes out
 *   washed out on an SDR screen; an SDR source is untouched.
 * - `keep`: the output stays HDR10 or HLG, 10-bit, with the source's colour tags and static
 *   metadata. Only encoders that carry it: libx265 (tags, mastering display, content light level
 *   in its SEI) and libvpx-vp9 (tags only: FFmpeg 5.1 cannot hand libvpx the static metadata).
 */
import { FormatProblem, type Fields } from './fields.ts';
import type { PixelFormat, VideoCodec } from './encoder-fields.ts';

export const HDR_MODES = ['tonemap', 'keep'] as const;
export type HdrMode = (typeof HDR_MODES)[number];

const KEEPS_HDR: readonly VideoCodec[] = ['libx265', 'libvpx-vp9'];

export function readHdr(f: Fields, codec: VideoCodec): HdrMode {
  const raw = f.str('hdr');
  if (raw === null) return 'tonemap';
  const mode = raw.toLowerCase();
  if (!(HDR_MODES as readonly string[]).includes(mode)) throw new FormatProblem(`hdr "${raw}" is not one of ${HDR_MODES.join(', ')}.`);
  if (mode === 'keep' && !KEEPS_HDR.includes(codec)) {
    throw new FormatProblem(`hdr keep needs a 10-bit HDR encoder: video_codec libx265 or libvpx-vp9, not ${codec}; use one of them, or hdr tonemap for SDR.`);
  }
  return mode as HdrMode;
}

/** HDR is 10-bit: `keep` without a pix_format gets yuv420p10le; an 8-bit one asked is refused. */
export function hdrPixelFormat(mode: HdrMode, asked: PixelFormat, given: boolean): PixelFormat {
  if (mode !== 'keep') return asked;
  if (!given) return 'yuv420p10le';
  if (!asked.includes('10')) throw new FormatProblem(`hdr keep needs a 10-bit pix_format (yuv420p10le), not ${asked}.`);
  return asked;
}
