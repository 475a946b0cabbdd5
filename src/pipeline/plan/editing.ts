/**
 * Logo, overlays, text and fades as filter chains on the prepared picture, before it is split
 * among the outputs of a process. Their pictures are extra FFmpeg inputs after the sources.
 * Times count from the start of the output: with one source (or a grid) the input seek (`-ss`
 * before `-i`) makes the filters' clock start there; joined sources are trimmed after the filters,
 * so their times are moved by the trim's start (`offset`).
 */
import { hasEditing, type Editing, type Offset } from '../../domain/format.ts';
import type { MediaProbe } from '../ffmpeg/probe.ts';
import { filter, formatNumber, type FfmpegInput, type Filter, type FilterChain } from '../ffmpeg/args.ts';

/** A fetched logo or overlay. */
export interface LocalAsset {
  path: string;
  probe: MediaProbe;
  /** One picture (PNG, JPEG, a one-frame GIF): shown for as long as it is asked. */
  still: boolean;
}

/** What the pipeline fetched and wrote for one task's editing (pipeline/assets.ts). */
export interface EditAssets {
  logo: LocalAsset | null;
  /** One per overlay, in order. */
  overlays: LocalAsset[];
  /** One per text_overlay: the font file, or null for FFmpeg's default font. */
  fonts: (string | null)[];
  /** One per text_overlay: the text, written to a file so that no escaping can change it. */
  textFiles: string[];
  /** One per burned closed_captions track: the ASS file Encodery wrote from its cues, and its font's folder (pipeline/captions). */
  subtitles?: { file: string; fontsDir: string | null }[];
}

/** The editing of one process, with the input index of its first extra input. */
export interface GraphEdit {
  editing: Editing;
  assets: EditAssets;
  firstInput: number;
  /** Seconds on the filters' clock where the output starts. */
  offset: number;
  /** Seconds into the (joined) source where the filters' clock starts: burned captions are timed on the source. */
  clockStart: number;
}

/**
 * The edit a group applies and the extra inputs it needs, or null when there is nothing to do.
 * `sources` is the number of source inputs (the extra inputs follow them); `offset` where the output starts on the filters' clock.
 */
export function planEdit(
  editing: Editing | null, assets: EditAssets | undefined, sources: number, offset: number, clockStart = 0,
): { edit: GraphEdit; inputs: FfmpegInput[] } | null {
  if (!editing || !hasEditing(editing)) return null;
  if (!assets) throw new Error('internal: the editing assets of this format were not fetched');
  if ((assets.subtitles?.length ?? 0) !== editing.captions.length) throw new Error('internal: the burned captions of this format were not loaded');
  // No -loop for pictures: overlay repeats a finished input's last frame, and the output ends with the main picture.
  const inputs: FfmpegInput[] = [
    ...(assets.logo ? [assets.logo] : []),
    ...assets.overlays,
  ].map((a) => ({ path: a.path }));
  return { edit: { editing, assets, firstInput: sources, offset, clockStart }, inputs };
}

/** The filters drawn on the picture, from `from`; returns the chains to add and the edited label. */
export function editVideoChains(from: string, edit: GraphEdit, label: (prefix: string) => string): { chains: FilterChain[]; out: string } {
  const { editing, assets, offset } = edit;
  const at = (t: number): number => t + offset;
  const chains: FilterChain[] = [];
  let input = edit.firstInput;
  let current = from;
  const overlayOn = (picture: string, filters: Filter[], overlay: Filter): void => {
    const pic = label('ov');
    chains.push({ inputs: [picture], filters, outputs: [pic] });
    const out = label('ed');
    chains.push({ inputs: [current, pic], filters: [overlay], outputs: [out] });
    current = out;
  };

  if (editing.logo) {
    const { logo } = editing;
    const filters: Filter[] = [
      // Opaque: the image's own transparency is dropped.
      ...(logo.mode === 1 ? [filter('format', ['rgb24'])] : []),
      filter('format', ['rgba']),
      ...(logo.transparent ? [filter('colorkey', { color: `0x${logo.transparent}`, similarity: 0.1, blend: 0 })] : []),
    ];
    overlayOn(`${input++}:v:0`, filters, filter('overlay', { x: logo.x, y: logo.y, eof_action: 'repeat' }));
  }

  for (const [i, o] of editing.overlays.entries()) {
    const asset = assets.overlays[i];
    if (!asset) throw new Error('internal: an overlay was not fetched');
    const filters: Filter[] = [
      ...(o.size ? [filter('scale', [o.size.width || -2, o.size.height || -2])] : []),
      filter('format', ['yuva420p']),
      // A video starts playing at overlay_start.
      ...(!asset.still ? [filter('setpts', [`PTS-STARTPTS+${formatNumber(at(o.start))}/TB`])] : []),
    ];
    overlayOn(`${input++}:v:0`, filters, filter('overlay', {
      x: position(o.horizontal.from, o.horizontal.offset, 'W', 'w'),
      y: position(o.vertical.from, o.vertical.offset, 'H', 'h'),
      // A picture stays; a video that ends disappears.
      eof_action: asset.still ? 'repeat' : 'pass',
      ...window(o.start, o.duration, offset),
    }));
  }

  const late: Filter[] = [];
  for (const [i, t] of editing.texts.entries()) {
    const textfile = assets.textFiles[i];
    if (textfile === undefined) throw new Error('internal: a text_overlay has no text file');
    const font = assets.fonts[i] ?? null;
    late.push(filter('drawtext', {
      ...(font ? { fontfile: font } : { font: 'Sans' }),
      textfile,
      // The text is drawn as written: no %{...} expansion.
      expansion: 'none',
      fontsize: t.fontSize,
      fontcolor: `0x${t.fontColor}`,
      x: t.alignCenter ? '(w-text_w)/2' : t.x,
      y: t.y,
      ...window(t.start, t.duration, offset),
    }));
  }
  // libass times each frame by its timestamp; the captions are timed on the source, so the
  // picture is put on the source's clock around them.
  for (const s of assets.subtitles ?? []) {
    const shift = edit.clockStart;
    late.push(
      ...(shift !== 0 ? [filter('setpts', [`PTS+${formatNumber(shift)}/TB`])] : []),
      { name: 'ass', args: { filename: s.file, ...(s.fontsDir ? { fontsdir: s.fontsDir } : {}) }, ownFile: true },
      ...(shift !== 0 ? [filter('setpts', [`PTS-${formatNumber(shift)}/TB`])] : []),
    );
  }
  // Fades come last, so the logo and the text fade with the picture.
  if (editing.fadeIn) late.push(filter('fade', { t: 'in', st: formatNumber(at(editing.fadeIn.start)), d: formatNumber(editing.fadeIn.duration) }));
  if (editing.fadeOut) late.push(filter('fade', { t: 'out', st: formatNumber(at(editing.fadeOut.start)), d: formatNumber(editing.fadeOut.duration) }));
  if (late.length > 0) {
    const out = label('ed');
    chains.push({ inputs: [current], filters: late, outputs: [out] });
    current = out;
  }
  return { chains, out: current };
}

/** The audio side of the fades; empty when there is none. */
export function audioEditFilters(edit: GraphEdit | null): Filter[] {
  if (!edit) return [];
  const { fadeIn, fadeOut } = edit.editing;
  return [
    ...(fadeIn ? [filter('afade', { t: 'in', st: formatNumber(fadeIn.start + edit.offset), d: formatNumber(fadeIn.duration) })] : []),
    ...(fadeOut ? [filter('afade', { t: 'out', st: formatNumber(fadeOut.start + edit.offset), d: formatNumber(fadeOut.duration) })] : []),
  ];
}

/** An overlay's x or y as an overlay-filter expression: `W`/`H` the picture, `w`/`h` the overlay. */
function position(from: 'left' | 'right' | 'top' | 'bottom', offset: Offset, whole: string, own: string): string {
  if (offset === 'center') return `(${whole}-${own})/2`;
  const distance = 'px' in offset ? String(offset.px) : `${whole}*${formatNumber(offset.percent / 100)}`;
  return from === 'left' || from === 'top' ? distance : `${whole}-${own}-${distance}`;
}

function window(start: number, duration: number | null, offset: number): { enable?: string } {
  if (start <= 0 && duration === null) return {};
  const end = duration === null ? '1e9' : formatNumber(offset + start + duration);
  return { enable: `between(t,${formatNumber(offset + start)},${end})` };
}
