/** advanced_hls (reference 4.6): the format's own fields and its 1 to 15 `<stream>` variants. */
import type { FieldMap } from '../fields.ts';
import { FormatProblem, Fields, lowerKeys, parseDecimal } from './fields.ts';
import { readEditing, type Editing } from './editing.ts';
import {
  readAudio, readPicture, readTrim, readVideoEncoding, type AudioFields, type Picture, type SegmentedOutput, type TrimFields, type VideoEncoding,
} from './video.ts';

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
  /** Drawn once on the format's picture, before it is cut into variants. */
  editing: Editing;
}

export const MAX_HLS_STREAMS = 15;

/** Fields a `<stream>` takes from its format when it does not give them itself. */
export const STREAM_INHERITS = [
  'size', 'keep_aspect_ratio', 'bitrate', 'maxrate', 'minrate', 'bufsize', 'framerate', 'keyframe', 'profile', 'level',
  'video_codec', 'turbo', 'audio_codec', 'audio_bitrate', 'audio_sample_rate', 'audio_channels_number', 'audio_volume',
  'crop_left', 'crop_top', 'crop_right', 'crop_bottom', 'rotate', 'deinterlacing',
  'loudnorm', 'loudnorm_range', 'loudnorm_peak', 'audio_normalization', 'set_rotate',
];

/** advanced_hls (reference 4.6): format-level segment_duration and trim, 1 to 15 `<stream>` variants. */
export function readHls(f: Fields): HlsSpec {
  const segmentDuration = f.parse('segment_duration', 'a number of seconds like 6', parseDecimal) ?? 6;
  if (segmentDuration < 1 || segmentDuration > 60) {
    throw new FormatProblem(`segment_duration "${f.str('segment_duration')}" is out of range; use 1 to 60 seconds.`);
  }
  if (f.flag('encryption', false)) {
    throw new FormatProblem('encryption is not supported for advanced_hls yet; remove it or set it to no.');
  }
  const { streams, picture } = readStreams(f, 'advanced_hls');
  return { kind: 'hls', output: 'advanced_hls', segmentDuration, streams, ...picture, ...readTrim(f), editing: readEditing(f) };
}

/**
 * The 1 to 15 `<stream>` variants of a segmented output, each with the format's fields under its
 * own, and the one picture they are all cut from. With `single`, a format without `<stream>` is
 * one variant made of its own fields (and its `audio_only`/`video_only`).
 */
export function readStreams(f: Fields, output: SegmentedOutput, single = false): { streams: HlsStreamSpec[]; picture: Picture } {
  const raw = f.raw('stream');
  const given = raw === undefined ? [] : Array.isArray(raw) ? raw : [raw];
  const items = given.length === 0 && single ? [formatAsStream(f)] : given;
  if (items.length === 0) throw new FormatProblem(`stream is missing: ${output} needs 1 to ${MAX_HLS_STREAMS} <stream> elements.`);
  if (items.length > MAX_HLS_STREAMS) {
    throw new FormatProblem(`stream is given ${items.length} times; ${output} takes 1 to ${MAX_HLS_STREAMS} streams.`);
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
      streams.push(readHlsStream(sf, i, output));
      const p = readPicture(sf);
      if (picture === null) picture = p;
      else if (pictureKey(p) !== pictureKey(picture)) {
        throw new FormatProblem(
          'rotate, crop and deinterlacing must be the same for every stream (all variants are cut from one picture); set them once on the format.',
        );
      }
    } catch (err) {
      if (err instanceof FormatProblem && given.length > 0) throw new FormatProblem(`stream ${i + 1}: ${err.message}`);
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

function formatAsStream(f: Fields): FieldMap {
  const own: FieldMap = {};
  for (const name of ['audio_only', 'video_only']) {
    const v = f.raw(name);
    if (v !== undefined) own[name] = v;
  }
  return own;
}

export function readHlsStream(f: Fields, index: number, output: SegmentedOutput = 'advanced_hls'): HlsStreamSpec {
  const setRotate = f.str('set_rotate');
  if (setRotate !== null && setRotate !== '0') {
    throw new FormatProblem(`set_rotate "${setRotate}" cannot be written into ${output}: its segments carry no rotation metadata. Use rotate to turn the picture itself, or set_rotate 0.`);
  }
  const audioOnly = f.flag('audio_only', false);
  const videoOnly = f.flag('video_only', false);
  if (audioOnly && videoOnly) throw new FormatProblem('audio_only and video_only cannot both be yes.');
  const encoding = readVideoEncoding(f, output);
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
  return { ...encoding, ...readAudio(f, output, encoding.videoCodec), subPath, audioOnly, videoOnly };
}

/** Folder names that are safe in a URL, a file system and FFmpeg's var_stream_map; no `.`/`..`. */
export const SUB_PATH = /^[A-Za-z0-9_-][A-Za-z0-9._-]*(\/[A-Za-z0-9_-][A-Za-z0-9._-]*)*$/;
