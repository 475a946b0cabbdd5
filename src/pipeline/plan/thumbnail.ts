/**
 * JPEG thumbnails (reference 4.8): one picture at a time, one every N seconds, or (use_vtt)
 * sprite sheets of one every N seconds with a WebVTT storyboard.
 */
import { sdrFilters } from './hdr.ts';
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { MAX_SHEET_SIDE, type StoryboardSpec, type ThumbnailSpec } from '../../domain/format.ts';
import { renderVtt, storyboardCues, type SheetLayout } from '../../domain/storyboard.ts';
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
  const quality = ['-q:v', String(qscale(spec.quality)), ...metadataOptions(spec.removeMetadata)];

  if (spec.time.kind === 'every') {
    const every = spec.time.seconds;
    // Slot k of the fps filter gets the last frame at or before k × N s (round=up on the input
    // timestamps): the picture a player shows at that moment.
    const rate = filter('fps', { fps: `1000/${Math.round(every * 1000)}`, round: 'up' });
    const joined = input.paths.length > 1;
    const graph: FilterChain[] = joined
      ? [
          ...videos.map((v, i) => ({ inputs: [`${i}:v:0`], filters: fit(v, box), outputs: [`v${i}`] })),
          { inputs: videos.map((_, i) => `v${i}`), filters: [filter('concat', { n: videos.length, v: 1, a: 0 }), rate], outputs: ['v'] },
        ]
      : [{ inputs: ['0:v:0'], filters: [rate, ...fit(videos[0]!, box)], outputs: ['v'] }];
    if (spec.storyboard) return planStoryboard(spec.storyboard, { paths: input.paths, every, total, box, graph, quality }, out);
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

/** `%` in a name would be read as part of the image2 pattern. */
const literal = (s: string): string => s.replace(/%/g, '%%');

/** `remove_metadata`: no source metadata, and no encoder comment (`Lavc…`) in the JPEG. */
export function metadataOptions(remove: boolean): string[] {
  return remove ? ['-map_metadata', '-1', '-fflags', '+bitexact', '-flags:v', '+bitexact'] : [];
}

interface StoryboardInput {
  paths: string[];
  every: number;
  /** Length of the (joined) sources: where the last cue ends. */
  total: number;
  box: Box;
  /** Thumbnails at the tile size as `[v]`. */
  graph: FilterChain[];
  quality: string[];
}

/**
 * The thumbnails of `graph` go two ways in one FFmpeg run: tiled into the sheets, and one line
 * each into a framecrc list. The list gives the exact number of thumbnails (the last sheet's
 * empty tiles are black and cannot be told from dark thumbnails), from which the VTT is written
 * once FFmpeg is done.
 */
function planStoryboard(board: StoryboardSpec, s: StoryboardInput, out: PlanOut): EncodePlan {
  // A sheet holding everything needs no more rows (or tiles in a row) than the thumbnails fill.
  const expected = Math.max(1, Math.ceil(s.total / s.every - 1e-9));
  const perRow = Math.min(board.perRow, expected);
  const layout: SheetLayout = {
    perRow, rows: Math.min(board.rows, Math.ceil(expected / perRow)), tileWidth: s.box.width, tileHeight: s.box.height,
  };
  if (layout.perRow * layout.tileWidth > MAX_SHEET_SIDE || layout.rows * layout.tileHeight > MAX_SHEET_SIDE) {
    throw new Error(
      `Sprite sheets of ${layout.perRow}x${layout.rows} tiles of ${s.box.width}x${s.box.height} would be ${layout.perRow * s.box.width}x${layout.rows * s.box.height} pixels; `
      + `keep them within ${MAX_SHEET_SIDE} on a side with a smaller vtt_line_size, vtt_max_lines, width or height.`,
    );
  }
  const graph: FilterChain[] = [
    ...s.graph.map((c, i) => (i === s.graph.length - 1 ? { ...c, outputs: ['thumbs'] } : c)),
    { inputs: ['thumbs'], filters: [filter('split', [2])], outputs: ['t', 'c'] },
    { inputs: ['t'], filters: [filter('tile', { layout: `${layout.perRow}x${layout.rows}` })], outputs: ['v'] },
  ];
  const prefix = `${out.baseName}_sprite_`;
  const counter = join(out.dir, `.${out.baseName}.framecrc`);
  const vttPath = join(out.dir, `${out.baseName}.vtt`);
  const args = buildArgs({
    inputs: inputsFor(s.paths, []),
    filterGraph: graph,
    outputs: [
      { url: ffmpegUrl(join(literal(out.dir), `${literal(prefix)}%04d.jpg`)), maps: ['[v]'], options: ['-an', '-fps_mode', 'passthrough', ...s.quality] },
      { url: ffmpegUrl(counter), maps: ['[c]'], options: ['-an', '-fps_mode', 'passthrough', '-f', 'framecrc'] },
    ],
  });
  return {
    passes: [args],
    durationSec: s.total,
    listOutputs: async () => {
      const crc = await readFile(counter, 'utf8').catch(() => '');
      const count = crc.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('#')).length;
      const sheets = await listFiles(out.dir, (n) => n.startsWith(prefix) && /^\d{4,}\.jpg$/.test(n.slice(prefix.length)));
      if (count === 0 || sheets.length === 0) throw new Error('FFmpeg finished without writing any thumbnail.');
      const perSheet = layout.perRow * layout.rows;
      if (sheets.length !== Math.ceil(count / perSheet)) {
        throw new Error(`FFmpeg wrote ${sheets.length} sprite sheet(s) for ${count} thumbnails; ${Math.ceil(count / perSheet)} were expected.`);
      }
      const cues = storyboardCues(count, s.every, s.total, layout);
      // Local names: right for outputs kept here; each delivery rewrites them (domain/storyboard.ts).
      await writeFile(vttPath, renderVtt(cues, (i) => basename(sheets[i]!)));
      await rm(counter, { force: true });
      return [...sheets, vttPath];
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
  return [...sdrFilters(v), ...fitFilters(displayBox(rotatedFrame(v, 0)), box, true)];
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
