/**
 * advanced_hls (reference 4.6): the format's own fields and its 1 to 15 `<stream>` variants; and
 * the legacy multi-bitrate outputs iphone_stream, ipad_stream and roku_hls, whose comma lists
 * become the same streams.
 */
import { readAudioLanguages, type AudioLanguages } from '../audio-languages.ts';
import type { FieldMap } from '../fields.ts';
import {
  FormatProblem, Fields, lowerKeys, parseBitrate, parseDecimal, parseFrameRate, parseNonNegativeInt, parseSize,
} from './fields.ts';
import { readEditing, type Editing } from './editing.ts';
import { isOfKind, outputsOfKind, type OutputOfKind } from '../outputs.ts';
import { embeddedCaptions, readCaptions, type CaptionTrack, type EmbeddedCaptions } from '../captions.ts';
import {
  readAudio, readPicture, readTrim, readVideoEncoding, type AudioFields, type Picture, type SegmentedOutput, type TrimFields, type VideoEncoding,
} from './video.ts';

/** One `<stream>` of an advanced_hls (reference 4.6): a variant, or an audio-only one. */
export interface HlsStreamSpec extends VideoEncoding, AudioFields {
  /** The variant's folder beside the master playlist: `sub_path`, or `stream_<n>` (from 0). */
  subPath: string;
  audioOnly: boolean;
  videoOnly: boolean;
  /** An I-frame-only playlist beside the variant's own (EXT-X-I-FRAME-STREAM-INF). @default false */
  iframeStream: boolean;
}

/** HLS outputs: advanced_hls and the older multi-bitrate ones, kept by name for the echo. */
export const HLS_OUTPUTS: readonly HlsOutput[] = outputsOfKind('hls', 'legacy_hls');
export type HlsOutput = OutputOfKind<'hls' | 'legacy_hls'>;

/** AES-128 encryption of every segment (reference 4.5 "Encryption"). */
export interface HlsEncryption {
  /** 32 hex digits (16 bytes); null = a random key made for each encode. */
  key: string | null;
  /** 32 hex digits; null = a random IV made for each encode (written in the playlists). */
  iv: string | null;
  /** The key's URI in the playlists (`encryption_key_file`); null = `<name>.key` beside the master. */
  keyUrl: string | null;
}

/** `pack_files`: the destination receives archives instead of the loose files. */
export interface HlsPacking {
  type: 'tar' | 'zip';
  /** One archive per variant folder plus one for the master (and key), not one for all. */
  eachStream: boolean;
}

export interface HlsSpec extends TrimFields, Picture {
  kind: 'hls';
  output: HlsOutput;
  /** Seconds. @default 6 (9 for the legacy outputs) */
  segmentDuration: number;
  /** 1 to 15 (reference 4.6). */
  streams: HlsStreamSpec[];
  encryption: HlsEncryption | null;
  pack: HlsPacking | null;
  /** Drawn once on the format's picture, before it is cut into variants. */
  editing: Editing;
  /** closed_captions as WebVTT subtitle renditions (domain/captions.ts). */
  captions: CaptionTrack[];
  /** closed_captions `copy`: the source's CEA-608/708 kept or dropped in the video; null = not asked. */
  embeddedCaptions: EmbeddedCaptions;
  /** main_source and alternate_source (domain/audio-languages.ts). */
  audioLanguages: AudioLanguages;
}

/** HEVC is only allowed in fMP4 segments by Apple, and the muxer writes one segment type for all variants. */
export function usesFmp4(spec: Pick<HlsSpec, 'streams'>): boolean {
  return spec.streams.some((s) => !s.audioOnly && s.videoCodec === 'libx265');
}

export const MAX_HLS_STREAMS = 15;

/** Fields a `<stream>` takes from its format when it does not give them itself. */
export const STREAM_INHERITS = [
  'size', 'keep_aspect_ratio', 'bitrate', 'maxrate', 'minrate', 'bufsize', 'framerate', 'keyframe', 'profile', 'level',
  'video_codec', 'turbo', 'audio_codec', 'audio_bitrate', 'audio_sample_rate', 'audio_channels_number', 'audio_volume',
  'crop_left', 'crop_top', 'crop_right', 'crop_bottom', 'rotate', 'deinterlacing',
  'loudnorm', 'loudnorm_range', 'loudnorm_peak', 'audio_normalization', 'set_rotate',
  'set_aspect_ratio', 'cbr', 'hard_cbr', 'pix_format', 'video_codec_parameters', 'use_video_codec_parameters',
  'noise_reduction', 'burnin_timecode', 'auto_crop', 'upscale', 'audio_stream', 'downmix_mode', 'hdr',
];

/** advanced_hls (reference 4.6): format-level segment_duration and trim, 1 to 15 `<stream>` variants. */
export function readHls(f: Fields): HlsSpec {
  const own = streamItems(f, 'advanced_hls');
  if (own.length === 0) throw new FormatProblem(`stream is missing: advanced_hls needs 1 to ${MAX_HLS_STREAMS} <stream> elements.`);
  // add_iframe_stream on the format: for every video stream that does not say otherwise.
  if (f.flag('add_iframe_stream', false)) {
    for (const s of own) if (s['add_iframe_stream'] === undefined && !new Fields(s).flag('audio_only', false)) s['add_iframe_stream'] = 'yes';
  }
  return readHlsStreams(f, 'advanced_hls', own, 6, []);
}

/** Lists of the legacy outputs (reference 4.6) and the stream field each value goes to. */
const LEGACY_LISTS = [
  { list: 'size', field: 'size', example: '0x240,0x360', expected: 'a size', check: parseSize },
  { list: 'bitrates', field: 'bitrate', example: '200k,400k', expected: 'a bitrate', check: (v: string) => parseBitrate(v, 16_000) },
  { list: 'framerates', field: 'framerate', example: '25,30', expected: 'a frame rate', check: parseFrameRate },
  { list: 'keyframes', field: 'keyframe', example: '75,90', expected: 'a number of frames', check: parseNonNegativeInt },
] as const;

/**
 * iphone_stream, ipad_stream, roku_hls (reference 4.6): one stream per position of the comma
 * lists `size`, `bitrates`, `framerates`, `keyframes`. A list of one value applies to every
 * stream; lists of other lengths must agree. `add_audio_only=yes` adds an audio-only variant.
 */
export function readLegacyHls(f: Fields, output: HlsOutput): HlsSpec {
  if (f.raw('stream') !== undefined) {
    throw new FormatProblem(`stream is for advanced_hls; ${output} takes comma lists in size, bitrates, framerates and keyframes.`);
  }
  const lists: { list: string; field: string; values: string[] }[] = [];
  for (const l of LEGACY_LISTS) {
    const text = f.str(l.list);
    if (text === null) continue;
    const values = text.split(',').map((v) => v.trim());
    for (const v of values) {
      if (v === '' || l.check(v) === null) throw new FormatProblem(`${l.list} "${text}" must be a comma list like ${l.example}; "${v}" is not ${l.expected}.`);
    }
    lists.push({ list: l.list, field: l.field, values });
  }
  const count = Math.max(1, ...lists.map((l) => l.values.length));
  const longest = lists.find((l) => l.values.length === count);
  for (const l of lists) {
    if (l.values.length !== 1 && l.values.length !== count) {
      throw new FormatProblem(
        `${l.list} has ${l.values.length} values but ${longest!.list} has ${count}; give every list one value per stream (or a single value for all).`,
      );
    }
  }
  const iframes = f.flag('add_iframe_stream', false);
  const own: FieldMap[] = Array.from({ length: count }, (_, i) => {
    const s: FieldMap = {};
    for (const l of lists) s[l.field] = l.values.length === 1 ? l.values[0]! : l.values[i]!;
    if (iframes) s['add_iframe_stream'] = 'yes';
    return s;
  });
  if (f.flag('add_audio_only', false)) own.push({ audio_only: 'yes', sub_path: 'audio_only' });
  // `size` is a list here: only its values reach the streams.
  return readHlsStreams(f, output, own, 9, ['size']);
}

/** What every HLS output shares: segment_duration, encryption, packing, and its streams. */
function readHlsStreams(
  f: Fields, output: HlsOutput, items: FieldMap[], defaultSegment: number, notInherited: readonly string[],
): HlsSpec {
  const segmentDuration = f.parse('segment_duration', 'a number of seconds like 6', parseDecimal) ?? defaultSegment;
  if (segmentDuration < 1 || segmentDuration > 60) {
    throw new FormatProblem(`segment_duration "${f.str('segment_duration')}" is out of range; use 1 to 60 seconds.`);
  }
  const encryption = readEncryption(f);
  const pack = readPacking(f);
  if (items.length > MAX_HLS_STREAMS) {
    const what = output === 'advanced_hls' ? `stream is given ${items.length} times` : `the lists (and add_audio_only) make ${items.length} streams`;
    throw new FormatProblem(`${what}; ${output} takes 1 to ${MAX_HLS_STREAMS} streams.`);
  }

  const { streams, picture } = readStreamItems(f, output, items, { notInherited, numbered: true });
  for (const [i, own] of items.entries()) {
    const sf = new Fields(own, f.options);
    if (sf.raw('encryption') !== undefined && sf.flag('encryption', false) !== (encryption !== null)) {
      throw new FormatProblem(`stream ${i + 1}: encryption must be the same for every stream (one key protects the whole output); set encryption on the format only.`);
    }
  }
  const iframe = streams.findIndex((s) => s.iframeStream);
  if (iframe >= 0 && encryption) {
    throw new FormatProblem(
      `stream ${iframe + 1}: add_iframe_stream cannot be used with encryption: an I-frame is a byte range of a segment, and AES-128 encrypts whole segments; remove one of them.`,
    );
  }
  if (usesFmp4({ streams })) {
    const hard = streams.findIndex((s) => s.constantBitrate === 'hard' && s.videoCodec === 'libx264');
    if (hard >= 0) {
      throw new FormatProblem(
        `stream ${hard + 1}: hard_cbr with libx264 needs MPEG-TS segments, but an output with an HEVC (libx265) stream is written in fMP4 segments; use cbr, or libx264 in every stream.`,
      );
    }
    if (encryption) {
      throw new FormatProblem(
        'encryption cannot be used with an HEVC (libx265) stream: HEVC is written in fMP4 segments, which FFmpeg 5.1 cannot encrypt; use libx264 in every stream or remove encryption.',
      );
    }
    const i = streams.findIndex((s) => s.iframeStream);
    if (i >= 0) {
      throw new FormatProblem(
        `stream ${i + 1}: add_iframe_stream needs MPEG-TS segments, but an output with an HEVC (libx265) stream is written in fMP4 segments (Apple requires it for HEVC); remove add_iframe_stream or use libx264 in every stream.`,
      );
    }
  }
  const captions = readCaptions(f, output);
  if (captions.tracks.length > 0 && pack) {
    throw new FormatProblem('closed_captions cannot be packed yet (pack_files): the subtitle renditions are written after the archives; remove pack_files or burn the captions in.');
  }
  return {
    kind: 'hls', output, segmentDuration, streams, encryption, pack, ...picture, ...readTrim(f), editing: { ...readEditing(f), captions: captions.burned },
    captions: captions.tracks, embeddedCaptions: embeddedCaptions(captions), audioLanguages: readAudioLanguages(f, output, streams),
  };
}

/** The `<stream>` elements as field maps (lower-case names); empty when there are none. */
function streamItems(f: Fields, output: SegmentedOutput | HlsOutput): FieldMap[] {
  const raw = f.raw('stream');
  const items = raw === undefined ? [] : Array.isArray(raw) ? raw : [raw];
  if (items.length > MAX_HLS_STREAMS) {
    throw new FormatProblem(`stream is given ${items.length} times; ${output} takes 1 to ${MAX_HLS_STREAMS} streams.`);
  }
  return items.map((item, i) => {
    if (typeof item === 'string' && item.trim() !== '') throw new FormatProblem(`stream ${i + 1} must be a set of fields, not a plain value.`);
    if (Array.isArray(item)) throw new FormatProblem(`stream ${i + 1} must be a set of fields, not a list.`);
    return typeof item === 'string' ? {} : lowerKeys(item);
  });
}

/**
 * The 1 to 15 `<stream>` variants of a DASH or CMAF output, each with the format's fields under
 * its own, and the one picture they are all cut from. With `single`, a format without `<stream>`
 * is one variant made of its own fields (and its `audio_only`/`video_only`).
 */
export function readStreams(f: Fields, output: SegmentedOutput, single = false): { streams: HlsStreamSpec[]; picture: Picture } {
  const given = streamItems(f, output);
  const items = given.length === 0 && single ? [formatAsStream(f)] : given;
  if (items.length === 0) throw new FormatProblem(`stream is missing: ${output} needs 1 to ${MAX_HLS_STREAMS} <stream> elements.`);
  return readStreamItems(f, output, items, { notInherited: [], numbered: given.length > 0 });
}

function formatAsStream(f: Fields): FieldMap {
  const own: FieldMap = {};
  for (const name of ['audio_only', 'video_only']) {
    const v = f.raw(name);
    if (v !== undefined) own[name] = v;
  }
  return own;
}

/** Each stream's fields over the format's inherited ones; one picture for all; unique sub_paths. */
function readStreamItems(
  f: Fields, output: SegmentedOutput | HlsOutput, items: FieldMap[], opts: { notInherited: readonly string[]; numbered: boolean },
): { streams: HlsStreamSpec[]; picture: Picture } {
  const inherited: FieldMap = {};
  for (const name of STREAM_INHERITS) {
    const v = f.raw(name);
    if (v !== undefined && !opts.notInherited.includes(name)) inherited[name] = v;
  }
  const streams: HlsStreamSpec[] = [];
  let picture: Picture | null = null;
  const pictureKey = (p: Picture): string => JSON.stringify(p);
  for (const [i, own] of items.entries()) {
    const sf = f.within({ ...inherited, ...own }, opts.numbered ? `stream ${i + 1}: ` : '');
    try {
      streams.push(readHlsStream(sf, i, output));
      const p = readPicture(sf);
      if (picture === null) picture = p;
      else if (pictureKey(p) !== pictureKey(picture)) {
        throw new FormatProblem(
          'rotate, crop, auto_crop, deinterlacing, noise_reduction and burnin_timecode must be the same for every stream (all variants are cut from one picture); set them once on the format.',
        );
      }
    } catch (err) {
      if (err instanceof FormatProblem && opts.numbered) throw new FormatProblem(`stream ${i + 1}: ${err.message}`);
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
  return { streams, picture: picture ?? readPicture(f) };
}

const HEX_128 = /^(?:0x)?([0-9a-f]{32})$/i;

/** encryption, encryption_method, encryption_key, encryption_iv, encryption_key_file (reference 4.5). */
function readEncryption(f: Fields): HlsEncryption | null {
  if (!f.flag('encryption', false)) {
    for (const name of ['encryption_key', 'encryption_iv', 'encryption_key_file', 'encryption_method']) {
      if (f.str(name) !== null) throw new FormatProblem(`${name} is given but encryption is not yes; set encryption to yes or remove ${name}.`);
    }
    return null;
  }
  const method = f.str('encryption_method');
  if (method !== null && method.toLowerCase() !== 'aes-128-cbc' && method.toLowerCase() !== 'aes-128') {
    throw new FormatProblem(`encryption_method "${method}" is not supported; HLS segments are encrypted with aes-128-cbc (leave it out or send aes-128-cbc).`);
  }
  if (f.str('encryption_password') !== null) {
    throw new FormatProblem('encryption_password is not used by HLS AES-128 encryption; send the key itself in encryption_key (32 hex digits) or leave it out for a random key.');
  }
  // The values are secrets: the messages never repeat them.
  const hex = (name: string): string | null => {
    const v = f.str(name);
    if (v === null) return null;
    const m = HEX_128.exec(v);
    if (!m) throw new FormatProblem(`${name} is not 32 hexadecimal digits (128 bits); send it like 00112233445566778899aabbccddeeff.`);
    return m[1]!.toLowerCase();
  };
  const key = hex('encryption_key');
  const iv = hex('encryption_iv');
  const keyUrl = f.str('encryption_key_file');
  if (keyUrl !== null) checkKeyUrl(keyUrl);
  return { key, iv, keyUrl };
}

/** The key URI goes into every playlist as written: an http(s) URL players can fetch, no credentials. */
function checkKeyUrl(url: string): void {
  let parsed: URL | null = null;
  try {
    parsed = new URL(url);
  } catch {
    // reported below
  }
  if (!parsed || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') || /[\s"\x00-\x1f\x7f]/.test(url)) {
    throw new FormatProblem('encryption_key_file must be an http:// or https:// URL where players fetch the key, like https://keys.example.com/video.key.');
  }
  if (parsed.username !== '' || parsed.password !== '') {
    throw new FormatProblem('encryption_key_file must not carry a user name or password: every player reads it from the playlist.');
  }
}

/** pack_files, pack_type, pack_each_stream (reference 4.6). */
function readPacking(f: Fields): HlsPacking | null {
  const eachStream = f.flag('pack_each_stream', false);
  const typeRaw = f.str('pack_type');
  if (!f.flag('pack_files', false)) {
    if (eachStream || typeRaw !== null) throw new FormatProblem(`${eachStream ? 'pack_each_stream' : 'pack_type'} is given but pack_files is not yes; set pack_files to yes or remove it.`);
    return null;
  }
  const type = (typeRaw ?? 'tar').toLowerCase();
  if (type !== 'tar' && type !== 'zip') throw new FormatProblem(`pack_type "${typeRaw}" is not tar or zip.`);
  return { type, eachStream };
}

export function readHlsStream(f: Fields, index: number, output: SegmentedOutput | HlsOutput = 'advanced_hls'): HlsStreamSpec {
  const setRotate = f.str('set_rotate');
  if (setRotate !== null && setRotate !== '0') {
    throw new FormatProblem(`set_rotate "${setRotate}" cannot be written into ${output}: its segments carry no rotation metadata. Use rotate to turn the picture itself, or set_rotate 0.`);
  }
  const audioOnly = f.flag('audio_only', false);
  const videoOnly = f.flag('video_only', false);
  if (audioOnly && videoOnly) throw new FormatProblem('audio_only and video_only cannot both be yes.');
  // The legacy HLS outputs take advanced_hls's codecs, and their messages name it.
  const codecsOf = isOfKind(output, 'legacy_hls') ? 'advanced_hls' : output;
  const encoding = readVideoEncoding(f, codecsOf);
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
  const iframeStream = f.flag('add_iframe_stream', false);
  if (iframeStream && !isOfKind(output, 'hls', 'legacy_hls')) {
    throw new FormatProblem(`add_iframe_stream is for HLS outputs with MPEG-TS segments; ${output} cannot carry it. Remove it.`);
  }
  if (iframeStream && audioOnly) throw new FormatProblem('add_iframe_stream needs a picture; it cannot be used with audio_only.');
  return {
    ...encoding, ...readAudio(f, codecsOf, encoding.videoCodec), subPath, audioOnly, videoOnly, iframeStream,
  };
}

/** Folder names that are safe in a URL, a file system and FFmpeg's var_stream_map; no `.`/`..`. */
export const SUB_PATH = /^[A-Za-z0-9_-][A-Za-z0-9._-]*(\/[A-Za-z0-9_-][A-Za-z0-9._-]*)*$/;
