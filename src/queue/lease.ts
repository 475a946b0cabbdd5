import type { Logger } from 'pino';
import type { Db } from '../store/db.ts';
import { liveLease, releaseLease, renewLease, takeLease } from '../store/lease.ts';

/**
 * Who runs a media in a cluster, decided by the store rather than by Redis. The queue's lock on a
 * job lives in Redis and is lost when Redis is down, frozen or restarted; the store lease is
 * what a worker checks before it starts a media and renews while it runs, so an encode goes on
 * through a queue outage and a job redelivered meanwhile does not start the media a second time.
 */
export interface LeaseSettings {
  db: Db;
  /** This process, unique in the cluster. */
  workerId: string;
  /** How long a hold lasts without renewal: a dead worker's media is free again after this. */
  leaseMs: number;
  log: Logger;
}

/** Why a run is interrupted when its store lease was taken by another worker. */
export const LEASE_LOST = 'lease-lost';

export class MediaLeases {
  readonly #settings: LeaseSettings;
  /** Media this process runs now: a second delivery of one of them is not started again. */
  readonly #running = new Set<number>();

  constructor(settings: LeaseSettings) {
    this.#settings = settings;
  }

  /**
   * Runs `work` while this worker holds the media in the store, renewing the hold; the signal
   * given to `work` also aborts (reason {@link LEASE_LOST}) if another worker took it meanwhile.
   * Returns false without running anything when another live worker holds the media: a lease
   * found live is waited out once (a worker that died leaves one that lasts at most `leaseMs`).
   */
  async run(mediaId: number, signal: AbortSignal, work: (signal: AbortSignal) => Promise<void>): Promise<boolean> {
    const { log, workerId, leaseMs } = this.#settings;
    if (this.#running.has(mediaId)) {
      log.info({ mediaId }, 'media delivered again while this worker runs it: left to the run in progress');
      return false;
    }
    this.#running.add(mediaId);
    const renewing = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    let held = false;
    try {
      held = await this.#take(mediaId);
      if (!held) {
        const lease = await liveLease(this.#settings.db, mediaId, Date.now());
        if (lease) await sleep(Math.min(leaseMs, Math.max(0, lease.until - Date.now())) + 250, signal);
        held = !signal.aborted && (await this.#take(mediaId));
        if (!held) {
          log.info({ mediaId, holder: lease?.workerId }, 'media is being processed by another worker (its store lease is live): left to it');
          return false;
        }
      }
      let renewal: Promise<void> | undefined;
      timer = setInterval(() => {
        renewal ??= renewLease(this.#settings.db, mediaId, workerId, Date.now() + leaseMs)
          .then((ours) => {
            if (ours) return;
            log.warn({ mediaId }, 'another worker took this media (our store lease had lapsed): stopping here');
            renewing.abort(LEASE_LOST);
          })
          // The store unreachable for a moment: the next renewal tries again.
          .catch((err: unknown) => log.warn({ err, mediaId }, 'renewing the store lease failed'))
          .finally(() => (renewal = undefined));
      }, Math.max(200, Math.round(leaseMs / 3)));
      await work(AbortSignal.any([signal, renewing.signal]));
      return true;
    } finally {
      clearInterval(timer);
      if (held) await releaseLease(this.#settings.db, mediaId, workerId).catch((err: unknown) => log.warn({ err, mediaId }, 'releasing the store lease failed'));
      this.#running.delete(mediaId);
    }
  }

  #take(mediaId: number): Promise<boolean> {
    const now = Date.now();
    return takeLease(this.#settings.db, mediaId, this.#settings.workerId, now, now + this.#settings.leaseMs);
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const t = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}
