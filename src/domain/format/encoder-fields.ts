/**
 * Video fields of reference 4.3 and 4.5 that shape the encoded picture beyond size and rate:
 * set_aspect_ratio, cbr/hard_cbr, pix_format, video_codec_parameters (x264 options), and the
 * picture's noise_reduction, burnin_timecode and auto_crop.
 */
import type { FieldValue } from '../fields.ts';
import { FormatProblem, type Fields, parseDecimal, normaliseLevel } from './fields.ts';
import { PIXEL_FORMATS, PIXEL_FORMATS_OF, type PixelFormat, type VideoCodec } from '../encoders.ts';
import { OUTPUTS, type MovingOutput } from '../outputs.ts';

export { PIXEL_FORMATS, type PixelFormat, type VideoCodec } from '../encoders.ts';

/** Display aspect ratio written into the output: a width/height ratio, or the source's own. */
export type AspectRatio = number | 'source';

/** `cbr`: the rate held constant through the decoder buffer; `hard`: filler data fills what the picture does not need. */
export type ConstantBitrate = 'cbr' | 'hard';

/** The H.264 profile a pixel format needs; 8-bit 4:2:0 fits the profile asked. */
export const H264_PROFILE_FOR: Partial<Record<PixelFormat, string>> = {
  yuv422p: 'high422', yuv444p: 'high444', yuv420p10le: 'high10', yuv422p10le: 'high422', yuv444p10le: 'high444',
};
/** The H.265 profile a pixel format needs. */
export const HEVC_PROFILE_FOR: Partial<Record<PixelFormat, string>> = {
  yuv444p: 'main444-8', yuv420p10le: 'main10', yuv422p10le: 'main422-10', yuv444p10le: 'main444-10',
};

/** `a:b:c` strengths of hqdn3d (reference 4.3 noise_reduction). */
export interface NoiseReduction {
  lumaSpatial: number;
  chromaSpatial: number;
  lumaTemporal: number;
}

/** auto_crop (reference 4.5): black borders found by FFmpeg's cropdetect over a sample of the source. */
export interface AutoCrop {
  /** crop: cut the borders; resize: cut and fit the size asked keeping the aspect; stretch: cut and fill the size asked. */
  cropType: 'crop' | 'resize' | 'stretch';
  /** Luma at or below which a pixel counts as black, 0-128 (cropdetect's limit on 8-bit video). */
  limit: number;
  /** Width and height are cut to a multiple of this. */
  round: number;
}

export function readAspectRatio(f: Fields): AspectRatio | null {
  const raw = f.str('set_aspect_ratio');
  if (raw === null) return null;
  const v = raw.toLowerCase();
  if (v === 'source') return 'source';
  const pair = /^(\d+(?:\.\d+)?)\s*[:/x]\s*(\d+(?:\.\d+)?)$/.exec(v);
  const ratio = pair ? Number(pair[1]) / Number(pair[2]) : parseDecimal(v);
  if (ratio === null || !Number.isFinite(ratio) || ratio < 0.1 || ratio > 10) {
    throw new FormatProblem(`set_aspect_ratio "${raw}" is not an aspect ratio like 16:9, 1.7778 or source (0.1 to 10).`);
  }
  return ratio;
}

export function readConstantBitrate(f: Fields, codec: VideoCodec, bitrate: number | null, output: string): ConstantBitrate | null {
  const hard = f.flag('hard_cbr', false);
  const cbr = f.flag('cbr', false);
  // An audio_only stream inherits the format's cbr with no picture to hold at a rate.
  if ((!hard && !cbr) || f.flag('audio_only', false)) return null;
  const field = hard ? 'hard_cbr' : 'cbr';
  if (bitrate === null) throw new FormatProblem(`${field} needs a bitrate to hold constant; add bitrate (e.g. 2000k) or remove ${field}.`);
  if (codec === 'libsvtav1' || codec === 'libaom-av1') {
    throw new FormatProblem(`${field} is not supported yet with ${codec}: FFmpeg 5.1's AV1 encoders have no constant-bitrate mode here; use libx264, libx265 or VP9, or remove ${field}.`);
  }
  if (hard && codec !== 'libx264' && codec !== 'libx265') {
    throw new FormatProblem(`hard_cbr is not supported with ${codec}: it pads the stream with filler data, which only the H.264 and H.265 encoders write; use cbr for a constant rate without filler.`);
  }
  // x264's filler NAL units belong in MPEG-TS (FFmpeg: "cbr not allowed in .mp4"); x265's strict CBR adds none.
  if (hard && codec === 'libx264' && output !== 'mpegts' && output !== 'advanced_hls') {
    throw new FormatProblem(`hard_cbr with libx264 pads the stream with filler data, which only MPEG-TS carries; use output mpegts or advanced_hls, or cbr for ${output}.`);
  }
  return hard ? 'hard' : 'cbr';
}

/** pix_format: one the output and its encoder both take; without it, the output's default (yuv420p when no output is named). */
export function readPixelFormat(f: Fields, codec: VideoCodec, output?: MovingOutput): PixelFormat {
  const offered: readonly PixelFormat[] = output === undefined ? PIXEL_FORMATS : OUTPUTS[output].pixelFormats;
  const raw = f.str('pix_format');
  if (raw === null) return offered[0]!;
  const v = raw.toLowerCase();
  const known = (PIXEL_FORMATS as readonly string[]).includes(v) ? (v as PixelFormat) : null;
  if (!known) throw new FormatProblem(`pix_format "${raw}" is not supported; use ${PIXEL_FORMATS.join(', ')}.`);
  if (!offered.includes(known)) throw new FormatProblem(`pix_format "${raw}" cannot be used with output ${output}; it takes ${offered.join(', ')}.`);
  const ok = PIXEL_FORMATS_OF[codec];
  if (!ok.includes(known)) throw new FormatProblem(`pix_format "${raw}" cannot be used with ${codec}; it takes ${ok.join(', ')}.`);
  return known;
}

/** The profile an encoder is given: the one a pixel format needs wins over the 8-bit default; an explicit other one conflicts. */
export function profileForPixels(codec: VideoCodec, asked: string | null, explicit: boolean, pixels: PixelFormat): string | null {
  const needed = codec === 'libx264' ? H264_PROFILE_FOR[pixels] : codec === 'libx265' ? HEVC_PROFILE_FOR[pixels] : undefined;
  if (!needed) return asked;
  if (explicit && asked !== needed) {
    throw new FormatProblem(`pix_format "${pixels}" needs the ${codec} profile ${needed}, not ${asked}; remove profile or use pix_format yuv420p.`);
  }
  return needed;
}

/** The x264 children of reference 4.3 and how each becomes an x264 option (`name=value`). */
const X264_CHILDREN: Record<string, (v: string) => string[]> = {
  coder: (v) => [`cabac=${oneOf('coder', v, ['0', '1'])}`],
  flags: (v) => flagTokens('flags', v, { loop: (on) => (on ? 'deblock=1' : 'no-deblock=1') }),
  flags2: (v) => flagTokens('flags2', v, {
    bpyramid: (on) => `b-pyramid=${on ? 'normal' : 'none'}`,
    wpred: (on) => `weightb=${on ? 1 : 0}`,
    mixed_refs: (on) => `mixed-refs=${on ? 1 : 0}`,
    dct8x8: (on) => `8x8dct=${on ? 1 : 0}`,
    fastpskip: (on) => `fast-pskip=${on ? 1 : 0}`,
  }),
  cmp: (v) => flagTokens('cmp', v, { chroma: (on) => `chroma-me=${on ? 1 : 0}` }),
  partitions: (v) => [`partitions=${partitions(v)}`],
  me_method: (v) => [`me=${oneOf('me_method', v, ['dia', 'hex', 'umh', 'esa', 'tesa'])}`],
  subq: (v) => [`subme=${integer('subq', v, 0, 11)}`],
  me_range: (v) => [`merange=${integer('me_range', v, 4, 64)}`],
  bf: (v) => [`bframes=${integer('bf', v, 0, 16)}`],
  keyint_min: (v) => [`min-keyint=${integer('keyint_min', v, 1, 1000)}`],
  sc_threshold: (v) => [`scenecut=${integer('sc_threshold', v, 0, 100)}`],
  // FFmpeg's i_qfactor is the inverse of x264's I/P quantiser ratio.
  i_qfactor: (v) => [`ipratio=${round3(1 / decimal('i_qfactor', v, 0.1, 10))}`],
  b_strategy: (v) => [`b-adapt=${integer('b_strategy', v, 0, 2)}`],
  qcomp: (v) => [`qcomp=${decimal('qcomp', v, 0, 1)}`],
  qmin: (v) => [`qpmin=${integer('qmin', v, 0, 69)}`],
  qmax: (v) => [`qpmax=${integer('qmax', v, 0, 69)}`],
  qdiff: (v) => [`qpstep=${integer('qdiff', v, 0, 69)}`],
  directpred: (v) => [`direct=${['none', 'spatial', 'temporal', 'auto'][integer('directpred', v, 0, 3)]!}`],
  refs: (v) => [`ref=${integer('refs', v, 1, 16)}`],
  psy: (v) => [`psy=${oneOf('psy', v, ['0', '1'])}`],
  // level and vprofile are read with the format's own level and profile (readX264Parameters).
  level: () => [],
  vprofile: () => [],
};

/** Children that decide where keyframes fall; segmented outputs place every keyframe on the segment grid instead. */
export const KEYFRAME_PARAMETERS = ['min-keyint', 'scenecut'];

export interface X264Parameters {
  /** `name=value` options for -x264-params, in the order given. */
  options: string[];
  level: string | null;
  profile: string | null;
}

/**
 * video_codec_parameters (in a stream also init_video_codec_parameters): absent when missing,
 * `no`, empty, or when use_video_codec_parameters is no. Only the x264 children of reference 4.3
 * are taken, each checked; any other child is refused by name.
 */
export function readX264Parameters(f: Fields, codec: VideoCodec): X264Parameters | null {
  const raw = f.raw('video_codec_parameters') ?? f.raw('init_video_codec_parameters');
  if (raw === undefined || isAbsentBlock(raw) || !f.flag('use_video_codec_parameters', true)) return null;
  const block = single(raw);
  if (typeof block === 'string' || Array.isArray(block)) {
    throw new FormatProblem('video_codec_parameters must be a set of x264 fields (coder, subq, refs, …) or no.');
  }
  const entries = Object.entries(block).map(([k, v]) => [k.toLowerCase(), v] as const).filter(([, v]) => !isAbsentBlock(v));
  if (entries.length === 0) return null;
  if (codec !== 'libx264') {
    throw new FormatProblem(`video_codec_parameters holds x264 options, which ${codec} cannot take; remove it or use video_codec libx264.`);
  }
  const options: string[] = [];
  let level: string | null = null;
  let profile: string | null = null;
  for (const [name, value] of entries) {
    const map = X264_CHILDREN[name];
    if (!map) {
      throw new FormatProblem(`video_codec_parameters.${name} is not supported; the x264 fields taken are ${Object.keys(X264_CHILDREN).join(', ')}.`);
    }
    const v = single(value);
    if (typeof v !== 'string') throw new FormatProblem(`video_codec_parameters.${name} must be a plain value.`);
    const text = v.trim();
    if (name === 'level') {
      level = normaliseLevel(text);
      if (level === null) throw new FormatProblem(`video_codec_parameters.level "${text}" is not an H.264 level like 30 or 4.1.`);
    } else if (name === 'vprofile') {
      profile = oneOf('vprofile', text.toLowerCase(), ['baseline', 'main', 'high']);
    } else options.push(...map(text));
  }
  const qmin = options.find((o) => o.startsWith('qpmin='));
  const qmax = options.find((o) => o.startsWith('qpmax='));
  if (qmin && qmax && Number(qmin.slice(6)) > Number(qmax.slice(6))) {
    throw new FormatProblem('video_codec_parameters.qmin is larger than qmax; the quantiser range would be empty.');
  }
  return { options, level, profile };
}

export function readNoiseReduction(f: Fields): NoiseReduction | null {
  const raw = f.str('noise_reduction');
  if (raw === null) return null;
  const bad = () => new FormatProblem(`noise_reduction "${raw}" is not luma_spatial:chroma_spatial:luma_temp (numbers 0 to 100, e.g. 4:3:6) or a level 0 to 6.`);
  if (/^\d+$/.test(raw)) {
    const level = Number(raw);
    if (level > 6) throw bad();
    // hqdn3d's own proportions for one strength: chroma 3/4 of it, temporal 3/2.
    return level === 0 ? null : { lumaSpatial: level, chromaSpatial: round3(level * 0.75), lumaTemporal: round3(level * 1.5) };
  }
  const parts = raw.split(':').map((p) => parseDecimal(p));
  if (parts.length !== 3 || parts.some((p) => p === null || p > 100)) throw bad();
  const [lumaSpatial, chromaSpatial, lumaTemporal] = parts as [number, number, number];
  return lumaSpatial + chromaSpatial + lumaTemporal === 0 ? null : { lumaSpatial, chromaSpatial, lumaTemporal };
}

/** auto_crop; null when off, or when a crop_* field is given (reference 4.5: then it is ignored). */
export function readAutoCrop(f: Fields, cropGiven: boolean): AutoCrop | null {
  const raw = f.raw('auto_crop');
  if (raw === undefined || isAbsentBlock(raw)) return null;
  const block = single(raw);
  if (typeof block === 'string' || Array.isArray(block)) throw new FormatProblem('auto_crop must be a set of fields: enable, crop_type, limit, round.');
  const sub = Object.fromEntries(Object.entries(block).map(([k, v]) => [k.toLowerCase(), single(v)]));
  const text = (name: string): string | null => {
    const v = sub[name];
    if (v === undefined) return null;
    if (typeof v !== 'string') throw new FormatProblem(`auto_crop.${name} must be a plain value.`);
    return v.trim() === '' ? null : v.trim();
  };
  for (const name of Object.keys(sub)) {
    if (!['enable', 'crop_type', 'limit', 'round'].includes(name)) throw new FormatProblem(`auto_crop.${name} is not supported; auto_crop takes enable, crop_type, limit and round.`);
  }
  const enable = (text('enable') ?? 'no').toLowerCase();
  if (!['yes', 'no', 'true', 'false', '1', '0'].includes(enable)) throw new FormatProblem(`auto_crop.enable "${text('enable')}" must be yes or no.`);
  const cropType = (text('crop_type') ?? 'crop').toLowerCase();
  if (cropType !== 'crop' && cropType !== 'resize' && cropType !== 'stretch') {
    throw new FormatProblem(`auto_crop.crop_type "${text('crop_type')}" is not one of crop, resize, stretch.`);
  }
  const limit = integer('auto_crop.limit', text('limit') ?? '24', 0, 128);
  const round = integer('auto_crop.round', text('round') ?? '16', 2, 128);
  if (round % 2 !== 0) throw new FormatProblem(`auto_crop.round "${round}" must be even.`);
  if (!['yes', 'true', '1'].includes(enable) || cropGiven) return null;
  return { cropType, limit, round };
}

/** `no`, an empty element, an empty block or an empty list: the field is not given. */
function isAbsentBlock(v: FieldValue): boolean {
  if (typeof v === 'string') return v.trim() === '' || v.trim().toLowerCase() === 'no';
  if (Array.isArray(v)) return v.length === 0 || (v.length === 1 && isAbsentBlock(v[0]!));
  return Object.keys(v).length === 0;
}

/** A one-item list is its item (clients that send every value as a list). */
function single(v: FieldValue): FieldValue {
  return Array.isArray(v) && v.length === 1 ? v[0]! : v;
}

function oneOf(name: string, v: string, allowed: string[]): string {
  if (!allowed.includes(v)) throw new FormatProblem(`video_codec_parameters.${name} "${v}" is not one of ${allowed.join(', ')}.`);
  return v;
}

function integer(name: string, v: string, min: number, max: number): number {
  const label = name.includes('.') ? name : `video_codec_parameters.${name}`;
  if (!/^-?\d{1,6}$/.test(v) || Number(v) < min || Number(v) > max) throw new FormatProblem(`${label} "${v}" must be a whole number from ${min} to ${max}.`);
  return Number(v);
}

function decimal(name: string, v: string, min: number, max: number): number {
  const n = parseDecimal(v);
  if (n === null || n < min || n > max) throw new FormatProblem(`video_codec_parameters.${name} "${v}" must be a number from ${min} to ${max}.`);
  return n;
}

/** `+a+b-c` → an option per known token; an unknown token is refused. */
function flagTokens(name: string, v: string, known: Record<string, (on: boolean) => string>): string[] {
  const tokens = [...v.matchAll(/([+-]?)([a-z0-9_]+)/gi)];
  if (tokens.length === 0 || tokens.map((t) => t[0]).join('') !== v.replace(/\s+/g, '')) {
    throw new FormatProblem(`video_codec_parameters.${name} "${v}" is not a list like +${Object.keys(known)[0]}.`);
  }
  return tokens.map((t) => {
    const map = known[t[2]!.toLowerCase()];
    if (!map) throw new FormatProblem(`video_codec_parameters.${name} "${t[2]}" is not supported; it takes ${Object.keys(known).join(', ')}.`);
    return map(t[1] !== '-');
  });
}

const PARTITIONS: Record<string, string> = { parti8x8: 'i8x8', parti4x4: 'i4x4', partp8x8: 'p8x8', partp4x4: 'p4x4', partb8x8: 'b8x8' };

function partitions(v: string): string {
  if (v === 'all' || v === 'none') return v;
  const on = flagTokens('partitions', v, Object.fromEntries(Object.entries(PARTITIONS).map(([k, x]) => [k, (yes: boolean) => (yes ? x : '')])));
  const list = on.filter(Boolean);
  return list.length > 0 ? list.join(',') : 'none';
}

function round3(n: number): number {
  return Math.round(n * 1000) / 1000;
}

