/** mp4, webm, mov, mkv and mpegts: the source picture scaled to the output's box, with its audio, into one file. */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { PixelFormat, VideoEncoding, VideoSpec } from '../../domain/format.ts';
import type { MediaProbe, VideoStreamInfo } from '../ffmpeg/probe.ts';
import { buildArgs, ffmpegUrl, filter, formatNumber, type Filter } from '../ffmpeg/args.ts';
import {
  audioBranch, audioEncodeOptions, audioTarget, singleOutput, sourceDuration, trimmedDuration, volumeFilters,
  type GroupContext, type OutputPart, type PlanOut,
} from './common.ts';
import { checkAudioCopy, containerExtension, containerOptions, videoCodecOptions, type Pass } from './codecs.ts';
import { displayBox, fitFilters, targetBox, type Box } from './geometry.ts';
import { concatSources, through, type GraphBuilder } from './graph.ts';
import { rotateOptions, rotationToWrite, tagOptions } from './edits.ts';
import { pickTracks, trackTagOptions } from './audio-tracks.ts';
import { colorTagOptions, keepsHdr, withHdrParameters } from './hdr.ts';
import { loudnessBranch, reportsStatistics, type PartQuality } from '../quality/plan.ts';

/**
 * `pass` 0 is a one-pass encode; 1 and 2 are the two runs of a two-pass one (1 gathers video
 * statistics only, writing nothing but the pass log).
 */
export function videoPart(spec: VideoSpec, ctx: GroupContext, out: PlanOut, pass: Pass = 0): OutputPart {
  const { input, graph } = ctx;
  const videos = requireVideos(input.probes, spec.output);
  const first = videos[0]!;
  const copyAudio = spec.audioCodec === 'copy';
  if (copyAudio && ctx.joined) {
    throw new Error('audio_codec copy cannot be used when several sources are joined; choose an audio_codec to re-encode.');
  }
  const tracks = spec.videoOnly || pass === 1 ? [] : pickTracks(spec, input);
  const sourceAudio = input.probes[0]?.audio[0];
  if (copyAudio) for (const t of tracks) checkAudioCopy(spec.container, t.stream.codec);

  const shape = pictureShape(spec, graph, first);
  if (spec.videoCodec === 'libsvtav1' && (shape.box.width < 64 || shape.box.height < 64)) {
    throw new Error(
      `libsvtav1 cannot encode a ${shape.box.width}x${shape.box.height} picture (64x64 at least); choose a larger size or video_codec libaom-av1.`,
    );
  }
  const encoded = copyAudio ? [] : tracks;
  const joined = concatSources(
    graph,
    input.paths.map((_, i) => ({
      video: [videoBranch(graph, i, shape)],
      audio: encoded.map((t) => audioBranch(graph, spec, i, t)),
    })),
  );
  const v = joined.video[0]!;
  const audioLabels = joined.audio.map((l) => through(graph, l, volumeFilters(spec), 'vol'));
  let a = audioLabels[0] ?? null;
  // The quality report (quality/): the encoder's own statistics, and the audio it is fed measured on the way.
  const measure = ctx.quality && pass !== 1;
  const stats = measure && reportsStatistics(spec.videoCodec);
  let meter: Filter | null = null;
  if (measure && a !== null) ({ audio: a, meter } = loudnessBranch(graph, a));
  if (a !== null) audioLabels[0] = a;

  const total = input.probes.reduce((sum, p) => sum + sourceDuration(p), 0);
  const durationSec = trimmedDuration(total, ctx.trim);
  const passlog = join(out.dir, `${out.baseName}.passlog`);
  const codec = [
    ...withHdrParameters(videoCodecOptions(spec, { box: shape.box, fps: shape.fps ?? first.fps, pass, passlog, container: spec.container, stats }), spec, first),
    ...colorTagOptions(spec, first),
  ];
  if (pass === 1) {
    return {
      outputs: [{ url: '/dev/null', maps: [`[${v}]`], options: [...codec, '-an', ...ctx.trimmed.output, '-f', 'null'] }],
      durationSec,
      listOutputs: async () => [],
    };
  }
  const audioMaps = copyAudio ? tracks.map((t) => `0:a:${t.perSource[0]}`) : audioLabels.map((l) => `[${l}]`);
  const partQuality: PartQuality = {
    encoders: [{ codec: spec.videoCodec, variant: null, stats }],
    meter,
    audio: meter ? 'measured' : copyAudio && sourceAudio && !spec.videoOnly ? 'copied' : 'none',
  };
  const ext = containerExtension(spec.container);
  const finalPath = join(out.dir, `${out.baseName}.${ext}`);
  const rotation = rotationToWrite(spec, input.probes[0]);
  // FFmpeg 5.1 writes rotation metadata only into a copied stream: the encode goes to a
  // side file, and a remux adds the display matrix.
  const outputPath = rotation ? join(out.dir, `${out.baseName}.unrotated.${ext}`) : finalPath;
  const remux = rotation
    ? [buildArgs({
        inputs: [{ path: outputPath, role: 'ownOutput' }],
        outputs: [{
          url: ffmpegUrl(finalPath),
          maps: ['0:v:0', '0:a?', '0:s?'],
          options: ['-c', 'copy', ...rotateOptions(rotation), '-map_metadata', '0', ...containerOptions(spec.container)],
        }],
      })]
    : undefined;
  return {
    outputs: [{
      url: ffmpegUrl(outputPath),
      maps: [`[${v}]`, ...audioMaps],
      options: [
        ...codec, ...(audioMaps.length ? [...audioEncodeOptions(spec, audioTarget(spec, tracks[0]!.stream)), ...trackTagOptions(tracks)] : ['-an']), ...ctx.trimmed.output,
        ...tagOptions(spec), ...containerOptions(spec.container),
      ],
    }],
    ...(remux ? { after: remux } : {}),
    ...(measure ? { quality: partQuality } : {}),
    durationSec,
    listOutputs: rotation
      ? async () => {
          await rm(outputPath, { force: true });
          return singleOutput(finalPath)();
        }
      : singleOutput(finalPath),
  };
}


/** The size and frame rate one output scales every source to. */
export interface PictureShape {
  box: Box;
  keepAspect: boolean;
  /** null = each source keeps its own rate. */
  fps: number | null;
  pixelFormat: PixelFormat;
  /** set_aspect_ratio: the display aspect (width/height) the frame is shown at; null = square pixels. */
  displayAspect: number | null;
  /** hdr keep on an HDR source: the picture is not tone-mapped (plan/hdr.ts). */
  keepHdr: boolean;
}

export function pictureShape(enc: VideoEncoding, graph: GraphBuilder, first: VideoStreamInfo): PictureShape {
  const display = displayBox(graph.frame(0));
  const box = targetBox(display, enc.size);
  // Only an explicit WxH can be stretched; a computed side already keeps the aspect. With
  // set_aspect_ratio the picture fills the frame and the players stretch it to the asked shape.
  const keepAspect = enc.aspectRatio !== null ? false : enc.size && enc.size.width > 0 && enc.size.height > 0 ? enc.keepAspectRatio : true;
  // Joined sources must share one frame rate; the first source's, unless one is asked.
  const joined = graph.input.paths.length > 1;
  const fps = typeof enc.framerate === 'number' ? enc.framerate : joined ? first.fps || 25 : null;
  const displayAspect = enc.aspectRatio === 'source' ? display.width / display.height : enc.aspectRatio;
  return { box, keepAspect, fps, pixelFormat: enc.pixelFormat, displayAspect, keepHdr: keepsHdr(enc, first) };
}

/** The output's own last filters: its pixel format, and the display aspect set_aspect_ratio asks for. */
function finishFilters(shape: PictureShape): Filter[] {
  return [
    filter('format', [shape.pixelFormat]),
    ...(shape.displayAspect !== null ? [filter('setdar', [formatNumber(shape.displayAspect)])] : []),
  ];
}

/**
 * Source i's picture for one output: its own copy of the decode, at the output's rate and size.
 * A picture that fills its box without bars is scaled down from a larger one of the same source
 * and rate when there is one (1080p → 720p rather than the source twice).
 */
export function videoBranch(graph: GraphBuilder, i: number, shape: PictureShape): string {
  const rate = shape.fps !== null ? [filter('fps', [formatNumber(shape.fps)])] : [];
  const fit = fitFilters(displayBox(graph.frame(i)), shape.box, shape.keepAspect);
  const whole = fit.every((f) => f.name !== 'pad');
  const larger = whole ? graph.largerRung(i, shape.fps, shape.box, shape.keepHdr) : null;
  const out = graph.label(`v${i}_`);
  const chain = larger
    ? {
        inputs: [graph.tapRung(larger)],
        filters: [filter('scale', { w: shape.box.width, h: shape.box.height }), filter('setsar', ['1']), ...finishFilters(shape)],
        outputs: [out],
      }
    : { inputs: [graph.video(i, shape.keepHdr)], filters: [...rate, ...fit, ...finishFilters(shape)], outputs: [out] };
  graph.add(chain);
  if (whole) graph.addRung({ source: i, fps: shape.fps, box: shape.box, chain, keepsHdr: shape.keepHdr });
  return out;
}

/** {@link videoBranch} for several outputs, largest first so the smaller ones can scale from them; labels in `shapes` order. */
export function videoBranches(graph: GraphBuilder, i: number, shapes: PictureShape[]): string[] {
  const labels: string[] = new Array<string>(shapes.length);
  const order = shapes.map((s, k) => k).sort((a, b) => area(shapes[b]!.box) - area(shapes[a]!.box));
  for (const k of order) labels[k] = videoBranch(graph, i, shapes[k]!);
  return labels;
}

const area = (b: Box): number => b.width * b.height;

export function requireVideos(probes: MediaProbe[], output: string): VideoStreamInfo[] {
  return probes.map((p, i) => {
    if (p.video) return p.video;
    const which = probes.length > 1 ? `Source ${i + 1} of ${probes.length} has` : 'The source has';
    throw new Error(`${which} no video stream, so an ${output} cannot be made from it. Use output mp3 or m4a for audio-only sources.`);
  });
}
