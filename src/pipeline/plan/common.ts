/** What every output family shares: inputs, trims, the audio chain, the concatenation of sources. */
import { stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { timeToSeconds, type AudioFields, type TrimFields } from '../../domain/format.ts';
import type { AudioStreamInfo, MediaProbe } from '../ffmpeg/probe.ts';
import { filter, formatNumber, type FfmpegInput, type FfmpegOutput, type Filter } from '../ffmpeg/args.ts';
import type { GraphBuilder } from './graph.ts';
import { probeAt, type PlanInput, type Trim } from './input.ts';
import type { PartQuality } from '../quality/plan.ts';
import { downmixFilters, pickTracks, type PickedTrack } from './audio-tracks.ts';

export { probeAt, type PlanInput, type Trim };

export interface PlanOut {
  dir: string;
  baseName: string;
}

/** Everything needed to run one output: FFmpeg runs in order, and where their files end up. */
export interface EncodePlan {
  /** One argv per FFmpeg run (two for a two-pass encode), without the runner's own prefix. */
  passes: string[][];
  /** Expected length of what is encoded, for progress; the source's length for thumbnails. */
  durationSec: number;
  /** The files written, sorted; rejects when FFmpeg wrote none. */
  listOutputs(): Promise<string[]>;
}

/** What every output of a shared FFmpeg process sees: the sources, their common trim, the graph. */
export interface GroupContext {
  input: PlanInput;
  joined: boolean;
  trim: Trim;
  /** `-ss`/`-t` for the first input and for every output (see {@link trimArgs}). */
  trimmed: { input: string[]; output: string[] };
  graph: GraphBuilder;
  /** Measure each video output for its quality report (ENCODERY_QUALITY_REPORT, quality/). */
  quality: boolean;
  /** Adds an input after the sources (an alternate_source file) and returns its FFmpeg index. */
  addInput(input: FfmpegInput): number;
}

/** One task's share of an FFmpeg process: its outputs, and how to find the files they wrote. */
export interface OutputPart {
  outputs: FfmpegOutput[];
  /** FFmpeg runs after the shared one, for this part alone (a remux that adds rotation metadata). */
  after?: string[][];
  durationSec: number;
  listOutputs(): Promise<string[]>;
  /** How this output is measured for its quality report; absent when it is not. */
  quality?: PartQuality;
}

/** listOutputs for a plan that writes exactly one file. */
export function singleOutput(path: string): () => Promise<string[]> {
  return async () => {
    const st = await stat(path).catch(() => null);
    if (!st || st.size === 0) {
      throw new Error(`FFmpeg finished without writing ${basename(path)}; the source may end before the requested part.`);
    }
    return [path];
  };
}

export function checkInput(input: PlanInput): void {
  if (input.paths.length === 0) throw new Error('There is no source to encode.');
  if (input.paths.length !== input.probes.length) {
    throw new Error(`planEncode needs one probe per source (${input.paths.length} paths, ${input.probes.length} probes).`);
  }
}

/** A source's length for planning: its video if it has one (audio may run on), else the file's. */
export function sourceDuration(p: MediaProbe): number {
  return p.video?.durationSec ?? p.durationSec;
}

/** Resolves start/duration/finish against the (joined) source; throws when they miss it. */
export function resolveTrim(spec: TrimFields, fps: number, total: number): Trim {
  // A timecode's frames need a rate; an audio-only source has none, so count 25 (PAL) frames a second.
  const rate = fps > 0 ? fps : 25;
  const start = spec.start ? timeToSeconds(spec.start, rate) : 0;
  if (start > 0 && total > 0 && start >= total) {
    throw new Error(`start (${round(start)} s) is at or after the end of the source (${round(total)} s); use an earlier start.`);
  }
  let length = spec.duration;
  if (length === null && spec.finish) {
    length = timeToSeconds(spec.finish, rate) - start;
    if (length <= 0) throw new Error(`finish (${round(start + length)} s) must be later than start (${round(start)} s).`);
  }
  return { start, length };
}

export function trimmedDuration(total: number, trim: Trim): number {
  const rest = Math.max(0, total - trim.start);
  if (trim.length === null) return rest;
  return total > 0 ? Math.min(trim.length, rest) : trim.length;
}

/**
 * One source is trimmed by seeking the input (`-ss` before `-i`, accurate and fast) and `-t` on
 * the output. Joined sources are trimmed on the joined timeline, with output `-ss`/`-t`.
 */
export function trimArgs(trim: Trim, joined: boolean): { input: string[]; output: string[] } {
  const ss = trim.start > 0 ? ['-ss', formatNumber(trim.start)] : [];
  const t = trim.length !== null ? ['-t', formatNumber(trim.length)] : [];
  return joined ? { input: [], output: [...ss, ...t] } : { input: ss, output: t };
}

export function inputsFor(paths: string[], firstInputOptions: string[]): FfmpegInput[] {
  return paths.map((p, i) => ({ path: p, options: i === 0 ? firstInputOptions : [] }));
}

export interface AudioTarget {
  sampleRate: number;
  channels: number;
}

/** 44100/48000 from the source are kept, anything else becomes 48000; at most stereo unless asked. */
export function audioTarget(spec: AudioFields, source: AudioStreamInfo): AudioTarget {
  const keep = source.sampleRate === 44100 || source.sampleRate === 48000;
  const sampleRate = spec.audioSampleRate ?? (spec.audioCodec === 'libopus' ? 48000 : keep ? source.sampleRate : 48000);
  const channels = spec.audioChannels ?? Math.min(2, Math.max(1, source.channels));
  return { sampleRate, channels };
}

const LAYOUTS = ['mono', 'stereo', '3.0', 'quad', '5.0', '5.1', '6.1', '7.1'];

function layout(channels: number): string {
  return LAYOUTS[channels - 1] ?? 'stereo';
}

/**
 * `target` (the output's rate and channels) lets a Vorbis bitrate be lowered to what libvorbis
 * accepts at that rate: it refuses, for one channel, more than about 32k at 8000 Hz or 80k at 22050.
 */
export function audioEncodeOptions(spec: AudioFields, target?: AudioTarget): string[] {
  if (spec.audioCodec === 'copy') return ['-c:a', 'copy'];
  let bitrate = spec.audioBitrate;
  if (bitrate !== null && spec.audioCodec === 'libvorbis' && target) {
    const perChannel = target.sampleRate < 16000 ? 32_000 : target.sampleRate <= 24000 ? 64_000 : 192_000;
    bitrate = Math.min(bitrate, perChannel * target.channels);
  }
  return ['-c:a', spec.audioCodec, ...(bitrate !== null ? ['-b:a', String(bitrate)] : [])];
}

export function volumeFilters(spec: AudioFields): Filter[] {
  return spec.audioVolume !== 100 ? [filter('volume', [formatNumber(spec.audioVolume / 100)])] : [];
}

/**
 * loudnorm (one pass, dynamic mode), measured on the output's own channels (after the downmix).
 * Joined sources are levelled one by one, which brings the whole to the same target. loudnorm
 * works at 192 kHz inside and hands that rate on, hence the second aformat.
 */
export function levelFilters(spec: AudioFields, target: AudioTarget): Filter[] {
  if (spec.loudness) {
    const { integrated, range, truePeak } = spec.loudness;
    return [
      filter('loudnorm', { I: formatNumber(integrated), LRA: formatNumber(range), TP: formatNumber(truePeak) }),
      filter('aformat', { sample_rates: target.sampleRate }),
    ];
  }
  return [];
}

/** The first audio stream of the first source that has one: it sets the output's audio format. */
export function firstAudio(input: PlanInput): AudioStreamInfo | undefined {
  return input.probes.find((p) => p.audio.length > 0)?.audio[0];
}

/**
 * Source i's audio for one output, brought to the output's format: a copy of the audio track
 * `track` picks (audio-tracks.ts; the first track when none is asked), or silence as long as the
 * source when it has none (the concat filter needs every segment to have the same streams).
 */
export function audioBranch(graph: GraphBuilder, spec: AudioFields, i: number, track?: PickedTrack): string {
  const picked = track ?? pickTracks(spec, graph.input)[0];
  if (!picked) throw new Error('internal: no source has audio');
  const target = audioTarget(spec, picked.stream);
  const p = probeAt(graph.input, i);
  const out = graph.label(`a${i}_`);
  const number = picked.perSource[i] ?? null;
  if (number !== null) {
    graph.add({ inputs: [graph.audio(i, number)], filters: trackFilters(spec, p.audio[number]!, target), outputs: [out] });
  } else {
    graph.add({
      inputs: [],
      filters: [
        filter('anullsrc', { r: target.sampleRate, cl: layout(target.channels) }),
        filter('atrim', { duration: formatNumber(sourceDuration(p)) }),
      ],
      outputs: [out],
    });
  }
  return out;
}

/**
 * The sound of an alternate_source file (input `inputIndex`, its first audio track) in the format
 * of the main rendition it sits beside (`main`), so every rendition of a group plays alike. It
 * lasts exactly `durationSec`, the picture's length: a shorter file is padded with silence, a
 * longer one cut.
 */
export function alternateAudioBranch(graph: GraphBuilder, spec: AudioFields, inputIndex: number, track: AudioStreamInfo, main: AudioStreamInfo, durationSec: number): string {
  const out = graph.label('alt');
  const length = formatNumber(Math.max(0.001, durationSec));
  graph.add({
    inputs: [`${inputIndex}:a:0`],
    filters: [...trackFilters(spec, track, audioTarget(spec, main)), filter('apad', { whole_dur: length }), filter('atrim', { duration: length })],
    outputs: [out],
  });
  return out;
}

/** A decoded track → the output's channels, rate and level. */
function trackFilters(spec: AudioFields, source: AudioStreamInfo, target: AudioTarget): Filter[] {
  const format = filter('aformat', { sample_rates: target.sampleRate, channel_layouts: layout(target.channels) });
  return [...downmixFilters(spec.downmix, source.channels, layout(target.channels), target.channels), format, ...levelFilters(spec, target)];
}

function round(n: number): string {
  return formatNumber(Math.round(n * 1000) / 1000);
}
