/**
 * Stages: several sources made into one picture before the split, so that every output of the
 * process sees one source (a "view" of the input) and editing is drawn once on the result.
 * - split_screen: the sources side by side in a grid (xstack); the sound is the first source's that has any.
 * - joined sources with editing: the sources one after another (concat), so a logo or a fade
 *   runs over the joined timeline.
 * Each source is prepared (deinterlace, turn, crop), brought to the first source's rate and
 * fitted into the size of the first source's prepared picture. The stage is 8-bit SDR: an HDR
 * source is tone-mapped to BT.709 (hdr.ts) before it is stacked or joined, so it does not come
 * out washed out, and the stage is then tagged BT.709; `hdr keep` is refused (plan/media.ts).
 */
import type { Picture } from '../../domain/format.ts';
import { parseSplitScreen, type SplitScreen } from '../../domain/split-screen.ts';
import type { MediaProbe, VideoStreamInfo } from '../ffmpeg/probe.ts';
import { filter, formatNumber, type FilterChain } from '../ffmpeg/args.ts';
import { probeAt, type PlanInput } from './common.ts';
import { even, displayBox, fitFilters } from './geometry.ts';
import { pictureFilters, preparedFrame, type Stage } from './graph.ts';
import { mediaOptions } from '../../domain/media-options.ts';
import { BT709_COLOR, isHighDynamicRange, type VideoColor } from '../../domain/video-color.ts';
import { sdrFilters } from './hdr.ts';

/** The picture of the grid itself: already prepared, nothing more to do. */
const NEUTRAL: Picture = {
  crop: { left: 0, top: 0, right: 0, bottom: 0 }, rotate: 'def', deinterlacing: 'no', noiseReduction: null, burninTimecode: false, autoCrop: null,
};

/** The sources with the media's split_screen (kept with the request's other top-level fields). */
export function withSplitScreen<T extends PlanInput>(input: T, optionsJson: string | null): T {
  const options = mediaOptions(optionsJson);
  const parsed = parseSplitScreen(options['split_screen'], input.paths.length);
  // AddMedia refused a bad one; a media stored before this field existed has none.
  return parsed.ok && parsed.value ? { ...input, splitScreen: parsed.value } : input;
}

export interface Composite {
  /** What the outputs see: one source, the grid or the joined sources. */
  view: PlanInput;
  /** The view is sources one after another: trims count on the joined timeline, after the stage. */
  joined: boolean;
  /** The picture filters of the view (none: every cell was prepared before stacking). */
  picture: Picture | null;
  stage: Stage;
}

/** The grid of `input`'s sources; `picture` is what each source gets before it is fitted into its cell. */
export function compositeOf(input: PlanInput, split: SplitScreen, picture: Picture | null): Composite {
  const audioSource = input.probes.findIndex((p) => p.audio.length > 0);
  const duration = Math.max(...input.probes.map((p) => p.durationSec));
  const first = probeAt(input, 0);
  const audio = audioSource >= 0 ? probeAt(input, audioSource).audio : [];
  if (!picture) {
    // Audio only: the grid's sound is all there is.
    const view: MediaProbe = { ...first, durationSec: duration, video: null, audio };
    return { view: { paths: [input.paths[0]!], probes: [view] }, joined: false, picture: null, stage: { video: null, audio: audioSource >= 0 ? `${audioSource}:a:0` : null } };
  }
  const videos = input.probes.map((p, i) => {
    if (!p.video) throw new Error(`split_screen needs a picture from every source; source ${i + 1} of ${input.probes.length} has no video stream.`);
    return p.video;
  });
  const v0 = videos[0]!;
  const cell0 = displayBox(preparedFrame(picture, v0));
  const cell = { width: even(cell0.width), height: even(cell0.height) };
  const { columns, rows, padding } = split;
  const pitch = { x: cell.width + padding.left + padding.right, y: cell.height + padding.top + padding.bottom };
  const grid = { width: columns * pitch.x, height: rows * pitch.y };
  if (grid.width > 8192 || grid.height > 8192) {
    throw new Error(`split_screen makes a ${grid.width}x${grid.height} picture, larger than 8192x8192; use fewer columns or rows, or smaller sources.`);
  }
  const fps = v0.fps > 0 ? v0.fps : 25;
  const chains: FilterChain[] = videos.map((v, i) => ({
    inputs: [`${i}:v:0`],
    filters: [
      ...pictureFilters(picture, v, null),
      filter('fps', [formatNumber(fps)]),
      ...fitFilters(displayBox(preparedFrame(picture, v)), cell, true),
      ...sdrFilters(v),
      filter('format', ['yuv420p']),
    ],
    outputs: [`grid_cell${i}`],
  }));
  const layout = videos.map((_, i) => {
    const x = (i % columns) * pitch.x + padding.left;
    const y = Math.floor(i / columns) * pitch.y + padding.top;
    return `${x}_${y}`;
  });
  chains.push({
    inputs: videos.map((_, i) => `grid_cell${i}`),
    filters: [
      filter('xstack', { inputs: videos.length, layout: layout.join('|'), fill: 'black' }),
      // xstack ends at the last cell; the padding after it and any empty cells are added here.
      filter('pad', { w: grid.width, h: grid.height, x: 0, y: 0, color: 'black' }),
    ],
    outputs: ['grid_out'],
  });
  const view: MediaProbe = {
    ...first,
    durationSec: duration,
    audio,
    video: {
      ...v0, codec: 'rawvideo', color: stagedColor(videos), width: grid.width, height: grid.height, fps, pixelAspectRatio: '1:1',
      displayAspectRatio: `${grid.width}:${grid.height}`, rotation: 0, durationSec: Math.max(...videos.map((v) => v.durationSec ?? 0)) || duration,
      fieldOrder: 'progressive',
    },
  };
  return {
    view: { paths: [input.paths[0]!], probes: [view] },
    joined: false,
    picture: NEUTRAL,
    stage: { video: { chains, out: 'grid_out' }, audio: audioSource >= 0 ? `${audioSource}:a:0` : null },
  };
}

/**
 * The sources one after another, made before the split (only needed when the picture is edited:
 * plain joined sources are concatenated per output, each at its own size).
 */
export function concatOf(input: PlanInput, picture: Picture): Composite {
  const videos = input.probes.map((p, i) => {
    if (!p.video) throw new Error(`Source ${i + 1} of ${input.probes.length} has no video stream, so it cannot be joined into a video output.`);
    return p.video;
  });
  const v0 = videos[0]!;
  const box0 = displayBox(preparedFrame(picture, v0));
  const box = { width: even(box0.width), height: even(box0.height) };
  const fps = v0.fps > 0 ? v0.fps : 25;
  const firstAudio = input.probes.find((p) => p.audio.length > 0)?.audio[0];
  // One sound format for every segment (concat needs it); each output converts it to its own after.
  const rate = firstAudio && (firstAudio.sampleRate === 44100 || firstAudio.sampleRate === 48000) ? firstAudio.sampleRate : 48000;
  const layout = firstAudio && firstAudio.channels === 1 ? 'mono' : 'stereo';
  const chains: FilterChain[] = [];
  const segments: string[] = [];
  for (const [i, v] of videos.entries()) {
    chains.push({
      inputs: [`${i}:v:0`],
      filters: [
        ...pictureFilters(picture, v, null), filter('fps', [formatNumber(fps)]),
        ...fitFilters(displayBox(preparedFrame(picture, v)), box, true), ...sdrFilters(v), filter('format', ['yuv420p']),
      ],
      outputs: [`cat_v${i}`],
    });
    segments.push(`cat_v${i}`);
    if (!firstAudio) continue;
    const p = probeAt(input, i);
    chains.push(p.audio.length > 0
      ? { inputs: [`${i}:a:0`], filters: [filter('aformat', { sample_fmts: 'fltp', sample_rates: rate, channel_layouts: layout })], outputs: [`cat_a${i}`] }
      : {
        inputs: [],
        filters: [
          filter('anullsrc', { r: rate, cl: layout }), filter('atrim', { duration: formatNumber(v.durationSec ?? p.durationSec) }),
          filter('aformat', { sample_fmts: 'fltp' }),
        ],
        outputs: [`cat_a${i}`],
      });
    segments.push(`cat_a${i}`);
  }
  chains.push({
    inputs: segments,
    filters: [filter('concat', { n: videos.length, v: 1, a: firstAudio ? 1 : 0 })],
    outputs: firstAudio ? ['cat_v', 'cat_a'] : ['cat_v'],
  });
  const total = videos.reduce((sum, v, i) => sum + (v.durationSec ?? probeAt(input, i).durationSec), 0);
  const first = probeAt(input, 0);
  const view: MediaProbe = {
    ...first,
    durationSec: total,
    audio: firstAudio ? [{ ...firstAudio, sampleRate: rate, channels: layout === 'mono' ? 1 : 2 }] : [],
    video: {
      ...v0, codec: 'rawvideo', color: stagedColor(videos), width: box.width, height: box.height, fps, pixelAspectRatio: '1:1',
      displayAspectRatio: `${box.width}:${box.height}`, rotation: 0, durationSec: total, fieldOrder: 'progressive',
    },
  };
  return {
    view: { paths: [input.paths[0]!], probes: [view] },
    joined: true,
    picture: NEUTRAL,
    stage: { video: { chains, out: 'cat_v' }, audio: firstAudio ? 'cat_a' : null },
  };
}

/** The stage's colour: BT.709 when it tone-mapped a source, else the first source's, as before. */
function stagedColor(videos: VideoStreamInfo[]): VideoColor | undefined {
  return videos.some((v) => isHighDynamicRange(v.color)) ? BT709_COLOR : videos[0]!.color;
}

/** Whether any source of a stage is HDR: the stage tone-maps it, so no output can keep it. */
export function stagesHdr(input: PlanInput): boolean {
  return input.probes.some((p) => isHighDynamicRange(p.video?.color));
}
