/**
 * Presets (reference 2.11-2.14): a stored set of format fields that a format names with
 * `output_preset`. Built-in `ui` presets are shared by every user and read-only; user presets
 * live in the store, one set per user.
 *
 * Pure: the built-in list, the name rule and the merge. Lookups are in the API layer.
 */
import type { FieldMap, FieldValue } from './fields.ts';

export type PresetType = 'user' | 'ui';

export interface Preset {
  name: string;
  type: PresetType;
  /** The preset's output, repeated from `format.output`. */
  output: string;
  /** Format fields as stored; `output` always among them. */
  format: FieldMap;
}

/** Preset names: what the API accepts for `name`, `output_preset` and `save_preset`. */
export const PRESET_NAME = /^[A-Za-z0-9_.-]{1,64}$/;

/**
 * The built-in `ui` presets, one entry each; every one must pass `parseFormat` (a test checks).
 *
 * H.264 rungs keep the source's aspect (`0xN`), cap the rate at 1.5x the average with a 2x
 * buffer (what players and CDNs expect of VBV-constrained streams), and use the High profile
 * except the smallest rung, which stays on Main for old phones.
 */
export const BUILT_IN_PRESETS: readonly Preset[] = [
  ui('mp4_1080p', { output: 'mp4', video_codec: 'libx264', profile: 'high', size: '0x1080', bitrate: '5000k', maxrate: '7500k', bufsize: '10000k', audio_codec: 'aac', audio_bitrate: '128k' }),
  ui('mp4_720p', { output: 'mp4', video_codec: 'libx264', profile: 'high', size: '0x720', bitrate: '2800k', maxrate: '4200k', bufsize: '5600k', audio_codec: 'aac', audio_bitrate: '128k' }),
  ui('mp4_480p', { output: 'mp4', video_codec: 'libx264', profile: 'high', size: '0x480', bitrate: '1400k', maxrate: '2100k', bufsize: '2800k', audio_codec: 'aac', audio_bitrate: '128k' }),
  ui('mp4_360p', { output: 'mp4', video_codec: 'libx264', profile: 'main', size: '0x360', bitrate: '800k', maxrate: '1200k', bufsize: '1600k', audio_codec: 'aac', audio_bitrate: '96k' }),
  ui('webm_vp9_720p', { output: 'webm', video_codec: 'libvpx-vp9', size: '0x720', bitrate: '1800k', maxrate: '2700k', bufsize: '3600k', audio_codec: 'libopus', audio_bitrate: '128k' }),
  // SVT-AV1 at constant quality (CRF 35, preset 8): about the VP9 rung's quality at two thirds of its size.
  ui('mp4_av1_720p', { output: 'mp4', video_codec: 'libsvtav1', size: '0x720', audio_codec: 'aac', audio_bitrate: '128k' }),
  ui('mp3_192k', { output: 'mp3', audio_codec: 'libmp3lame', audio_bitrate: '192k' }),
  ui('m4a_128k', { output: 'm4a', audio_codec: 'aac', audio_bitrate: '128k' }),
  ui('thumbnail_jpg', { output: 'thumbnail', time: '10%' }),
  // A short looping preview for a page: the first 5 s, 320 wide, 10 frames a second.
  ui('gif_preview', { output: 'gif', size: '320x0', interval: '10', loop: '-1', colors: '128', duration: '5' }),
  // The mp4 rungs above as one HLS ladder: 6 s segments (Apple's recommendation), one shared AAC rendition.
  ui('hls_ladder', { output: 'advanced_hls', segment_duration: '6', stream: ladder() }),
  // The mp4 ladder's rungs as one DASH output, one 4 s segment grid, one shared AAC rendition.
  ui('dash_ladder', { output: 'advanced_dash', segment_duration: '4', stream: ladder() }),
  // The same ladder as CMAF: one set of fMP4 segments behind an HLS master and a DASH MPD.
  ui('cmaf_ladder', { output: 'advanced_fmp4', segment_duration: '4', stream: ladder() }),
];

/**
 * 1080p/720p/480p/360p H.264 rungs (rates as the mp4 presets) sharing one 128k AAC audio. A rung
 * larger than the source is left out (`upscale no`): a 720p source gets 720p, 480p and 360p.
 */
function ladder(): FieldMap[] {
  const rung = (height: number, bitrate: number, profile: string): FieldMap => ({
    sub_path: `${height}p`, video_codec: 'libx264', profile, size: `0x${height}`, upscale: 'no',
    bitrate: `${bitrate}k`, maxrate: `${bitrate * 1.5}k`, bufsize: `${bitrate * 2}k`, audio_codec: 'aac', audio_bitrate: '128k',
  });
  return [rung(1080, 5000, 'high'), rung(720, 2800, 'high'), rung(480, 1400, 'high'), rung(360, 800, 'main')];
}

function ui(name: string, format: FieldMap & { output: string }): Preset {
  return { name, type: 'ui', output: format.output, format };
}

const BY_NAME = new Map(BUILT_IN_PRESETS.map((p) => [p.name, p]));

export function builtInPreset(name: string): Preset | undefined {
  return BY_NAME.get(name);
}

/**
 * A format's fields over a preset's: the preset's fields go under the format's own, so a field the
 * format gives wins. Field names compare without letter case (as parseFormat reads them), and an
 * empty field (`<bitrate/>`, which means "not given") does not hide the preset's value. Only whole
 * top-level fields are replaced: a nested block given by the format replaces the preset's block.
 */
export function mergeUnder(preset: FieldMap, own: FieldMap): FieldMap {
  const presetKeys = new Set(Object.keys(preset).map((k) => k.toLowerCase()));
  const given = new Set<string>();
  const merged: FieldMap = {};
  for (const [key, value] of Object.entries(own)) {
    if (isEmpty(value) && presetKeys.has(key.toLowerCase())) continue;
    merged[key] = value;
    given.add(key.toLowerCase());
  }
  for (const [key, value] of Object.entries(preset)) if (!given.has(key.toLowerCase())) merged[key] = value;
  return merged;
}

/** Fields that belong to one media, never to a preset. */
const NOT_PRESET_FIELDS = new Set(['destination', 'vtt_destination', 'save_preset', 'output_preset']);

/**
 * What is stored for a (merged, validated) format: without destinations and the preset fields
 * (`output_preset` is already merged in, so a preset never depends on another), without empty
 * fields, and with `output` first as the parsed output name.
 */
export function presetFields(fields: FieldMap, output: string): FieldMap {
  const stored: FieldMap = { output };
  for (const [key, value] of Object.entries(fields)) {
    const k = key.toLowerCase();
    if (k === 'output' || NOT_PRESET_FIELDS.has(k) || isEmpty(value)) continue;
    stored[key] = value;
  }
  return stored;
}

function isEmpty(value: FieldValue): boolean {
  return typeof value === 'string' && value.trim() === '';
}
