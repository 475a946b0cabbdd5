/** mp4 and webm: one filter graph from the source(s) to `[v]` and `[a]`, one or two FFmpeg runs. */
import { join } from 'node:path';
import type { VideoSpec } from '../../domain/format.ts';
import type { MediaProbe, VideoStreamInfo } from '../ffmpeg/probe.ts';
import { buildArgs, ffmpegUrl, filter, formatNumber, type FfmpegCommand, type Filter, type FilterChain } from '../ffmpeg/args.ts';
import {
  audioEncodeOptions, audioSegments, inputsFor, relabel, resolveTrim, singleOutput, sourceDuration, trimArgs,
  trimmedDuration, volumeFilters, type EncodePlan, type PlanInput, type PlanOut,
} from './common.ts';
import { checkAudioCopy, containerOptions, usesTwoPasses, videoCodecOptions, type Pass } from './codecs.ts';
import {
  cropFilters, croppedFrame, displayBox, fitFilters, rotatedFrame, targetBox, turnFilters, type Box, type QuarterTurn,
} from './geometry.ts';

export function planVideo(spec: VideoSpec, input: PlanInput, out: PlanOut): EncodePlan {
  const videos = input.probes.map((p, i) => requireVideo(p, i, input.probes.length, spec.output));
  const first = videos[0]!;
  const joined = input.paths.length > 1;

  const firstFrame = croppedFrame(rotatedFrame(first, extraTurn(spec, first)), spec.crop);
  const box = targetBox(displayBox(firstFrame), spec.size);
  // Only an explicit WxH can be stretched; a computed side already keeps the aspect.
  const keepAspect = spec.size && spec.size.width > 0 && spec.size.height > 0 ? spec.keepAspectRatio : true;
  // Joined sources must share one frame rate; the first source's, unless one is asked.
  const fps = typeof spec.framerate === 'number' ? spec.framerate : joined ? first.fps || 25 : null;

  const videoChains = videos.map((v, i) => videoChain(spec, v, i, box, keepAspect, fps, joined ? `v${i}` : 'v'));

  const copyAudio = spec.audioCodec === 'copy';
  if (copyAudio && joined) {
    throw new Error('audio_codec copy cannot be used when several sources are joined; choose an audio_codec to re-encode.');
  }
  const firstAudio = input.probes[0]?.audio[0];
  if (copyAudio && firstAudio) checkAudioCopy(spec.container, firstAudio.codec);
  const audio = copyAudio ? null : audioSegments(spec, input);

  const total = input.probes.reduce((sum, p) => sum + sourceDuration(p), 0);
  const trim = resolveTrim(spec, first.fps, total);
  const trimmed = trimArgs(trim, joined);
  const inputs = inputsFor(input.paths, trimmed.input);
  const outputPath = join(out.dir, `${out.baseName}.${spec.container}`);
  const passlog = join(out.dir, `${out.baseName}.passlog`);
  const codec = (pass: Pass): string[] => videoCodecOptions(spec, { box, fps: fps ?? first.fps, pass, passlog });

  const finalGraph = [...videoChains, ...(audio ?? []), ...joinChains(input.paths.length, audio !== null, volumeFilters(spec))];
  const audioMaps = copyAudio ? (firstAudio ? ['0:a:0?'] : []) : audio ? ['[a]'] : [];
  const audioOptions = audioMaps.length ? audioEncodeOptions(spec) : ['-an'];
  const final: FfmpegCommand = {
    inputs,
    filterGraph: finalGraph,
    outputs: [{
      url: ffmpegUrl(outputPath),
      maps: ['[v]', ...audioMaps],
      options: [...codec(usesTwoPasses(spec) ? 2 : 0), ...audioOptions, ...trimmed.output, ...containerOptions(spec.container)],
    }],
  };

  const passes: string[][] = [];
  if (usesTwoPasses(spec)) {
    // Pass 1 only gathers video statistics: no audio, nothing written but the passlog files.
    const pass1: FfmpegCommand = {
      inputs,
      filterGraph: [...videoChains, ...joinChains(input.paths.length, false, [])],
      outputs: [{ url: '/dev/null', maps: ['[v]'], options: [...codec(1), '-an', ...trimmed.output, '-f', 'null'] }],
    };
    passes.push(buildArgs(pass1));
  }
  passes.push(buildArgs(final));

  return { passes, durationSec: trimmedDuration(total, trim), listOutputs: singleOutput(outputPath) };
}

function requireVideo(p: MediaProbe, i: number, count: number, output: string): VideoStreamInfo {
  if (p.video) return p.video;
  const which = count > 1 ? `Source ${i + 1} of ${count} has` : 'The source has';
  throw new Error(`${which} no video stream, so an ${output} cannot be made from it. Use output mp3 or m4a for audio-only sources.`);
}

/**
 * FFmpeg's autorotate has already turned the picture the way the source asks (and reset the
 * rotation flag in the output). An explicit rotate means "turn the stored picture by N and ignore
 * the flag", so we add the difference. Using autorotate for this instead of `-noautorotate` is
 * deliberate: with -noautorotate FFmpeg 5.1 copies the source's display matrix into the output,
 * and players would turn the picture a second time.
 */
function extraTurn(spec: VideoSpec, v: VideoStreamInfo): QuarterTurn {
  if (spec.rotate === 'def') return 0;
  return ((((spec.rotate - v.rotation) % 360) + 360) % 360) as QuarterTurn;
}

function videoChain(
  spec: VideoSpec, v: VideoStreamInfo, index: number, box: Box, keepAspect: boolean, fps: number | null, label: string,
): FilterChain {
  const turn = extraTurn(spec, v);
  const frame = croppedFrame(rotatedFrame(v, turn), spec.crop);
  const filters: Filter[] = [
    ...deinterlaceFilters(spec, v),
    // Frame rate first: dropping frames before scaling saves work.
    ...(fps !== null ? [filter('fps', [formatNumber(fps)])] : []),
    ...turnFilters(turn),
    ...cropFilters(spec.crop),
    ...fitFilters(displayBox(frame), box, keepAspect),
    filter('format', ['yuv420p']),
  ];
  return { inputs: [`${index}:v:0`], filters, outputs: [label] };
}

function deinterlaceFilters(spec: VideoSpec, v: VideoStreamInfo): Filter[] {
  if (spec.deinterlacing === 'no') return [];
  if (spec.deinterlacing === 'yes') return [filter('yadif')];
  // auto: only frames flagged interlaced are touched; a source known progressive skips the filter.
  return v.fieldOrder === 'progressive' ? [] : [filter('yadif', { deint: 'interlaced' })];
}

/** Joins `[v0][a0][v1][a1]…` with one concat so each segment's audio stays aligned with its video. */
function joinChains(count: number, withAudio: boolean, volume: Filter[]): FilterChain[] {
  if (count === 1) return withAudio ? [relabel('a0', 'a', volume, true)] : [];
  const inputs = Array.from({ length: count }, (_, i) => (withAudio ? [`v${i}`, `a${i}`] : [`v${i}`])).flat();
  const concat = filter('concat', { n: count, v: 1, a: withAudio ? 1 : 0 });
  if (!withAudio) return [{ inputs, filters: [concat], outputs: ['v'] }];
  if (volume.length === 0) return [{ inputs, filters: [concat], outputs: ['v', 'a'] }];
  return [{ inputs, filters: [concat], outputs: ['v', 'joined_a'] }, relabel('joined_a', 'a', volume, true)];
}
