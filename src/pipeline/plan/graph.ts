/**
 * One filter graph shared by every output of an FFmpeg process: each source is decoded once, its
 * picture prepared once (deinterlace, turn, crop), and `split`/`asplit` hand a copy to every
 * output that asks for one. Outputs add their own chains (scale, frame rate, audio format) after
 * the split.
 */
import { existsSync } from 'node:fs';
import type { Editing, Picture, Rotate } from '../../domain/format.ts';
import type { VideoStreamInfo } from '../ffmpeg/probe.ts';
import { filter, formatNumber, type Filter, type FilterChain } from '../ffmpeg/args.ts';
import { probeAt, type PlanInput, type Trim } from './input.ts';
import { audioEditFilters, editVideoChains, type GraphEdit } from './editing.ts';
import { cropFilters, croppedFrame, rotatedFrame, turnFilters, type Frame, type QuarterTurn } from './geometry.ts';
import { sourceTimecode, timecodeAt } from './timecode.ts';
import { isHighDynamicRange } from '../../domain/video-color.ts';
import { tonemapFilters } from './hdr.ts';

/**
 * Where tap 0 reads from when it is not input 0 as decoded: split_screen's grid
 * (plan/split-screen.ts), already prepared, and the sound it keeps.
 */
export interface Stage {
  video: { chains: FilterChain[]; out: string } | null;
  audio: string | null;
}

/** A picture one output scaled a source to, which a smaller output of the same source may scale further. */
export interface Rung {
  source: number;
  /** The frame rate filter it went through (null: none), which a rung scaled from it inherits. */
  fps: number | null;
  box: { width: number; height: number };
  /** The chain that made it; its output is split when a smaller rung reads it too. */
  chain: FilterChain;
  /** It kept the source's HDR picture (hdr keep): a tone-mapped rung never scales from it, nor it from one. */
  keepsHdr?: boolean;
}

export class GraphBuilder {
  readonly #videoTaps = new Map<number, string[]>();
  /** Video taps that keep an HDR source's picture; the others of an HDR source are tone-mapped (hdr.ts). */
  readonly #hdrTaps = new Set<string>();
  readonly #rungs: Rung[] = [];
  readonly #rungSplits = new Map<Rung, FilterChain>();
  /** Keyed `source:track`. */
  readonly #audioTaps = new Map<string, string[]>();
  readonly #chains: FilterChain[] = [];
  #next = 0;

  constructor(
    readonly input: PlanInput,
    /** What is done to every source picture before the split; null when no output has video. */
    readonly picture: Picture | null,
    /** Logo, overlays, text and fades, drawn on tap 0 before the split (plan/editing.ts). */
    readonly edit: GraphEdit | null = null,
    readonly stage: Stage | null = null,
    /** Where the outputs start in the source, in seconds: a burnt-in timecode counts from there. */
    readonly startSec = 0,
  ) {}

  /** A label not used anywhere else in this graph. */
  label(prefix: string): string {
    return `${prefix}${this.#next++}`;
  }

  /**
   * A copy of source `i`'s prepared picture, for one output's own chain. An HDR source's picture
   * is tone-mapped to SDR (once for all such taps) unless `keepHdr`.
   */
  video(i: number, keepHdr = false): string {
    if (!this.picture) throw new Error('internal: a video tap needs the group picture');
    const label = this.label(`s${i}v`);
    this.#videoTaps.set(i, [...(this.#videoTaps.get(i) ?? []), label]);
    if (keepHdr) this.#hdrTaps.add(label);
    return label;
  }

  /** Records a whole (unpadded) scaled picture of a source that smaller outputs may scale down from. */
  addRung(rung: Rung): void {
    this.#rungs.push(rung);
  }

  /**
   * The smallest recorded rung of source `i` at frame rate `fps` at least as large as `box` on both
   * sides, or null. Scaling 1080p → 720p → 480p reads far fewer pixels than scaling the source
   * three times, and the filter graph runs on one thread.
   */
  largerRung(i: number, fps: number | null, box: { width: number; height: number }, keepsHdr = false): Rung | null {
    const fits = this.#rungs.filter(
      (r) => r.source === i && r.fps === fps && (r.keepsHdr ?? false) === keepsHdr && r.box.width >= box.width && r.box.height >= box.height
        && r.box.width * r.box.height > box.width * box.height,
    );
    fits.sort((a, b) => a.box.width * a.box.height - b.box.width * b.box.height);
    return fits[0] ?? null;
  }

  /** One more copy of a rung's picture: its chain's output is split, its first consumer keeps the old label. */
  tapRung(rung: Rung): string {
    const copy = this.label('r');
    let split = this.#rungSplits.get(rung);
    if (!split) {
      const out = rung.chain.outputs[0]!;
      const inner = this.label('rs');
      rung.chain.outputs = [inner];
      split = { inputs: [inner], filters: [filter('split', [1])], outputs: [out] };
      this.#rungSplits.set(rung, split);
      this.#chains.push(split);
    }
    split.outputs.push(copy);
    split.filters = [filter('split', [split.outputs.length])];
    return copy;
  }

  /** A copy of source `i`'s audio track `track` (0: the first) as decoded. */
  audio(i: number, track = 0): string {
    if (track !== 0 && i === 0 && this.stage?.audio) {
      throw new Error('audio_stream cannot pick another track when sources are shown side by side (split_screen) or joined with editing: they keep the first track.');
    }
    const label = this.label(`s${i}a`);
    const key = `${i}:${track}`;
    this.#audioTaps.set(key, [...(this.#audioTaps.get(key) ?? []), label]);
    return label;
  }

  /** The frame a video tap of source `i` delivers, for size computations. */
  frame(i: number): Frame {
    const v = probeAt(this.input, i).video;
    if (!v || !this.picture) throw new Error('internal: no video to take a frame from');
    return preparedFrame(this.picture, v);
  }

  add(...chains: FilterChain[]): void {
    this.#chains.push(...chains);
  }

  /** `from` through `filters` to every label (split when more than one); with nothing to do, the one label reads `from` itself. */
  #splitTo(taps: FilterChain[], direct: Map<string, string>, from: string, filters: Filter[], labels: string[]): void {
    const all = [...filters, ...(labels.length > 1 ? [filter('split', [labels.length])] : [])];
    if (all.length === 0) direct.set(labels[0]!, from);
    else taps.push({ inputs: [from], filters: all, outputs: labels });
  }

  /**
   * `from` with `filters`, then the editing drawn on it (logo, overlays, text, fades); returns
   * where the picture is and what is left to do before the split.
   */
  #edited(taps: FilterChain[], from: string, filters: Filter[], edit: GraphEdit | null): [string, Filter[]] {
    if (!edit) return [from, filters];
    let picture = from;
    if (filters.length > 0) {
      picture = this.label('pic');
      taps.push({ inputs: [from], filters, outputs: [picture] });
    }
    const edited = editVideoChains(picture, edit, (p) => this.label(p));
    taps.push(...edited.chains);
    return [edited.out, []];
  }

  /** The whole graph: the decode-and-split chains first, then every output's own. */
  chains(): FilterChain[] {
    const taps: FilterChain[] = [];
    // A stream with one consumer and nothing to do before it is read by that consumer directly.
    const direct = new Map<string, string>();
    for (const [i, labels] of [...this.#videoTaps.entries()].sort((a, b) => a[0] - b[0])) {
      const v = probeAt(this.input, i).video!;
      let from = `${i}:v:0`;
      const clock = this.input.paths.length === 1 ? { startSec: this.startSec, sourceTimecode: sourceTimecode(probeAt(this.input, i)) } : null;
      let prepare = pictureFilters(this.picture!, v, clock);
      if (i === 0 && this.stage?.video) {
        taps.push(...this.stage.video.chains);
        from = this.stage.video.out;
        prepare = [];
      }
      // The stage's picture is already SDR: it tone-mapped each HDR source itself (stage.ts).
      const color = i === 0 && this.stage?.video ? undefined : v.color;
      const edit = i === 0 ? this.edit : null;
      const toneMapped = isHighDynamicRange(color) ? labels.filter((l) => !this.#hdrTaps.has(l)) : [];
      if (toneMapped.length === 0) {
        this.#splitTo(taps, direct, ...this.#edited(taps, from, prepare, edit), labels);
        continue;
      }
      // An HDR source: the SDR outputs share one tone-map; the HDR ones read the picture before it.
      // Editing is drawn after the tone-map, in the SDR picture, so a white logo stays white; the
      // kept HDR picture gets it drawn again, with its code values as they are (README, HDR).
      const kept = labels.filter((l) => this.#hdrTaps.has(l));
      const mapped = kept.length > 0 ? this.label('tm') : null;
      const original = kept.length > 0 ? this.label('hdr') : null;
      if (mapped && original) {
        taps.push({ inputs: [from], filters: [...prepare, filter('split', [2])], outputs: [mapped, original] });
        this.#splitTo(taps, direct, ...this.#edited(taps, mapped, tonemapFilters(color!), edit), toneMapped);
        this.#splitTo(taps, direct, ...this.#edited(taps, original, [], edit), kept);
      } else this.#splitTo(taps, direct, ...this.#edited(taps, from, [...prepare, ...tonemapFilters(color!)], edit), toneMapped);
    }
    const audioKeys = [...this.#audioTaps.keys()].map((k) => k.split(':').map(Number) as [number, number]);
    for (const [i, track] of audioKeys.sort((a, b) => a[0] - b[0] || a[1] - b[1])) {
      const labels = this.#audioTaps.get(`${i}:${track}`)!;
      const filters = [...(i === 0 ? audioEditFilters(this.edit) : []), ...(labels.length > 1 ? [filter('asplit', [labels.length])] : [])];
      const from = i === 0 && this.stage?.audio ? this.stage.audio : `${i}:a:${track}`;
      if (filters.length === 0) direct.set(labels[0]!, from);
      else taps.push({ inputs: [from], filters, outputs: labels });
    }
    const own = this.#chains.map((c) => ({ ...c, inputs: c.inputs.map((l) => direct.get(l) ?? l) }));
    return [...taps, ...own];
  }
}

/**
 * Joins the sources' segments in order with one concat filter, so every output stream of a
 * segment stays aligned with the others (concat pads shorter audio with silence). `perSource[i]`
 * lists source i's video labels then its audio labels; every source gives the same counts.
 * One source needs no join and its labels come back as they are.
 */
export function concatSources(graph: GraphBuilder, perSource: { video: string[]; audio: string[] }[]): { video: string[]; audio: string[] } {
  const first = perSource[0];
  if (!first) throw new Error('internal: nothing to join');
  if (perSource.length === 1) return first;
  const video = first.video.map(() => graph.label('jv'));
  const audio = first.audio.map(() => graph.label('ja'));
  graph.add({
    inputs: perSource.flatMap((s) => [...s.video, ...s.audio]),
    filters: [filter('concat', { n: perSource.length, v: video.length, a: audio.length })],
    outputs: [...video, ...audio],
  });
  return { video, audio };
}

/** Appends filters to a label's stream; no filters, no chain. */
export function through(graph: GraphBuilder, from: string, filters: Filter[], prefix: string): string {
  if (filters.length === 0) return from;
  const to = graph.label(prefix);
  graph.add({ inputs: [from], filters, outputs: [to] });
  return to;
}

/** Two sets of outputs may share a decode when they cut the same part of the same picture, edited alike. */
export function shareKey(trim: Trim, picture: Picture | null, editing: Editing | null = null): string {
  return JSON.stringify(editing ? { trim, picture, editing } : { trim, picture });
}

/**
 * FFmpeg's autorotate has already turned the picture the way the source asks (and reset the
 * rotation flag in the output). An explicit rotate means "turn the stored picture by N and ignore
 * the flag", so we add the difference. Using autorotate for this instead of `-noautorotate` is
 * deliberate: with -noautorotate FFmpeg 5.1 copies the source's display matrix into the output,
 * and players would turn the picture a second time.
 */
export function extraTurn(rotate: Rotate, v: VideoStreamInfo): QuarterTurn {
  if (rotate === 'def') return 0;
  return ((((rotate - v.rotation) % 360) + 360) % 360) as QuarterTurn;
}

export function preparedFrame(p: Picture, v: VideoStreamInfo): Frame {
  return croppedFrame(rotatedFrame(v, extraTurn(p.rotate, v)), p.crop);
}

/** Where a picture starts: seconds into its source, and the source's own timecode there (timecode.ts). */
export interface PictureClock {
  startSec: number;
  sourceTimecode: string | null;
}

/**
 * `clock` is for burnin_timecode; null when sources are joined, where one running timecode
 * cannot be drawn on each source before the join.
 */
export function pictureFilters(p: Picture, v: VideoStreamInfo, clock: PictureClock | null): Filter[] {
  const nr = p.noiseReduction;
  return [
    ...deinterlaceFilters(p, v), ...turnFilters(extraTurn(p.rotate, v)), ...cropFilters(p.crop),
    ...(nr ? [filter('hqdn3d', [nr.lumaSpatial, nr.chromaSpatial, nr.lumaTemporal])] : []),
    ...(p.burninTimecode ? [timecodeFilter(v, clock)] : []),
  ];
}

/** burnin_timecode's font: DejaVu Sans Mono, Debian's fonts-dejavu-core (a dependency of its ffmpeg package). */
export const TIMECODE_FONT = '/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf';

/** Each frame's timecode at the bottom centre on a dark box, a twentieth of the picture high. */
function timecodeFilter(v: VideoStreamInfo, clock: PictureClock | null): Filter {
  if (clock === null) {
    throw new Error('burnin_timecode cannot be used with several sources yet: each source would start its own count; encode them one by one or remove burnin_timecode.');
  }
  if (!existsSync(TIMECODE_FONT)) {
    throw new Error(`burnin_timecode needs the font ${TIMECODE_FONT}, which this machine does not have; install fonts-dejavu-core or remove burnin_timecode.`);
  }
  const fps = v.fps > 0 ? v.fps : 25;
  return filter('drawtext', {
    fontfile: TIMECODE_FONT, timecode: timecodeAt(clock.sourceTimecode, clock.startSec, fps), rate: formatNumber(fps),
    fontcolor: 'white', fontsize: 'h/20', box: 1, boxcolor: 'black@0.6', boxborderw: 4, x: '(w-text_w)/2', y: 'h-text_h-h/20',
  });
}

function deinterlaceFilters(p: Picture, v: VideoStreamInfo): Filter[] {
  if (p.deinterlacing === 'no') return [];
  if (p.deinterlacing === 'yes') return [filter('yadif')];
  // auto: only frames flagged interlaced are touched; a source known progressive skips the filter.
  return v.fieldOrder === 'progressive' ? [] : [filter('yadif', { deint: 'interlaced' })];
}
