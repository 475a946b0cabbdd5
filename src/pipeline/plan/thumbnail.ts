/** JPEG thumbnails (reference 4.8): one picture at a time, or one every N seconds. */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { ThumbnailSpec } from '../../domain/format.ts';
import type { VideoStreamInfo } from '../ffmpeg/probe.ts';
import { buildArgs, ffmpegUrl, filter, formatNumber, type Filter, type FilterChain } from '../ffmpeg/args.ts';
import { inputsFor, sourceDuration, type EncodePlan, type PlanInput, type PlanOut } from './common.ts';
import { displayBox, even, fitFilters, rotatedFrame, type Box } from './geometry.ts';

export function planThumbnail(spec: ThumbnailSpec, input: PlanInput, out: PlanOut): EncodePlan {
  const videos = input.probes.map((p, i) => {
    if (p.video) return p.video;
    const which = input.probes.length > 1 ? `Source ${i + 1} of ${input.probes.length} has` : 'The source has';
    throw new Error(`${which} no video stream, so no thumbnail can be taken from it.`);
  });
  const durations = input.probes.map(sourceDuration);
  const total = durations.reduce((a, b) => a + b, 0);
  const box = thumbnailBox(spec, videos[0]!);
  const quality = ['-q:v', String(qscale(spec.quality))];

  if (spec.time.kind === 'every') {
    const every = spec.time.seconds;
    // The fps filter keeps the frame nearest to 0, N, 2N… seconds.
    const rate = filter('fps', [`1000/${Math.round(every * 1000)}`]);
    const joined = input.paths.length > 1;
    const graph: FilterChain[] = joined
      ? [
          ...videos.map((v, i) => ({ inputs: [`${i}:v:0`], filters: fit(v, box), outputs: [`v${i}`] })),
          { inputs: videos.map((_, i) => `v${i}`), filters: [filter('concat', { n: videos.length, v: 1, a: 0 }), rate], outputs: ['v'] },
        ]
      : [{ inputs: ['0:v:0'], filters: [rate, ...fit(videos[0]!, box)], outputs: ['v'] }];
    // `%` in a name would be read as part of the image2 pattern.
    const literal = (s: string): string => s.replace(/%/g, '%%');
    const pattern = join(literal(out.dir), `${literal(out.baseName)}_%04d.jpg`);
    const args = buildArgs({
      inputs: inputsFor(input.paths, []),
      filterGraph: graph,
      outputs: [{ url: ffmpegUrl(pattern), maps: ['[v]'], options: ['-an', '-fps_mode', 'passthrough', ...quality] }],
    });
    return { passes: [args], durationSec: total, listOutputs: () => listNumbered(out) };
  }

  const { index, at } = stillAt(spec.time, input, videos);
  const video = videos[index]!;
  const path = input.paths[index]!;
  const outputPath = join(out.dir, `${out.baseName}.jpg`);
  const args = buildArgs({
    inputs: inputsFor([path], at > 0 ? ['-ss', formatNumber(at)] : []),
    filterGraph: [{ inputs: ['0:v:0'], filters: fit(video, box), outputs: ['v'] }],
    outputs: [{ url: ffmpegUrl(outputPath), maps: ['[v]'], options: ['-an', '-frames:v', '1', '-update', '1', ...quality] }],
  });
  return {
    passes: [args],
    durationSec: total,
    listOutputs: async () => {
      const files = await listFiles(out.dir, (n) => n === `${out.baseName}.jpg`);
      if (files.length === 0) throw new Error(`FFmpeg finished without writing the thumbnail at ${formatNumber(at)} s.`);
      return files;
    },
  };
}

/**
 * One picture at a time or a percentage of the (joined) sources: the source that holds it and
 * the seek inside that source.
 */
export function stillAt(
  time: Exclude<ThumbnailSpec['time'], { kind: 'every' }>, input: PlanInput, videos: VideoStreamInfo[],
): { index: number; at: number } {
  const durations = input.probes.map(sourceDuration);
  const total = durations.reduce((a, b) => a + b, 0);
  const wanted = time.kind === 'at' ? time.seconds : (time.percent / 100) * total;
  let index = 0;
  let local = Math.max(0, wanted);
  while (index < durations.length - 1 && local >= (durations[index] ?? 0)) {
    local -= durations[index] ?? 0;
    index += 1;
  }
  const video = videos[index]!;
  const duration = durations[index] ?? 0;
  // Keep the seek a couple of frames before the end so there is still a frame to decode.
  const margin = Math.max(0.1, video.fps > 0 ? 2 / video.fps : 0.1);
  return { index, at: Math.min(local, Math.max(0, duration - margin)) };
}

/** Width or height alone keeps the aspect; both letterbox; neither is the source's display size. */
function thumbnailBox(spec: ThumbnailSpec, v: VideoStreamInfo): Box {
  const display = displayBox(rotatedFrame(v, 0));
  const { width, height } = spec;
  if (width && height) return { width, height };
  if (width) return { width, height: even((width * display.height) / display.width) };
  if (height) return { width: even((height * display.width) / display.height), height };
  return { width: even(display.width), height: even(display.height) };
}

function fit(v: VideoStreamInfo, box: Box): Filter[] {
  return fitFilters(displayBox(rotatedFrame(v, 0)), box, true);
}

/** Quality 1..100 onto the JPEG quantiser 31..2 (lower is better). */
function qscale(quality: number): number {
  return Math.round(31 - ((quality - 1) * 29) / 99);
}

async function listNumbered(out: PlanOut): Promise<string[]> {
  const prefix = `${out.baseName}_`;
  const files = await listFiles(out.dir, (n) => n.startsWith(prefix) && /^\d{4,}\.jpg$/.test(n.slice(prefix.length)));
  if (files.length === 0) throw new Error('FFmpeg finished without writing any thumbnail.');
  return files;
}

export async function listFiles(dir: string, keep: (name: string) => boolean): Promise<string[]> {
  const names = await readdir(dir);
  return names.filter(keep).sort().map((n) => join(dir, n));
}
