/**
 * `gif` and `image` (reference 4.9): an animated GIF with a palette made from its own frames,
 * and one still picture. Each runs as its own FFmpeg process (the palette needs every frame of
 * the GIF before the first is written, which would hold up a shared decode).
 */
import { join } from 'node:path';
import type { GifSpec, ImageSpec } from '../../domain/format.ts';
import type { VideoStreamInfo } from '../ffmpeg/probe.ts';
import { buildArgs, ffmpegUrl, filter, formatNumber, type Filter, type FilterChain } from '../ffmpeg/args.ts';
import {
  inputsFor, resolveTrim, singleOutput, sourceDuration, trimArgs, trimmedDuration,
  type EncodePlan, type PlanInput, type PlanOut,
} from './common.ts';
import { displayBox, even, fitFilters, rotatedFrame, targetBox, type Box } from './geometry.ts';
import { metadataOptions, stillAt } from './thumbnail.ts';
import { requireVideos } from './video.ts';
import { sdrFilters } from './hdr.ts';

/** palettegen over every frame, then paletteuse: the best colours for this clip. */
function paletteChains(from: string, colors: number, dither: string, out: string): FilterChain[] {
  return [
    { inputs: [from], filters: [filter('split', [2])], outputs: ['pa', 'pb'] },
    { inputs: ['pa'], filters: [filter('palettegen', { max_colors: colors, stats_mode: 'full' })], outputs: ['pal'] },
    { inputs: ['pb', 'pal'], filters: [filter('paletteuse', { dither })], outputs: [out] },
  ];
}

function sourceBox(v: VideoStreamInfo): Box {
  return displayBox(rotatedFrame(v, 0));
}

export function planGif(spec: GifSpec, input: PlanInput, out: PlanOut): EncodePlan {
  const videos = requireVideos(input.probes, 'gif');
  const joined = input.paths.length > 1;
  const total = input.probes.reduce((sum, p) => sum + sourceDuration(p), 0);
  const trim = resolveTrim(spec, videos[0]!.fps, total);
  const trimmed = trimArgs(trim, joined);
  const box = targetBox(sourceBox(videos[0]!), spec.size);
  const keepAspect = spec.size && spec.size.width > 0 && spec.size.height > 0 ? spec.keepAspectRatio : true;
  // interval is the frame delay in 1/100 s, which the GIF muxer writes from the frame rate.
  const fps = filter('fps', [`100/${spec.interval}`]);
  const perSource: FilterChain[] = videos.map((v, i) => ({
    inputs: [`${i}:v:0`], filters: [fps, ...sdrFilters(v), ...fitFilters(sourceBox(v), box, keepAspect)], outputs: [`g${i}`],
  }));
  const chains: FilterChain[] = joined
    ? [...perSource, { inputs: videos.map((_, i) => `g${i}`), filters: [filter('concat', { n: videos.length, v: 1, a: 0 })], outputs: ['g'] }]
    : [{ ...perSource[0]!, outputs: ['g'] }];
  chains.push(...paletteChains('g', spec.colors, spec.dither, 'v'));
  // encoding.com's loop counts plays the other way round from FFmpeg's GIF muxer:
  //   encoding.com -1 = loop forever  → FFmpeg -loop 0
  //   encoding.com  0 = play once     → FFmpeg -loop -1 (no NETSCAPE loop extension)
  //   encoding.com  N = repeat N times → FFmpeg -loop N
  const loop = spec.loop === -1 ? 0 : spec.loop === 0 ? -1 : spec.loop;
  const outputPath = join(out.dir, `${out.baseName}.gif`);
  const args = buildArgs({
    inputs: inputsFor(input.paths, trimmed.input),
    filterGraph: chains,
    outputs: [{ url: ffmpegUrl(outputPath), maps: ['[v]'], options: ['-an', ...trimmed.output, '-loop', String(loop), '-f', 'gif'] }],
  });
  return { passes: [args], durationSec: trimmedDuration(total, trim), listOutputs: singleOutput(outputPath) };
}

export function planImage(spec: ImageSpec, input: PlanInput, out: PlanOut): EncodePlan {
  const videos = requireVideos(input.probes, 'image');
  const total = input.probes.reduce((sum, p) => sum + sourceDuration(p), 0);
  const { index, at } = stillAt(spec.time, input, videos);
  const video = videos[index]!;
  const display = sourceBox(video);
  const box = targetBox(display, spec.size);
  const both = spec.size !== null && spec.size.width > 0 && spec.size.height > 0;
  let fit: Filter[];
  if (!both || spec.resizeMethod === 'combine') fit = fitFilters(display, box, true);
  else if (spec.resizeMethod === 'crop') {
    fit = [
      filter('scale', { w: box.width, h: box.height, force_original_aspect_ratio: 'increase' }),
      filter('crop', { w: box.width, h: box.height }),
      filter('setsar', ['1']),
    ];
  } else if (!spec.keepAspectRatio) fit = fitFilters(display, box, false);
  else {
    // resize keeping the aspect: inside the box, no padding.
    const scale = Math.min(box.width / display.width, box.height / display.height);
    const inner = { width: Math.min(box.width, even(display.width * scale)), height: Math.min(box.height, even(display.height * scale)) };
    fit = fitFilters(display, inner, true);
  }
  // Sharpening comes last, on the final pixels, as ImageMagick's -sharpen would after a resize.
  if (spec.sharpen) {
    const { matrix, amount } = spec.sharpen;
    fit = [...fit, filter('unsharp', { luma_msize_x: matrix, luma_msize_y: matrix, luma_amount: amount, chroma_amount: 0 })];
  }
  fit = [...sdrFilters(video), ...fit];
  const outputPath = join(out.dir, `${out.baseName}.${spec.imageFormat}`);
  const chains: FilterChain[] = spec.imageFormat === 'gif'
    ? [{ inputs: ['0:v:0'], filters: fit, outputs: ['f'] }, ...paletteChains('f', 255, 'sierra2_4a', 'v')]
    : [{ inputs: ['0:v:0'], filters: fit, outputs: ['v'] }];
  const codec: Record<ImageSpec['imageFormat'], string[]> = {
    // Quality 1..100 onto the JPEG quantiser 31..2 (lower is better).
    jpg: ['-c:v', 'mjpeg', '-q:v', String(Math.round(31 - ((spec.quality - 1) * 29) / 99))],
    png: ['-c:v', 'png'],
    gif: ['-c:v', 'gif'],
    webp: ['-c:v', 'libwebp', '-quality', String(spec.quality)],
  };
  const args = buildArgs({
    inputs: inputsFor([input.paths[index]!], at > 0 ? ['-ss', formatNumber(at)] : []),
    filterGraph: chains,
    outputs: [{
      url: ffmpegUrl(outputPath), maps: ['[v]'],
      options: ['-an', '-frames:v', '1', ...codec[spec.imageFormat], ...metadataOptions(spec.removeMetadata), '-f', 'image2', '-update', '1'],
    }],
  });
  return { passes: [args], durationSec: total, listOutputs: singleOutput(outputPath) };
}
