import fs from 'node:fs/promises';
import path from 'node:path';
import * as repo from '../../store/repo.ts';
import { TaskStatus } from '../../domain/status.ts';
import { FFMPEG_PREFIX_ARGS, runFfmpeg, withThreads } from '../ffmpeg/run.ts';
import { formatCommandLine } from '../ffmpeg/args.ts';
import type { EncodeGroup } from '../plan/index.ts';
import type { GroupHandle } from '../progress.ts';
import { describeError } from '../../domain/errors.ts';
import { QualityLog } from '../quality/log.ts';
import { summarize } from '../quality/report.ts';
import { describeQuality } from '../../domain/quality.ts';
import { formatBytes, type MediaRunContext } from './context.ts';
import { downloadFailure, sourceFeed } from './instant.ts';
import { SegmentUploads } from './segment-uploads.ts';

/** A task of a failed shared process planned alone, and its place in the progress, right after `after`. */
export type SoloPlan = (taskId: number, after: GroupHandle) => { group: EncodeGroup; handle: GroupHandle };

/**
 * Runs one FFmpeg process for all of its tasks: they move to Processing and Saving together,
 * each keeps its own progress row, and each records the process's command line, CPU time and
 * speed. When a shared process fails, its tasks are encoded again one by one, so one bad
 * format does not sink the others.
 */
export async function encodeGroup(run: MediaRunContext, g: EncodeGroup, progress: GroupHandle, rows: Map<number, repo.TaskRow>, soloPlan: SoloPlan, segmented: ReadonlySet<number> = new Set()): Promise<void> {
  const config = run.config;
  const ffmpeg = config.ffmpeg;
  // The exact command lines run, so a user can reproduce a task by hand.
  const threads = config.ffmpegThreads;
  const command = g.passes.map((args) => formatCommandLine(ffmpeg, [...FFMPEG_PREFIX_ARGS, ...withThreads(args, threads)])).join(' && ');
  const ids = g.taskIds;
  const shared = ids.length > 1;
  progress.started();
  for (const id of ids) {
    // A summary of an earlier encode of this task no longer describes its output.
    await run.setTaskStatus(id, TaskStatus.Processing, { started_at: Date.now(), command, quality: null });
    await repo.appendLog(run.db, [id], `Running: ${command}`);
    if (shared) {
      const others = ids.filter((x) => x !== id);
      await repo.appendLog(run.db, [id], `This FFmpeg process is shared with task${others.length > 1 ? 's' : ''} ${others.join(', ')} (one decode of the source for all of them)`);
    }
  }
  let wallSec = 0;
  let cpuSec = 0;
  // The quality report's figures come out of this same run's log (quality/log.ts).
  const measured = ids.map((id) => g.quality(id));
  const qualityLog = measured.some((q) => q !== null) ? new QualityLog() : null;
  const started = performance.now();
  // HLS segments go to their destinations as FFmpeg closes them (segment-uploads.ts).
  const segments = run.uploadsWhileEncoding ? await SegmentUploads.start(run, ids.filter((id) => segmented.has(id))) : null;
  try {
    const feed = await sourceFeed(run, g.passes, ids);
    run.timings.mark('encode started');
    for (const [i, args] of feed.passes.entries()) {
      const passes = feed.passes.length;
      const result = await runFfmpeg(args, {
        ffmpeg,
        durationSec: g.durationSec,
        signal: feed.signal,
        ...(feed.stdin ? { stdin: feed.stdin() } : {}),
        threads,
        ...(qualityLog ? { onStderrLine: (line: string) => qualityLog.line(line) } : {}),
        onProgress: (p) => progress.progress((i + p.fraction) / passes),
      });
      wallSec += result.wallSec;
      cpuSec += result.cpuSec;
    }
    run.timings.markEach('encode ended');
    // The last segments go out while the steps below run; each task's delivery waits for them.
    if (segments) {
      // Unsent segments are not lost: the delivery phase sends whatever is not recorded as sent.
      const drained = segments.drain().catch((err: unknown) => run.log.warn({ err }, 'sending the last segments after the encode failed; left to the delivery phase'));
      for (const id of ids) run.segmentDrains.set(id, drained);
    }
  } catch (err) {
    run.timings.carve('encode', (performance.now() - started) / 1000);
    await segments?.abandon();
    if (run.signal.aborted) throw err;
    // The source's download failed under the encode: that ends the media, in its own words.
    const download = downloadFailure(run);
    if (download) throw download;
    progress.ended(false);
    if (!shared) {
      run.deps.events.taskEncoded((performance.now() - started) / 1000, rows.get(ids[0]!)?.output ?? 'unknown', 'error');
      await run.failTask(ids[0]!, err);
      return;
    }
    await repo.appendLog(run.db, ids, `The shared FFmpeg process failed (${describeError(err, run.log)}); encoding tasks ${ids.join(', ')} one by one`);
    run.log.warn({ err, tasks: ids }, 'shared encode failed; encoding its tasks one by one');
    let after = progress;
    for (const id of ids) {
      run.signal.throwIfAborted();
      let solo: ReturnType<SoloPlan>;
      try {
        await run.freshTaskDir(id);
        solo = soloPlan(id, after);
      } catch (planErr) {
        await run.failTask(id, planErr);
        continue;
      }
      after = solo.handle;
      await encodeGroup(run, solo.group, solo.handle, rows, soloPlan, segmented);
    }
    return;
  }
  progress.ended(true);
  const encodedAt = performance.now();
  run.timings.carve('encode', (encodedAt - started) / 1000);
  const speed = wallSec > 0 ? g.durationSec / wallSec : null;
  const facts = {
    encodedSec: g.durationSec, wallSec, outputs: ids.length, runs: g.passes.length,
    expectedStats: measured.reduce((n, q) => n + (q?.kind === 'encoded' ? q.encoders.filter((e) => e.slot !== null).length : 0), 0),
  };
  for (const [k, id] of ids.entries()) {
    try {
      const outputs = await g.listOutputs(id);
      if (outputs.length === 0) throw new Error('FFmpeg finished but wrote no output; the requested time range may lie outside the source.');
      let size = 0;
      for (const f of outputs) size += (await fs.stat(f)).size;
      run.progress.taskEncoded(id, size * (run.destinations.get(id) ?? 0));
      const relative = outputs.map((f) => path.relative(config.dataDir, f));
      const plan = measured[k];
      const quality = plan && qualityLog
        ? await summarize(plan, qualityLog, facts, outputs.at(-1)!, { ffprobe: config.ffprobe, signal: run.signal })
        : null;
      await run.setTaskStatus(id, TaskStatus.Saving, {
        converted_size: size, cpu_sec: cpuSec, speed, outputs: JSON.stringify(relative),
        quality: quality ? JSON.stringify(quality) : null,
      });
      if (quality) await repo.appendLog(run.db, [id], `Quality: ${describeQuality(quality)}`);
      const share = shared ? `; the process made ${ids.length} outputs` : '';
      await repo.appendLog(run.db, [id], `Encoded ${outputs.length} file(s), ${formatBytes(size)} in ${wallSec.toFixed(2)} s (${speed ? speed.toFixed(2) : '?'}x realtime, ${cpuSec.toFixed(2)} CPU s${share})`);
      run.deps.events.taskEncoded(wallSec, rows.get(id)?.output ?? 'unknown', 'ok');
    } catch (err) {
      run.deps.events.taskEncoded(wallSec, rows.get(id)?.output ?? 'unknown', 'error');
      await run.failTask(id, err);
    }
  }
  run.timings.carve('post-encode', (performance.now() - encodedAt) / 1000);
}
