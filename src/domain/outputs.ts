/**
 * Every output Encodery makes, in one table (issue 18): what each one is, the container its file
 * goes in, the encoders and pixel formats it takes. The format reader, the planner, split-and-stitch,
 * pass-through, the field registry, the dashboard's filter and the README's output table all read
 * it, so a new output is a new row here (and, for a new encoder, its entry in encoders.ts and its
 * options in pipeline/plan/codecs.ts). Every row is also a task's stored `output`.
 */
import { PIXEL_FORMATS, VIDEO_CODEC_NAMES, type AudioCodec, type PixelFormat, type VideoCodec } from './encoders.ts';

/** The facts of a file's container, shared by every output written in it. */
interface ContainerProfile {
  /** The file name extension. */
  extension: string;
  /** Muxer options after the streams: faststart moves the MP4 index to the front so playback starts before the download ends. */
  muxerOptions: readonly string[];
  /** Its muxer writes a display matrix (FFmpeg 5.1 writes none into Matroska or MPEG-TS), so set_rotate can be honoured. */
  rotatable: boolean;
  /** HEVC is tagged `hvc1`, which Apple players need (Matroska and MPEG-TS have no such tag). */
  hvc1: boolean;
  /** Source audio codecs (ffprobe's names) it takes as they are, for `audio_codec copy`. */
  copyableAudio: readonly string[];
}

const FASTSTART = ['-movflags', '+faststart'] as const;

export const CONTAINERS = {
  mp4: { extension: 'mp4', muxerOptions: FASTSTART, rotatable: true, hvc1: true, copyableAudio: ['aac', 'mp3', 'ac3', 'eac3', 'alac', 'opus'] },
  mov: { extension: 'mov', muxerOptions: FASTSTART, rotatable: true, hvc1: true, copyableAudio: ['aac', 'mp3', 'ac3', 'eac3', 'alac', 'pcm_s16le', 'pcm_s24le'] },
  mkv: {
    extension: 'mkv', muxerOptions: [], rotatable: false, hvc1: false,
    copyableAudio: ['aac', 'mp3', 'ac3', 'eac3', 'opus', 'vorbis', 'flac', 'alac', 'dts', 'truehd', 'pcm_s16le', 'pcm_s24le'],
  },
  webm: { extension: 'webm', muxerOptions: [], rotatable: false, hvc1: false, copyableAudio: ['opus', 'vorbis'] },
  mpegts: { extension: 'ts', muxerOptions: ['-f', 'mpegts'], rotatable: false, hvc1: false, copyableAudio: ['aac', 'mp3', 'ac3', 'eac3', 'mp2', 'opus'] },
  mp3: { extension: 'mp3', muxerOptions: [], rotatable: false, hvc1: false, copyableAudio: ['mp3'] },
  m4a: { extension: 'm4a', muxerOptions: FASTSTART, rotatable: false, hvc1: false, copyableAudio: ['aac', 'alac'] },
  ogg: { extension: 'ogg', muxerOptions: [], rotatable: false, hvc1: false, copyableAudio: ['vorbis', 'opus', 'flac'] },
  wav: { extension: 'wav', muxerOptions: [], rotatable: false, hvc1: false, copyableAudio: [] },
  flac: { extension: 'flac', muxerOptions: [], rotatable: false, hvc1: false, copyableAudio: [] },
} as const satisfies Record<string, ContainerProfile>;
export type Container = keyof typeof CONTAINERS;

/**
 * How a format of the output is read and planned: a single video or audio file, a picture, or a
 * segmented output with manifests and `<stream>` variants (`legacy_hls`: the comma-list HLS outputs).
 */
export type OutputKind = 'video' | 'audio' | 'thumbnail' | 'image' | 'gif' | 'hls' | 'legacy_hls' | 'dash';

interface OutputProfile {
  kind: OutputKind;
  /** The container of a single-file output; null for pictures and segmented outputs. */
  container: Container | null;
  /** Split-and-stitch may cut it into chunks (pipeline/split/plan.ts says what else must hold). */
  splittable: boolean;
  /** The encoders it takes, its default first; empty without a moving picture. */
  videoCodecs: readonly VideoCodec[];
  /** The audio codecs it takes, its default first; empty without sound. */
  audioCodecs: readonly AudioCodec[];
  /** The pixel formats it takes (`pix_format`), its default first. */
  pixelFormats: readonly PixelFormat[];
}

const H26X = ['libx264', 'libx265'] as const;
const AV1 = ['libsvtav1', 'libaom-av1'] as const;
const MP4_AUDIO = ['aac', 'libmp3lame', 'ac3', 'eac3', 'copy'] as const;
// MPEG-TS segments; every rendition is encoded (a copied stream could not be cut at our keyframes).
const TS_SEGMENT_AUDIO = ['aac', 'libmp3lame', 'ac3', 'eac3'] as const;
// fMP4 segments, every rendition encoded; Opus in MP4 plays in DASH (MSE) players, not in HLS ones.
const DASH_AUDIO = ['aac', 'libopus', 'ac3', 'eac3'] as const;
const CMAF_AUDIO = ['aac', 'ac3', 'eac3'] as const;
// fMP4 segments: DASH players (MSE) take VP9 and AV1 as well; HLS players (Apple's above all)
// reliably take H.264 and HEVC only, so the CMAF outputs that carry an HLS master stay there.
const DASH_VIDEO = [...H26X, 'libvpx-vp9', ...AV1] as const;
const NONE = [] as const;

export const OUTPUTS = {
  mp4: { kind: 'video', container: 'mp4', splittable: true, videoCodecs: [...H26X, ...AV1], audioCodecs: MP4_AUDIO, pixelFormats: PIXEL_FORMATS },
  webm: {
    kind: 'video', container: 'webm', splittable: true, videoCodecs: ['libvpx-vp9', 'libvpx', ...AV1], audioCodecs: ['libopus', 'libvorbis', 'copy'],
    pixelFormats: PIXEL_FORMATS,
  },
  mov: { kind: 'video', container: 'mov', splittable: true, videoCodecs: H26X, audioCodecs: MP4_AUDIO, pixelFormats: PIXEL_FORMATS },
  // ProRes 422 HQ masters: 10-bit 4:2:2 with uncompressed sound.
  mov_prores: {
    kind: 'video', container: 'mov', splittable: false, videoCodecs: ['prores_ks'], audioCodecs: ['pcm_s24le', 'pcm_s16le'], pixelFormats: ['yuv422p10le'],
  },
  mkv: {
    kind: 'video', container: 'mkv', splittable: true, videoCodecs: [...H26X, 'libvpx-vp9', 'libvpx', ...AV1],
    audioCodecs: ['aac', 'libopus', 'libvorbis', 'libmp3lame', 'ac3', 'eac3', 'flac', 'copy'], pixelFormats: PIXEL_FORMATS,
  },
  mpegts: { kind: 'video', container: 'mpegts', splittable: false, videoCodecs: H26X, audioCodecs: MP4_AUDIO, pixelFormats: PIXEL_FORMATS },
  mp3: { kind: 'audio', container: 'mp3', splittable: false, videoCodecs: NONE, audioCodecs: ['libmp3lame', 'copy'], pixelFormats: NONE },
  m4a: { kind: 'audio', container: 'm4a', splittable: false, videoCodecs: NONE, audioCodecs: ['aac', 'copy'], pixelFormats: NONE },
  ogg: { kind: 'audio', container: 'ogg', splittable: false, videoCodecs: NONE, audioCodecs: ['libvorbis', 'libopus', 'flac', 'copy'], pixelFormats: NONE },
  wav: { kind: 'audio', container: 'wav', splittable: false, videoCodecs: NONE, audioCodecs: ['pcm_s16le', 'pcm_s24le'], pixelFormats: NONE },
  flac: { kind: 'audio', container: 'flac', splittable: false, videoCodecs: NONE, audioCodecs: ['flac'], pixelFormats: NONE },
  thumbnail: { kind: 'thumbnail', container: null, splittable: false, videoCodecs: NONE, audioCodecs: NONE, pixelFormats: NONE },
  image: { kind: 'image', container: null, splittable: false, videoCodecs: NONE, audioCodecs: NONE, pixelFormats: NONE },
  gif: { kind: 'gif', container: null, splittable: false, videoCodecs: NONE, audioCodecs: NONE, pixelFormats: NONE },
  // MPEG-TS segments: H.264 or HEVC only.
  advanced_hls: { kind: 'hls', container: null, splittable: false, videoCodecs: H26X, audioCodecs: TS_SEGMENT_AUDIO, pixelFormats: PIXEL_FORMATS },
  iphone_stream: { kind: 'legacy_hls', container: null, splittable: false, videoCodecs: H26X, audioCodecs: TS_SEGMENT_AUDIO, pixelFormats: PIXEL_FORMATS },
  ipad_stream: { kind: 'legacy_hls', container: null, splittable: false, videoCodecs: H26X, audioCodecs: TS_SEGMENT_AUDIO, pixelFormats: PIXEL_FORMATS },
  roku_hls: { kind: 'legacy_hls', container: null, splittable: false, videoCodecs: H26X, audioCodecs: TS_SEGMENT_AUDIO, pixelFormats: PIXEL_FORMATS },
  mpeg_dash: { kind: 'dash', container: null, splittable: false, videoCodecs: DASH_VIDEO, audioCodecs: DASH_AUDIO, pixelFormats: PIXEL_FORMATS },
  advanced_dash: { kind: 'dash', container: null, splittable: false, videoCodecs: DASH_VIDEO, audioCodecs: DASH_AUDIO, pixelFormats: PIXEL_FORMATS },
  fmp4_hls: { kind: 'dash', container: null, splittable: false, videoCodecs: H26X, audioCodecs: CMAF_AUDIO, pixelFormats: PIXEL_FORMATS },
  advanced_fmp4: { kind: 'dash', container: null, splittable: false, videoCodecs: H26X, audioCodecs: CMAF_AUDIO, pixelFormats: PIXEL_FORMATS },
} as const satisfies Record<string, OutputProfile>;

export type OutputName = keyof typeof OUTPUTS;
type Row<O extends OutputName> = (typeof OUTPUTS)[O];
/** The outputs of some kinds, as a type: `OutputOfKind<'video'>` is every single-file video output. */
export type OutputOfKind<K extends OutputKind> = { [O in OutputName]: Row<O>['kind'] extends K ? O : never }[OutputName];

export type VideoFileOutput = OutputOfKind<'video'>;
export type AudioFileOutput = OutputOfKind<'audio'>;
export type FileOutput = VideoFileOutput | AudioFileOutput;
/** Outputs with a moving picture: video files and the segmented outputs. */
export type MovingOutput = OutputOfKind<'video' | 'hls' | 'legacy_hls' | 'dash'>;
/** Outputs cut into segments with manifests, made of `<stream>` variants (reference 4.6, 4.7); the legacy HLS outputs aside. */
export type SegmentedOutput = OutputOfKind<'hls' | 'dash'>;
/** The containers video files are written in. */
export type VideoContainer = Row<VideoFileOutput>['container'];
export type AudioContainer = Row<AudioFileOutput>['container'];

/** Every output, in the table's order (the order error messages and the dashboard list them in). */
export const OUTPUT_NAMES = Object.keys(OUTPUTS) as OutputName[];

export function isOutputName(name: string): name is OutputName {
  return Object.hasOwn(OUTPUTS, name);
}

export function isOfKind<K extends OutputKind>(output: OutputName, ...kinds: K[]): output is OutputOfKind<K> {
  return (kinds as readonly OutputKind[]).includes(OUTPUTS[output].kind);
}

/** The outputs of these kinds, in the table's order. */
export function outputsOfKind<K extends OutputKind>(...kinds: K[]): OutputOfKind<K>[] {
  return OUTPUT_NAMES.filter((o): o is OutputOfKind<K> => isOfKind(o, ...kinds));
}

/** The container of a single-file output. */
export function containerOf(output: FileOutput): Container {
  return OUTPUTS[output].container;
}

/** Outputs made of segments and manifests, in folders (HLS, DASH, CMAF). */
export const SEGMENTED_OUTPUTS: readonly OutputName[] = outputsOfKind('hls', 'legacy_hls', 'dash');
/** Outputs set_rotate can write rotation metadata into. */
export const ROTATABLE_OUTPUTS: readonly FileOutput[] = outputsOfKind('video', 'audio').filter((o) => CONTAINERS[containerOf(o)].rotatable);
/** Outputs split-and-stitch may cut into chunks. */
export const SPLITTABLE_OUTPUTS: readonly OutputName[] = OUTPUT_NAMES.filter((o) => OUTPUTS[o].splittable);

/** A fact for each of these outputs, by name. */
function byOutput<O extends OutputName, T>(names: readonly O[], fact: (output: O) => T): Record<O, T> {
  return Object.fromEntries(names.map((o) => [o, fact(o)])) as Record<O, T>;
}

/** The names a client may give in `video_codec` for each output, to the encoder each means. */
export const VIDEO_CODECS: Record<OutputName, Record<string, VideoCodec>> = byOutput(OUTPUT_NAMES, (o) => {
  const takes: readonly VideoCodec[] = OUTPUTS[o].videoCodecs;
  return Object.fromEntries(Object.entries(VIDEO_CODEC_NAMES).filter(([, codec]) => takes.includes(codec)));
});

/** Each moving output's default encoder (the first of its row). */
export const DEFAULT_VIDEO_CODEC: Record<MovingOutput, VideoCodec> = byOutput(outputsOfKind('video', 'hls', 'legacy_hls', 'dash'), (o) => OUTPUTS[o].videoCodecs[0]);

/** The audio codecs each output takes; the first is its default. */
export const AUDIO_CODECS_FOR: Record<OutputName, readonly AudioCodec[]> = byOutput(OUTPUT_NAMES, (o) => OUTPUTS[o].audioCodecs);
