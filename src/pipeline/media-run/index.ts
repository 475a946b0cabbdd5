import { isStoreUnavailable } from '../../store/faults.ts';
import * as repo from '../../store/repo.ts';
import { parsePriority } from '../../domain/priority.ts';
import { MediaStatus, isFinalMedia } from '../../domain/status.ts';
import { describeError } from '../../domain/errors.ts';
import { ensureLocal } from '../../storage/shared-storage.ts';
import { withSplitScreen } from '../plan/stage.ts';
import { ProgressTracker } from '../progress.ts';
import type { MediaProcessor } from '../../queue/types.ts';
import { MediaRunContext, type PipelineDeps } from './context.ts';
import { fetchSources } from './fetch.ts';
import { encodeAll, needsEncode } from './encode.ts';
import { deliverAll } from './deliver.ts';
import { interruptedQc } from './qc-launch.ts';
import { finish } from './finish.ts';
import { deliverFromCache, keepInCache } from './cache.ts';
import { OutputCache } from '../cache/index.ts';
import { instantAsked, mediaOptions } from '../../domain/media-options.ts';

export type { PipelineDeps, PipelineEvents, PipelineLifecycle } from './context.ts';

/** Moves one media through its statuses: fetch → probe → encode → deliver → notify. */
export function createMediaProcessor(given: PipelineDeps): MediaProcessor {
  const outputCache = given.outputCache !== undefined
    ? given.outputCache
    : OutputCache.from({ maxBytes: given.config.cacheMaxBytes, dataDir: given.config.dataDir, storage: given.storage ?? null, db: given.db, log: given.log.child({ part: 'cache' }) });
  const deps = { ...given, outputCache };
  return (mediaId, signal, resumeNote) => runMedia(new MediaRunContext(deps, mediaId, signal), resumeNote);
}

/**
 * One run of a media, from wherever its last run stopped: an ended media is left alone, one with
 * only deliveries left is delivered without fetching its sources again. An interruption leaves
 * the status to whoever interrupted; any other failure ends the media in Error.
 */
async function runMedia(run: MediaRunContext, resumeNote: string | undefined): Promise<void> {
  const media = await repo.getMedia(run.db, run.mediaId);
  // An ended media moves again only through a restart, which sets it New before queueing it.
  if (!media || media.deleted || media.status === MediaStatus.ReadyToProcess || isFinalMedia(media.status)) return;
  // Only a first run's wait is known: a restart's queueing time is not stored.
  if (media.status === MediaStatus.New && media.started_at === null) run.timings.add('queue wait', Math.max(0, Date.now() - media.created_at) / 1000);
  run.userId = media.user_id;
  if (media.parent_media_id !== null) return interruptedQc(run, media);
  // In a cluster a QC child is never a queue job of its own: one left running by a worker
  // that died ends here, when its parent's job comes back.
  for (const child of await repo.qcChildrenOf(run.db, media.user_id, media.id)) await interruptedQc(run, child);
  const priority = parsePriority(mediaOptions(media.options).priority);
  run.priority = priority.ok ? priority.priority : 0;
  run.uploadsWhileEncoding = instantAsked(mediaOptions(media.options));
  const tasks = await repo.getTasks(run.db, run.mediaId);
  run.taskIds = tasks.map((t) => t.id);
  run.progress = new ProgressTracker(run.db, run.mediaId, run.taskIds);
  if (resumeNote) await run.logAll(resumeNote);
  run.progress.start();
  try {
    // Only deliveries left (a restarted failed destination, or a crash while saving): the
    // sources are not fetched again, which could take long or no longer work.
    // A worker taking over a media in Saving finds the encoded outputs in the shared storage.
    const current = await ensureLocal(run.storage, run.db, run.lifecycle, tasks, run.signal);
    const deliverOnly = !media.benchmark && current.length > 0 && !current.some(needsEncode);
    if (deliverOnly) {
      await run.timings.time('deliver', () => deliverAll(run));
      await run.logAll(run.timings.describe());
      await finish(run);
      return;
    }
    const source = await run.timings.time('fetch/probe', () => fetchSources(run, media));
    if (source.paths[0] && source.probes[0]) run.source = { path: source.paths[0], probe: source.probes[0] };
    if (media.benchmark) {
      await run.progress.stop();
      await run.setStatus(MediaStatus.ReadyToProcess, { progress: 0, progress_current: 0, time_left: 0, time_left_current: 0 });
      return;
    }
    // Outputs in the output cache skip the encoder altogether (cache.ts).
    const cacheable = await deliverFromCache(run, media, source);
    if ((await repo.getTasks(run.db, run.mediaId)).some(needsEncode)) {
      const release = await run.timings.time('encoder slot', async () => {
        await run.setStatus(MediaStatus.WaitingForEncoder);
        return run.deps.encoderSlots?.acquire(run.priority, run.signal);
      });
      try {
        // FFmpeg's wall time and what follows it are carved out of this span (encode-group.ts).
        await run.timings.time('plan', () => encodeAll(run, withSplitScreen(source, media.options), media.sources, media.options));
      } finally {
        release?.();
      }
    }
    // Instant mode: the download the encode read ends here, or fails the media with its own error.
    const probes = await source.whole;
    if (run.source && probes[0]) run.source = { path: run.source.path, probe: probes[0] };
    run.instant = null;
    await keepInCache(run, cacheable);
    await run.timings.time('deliver', () => deliverAll(run));
    await run.logAll(run.timings.describe());
    await finish(run);
  } catch (err) {
    // Deliveries started while encoding settle before the media's end is written.
    await run.uploadsSettled();
    if (run.signal.aborted) return; // whoever interrupted us settles the status
    // Not the media's fault: the queue runs it again once the store answers.
    if (isStoreUnavailable(err)) throw err;
    // The end itself is logged once for every media, with its times (media-ends.ts).
    run.log.warn({ err }, 'media run failed');
    await run.setStatus(MediaStatus.Error, { description: describeError(err, run.log), finished_at: Date.now() });
  } finally {
    run.downloads.abort();
    await run.uploadsSettled();
    await run.progress.stop();
  }
}
