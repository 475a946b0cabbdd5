import fs from 'node:fs/promises';
import path from 'node:path';
import { DestinationStatus, MediaStatus, TaskStatus, isDestinationError, isFinalMedia, isFinalTask } from '../../../domain/status.ts';
import { mediaDirs } from '../../../domain/layout.ts';
import { unknownWarnings } from '../../../domain/field-check.ts';
import type { RestartPlan } from '../../../store/lifecycle.ts';
import * as repo from '../../../store/repo.ts';
import { ApiError, ErrorText } from '../../errors.ts';
import { many, mediaIdOf, scalar, taskIdOf } from '../../query.ts';
import { warningsWire } from '../../wire/render.ts';
import type { Action, ActionContext } from '../context.ts';
import { checkLocation } from './locations.ts';
import { checkFields, presetsToSave, savedPresetWire, validateFormats, withWarnings } from './validate.ts';

/**
 * The commands that change a media already added: UpdateMedia, CancelMedia, StopMedia and the
 * restarts. Each first takes the media from its worker (queue abort), then changes the store and
 * removes the files the change makes stale.
 */

export const updateMedia: Action = async (ctx) => {
  const media = await mediaOf(ctx);
  const unknown = checkFields(ctx);
  const formats = many(ctx.query, 'format');
  if (formats.length === 0) throw new ApiError(ErrorText.noFormat);
  const validated = await validateFormats(ctx, formats);
  const tasks = withWarnings(validated.map((v) => v.task), unknown);
  const notify = scalar(ctx.query, 'notify');
  if (notify) checkLocation(ctx, notify, 'notify');
  const presets = await presetsToSave(ctx, validated);
  await ctx.queue.abort(media.id, 'update');
  await fs.rm(mediaDirs(ctx.config.dataDir, media.id).outputs, { recursive: true, force: true });
  await ctx.storage?.removeMedia(media.id, ctx.log);
  // A media waiting for ProcessMedia keeps waiting, with its new formats.
  const waiting = media.status === MediaStatus.ReadyToProcess;
  await ctx.lifecycle.batch(async (tx) => {
    await repo.replaceTasks(tx.trx, media.id, tasks, { userId: ctx.user.id, items: presets });
    await tx.media(media.id, waiting ? MediaStatus.ReadyToProcess : MediaStatus.New, { patch: { ...RESTARTED, ...(notify ? { notify_url: notify } : {}) } });
  });
  if (!waiting) await ctx.queue.enqueue(media.id);
  return { message: 'Updated', SavedPreset: savedPresetWire(presets), warnings: warningsWire(unknownWarnings(unknown)) };
};

export const cancelMedia: Action = async (ctx) => {
  const media = await mediaOf(ctx);
  await ctx.queue.abort(media.id, 'cancel');
  await repo.updateMedia(ctx.db, media.id, { deleted: 1 });
  // Its QC children only describe its outputs: they go with it.
  await repo.deleteQcChildren(ctx.db, media.id);
  const dirs = mediaDirs(ctx.config.dataDir, media.id);
  await Promise.all([dirs.scratch, dirs.outputs].map((d) => fs.rm(d, { recursive: true, force: true })));
  await ctx.storage?.removeMedia(media.id, ctx.log);
  return { message: 'Deleted' };
};

export const stopMedia: Action = async (ctx) => {
  const media = await mediaOf(ctx);
  if (isFinalMedia(media.status)) throw new ApiError(`Media ${media.id} has already ended (${media.status}); there is nothing to stop.`);
  await ctx.queue.abort(media.id, 'stop');
  // The run may have ended the media while it was being stopped: then there is nothing to stop.
  const ended = await ctx.lifecycle.stop(media.id);
  if (ended === null) {
    const now = await repo.getMedia(ctx.db, media.id);
    throw new ApiError(`Media ${media.id} has already ended (${now?.status ?? 'gone'}); there is nothing to stop.`);
  }
  return { message: 'Stopped' };
};

export const restartMedia: Action = async (ctx) => {
  const media = await mediaOf(ctx);
  await ctx.queue.abort(media.id, 'restart');
  const plan = await resetPlan(ctx, await repo.getTasks(ctx.db, media.id), false);
  await fs.rm(mediaDirs(ctx.config.dataDir, media.id).outputs, { recursive: true, force: true });
  await ctx.storage?.removeMedia(media.id, ctx.log);
  await restart(ctx, media, plan, 'RestartMedia');
  return { message: 'Restarted' };
};

export const restartMediaErrors: Action = async (ctx) => {
  const media = await mediaOf(ctx);
  await ctx.queue.abort(media.id, 'restart');
  const tasks = await repo.getTasks(ctx.db, media.id);
  const destinations = await repo.getDestinations(ctx.db, tasks.map((t) => t.id));
  const failed = tasks.filter((t) => t.status === TaskStatus.Error || (destinations.get(t.id) ?? []).some((d) => isDestinationError(d.status)));
  if (failed.length === 0 && media.status !== MediaStatus.Error) {
    if (!isFinalMedia(media.status)) await ctx.queue.enqueue(media.id);
    throw new ApiError(`Media ${media.id} has no failed tasks to restart.`);
  }
  await restart(ctx, media, await resetPlan(ctx, failed, true), 'RestartMediaErrors');
  return { message: 'Restarted' };
};

export const restartMediaTask: Action = async (ctx) => {
  const media = await mediaOf(ctx);
  const taskId = taskIdOf(ctx.query);
  const task = await repo.getTask(ctx.db, taskId);
  if (!task || task.media_id !== media.id) throw new ApiError(ErrorText.taskNotFound(taskId));
  await ctx.queue.abort(media.id, 'restart');
  await restart(ctx, media, await resetPlan(ctx, [task], true), `RestartMediaTask ${taskId}`);
  return { message: 'Task restarted' };
};

export async function mediaOf(ctx: ActionContext): Promise<repo.MediaRow> {
  const id = mediaIdOf(ctx.query);
  const media = await repo.findMedia(ctx.db, ctx.user.id, id);
  if (!media) throw new ApiError(ErrorText.mediaNotFound(id));
  return media;
}

/** What UpdateMedia clears besides the tasks, as a restart does. */
const RESTARTED = {
  description: null, started_at: null, finished_at: null, uploaded_at: null, progress: 0, progress_current: 0, time_left: 0, time_left_current: 0,
} satisfies repo.MediaPatch;

/** The restart cascade: the planned tasks and the media back to New in one transaction, then queued. */
async function restart(ctx: ActionContext, media: repo.MediaRow, plan: Omit<RestartPlan, 'log'>, why: string): Promise<void> {
  await ctx.lifecycle.restart(media.id, { ...plan, log: `${why}: media status New` });
  await ctx.queue.enqueue(media.id);
}

/**
 * How each task goes back to work. A task whose encode finished but which is missing from a
 * destination (Finished with some destinations failed, or Error because none was saved) only
 * re-delivers to those, from the output kept on disk; anything else is encoded again (its
 * copy in the shared storage is removed first).
 */
async function resetPlan(ctx: ActionContext, tasks: repo.TaskRow[], keepEncodedOutput: boolean): Promise<Omit<RestartPlan, 'log'>> {
  const plan: Omit<RestartPlan, 'log'> = { redeliver: [], reencode: [] };
  const destinations = await repo.getDestinations(ctx.db, tasks.map((t) => t.id));
  for (const t of tasks) {
    const unsaved = isFinalTask(t.status) && keepEncodedOutput && t.outputs !== null && (destinations.get(t.id) ?? []).some((d) => d.status !== DestinationStatus.Saved);
    if (unsaved && (await outputsExist(ctx, t))) {
      plan.redeliver.push(t.id);
      continue;
    }
    await ctx.storage?.removeTask(t.media_id, t.id, ctx.log);
    plan.reencode.push(t.id);
  }
  return plan;
}

async function outputsExist(ctx: ActionContext, t: repo.TaskRow): Promise<boolean> {
  const files = JSON.parse(t.outputs ?? '[]') as string[];
  if (files.length === 0) return false;
  let local = true;
  for (const f of files) if (!(await fs.stat(path.join(ctx.config.dataDir, f)).catch(() => null))) local = false;
  // In a cluster the worker that re-delivers fetches them from the shared storage.
  return local || ((await ctx.storage?.hasOutputs(t).catch(() => false)) ?? false);
}
