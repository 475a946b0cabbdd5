/**
 * A picture's colour: its tags (primaries, transfer, matrix, range) and the dynamic range they
 * and its side data make. PQ (SMPTE ST 2084) is HDR10, ARIB STD-B67 is HLG; a Dolby Vision
 * configuration record makes it Dolby Vision, whose base layer is still one of the three (its
 * `transfer` says which), so the planner tone-maps or keeps it by that.
 */

export const DYNAMIC_RANGES = ['sdr', 'hdr10', 'hlg', 'dolby_vision'] as const;
export type DynamicRange = (typeof DYNAMIC_RANGES)[number];

/** Chromaticities in 0.00002 units and luminance in 0.0001 cd/m², as HEVC SEI and x265's master-display take them. */
export interface MasteringDisplay {
  red: [number, number];
  green: [number, number];
  blue: [number, number];
  whitePoint: [number, number];
  maxLuminance: number;
  minLuminance: number;
}

export interface ContentLight {
  /** MaxCLL, cd/m². */
  maxContent: number;
  /** MaxFALL, cd/m². */
  maxAverage: number;
}

export interface VideoColor {
  primaries: string | null;
  transfer: string | null;
  matrix: string | null;
  range: string | null;
  dynamicRange: DynamicRange;
  /** HDR static metadata, from the stream's side data or its first frame's. */
  mastering: MasteringDisplay | null;
  contentLight: ContentLight | null;
  /** `8.1` and the like when the source carries a Dolby Vision configuration. */
  dolbyVisionProfile: string | null;
}

export const SDR_COLOR: VideoColor = {
  primaries: null, transfer: null, matrix: null, range: null, dynamicRange: 'sdr', mastering: null, contentLight: null, dolbyVisionProfile: null,
};

/** An SDR picture known to be BT.709: what a tone-map makes. */
export const BT709_COLOR: VideoColor = { ...SDR_COLOR, primaries: 'bt709', transfer: 'bt709', matrix: 'bt709', range: 'tv' };

type Stream = Record<string, unknown>;

/** The transfer functions of high dynamic range, as ffprobe names them. */
export const PQ_TRANSFER = 'smpte2084';
export const HLG_TRANSFER = 'arib-std-b67';

/** A stream's colour; `frameSideData` is its first frame's side data list, when read. */
export function colorOf(stream: Stream, frameSideData: Stream[] = []): VideoColor {
  const sideData = [...sideDataOf(stream), ...frameSideData];
  const transfer = name(stream['color_transfer']);
  const dovi = sideData.find((d) => d['side_data_type'] === 'DOVI configuration record');
  const dolbyVisionProfile = dovi ? `${num(dovi['dv_profile']) ?? '?'}.${num(dovi['dv_bl_signal_compatibility_id']) ?? 0}` : null;
  const dynamicRange: DynamicRange = dovi ? 'dolby_vision' : transfer === PQ_TRANSFER ? 'hdr10' : transfer === HLG_TRANSFER ? 'hlg' : 'sdr';
  return {
    primaries: name(stream['color_primaries']),
    transfer,
    matrix: name(stream['color_space']),
    range: name(stream['color_range']),
    dynamicRange,
    mastering: masteringOf(sideData.find((d) => d['side_data_type'] === 'Mastering display metadata')),
    contentLight: contentLightOf(sideData.find((d) => d['side_data_type'] === 'Content light level metadata')),
    dolbyVisionProfile,
  };
}

/** Whether the picture's transfer is PQ or HLG: what a tone-map must bring down to BT.709. */
export function isHighDynamicRange(c: VideoColor | undefined | null): boolean {
  return !!c && (c.transfer === PQ_TRANSFER || c.transfer === HLG_TRANSFER);
}

/** The first video stream of a stored ffprobe report (the one `MediaProbe.video` describes). */
export function videoStreamOf(raw: { streams?: Stream[] }): Stream | null {
  return (raw.streams ?? []).find((s) => s['codec_type'] === 'video' && !(s['disposition'] as Record<string, unknown> | undefined)?.['attached_pic']) ?? null;
}

/** SMPTE ST 2086 in the form x265's master-display and most tools write. */
export function masteringText(m: MasteringDisplay): string {
  return `G(${m.green.join(',')})B(${m.blue.join(',')})R(${m.red.join(',')})WP(${m.whitePoint.join(',')})L(${m.maxLuminance},${m.minLuminance})`;
}

function sideDataOf(s: Stream): Stream[] {
  return Array.isArray(s['side_data_list']) ? (s['side_data_list'] as Stream[]) : [];
}

function masteringOf(d: Stream | undefined): MasteringDisplay | null {
  if (!d) return null;
  // ffprobe gives rationals ("34000/50000"); SEI units are 1/50000 for chromaticity, 1/10000 for luminance.
  const chroma = (k: string) => Math.round((ratio(d[k]) ?? 0) * 50000);
  const lum = (k: string) => Math.round((ratio(d[k]) ?? 0) * 10000);
  const m: MasteringDisplay = {
    red: [chroma('red_x'), chroma('red_y')], green: [chroma('green_x'), chroma('green_y')], blue: [chroma('blue_x'), chroma('blue_y')],
    whitePoint: [chroma('white_point_x'), chroma('white_point_y')], maxLuminance: lum('max_luminance'), minLuminance: lum('min_luminance'),
  };
  return m.maxLuminance > 0 ? m : null;
}

function contentLightOf(d: Stream | undefined): ContentLight | null {
  if (!d) return null;
  const maxContent = num(d['max_content']);
  const maxAverage = num(d['max_average']);
  return maxContent !== null && maxAverage !== null ? { maxContent, maxAverage } : null;
}

function name(v: unknown): string | null {
  return typeof v === 'string' && v !== '' && v !== 'unknown' && v !== 'reserved' ? v : null;
}

function num(v: unknown): number | null {
  const n = typeof v === 'number' ? v : typeof v === 'string' ? Number(v) : NaN;
  return Number.isFinite(n) ? n : null;
}

function ratio(v: unknown): number | null {
  if (typeof v === 'number') return v;
  if (typeof v !== 'string') return null;
  const [a, b] = v.split('/').map(Number) as [number, number | undefined];
  const r = b === undefined ? a : b === 0 ? NaN : a / b;
  return Number.isFinite(r) ? r : null;
}

/** HDR whose static metadata (mastering display, content light level) the stream's headers did not give: its first frame's side data may. */
export function lacksHdrMetadata(c: VideoColor | undefined | null): boolean {
  return isHighDynamicRange(c) && !(c!.mastering && c!.contentLight);
}
