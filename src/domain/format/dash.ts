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
}

/** The MPD and the HLS master: names no `sub_path` may take. */
export const DASH_MANIFEST = 'manifest.mpd';
const RESERVED_FOLDERS = ['manifest.mpd', 'master.m3u8'];

/** Fields that ask for DRM or encryption, which these outputs cannot do yet. */
const DRM_FIELDS = ['drm', 'clearkey_drm', 'playready_drm', 'fairplay_drm'];

export function readDash(f: Fields, output: DashOutput): DashSpec {
  const segmentDuration = f.parse('segment_duration', 'a number of seconds like 6', parseDecimal) ?? 6;
  if (segmentDuration < 1 || segmentDuration > 60) {
    throw new FormatProblem(`segment_duration "${f.str('segment_duration')}" is out of range; use 1 to 60 seconds.`);
  }
  // Silently making clear content from a request that asked for Widevine would publish it unprotected.
  if (f.flag('widevine', false)) {
    throw new FormatProblem(`widevine is not supported: Encodery does not package DRM for ${output}. Remove widevine (or set it to no).`);
  }
  refuseProtection(f, output);
  const raw = f.raw('stream');
  for (const item of raw === undefined ? [] : Array.isArray(raw) ? raw : [raw]) {
    if (typeof item !== 'object' || Array.isArray(item)) continue;
    const own = new Map(Object.entries(item).map(([k, v]) => [k.toLowerCase(), v]));
    for (const name of ['encryption', 'widevine', ...DRM_FIELDS]) {
      const v = own.get(name);
      if (typeof v === 'string' && !isOff(v)) {
        throw new FormatProblem(`${name} in a stream is not supported: Encodery does not encrypt or package DRM for ${output}. Remove it (or set it to no).`);
      }
    }
  }

  const { streams, picture } = readStreams(f, output, output === 'mpeg_dash' || output === 'fmp4_hls');
  for (const [i, s] of streams.entries()) {
    if (RESERVED_FOLDERS.includes(s.subPath.split('/')[0]!.toLowerCase())) {
      throw new FormatProblem(`stream ${i + 1}: sub_path "${s.subPath}" is the name of a manifest; choose another folder name.`);
    }
  }
  const captions = readCaptions(f, output);
  return {
    kind: 'dash', output, segmentDuration, streams, hls: output === 'fmp4_hls' || output === 'advanced_fmp4', ...picture, ...readTrim(f),
    editing: { ...readEditing(f), captions: captions.burned }, captions: captions.tracks, embeddedCaptions: embeddedCaptions(captions),
  };
}

function refuseProtection(f: Fields, output: DashOutput): void {
  if (f.flag('encryption', false)) {
    throw new FormatProblem(`encryption is not supported for ${output}: Encodery does not encrypt fMP4 segments (CENC) yet. Remove it or set it to no.`);
  }
  for (const name of DRM_FIELDS) {
    const v = f.str(name);
    if (v !== null && !isOff(v)) {
      throw new FormatProblem(`${name} is not supported: Encodery does not package DRM for ${output}. Remove ${name} (or set it to no).`);
    }
  }
}

function isOff(v: string): boolean {
  return ['', 'no', 'none', 'false', '0'].includes(v.trim().toLowerCase());
}
