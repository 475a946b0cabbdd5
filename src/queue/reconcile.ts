import type { Logger } from 'pino';
import type { Db } from '../store/db.ts';
import { unheldMedia } from '../store/lease.ts';
import { ACTIVE_MEDIA_STATUSES, MediaStatus } from '../domain/status.ts';
import type { BullMediaQueue } from './bullmq.ts';

/**
 * The reconciliation sweep: the store is the truth, the queue a copy that Redis can lose (it came
 * back empty, a failover dropped writes, an enqueue never reached it). Every node runs a timer;
 * one sweep per period runs in the whole cluster (a claim in Redis). It re-queues every media the
 * store says is waiting or being worked on that no live worker holds (store lease) and the
 * queue does not hold either. Adding is idempotent (the job id is the media's), so a race with
 * an AddMedia or a worker finishing costs nothing but a job that finds nothing to do.
 */
export type RequeueReason = 'missing' | 'stale_lease';

export interface SweepSettings {
  db: Db;
  queue: BullMediaQueue;
  everyMs: number;
  log: Logger;
  onRequeued(reason: RequeueReason): void;
  onSwept(at: number): void;
}

/** Media in these statuses wait for a worker; the other active ones are being worked on. */
const WAITING: readonly string[] = [MediaStatus.New, MediaStatus.WaitingForEncoder];

/** At most this many media are put back per sweep, so one sweep stays short; the next takes the rest. */
const MAX_PER_SWEEP = 1000;

export class Reconciler {
  readonly #settings: SweepSettings;
  #timer: NodeJS.Timeout | undefined;
  #sweeping: Promise<number> | undefined;

  constructor(settings: SweepSettings) {
    this.#settings = settings;
  }

  start(): void {
    this.#timer = setInterval(() => void this.sweep(), this.#settings.everyMs);
    this.#timer.unref();
  }

  /** One sweep if this node wins the period's claim; resolves to how many media it re-queued. */
  sweep(): Promise<number> {
    return (this.#sweeping ??= this.#sweepOnce()
      .catch((err: unknown) => {
        this.#settings.log.warn({ err }, 'reconciliation sweep failed; the next one tries again');
        return 0;
      })
      .finally(() => (this.#sweeping = undefined)));
  }

  async #sweepOnce(): Promise<number> {
    const { db, queue, log, everyMs } = this.#settings;
    if (!(await queue.claimSweep(everyMs))) return 0;
    const candidates = await unheldMedia(db, ACTIVE_MEDIA_STATUSES, Date.now());
    let requeued = 0;
    for (const media of candidates) {
      if (requeued >= MAX_PER_SWEEP) break;
      if (await queue.holds(media.id)) continue;
      await queue.enqueue(media.id);
      const reason: RequeueReason = WAITING.includes(media.status) ? 'missing' : 'stale_lease';
      log.warn({ mediaId: media.id, status: media.status, reason }, 'reconciliation: re-queued a media the queue did not hold');
      this.#settings.onRequeued(reason);
      requeued++;
    }
    this.#settings.onSwept(Date.now());
    return requeued;
  }

  async close(): Promise<void> {
    clearInterval(this.#timer);
    await this.#sweeping;
  }
}
