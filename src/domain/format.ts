/**
 * One `<format>` element turned into a typed output specification (reference 4.1-4.5, 4.8, 4.10).
 *
 * Pure: no I/O and no knowledge of the source. Anything that depends on the source (the sample
 * rate to keep, the frame rate behind a timecode, the size when none is asked) stays `null` here
 * and is decided by the planner, which has the probe.
 */
import type { FieldMap, FieldValue } from './fields.ts';

export const SUPPORTED_OUTPUTS = [
  'mp4', 'webm', 'mov', 'mkv', 'mpegts', 'mp3', 'm4a', 'ogg', 'wav', 'flac', 'thumbnail', 'image', 'gif', 'advanced_hls',
] as const;
export type OutputName = (typeof SUPPORTED_OUTPUTS)[number];

export type VideoContainer = 'mp4' | 'webm' | 'mov' | 'mkv' | 'mpegts';
export type AudioContainer = 'mp3' | 'm4a' | 'ogg' | 'wav' | 'flac';
/** `libvpx` is VP8, kept under encoding.com's name. */
export type VideoCodec = 'libx264' | 'libx265' | 'libvpx-vp9' | 'libvpx' | 'libsvtav1' | 'libaom-av1';
export type AudioCodec =
  | 'aac' | 'libmp3lame' | 'libvorbis' | 'libopus' | 'ac3' | 'eac3' | 'flac' | 'pcm_s16le' | 'pcm_s24le' | 'copy';
export type Rotate = 'def' | 0 | 90 | 180 | 270;
export type Deinterlacing = 'auto' | 'yes' | 'no';

export interface Size {
  /** 0 = computed from the other side, keeping the aspect ratio. */
  width: number;
  height: number;
}

export interface Crop {
  left: number;
  top: number;
  right: number;
  bottom: number;
}

/**
 * A point in time as written in the request. A timecode (`HH:MM:SS:FF`, `;` = drop-frame) counts
 * frames, so its real time is only known with the source frame rate: see {@link timeToSeconds}.
 */
export interface TimeValue {
  /** Exact seconds for plain forms; for a timecode, the value at the nominal rate (an estimate). */
  seconds: number;
  timecode: { hours: number; minutes: number; seconds: number; frames: number; dropFrame: boolean } | null;
}

export interface TrimFields {
  start: TimeValue | null;
  /** Seconds. When set, `finish` is dropped (reference 4.5: finish is ignored when duration is set). */
  duration: number | null;
  finish: TimeValue | null;
}

export interface AudioFields {
  audioCodec: AudioCodec;
  /** Bits/s; null with `copy` and the lossless codecs (flac, PCM). */
  audioBitrate: number | null;
  /** Hz; null = keep 44100/48000 from the source, otherwise 48000. */
  audioSampleRate: number | null;
  /** null = the source's channel count, at most 2. */
  audioChannels: number | null;
  /** Percent. @default 100 */
  audioVolume: number;
}

/** How one picture is encoded: everything an mp4/webm and an HLS stream share. */
export interface VideoEncoding {
  videoCodec: VideoCodec;
  /** null = the source's display size. */
  size: Size | null;
  /** Both sides given: yes fits inside and pads, no stretches. @default true */
  keepAspectRatio: boolean;
  /** Bits/s; null = constant quality (CRF). */
  bitrate: number | null;
  maxrate: number | null;
  minrate: number | null;
  /** Bits; defaults to twice maxrate when a maxrate is given. */
  bufsize: number | null;
  /** null or 'copy' = keep the source frame rate. */
  framerate: number | 'copy' | null;
  /** GOP length in frames; null = the encoder's default. */
  keyframe: number | null;
  /** H.264: baseline|main|high (default high); H.265: main; VP8/VP9: null. */
  profile: string | null;
  /** With the dot: `3.0`, `3.1`. */
  level: string | null;
  turbo: boolean;
}

/**
 * What is done to the decoded picture before it is scaled. Formats of one media with the same
 * picture (and trim) are made from one decode.
 */
export interface Picture {
  crop: Crop;
  rotate: Rotate;
  deinterlacing: Deinterlacing;
}

export interface VideoSpec extends TrimFields, AudioFields, VideoEncoding, Picture {
  kind: 'video';
  output: VideoContainer;
  container: VideoContainer;
  twoPass: boolean;
}

/** One `<stream>` of an advanced_hls (reference 4.6): a variant, or an audio-only one. */
export interface HlsStreamSpec extends VideoEncoding, AudioFields {
  /** The variant's folder beside the master playlist: `sub_path`, or `stream_<n>` (from 0). */
  subPath: string;
  audioOnly: boolean;
  videoOnly: boolean;
}

export interface HlsSpec extends TrimFields, Picture {
  kind: 'hls';
  output: 'advanced_hls';
  /** Seconds. @default 6 */
  segmentDuration: number;
  /** 1 to 15 (reference 4.6). */
  streams: HlsStreamSpec[];
}

export const MAX_HLS_STREAMS = 15;

export interface AudioSpec extends TrimFields, AudioFields {
  kind: 'audio';
  output: AudioContainer;
}

export type ThumbnailTime =
  | { kind: 'at'; seconds: number }
  | { kind: 'percent'; percent: number }
  | { kind: 'every'; seconds: number };

export interface ThumbnailSpec {
  kind: 'thumbnail';
  output: 'thumbnail';
  /** @default { kind: 'at', seconds: 5 } */
  time: ThumbnailTime;
  /** null = from the other side, or the source size when both are null. */
  width: number | null;
  height: number | null;
  /** 1 (smallest file) to 100 (best). @default 90 */
  quality: number;
}

export const GIF_DITHERS = ['bayer', 'heckbert', 'floyd_steinberg', 'sierra2', 'sierra2_4a'] as const;
export type GifDither = (typeof GIF_DITHERS)[number];

/** An animated GIF (reference 4.9), made with a palette computed from its own frames. */
export interface GifSpec extends TrimFields {
  kind: 'gif';
  output: 'gif';
  /** Frame delay in 1/100 s; the frame rate is 100/interval. @default 10 */
  interval: number;
  /** encoding.com's meaning: -1 loops forever, 0 plays once, N > 0 repeats N times. @default 0 */
  loop: number;
  /** Palette size, 4 to 255. @default 128 */
  colors: number;
  /** @default 'sierra2_4a' */
  dither: GifDither;
  /** null = the source's display size. */
  size: Size | null;
  /** @default true */
  keepAspectRatio: boolean;
}

export type ImageFormat = 'jpg' | 'png' | 'gif' | 'webp';
/**
 * How a picture is brought to `size` when both sides are given: `resize` fits it inside keeping
 * the aspect (one side may come out smaller; with keep_aspect_ratio no it is stretched), `crop`
 * fills the size and cuts what overflows, `combine` fits it inside and pads to the size.
 */
export type ResizeMethod = 'resize' | 'crop' | 'combine';

/** One still picture (reference 4.9). */
export interface ImageSpec {
  kind: 'image';
  output: 'image';
  /** @default 'jpg' */
  imageFormat: ImageFormat;
  /** @default 'resize' */
  resizeMethod: ResizeMethod;
  /** null = the source's display size. */
  size: Size | null;
  keepAspectRatio: boolean;
  /** 1 to 100; JPEG and WebP only. @default 90 */
  quality: number;
  /** Like a thumbnail's, without the every-N-seconds form. @default { kind: 'at', seconds: 5 } */
  time: Exclude<ThumbnailTime, { kind: 'every' }>;
}

export type OutputSpec = VideoSpec | AudioSpec | ThumbnailSpec | HlsSpec | GifSpec | ImageSpec;

export type ParseFormatResult = { ok: true; spec: OutputSpec } | { ok: false; error: string };

/** Thrown inside the parser only; parseFormat turns it into `{ ok: false }`. */
class FormatProblem extends Error {}

export function parseFormat(raw: FieldMap): ParseFormatResult {
  try {
    return { ok: true, spec: readSpec(new Fields(raw)) };
  } catch (err) {
    if (err instanceof FormatProblem) return { ok: false, error: err.message };
    throw err;
  }
}

/**
 * The real time of a TimeValue. A timecode's frames count at the nominal rate (30 for 29.97);
 * drop-frame skips 2 frame numbers a minute (4 at 59.94) except every tenth minute.
 */
export function timeToSeconds(t: TimeValue, fps: number): number {
  const tc = t.timecode;
  if (!tc) return t.seconds;
  const rate = fps > 0 ? fps : 25;
  const nominal = Math.round(rate);
  let frames = (tc.hours * 3600 + tc.minutes * 60 + tc.seconds) * nominal + tc.frames;
  if (tc.dropFrame && (nominal === 30 || nominal === 60)) {
    const totalMinutes = tc.hours * 60 + tc.minutes;
    frames -= (nominal / 15) * (totalMinutes - Math.floor(totalMinutes / 10));
  }
  return frames / rate;
}

function readSpec(f: Fields): OutputSpec {
  const outputRaw = f.str('output');
  if (outputRaw === null) throw new FormatProblem('Output format is not indicated!');
  const output = SUPPORTED_OUTPUTS.find((o) => o === outputRaw.toLowerCase());
  if (!output) {
    throw new FormatProblem(`Unknown output "${outputRaw}". Supported: ${SUPPORTED_OUTPUTS.join(', ')}`);
  }
  switch (output) {
    case 'mp4':
    case 'webm':
    case 'mov':
    case 'mkv':
    case 'mpegts':
      return readVideo(f, output);
    case 'mp3':
    case 'm4a':
    case 'ogg':
    case 'wav':
    case 'flac':
      return { kind: 'audio', output, ...readAudio(f, output), ...readTrim(f) };
    case 'thumbnail':
      return readThumbnail(f);
    case 'gif':
      return readGif(f);
    case 'image':
      return readImage(f);
    case 'advanced_hls':
      return readHls(f);
    default: {
      const never: never = output;
      throw new Error(`unhandled output ${String(never)}`);
    }
  }
}

const H264_NAMES: Record<string, VideoCodec> = { libx264: 'libx264', h264: 'libx264', x264: 'libx264' };
const HEVC_NAMES: Record<string, VideoCodec> = { libx265: 'libx265', hevc: 'libx265', h265: 'libx265', x265: 'libx265' };
const VP_NAMES: Record<string, VideoCodec> = { 'libvpx-vp9': 'libvpx-vp9', vp9: 'libvpx-vp9', libvpx: 'libvpx', vp8: 'libvpx' };
/** `av1` alone means SVT-AV1, the faster of the two AV1 encoders at a like quality. */
const AV1_NAMES: Record<string, VideoCodec> = { libsvtav1: 'libsvtav1', 'libsvt-av1': 'libsvtav1', svtav1: 'libsvtav1', av1: 'libsvtav1', 'libaom-av1': 'libaom-av1', libaom: 'libaom-av1' };

const VIDEO_CODECS: Record<VideoContainer | 'advanced_hls', Record<string, VideoCodec>> = {
  mp4: { ...H264_NAMES, ...HEVC_NAMES, ...AV1_NAMES },
  webm: { ...VP_NAMES, ...AV1_NAMES },
  mov: { ...H264_NAMES, ...HEVC_NAMES },
  mkv: { ...H264_NAMES, ...HEVC_NAMES, ...VP_NAMES, ...AV1_NAMES },
  mpegts: { ...H264_NAMES, ...HEVC_NAMES },
  // MPEG-TS segments: H.264 or HEVC only.
  advanced_hls: { ...H264_NAMES, ...HEVC_NAMES },
};

const DEFAULT_VIDEO_CODEC: Record<VideoContainer | 'advanced_hls', VideoCodec> = {
  mp4: 'libx264', webm: 'libvpx-vp9', mov: 'libx264', mkv: 'libx264', mpegts: 'libx264', advanced_hls: 'libx264',
};

export function isAv1(codec: VideoCodec): boolean {
  return codec === 'libsvtav1' || codec === 'libaom-av1';
}

// encoding.com's AAC names all become FFmpeg's native AAC-LC encoder: it plays everywhere, and
// HE-AAC needs libfdk_aac, which Debian's FFmpeg does not ship.
const AUDIO_CODEC_NAMES: Record<string, AudioCodec> = {
  aac: 'aac', libfaac: 'aac', libfdk_aac: 'aac', dolby_aac: 'aac', dolby_heaac: 'aac', dolby_heaacv2: 'aac',
  libmp3lame: 'libmp3lame', mp3: 'libmp3lame',
  libvorbis: 'libvorbis', vorbis: 'libvorbis',
  libopus: 'libopus', opus: 'libopus',
  ac3: 'ac3', eac3: 'eac3', copy: 'copy',
  flac: 'flac',
  pcm_s16le: 'pcm_s16le', pcm: 'pcm_s16le', pcm_s24le: 'pcm_s24le', pcm_s24l: 'pcm_s24le',
};

/** The first codec of each list is the output's default. */
const AUDIO_CODECS_FOR: Record<VideoContainer | AudioContainer | 'advanced_hls', readonly AudioCodec[]> = {
  mp4: ['aac', 'libmp3lame', 'ac3', 'eac3', 'copy'],
  mov: ['aac', 'libmp3lame', 'ac3', 'eac3', 'copy'],
  mkv: ['aac', 'libopus', 'libvorbis', 'libmp3lame', 'ac3', 'eac3', 'flac', 'copy'],
  mpegts: ['aac', 'libmp3lame', 'ac3', 'eac3', 'copy'],
  // MPEG-TS segments; every rendition is encoded (a copied stream could not be cut at our keyframes).
  advanced_hls: ['aac', 'libmp3lame', 'ac3', 'eac3'],
  webm: ['libopus', 'libvorbis', 'copy'],
  mp3: ['libmp3lame', 'copy'],
  m4a: ['aac', 'copy'],
  ogg: ['libvorbis', 'libopus', 'flac', 'copy'],
  wav: ['pcm_s16le', 'pcm_s24le'],
  flac: ['flac'],
};

/** Lossless codecs: no bitrate to set (audio_bitrate is accepted and has no effect). */
const LOSSLESS: readonly AudioCodec[] = ['flac', 'pcm_s16le', 'pcm_s24le'];

const SAMPLE_RATES = [8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000, 88200, 96000];
const SAMPLE_RATES_FOR: Partial<Record<AudioCodec, readonly number[]>> = {
  libmp3lame: [8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000],
  libopus: [8000, 12000, 16000, 24000, 48000],
  ac3: [32000, 44100, 48000],
  eac3: [32000, 44100, 48000],
};

const H264_LEVELS = ['1.0', '1b', '1.1', '1.2', '1.3', '2.0', '2.1', '2.2', '3.0', '3.1', '3.2', '4.0', '4.1', '4.2', '5.0', '5.1', '5.2', '6.0', '6.1', '6.2'];

function readVideo(f: Fields, output: VideoContainer): VideoSpec {
  const encoding = readVideoEncoding(f, output);
  return {
    kind: 'video', output, container: output, ...encoding, twoPass: f.flag('two_pass', false), ...readPicture(f),
    ...readAudio(f, output, encoding.videoCodec), ...readTrim(f),
  };
}

function readVideoEncoding(f: Fields, output: VideoContainer | 'advanced_hls'): VideoEncoding {
  const codecs = VIDEO_CODECS[output];
  const codecRaw = f.str('video_codec');
  let videoCodec: VideoCodec = DEFAULT_VIDEO_CODEC[output];
  if (codecRaw !== null) {
    const found = codecs[codecRaw.toLowerCase()];
    if (!found && AV1_NAMES[codecRaw.toLowerCase()] && (output === 'mpegts' || output === 'advanced_hls')) {
      throw new FormatProblem(`video_codec "${codecRaw}" cannot be used with output ${output}: MPEG-TS cannot carry AV1. Use libx264 or libx265, or output mp4, webm or mkv for AV1.`);
    }
    if (!found) {
      const all = [...new Set(Object.values(codecs))];
      const names = all.length > 1 ? `${all.slice(0, -1).join(', ')} or ${all.at(-1)}` : all.join('');
      throw new FormatProblem(`video_codec "${codecRaw}" cannot be used with output ${output}. Use ${names}.`);
    }
    videoCodec = found;
  }

  const size = f.parse('size', 'a size like 640x360 (even numbers; 0 keeps the aspect ratio)', parseSize);
  const bitrate = f.parse('bitrate', 'a bitrate like 900k', (v) => parseBitrate(v, 16_000));
  const maxrate = f.parse('maxrate', 'a bitrate like 3500k', (v) => parseBitrate(v, 16_000));
  const minrate = f.parse('minrate', 'a bitrate like 500k', (v) => parseBitrate(v, 16_000));
  let bufsize = f.parse('bufsize', 'a buffer size like 7000k', (v) => parseBitrate(v, 16_000));
  if (bufsize === null && maxrate !== null) bufsize = maxrate * 2;
  if (bitrate !== null && maxrate !== null && maxrate < bitrate) {
    throw new FormatProblem(`maxrate (${maxrate / 1000}k) is lower than bitrate (${bitrate / 1000}k); raise maxrate or lower bitrate.`);
  }
  if (bitrate !== null && minrate !== null && minrate > bitrate) {
    throw new FormatProblem(`minrate (${minrate / 1000}k) is higher than bitrate (${bitrate / 1000}k); lower minrate or raise bitrate.`);
  }

  const framerateRaw = f.str('framerate');
  let framerate: number | 'copy' | null = null;
  if (framerateRaw !== null && framerateRaw.toLowerCase() !== 'copy') {
    framerate = parseFrameRate(framerateRaw);
    if (framerate === null) throw new FormatProblem(`framerate "${framerateRaw}" is not a frame rate like 25, 29.97 or copy.`);
    if (framerate < 1 || framerate > 240) throw new FormatProblem(`framerate "${framerateRaw}" is out of range; use 1 to 240 or copy.`);
  } else if (framerateRaw !== null) {
    framerate = 'copy';
  }

  const keyframe = f.parse('keyframe', 'a number of frames like 90', parseNonNegativeInt);
  if (keyframe !== null && (keyframe < 1 || keyframe > 1000)) {
    throw new FormatProblem(`keyframe "${keyframe}" is out of range; use 1 to 1000 frames.`);
  }

  const profile = readProfile(f, videoCodec);
  const levelRaw = f.str('level');
  let level: string | null = null;
  if (levelRaw !== null && (videoCodec === 'libx264' || videoCodec === 'libx265')) {
    level = normaliseLevel(levelRaw);
    if (level === null) throw new FormatProblem(`level "${levelRaw}" is not an H.264/H.265 level like 30, 31 or 4.1.`);
  }

  return {
    videoCodec, size, keepAspectRatio: f.flag('keep_aspect_ratio', true), bitrate, maxrate, minrate, bufsize, framerate, keyframe,
    profile, level, turbo: f.flag('turbo', false),
  };
}

function readPicture(f: Fields): Picture {
  const crop: Crop = {
    left: f.parse('crop_left', 'an even number of pixels', parseEvenPixels) ?? 0,
    top: f.parse('crop_top', 'an even number of pixels', parseEvenPixels) ?? 0,
    right: f.parse('crop_right', 'an even number of pixels', parseEvenPixels) ?? 0,
    bottom: f.parse('crop_bottom', 'an even number of pixels', parseEvenPixels) ?? 0,
  };

  const rotateRaw = f.str('rotate');
  let rotate: Rotate = 'def';
  if (rotateRaw !== null) {
    const r = rotateRaw.toLowerCase();
    if (r === 'def') rotate = 'def';
    else if (r === '0' || r === '90' || r === '180' || r === '270') rotate = Number(r) as 0 | 90 | 180 | 270;
    else throw new FormatProblem(`rotate "${rotateRaw}" is not one of def, 0, 90, 180, 270.`);
  }

  const deintRaw = f.str('deinterlacing');
  let deinterlacing: Deinterlacing = 'auto';
  if (deintRaw !== null) {
    const d = deintRaw.toLowerCase();
    if (d === 'auto' || d === 'yes' || d === 'no') deinterlacing = d;
    else throw new FormatProblem(`deinterlacing "${deintRaw}" is not one of auto, yes, no.`);
  }
  return { crop, rotate, deinterlacing };
}

/** Fields a `<stream>` takes from its format when it does not give them itself. */
const STREAM_INHERITS = [
  'size', 'keep_aspect_ratio', 'bitrate', 'maxrate', 'minrate', 'bufsize', 'framerate', 'keyframe', 'profile', 'level',
  'video_codec', 'turbo', 'audio_codec', 'audio_bitrate', 'audio_sample_rate', 'audio_channels_number', 'audio_volume',
  'crop_left', 'crop_top', 'crop_right', 'crop_bottom', 'rotate', 'deinterlacing',
];

/** advanced_hls (reference 4.6): format-level segment_duration and trim, 1 to 15 `<stream>` variants. */
function readHls(f: Fields): HlsSpec {
  const segmentDuration = f.parse('segment_duration', 'a number of seconds like 6', parseDecimal) ?? 6;
  if (segmentDuration < 1 || segmentDuration > 60) {
    throw new FormatProblem(`segment_duration "${f.str('segment_duration')}" is out of range; use 1 to 60 seconds.`);
  }
  if (f.flag('encryption', false)) {
    throw new FormatProblem('encryption is not supported for advanced_hls yet; remove it or set it to no.');
  }
  const raw = f.raw('stream');
  const items = raw === undefined ? [] : Array.isArray(raw) ? raw : [raw];
  if (items.length === 0) throw new FormatProblem(`stream is missing: advanced_hls needs 1 to ${MAX_HLS_STREAMS} <stream> elements.`);
  if (items.length > MAX_HLS_STREAMS) {
    throw new FormatProblem(`stream is given ${items.length} times; advanced_hls takes 1 to ${MAX_HLS_STREAMS} streams.`);
  }

  const inherited: FieldMap = {};
  for (const name of STREAM_INHERITS) {
    const v = f.raw(name);
    if (v !== undefined) inherited[name] = v;
  }
  const streams: HlsStreamSpec[] = [];
  let picture: Picture | null = null;
  const pictureKey = (p: Picture): string => JSON.stringify(p);
  for (const [i, item] of items.entries()) {
    if (typeof item === 'string' && item.trim() !== '') throw new FormatProblem(`stream ${i + 1} must be a set of fields, not a plain value.`);
    if (Array.isArray(item)) throw new FormatProblem(`stream ${i + 1} must be a set of fields, not a list.`);
    const own = typeof item === 'string' ? {} : item;
    const sf = new Fields({ ...inherited, ...lowerKeys(own) });
    try {
      streams.push(readHlsStream(sf, i));
      const p = readPicture(sf);
      if (picture === null) picture = p;
      else if (pictureKey(p) !== pictureKey(picture)) {
        throw new FormatProblem(
          'rotate, crop and deinterlacing must be the same for every stream (all variants are cut from one picture); set them once on the format.',
        );
      }
    } catch (err) {
      if (err instanceof FormatProblem) throw new FormatProblem(`stream ${i + 1}: ${err.message}`);
      throw err;
    }
  }
  const seen = new Map<string, number>();
  for (const [i, s] of streams.entries()) {
    const key = s.subPath.toLowerCase();
    const other = seen.get(key);
    if (other !== undefined) throw new FormatProblem(`stream ${i + 1}: sub_path "${s.subPath}" is already used by stream ${other + 1}.`);
    seen.set(key, i);
  }
  return {
    kind: 'hls', output: 'advanced_hls', segmentDuration, streams, ...(picture ?? readPicture(f)), ...readTrim(f),
  };
}

function readHlsStream(f: Fields, index: number): HlsStreamSpec {
  const audioOnly = f.flag('audio_only', false);
  const videoOnly = f.flag('video_only', false);
  if (audioOnly && videoOnly) throw new FormatProblem('audio_only and video_only cannot both be yes.');
  const encoding = readVideoEncoding(f, 'advanced_hls');
  const subPathRaw = f.str('sub_path');
  let subPath = `stream_${index}`;
  if (subPathRaw !== null) {
    const trimmed = subPathRaw.replace(/^\/+|\/+$/g, '');
    if (!SUB_PATH.test(trimmed) || trimmed.length > 100 || trimmed.split('/')[0]!.toLowerCase() === 'master.m3u8') {
      throw new FormatProblem(
        `sub_path "${subPathRaw}" is not a folder name like hd or video/720p (letters, digits, '.', '_' and '-', folders separated by '/').`,
      );
    }
    subPath = trimmed;
  }
  return { ...encoding, ...readAudio(f, 'advanced_hls', encoding.videoCodec), subPath, audioOnly, videoOnly };
}

/** Folder names that are safe in a URL, a file system and FFmpeg's var_stream_map; no `.`/`..`. */
const SUB_PATH = /^[A-Za-z0-9_-][A-Za-z0-9._-]*(\/[A-Za-z0-9_-][A-Za-z0-9._-]*)*$/;

function lowerKeys(map: FieldMap): FieldMap {
  const out: FieldMap = {};
  for (const [k, v] of Object.entries(map)) out[k.toLowerCase()] = v;
  return out;
}

function readProfile(f: Fields, codec: VideoCodec): string | null {
  const raw = f.str('profile');
  if (codec !== 'libx264' && codec !== 'libx265') return null;
  const allowed = codec === 'libx264' ? ['baseline', 'main', 'high'] : ['main'];
  if (raw === null) return codec === 'libx264' ? 'high' : 'main';
  const p = raw.toLowerCase();
  if (!allowed.includes(p)) throw new FormatProblem(`profile "${raw}" cannot be used with ${codec}; use ${allowed.join(', ')}.`);
  return p;
}

function readAudio(f: Fields, target: VideoContainer | AudioContainer | 'advanced_hls', videoCodec?: VideoCodec): AudioFields {
  const allowed = AUDIO_CODECS_FOR[target];
  const codecRaw = f.str('audio_codec');
  // VP8 pairs with Vorbis in every old preset (reference 4.2); VP9 with Opus.
  let audioCodec: AudioCodec = allowed[0] ?? 'aac';
  if (videoCodec === 'libvpx') audioCodec = 'libvorbis';
  // WebM's other audio, and what AV1 in Matroska pairs with.
  else if (target === 'mkv' && videoCodec !== undefined && (videoCodec === 'libvpx-vp9' || isAv1(videoCodec))) audioCodec = 'libopus';
  if (codecRaw !== null) {
    const found = AUDIO_CODEC_NAMES[codecRaw.toLowerCase()];
    if (!found || !allowed.includes(found)) {
      throw new FormatProblem(`audio_codec "${codecRaw}" cannot be used with output ${target}. Use ${allowed.join(', ')}.`);
    }
    audioCodec = found;
  }

  const bitrate = f.parse('audio_bitrate', 'a bitrate like 128k', (v) => parseBitrate(v, 8_000));
  if (bitrate !== null && bitrate > 640_000) throw new FormatProblem(`audio_bitrate "${f.str('audio_bitrate')}" is too high; use at most 640k.`);
  const sampleRate = f.parse('audio_sample_rate', 'a sample rate in Hz like 44100', parseNonNegativeInt);
  if (sampleRate !== null && audioCodec !== 'copy') {
    const ok = SAMPLE_RATES_FOR[audioCodec] ?? SAMPLE_RATES;
    if (!ok.includes(sampleRate)) {
      throw new FormatProblem(`audio_sample_rate "${sampleRate}" cannot be used with ${audioCodec}; use one of ${ok.join(', ')}.`);
    }
  }
  const channels = f.parse('audio_channels_number', 'a number of channels like 2', parseNonNegativeInt);
  if (channels !== null && (channels < 1 || channels > 8)) {
    throw new FormatProblem(`audio_channels_number "${channels}" is out of range; use 1 to 8.`);
  }
  if (channels !== null && channels > 2 && audioCodec === 'libmp3lame') {
    throw new FormatProblem(`audio_channels_number "${channels}" cannot be used with libmp3lame; MP3 holds 1 or 2 channels.`);
  }
  const volume = f.parse('audio_volume', 'a percentage like 100', parseNonNegativeNumber) ?? 100;
  if (volume > 1000) throw new FormatProblem(`audio_volume "${volume}" is out of range; use 0 to 1000 (percent, 100 = unchanged).`);
  if (audioCodec === 'copy' && volume !== 100) {
    throw new FormatProblem('audio_volume cannot change the audio when audio_codec is copy; remove one of them.');
  }

  if (audioCodec === 'copy') {
    return { audioCodec, audioBitrate: null, audioSampleRate: null, audioChannels: null, audioVolume: 100 };
  }
  if (LOSSLESS.includes(audioCodec)) {
    return { audioCodec, audioBitrate: null, audioSampleRate: sampleRate, audioChannels: channels, audioVolume: volume };
  }
  const defaultBitrate = audioCodec === 'libmp3lame' ? 192_000 : 128_000;
  return { audioCodec, audioBitrate: bitrate ?? defaultBitrate, audioSampleRate: sampleRate, audioChannels: channels, audioVolume: volume };
}

function readTrim(f: Fields): TrimFields {
  const start = f.parse('start', 'a time in seconds like 1.5 or a timecode like 00:01:02:12', parseTime);
  const duration = f.parse('duration', 'a duration in seconds like 7.5', (v) => parseTime(v)?.seconds ?? null);
  if (duration !== null && duration <= 0) throw new FormatProblem(`duration "${f.str('duration')}" must be more than 0 seconds.`);
  // finish is ignored, even when malformed, once a duration is given (reference 4.5).
  const finish = duration !== null ? null : f.parse('finish', 'a time in seconds like 9 or a timecode like 00:01:02:12', parseTime);
  if (finish && !finish.timecode && (!start || !start.timecode) && finish.seconds <= (start?.seconds ?? 0)) {
    throw new FormatProblem(`finish "${f.str('finish')}" must be later than start "${f.str('start') ?? '0'}".`);
  }
  return { start, duration, finish };
}

function readThumbnail(f: Fields): ThumbnailSpec {
  const timeRaw = f.str('time');
  let time: ThumbnailTime = { kind: 'at', seconds: 5 };
  if (timeRaw !== null) {
    const parsed = parseThumbnailTime(timeRaw);
    if (typeof parsed === 'string') throw new FormatProblem(parsed);
    time = parsed;
  }
  let width = f.parse('width', 'a width in pixels like 320', parseNonNegativeInt);
  let height = f.parse('height', 'a height in pixels like 180', parseNonNegativeInt);
  // Some clients send `size` for thumbnails too; width/height win when both are present.
  const size = f.parse('size', 'a size like 320x180', parseSize);
  if (width === null && height === null && size) ({ width, height } = size);
  for (const [name, v] of [['width', width], ['height', height]] as const) {
    if (v !== null && v > 8192) throw new FormatProblem(`${name} "${v}" is too large; use at most 8192 pixels.`);
  }
  const quality = f.parse('quality', 'a quality from 1 to 100', parseNonNegativeInt) ?? 90;
  if (quality < 1 || quality > 100) throw new FormatProblem(`quality "${quality}" is out of range; use 1 to 100.`);
  return { kind: 'thumbnail', output: 'thumbnail', time, width: width || null, height: height || null, quality };
}

/** `size` (WxH, one side 0 keeps the aspect), or `width`/`height` as thumbnails take them. */
function readStillSize(f: Fields): Size | null {
  const size = f.parse('size', 'a size like 320x180 (even numbers; 0 keeps the aspect ratio)', parseSize);
  if (size) return size;
  const width = f.parse('width', 'a width in pixels like 320', parseNonNegativeInt) ?? 0;
  const height = f.parse('height', 'a height in pixels like 180', parseNonNegativeInt) ?? 0;
  for (const [name, v] of [['width', width], ['height', height]] as const) {
    if (v > 8192) throw new FormatProblem(`${name} "${v}" is too large; use at most 8192 pixels.`);
    if (v % 2 !== 0) throw new FormatProblem(`${name} "${v}" must be an even number of pixels.`);
  }
  return width || height ? { width, height } : null;
}

function readGif(f: Fields): GifSpec {
  const interval = f.parse('interval', 'a frame delay in hundredths of a second like 10', parseNonNegativeInt) ?? 10;
  if (interval < 2 || interval > 1000) {
    throw new FormatProblem(`interval "${interval}" is out of range; use 2 to 1000 hundredths of a second (10 = 10 frames a second).`);
  }
  const loopRaw = f.str('loop');
  let loop = 0;
  if (loopRaw !== null) {
    if (!/^(-1|\d{1,5})$/.test(loopRaw)) throw new FormatProblem(`loop "${loopRaw}" is not -1 (loop forever), 0 (play once) or a number of repeats.`);
    loop = Number(loopRaw);
  }
  const colors = f.parse('colors', 'a number of colours from 4 to 255', parseNonNegativeInt) ?? 128;
  if (colors < 4 || colors > 255) throw new FormatProblem(`colors "${colors}" is out of range; use 4 to 255.`);
  const ditherRaw = f.str('dither');
  let dither: GifDither = 'sierra2_4a';
  if (ditherRaw !== null) {
    const found = GIF_DITHERS.find((d) => d === ditherRaw.toLowerCase());
    if (!found) throw new FormatProblem(`dither "${ditherRaw}" is not one of ${GIF_DITHERS.join(', ')}.`);
    dither = found;
  }
  return {
    kind: 'gif', output: 'gif', interval, loop, colors, dither, size: readStillSize(f),
    keepAspectRatio: f.flag('keep_aspect_ratio', true), ...readTrim(f),
  };
}

const IMAGE_FORMATS: Record<string, ImageFormat> = { jpg: 'jpg', jpeg: 'jpg', png: 'png', gif: 'gif', webp: 'webp' };

function readImage(f: Fields): ImageSpec {
  const formatRaw = f.str('image_format');
  let imageFormat: ImageFormat = 'jpg';
  if (formatRaw !== null) {
    const found = IMAGE_FORMATS[formatRaw.toLowerCase()];
    if (!found) throw new FormatProblem(`image_format "${formatRaw}" is not one of jpg, png, gif, webp.`);
    imageFormat = found;
  }
  const methodRaw = f.str('resize_method');
  let resizeMethod: ResizeMethod = 'resize';
  if (methodRaw !== null) {
    const m = methodRaw.toLowerCase();
    if (m !== 'resize' && m !== 'crop' && m !== 'combine') throw new FormatProblem(`resize_method "${methodRaw}" is not one of resize, crop, combine.`);
    resizeMethod = m;
  }
  const quality = f.parse('quality', 'a quality from 1 to 100', parseNonNegativeInt) ?? 90;
  if (quality < 1 || quality > 100) throw new FormatProblem(`quality "${quality}" is out of range; use 1 to 100.`);
  const timeRaw = f.str('time');
  let time: ImageSpec['time'] = { kind: 'at', seconds: 5 };
  if (timeRaw !== null) {
    const parsed = parseThumbnailTime(timeRaw);
    if (typeof parsed === 'string') throw new FormatProblem(parsed);
    if (parsed.kind === 'every') throw new FormatProblem(`time "${timeRaw}" asks for a picture every few seconds; an image is one picture: use a time like 5 or 10%, or output thumbnail.`);
    time = parsed;
  }
  return {
    kind: 'image', output: 'image', imageFormat, resizeMethod, size: readStillSize(f), keepAspectRatio: f.flag('keep_aspect_ratio', true),
    quality, time,
  };
}

function parseThumbnailTime(raw: string): ThumbnailTime | string {
  const bad = `time "${raw}" is not a thumbnail time like 5, 00:00:05.5, 10% or 2! (every 2 seconds).`;
  const every = /^!\s*(.+)$/.exec(raw) ?? /^(.+?)\s*!$/.exec(raw);
  if (every) {
    const n = parseDecimal(every[1] ?? '');
    if (n === null) return bad;
    if (n < 1) return `time "${raw}" takes a thumbnail too often; use every 1 second (1!) or more.`;
    return { kind: 'every', seconds: n };
  }
  const pct = /^(.+?)\s*%$/.exec(raw);
  if (pct) {
    const n = parseDecimal(pct[1] ?? '');
    if (n === null) return bad;
    if (n > 100) return `time "${raw}" is out of range; use 0% to 100%.`;
    return { kind: 'percent', percent: n };
  }
  if (raw.startsWith('-')) return `time "${raw}" must not be negative.`;
  const t = parseTime(raw);
  if (t === null || t.timecode) return bad;
  return { kind: 'at', seconds: t.seconds };
}

/** Reads fields by lower-cased name and insists that a known field is a single string. */
class Fields {
  readonly #values = new Map<string, FieldValue>();

  constructor(raw: FieldMap) {
    for (const [k, v] of Object.entries(raw)) this.#values.set(k.toLowerCase(), v);
  }

  /** The value as given, of any shape. */
  raw(name: string): FieldValue | undefined {
    return this.#values.get(name);
  }

  /** Trimmed value; an empty element counts as absent. */
  str(name: string): string | null {
    const v = this.#values.get(name);
    if (v === undefined) return null;
    if (typeof v !== 'string') {
      const shape = Array.isArray(v) ? 'a list' : 'a nested element';
      throw new FormatProblem(`${name} must be given once as a plain value, not ${shape}.`);
    }
    const t = v.trim();
    return t === '' ? null : t;
  }

  parse<T>(name: string, expected: string, parser: (v: string) => T | null): T | null {
    const v = this.str(name);
    if (v === null) return null;
    const parsed = parser(v);
    if (parsed === null) throw new FormatProblem(`${name} "${v}" is not ${expected}.`);
    return parsed;
  }

  flag(name: string, fallback: boolean): boolean {
    const v = this.str(name);
    if (v === null) return fallback;
    const l = v.toLowerCase();
    if (l === 'yes' || l === 'true' || l === '1') return true;
    if (l === 'no' || l === 'false' || l === '0') return false;
    throw new FormatProblem(`${name} "${v}" must be yes or no.`);
  }
}

function parseDecimal(v: string): number | null {
  if (!/^\d+(\.\d+)?$|^\.\d+$/.test(v.trim())) return null;
  return Number(v);
}

function parseNonNegativeInt(v: string): number | null {
  return /^\d{1,9}$/.test(v) ? Number(v) : null;
}

function parseNonNegativeNumber(v: string): number | null {
  return parseDecimal(v);
}

function parseEvenPixels(v: string): number | null {
  const n = parseNonNegativeInt(v);
  return n !== null && n % 2 === 0 ? n : null;
}

/** `900k`, `1.5M`, `128K`, or bare bits/s. `min` rejects "900" meant as kilobits. */
function parseBitrate(v: string, min: number): number | null {
  const m = /^(\d+(?:\.\d+)?)\s*([kKmM]?)(?:bps|b)?$/.exec(v);
  if (!m) return null;
  const mult = m[2] === '' ? 1 : m[2]?.toLowerCase() === 'k' ? 1000 : 1_000_000;
  const bits = Math.round(Number(m[1]) * mult);
  return bits >= min && bits <= 500_000_000 ? bits : null;
}

function parseSize(v: string): Size | null {
  const m = /^(\d{1,5})\s*[xX]\s*(\d{1,5})$/.exec(v);
  if (!m) return null;
  const width = Number(m[1]);
  const height = Number(m[2]);
  if (width % 2 !== 0 || height % 2 !== 0 || width > 8192 || height > 8192) return null;
  return width === 0 && height === 0 ? null : { width, height };
}

function parseFrameRate(v: string): number | null {
  const ratio = /^(\d+(?:\.\d+)?)\/(\d+(?:\.\d+)?)$/.exec(v);
  if (ratio) {
    const den = Number(ratio[2]);
    return den > 0 ? Number(ratio[1]) / den : null;
  }
  return parseDecimal(v);
}

/** `30` → 3.0 and `31` → 3.1 (encoding.com writes levels without the dot), `3.1`, `4`, `1b`. */
function normaliseLevel(v: string): string | null {
  const l = v.toLowerCase();
  let dotted = l;
  if (/^\d\d$/.test(l)) dotted = `${l[0]}.${l[1]}`;
  else if (/^\d$/.test(l)) dotted = `${l}.0`;
  return H264_LEVELS.includes(dotted) ? dotted : null;
}

/** Seconds (`7.5`), `HH:MM:SS(.ms)`, `MM:SS(.ms)`, or a timecode `HH:MM:SS:FF` (`;` = drop-frame). */
function parseTime(v: string): TimeValue | null {
  const plain = parseDecimal(v);
  if (plain !== null) return { seconds: plain, timecode: null };
  const tc = /^(\d{1,3})[:;](\d{1,2})[:;](\d{1,2})([:;])(\d{1,2})$/.exec(v);
  if (tc) {
    const [hours, minutes, seconds, frames] = [tc[1], tc[2], tc[3], tc[5]].map(Number) as [number, number, number, number];
    if (minutes > 59 || seconds > 59 || frames > 59) return null;
    const timecode = { hours, minutes, seconds, frames, dropFrame: v.includes(';') };
    return { seconds: hours * 3600 + minutes * 60 + seconds + frames / 30, timecode };
  }
  const clock = /^(?:(\d{1,3}):)?(\d{1,2}):(\d{1,2}(?:\.\d+)?)$/.exec(v);
  if (clock) {
    const hours = Number(clock[1] ?? 0);
    const minutes = Number(clock[2]);
    const seconds = Number(clock[3]);
    if (minutes > 59 || seconds >= 60) return null;
    return { seconds: hours * 3600 + minutes * 60 + seconds, timecode: null };
  }
  return null;
}
