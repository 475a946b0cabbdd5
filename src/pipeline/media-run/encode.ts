import path from 'node:path';
import * as repo from '../../store/repo.ts';
import type { FieldMap } from '../../domain/fields.ts';
import { parseFormat, type OutputSpec } from '../../domain/format.ts';
import { openSecrets, sealingKeyOf } from '../../domain/sealed.ts';
import { MediaStatus, TaskStatus, isFinalTask } from '../../domain/status.ts';
import { fittedToSource, planMedia, type EncodeGroup, type MediaTask, type PlanInput } from '../plan/index.ts';
import { withPacketsForPassthrough } from '../plan/passthrough.ts';
import { resolveAutoCrops } from '../plan/auto-crop.ts';
import type { GroupHandle } from '../progress.ts';
import { expectedBytes, groupWork, type SourceShape } from '../../domain/progress-model.ts';
import { fetchEditingAssets } from '../assets.ts';
import { loadCaptions, withLoadedCaptions } from '../captions/load.ts';
import { fetchAlternateAudio } from '../alternate-audio.ts';
import { resolveContentKeys } from '../drm/keys.ts';
import { mediaDirs } from '../../domain/layout.ts';
import { encodeSplitTask, splitCandidates } from '../split/task.ts';
import type { SplitPieces } from '../split/pieces.ts';
import { encodeGroup } from './encode-group.ts';
import type { MediaRunContext } from './context.ts';
import type { MediaProbe } from '../../domain/media-probe.ts';
import { wholeSourceFor } from './instant.ts';
import { deliverEarly } from './deliver.ts';
import { mediaOptions } from '../../domain/media-options.ts';

/**
 * The encode phase: every format still to encode is parsed, given its assets and crops, and
 * planned; split-and-stitch formats run chunk by chunk, the others in as few FFmpeg processes
 * as their options allow (one decode shared by formats that can share it).
 */
export async function encodeAll(run: MediaRunContext, fetched: PlanInput, sourcesJson: string, optionsJson: string): Promise<void> {
  const all = await repo.getTasks(run.db, run.mediaId);
  const tasks = all.filter((t) => needsEncode(t));
  if (tasks.length === 0) return;
  run.progress.encodedBefore(all.filter((t) => t.status === TaskStatus.Saving && !needsEncode(t)).map((t) => t.id));
  for (const [id, list] of await repo.getDestinations(run.db, all.map((t) => t.id))) run.destinations.set(id, list.length);
  for (const t of tasks) await run.setTaskStatus(t.id, TaskStatus.WaitingForEncoder);
  await run.setStatus(MediaStatus.Processing);
  await run.progress.enterPhase('encode');
  const baseName = outputBaseName(sourcesJson);
  let members: MediaTask[] = [];
  for (const t of tasks) {
    try {
      // Stored formats passed AddMedia: an HE-AAC one was allowed then (ENCODERY_HE_AAC=lc) and is made as AAC-LC.
      // Secret fields are stored sealed (domain/sealed.ts): opened here, for this run only.
      const parsed = parseFormat(openSecrets(JSON.parse(t.format) as FieldMap, sealingKeyOf(run.config)), { heAac: 'lc' });
      if (!parsed.ok) throw new Error(parsed.error);
      for (const note of parsed.notes) await repo.appendLog(run.db, [t.id], `Adjusted: ${note}`);
      const dir = await run.freshTaskDir(t.id);
      members.push({ taskId: t.id, spec: parsed.spec, out: { dir, baseName } });
    } catch (err) {
      await run.failTask(t.id, err);
    }
  }
  // Instant mode: a step below that reads the source throughout waits for all of it.
  await wholeSourceFor(run, members, fetched, mediaOptions(optionsJson));
  const config = run.config;
  // Logos, overlays and fonts: a bad one fails only the tasks that use it.
  const { scratch } = mediaDirs(config.dataDir, run.mediaId);
  const edits = await fetchEditingAssets(members, { scratch, transfer: run.transfer, ffprobe: config.ffprobe, ffmpeg: config.ffmpeg, signal: run.signal });
  for (const f of edits.failed) await run.failTask(f.taskId, f.error);
  members = members.filter((m) => !edits.failed.some((f) => f.taskId === m.taskId)).map((m) => ({ ...m, assets: edits.assets.get(m.taskId) }));
  // closed_captions: a file that does not parse fails only the tasks that use it, naming its line.
  const sourceVideo = fetched.paths[0] && fetched.probes[0]?.video ? { path: fetched.paths[0], codec: fetched.probes[0].video.codec, startSec: startOf(fetched.probes[0]) } : null;
  const captions = await loadCaptions(members, { scratch, transfer: run.transfer, ffmpeg: config.ffmpeg, ffprobe: config.ffprobe, source: sourceVideo, signal: run.signal });
  for (const f of captions.failed) await run.failTask(f.taskId, f.error);
  members = members.filter((m) => !captions.failed.some((f) => f.taskId === m.taskId)).map((m) => withLoadedCaptions(m, captions.captions.get(m.taskId)));
  // alternate_source audio files: one that cannot be fetched or has no sound fails only its tasks.
  const alternates = await fetchAlternateAudio(members, { scratch, transfer: run.transfer, ffprobe: config.ffprobe, signal: run.signal });
  for (const f of alternates.failed) await run.failTask(f.taskId, f.error);
  members = members.filter((m) => !alternates.failed.some((f) => f.taskId === m.taskId)).map((m) => ({ ...m, alternateAudio: alternates.files.get(m.taskId) }));
  // DRM content keys, before any encode: a key server that fails costs no encoding.
  const keyed = await resolveContentKeys(members, { scratch, transfer: run.transfer, signal: run.signal, mediaId: run.mediaId });
  for (const f of keyed.failed) await run.failTask(f.taskId, f.error);
  for (const n of keyed.notes) await repo.appendLog(run.db, [n.taskId], n.message);
  members = members.filter((m) => !keyed.failed.some((f) => f.taskId === m.taskId)).map((m) => ({ ...m, keys: keyed.keys.get(m.taskId) }));
  // auto_crop: the borders are found in the source once, and become each format's crop.
  const cropped = await resolveAutoCrops(members, fetched, { ffmpeg: config.ffmpeg, signal: run.signal });
  for (const f of cropped.failed) await run.failTask(f.taskId, f.error);
  for (const n of cropped.notes) await repo.appendLog(run.db, [n.taskId], n.message);
  members = cropped.tasks.filter((m) => !cropped.failed.some((f) => f.taskId === m.taskId));
  // Split-and-stitch formats (split/plan.ts) leave the shared plan and run chunk by chunk.
  const splits = await splitCandidates(members, fetched, optionsJson, splitDeps(run));
  for (const n of splits.notes) await repo.appendLog(run.db, [n.taskId], n.message);
  // Split tasks are planned chunk by chunk: what the shared plan would log for them is logged here.
  for (const t of splits.tasks) for (const message of fittedToSource(t.member.spec, fetched).notes) await repo.appendLog(run.db, [t.member.taskId], message);
  members = members.filter((m) => !splits.tasks.some((t) => t.member.taskId === m.taskId));
  const source = await withPacketsForPassthrough(members.map((m) => m.spec), fetched, { ffprobe: config.ffprobe, signal: run.signal });
  // Formats that can share a decode run as one FFmpeg process (plan/media.ts).
  const quality = config.qualityReport;
  const plan = planMedia(members, source, { quality });
  for (const f of plan.failed) await run.failTask(f.taskId, f.error);
  for (const n of plan.notes) await repo.appendLog(run.db, [n.taskId], n.message);
  // Expected work of each FFmpeg process, in the order they run: the split tasks, then the groups.
  const specs = new Map<number, OutputSpec>([...members, ...splits.tasks.map((t) => t.member)].map((m) => [m.taskId, m.spec]));
  const shape: SourceShape = { video: fetched.probes[0]?.video ?? null };
  const track = (taskIds: number[], durationSec: number, after?: GroupHandle): GroupHandle => {
    const list = taskIds.map((id) => specs.get(id)!);
    const bytes = list.map((spec, i) => expectedBytes(spec, shape, durationSec) * (run.destinations.get(taskIds[i]!) ?? 0));
    return run.progress.addGroup(taskIds, groupWork(list, shape, durationSec), bytes, after);
  };
  const splitHandles = new Map(splits.tasks.map((t) => [t.member.taskId, track([t.member.taskId], t.durationSec)]));
  const groupHandles = plan.groups.map((g) => track(g.taskIds, g.durationSec));
  run.splitProgress = (id, f) => splitHandles.get(id)?.progress(f);
  const rows = new Map(tasks.map((t) => [t.id, t]));
  const soloPlan = (taskId: number): EncodeGroup => {
    const single = planMedia(members.filter((m) => m.taskId === taskId), source, { quality });
    if (single.failed[0]) throw single.failed[0].error;
    return single.groups[0]!;
  };
  // Uploads while encoding: what one process made is delivered while the next one runs.
  let left = splits.tasks.length + plan.groups.length;
  const encoded = (taskIds: number[]): void => {
    if (--left > 0 && run.uploadsWhileEncoding) deliverEarly(run, taskIds);
  };
  for (const t of splits.tasks) {
    run.signal.throwIfAborted();
    const handle = splitHandles.get(t.member.taskId)!;
    handle.started();
    const started = performance.now();
    await encodeSplitTask(t, fetched, splitDeps(run));
    run.timings.carve('encode', (performance.now() - started) / 1000);
    handle.ended(true);
    encoded([t.member.taskId]);
  }
  const segmented = new Set(members.filter((m) => m.spec.kind === 'hls' && !m.spec.pack).map((m) => m.taskId));
  for (const [i, g] of plan.groups.entries()) {
    run.signal.throwIfAborted();
    await encodeGroup(run, g, groupHandles[i]!, rows, (taskId, after) => {
      const solo = soloPlan(taskId);
      return { group: solo, handle: track([taskId], solo.durationSec, after) };
    }, segmented);
    encoded(g.taskIds);
  }
}

function splitDeps(run: MediaRunContext) {
  const chunkExecutor = run.deps.chunkExecutor;
  return {
    config: run.config, db: run.db, mediaId: run.mediaId, signal: run.signal,
    setTaskStatus: (id: number, status: TaskStatus, patch?: repo.TaskPatch) => run.setTaskStatus(id, status, patch),
    failTask: (id: number, err: unknown) => run.failTask(id, err),
    setFraction: (id: number, f: number) => run.splitProgress(id, f),
    taskEncoded: (sec: number, output: string) => run.deps.events.taskEncoded(sec, output, 'ok'),
    chunkExecutor: chunkExecutor ? (pieces: SplitPieces | null) => chunkExecutor(run.mediaId, pieces, run.priority) : null,
    storage: run.storage, log: run.log,
  };
}

/** Tasks this run still has to encode: not done, not failed, not already encoded and saving. */
export function needsEncode(t: repo.TaskRow): boolean {
  if (isFinalTask(t.status)) return false;
  return !(t.status === TaskStatus.Saving && t.outputs);
}

/** Where a source's timeline starts: FFmpeg's outputs begin there. */
function startOf(probe: MediaProbe): number {
  const start = Number(probe.raw.format?.['start_time']);
  return Number.isFinite(start) ? start : 0;
}

/** The output files' base name: the first source's file name, made safe. */
export function outputBaseName(sourcesJson: string): string {
  const first = (JSON.parse(sourcesJson) as string[])[0] ?? '';
  let name = 'output';
  try {
    name = path.posix.basename(new URL(first).pathname).replace(/\.[^.]*$/, '') || 'output';
  } catch {
    // keep the default
  }
  return name.replace(/[^A-Za-z0-9._-]+/g, '_').slice(0, 80) || 'output';
}
