import type { Logger } from 'pino';
import type { Db } from './store/db.ts';
import { getMedia, type MediaRow } from './store/repo.ts';
import type { Change } from './store/lifecycle.ts';
import { MediaStatus, isFinalMedia, type FinalMediaStatus } from './domain/status.ts';
import type { MediaOutcome, Metrics } from './metrics.ts';

const OUTCOME: Record<FinalMediaStatus, MediaOutcome> = {
  [MediaStatus.Finished]: 'finished',
  [MediaStatus.Error]: 'failed',
  [MediaStatus.Stopped]: 'stopped',
};

const seconds = (from: number | null, to: number | null): number | undefined => (from !== null && to !== null && to >= from ? Math.round(to - from) / 1000 : undefined);

/** Where a media's time went, from its row's timestamps (absent: that phase did not happen). */
function timesOf(m: MediaRow, endedAt: number) {
  return {
    totalSec: seconds(m.created_at, endedAt),
    queuedSec: seconds(m.created_at, m.started_at),
    downloadSec: seconds(m.started_at, m.downloaded_at),
    encodeAndSaveSec: seconds(m.downloaded_at, m.uploaded_at ?? endedAt),
  };
}

/**
 * Watches committed status changes (the lifecycle's afterCommit) for the two moments operators
 * ask about: a media's encoding starting (its wait in the queue) and its end, which gets a log
 * line with the outcome and where the time went, and the media counters. Every process counts
 * the changes it commits itself, so a cluster's figures add up across processes.
 */
export function watchMediaEnds(db: Db, metrics: Metrics, log: Logger): (changes: readonly Change[]) => void {
  const read = async (mediaId: number, use: (m: MediaRow) => void) => {
    try {
      const m = await getMedia(db, mediaId);
      if (m) use(m);
    } catch (err) {
      log.debug({ err, mediaId }, 'could not read a media for its metrics');
    }
  };
  return (changes) => {
    for (const c of changes) {
      if (c.entity !== 'media') continue;
      const at = Date.now();
      if (c.to === MediaStatus.Processing) {
        void read(c.mediaId, (m) => metrics.queueWait.observe(Math.max(0, at - m.created_at) / 1000));
        continue;
      }
      if (!isFinalMedia(c.to)) continue;
      const outcome = OUTCOME[c.to];
      metrics.mediaEnded.inc({ outcome });
      void read(c.mediaId, (m) => {
        const endedAt = m.finished_at ?? at;
        const times = timesOf(m, endedAt);
        if (times.totalSec !== undefined) metrics.mediaSeconds.observe({ outcome }, times.totalSec);
        const fields = { mediaId: c.mediaId, outcome, ...times, ...(outcome === 'failed' && m.description ? { description: m.description } : {}) };
        if (outcome === 'failed') log.warn(fields, 'media failed');
        else log.info(fields, `media ${outcome}`);
      });
    }
  };
}
