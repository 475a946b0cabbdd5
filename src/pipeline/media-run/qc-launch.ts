import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import * as repo from '../../store/repo.ts';
import type { FieldMap } from '../../domain/fields.ts';
import { DestinationStatus, TaskStatus } from '../../domain/status.ts';
import { mediaDirs } from '../../domain/layout.ts';
import { qcSpecOf, runQcChild } from '../qc/child.ts';
import { VERSION } from '../../version.ts';
import { FIGURES_DONE, type MediaRunContext } from './context.ts';

/**
 * A delivered task's end: Error when no destination took it; else Finished, its QC child run
 * (when asked for) on the output before this worker's copy is kept elsewhere or removed.
 */
export async function settleDelivered(run: MediaRunContext, media: repo.MediaRow | undefined, options: FieldMap, task: repo.TaskRow, list: repo.DestinationRow[]): Promise<void> {
  const saved = list.filter((d) => d.status === DestinationStatus.Saved).length;
  if (list.length > 0 && saved === 0) {
    await run.failTask(task.id, new Error('the output could not be saved to any destination'));
    return;
  }
  const spec = media ? qcSpecOf(task, options) : null;
  const finished = () => run.setTaskStatus(task.id, TaskStatus.Finished, { finished_at: Date.now(), ...FIGURES_DONE });
  // The QC child starts when the task has finished, and reads the output before this
  // worker's copy is kept elsewhere or removed.
  if (spec) await finished();
  const files = (JSON.parse(task.outputs ?? '[]') as string[]).map((f) => path.join(run.config.dataDir, f));
  const qc = spec && media ? await runQcChild(qcDeps(run), media, task, spec, files, run.source) : null;
  if (list.length === 0) await keep(run, task);
  else if (saved === list.length) await discardOutputs(run, task);
  // Otherwise the output stays on disk: RestartMediaTask re-delivers it to the failed
  // destinations without encoding again.
  if (!spec) await finished();
  if (qc?.fatal && qc.failParent) await run.failTask(task.id, new Error(`${qc.reason} (QC media ${qc.childMediaId}; qc_fail_parent)`));
}

/**
 * A QC child runs inside its parent's run; one found on its own was interrupted by a worker
 * stop (the queue hands unfinished media back after a restart). It ends in Error, saying so.
 */
export async function interruptedQc(run: MediaRunContext, media: repo.MediaRow): Promise<void> {
  await run.lifecycle.giveUp(media.id, 'QC was interrupted by a worker stop; restarting the parent media runs it again');
}

function qcDeps(run: MediaRunContext) {
  const c = run.config;
  return {
    db: run.db, lifecycle: run.lifecycle, dataDir: c.dataDir, ffmpeg: c.ffmpeg, ffprobe: c.ffprobe, threads: c.ffmpegThreads, version: VERSION,
    log: run.log, transfer: run.transfer, signal: run.signal,
  };
}

/** A format without a destination keeps its output here, behind an unguessable link. */
async function keep(run: MediaRunContext, task: repo.TaskRow): Promise<void> {
  // The API serves it from the shared storage (putOutputs stored it): no node needs this copy.
  if (run.storage) await discardOutputs(run, task, false);
  if (task.download_token) return;
  await repo.updateTask(run.db, task.id, { download_token: crypto.randomBytes(24).toString('base64url') });
  await repo.appendLog(run.db, [task.id], run.storage ? `Kept in the shared storage ${run.storage.shown} (no destination given)` : 'Kept on this server (no destination given)');
}

async function discardOutputs(run: MediaRunContext, task: repo.TaskRow, everywhere = true): Promise<void> {
  await fs.rm(mediaDirs(run.config.dataDir, run.mediaId).task(task.id), { recursive: true, force: true });
  if (everywhere) await run.storage?.removeTask(run.mediaId, task.id, run.log);
}
