/**
 * The variants of a multi-variant output (HLS, DASH, CMAF). Their audio: streams whose audio is encoded the same
 * way share one rendition, encoded once; an `audio_only` stream is a rendition listed as a variant
 * of its own. Their video: one scaled picture each, keyframes at every segment boundary.
 */
import type { AudioFields, HlsStreamSpec, VideoCodec } from '../../domain/format.ts';
import { alternateAudioBranch, audioBranch, audioEncodeOptions, sourceDuration, trimmedDuration, volumeFilters, type GroupContext, type PlanInput } from './common.ts';
import { NO_AUDIO_LANGUAGES, type AudioLanguages } from '../../domain/audio-languages.ts';
import type { AudioStreamInfo } from '../ffmpeg/probe.ts';
import { pickTracks, type PickedTrack } from './audio-tracks.ts';
import { colorTagOptions, withHdrParameters } from './hdr.ts';
import { manifestLanguage } from '../../domain/media-tracks.ts';
import { videoCodecOptions } from './codecs.ts';
import { concatSources, through } from './graph.ts';
import type { Box } from './geometry.ts';
import { videoBranches, type PictureShape } from './video.ts';
import type { Filter } from '../ffmpeg/args.ts';
import { loudnessBranch, reportsStatistics, type PartQuality } from '../quality/plan.ts';

export interface AudioRendition {
  key: string;
  audio: AudioFields;
  /** The rendition's folder: the audio_only stream's sub_path, or a generated `audio…` name. */
  folder: string;
  /** Listed as a variant of its own (an audio_only stream asked for it). */
  listed: boolean;
  /** The source track it plays (audio_stream; the first track when none is asked). */
  track: PickedTrack;
  /** Its audio group: the renditions a variant offers, one per track it picks (HLS `agroup`). */
  group: number;
  /** The group's default rendition: the first track picked (or the alternate_default one). */
  isDefault: boolean;
  /** HLS AUTOSELECT; only an alternate_source may say no. */
  autoselect: boolean;
  /** An alternate_source rendition: the file it plays, not a source track. */
  alternate?: LocalAudio;
  /** The language main_source or alternate_source gave (`pt-BR`), which the manifests keep as given. */
  askedLanguage?: string;
}

/** An alternate_source file as fetched: where it is, and its first audio track (the one it plays). */
export interface LocalAudio {
  path: string;
  audio: AudioStreamInfo;
}

export interface AudioPlan {
  renditions: AudioRendition[];
  /** The audio group each video variant with sound plays. */
  variantAudio: Map<HlsStreamSpec, number>;
}

/**
 * Throws when an audio_only stream is asked of a source without sound. A variant that picks
 * several tracks (audio_stream) gets a group of renditions, one per track, the first its default;
 * variants with the same audio settings and picks share one group, encoded once. main_source
 * relabels a video variant's track, and every alternate_source file (`files`, in `languages`'
 * order) is one more rendition of each video variant's group.
 */
export function planRenditions(streams: HlsStreamSpec[], input: PlanInput, languages: AudioLanguages = NO_AUDIO_LANGUAGES, files: LocalAudio[] = []): AudioPlan {
  if (files.length !== languages.alternates.length) throw new Error(`internal: ${languages.alternates.length} alternate_source blocks but ${files.length} files`);
  const renditions: AudioRendition[] = [];
  const groups = new Map<string, number>();
  const hasAudio = input.probes.some((p) => p.audio.length > 0);
  for (const [i, s] of streams.entries()) {
    if (!s.audioOnly) continue;
    if (!hasAudio) throw new Error(`stream ${i + 1} is audio_only, but the source has no audio.`);
    const tracks = pickTracks(s, input);
    if (tracks.length !== 1) throw new Error(`stream ${i + 1} is audio_only, which is one rendition: its audio_stream must pick one track, not ${tracks.length}.`);
    const group = groups.size;
    groups.set(groupKey(s, tracks), group);
    renditions.push({ key: audioKey(s), audio: s, folder: s.subPath, listed: true, track: tracks[0]!, group, isDefault: true, autoselect: true });
  }
  if (!hasAudio && (languages.main || files.length > 0)) {
    throw new Error(`${languages.main ? 'main_source' : 'alternate_source'} labels the audio renditions beside the source's own sound, but the source has no audio.`);
  }
  const alternateDefault = languages.alternates.some((a) => a.isDefault);
  const variantAudio = new Map<HlsStreamSpec, number>();
  for (const s of streams) {
    if (s.audioOnly || s.videoOnly || !hasAudio) continue;
    const tracks = pickTracks(s, input);
    const key = groupKey(s, tracks);
    let group = groups.get(key);
    if (group === undefined) {
      group = groups.size;
      groups.set(key, group);
      if (languages.main && tracks.length > 1) {
        throw new Error(`main_source names the language of one audio rendition, but audio_stream picks ${tracks.length} tracks of the source; pick one track or remove main_source.`);
      }
      for (const [k, picked] of tracks.entries()) {
        const track = languages.main ? { ...picked, info: { ...picked.info, language: languages.main.containerLanguage, title: null } } : picked;
        renditions.push({
          key: audioKey(s), audio: s, folder: '', listed: false, track, group, isDefault: k === 0 && !alternateDefault, autoselect: true,
          ...(languages.main ? { askedLanguage: languages.main.language } : {}),
        });
      }
      for (const [k, file] of files.entries()) {
        const asked = languages.alternates[k]!;
        const track: PickedTrack = {
          perSource: input.probes.map(() => null),
          // The main track sets the group's format; the file's own track is converted to it.
          stream: tracks[0]!.stream,
          info: { number: 0, streamIndex: 0, codec: file.audio.codec, language: asked.containerLanguage, title: null, isDefault: asked.isDefault, channels: file.audio.channels },
        };
        renditions.push({
          key: audioKey(s), audio: s, folder: '', listed: false, track, group, isDefault: asked.isDefault, autoselect: asked.autoselect,
          alternate: file, askedLanguage: asked.language,
        });
      }
    }
    variantAudio.set(s, group);
  }
  nameGeneratedFolders(renditions, streams);
  return { renditions, variantAudio };
}

/** Variants whose audio is encoded alike from the same tracks share a group. */
function groupKey(s: AudioFields, tracks: PickedTrack[]): string {
  return JSON.stringify([audioKey(s), tracks.map((t) => t.perSource)]);
}

/** The rendition's label, language and default flag, as the manifests give them. */
export function renditionLabel(r: AudioRendition): { name: string; language: string | null; isDefault: boolean; autoselect: boolean } {
  const language = r.track.info.language;
  // A region or script asked for (`pt-BR`) is kept; a bare code is written in its shortest form (`fr`).
  const asked = r.askedLanguage?.includes('-') ? r.askedLanguage : null;
  return {
    name: r.track.info.title ?? (language ? languageName(asked ?? language) : r.folder), language: asked ?? (language ? manifestLanguage(language) : null),
    isDefault: r.isDefault, autoselect: r.autoselect,
  };
}

const LANGUAGE_NAMES = new Intl.DisplayNames(['en'], { type: 'language', fallback: 'code' });

function languageName(code: string): string {
  try {
    return LANGUAGE_NAMES.of(manifestLanguage(code)) ?? code;
  } catch {
    return code;
  }
}

/** Streams whose audio is encoded the same way share one rendition. */
export function audioKey(a: AudioFields): string {
  return JSON.stringify([a.audioCodec, a.audioBitrate, a.audioSampleRate, a.audioChannels, a.audioVolume, a.loudness, a.downmix]);
}

/** Renditions no stream named: `audio`, or `audio_0`, `audio_1`…, never a stream's own folder. */
function nameGeneratedFolders(renditions: AudioRendition[], streams: HlsStreamSpec[]): void {
  const used = new Set(streams.map((s) => s.subPath.toLowerCase()));
  const generated = renditions.filter((r) => !r.listed);
  for (const [k, r] of generated.entries()) {
    let name = generated.length === 1 ? 'audio' : `audio_${k}`;
    while (used.has(name.toLowerCase())) name += '_';
    used.add(name.toLowerCase());
    r.folder = name;
  }
}

/**
 * The filter graph branches and encoder options of a segmented output's variants: one picture
 * per video stream (`shapes[k]` for `videos[k]`), one sound per rendition, every source joined in
 * order. Each video variant gets a keyframe at every segment boundary, so all variants switch there.
 */
export function encodeVariants(
  ctx: GroupContext, videos: HlsStreamSpec[], shapes: PictureShape[], renditions: AudioRendition[],
  segment: { seconds: number; sourceFps: number },
): { video: string[]; audio: string[]; options: string[]; quality?: PartQuality } {
  const { input, graph } = ctx;
  const fromSources = renditions.filter((r) => !r.alternate);
  const joined = concatSources(
    graph,
    input.paths.map((_, i) => ({
      video: videoBranches(graph, i, shapes),
      audio: fromSources.map((r) => audioBranch(graph, r.audio, i, r.track)),
    })),
  );
  // alternate_source files play on the (joined) sources' timeline: trimmed alike, as long as the picture.
  const timeline = input.probes.reduce((sum, p) => sum + sourceDuration(p), 0);
  const length = ctx.joined ? timeline : trimmedDuration(timeline, ctx.trim);
  const audio = renditions.map((r) => {
    const label = r.alternate
      ? alternateAudioBranch(graph, r.audio, ctx.addInput({ path: r.alternate.path, options: ctx.trimmed.input }), r.alternate.audio, r.track.stream, length)
      : joined.audio[fromSources.indexOf(r)]!;
    return through(graph, label, volumeFilters(r.audio), 'vol');
  });
  // The quality report (quality/): each variant's encoder statistics, and the first rendition's loudness.
  let meter: Filter | null = null;
  if (ctx.quality && audio[0] !== undefined) ({ audio: audio[0], meter } = loudnessBranch(graph, audio[0]));
  const stats = videos.map((s) => ctx.quality && reportsStatistics(s.videoCodec));
  const options: string[] = [];
  for (const [k, s] of videos.entries()) {
    const shape = shapes[k]!;
    const fps = shape.fps ?? (segment.sourceFps || 25);
    const frames = s.keyframe ?? Math.max(1, Math.round(segment.seconds * fps));
    const bitrate = s.bitrate ?? defaultBitrate(shape.box, fps, s.videoCodec);
    const own = videoCodecOptions({ ...s, bitrate }, { box: shape.box, fps, pass: 0, passlog: '', segments: { everySec: segment.seconds, frames }, stats: stats[k] });
    const source = input.probes[0]?.video;
    const codec = source ? [...withHdrParameters(own, s, source), ...colorTagOptions(s, source)] : own;
    options.push(...forStream(codec, 'v', k));
  }
  for (const [r, rendition] of renditions.entries()) {
    options.push(...forStream(audioEncodeOptions(rendition.audio), 'a', r));
    // DASH takes an adaptation set's lang from it; fMP4 and MPEG-TS segments carry it too.
    if (rendition.track.info.language) options.push(`-metadata:s:a:${r}`, `language=${rendition.track.info.language}`);
  }
  const quality: PartQuality | undefined = ctx.quality
    ? { encoders: videos.map((s, k) => ({ codec: s.videoCodec, variant: s.subPath, stats: stats[k]! })), meter, audio: meter ? 'measured' : 'none' }
    : undefined;
  return { video: joined.video, audio, options, ...(quality ? { quality } : {}) };
}

/**
 * A variant needs a target bitrate: players choose variants by the bandwidth the master declares,
 * and FFmpeg leaves a variant without one out of the master. About 0.1 bit per pixel for H.264
 * (1080p30 ≈ 6.2 Mbit/s, 720p30 ≈ 2.8, 360p30 ≈ 0.7, close to Apple's authoring ladder), 60 %
 * of that for HEVC.
 */
export function defaultBitrate(box: Box, fps: number, codec: VideoCodec): number {
  const rate = Math.min(60, Math.max(24, fps || 30));
  const bits = box.width * box.height * rate * 0.1 * (codec === 'libx265' ? 0.6 : 1);
  return Math.max(64_000, Math.round(bits / 1000) * 1000);
}

/**
 * Encoder options for the k-th video (or audio) stream of an output: `-b:v` → `-b:v:1`,
 * `-preset` → `-preset:v:1`. Every option here is a name followed by its value.
 */
export function forStream(options: string[], type: 'v' | 'a', k: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < options.length; i += 2) {
    const name = options[i]!;
    const value = options[i + 1];
    if (value === undefined || !name.startsWith('-')) throw new Error(`internal: option ${name} has no value`);
    out.push(name.endsWith(`:${type}`) ? `${name}:${k}` : `${name}:${type}:${k}`, value);
  }
  return out;
}
