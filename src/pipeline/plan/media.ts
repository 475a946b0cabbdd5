/**
 * The formats of one media → FFmpeg processes. Formats that cut the same part of the same
 * picture from the same sources share one process: the sources are decoded once and a
 * `split`/`asplit` filter graph feeds one output per format (and every HLS variant inside its
 * output). Measured on a 2-core machine, a 4-rung ladder from one process takes 28–43 % less
 * wall time than four processes.
 *
 * Not shared: thumbnails and images (they seek to their own time), GIFs (the palette needs all
 * frames first), two-pass encodes (two runs over the
 * source, pass 1 writing statistics only) and formats with another trim or picture.
 */
import { editingOf, hasEditing, type AudioFields, type AudioSpec, type Editing, type OutputSpec, type Picture } from '../../domain/format.ts';
import { PICTURE_KEYS } from '../../domain/field-registry.ts';
import { fitToSource } from './ladder.ts';
import { buildArgs } from '../ffmpeg/args.ts';
import { audioPart } from './audio.ts';
import { usesTwoPasses, type Pass } from './codecs.ts';
import {
  checkInput, inputsFor, resolveTrim, sourceDuration, trimArgs,
  type GroupContext, type OutputPart, type PlanInput, type PlanOut,
} from './common.ts';
import { GraphBuilder, shareKey } from './graph.ts';
import { planEdit, type EditAssets } from './editing.ts';
import { compositeOf, concatOf, stagesHdr } from './stage.ts';
import { hlsPart } from './hls.ts';
import { passthroughDecision, planPassthrough } from './passthrough.ts';
import { dashPart } from './dash.ts';
import type { CpixKey } from '../drm/keys.ts';
import { planGif, planImage } from './still.ts';
import { planThumbnail } from './thumbnail.ts';
import { videoPart } from './video.ts';
import { resolveQuality } from '../quality/plan.ts';
import type { QualityPlan } from '../quality/plan.ts';
import type { LoadedCaption } from '../captions/load.ts';
import { withCaptionTracks } from '../captions/plan.ts';
import type { FfmpegInput } from '../ffmpeg/args.ts';
import type { LocalAudio } from './variants.ts';

/** The outputs that can share an FFmpeg process. */
type SharedSpec = Exclude<OutputSpec, { kind: 'thumbnail' | 'gif' | 'image' }>;

export interface MediaTask {
  taskId: number;
  spec: OutputSpec;
  /** The task's own folder and file base name. */
  out: PlanOut;
  /** The fetched logo, overlays, fonts and text files of the format's editing, if it has any. */
  assets?: EditAssets;
  /** The format's caption tracks as loaded (pipeline/captions), if it has any. */
  captions?: LoadedCaption[];
  /** The content keys of a protected DASH/CMAF format (pipeline/drm/keys.ts). */
  keys?: CpixKey[];
  /** The format's alternate_source files as fetched, in its order (pipeline/alternate-audio.ts). */
  alternateAudio?: LocalAudio[];
}

/** One FFmpeg invocation (two runs for a two-pass encode) making the outputs of its tasks. */
export interface EncodeGroup {
  taskIds: number[];
  /** One argv per FFmpeg run, without the runner's own prefix. */
  passes: string[][];
  /** Expected length of what is encoded (the longest output), for progress. */
  durationSec: number;
  /** The files one task's outputs wrote, its main file last for multi-file outputs; rejects when they are missing. */
  listOutputs(taskId: number): Promise<string[]>;
  /** How one task's output is measured for its quality report; null when it gets none. */
  quality(taskId: number): QualityPlan | null;
}

export interface MediaPlan {
  groups: EncodeGroup[];
  /** Tasks that cannot be made from these sources, with a message for the user. */
  failed: { taskId: number; error: unknown }[];
  /** Lines for a task's log about how it is made (smart pass-through, or why not). */
  notes: { taskId: number; message: string }[];
}

/** More encoders than this in one process buy no speed on a small machine and cost memory. */
const MAX_VIDEO_ENCODERS_PER_PROCESS = 16;

interface Bucket {
  /** null: never shared. */
  key: string | null;
  trimKey: string;
  members: MediaTask[];
  encoders: number;
  /** A smart pass-through: its one member is remuxed, not encoded. */
  remux?: true;
  /** Fades change the decoded audio, which an audio-only output must not inherit. */
  audioEdited?: boolean;
}

/**
 * Plans every task, grouped into as few FFmpeg processes as their options allow. Tasks are
 * first planned alone, so one that cannot be made fails by itself and never takes a group down
 * with it. With `share: false` every task gets its own process.
 */
export function planMedia(tasks: MediaTask[], input: PlanInput, opts: { share?: boolean; quality?: boolean } = {}): MediaPlan {
  checkInput(input);
  const share = opts.share ?? true;
  const quality = opts.quality ?? false;
  const failed: MediaPlan['failed'] = [];
  const notes: MediaPlan['notes'] = [];
  const buckets: Bucket[] = [];
  const audio: MediaTask[] = [];
  const fps = input.probes[0]?.video?.fps ?? 0;

  for (const asked of tasks) {
    const fit = fittedToSource(asked.spec, input);
    const task = fit.spec === asked.spec ? asked : { ...asked, spec: fit.spec };
    for (const message of fit.notes) notes.push({ taskId: task.taskId, message });
    if (pictureOf(task.spec)?.autoCrop) {
      failed.push({ taskId: task.taskId, error: new Error('internal: auto_crop must be resolved (resolveAutoCrops) before planning') });
      continue;
    }
    try {
      buildGroup([task], input, quality);
    } catch (error) {
      failed.push({ taskId: task.taskId, error });
      continue;
    }
    const { spec } = task;
    const pass = passthroughDecision(spec, input.probes, input.videoPackets);
    if (pass.ok) {
      notes.push({ taskId: task.taskId, message: pass.note });
      buckets.push({ key: null, trimKey: '', members: [task], encoders: 0, remux: true });
      continue;
    }
    if (pass.why) notes.push({ taskId: task.taskId, message: `Encoding, not remuxing: ${pass.why}` });
    if (spec.kind === 'thumbnail' || spec.kind === 'gif' || spec.kind === 'image' || (spec.kind === 'video' && usesTwoPasses(spec)) || !share) {
      buckets.push({ key: null, trimKey: '', members: [task], encoders: 0 });
      continue;
    }
    if (spec.kind === 'audio') {
      audio.push(task);
      continue;
    }
    const trim = resolveTrim(spec, fps, 0);
    const trimKey = JSON.stringify(trim);
    const editing = editedOf(spec);
    const key = shareKey(trim, pictureOf(spec), editing);
    const encoders = spec.kind === 'hls' || spec.kind === 'dash' ? spec.streams.filter((s) => !s.audioOnly).length : 1;
    const bucket = buckets.find((b) => b.key === key && b.encoders + encoders <= MAX_VIDEO_ENCODERS_PER_PROCESS);
    if (bucket) {
      bucket.members.push(task);
      bucket.encoders += encoders;
    } else buckets.push({ key, trimKey, members: [task], encoders, audioEdited: editing !== null && (editing.fadeIn !== null || editing.fadeOut !== null) });
  }
  // Audio-only outputs need no picture: they join any process that reads the same part.
  for (const task of audio) {
    const trimKey = JSON.stringify(resolveTrim(task.spec as AudioSpec, fps, 0));
    const bucket = buckets.find((b) => b.key !== null && b.trimKey === trimKey && !b.audioEdited);
    if (bucket) bucket.members.push(task);
    else buckets.push({ key: `audio:${trimKey}`, trimKey, members: [task], encoders: 0 });
  }

  // Membership follows task order, so a task's process is always the same for the same request.
  const order = new Map(tasks.map((t, i) => [t.taskId, i]));
  for (const b of buckets) b.members.sort((x, y) => order.get(x.taskId)! - order.get(y.taskId)!);
  buckets.sort((x, y) => order.get(x.members[0]!.taskId)! - order.get(y.members[0]!.taskId)!);
  // Every member planned alone above; should a combination still not plan, each runs alone.
  const groups = buckets.flatMap((b) => {
    if (b.remux) return [remuxGroup(b.members[0]!, input, quality)];
    try {
      return [buildGroup(b.members, input, quality)];
    } catch {
      return b.members.map((m) => buildGroup([m], input, quality));
    }
  });
  return { groups, failed, notes };
}

function remuxGroup(task: MediaTask, input: PlanInput, quality: boolean): EncodeGroup {
  if (task.spec.kind !== 'video' && task.spec.kind !== 'audio') throw new Error(`internal: ${task.spec.kind} outputs are never remuxed`);
  const plan = planPassthrough(task.spec, input.paths[0]!, input.probes[0]!, task.out);
  const measured: QualityPlan | null = quality && task.spec.kind === 'video' ? { kind: 'remuxed', durationSec: plan.durationSec } : null;
  return { taskIds: [task.taskId], passes: plan.passes, durationSec: plan.durationSec, listOutputs: () => plan.listOutputs(), quality: () => measured };
}

/**
 * A format as the source lets it be made (ladder rungs above the source left out, ladder.ts), and
 * the task-log lines that say what was changed or stands in for what was asked. Split-and-stitch
 * tasks, planned chunk by chunk, take their lines from here too.
 */
export function fittedToSource(spec: OutputSpec, input: PlanInput): { spec: OutputSpec; notes: string[] } {
  const fit = fitToSource(spec, input, pictureOf(spec));
  return { spec: fit.spec, notes: [...fit.notes, ...heAacNotes(fit.spec)] };
}

/** ENCODERY_HE_AAC=lc: the task log says which HE-AAC audio is made as AAC-LC. */
function heAacNotes(spec: OutputSpec): string[] {
  const audios: AudioFields[] = spec.kind === 'video' || spec.kind === 'audio' ? [spec] : spec.kind === 'hls' || spec.kind === 'dash' ? spec.streams : [];
  const asked = [...new Set(audios.flatMap((a) => (a.heAacAsLc ? [`${a.heAacAsLc} at ${Math.round((a.audioBitrate ?? 0) / 1000)}k`] : [])))];
  return asked.map((a) => `audio_codec ${a} is made as AAC-LC: this FFmpeg has no HE-AAC encoder, and ENCODERY_HE_AAC=lc allows it`);
}

/** The editing that makes a picture different from the plain one; null when there is none. */
function editedOf(spec: OutputSpec): Editing | null {
  const e = editingOf(spec);
  return e && hasEditing(e) ? e : null;
}

/** The spec's picture settings: the registry's `picture` fields, so a new one cannot be left out of sharing. */
function pictureOf(spec: OutputSpec): Picture | null {
  if (spec.kind !== 'video' && spec.kind !== 'hls' && spec.kind !== 'dash') return null;
  const values = spec as unknown as Record<string, unknown>;
  return Object.fromEntries(PICTURE_KEYS.map((key) => [key, values[key]])) as unknown as Picture;
}

/** One FFmpeg invocation for tasks that share trim and picture (the caller made sure they do). */
function buildGroup(members: MediaTask[], input: PlanInput, quality: boolean): EncodeGroup {
  const only = members[0]!;
  const alone = only.spec.kind === 'thumbnail' ? planThumbnail(only.spec, input, only.out)
    : only.spec.kind === 'gif' ? planGif(only.spec, input, only.out)
    : only.spec.kind === 'image' ? planImage(only.spec, input, only.out) : null;
  if (alone) {
    if (members.length > 1) throw new Error(`internal: ${only.spec.kind} outputs are never shared`);
    return { taskIds: [only.taskId], passes: alone.passes, durationSec: alone.durationSec, listOutputs: () => alone.listOutputs(), quality: () => null };
  }
  // split_screen, or joined sources with editing: the outputs see one source, made of them all.
  const sources = input;
  const edited = members.find((m) => editedOf(m.spec) !== null);
  const firstPicture = members.map((m) => pictureOf(m.spec)).find((p) => p !== null) ?? null;
  const composite = sources.splitScreen ? compositeOf(sources, sources.splitScreen, firstPicture)
    : sources.paths.length > 1 && edited && firstPicture ? concatOf(sources, firstPicture) : null;
  const specs = members.map((m) => m.spec as SharedSpec);
  if (composite && stagesHdr(sources) && specs.some(keepsHdrAsked)) {
    throw new Error(`hdr keep cannot be honoured when the sources are ${sources.splitScreen ? 'shown side by side (split_screen)' : 'joined with editing'}: each HDR source is tone-mapped to BT.709 before they are put together; remove hdr keep.`);
  }
  if (composite) input = composite.view;
  const twoPass = members.length === 1 && only.spec.kind === 'video' && usesTwoPasses(only.spec);
  const fps = input.probes[0]?.video?.fps ?? 0;
  // Each format's own trim, checked against its own length (video or whole file).
  const trims = specs.map((s) => resolveTrim(s, fps, totalFor(s, input)));
  const trim = trims[0]!;
  const picture = composite ? composite.picture : specs.map(pictureOf).find((p) => p !== null) ?? null;
  const joined = composite ? composite.joined : input.paths.length > 1;
  // Joined sources are trimmed after the stage, so the filters' clock starts at the trim's start.
  const editPlan = edited ? planEdit(editedOf(edited.spec), edited.assets, sources.paths.length, joined ? trim.start : 0, joined ? 0 : trim.start) : null;

  let parts: OutputPart[] = [];
  let measured: (QualityPlan | null)[] = [];
  const passes = (twoPass ? [1, 2] : [0]).map((pass) => {
    const graph = new GraphBuilder(input, picture, editPlan?.edit ?? null, composite?.stage ?? null, trim.start);
    // Inputs after the sources and the editing's: alternate audio files and caption tracks.
    const extraInputs = { firstInput: sources.paths.length + (editPlan?.inputs.length ?? 0), list: [] as FfmpegInput[] };
    const addInput = (extra: FfmpegInput): number => extraInputs.list.push(extra) - 1 + extraInputs.firstInput;
    const ctx: GroupContext = { input, joined, trim, trimmed: trimArgs(trim, joined), graph, quality, addInput };
    parts = members.map((m) => withCaptionTracks(partFor(m, ctx, pass as Pass), m.spec, m.captions, ctx, extraInputs, pass));
    const chains = graph.chains();
    // The last run is the one that encodes (and measures) the outputs.
    measured = resolveQuality(parts, chains);
    return buildArgs({
      inputs: [
        // Every cell of a grid starts at the same point of its source.
        ...(composite ? sources.paths.map((p) => ({ path: p, options: ctx.trimmed.input })) : inputsFor(input.paths, ctx.trimmed.input)),
        ...(editPlan?.inputs ?? []),
        ...extraInputs.list,
      ],
      filterGraph: chains,
      outputs: parts.flatMap((p) => p.outputs),
    });
  });
  const byTask = new Map(members.map((m, i) => [m.taskId, parts[i]!]));
  const qualityByTask = new Map(members.map((m, i) => [m.taskId, measured[i] ?? null]));
  return {
    taskIds: members.map((m) => m.taskId),
    passes: [...passes, ...parts.flatMap((p) => p.after ?? [])],
    durationSec: Math.max(...parts.map((p) => p.durationSec)),
    listOutputs: (taskId) => {
      const part = byTask.get(taskId);
      if (!part) throw new Error(`internal: task ${taskId} is not in this FFmpeg process`);
      return part.listOutputs();
    },
    quality: (taskId) => qualityByTask.get(taskId) ?? null,
  };
}

function partFor(m: MediaTask, ctx: GroupContext, pass: Pass): OutputPart {
  switch (m.spec.kind) {
    case 'video':
      return videoPart(m.spec, ctx, m.out, pass);
    case 'audio':
      return audioPart(m.spec, ctx, m.out);
    case 'hls':
      return hlsPart(m.spec, ctx, m.out, m.alternateAudio);
    case 'dash':
      return dashPart(m.spec, ctx, m.out, m.keys, m.alternateAudio);
    case 'thumbnail':
    case 'gif':
    case 'image':
      throw new Error(`internal: ${m.spec.kind} outputs are planned on their own`);
    default: {
      const never: never = m.spec;
      throw new Error(`unhandled output kind ${JSON.stringify(never)}`);
    }
  }
}

function keepsHdrAsked(spec: SharedSpec): boolean {
  if (spec.kind === 'video') return spec.hdr === 'keep';
  if (spec.kind === 'hls' || spec.kind === 'dash') return spec.streams.some((s) => !s.audioOnly && s.hdr === 'keep');
  return false;
}

/** The length a format's trim is checked against: the video's when it has a picture, else the file's. */
function totalFor(spec: SharedSpec, input: PlanInput): number {
  const picture = spec.kind === 'video' || ((spec.kind === 'hls' || spec.kind === 'dash') && spec.streams.some((s) => !s.audioOnly));
  return input.probes.reduce((sum, p) => sum + (picture ? sourceDuration(p) : p.durationSec), 0);
}
