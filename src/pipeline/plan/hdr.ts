/**
 * HDR sources in the plan (format/hdr.ts): the tone-map that brings a PQ or HLG picture to
 * BT.709 SDR, done once per source in the shared decode (graph.ts), and the tags and static
 * metadata of the outputs that keep HDR. An SDR source gets none of this.
 *
 * The tone-map is zscale's linearisation and primaries conversion around FFmpeg's `tonemap`
 * (Hable, no desaturation), the chain FFmpeg's own documentation gives; it works in 32-bit float
 * RGB, so it is the expensive part of an HDR ladder (bench/ prints its cost).
 */
import type { VideoEncoding } from '../../domain/format.ts';
import { BT709_COLOR, HLG_TRANSFER, isHighDynamicRange, masteringText, PQ_TRANSFER, type VideoColor } from '../../domain/video-color.ts';
import type { VideoStreamInfo } from '../ffmpeg/probe.ts';
import { filter, type Filter } from '../ffmpeg/args.ts';

/** The output keeps the source's HDR picture (not tone-mapped). */
export function keepsHdr(enc: Pick<VideoEncoding, 'hdr'>, v: VideoStreamInfo): boolean {
  return enc.hdr === 'keep' && isHighDynamicRange(v.color);
}

/** The output's picture is the source's, tone-mapped to SDR. */
export function tonemapped(enc: Pick<VideoEncoding, 'hdr'>, v: VideoStreamInfo): boolean {
  return enc.hdr !== 'keep' && isHighDynamicRange(v.color);
}

/** PQ or HLG → BT.709, ending in 8-bit 4:2:0 (each output converts to its own pixel format after). */
export function tonemapFilters(color: VideoColor): Filter[] {
  const transferIn = color.transfer === HLG_TRANSFER ? HLG_TRANSFER : PQ_TRANSFER;
  return [
    filter('zscale', {
      tin: transferIn, min: color.matrix === 'bt2020c' ? 'bt2020c' : 'bt2020nc', pin: 'bt2020', rin: color.range === 'pc' ? 'full' : 'limited',
      t: 'linear', npl: 100,
    }),
    filter('format', ['gbrpf32le']),
    filter('zscale', { p: 'bt709' }),
    filter('tonemap', { tonemap: 'hable', desat: 0 }),
    filter('zscale', { t: 'bt709', m: 'bt709', r: 'tv' }),
    filter('format', ['yuv420p']),
  ];
}

/** For the stills (thumbnails, images, GIFs), 8-bit SDR pictures made alone: the tone-map of an HDR source, nothing for an SDR one. */
export function sdrFilters(v: VideoStreamInfo): Filter[] {
  return isHighDynamicRange(v.color) ? tonemapFilters(v.color!) : [];
}

/**
 * The colour tags an output of this source is written with: BT.709 when tone-mapped (or when the
 * picture is a stage that tone-mapped its HDR sources, stage.ts), the source's BT.2020 and PQ/HLG
 * when kept; none for another SDR source (its picture is untouched).
 */
export function colorTagOptions(enc: Pick<VideoEncoding, 'hdr'>, v: VideoStreamInfo): string[] {
  if (tonemapped(enc, v) || v.color === BT709_COLOR) return ['-color_primaries', 'bt709', '-color_trc', 'bt709', '-colorspace', 'bt709', '-color_range', 'tv'];
  if (!keepsHdr(enc, v)) return [];
  const c = v.color!;
  return [
    '-color_primaries', c.primaries ?? 'bt2020', '-color_trc', c.transfer!, '-colorspace', c.matrix ?? 'bt2020nc',
    '-color_range', c.range === 'pc' ? 'pc' : 'tv',
  ];
}

/**
 * libx265 writes HDR10's SEI (mastering display, content light level) only from its own
 * parameters: they are added to the `-x265-params` the codec options already carry. Other
 * encoders' options come back unchanged.
 */
export function withHdrParameters(codecOptions: string[], enc: Pick<VideoEncoding, 'hdr' | 'videoCodec'>, v: VideoStreamInfo): string[] {
  if (enc.videoCodec !== 'libx265' || !keepsHdr(enc, v)) return codecOptions;
  const c = v.color!;
  const params = [
    `colorprim=${c.primaries ?? 'bt2020'}`, `transfer=${c.transfer}`, `colormatrix=${c.matrix ?? 'bt2020nc'}`,
    ...(c.transfer === PQ_TRANSFER ? ['hdr10=1', 'hdr10-opt=1'] : []),
    ...(c.mastering ? [`master-display=${masteringText(c.mastering)}`] : []),
    ...(c.contentLight ? [`max-cll=${c.contentLight.maxContent},${c.contentLight.maxAverage}`] : []),
  ];
  const at = codecOptions.indexOf('-x265-params');
  if (at < 0) return [...codecOptions, '-x265-params', params.join(':')];
  const out = [...codecOptions];
  out[at + 1] = `${out[at + 1]}:${params.join(':')}`;
  return out;
}

/** HLS `VIDEO-RANGE` of a variant: PQ or HLG when it keeps HDR, SDR otherwise. */
export function videoRange(enc: Pick<VideoEncoding, 'hdr'>, v: VideoStreamInfo): 'SDR' | 'PQ' | 'HLG' {
  if (!keepsHdr(enc, v)) return 'SDR';
  return v.color!.transfer === HLG_TRANSFER ? 'HLG' : 'PQ';
}
