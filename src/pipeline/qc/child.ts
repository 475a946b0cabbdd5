/**
 * QC as child media: when an output task that asks for QC finishes, a media of its own (its own
 * MediaID, one `qc_check` task, statuses and state log) is created, linked to that task, and runs
 * the checks on the output while it is still on this worker's disk. It reports through
 * `qc_start_notify` and `qc_notify`; a fatal result puts it in Error and, with `qc_fail_parent`,
 * the checked task too (the caller does that part).
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import type { Db } from '../../store/db.ts';
import * as repo from '../../store/repo.ts';
import type { Lifecycle } from '../../store/lifecycle.ts';
import type { FieldMap } from '../../domain/fields.ts';
import { parseQc, qcFieldsOf, type QcSpec } from '../../domain/qc.ts';
import { MediaStatus, TaskStatus } from '../../domain/status.ts';
import { mediaDirs } from '../../domain/layout.ts';
import { download, localSourcePath, redactUrl } from '../../transfer/index.ts';
import type { TransferContext } from '../../transfer/types.ts';
import { probeMedia, type MediaProbe } from '../ffmpeg/probe.ts';
import { describeError } from '../../domain/errors.ts';
import { runQc } from './run.ts';
import { firstProblem, round, type QcReport } from './report.ts';
import { mediaOptions } from '../../domain/media-options.ts';

export interface QcChildDeps {
  db: Db;
  /** The child's statuses go through it; its start and end send qc_start_notify and qc_notify. */
  lifecycle: Lifecycle;
  dataDir: string;
  ffmpeg: string;
  ffprobe: string;
  threads: number;
  version: string;
  log: Logger;
  transfer: TransferContext;
  signal: AbortSignal;
}

export interface QcOutcome {
  childMediaId: number;
  /** The child ended in Error: a fatal check or metric, or QC could not run. */
  failed: boolean;
  /** A fatal threshold was crossed (not merely: QC could not run). */
  fatal: boolean;
  failParent: boolean;
  reason: string | null;
}

/** The QC a task asks for, from its format and the media's own `qc` field; null when none. */
export function qcSpecOf(task: repo.TaskRow, mediaOptions: FieldMap): QcSpec | null {
  const parsed = parseQc(JSON.parse(task.format) as FieldMap, mediaOptions);
  // AddMedia validated it; a spec that no longer parses (an older version stored it) is skipped.
  return parsed.ok ? parsed.spec : null;
}

export async function runQcChild(
  deps: QcChildDeps,
  parent: repo.MediaRow,
  task: repo.TaskRow,
  spec: QcSpec,
  files: string[],
  source: { path: string; probe: MediaProbe } | null,
): Promise<QcOutcome> {
  const { db, signal } = deps;
  const options = mediaOptions(parent.options);
  // The child renders its notifications the way the parent asked for its own.
  const childOptions: FieldMap = {};
  for (const k of ['notify_format', 'notify_body_format']) if (options[k] !== undefined) childOptions[k] = options[k]!;
  const { mediaId, taskId } = await repo.insertQcChild(db, {
    userId: parent.user_id, parentMediaId: parent.id, parentTaskId: task.id, sources: JSON.parse(parent.sources) as string[],
    options: JSON.stringify(childOptions), version: deps.version, format: JSON.stringify({ output: 'qc_check', ...qcFieldsOf(JSON.parse(task.format) as FieldMap, options) }),
  });
  const log = deps.log.child({ qcMediaId: mediaId });
  await repo.appendLog(db, [task.id], `QC: child media ${mediaId} checks this output`);
  await repo.appendLog(db, [taskId], `QC of media ${parent.id}, task ${task.id} (${task.output})`);
  const now = Date.now();
  await deps.lifecycle.batch(async (tx) => {
    await tx.task(taskId, TaskStatus.Processing, { patch: { started_at: now }, log: null });
    await tx.media(mediaId, MediaStatus.Processing, { patch: { started_at: now } });
  });
  const scratch = mediaDirs(deps.dataDir, mediaId).scratch;
  let report: QcReport | null = null;
  let error: string | null = null;
  try {
    const reference = await referenceOf(deps, spec, source, scratch, (m) => repo.appendLog(db, [taskId], m));
    report = await runQc({
      spec, files, reference, scratch, ffmpeg: deps.ffmpeg, ffprobe: deps.ffprobe, threads: deps.threads, signal,
      note: (m) => repo.appendLog(db, [taskId], m),
    });
  } catch (err) {
    error = signal.aborted ? 'QC was interrupted: the parent media was stopped or restarted' : `QC could not run: ${describeError(err)}`;
    log.warn({ err }, 'QC failed to run');
  } finally {
    await fs.rm(scratch, { recursive: true, force: true });
  }
  if (report) for (const line of reportLines(report)) await repo.appendLog(db, [taskId], line);
  const fatal = report?.result === 'fail';
  const reason = error ?? (fatal ? `QC failed: ${firstProblem(report!, 'fail')}` : null);
  const end = Date.now();
  const status = reason ? MediaStatus.Error : MediaStatus.Finished;
  await deps.lifecycle.batch(async (tx) => {
    await tx.task(taskId, reason ? TaskStatus.Error : TaskStatus.Finished, {
      patch: { finished_at: end, progress: 100, description: reason, qc_report: report ? JSON.stringify(report) : null },
      log: null,
    });
    await tx.media(mediaId, status, {
      patch: { finished_at: end, progress: 100, progress_current: 100, description: reason },
      log: `Media status: ${status}${reason ? ` (${reason})` : report?.result === 'warning' ? ` with warnings (${firstProblem(report, 'warning')})` : ''}`,
    });
  });
  await repo.appendLog(db, [task.id], `QC: child media ${mediaId} ended ${status}${reason ? `: ${reason}` : ''}`);
  if (signal.aborted) throw signal.reason;
  return { childMediaId: mediaId, failed: reason !== null, fatal, failParent: spec.failParent, reason };
}

/** `original_source` is downloaded into the child's scratch folder (read in place when local). */
async function referenceOf(
  deps: QcChildDeps, spec: QcSpec, source: { path: string; probe: MediaProbe } | null, scratch: string, note: (m: string) => Promise<void>,
): Promise<{ path: string; probe: MediaProbe; shown: string } | null> {
  if (spec.originalSource) {
    const url = spec.originalSource;
    let file = await localSourcePath(url, deps.transfer);
    if (!file) {
      await fs.mkdir(scratch, { recursive: true });
      file = path.join(scratch, 'original');
      const { bytes } = await download(url, file, deps.transfer);
      await note(`QC: downloaded ${bytes} bytes of original_source ${redactUrl(url)}`);
    }
    return { path: file, probe: await probeMedia(file, { ffprobe: deps.ffprobe, signal: deps.signal }), shown: redactUrl(url) };
  }
  return source ? { ...source, shown: 'source' } : null;
}

/** One state-log line per check and metric: what was measured, and why it failed. */
export function reportLines(r: QcReport): string[] {
  const lines = (r.encryption ?? []).map((t) => `QC encryption: ${t.track} (${t.kind}) ${t.scheme ? `${t.scheme} with key id ${t.keyId ?? 'none'}` : 'clear'}${t.systems.length > 0 ? `, signalled for ${t.systems.join(', ')}` : ''}; ${t.encryptedSegments} of ${t.segments} segments encrypted`);
  lines.push(...r.checks.map((c) => `QC ${c.name}: ${c.result}, measured ${c.measured}, expected ${c.expected}${c.reason && c.result !== 'pass' ? ` (${c.reason})` : ''}`));
  for (const m of r.metrics) {
    const s = m.summary;
    const figures = s ? `mean ${round(s.mean)}, min ${round(s.min)}, median ${round(s.median)}, harmonic mean ${round(s.harm_mean)} over ${s.frames} frames` : '';
    lines.push(`QC ${m.metric}: ${m.result}${figures ? `, ${figures}` : ''}${m.reason ? ` (${m.reason})` : ''}`);
  }
  lines.push(`QC result: ${r.result}`);
  return lines;
}
