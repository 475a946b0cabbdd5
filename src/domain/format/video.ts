/** Video and audio files (reference 4.1-4.5): codecs, sizes, rates, picture, audio and trim fields. */
import { FormatProblem, type Fields, type Size, type Crop, type TimeValue,
  parseBitrate, parseEvenPixels, parseFrameRate, parseNonNegativeInt, parseNonNegativeNumber, parseTime, normaliseLevel,
} from './fields.ts';
import { readContainerEdits, readLevels, type ContainerEdits, type LevelFields } from './container.ts';
import { readEditing, type Editing } from './editing.ts';
import { readAudioTracks, type AudioTrackFields } from './audio-tracks.ts';
import { hdrPixelFormat, readHdr, type HdrMode } from './hdr.ts';
import { embeddedCaptions, readCaptions, type CaptionTrack, type EmbeddedCaptions } from '../captions.ts';
import {
  profileForPixels, readAspectRatio, readAutoCrop, readConstantBitrate, readNoiseReduction, readPixelFormat, readX264Parameters,
  type AspectRatio, type AutoCrop, type ConstantBitrate, type NoiseReduction, type PixelFormat,
} from './encoder-fields.ts';
import { AUDIO_CODEC_NAMES, AV1_NAMES, INTRA_ONLY, isAv1, type AudioCodec, type VideoCodec } from '../encoders.ts';
import {
  AUDIO_CODECS_FOR, DEFAULT_VIDEO_CODEC, OUTPUTS, VIDEO_CODECS, type AudioFileOutput, type MovingOutput, type OutputName, type VideoContainer,
  type VideoFileOutput,
} from '../outputs.ts';

export { AUDIO_CODEC_NAMES, AV1_NAMES, H264_NAMES, HEVC_NAMES, VP_NAMES, isAv1, type AudioCodec } from '../encoders.ts';
export { AUDIO_CODECS_FOR, DEFAULT_VIDEO_CODEC, VIDEO_CODECS, type SegmentedOutput } from '../outputs.ts';

export type Rotate = 'def' | 0 | 90 | 180 | 270;
export type Deinterlacing = 'auto' | 'yes' | 'no';

export interface TrimFields {
  start: TimeValue | null;
  /** Seconds. When set, `finish` is dropped (reference 4.5: finish is ignored when duration is set). */
  duration: number | null;
  finish: TimeValue | null;
}

export interface AudioFields extends LevelFields, AudioTrackFields {
  audioCodec: AudioCodec;
  /** Bits/s; null with `copy` and the lossless codecs (flac, PCM). */
  audioBitrate: number | null;
  /** Hz; null = keep 44100/48000 from the source, otherwise 48000. */
  audioSampleRate: number | null;
  /** null = the source's channel count, at most 2. */
  audioChannels: number | null;
  /** Percent. @default 100 */
  audioVolume: number;
  /** The HE-AAC name asked, written as AAC-LC because ENCODERY_HE_AAC=lc; null otherwise. */
  heAacAsLc: 'dolby_heaac' | 'dolby_heaacv2' | null;
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
  /** Bits; required with maxrate or minrate (reference 4.3). */
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
  /** set_aspect_ratio: the display aspect written into the output; null = square pixels. Set, keep_aspect_ratio is ignored. */
  aspectRatio: AspectRatio | null;
  /** cbr / hard_cbr (with a bitrate); null = the encoder's usual average-rate control. */
  constantBitrate: ConstantBitrate | null;
  /** pix_format. @default yuv420p (plays everywhere) */
  pixelFormat: PixelFormat;
  /** video_codec_parameters as `name=value` x264 options; empty when none. */
  x264Options: string[];
  /**
   * `upscale no`: never larger than the source: a ladder rung that would be is left out, a file
   * is made at the source's size (the built-in ladders' rungs say so). @default true: a size
   * asked is made, even above the source's.
   */
  upscale: boolean;
  /** What an HDR source becomes (format/hdr.ts). @default 'tonemap' */
  hdr: HdrMode;
}

/**
 * What is done to the decoded picture before it is scaled. Formats of one media with the same
 * picture (and trim) are made from one decode.
 */
export interface Picture {
  crop: Crop;
  rotate: Rotate;
  deinterlacing: Deinterlacing;
  /** noise_reduction through hqdn3d; null = none. */
  noiseReduction: NoiseReduction | null;
  /** burnin_timecode: the source's timecode drawn on the picture. */
  burninTimecode: boolean;
  /** auto_crop: borders found by cropdetect replace `crop` before planning; null = off (or a crop_* is given). */
  autoCrop: AutoCrop | null;
}

export interface VideoSpec extends TrimFields, AudioFields, VideoEncoding, Picture, ContainerEdits {
  /** video_only: the output carries no audio, whatever the source has. @default false */
  videoOnly: boolean;
  kind: 'video';
  output: VideoFileOutput;
  container: VideoContainer;
  twoPass: boolean;
  /** logo, overlays, text and fades (format/editing.ts). */
  editing: Editing;
  /** closed_captions carried as subtitle tracks (domain/captions.ts). */
  captions: CaptionTrack[];
  /** closed_captions `copy`: the source's CEA-608/708 kept or dropped in the video; null = not asked. */
  embeddedCaptions: EmbeddedCaptions;
}

export interface AudioSpec extends TrimFields, AudioFields, ContainerEdits {
  kind: 'audio';
  output: AudioFileOutput;
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

/** HE-AAC v1 and v2: refused, or written as AAC-LC when the operator allows it (ReadOptions.heAac). */
export const HE_AAC_NAMES = ['dolby_heaac', 'dolby_heaacv2'] as const;

/** Lossless codecs: no bitrate to set (audio_bitrate is accepted and has no effect). */
export const LOSSLESS: readonly AudioCodec[] = ['flac', 'pcm_s16le', 'pcm_s24le'];

export const SAMPLE_RATES = [8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000, 88200, 96000];
export const SAMPLE_RATES_FOR: Partial<Record<AudioCodec, readonly number[]>> = {
  libmp3lame: [8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000],
  libopus: [8000, 12000, 16000, 24000, 48000],
  ac3: [32000, 44100, 48000],
  eac3: [32000, 44100, 48000],
};

export function readVideo(f: Fields, output: VideoFileOutput): VideoSpec {
  const encoding = readVideoEncoding(f, output);
  const edits = readContainerEdits(f, output);
  const picture = readPicture(f);
  // Keeping the source's rotation flag means keeping its stored picture too, or players would
  // turn an already turned picture a second time.
  if (edits.setRotate === 'source' && picture.rotate === 'def') picture.rotate = 0;
  const captions = readCaptions(f, output);
  return {
    kind: 'video', output, container: OUTPUTS[output].container, ...encoding, twoPass: f.flag('two_pass', false), videoOnly: f.flag('video_only', false), ...picture,
    ...readAudio(f, output, encoding.videoCodec), ...readTrim(f), ...edits, editing: { ...readEditing(f), captions: captions.burned },
    captions: captions.tracks, embeddedCaptions: embeddedCaptions(captions),
  };
}

export function readVideoEncoding(f: Fields, output: MovingOutput): VideoEncoding {
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
  if (INTRA_ONLY.includes(videoCodec)) refuseRateControl(f, videoCodec);

  const size = f.evenSize('size', 'a size like 640x360 (0 keeps the aspect ratio)', '4:2:0 video needs even sides');
  const bitrate = f.parse('bitrate', 'a bitrate like 900k', (v) => parseBitrate(v, 16_000));
  const maxrate = f.parse('maxrate', 'a bitrate like 3500k', (v) => parseBitrate(v, 16_000));
  const minrate = f.parse('minrate', 'a bitrate like 500k', (v) => parseBitrate(v, 16_000));
  const bufsize = f.parse('bufsize', 'a buffer size like 7000k', (v) => parseBitrate(v, 16_000));
  if (bufsize === null && (maxrate !== null || minrate !== null)) {
    const which = maxrate !== null ? 'maxrate' : 'minrate';
    const example = Math.round(((maxrate ?? minrate)! * 2) / 1000);
    throw new FormatProblem(`bufsize is missing: it is required when ${which} is set. Add the rate-control buffer size, e.g. bufsize ${example}k (twice ${which}).`);
  }
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

  const x264 = readX264Parameters(f, videoCodec);
  let profile = readProfile(f, videoCodec);
  let profileGiven = f.str('profile') !== null;
  if (x264?.profile) {
    if (profileGiven && profile !== x264.profile) {
      throw new FormatProblem(`video_codec_parameters.vprofile "${x264.profile}" differs from profile "${profile}"; give one of them.`);
    }
    profile = x264.profile;
    profileGiven = true;
  }
  const hdr = readHdr(f, videoCodec);
  const pixelFormat = hdrPixelFormat(hdr, readPixelFormat(f, videoCodec, output), f.str('pix_format') !== null);
  profile = profileForPixels(videoCodec, profile, profileGiven, pixelFormat);
  const levelRaw = f.str('level');
  let level: string | null = null;
  if (levelRaw !== null && (videoCodec === 'libx264' || videoCodec === 'libx265')) {
    level = normaliseLevel(levelRaw);
    if (level === null) throw new FormatProblem(`level "${levelRaw}" is not an H.264/H.265 level like 30, 31 or 4.1.`);
  }
  level ??= x264?.level ?? null;
  const constantBitrate = readConstantBitrate(f, videoCodec, bitrate, output);
  if (constantBitrate && minrate !== null && minrate !== bitrate) {
    throw new FormatProblem(`minrate (${minrate / 1000}k) differs from bitrate (${bitrate! / 1000}k), but ${constantBitrate === 'hard' ? 'hard_cbr' : 'cbr'} holds the rate at bitrate; remove minrate.`);
  }
  if (constantBitrate && maxrate !== null && maxrate !== bitrate) {
    throw new FormatProblem(`maxrate (${maxrate / 1000}k) differs from bitrate (${bitrate! / 1000}k), but ${constantBitrate === 'hard' ? 'hard_cbr' : 'cbr'} holds the rate at bitrate; remove maxrate.`);
  }

  return {
    videoCodec, size, keepAspectRatio: f.flag('keep_aspect_ratio', true), bitrate, maxrate, minrate, bufsize, framerate, keyframe,
    profile, level, turbo: f.flag('turbo', false), aspectRatio: readAspectRatio(f), constantBitrate, pixelFormat,
    x264Options: x264?.options ?? [], upscale: f.flag('upscale', true), hdr,
  };
}

/** An intra-only encoder (ProRes) has no rate, buffer, GOP or second pass to set. */
function refuseRateControl(f: Fields, codec: VideoCodec): void {
  const valued = ['bitrate', 'maxrate', 'minrate', 'bufsize', 'keyframe'].filter((name) => f.str(name) !== null);
  const switched = ['cbr', 'hard_cbr', 'two_pass'].filter((name) => f.flag(name, false));
  const asked = [...valued, ...switched][0];
  if (asked !== undefined) {
    throw new FormatProblem(`${asked} cannot be used with ${codec}: every frame is a keyframe at the quality its profile sets, with no rate to control. Remove ${asked}.`);
  }
}

export function readPicture(f: Fields): Picture {
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
  const cropGiven = ['crop_left', 'crop_top', 'crop_right', 'crop_bottom'].some((n) => f.str(n) !== null);
  return {
    crop, rotate, deinterlacing, noiseReduction: readNoiseReduction(f), burninTimecode: f.flag('burnin_timecode', false),
    autoCrop: readAutoCrop(f, cropGiven),
  };
}

export function readProfile(f: Fields, codec: VideoCodec): string | null {
  const raw = f.str('profile');
  if (codec !== 'libx264' && codec !== 'libx265') {
    // Old presets pair `profile main` with libvpx: accepted, and the task log says it changes nothing.
    if (raw !== null) f.note(`profile ${raw} ignored: it names an H.264 or HEVC profile, and ${codec} has none`);
    return null;
  }
  const allowed = codec === 'libx264' ? ['baseline', 'main', 'high'] : ['main'];
  if (raw === null) return codec === 'libx264' ? 'high' : 'main';
  const p = raw.toLowerCase();
  if (!allowed.includes(p)) throw new FormatProblem(`profile "${raw}" cannot be used with ${codec}; use ${allowed.join(', ')}.`);
  return p;
}

export function readAudio(f: Fields, target: OutputName, videoCodec?: VideoCodec): AudioFields {
  const allowed = AUDIO_CODECS_FOR[target];
  const codecRaw = f.str('audio_codec');
  // VP8 pairs with Vorbis in every old preset (reference 4.2); VP9 with Opus.
  let audioCodec: AudioCodec = allowed[0] ?? 'aac';
  if (videoCodec === 'libvpx') audioCodec = 'libvorbis';
  // WebM's other audio, and what AV1 in Matroska pairs with.
  else if (target === 'mkv' && videoCodec !== undefined && (videoCodec === 'libvpx-vp9' || isAv1(videoCodec))) audioCodec = 'libopus';
  let heAacAsLc: AudioFields['heAacAsLc'] = null;
  const heAac = HE_AAC_NAMES.find((n) => n === codecRaw?.toLowerCase());
  if (heAac && (f.options.heAac ?? 'refuse') === 'refuse') {
    throw new FormatProblem(
      `audio_codec "${codecRaw}" is not supported yet: this server's FFmpeg has no HE-AAC encoder (it needs libfdk_aac). Use dolby_aac for AAC-LC, or ask the operator to set ENCODERY_HE_AAC=lc to have AAC-LC written in its place.`,
    );
  }
  if (heAac && allowed.includes('aac')) {
    audioCodec = 'aac';
    heAacAsLc = heAac;
  } else if (codecRaw !== null) {
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
  const levels = readLevels(f);
  const leveller = levels.loudness ? (f.str('loudnorm') !== null ? 'loudnorm' : 'audio_normalization') : null;
  if (leveller && audioCodec === 'copy') {
    throw new FormatProblem(`${leveller} cannot change the audio when audio_codec is copy; remove one of them.`);
  }
  if (leveller && volume !== 100) {
    throw new FormatProblem(`audio_volume cannot be used with ${leveller}, which sets the level itself; remove one of them.`);
  }

  const tracks = readAudioTracks(f, target);
  if (audioCodec === 'copy') {
    if (tracks.downmix !== 'default') throw new FormatProblem('downmix_mode cannot change the audio when audio_codec is copy; remove one of them.');
    return { audioCodec, audioBitrate: null, audioSampleRate: null, audioChannels: null, audioVolume: 100, heAacAsLc, ...levels, ...tracks };
  }
  if (LOSSLESS.includes(audioCodec)) {
    return { audioCodec, audioBitrate: null, audioSampleRate: sampleRate, audioChannels: channels, audioVolume: volume, heAacAsLc, ...levels, ...tracks };
  }
  const defaultBitrate = audioCodec === 'libmp3lame' ? 192_000 : 128_000;
  return { audioCodec, audioBitrate: bitrate ?? defaultBitrate, audioSampleRate: sampleRate, audioChannels: channels, audioVolume: volume, heAacAsLc, ...levels, ...tracks };
}

export function readTrim(f: Fields): TrimFields {
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
