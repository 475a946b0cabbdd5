/**
 * auto_crop (reference 4.5): FFmpeg's cropdetect looks at a few frames at several points of the
 * source, and the borders every sample agrees are black become the format's crop before it is
 * planned. Keeping the widest picture any sample shows means a dark scene never costs picture.
 */
import type { AutoCrop, Crop, OutputSpec, Picture } from '../../domain/format.ts';
import { buildArgs, filter, formatNumber } from '../ffmpeg/args.ts';
import { runFfmpeg } from '../ffmpeg/run.ts';
import type { PlanInput } from './common.ts';
import { pictureFilters, preparedFrame } from './graph.ts';
import type { MediaTask } from './media.ts';

/** Points of the source looked at, as fractions of its length, and frames read at each. */
const SAMPLE_POINTS = [0.1, 0.3, 0.5, 0.7, 0.9];
const FRAMES_PER_SAMPLE = 5;

export interface CropDetectOptions {
  ffmpeg: string;
  signal?: AbortSignal;
}

/**
 * The tasks with every auto_crop replaced by the crop found (one detection per distinct picture
 * and setting), a task-log line each; a task whose detection fails is returned in `failed`.
 */
export async function resolveAutoCrops(tasks: MediaTask[], input: PlanInput, opts: CropDetectOptions): Promise<{
  tasks: MediaTask[]; notes: { taskId: number; message: string }[]; failed: { taskId: number; error: unknown }[];
}> {
  const found = new Map<string, Promise<Crop>>();
  const out: MediaTask[] = [];
  const notes: { taskId: number; message: string }[] = [];
  const failed: { taskId: number; error: unknown }[] = [];
  for (const task of tasks) {
    const spec = task.spec;
    if ((spec.kind !== 'video' && spec.kind !== 'hls' && spec.kind !== 'dash') || !spec.autoCrop) {
      out.push(task);
      continue;
    }
    const auto = spec.autoCrop;
    try {
      if (input.paths.length !== 1 || input.splitScreen) throw new Error('auto_crop cannot be used with several sources yet: each may have its own borders; crop them with crop_* or remove auto_crop.');
      const key = JSON.stringify([auto.limit, auto.round, spec.rotate, spec.deinterlacing]);
      if (!found.has(key)) found.set(key, detectCrop(input, spec, auto, opts));
      const crop = await found.get(key)!;
      const stretch = auto.cropType === 'stretch';
      const resolved: OutputSpec = spec.kind === 'video'
        ? { ...spec, crop, autoCrop: null, keepAspectRatio: stretch ? false : spec.keepAspectRatio }
        : { ...spec, crop, autoCrop: null, streams: spec.streams.map((s) => (stretch ? { ...s, keepAspectRatio: false } : s)) };
      out.push({ ...task, spec: resolved });
      const none = crop.left + crop.right + crop.top + crop.bottom === 0;
      notes.push({
        taskId: task.taskId,
        message: none
          ? 'auto_crop found no black borders to remove'
          : `auto_crop removes black borders: left ${crop.left}, right ${crop.right}, top ${crop.top}, bottom ${crop.bottom} pixels`,
      });
    } catch (error) {
      if (opts.signal?.aborted) throw error;
      failed.push({ taskId: task.taskId, error });
    }
  }
  return { tasks: out, notes, failed };
}

async function detectCrop(input: PlanInput, picture: Picture, auto: AutoCrop, opts: CropDetectOptions): Promise<Crop> {
  const probe = input.probes[0]!;
  const v = probe.video;
  if (!v) throw new Error('auto_crop needs a picture, and the source has no video stream.');
  // The picture as the format turns it, before any crop: the borders are found where they will be cut.
  const plain: Picture = { ...picture, crop: { left: 0, top: 0, right: 0, bottom: 0 }, noiseReduction: null, burninTimecode: false, autoCrop: null };
  const frame = preparedFrame(plain, v);
  const length = v.durationSec ?? probe.durationSec;
  // One FFmpeg reads every sample: one input seeked to each point, one cropdetect each.
  const points = length > 1 ? SAMPLE_POINTS : [0];
  const detect = [...pictureFilters(plain, v, null), filter('cropdetect', { limit: formatNumber(auto.limit / 255), round: auto.round, reset: 0 })];
  const args = buildArgs({
    // As a fraction of full scale, cropdetect's limit judges 10-bit pictures as 8-bit ones.
    inputs: points.map((at) => ({ path: input.paths[0]!, options: at > 0 ? ['-ss', formatNumber(length * at)] : [] })),
    filterGraph: points.map((_, k) => ({ inputs: [`${k}:v:0`], filters: detect, outputs: [`cd${k}`] })),
    outputs: points.map((_, k) => ({ url: '/dev/null', maps: [`[cd${k}]`], options: ['-frames:v', String(FRAMES_PER_SAMPLE), '-an', '-f', 'null'] })),
  });
  // Each cropdetect's last line: its estimate after all its frames.
  const last = new Map<string, string>();
  await runFfmpeg(args, {
    ffmpeg: opts.ffmpeg,
    ...(opts.signal ? { signal: opts.signal } : {}),
    onStderrLine: (line) => {
      const m = /\[(Parsed_cropdetect_\d+) @[^\]]*\].*(crop=\d+:\d+:\d+:\d+)/.exec(line);
      if (m) last.set(m[1]!, m[2]!);
    },
  });
  const seen = [...last.values()].flatMap((text) => {
    const [w, h, x, y] = text.slice('crop='.length).split(':').map(Number) as [number, number, number, number];
    return w > 0 && h > 0 ? [{ x1: x, y1: y, x2: x + w, y2: y + h }] : [];
  });
  if (seen.length === 0) return { left: 0, top: 0, right: 0, bottom: 0 };
  // The union of what every sample shows; even offsets keep the chroma planes aligned.
  const evenDown = (n: number): number => Math.max(0, Math.floor(n / 2) * 2);
  const left = evenDown(Math.min(...seen.map((s) => s.x1)));
  const top = evenDown(Math.min(...seen.map((s) => s.y1)));
  const right = evenDown(frame.width - Math.max(...seen.map((s) => s.x2)));
  const bottom = evenDown(frame.height - Math.max(...seen.map((s) => s.y2)));
  return { left, top, right, bottom };
}
