/**
 * Every encoding.com request field Encodery knows, in one table: where it may appear, what it is
 * (a URL, a secret, a picture setting, a setting pass-through must respect), and whether it is
 * honoured, accepted without effect (inert) or refused. Redaction (field-roles.ts), decode sharing
 * (plan/media.ts) and smart pass-through (plan/passthrough.ts) read their field lists from here;
 * field-check.ts walks a request against it; `npm run fields:table` writes the README table.
 *
 * A field that is not built yet is `...notYet(…)`: building it ends with replacing that spread
 * with `state: 'honoured'` (and `npm run fields:table`).
 */

import { QC_TESTS } from './qc.ts';
import { ROTATABLE_OUTPUTS, outputsOfKind } from './outputs.ts';
import { VIDEO_CODEC_NAMES } from './encoders.ts';

export type FieldState = 'honoured' | 'inert' | 'refused';
/**
 * - `url`: fetched or written like a source or destination (and its credentials are redacted);
 * - `secret`: never echoed (GetStatus, GetPreset, notifications and the dashboard mask it);
 * - `picture`: changes the decoded picture itself, so formats that differ in it cannot share one decode;
 * - `passthrough`: a setting a remux (smart pass-through) must be known to meet.
 */
export type FieldRole = 'url' | 'secret' | 'picture' | 'passthrough';

/** Nested blocks whose fields the registry lists. */
export const BLOCKS = ['logo', 'overlay', 'text_overlay', 'metadata', 'manifest', 'split_screen', 'qc', 'closed_captions', 'main_source', 'alternate_source'] as const;
export type Block = (typeof BLOCKS)[number];
/** `query` is the top level; `format` a `<format>`; `stream` a `<stream>` of a segmented output. */
export type Place = 'query' | 'format' | 'stream' | Block;

export interface FieldDef {
  name: string;
  in: readonly Place[];
  /** The outputs it applies to, when not all (documentation). */
  outputs?: readonly string[];
  roles?: readonly FieldRole[];
  /** For a `picture` field: the property of the parsed spec that holds its value. */
  specKey?: string;
  state: FieldState;
  /** Why an inert field changes nothing, or why a refused one is refused. */
  reason?: string;
  /** One line for the README table. */
  doc: string;
  /**
   * A nested block: `fields` = its own fields are listed here (place = its name); `free` = its
   * content is free-form or checked by its own reader (qc's schema), not by the registry.
   */
  block?: 'fields' | 'free';
}

const Q = ['query'] as const;
const F = ['format'] as const;
const S = ['stream'] as const;
/** Video and audio settings: a format's own, inherited by its streams, or a stream's. */
const FS = ['format', 'stream'] as const;

// The output lists come from the output table, so a new output is covered by every field of its kind.
const VIDEO_FILES = outputsOfKind('video');
const AUDIO_FILES = outputsOfKind('audio');
const HLS = outputsOfKind('hls', 'legacy_hls');
const LEGACY_HLS = outputsOfKind('legacy_hls');
const SEGMENTED = outputsOfKind('hls', 'legacy_hls', 'dash');
const DASH = outputsOfKind('dash');
const MOVING = [...VIDEO_FILES, ...SEGMENTED];
const ENCODED = [...MOVING, ...AUDIO_FILES];
const STILLS = outputsOfKind('thumbnail', 'image', 'gif');
const FILES = [...VIDEO_FILES, ...AUDIO_FILES];
const TRIMMED = [...ENCODED, 'gif'];

/** Names for the output lists above, so the README table stays short. */
export const OUTPUT_GROUPS: readonly { label: string; outputs: readonly string[] }[] = [
  { label: 'video files', outputs: VIDEO_FILES },
  { label: 'video and audio files', outputs: FILES },
  { label: 'HLS', outputs: HLS },
  { label: 'legacy HLS', outputs: LEGACY_HLS },
  { label: 'HLS, DASH, CMAF', outputs: SEGMENTED },
  { label: 'DASH, CMAF', outputs: DASH },
  { label: 'video files, HLS, DASH, CMAF', outputs: MOVING },
  { label: 'every encoded output', outputs: ENCODED },
  { label: 'every encoded output and gif', outputs: TRIMMED },
];

/** A field refused until it is built; the reply says so. */
function notYet(what: string): { state: 'refused'; reason: string } {
  return { state: 'refused', reason: `Encodery does not make ${what} yet` };
}

/** Why fairplay_drm is refused (domain/drm.ts says it in the reply too). */
export const FAIRPLAY_REASON = 'FairPlay needs the cbcs scheme (AES-CBC with a pattern), which FFmpeg 5.1 cannot write and Encodery does not make';
const WIDEVINE_SERVER = 'Encodery does not speak Widevine\'s own key-server protocol; keys come from drm_key, cpix_url or speke_url';

function inert(name: string, where: readonly Place[], reason: string, doc: string): FieldDef {
  return { name, in: where, state: 'inert', reason, doc };
}

export const FIELDS: readonly FieldDef[] = [
  // --- top level of the query (reference 1.2, 2.1, 6.1) ---------------------------------------
  { name: 'userid', in: Q, state: 'honoured', doc: 'the user id' },
  { name: 'userkey', in: Q, roles: ['secret'], state: 'honoured', doc: 'the user key' },
  { ...inert('oidc_refresh_token', Q, 'Encodery authenticates with userid and userkey only', 'an Okta refresh token (encoding.com\'s alternative login)'), roles: ['secret'] },
  { name: 'action', in: Q, state: 'honoured', doc: 'the action, any letter case' },
  { name: 'mediaid', in: Q, state: 'honoured', doc: 'the media (UpdateMedia, ProcessMedia; ignored by AddMedia)' },
  { name: 'name', in: Q, state: 'honoured', doc: 'SavePreset: the preset name' },
  { name: 'source', in: Q, roles: ['url'], state: 'honoured', doc: 'a source URL; several are joined in order' },
  { name: 'format', in: Q, state: 'honoured', doc: 'one output; repeatable' },
  { name: 'notify', in: Q, roles: ['url'], state: 'honoured', doc: 'URL called when the media ends' },
  { name: 'notify_format', in: Q, state: 'honoured', doc: '`xml` or `json`: the notifications\' format (not the reply\'s)' },
  { name: 'notify_encoding_errors', in: Q, roles: ['url'], state: 'honoured', doc: 'URL called when the media ends with encoding errors' },
  { name: 'notify_upload', in: Q, roles: ['url'], state: 'honoured', doc: 'URL called after each upload' },
  { name: 'notify_upload_extended', in: Q, state: 'honoured', doc: '`yes`: output_params in notify_upload' },
  { name: 'notify_body_format', in: Q, state: 'honoured', doc: '`form_urlencoded` or `raw`' },
  { name: 'qc_notify', in: Q, roles: ['url'], state: 'honoured', doc: 'URL called when a QC child ends' },
  { name: 'qc_start_notify', in: Q, roles: ['url'], state: 'honoured', doc: 'URL called when a QC child starts' },
  inert('notify_live_start', Q, 'Encodery has no live jobs', 'URL for live-stream start'),
  inert('extended_notify', Q, 'its effect is undocumented; the notification is the same', 'encoding.com\'s extended notification switch'),
  { name: 'meta', in: Q, state: 'honoured', block: 'free', doc: 'free-form metadata echoed in the notification' },
  { name: 'priority', in: Q, state: 'honoured', doc: 'queue priority' },
  { name: 'multijob_workflow', in: Q, state: 'honoured', doc: '`yes`: encode long sources in parallel chunks' },
  { name: 'split_screen', in: Q, state: 'honoured', block: 'fields', doc: 'several sources side by side in a grid' },
  { name: 'idempotency_key', in: Q, state: 'honoured', doc: 'AddMedia: a retry with the same key within 24 h answers the first media instead of adding another (Encodery\'s own)' },
  { name: 'strict', in: Q, state: 'honoured', doc: '`yes`: refuse unknown fields instead of warning (as ENCODERY_STRICT_FIELDS)' },
  inert('region', Q, 'Encodery encodes where it runs', 'encoding.com\'s data centre'),
  { name: 'instant', in: Q, state: 'honoured', doc: 'encoding starts while the source downloads (the default where safe, see Instant mode); `no`: fetch the whole source first' },
  inert('ludicrous_mode', Q, 'a speed option; the output is the same', 'encoding.com\'s faster processing'),
  { name: 'qc', in: ['query', 'format'], state: 'honoured', block: 'fields', doc: '`auto` or a set of QC tests (see Quality control)' },
  // Each test's own settings (value, min, max, severity, …) are checked by the QC schema.
  ...QC_TESTS.map((name): FieldDef => ({ name, in: ['qc'], state: 'honoured', block: 'free', doc: 'a QC test (see Quality control)' })),
  { name: 'qc_fail_parent', in: ['query', 'format'], state: 'honoured', doc: '`yes`: a fatal QC result fails the task' },

  // --- split_screen -----------------------------------------------------------------------------
  { name: 'columns', in: ['split_screen'], state: 'honoured', doc: 'grid columns (1-8)' },
  { name: 'rows', in: ['split_screen'], state: 'honoured', doc: 'grid rows (1-8)' },
  ...['padding_left', 'padding_right', 'padding_top', 'padding_bottom'].map((name): FieldDef => ({ name, in: ['split_screen'], state: 'honoured', doc: 'pixels around each cell (even)' })),

  // --- a format: what it is and where it goes ------------------------------------------------
  { name: 'output', in: F, state: 'honoured', doc: 'the output kind (see Outputs)' },
  { name: 'destination', in: F, roles: ['url'], state: 'honoured', doc: 'where the output goes; repeatable' },
  { name: 'output_preset', in: F, state: 'honoured', doc: 'a preset merged under the format\'s own fields' },
  { name: 'save_preset', in: F, state: 'honoured', doc: 'save this format as a user preset' },
  inert('file_extension', F, 'the file name comes from the destination', 'the output file\'s extension'),
  inert('encoder', FS, 'encoding.com\'s engine choice; Encodery has one', '`v1`, `v3`, `edc1`'),
  inert('twin_turbo', FS, 'a speed option; the output is the same', 'encoding.com\'s faster encode'),
  inert('veryfast', S, 'a speed option; the output is the same', 'encoding.com\'s faster encode'),
  inert('ftyp', FS, 'the MP4 brand players ignore; Encodery writes isom, which mp42 readers take', '`mp42` or `3gp5`'),
  { name: 'hint', in: FS, ...notYet('RTSP hint tracks'), doc: '`yes`: MP4 hint tracks (`no` is accepted)' },
  { name: 'copy_nielsen_metadata', in: FS, outputs: SEGMENTED, ...notYet('Nielsen ID3 metadata'), doc: '`yes`: keep Nielsen watermark metadata' },
  { name: 'byte_range', in: S, outputs: HLS, ...notYet('byte-range media playlists'), doc: '`yes`: one file per variant, addressed by byte ranges' },
  { name: 'use_video_codec_parameters', in: FS, state: 'honoured', doc: '`no`: video_codec_parameters are not used' },
  inert('vcodecparameters', FS, 'video_codec_parameters itself decides', 'vendor samples\' switch for video_codec_parameters'),

  // --- video (reference 4.3) ------------------------------------------------------------------
  { name: 'video_codec', in: FS, outputs: MOVING, roles: ['passthrough'], state: 'honoured', doc: `${[...new Set(Object.values(VIDEO_CODEC_NAMES))].join(', ')} (per output: see Every output)` },
  { name: 'size', in: FS, roles: ['passthrough'], state: 'honoured', doc: '`WxH`, even; 0 on one side keeps the aspect (legacy HLS: a comma list)' },
  { name: 'keep_aspect_ratio', in: FS, roles: ['passthrough'], state: 'honoured', doc: '`yes`: fit inside `size` and pad; `no`: stretch' },
  { name: 'bitrate', in: FS, outputs: MOVING, roles: ['passthrough'], state: 'honoured', doc: 'video bitrate, e.g. `900k`' },
  { name: 'maxrate', in: FS, outputs: MOVING, roles: ['passthrough'], state: 'honoured', doc: 'peak rate; needs bufsize' },
  { name: 'minrate', in: FS, outputs: MOVING, roles: ['passthrough'], state: 'honoured', doc: 'lowest rate; needs bufsize' },
  { name: 'bufsize', in: FS, outputs: MOVING, roles: ['passthrough'], state: 'honoured', doc: 'rate-control buffer' },
  { name: 'framerate', in: FS, outputs: MOVING, roles: ['passthrough'], state: 'honoured', doc: 'frames per second, or `copy`' },
  { name: 'keyframe', in: FS, outputs: MOVING, roles: ['passthrough'], state: 'honoured', doc: 'GOP length in frames' },
  { name: 'profile', in: FS, outputs: MOVING, roles: ['passthrough'], state: 'honoured', doc: 'H.264 `baseline|main|high`, HEVC `main` (with other codecs the task log says it is ignored)' },
  { name: 'level', in: FS, outputs: MOVING, roles: ['passthrough'], state: 'honoured', doc: 'H.264/HEVC level, `31` or `3.1`' },
  { name: 'turbo', in: FS, outputs: MOVING, state: 'honoured', doc: 'a faster encoder preset' },
  { name: 'two_pass', in: F, outputs: VIDEO_FILES, state: 'honoured', doc: 'two-pass rate control' },
  { name: 'crop_left', in: FS, outputs: MOVING, roles: ['picture', 'passthrough'], specKey: 'crop', state: 'honoured', doc: 'pixels cut from the left (even)' },
  { name: 'crop_top', in: FS, outputs: MOVING, roles: ['picture', 'passthrough'], specKey: 'crop', state: 'honoured', doc: 'pixels cut from the top (even)' },
  { name: 'crop_right', in: FS, outputs: MOVING, roles: ['picture', 'passthrough'], specKey: 'crop', state: 'honoured', doc: 'pixels cut from the right (even)' },
  { name: 'crop_bottom', in: FS, outputs: MOVING, roles: ['picture', 'passthrough'], specKey: 'crop', state: 'honoured', doc: 'pixels cut from the bottom (even)' },
  { name: 'rotate', in: FS, outputs: MOVING, roles: ['picture', 'passthrough'], specKey: 'rotate', state: 'honoured', doc: '`def` (follow the metadata), 0, 90, 180, 270' },
  { name: 'deinterlacing', in: FS, outputs: MOVING, roles: ['picture', 'passthrough'], specKey: 'deinterlacing', state: 'honoured', doc: '`auto`, `yes`, `no`' },
  { name: 'auto_crop', in: F, outputs: MOVING, roles: ['picture', 'passthrough'], specKey: 'autoCrop', block: 'free', state: 'honoured', doc: '`{enable, crop_type, limit, round}`: crop the black borders cropdetect finds in the source (ignored when a `crop_*` is given)' },
  { name: 'noise_reduction', in: FS, outputs: MOVING, roles: ['picture', 'passthrough'], specKey: 'noiseReduction', state: 'honoured', doc: '`luma_spatial:chroma_spatial:luma_temp` or a level 0-6: hqdn3d before scaling' },
  { name: 'burnin_timecode', in: F, outputs: MOVING, roles: ['picture', 'passthrough'], specKey: 'burninTimecode', state: 'honoured', doc: '`yes`: the source\'s timecode drawn on the picture' },
  { name: 'set_aspect_ratio', in: FS, outputs: MOVING, roles: ['passthrough'], state: 'honoured', doc: '`16:9`, `1.7778` or `source`: the display aspect ratio written (keep_aspect_ratio is then ignored)' },
  { name: 'cbr', in: FS, outputs: MOVING, roles: ['passthrough'], state: 'honoured', doc: '`yes`: hold the video rate at `bitrate`' },
  { name: 'hard_cbr', in: FS, outputs: MOVING, roles: ['passthrough'], state: 'honoured', doc: '`yes`: constant bitrate padded with filler data (H.264 in MPEG-TS, HEVC)' },
  {
    // No pass-through role: pass-through checks the source's dynamic range against it itself.
    name: 'hdr', in: FS, outputs: MOVING, state: 'honoured',
    doc: 'Encodery\'s own, for HDR (PQ, HLG) sources: `tonemap` (default) makes BT.709 SDR; `keep` stays HDR10/HLG, 10-bit, with its metadata (libx265; libvpx-vp9 tags only)',
  },
  { name: 'upscale', in: FS, outputs: MOVING, state: 'honoured', doc: 'Encodery\'s own: `no` never makes a picture larger than the source (ladder rungs above it are left out)' },
  {
    name: 'pix_format', in: FS, outputs: MOVING, roles: ['passthrough'], state: 'honoured', doc: '`yuv420p` (default), `yuv422p`, `yuv444p` and their 10-bit forms, as the output and codec take them (see Every output)',
  },
  { name: 'video_codec_parameters', in: FS, outputs: MOVING, roles: ['passthrough'], block: 'free', state: 'honoured', doc: 'x264 options (reference 4.3\'s children, each checked; an empty block or `no` is not given)' },
  {
    name: 'init_video_codec_parameters', in: S, outputs: SEGMENTED, roles: ['passthrough'], block: 'free', state: 'honoured', doc: 'a stream\'s x264 options, as video_codec_parameters',
  },

  // --- audio (reference 4.4) ------------------------------------------------------------------
  { name: 'audio_codec', in: FS, outputs: ENCODED, roles: ['passthrough'], state: 'honoured', doc: 'aac, libmp3lame, libvorbis, libopus, ac3, eac3, flac, pcm, copy (per output)' },
  { name: 'audio_bitrate', in: FS, outputs: ENCODED, roles: ['passthrough'], state: 'honoured', doc: 'e.g. `128k`' },
  { name: 'audio_sample_rate', in: FS, outputs: ENCODED, roles: ['passthrough'], state: 'honoured', doc: 'Hz' },
  { name: 'audio_channels_number', in: FS, outputs: ENCODED, roles: ['passthrough'], state: 'honoured', doc: '1 to 8' },
  { name: 'audio_volume', in: FS, outputs: ENCODED, roles: ['passthrough'], state: 'honoured', doc: 'percent, 100 = unchanged' },
  { name: 'loudnorm', in: FS, outputs: ENCODED, roles: ['passthrough'], state: 'honoured', doc: 'EBU R128 loudness: `yes` or a LUFS target' },
  { name: 'loudnorm_range', in: FS, outputs: ENCODED, roles: ['passthrough'], state: 'honoured', doc: 'loudness range, LU' },
  { name: 'loudnorm_peak', in: FS, outputs: ENCODED, roles: ['passthrough'], state: 'honoured', doc: 'true peak, dBTP' },
  { name: 'audio_normalization', in: FS, outputs: ENCODED, roles: ['passthrough'], state: 'honoured', doc: '0-100: EBU R128 with the peak under N %' },
  {
    name: 'audio_stream', in: FS, outputs: ENCODED, roles: ['passthrough'], state: 'honoured',
    doc: 'the source\'s audio tracks to carry: numbers from 0, language codes (`eng`, `en`) or `all`, comma-separated (several: mp4, mov, mkv, mpegts, HLS and DASH renditions)',
  },
  // No pass-through role: a remux keeps the source's channels, so it never downmixes.
  { name: 'downmix_mode', in: FS, outputs: ENCODED, state: 'honoured', doc: 'folding surround into fewer channels: `default`, `pl2` (Dolby Pro Logic II), `dpl` (Dolby Surround)' },
  {
    name: 'closed_captions', in: F, outputs: MOVING, roles: ['passthrough'], block: 'fields', state: 'honoured',
    doc: 'a caption file (SRT, WebVTT, SCC, TTML/DFXP) or the source\'s CEA-608 as a subtitle track (mov_text in mp4/mov, WebVTT in webm, SRT or ASS in mkv, WebVTT renditions in HLS, a text adaptation set in DASH), burned in, or a sidecar file beside the output (`extract srt|vtt|scc|dfxp`); repeatable',
  },

  // --- closed_captions (reference 4.5) --------------------------------------------------------
  { name: 'source', in: ['closed_captions'], roles: ['url'], state: 'honoured', doc: 'URL of an SRT, WebVTT, SCC or TTML/DFXP file (TTML read by Encodery: timing and text, no styling or regions)' },
  { name: 'language', in: ['closed_captions'], state: 'honoured', doc: 'language code (`en`, `eng`, `pt-BR`; `und`)' },
  { name: 'label', in: ['closed_captions'], state: 'honoured', doc: 'the name players show (HLS NAME, the track title); Encodery\'s own' },
  { name: 'time_offset', in: ['closed_captions'], state: 'honoured', doc: 'seconds added to every cue (may be negative)' },
  { name: 'mux_type', in: ['closed_captions'], state: 'honoured', doc: '`embed` (default), `burn`, or a file output\'s codec: `mov_text`, `webvtt`, `srt`, `ass`' },
  { name: 'burn', in: ['closed_captions'], state: 'honoured', doc: '`yes`: drawn on the picture (libass) instead of a track' },
  { name: 'burnin', in: ['closed_captions'], state: 'honoured', doc: 'as burn' },
  { name: 'default', in: ['closed_captions'], state: 'honoured', doc: '`yes`: the default track (HLS DEFAULT; the first track when none says)' },
  { name: 'autoselect', in: ['closed_captions'], state: 'honoured', doc: '`no`: HLS AUTOSELECT=NO (yes)' },
  { name: 'font_source', in: ['closed_captions'], roles: ['url'], state: 'honoured', doc: 'burned captions: a .ttf/.otf URL (the system\'s Sans if absent)' },
  { name: 'vtt_segment_duration', in: ['closed_captions'], outputs: SEGMENTED, state: 'honoured', doc: 'HLS WebVTT segment seconds, may be a float (the output\'s segment_duration)' },
  { name: 'copy', in: ['closed_captions'], state: 'honoured', doc: 'a block of its own: `yes` keeps the source\'s CEA-608/708 in the video (libx264 outputs only), `no` drops them' },
  { name: 'extract', in: ['closed_captions'], state: 'honoured', doc: '`yes` instead of source: the source\'s CEA-608 captions (H.264 SEI or MPEG-2 user data, field 1) become this track (or are burned in); `srt`, `vtt`, `scc` or `dfxp`: a sidecar file in that format beside the output, named after it, from `source` or else from the source\'s CEA-608 (`scc` only from CEA-608)' },

  // --- timing and editing (reference 4.5) -----------------------------------------------------
  { name: 'start', in: F, outputs: TRIMMED, roles: ['passthrough'], state: 'honoured', doc: 'seconds, `hh:mm:ss.ms` or a timecode' },
  { name: 'duration', in: F, outputs: TRIMMED, roles: ['passthrough'], state: 'honoured', doc: 'seconds' },
  { name: 'finish', in: F, outputs: TRIMMED, roles: ['passthrough'], state: 'honoured', doc: 'end time; ignored with duration' },
  { name: 'fade_in', in: F, outputs: MOVING, roles: ['passthrough'], state: 'honoured', doc: '`Start:Duration`, picture and sound' },
  { name: 'fade_out', in: F, outputs: MOVING, roles: ['passthrough'], state: 'honoured', doc: '`Start:Duration`, picture and sound' },
  { name: 'logo', in: F, outputs: MOVING, roles: ['passthrough'], state: 'honoured', block: 'fields', doc: 'an image drawn on the picture' },
  { name: 'overlay', in: F, outputs: MOVING, roles: ['passthrough'], state: 'honoured', block: 'fields', doc: 'an image or video drawn on the picture; repeatable' },
  { name: 'text_overlay', in: F, outputs: MOVING, roles: ['passthrough'], state: 'honoured', block: 'fields', doc: 'text drawn on the picture; repeatable' },
  { name: 'set_rotate', in: FS, outputs: ROTATABLE_OUTPUTS, state: 'honoured', doc: 'rotation metadata to write: 0, 90, 180, 270, `source`' },
  { name: 'metadata', in: F, outputs: FILES, state: 'honoured', block: 'fields', doc: 'tags to write, or `copy`' },
  { name: 'metadata_copy', in: F, outputs: FILES, state: 'honoured', doc: '`yes`: copy the source\'s tags' },
  { name: 'strip_chapters', in: F, outputs: FILES, state: 'honoured', doc: '`yes`: leave chapters out' },
  { name: 'smart_passthrough', in: F, outputs: FILES, state: 'honoured', doc: '`no`: always encode, never remux' },

  // --- logo, overlay, text_overlay, metadata ----------------------------------------------------
  { name: 'logo_source', in: ['logo'], roles: ['url'], state: 'honoured', doc: 'GIF, JPG or PNG URL' },
  { name: 'logo_x', in: ['logo'], state: 'honoured', doc: 'pixels from the left (10)' },
  { name: 'logo_y', in: ['logo'], state: 'honoured', doc: 'pixels from the top (10)' },
  { name: 'logo_mode', in: ['logo'], state: 'honoured', doc: '0 blend, 1 opaque' },
  { name: 'logo_threshold', in: ['logo'], state: 'honoured', doc: 'colour made transparent (`rrggbb`)' },
  { name: 'logo_transparent', in: ['logo'], state: 'honoured', doc: 'colour made transparent (`rrggbb`)' },
  { name: 'overlay_source', in: ['overlay'], roles: ['url'], state: 'honoured', doc: 'image or video URL' },
  ...['overlay_left', 'overlay_right', 'overlay_top', 'overlay_bottom'].map((name): FieldDef => ({ name, in: ['overlay'], state: 'honoured', doc: 'pixels, `N%` or `center`' })),
  { name: 'overlay_x', in: ['overlay', 'text_overlay'], state: 'honoured', doc: 'pixels from the left' },
  { name: 'overlay_y', in: ['overlay', 'text_overlay'], state: 'honoured', doc: 'pixels from the top' },
  { name: 'overlay_start', in: ['overlay', 'text_overlay'], state: 'honoured', doc: 'seconds into the output' },
  { name: 'overlay_duration', in: ['overlay', 'text_overlay'], state: 'honoured', doc: 'seconds shown' },
  { name: 'size', in: ['overlay', 'text_overlay'], state: 'honoured', doc: 'overlay: `WxH`; text_overlay: refused (use font_size)' },
  { name: 'keep_audio', in: ['overlay'], state: 'honoured', doc: 'must be 0 (mixing the overlay\'s sound is refused)' },
  { name: 'text', in: ['text_overlay'], state: 'honoured', doc: 'the text, drawn as sent' },
  { name: 'font_source', in: ['text_overlay'], roles: ['url'], state: 'honoured', doc: '.ttf/.otf URL' },
  { name: 'font_size', in: ['text_overlay'], state: 'honoured', doc: 'pixels (24)' },
  { name: 'font_color', in: ['text_overlay'], state: 'honoured', doc: '`rrggbb` (000000)' },
  { name: 'font_rotate', in: ['text_overlay'], state: 'honoured', doc: 'must be 0' },
  { name: 'align_center', in: ['text_overlay'], state: 'honoured', doc: '`1`: centred across' },
  ...['title', 'copyright', 'author', 'description', 'album'].map((name): FieldDef => ({ name, in: ['metadata'], state: 'honoured', doc: 'a tag' })),
  { name: 'copy', in: ['metadata'], state: 'honoured', doc: 'copy the source\'s tags' },

  // --- HLS, DASH, CMAF (reference 4.6, 4.7) ---------------------------------------------------
  { name: 'stream', in: F, outputs: SEGMENTED, state: 'honoured', doc: 'a variant; 1 to 15' },
  { name: 'segment_duration', in: F, outputs: SEGMENTED, state: 'honoured', doc: 'seconds (6; legacy HLS 9)' },
  { name: 'sub_path', in: S, outputs: SEGMENTED, state: 'honoured', doc: 'the variant\'s folder' },
  { name: 'audio_only', in: FS, outputs: SEGMENTED, state: 'honoured', doc: '`yes`: an audio-only variant' },
  { name: 'video_only', in: FS, outputs: MOVING, roles: ['passthrough'], state: 'honoured', doc: '`yes`: no audio (a video file without it, or a variant without it)' },
  { name: 'add_iframe_stream', in: FS, outputs: HLS, state: 'honoured', doc: 'an I-frame playlist per variant' },
  { name: 'add_audio_only', in: F, outputs: LEGACY_HLS, state: 'honoured', doc: 'an audio-only variant' },
  { name: 'bitrates', in: F, outputs: LEGACY_HLS, state: 'honoured', doc: 'comma list, one per variant' },
  { name: 'framerates', in: F, outputs: LEGACY_HLS, state: 'honoured', doc: 'comma list, one per variant' },
  { name: 'keyframes', in: F, outputs: LEGACY_HLS, state: 'honoured', doc: 'comma list, one per variant' },
  { name: 'pack_files', in: F, outputs: HLS, state: 'honoured', doc: '`yes`: deliver archives' },
  { name: 'pack_type', in: F, outputs: HLS, state: 'honoured', doc: '`tar` or `zip`' },
  { name: 'pack_each_stream', in: F, outputs: HLS, state: 'honoured', doc: 'one archive per variant' },
  { name: 'encryption', in: FS, outputs: HLS, state: 'honoured', doc: '`yes`: AES-128 segments (HLS; refused by DASH and CMAF)' },
  { name: 'encryption_method', in: F, outputs: HLS, state: 'honoured', doc: '`aes-128-cbc`' },
  { name: 'encryption_key', in: F, outputs: HLS, roles: ['secret'], state: 'honoured', doc: '32 hex digits (random when absent)' },
  { name: 'encryption_iv', in: F, outputs: HLS, roles: ['secret'], state: 'honoured', doc: '32 hex digits (random when absent)' },
  { name: 'encryption_key_file', in: F, outputs: HLS, state: 'honoured', doc: 'the key\'s URL in the playlists' },
  { name: 'encryption_password', in: F, roles: ['secret'], ...notYet('keys derived from a password'), doc: 'a password for the key' },
  { name: 'manifest', in: FS, outputs: SEGMENTED, block: 'fields', ...notYet('extra manifests'), doc: 'extra manifests' },
  ...['basename', 'destination', 'add_audio_only', 'add_hls_drm_metadata', 'add_audio_channels', 'add_all_cea_cc_channels', 'add_to_manifest'].map((name): FieldDef => ({
    name, in: ['manifest'], roles: name === 'destination' ? ['url'] : [], ...notYet('extra manifests'), doc: 'an extra manifest\'s setting',
  })),
  { name: 'main_source', in: F, outputs: SEGMENTED, state: 'honoured', block: 'fields', doc: '`{language}`: the language of the main source\'s audio rendition (HLS LANGUAGE, DASH lang), whatever its file says' },
  { name: 'language', in: ['main_source'], state: 'honoured', doc: 'language code (`en`, `eng`, `pt-BR`)' },
  { name: 'alternate_source', in: F, outputs: SEGMENTED, state: 'honoured', block: 'fields', doc: 'one more audio rendition from another file, in every video variant\'s audio group; repeatable (8)' },
  { name: 'source', in: ['alternate_source'], roles: ['url'], state: 'honoured', doc: 'Encodery\'s name for the audio file\'s URL (its first audio track), fetched like a source' },
  { name: 'language', in: ['alternate_source'], state: 'honoured', doc: 'its language code (required)' },
  { name: 'alternate_default', in: ['alternate_source'], state: 'honoured', doc: '`yes`: the default rendition instead of the main source\'s (no)' },
  { name: 'alternate_autoselect', in: ['alternate_source'], state: 'honoured', doc: '`no`: HLS AUTOSELECT=NO (yes)' },
  { name: 'ad_break', in: F, outputs: SEGMENTED, block: 'free', ...notYet('ad markers'), doc: 'ad markers' },
  { name: 'drm', in: F, outputs: DASH, state: 'honoured', doc: '`yes`: Common Encryption (cenc) of the segments; needs a key source (`no` with one is refused)' },
  { name: 'drm_key', in: F, outputs: DASH, roles: ['secret'], state: 'honoured', doc: 'Encodery\'s own: the content key, 32 hex digits (with drm_key_id)' },
  { name: 'drm_key_id', in: F, outputs: DASH, state: 'honoured', doc: 'Encodery\'s own: the key id (default_KID), 32 hex digits or a UUID' },
  { name: 'cpix_url', in: F, outputs: DASH, roles: ['url'], state: 'honoured', doc: 'Encodery\'s own: a CPIX 2.x document with the content keys, fetched like a source' },
  { name: 'speke_url', in: F, outputs: DASH, roles: ['url'], state: 'honoured', doc: 'Encodery\'s own: a SPEKE v2 key server asked for the content keys' },
  { name: 'drm_content_id', in: F, outputs: DASH, state: 'honoured', doc: 'Encodery\'s own: the content id sent to the SPEKE server (the media id when absent)' },
  { name: 'widevine', in: F, outputs: DASH, state: 'honoured', doc: '`yes`: a Widevine pssh and ContentProtection' },
  { name: 'playready_drm', in: F, outputs: DASH, state: 'honoured', doc: '`yes`: a PlayReady pssh and ContentProtection' },
  { name: 'clearkey_drm', in: F, outputs: DASH, state: 'honoured', doc: '`yes`: a W3C common (ClearKey) pssh and ContentProtection' },
  { name: 'fairplay_drm', in: ['format', 'stream'], state: 'refused', reason: FAIRPLAY_REASON, doc: 'FairPlay DRM' },
  ...['drm', 'clearkey_drm', 'playready_drm', 'fairplay_drm'].map((name): FieldDef => ({ name, in: ['manifest'], ...notYet('extra manifests'), doc: 'DRM of an extra manifest' })),
  { name: 'drm', in: S, ...notYet('per-stream DRM settings (set them on the format)'), doc: 'a stream\'s DRM (set on the format)' },
  { name: 'widevine_key_server_url', in: F, state: 'refused', reason: WIDEVINE_SERVER, doc: 'Widevine key server' },
  { name: 'widevine_aes_signing_key', in: F, roles: ['secret'], state: 'refused', reason: WIDEVINE_SERVER, doc: 'Widevine signing key' },
  { name: 'widevine_aes_signing_iv', in: F, roles: ['secret'], state: 'refused', reason: WIDEVINE_SERVER, doc: 'Widevine signing IV' },
  { name: 'widevine_signer', in: F, state: 'refused', reason: WIDEVINE_SERVER, doc: 'Widevine signer' },
  { name: 'widevine_content_id', in: F, state: 'refused', reason: WIDEVINE_SERVER, doc: 'Widevine content id' },
  { name: 'track_type', in: S, outputs: DASH, state: 'honoured', doc: 'the CPIX track type (SD, HD, UHD1, AUDIO…) whose key protects this stream (cpix_url, speke_url)' },
  inert('hdcp_level', S, 'HDCP is a licence policy of the DRM server, not part of the encrypted media', 'CPIX HDCP level'),

  // --- pictures (reference 4.8, 4.9) ----------------------------------------------------------
  { name: 'time', in: F, outputs: ['thumbnail', 'image'], state: 'honoured', doc: 'seconds, `hh:mm:ss.ms`, `N%` or `N!` (every N s)' },
  { name: 'width', in: F, outputs: STILLS, state: 'honoured', doc: 'pixels' },
  { name: 'height', in: F, outputs: STILLS, state: 'honoured', doc: 'pixels' },
  { name: 'quality', in: F, outputs: ['thumbnail', 'image'], state: 'honoured', doc: '1-100 (90)' },
  { name: 'remove_metadata', in: F, outputs: ['thumbnail', 'image'], state: 'honoured', doc: '`yes`: no tags in the file' },
  { name: 'use_vtt', in: F, outputs: ['thumbnail'], state: 'honoured', doc: '`yes`: sprite sheets and a WebVTT storyboard' },
  { name: 'vtt_line_size', in: F, outputs: ['thumbnail'], state: 'honoured', doc: 'tiles per row (5)' },
  { name: 'vtt_max_lines', in: F, outputs: ['thumbnail'], state: 'honoured', doc: 'rows per sheet (5)' },
  { name: 'vtt_destination', in: F, outputs: ['thumbnail'], roles: ['url'], state: 'honoured', doc: 'where the VTT goes' },
  { name: 'public_url', in: F, outputs: ['thumbnail'], state: 'honoured', doc: 'public address of the sheets, for the cues' },
  { name: 'image_format', in: F, outputs: ['image'], state: 'honoured', doc: 'jpg, png, gif, webp' },
  { name: 'resize_method', in: F, outputs: ['image'], state: 'honoured', doc: 'resize, crop, combine' },
  { name: 'sharpen_radius', in: F, outputs: ['image'], state: 'honoured', doc: '0-11 pixels' },
  { name: 'sharpen_sigma', in: F, outputs: ['image'], state: 'honoured', doc: '0.1-5' },
  { name: 'interval', in: F, outputs: ['gif'], state: 'honoured', doc: 'frame delay, 1/100 s (10)' },
  { name: 'loop', in: F, outputs: ['gif'], state: 'honoured', doc: '-1 forever, 0 once, N repeats' },
  { name: 'colors', in: F, outputs: ['gif'], state: 'honoured', doc: '4-255 (128)' },
  { name: 'dither', in: F, outputs: ['gif'], state: 'honoured', doc: 'bayer, heckbert, floyd_steinberg, sierra2, sierra2_4a' },
];

/**
 * The sections of the table above, for the dashboard's format editor: each runs from its first
 * field to the next one's, so a field added inside a section lands in its group.
 */
const SECTION_STARTS: readonly { title: string; first: string }[] = [
  { title: 'Media', first: 'userid' },
  { title: 'Quality control', first: 'qc' },
  { title: 'Split screen', first: 'columns' },
  { title: 'Output', first: 'output' },
  { title: 'Video', first: 'video_codec' },
  { title: 'Audio', first: 'audio_codec' },
  { title: 'Timing and editing', first: 'start' },
  { title: 'Logo, overlays and tags', first: 'logo_source' },
  { title: 'HLS, DASH, CMAF', first: 'stream' },
  { title: 'Pictures', first: 'time' },
];

const SECTION_OF = new Map<FieldDef, string>();
{
  const starts = new Map(SECTION_STARTS.map((s) => [FIELDS.findIndex((d) => d.name === s.first), s.title]));
  if (starts.has(-1) || !starts.has(0)) throw new Error('field registry: a section starts at a field that is not listed (or none at the first)');
  let title = '';
  FIELDS.forEach((d, i) => SECTION_OF.set(d, (title = starts.get(i) ?? title)));
}

/** The section of the registry a field is listed in (`Video`, `Audio`, …). */
export function sectionOf(def: FieldDef): string {
  return SECTION_OF.get(def) ?? '';
}

/** An output list in words: its group's name (`HLS, DASH, CMAF`), or the outputs themselves. */
export function describeOutputs(outputs: readonly string[]): string {
  const group = OUTPUT_GROUPS.find((g) => g.outputs.join() === outputs.join());
  return group ? group.label : outputs.join(', ');
}

// --- lookups ------------------------------------------------------------------------------------

const BY_PLACE = new Map<string, FieldDef>();
for (const def of FIELDS) {
  for (const place of def.in) {
    const key = `${place}:${def.name}`;
    if (BY_PLACE.has(key)) throw new Error(`field registry: ${def.name} is listed twice in ${place}`);
    BY_PLACE.set(key, def);
  }
}

/** The field of that name at that place (names compare without letter case). */
export function fieldAt(place: Place, name: string): FieldDef | undefined {
  return BY_PLACE.get(`${place}:${name.toLowerCase()}`);
}

/** The places a field of that name is known in, anywhere. */
export function placesOf(name: string): Place[] {
  const n = name.toLowerCase();
  return FIELDS.filter((d) => d.name === n).flatMap((d) => d.in);
}

export function fieldsAt(place: Place): FieldDef[] {
  return FIELDS.filter((d) => d.in.includes(place));
}

export function hasRole(def: FieldDef, role: FieldRole): boolean {
  return def.roles?.includes(role) ?? false;
}

/** Names of the fields with a role, anywhere. */
export function namesWithRole(role: FieldRole): string[] {
  return [...new Set(FIELDS.filter((d) => hasRole(d, role)).map((d) => d.name))];
}

/** The spec properties that make up a decoded picture, in registry order. */
export const PICTURE_KEYS: readonly string[] = [...new Set(FIELDS.filter((d) => hasRole(d, 'picture') && d.specKey).map((d) => d.specKey!))];

/** Format fields a remux must be known to meet. */
export const PASSTHROUGH_FIELDS: readonly string[] = namesWithRole('passthrough');
