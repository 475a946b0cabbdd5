/**
 * Smart pass-through: a video or audio format whose every asked setting the source already
 * meets is remuxed (`-c copy`) instead of encoded. Conservative on purpose: a copy that breaks
 * an asked limit, or that a browser cannot play, is worse than an encode, so every fact that is
 * unknown counts against it. `smart_passthrough no` turns it off.
 */
import { join } from 'node:path';
import { hasEditing, type AudioFields, type AudioSpec, type OutputSpec, type VideoSpec } from '../../domain/format.ts';
import { PROBED_AUDIO_CODEC, PROBED_PROFILE, PROBED_VIDEO_CODEC } from '../../domain/encoders.ts';
import { CONTAINERS, containerOf } from '../../domain/outputs.ts';
import { readVideoPackets, type AudioStreamInfo, type MediaProbe, type PacketInfo, type VideoStreamInfo } from '../ffmpeg/probe.ts';
import { buildArgs, ffmpegUrl } from '../ffmpeg/args.ts';
import { audioTarget, singleOutput, type PlanInput } from './common.ts';
import { checkAudioCopy, containerExtension, containerOptions } from './codecs.ts';
import { rotateOptions, rotationToWrite, tagOptions } from './edits.ts';
import { displayBox, rotatedFrame, targetBox } from './geometry.ts';
import { defaultBitrate } from './variants.ts';
import { PASSTHROUGH_FIELDS } from '../../domain/field-registry.ts';
import { isHighDynamicRange } from '../../domain/video-color.ts';

/**
 * `ok`: remux, and `note` says why in the task log. Otherwise `why` says which asked setting
 * the source misses, or is null when pass-through was never in question (another codec, several
 * sources, turned off), which is not worth a line in the log.
 */
export type PassthroughDecision =
  | { ok: true; note: string }
  | { ok: false; why: string | null; /** Would be checked with the source's video packets. */ needsPackets?: true };

const CODEC_LABEL: Record<string, string> = { h264: 'H.264', hevc: 'HEVC', vp9: 'VP9', vp8: 'VP8', av1: 'AV1', aac: 'AAC', mp3: 'MP3', vorbis: 'Vorbis', opus: 'Opus', ac3: 'AC-3', eac3: 'E-AC-3', flac: 'FLAC' };

/** H.264 profiles a decoder of the asked profile plays; anything else (High 10, 4:2:2) is refused. */
const H264_PROFILE_RANK: Record<string, number> = { 'Constrained Baseline': 0, Baseline: 0, Main: 1, High: 2 };
const ASKED_H264_RANK: Record<string, number> = { baseline: 0, main: 1, high: 2 };
/** 8-bit 4:2:0 profiles, the only ones every browser decodes. */
const PLAYABLE_PROFILES: Partial<Record<string, readonly string[]>> = { hevc: ['Main'], vp9: ['Profile 0'], av1: ['Main'] };

/**
 * The registry's pass-through fields whose check is written here (or that rule a remux out
 * before it: the editing fields). Any other pass-through field a format asks for is a setting no
 * check here knows to be met, so the format is encoded.
 */
export const CHECKED_FIELDS: ReadonlySet<string> = new Set([
  'video_codec', 'size', 'keep_aspect_ratio', 'bitrate', 'maxrate', 'minrate', 'bufsize', 'framerate', 'keyframe', 'profile', 'level',
  'crop_left', 'crop_top', 'crop_right', 'crop_bottom', 'rotate', 'deinterlacing',
  'audio_codec', 'audio_bitrate', 'audio_sample_rate', 'audio_channels_number', 'audio_volume',
  'loudnorm', 'loudnorm_range', 'loudnorm_peak', 'audio_normalization', 'start', 'duration', 'finish',
  'logo', 'overlay', 'text_overlay', 'fade_in', 'fade_out',
  'video_only', 'noise_reduction', 'burnin_timecode', 'auto_crop', 'set_aspect_ratio', 'cbr', 'hard_cbr', 'pix_format', 'video_codec_parameters', 'init_video_codec_parameters',
]);
const UNCHECKED = new Set(PASSTHROUGH_FIELDS.filter((name) => !CHECKED_FIELDS.has(name)));

/** Audio bitrates are nominal: an encoder aiming at 128k reports a little over it. */
const AUDIO_BITRATE_SLACK = 1.05;
/** Without a bitrate asked, a source above twice our default ladder rate is worth an encode. */
const UNASKED_BITRATE_FACTOR = 2;

/** `packets`: the source's video packets, when read (see {@link withPacketsForPassthrough}). */
export function passthroughDecision(spec: OutputSpec, probes: MediaProbe[], packets?: PacketInfo[]): PassthroughDecision {
  if (spec.kind !== 'video' && spec.kind !== 'audio') return { ok: false, why: null };
  if (!spec.smartPassthrough || probes.length !== 1) return { ok: false, why: null };
  // A logo, overlay, text or fade changes the picture or the sound: only an encode can draw it.
  if (spec.kind === 'video' && hasEditing(spec.editing)) return { ok: false, why: null };
  const probe = probes[0]!;
  return spec.kind === 'video' ? videoDecision(spec, probe, packets) : audioDecision(spec, probe);
}

/** Whether a format would be remuxed but for its maxrate, which only the source's packets can confirm. */
export function needsVideoPackets(specs: OutputSpec[], input: PlanInput): boolean {
  return specs.some((s) => {
    const d = passthroughDecision(s, input.probes);
    return !d.ok && d.needsPackets === true;
  });
}

/**
 * The input, with the source's video packets when a format would be remuxed but for its
 * maxrate, which only the packets can confirm. Reading them demuxes the whole file once.
 */
export async function withPacketsForPassthrough(specs: OutputSpec[], input: PlanInput, opts: { ffprobe: string; signal?: AbortSignal }): Promise<PlanInput> {
  if (!needsVideoPackets(specs, input) || input.videoPackets) return input;
  try {
    return { ...input, videoPackets: await readVideoPackets(input.paths[0]!, opts) };
  } catch (err) {
    if (opts.signal?.aborted) throw err;
    // Without packets the formats are encoded, which is always safe.
    return input;
  }
}

/**
 * The decoder buffer model behind maxrate/bufsize (H.264 Annex C, x264's VBV): a buffer of
 * `bufsize` bits filled at `maxrate`, 90 % full at the start as x264 assumes, from which each
 * packet is taken whole at its decode time. Returns the time of the first underflow (a player
 * held to these limits would stall there), or null when the stream fits.
 */
export function vbvUnderflowAt(packets: PacketInfo[], maxrate: number, bufsize: number): number | null {
  let fullness = bufsize * 0.9;
  let last = packets[0]?.dtsSec ?? 0;
  for (const p of packets) {
    fullness = Math.min(bufsize, fullness + Math.max(0, p.dtsSec - last) * maxrate);
    last = Math.max(last, p.dtsSec);
    fullness -= p.bytes * 8;
    if (fullness < 0) return p.dtsSec;
  }
  return null;
}

function videoDecision(spec: VideoSpec, probe: MediaProbe, packets: PacketInfo[] | undefined): PassthroughDecision {
  const v = probe.video;
  if (!v || v.codec !== PROBED_VIDEO_CODEC[spec.videoCodec]) return { ok: false, why: null };
  const no = (why: string): PassthroughDecision => ({ ok: false, why });
  const common = commonReason(spec, probe);
  if (common) return no(common);
  if (spec.crop.left || spec.crop.top || spec.crop.right || spec.crop.bottom) return no('crop is asked');
  if (v.rotation !== 0) return no(`the source carries ${v.rotation}° rotation metadata`);
  if (isHighDynamicRange(v.color) && spec.hdr !== 'keep') return no('the source is HDR, and this output is tone-mapped to SDR (hdr keep keeps it)');
  if (spec.rotate !== 'def' && spec.rotate !== 0) return no('rotate is asked');
  if (spec.deinterlacing === 'yes') return no('deinterlacing is asked');
  if (spec.deinterlacing === 'auto' && v.fieldOrder !== 'progressive') return no('the source is not known to be progressive');
  if (spec.videoOnly && probe.audio.length > 0) return no('video_only is asked and the source has audio');
  if (spec.noiseReduction) return no('noise_reduction is asked');
  if (spec.burninTimecode) return no('burnin_timecode is asked');
  if (spec.autoCrop) return no('auto_crop is asked');
  if (spec.aspectRatio !== null) return no('set_aspect_ratio is asked');
  if (spec.constantBitrate) return no(`${spec.constantBitrate === 'hard' ? 'hard_cbr' : 'cbr'} is asked, and the source's rate control is not checked`);
  if (spec.x264Options.length > 0) return no('video_codec_parameters are asked');
  if (v.pixFmt !== spec.pixelFormat) {
    return no(spec.pixelFormat === 'yuv420p'
      ? `the source's pixel format is ${v.pixFmt ?? 'unknown'}, not the yuv420p every player takes`
      : `the source's pixel format is ${v.pixFmt ?? 'unknown'}, not the ${spec.pixelFormat} asked`);
  }
  if (v.pixelAspectRatio !== '1:1') return no(`the source's pixels are not square (${v.pixelAspectRatio})`);
  if (v.width % 2 || v.height % 2) return no(`the source's size ${v.width}x${v.height} is odd`);

  const profile = profileReason(spec, v);
  if (profile) return no(profile);
  const tag = v.codecTag ?? null;
  if (spec.videoCodec === 'libx265' && CONTAINERS[spec.container].hvc1 && tag !== 'hvc1') {
    return no(`the source's HEVC is tagged ${tag ?? 'unknown'}, not the hvc1 Apple players need`);
  }
  if (spec.videoCodec === 'libx264' && tag === 'avc3') return no('the source keeps its H.264 parameter sets in the stream (avc3)');

  if (spec.size) {
    const box = targetBox(displayBox(rotatedFrame(v, 0)), spec.size);
    if (box.width !== v.width || box.height !== v.height) return no(`size ${box.width}x${box.height} differs from the source's ${v.width}x${v.height}`);
  }
  if (typeof spec.framerate === 'number' && Math.abs(spec.framerate - v.fps) > 0.01) {
    return no(`framerate ${spec.framerate} differs from the source's ${round2(v.fps)}`);
  }
  if (spec.keyframe !== null) return no('a keyframe interval is asked, and the source\'s is not checked');
  if (spec.minrate !== null) return no('minrate is asked, and a copy cannot raise the source\'s rate');
  const rate = videoBitrate(probe);
  if (rate === null) return no('the source\'s video bitrate is unknown');
  let limit: string;
  if (spec.bitrate !== null && rate > spec.bitrate) return no(`the source's video runs at ${mbit(rate)} > ${mbit(spec.bitrate)} asked`);
  if (spec.maxrate !== null) {
    if (rate > spec.maxrate) return no(`the source's video runs at ${mbit(rate)} > maxrate ${mbit(spec.maxrate)}`);
  }
  if (spec.bitrate !== null) {
    limit = `${mbit(rate)} ≤ ${mbit(spec.bitrate)}`;
  } else if (spec.maxrate !== null) {
    limit = `${mbit(rate)}`;
  } else {
    const ceiling = UNASKED_BITRATE_FACTOR * defaultBitrate(v, v.fps, spec.videoCodec);
    if (rate > ceiling) return no(`the source's video runs at ${mbit(rate)}, more than twice the usual rate for its size (${mbit(ceiling)})`);
    limit = `${mbit(rate)} (no bitrate asked)`;
  }

  const a = probe.audio[0];
  let audioText = '';
  if (a) {
    if (spec.audioCodec === 'copy') {
      audioText = ` with its ${label(a.codec)} audio`;
    } else {
      const why = audioReason(spec, a);
      if (why) return no(why);
      audioText = ` with ${describeAudio(a)}`;
    }
  }
  if (spec.maxrate !== null) {
    // Checked last: the packets are read only for a format that meets everything else.
    if (!packets || packets.length === 0) return { ok: false, why: 'maxrate is asked, and the source\'s packets were not read', needsPackets: true };
    const bufsize = spec.bufsize ?? 0;
    const at = vbvUnderflowAt(packets, spec.maxrate, bufsize);
    if (at !== null) return no(`the source's video peaks above maxrate ${mbit(spec.maxrate)} with bufsize ${mbit(bufsize).replace('/s', '')} (at ${round2(at)} s)`);
    limit += `, within maxrate ${mbit(spec.maxrate)} / bufsize ${mbit(bufsize).replace('/s', '')}`;
  }
  const profileText = v.profile ? ` ${v.profile}` : '';
  return {
    ok: true,
    note: `Source already is ${label(v.codec)}${profileText} ${v.width}x${v.height} at ${limit}${audioText}; remuxed without re-encoding`,
  };
}

function audioDecision(spec: AudioSpec, probe: MediaProbe): PassthroughDecision {
  const a = probe.audio[0];
  if (!a) return { ok: false, why: null };
  if (spec.audioCodec !== 'copy' && a.codec !== PROBED_AUDIO_CODEC[spec.audioCodec]) return { ok: false, why: null };
  // audio_codec copy is a copy already; only the container must take the codec.
  try {
    checkAudioCopy(containerOf(spec.output), a.codec);
  } catch {
    return { ok: false, why: null };
  }
  const common = commonReason(spec, probe);
  if (common) return { ok: false, why: common };
  if (spec.audioCodec === 'copy') return { ok: false, why: null };
  const why = audioReason(spec, a);
  if (why) return { ok: false, why };
  return { ok: true, note: `Source audio already is ${describeAudio(a)}; remuxed without re-encoding` };
}

/** Trims and level changes: asked of any output, never met by a copy. */
function commonReason(spec: VideoSpec | AudioSpec, probe: MediaProbe): string | null {
  const unchecked = spec.asked.find((name) => UNCHECKED.has(name));
  if (unchecked) return `${unchecked} is asked, and a copy is not known to meet it`;
  if (spec.start || spec.duration !== null || spec.finish) return 'a part of the source is asked (start, duration or finish)';
  if (probe.audio.length > 0 && spec.audioCodec !== 'copy') {
    if (spec.loudness) return 'loudness normalisation (loudnorm or audio_normalization) is asked';
    if (spec.audioVolume !== 100) return 'audio_volume is asked';
  }
  return null;
}

function audioReason(spec: AudioFields, a: AudioStreamInfo): string | null {
  if (spec.audioCodec === 'copy') return null;
  if (a.codec !== PROBED_AUDIO_CODEC[spec.audioCodec]) return `the source's audio is ${label(a.codec)}, not ${label(PROBED_AUDIO_CODEC[spec.audioCodec])}`;
  if (a.codec === 'aac' && a.profile !== 'LC') return `the source's AAC is ${a.profile ?? 'of an unknown profile'}, not AAC-LC`;
  const target = audioTarget(spec, a);
  if (target.sampleRate !== a.sampleRate) return `the source's audio is at ${a.sampleRate} Hz, not ${target.sampleRate} Hz`;
  if (target.channels !== a.channels) return `the source's audio has ${a.channels} channels, not ${target.channels}`;
  if (spec.audioBitrate !== null) {
    if (a.bitrate === null) return 'the source\'s audio bitrate is unknown';
    if (a.bitrate > spec.audioBitrate * AUDIO_BITRATE_SLACK) return `the source's audio runs at ${kbit(a.bitrate)} > ${kbit(spec.audioBitrate)} asked`;
  }
  return null;
}

function profileReason(spec: VideoSpec, v: VideoStreamInfo): string | null {
  const src = v.profile ?? 'unknown';
  const made = PROBED_PROFILE[spec.videoCodec];
  if (spec.videoCodec === 'libx264') {
    const rank = H264_PROFILE_RANK[src];
    const asked = ASKED_H264_RANK[spec.profile ?? 'high'] ?? 2;
    if (rank === undefined || rank > asked) return `the source's H.264 profile is ${src}, beyond ${spec.profile ?? 'high'}`;
  } else if (made !== undefined) {
    if (src !== made) return `the source's ${label(v.codec)} profile is ${src}, not the ${made} this output makes`;
  } else {
    const ok = PLAYABLE_PROFILES[v.codec];
    if (ok && !ok.includes(src)) return `the source's ${label(v.codec)} profile is ${src}, not ${ok.join(' or ')}`;
  }
  if (spec.level !== null) {
    const perLevel = v.codec === 'hevc' ? 30 : 10;
    const asked = spec.level === '1b' ? 9 : Math.round(Number(spec.level) * perLevel);
    const level = v.level ?? null;
    if (level === null) return `level ${spec.level} is asked and the source's level is unknown`;
    if (level > asked) return `the source's level ${formatLevel(level, perLevel)} is above the asked ${spec.level}`;
  }
  return null;
}

/** The source's video rate: its own, else the file's minus its audio (an upper bound). */
function videoBitrate(p: MediaProbe): number | null {
  if (p.video?.bitrate) return p.video.bitrate;
  if (!p.bitrate) return null;
  if (p.audio.some((a) => a.bitrate === null)) return p.bitrate;
  return p.bitrate - p.audio.reduce((sum, a) => sum + (a.bitrate ?? 0), 0);
}

/** The remux: the first video and audio stream as they are, with the format's container edits. */
export function planPassthrough(spec: VideoSpec | AudioSpec, path: string, probe: MediaProbe, out: { dir: string; baseName: string }) {
  const container = containerOf(spec.output);
  const outputPath = join(out.dir, `${out.baseName}.${containerExtension(container)}`);
  const video = spec.kind === 'video';
  const hvc1 = video && spec.videoCodec === 'libx265' && CONTAINERS[container].hvc1 ? ['-tag:v', 'hvc1'] : [];
  const args = buildArgs({
    inputs: [{ path }],
    outputs: [{
      url: ffmpegUrl(outputPath),
      maps: video ? ['0:v:0', '0:a:0?'] : ['0:a:0'],
      options: [
        '-c', 'copy', ...hvc1, ...(video ? rotateOptions(rotationToWrite(spec, probe)) : ['-vn']),
        ...tagOptions(spec), ...containerOptions(container),
      ],
    }],
  });
  const durationSec = (video ? probe.video?.durationSec : null) ?? probe.durationSec;
  return { passes: [args], durationSec, listOutputs: singleOutput(outputPath) };
}

function describeAudio(a: AudioStreamInfo): string {
  const layout = a.channels === 1 ? 'mono' : a.channels === 2 ? 'stereo' : `${a.channels} channels`;
  return `${label(a.codec)} ${a.sampleRate} Hz ${layout}${a.bitrate ? ` at ${kbit(a.bitrate)}` : ''}`;
}

function label(codec: string): string {
  return CODEC_LABEL[codec] ?? codec;
}

function mbit(bits: number): string {
  return `${(bits / 1e6).toFixed(bits < 1e6 ? 2 : 1)} Mbit/s`;
}

function kbit(bits: number): string {
  return `${Math.round(bits / 1000)} kbit/s`;
}

function round2(n: number): string {
  return String(Math.round(n * 100) / 100);
}

function formatLevel(level: number, perLevel: number): string {
  return (level / perLevel).toFixed(1);
}
