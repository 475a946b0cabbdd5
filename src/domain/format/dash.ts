/**
 * DASH and CMAF outputs (reference 4.7), on the `<stream>` model of advanced_hls (4.6):
 * - `mpeg_dash`: a DASH MPD over fMP4 segments; one rendition from the format's own fields, or `<stream>` variants;
 * - `advanced_dash`: the same with 1 to 15 `<stream>` variants;
 * - `fmp4_hls`, `advanced_fmp4`: CMAF, one set of fMP4 segments listed by both an HLS master
 *   playlist (with its media playlists) and a DASH MPD.
 */
import { FormatProblem, type Fields, parseDecimal } from './fields.ts';
import type { HlsStreamSpec } from './hls.ts';
import { readStreams } from './hls.ts';
import { readTrim, type Picture, type TrimFields } from './video.ts';
import { readEditing, type Editing } from './editing.ts';
import { outputsOfKind, type OutputOfKind } from '../outputs.ts';
import { embeddedCaptions, readCaptions, type CaptionTrack, type EmbeddedCaptions } from '../captions.ts';
import { readProtection, type Protection } from '../drm.ts';
import { lowerKeys } from './fields.ts';
import { readAudioLanguages, type AudioLanguages } from '../audio-languages.ts';

export const DASH_OUTPUTS: readonly DashOutput[] = outputsOfKind('dash');
export type DashOutput = OutputOfKind<'dash'>;

export interface DashSpec extends TrimFields, Picture {
  kind: 'dash';
  output: DashOutput;
  /** Seconds. @default 6 */
  segmentDuration: number;
  /** 1 to 15 (reference 4.6). */
  streams: HlsStreamSpec[];
  /** fmp4_hls and advanced_fmp4 also write HLS playlists over the same segments. */
  hls: boolean;
  /** logo, overlays, text and fades, drawn once before the variants are cut (format/editing.ts). */
  editing: Editing;
  /** closed_captions as a text adaptation set (and WebVTT renditions for CMAF's HLS side). */
  captions: CaptionTrack[];
  /** closed_captions `copy`: the source's CEA-608/708 kept or dropped in the video; null = not asked. */
  embeddedCaptions: EmbeddedCaptions;
  /** Common Encryption (domain/drm.ts); null for clear segments. */
  protection: Protection | null;
  /** main_source and alternate_source (domain/audio-languages.ts). */
  audioLanguages: AudioLanguages;
}

/** The MPD and the HLS master: names no `sub_path` may take. */
export const DASH_MANIFEST = 'manifest.mpd';
const RESERVED_FOLDERS = ['manifest.mpd', 'master.m3u8'];

export function readDash(f: Fields, output: DashOutput): DashSpec {
  const segmentDuration = f.parse('segment_duration', 'a number of seconds like 6', parseDecimal) ?? 6;
  if (segmentDuration < 1 || segmentDuration > 60) {
    throw new FormatProblem(`segment_duration "${f.str('segment_duration')}" is out of range; use 1 to 60 seconds.`);
  }
  if (f.flag('encryption', false)) {
    throw new FormatProblem(`encryption is HLS AES-128; ${output} is protected with Common Encryption instead: give drm_key and drm_key_id, cpix_url or speke_url (and widevine, playready_drm or clearkey_drm). Remove encryption.`);
  }
  const raw = f.raw('stream');
  const items = (raw === undefined ? [] : Array.isArray(raw) ? raw : [raw]).map((item) => (typeof item === 'object' && !Array.isArray(item) ? lowerKeys(item) : {}));
  for (const [i, item] of items.entries()) {
    const v = item['encryption'];
    if (typeof v === 'string' && !isOff(v)) throw new FormatProblem(`stream ${i + 1}: encryption is HLS AES-128; ${output} is protected with Common Encryption on the format (drm_key, cpix_url or speke_url). Remove it.`);
  }
  const protection = readProtection(f, output, items.length > 0 ? items : [{}]);

  const { streams, picture } = readStreams(f, output, output === 'mpeg_dash' || output === 'fmp4_hls');
  for (const [i, s] of streams.entries()) {
    if (RESERVED_FOLDERS.includes(s.subPath.split('/')[0]!.toLowerCase())) {
      throw new FormatProblem(`stream ${i + 1}: sub_path "${s.subPath}" is the name of a manifest; choose another folder name.`);
    }
  }
  const clearVideo = streams.findIndex((s) => !s.audioOnly && s.videoCodec !== 'libx264' && s.videoCodec !== 'libx265');
  if (protection && clearVideo >= 0) {
    throw new FormatProblem(`stream ${clearVideo + 1}: Common Encryption is made for H.264 (libx264) and HEVC (libx265) video; ${streams[clearVideo]!.videoCodec} cannot be protected here.`);
  }
  const captions = readCaptions(f, output);
  return {
    kind: 'dash', output, segmentDuration, streams, hls: output === 'fmp4_hls' || output === 'advanced_fmp4', ...picture, ...readTrim(f),
    editing: { ...readEditing(f), captions: captions.burned }, captions: captions.tracks, embeddedCaptions: embeddedCaptions(captions), protection,
    audioLanguages: readAudioLanguages(f, output, streams),
  };
}

function isOff(v: string): boolean {
  return ['', 'no', 'none', 'false', '0'].includes(v.trim().toLowerCase());
}
