import fs from 'node:fs/promises';
import path from 'node:path';
import { isStoreUnavailable } from '../../store/faults.ts';
import * as repo from '../../store/repo.ts';
import { DestinationStatus, MediaStatus, TaskStatus, destinationError } from '../../domain/status.ts';
import { redactUrl, upload } from '../../transfer/index.ts';
import { mapLimit } from '../../map-limit.ts';
import { describeError } from '../../domain/errors.ts';
import { DeliveredOutputs } from '../delivered-output.ts';
import { putOutputs } from '../../storage/shared-storage.ts';
import { deliveryOf, withoutSidecars } from './delivery-strategies.ts';
import { settleDelivered } from './qc-launch.ts';
import { sentEarlyKey, sum, type MediaRunContext } from './context.ts';
import { mediaOptions } from '../../domain/media-options.ts';

const DELIVERY_CONCURRENCY = 4;

/**
 * The delivery phase: every encoded output (tasks in Saving) to each destination not saved yet,
 * then each task settled (finished, QC started, its local copy kept or removed).
 */
export async function deliverAll(run: MediaRunContext): Promise<void> {
  const tasks = (await repo.getTasks(run.db, run.mediaId)).filter((t) => t.status === TaskStatus.Saving);
  if (tasks.length === 0) return;
  run.timings.mark('delivery started');
  await run.setStatus(MediaStatus.Saving);
  await run.progress.enterPhase('save');
  // What went while the encode ran ends first (its tasks are still in Saving, so listed above);
  // only the destinations it did not save are left.
  for (const early of run.earlyDeliveries.splice(0)) await early;
  await deliverTasks(run, tasks);
  run.signal.throwIfAborted();
  const media = await repo.getMedia(run.db, run.mediaId);
  const after = await repo.getDestinations(run.db, tasks.map((t) => t.id));
  const options = mediaOptions(media?.options);
  for (const task of tasks) await settleDelivered(run, media, options, task, after.get(task.id) ?? []);
  await repo.updateMedia(run.db, run.mediaId, { uploaded_at: Date.now() });
  run.timings.mark('delivered');
}

/**
 * The tasks of one FFmpeg process delivered while later ones still encode (uploads while
 * encoding, with instant mode): each destination saved and notified as soon as it is, and
 * {@link deliverAll} finishes what is left. A failure to reach the store or an abort surfaces there.
 */
export function deliverEarly(run: MediaRunContext, taskIds: number[]): void {
  const early = (async () => {
    const tasks = (await repo.getTasks(run.db, run.mediaId)).filter((t) => taskIds.includes(t.id) && t.status === TaskStatus.Saving);
    if (tasks.length > 0) await deliverTasks(run, tasks);
  })();
  early.catch(() => undefined);
  run.earlyDeliveries.push(early);
}

/** Every encoded output of `tasks` to each of its destinations not saved yet. */
async function deliverTasks(run: MediaRunContext, tasks: repo.TaskRow[]): Promise<void> {
  const dataDir = run.config.dataDir;
  // Segments the encode left to send go first: what they sent is skipped below, and the playlists follow them.
  await Promise.all(tasks.map((t) => run.segmentDrains.get(t.id)));
  await putOutputs(run.storage, run.db, tasks, run.signal);
  const destinations = await repo.getDestinations(run.db, tasks.map((t) => t.id));
  const jobs: { task: repo.TaskRow; dest: repo.DestinationRow; files: string[] }[] = [];
  for (const task of tasks) {
    const files = (JSON.parse(task.outputs ?? '[]') as string[]).map((f) => path.join(dataDir, f));
    for (const dest of destinations.get(task.id) ?? []) if (dest.status !== DestinationStatus.Saved) jobs.push({ task, dest, files });
  }
  const sizes = new Map<string, number>();
  for (const j of jobs) for (const f of j.files) sizes.set(f, (await fs.stat(f)).size);
  const bytesByTask = new Map<number, number>();
  for (const j of jobs) bytesByTask.set(j.task.id, (bytesByTask.get(j.task.id) ?? 0) + j.files.reduce((a, f) => a + (sizes.get(f) ?? 0), 0));
  run.progress.planSave(bytesByTask);
  /** Bytes sent of each file to each destination, by task. */
  const sent = new Map<number, Map<string, number>>();
  const media = await repo.getMedia(run.db, run.mediaId);
  const delivered = new DeliveredOutputs(mediaOptions(media?.options), {
    ffprobe: run.config.ffprobe,
    signal: run.signal,
    log: run.log,
    note: (taskId, message) => repo.appendLog(run.db, [taskId], message),
  });
  // The destination's status, its log line and its notify_upload commit together: a crash
  // right after cannot lose the notification (store/lifecycle.ts).
  const done = async (task: repo.TaskRow, dest: repo.DestinationRow, files: string[], status: DestinationStatus, log: string): Promise<void> => {
    const facts = await delivered.of(task.id, task.output, withoutSidecars(files));
    await run.timings.store.time(() => run.lifecycle.destination(dest.id, status, { log, facts }));
  };
  // Every destination of every format at once (up to DELIVERY_CONCURRENCY): one slow or
  // failing destination does not hold up the others.
  await mapLimit(jobs, DELIVERY_CONCURRENCY, async ({ task, dest, files }) => {
    const sentBytes = (i: number, d: number): void => {
      const own = sent.get(task.id) ?? new Map<string, number>();
      sent.set(task.id, own.set(`${dest.id}:${i}`, d));
      run.progress.taskSent(task.id, sum([...own.values()]));
    };
    const send = async (file: string, i: number, url: string): Promise<void> => {
      // A segment uploaded while the encode ran (segment-uploads.ts) is not sent again.
      const early = run.sentEarly.get(sentEarlyKey(dest.id, url));
      if (early !== undefined && early === sizes.get(file)) return sentBytes(i, early);
      await upload(file, url, run.transfer, (d) => sentBytes(i, d));
    };
    const deliver = deliveryOf(task);
    try {
      await deliver({ dataDir, mediaId: run.mediaId, task, dest, taskDestinations: destinations.get(task.id) ?? [], files, send });
    } catch (err) {
      if (run.signal.aborted || isStoreUnavailable(err)) throw err;
      const reason = describeError(err, run.log);
      await done(task, dest, files, destinationError(reason), `Error saving to ${redactUrl(dest.url)}: ${reason}`);
      return;
    }
    await done(task, dest, files, DestinationStatus.Saved, `Saved to ${redactUrl(dest.url)}${files.length > 1 ? ` (${files.length} files)` : ''}`);
  });
}
