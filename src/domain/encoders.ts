/**
 * The encoders FFmpeg runs for us, by encoding.com's names: what each is called by clients, the
 * pixel formats it takes and what ffprobe calls the stream it makes. Which output takes which
 * encoder is the output table's business (outputs.ts).
 */

/** The video encoders FFmpeg runs for us. `libvpx` is VP8, kept under encoding.com's name. */
export type VideoCodec = 'libx264' | 'libx265' | 'libvpx-vp9' | 'libvpx' | 'libsvtav1' | 'libaom-av1' | 'prores_ks';

export type AudioCodec =
  | 'aac' | 'libmp3lame' | 'libvorbis' | 'libopus' | 'ac3' | 'eac3' | 'flac' | 'pcm_s16le' | 'pcm_s24le' | 'copy';

export const PIXEL_FORMATS = ['yuv420p', 'yuv422p', 'yuv444p', 'yuv420p10le', 'yuv422p10le', 'yuv444p10le'] as const;
export type PixelFormat = (typeof PIXEL_FORMATS)[number];

/** Pixel formats each encoder of this FFmpeg takes (`ffmpeg -h encoder=…`), among the ones we offer. */
export const PIXEL_FORMATS_OF: Record<VideoCodec, readonly PixelFormat[]> = {
  libx264: PIXEL_FORMATS,
  // x265 has no 8-bit 4:2:2 profile.
  libx265: ['yuv420p', 'yuv444p', 'yuv420p10le', 'yuv422p10le', 'yuv444p10le'],
  'libvpx-vp9': PIXEL_FORMATS,
  'libaom-av1': PIXEL_FORMATS,
  libsvtav1: ['yuv420p', 'yuv420p10le'],
  libvpx: ['yuv420p'],
  prores_ks: ['yuv422p10le', 'yuv444p10le'],
};

/** The codec name ffprobe reports for what each encoder makes. */
export const PROBED_VIDEO_CODEC: Record<VideoCodec, string> = {
  libx264: 'h264', libx265: 'hevc', 'libvpx-vp9': 'vp9', libvpx: 'vp8', libsvtav1: 'av1', 'libaom-av1': 'av1', prores_ks: 'prores',
};
export const PROBED_AUDIO_CODEC: Record<Exclude<AudioCodec, 'copy'>, string> = {
  aac: 'aac', libmp3lame: 'mp3', libvorbis: 'vorbis', libopus: 'opus', ac3: 'ac3', eac3: 'eac3', flac: 'flac',
  pcm_s16le: 'pcm_s16le', pcm_s24le: 'pcm_s24le',
};

/**
 * Model seconds per megapixel-frame for each video encoder at its default speed (x264 `medium`),
 * for the progress model (progress-model.ts).
 */
export const ENCODER_COST: Record<VideoCodec, number> = {
  libx264: 0.042,
  libx265: 0.2,
  'libvpx-vp9': 0.12,
  libvpx: 0.06,
  libsvtav1: 0.12,
  'libaom-av1': 0.6,
  // 100 1080p frames took 15.9 s of CPU at HQ 10-bit 4:2:2, x264 medium 4.6 s (December 2026).
  prores_ks: 0.15,
};

export const H264_NAMES: Record<string, VideoCodec> = { libx264: 'libx264', h264: 'libx264', x264: 'libx264' };
export const HEVC_NAMES: Record<string, VideoCodec> = { libx265: 'libx265', hevc: 'libx265', h265: 'libx265', x265: 'libx265' };
export const VP_NAMES: Record<string, VideoCodec> = { 'libvpx-vp9': 'libvpx-vp9', vp9: 'libvpx-vp9', libvpx: 'libvpx', vp8: 'libvpx' };
/** `av1` alone means SVT-AV1, the faster of the two AV1 encoders at a like quality. */
export const AV1_NAMES: Record<string, VideoCodec> = { libsvtav1: 'libsvtav1', 'libsvt-av1': 'libsvtav1', svtav1: 'libsvtav1', av1: 'libsvtav1', 'libaom-av1': 'libaom-av1', libaom: 'libaom-av1' };
export const PRORES_NAMES: Record<string, VideoCodec> = { prores_ks: 'prores_ks', prores: 'prores_ks' };
/** Every name a client may give in `video_codec`, in the order error messages list the encoders. */
export const VIDEO_CODEC_NAMES: Record<string, VideoCodec> = { ...H264_NAMES, ...HEVC_NAMES, ...VP_NAMES, ...AV1_NAMES, ...PRORES_NAMES };

/**
 * Encoders whose every frame is a keyframe at a quality their profile fixes: a bitrate, a rate
 * buffer, a GOP length or a second pass has nothing to set, so asking for one is refused.
 */
export const INTRA_ONLY: readonly VideoCodec[] = ['prores_ks'];
/** The profile ffprobe reports for what an encoder makes at the one profile we run it with. */
export const PROBED_PROFILE: Partial<Record<VideoCodec, string>> = { prores_ks: 'HQ' };

// encoding.com's AAC-LC names all become FFmpeg's native AAC-LC encoder. HE-AAC (dolby_heaac,
// dolby_heaacv2) needs libfdk_aac, which Debian's FFmpeg does not ship: see HE_AAC_NAMES.
export const AUDIO_CODEC_NAMES: Record<string, AudioCodec> = {
  aac: 'aac', libfaac: 'aac', libfdk_aac: 'aac', dolby_aac: 'aac',
  libmp3lame: 'libmp3lame', mp3: 'libmp3lame',
  libvorbis: 'libvorbis', vorbis: 'libvorbis',
  libopus: 'libopus', opus: 'libopus',
  ac3: 'ac3', eac3: 'eac3', copy: 'copy',
  flac: 'flac',
  pcm_s16le: 'pcm_s16le', pcm: 'pcm_s16le', pcm_s24le: 'pcm_s24le', pcm_s24l: 'pcm_s24le',
};

export function isAv1(codec: VideoCodec): boolean {
  return codec === 'libsvtav1' || codec === 'libaom-av1';
}
