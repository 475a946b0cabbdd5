import client from 'prom-client';
import type { Db } from './store/db.ts';
import { countMediaByStatus } from './store/repo.ts';

/** What the metrics read from the queue a process sees (the API's queue, or a worker's view of it). */
export interface QueueView {
  readonly waiting: number;
  readonly running: number;
  /** Whether the queue's Redis answers now; absent for the in-process queue, which always does. */
  connected?(): Promise<boolean>;
}

/** Prometheus metrics; gauges are computed when scraped, so the hot paths only bump counters. */
export class Metrics {
  readonly registry = new client.Registry();
  readonly requests: client.Counter<'action' | 'outcome'>;
  readonly taskSeconds: client.Histogram<'output'>;
  readonly requeued: client.Counter<'reason'>;
  readonly lastSweep: client.Gauge;

  constructor(db: Db, queue: () => QueueView | undefined) {
    client.collectDefaultMetrics({ register: this.registry, prefix: 'encodery_process_' });
    this.requests = new client.Counter({
      name: 'encodery_api_requests_total',
      help: 'API requests by action and outcome (ok or error)',
      labelNames: ['action', 'outcome'],
      registers: [this.registry],
    });
    this.taskSeconds = new client.Histogram({
      name: 'encodery_task_encode_seconds',
      help: 'Wall time of task encodes',
      labelNames: ['output'],
      buckets: [0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600],
      registers: [this.registry],
    });
    new client.Gauge({
      name: 'encodery_media',
      help: 'Media in the store by status',
      labelNames: ['status'],
      registers: [this.registry],
      async collect() {
        this.reset();
        for (const row of await countMediaByStatus(db)) this.set({ status: row.status }, Number(row.n));
      },
    });
    new client.Gauge({
      name: 'encodery_queue_depth',
      help: 'Media waiting for a worker',
      registers: [this.registry],
      collect() {
        this.set(queue()?.waiting ?? 0);
      },
    });
    new client.Gauge({
      name: 'encodery_queue_up',
      help: 'Whether the queue (Redis in a cluster) answers: 1 or 0',
      registers: [this.registry],
      async collect() {
        const q = queue();
        this.set(!q?.connected || (await q.connected()) ? 1 : 0);
      },
    });
    this.requeued = new client.Counter({
      name: 'encodery_reconcile_requeued_total',
      help: 'Media the reconciliation sweep of this process put back in the queue, by reason (missing: waiting but not queued; stale_lease: in a working status that no live worker holds)',
      labelNames: ['reason'],
      registers: [this.registry],
    });
    this.lastSweep = new client.Gauge({
      name: 'encodery_reconcile_last_sweep_timestamp_seconds',
      help: 'When this process last completed a reconciliation sweep (Unix time; 0: never)',
      registers: [this.registry],
    });
    new client.Gauge({
      name: 'encodery_queue_running',
      help: 'Media being processed now',
      registers: [this.registry],
      collect() {
        this.set(queue()?.running ?? 0);
      },
    });
  }
}
