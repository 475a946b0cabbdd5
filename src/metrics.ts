import client from 'prom-client';
import type { Db } from './store/db.ts';
import { countMediaByStatus } from './store/repo.ts';
import { MediaStatus } from './domain/status.ts';
import { VERSION } from './version.ts';
import type { TransferReport } from './transfer/types.ts';

/** What the metrics read from the queue a process sees (the API's queue, or a worker's view of it). */
export interface QueueView {
  readonly waiting: number;
  readonly running: number;
  /** Whether the queue's Redis answers now; absent for the in-process queue, which always does. */
  connected?(): Promise<boolean>;
}

/** How a media ended: Finished, Error or Stopped. */
export type MediaOutcome = 'finished' | 'failed' | 'stopped';
export const MEDIA_OUTCOMES: readonly MediaOutcome[] = ['finished', 'failed', 'stopped'];

export interface MetricsSources {
  /** The queue this process sees; undefined until it is open. */
  queue(): QueueView | undefined;
  /** The FFmpeg version this process runs; null in a process that runs none (an API node). */
  ffmpegVersion(): string | null;
}

// From a second to a day: a media's wait and total time span both.
const LONG_BUCKETS = [0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600, 86400];

/**
 * Prometheus metrics; gauges are computed when scraped, so the hot paths only bump counters.
 * Node.js and process metrics keep prom-client's standard names (`process_cpu_seconds_total`,
 * `nodejs_heap_size_used_bytes`…) so that the usual Node.js dashboards read them unchanged;
 * everything of Encodery's own starts with `encodery_`.
 */
export class Metrics {
  readonly registry = new client.Registry();
  readonly requests: client.Counter<'action' | 'outcome'>;
  readonly taskSeconds: client.Histogram<'output' | 'outcome'>;
  readonly mediaEnded: client.Counter<'outcome'>;
  readonly mediaSeconds: client.Histogram<'outcome'>;
  readonly queueWait: client.Histogram;
  readonly transferBytes: client.Counter<'direction' | 'scheme'>;
  readonly transferSeconds: client.Histogram<'direction' | 'scheme'>;
  readonly transferErrors: client.Counter<'direction' | 'scheme'>;
  readonly notifyAttempts: client.Counter<'kind' | 'outcome'>;
  readonly notifyGivenUp: client.Counter<'kind'>;
  readonly requeued: client.Counter<'reason'>;
  readonly lastSweep: client.Gauge;

  constructor(db: Db, sources: MetricsSources) {
    const registers = [this.registry];
    client.collectDefaultMetrics({ register: this.registry });
    new client.Gauge({
      name: 'encodery_build_info',
      help: 'Always 1; the labels say which Encodery, Node.js and FFmpeg this process runs (ffmpeg="none": it runs no FFmpeg)',
      labelNames: ['version', 'node', 'ffmpeg'],
      registers,
      collect() {
        this.reset();
        this.set({ version: VERSION, node: process.versions.node, ffmpeg: sources.ffmpegVersion() ?? 'none' }, 1);
      },
    });
    this.requests = new client.Counter({
      name: 'encodery_api_requests_total',
      help: 'API requests by action and outcome (ok or error)',
      labelNames: ['action', 'outcome'],
      registers,
    });
    this.taskSeconds = new client.Histogram({
      name: 'encodery_task_encode_seconds',
      help: 'Wall time of task encodes, by output and outcome (ok: an output was made; error: FFmpeg or the output failed)',
      labelNames: ['output', 'outcome'],
      buckets: [0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600],
      registers,
    });
    this.mediaEnded = new client.Counter({
      name: 'encodery_media_ended_total',
      help: 'Media this process brought to an end, by outcome: finished, failed (Error, some or all outputs) or stopped (StopMedia)',
      labelNames: ['outcome'],
      registers,
    });
    this.mediaSeconds = new client.Histogram({
      name: 'encodery_media_seconds',
      help: 'Time from AddMedia to the end of a media, by outcome',
      labelNames: ['outcome'],
      buckets: LONG_BUCKETS,
      registers,
    });
    for (const outcome of MEDIA_OUTCOMES) {
      this.mediaEnded.inc({ outcome }, 0);
      this.mediaSeconds.zero({ outcome });
    }
    this.queueWait = new client.Histogram({
      name: 'encodery_queue_wait_seconds',
      help: 'Time from AddMedia to its encoding starting (queue, download of the sources and the wait for an encoder)',
      buckets: LONG_BUCKETS,
      registers,
    });
    this.transferBytes = new client.Counter({
      name: 'encodery_transfer_bytes_total',
      help: 'Bytes of sources downloaded and outputs uploaded, by direction and URL scheme',
      labelNames: ['direction', 'scheme'],
      registers,
    });
    this.transferSeconds = new client.Histogram({
      name: 'encodery_transfer_seconds',
      help: 'Wall time of each source download and destination upload (retries included), by direction and URL scheme',
      labelNames: ['direction', 'scheme'],
      buckets: [0.05, 0.1, 0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600],
      registers,
    });
    this.transferErrors = new client.Counter({
      name: 'encodery_transfer_errors_total',
      help: 'Downloads and uploads that failed (after their retries), by direction and URL scheme',
      labelNames: ['direction', 'scheme'],
      registers,
    });
    this.notifyAttempts = new client.Counter({
      name: 'encodery_notification_attempts_total',
      help: 'Notification POSTs made by this process, by kind (notify, notify_encoding_errors, notify_upload…) and outcome (ok, error)',
      labelNames: ['kind', 'outcome'],
      registers,
    });
    this.notifyGivenUp = new client.Counter({
      name: 'encodery_notifications_failed_total',
      help: 'Notifications given up after their last retry failed, by kind',
      labelNames: ['kind'],
      registers,
    });
    new client.Gauge({
      name: 'encodery_media',
      help: 'Media in the store by status (0 for a status no media has)',
      labelNames: ['status'],
      registers,
      async collect() {
        this.reset();
        for (const status of Object.values(MediaStatus)) this.set({ status }, 0);
        for (const row of await countMediaByStatus(db)) this.set({ status: row.status }, Number(row.n));
      },
    });
    new client.Gauge({
      name: 'encodery_queue_depth',
      help: 'Media waiting for a worker',
      registers,
      collect() {
        this.set(sources.queue()?.waiting ?? 0);
      },
    });
    new client.Gauge({
      name: 'encodery_queue_up',
      help: 'Whether the queue (Redis in a cluster) answers: 1 or 0',
      registers,
      async collect() {
        const q = sources.queue();
        this.set(!q?.connected || (await q.connected()) ? 1 : 0);
      },
    });
    this.requeued = new client.Counter({
      name: 'encodery_reconcile_requeued_total',
      help: 'Media the reconciliation sweep of this process put back in the queue, by reason (missing: waiting but not queued; stale_lease: in a working status that no live worker holds)',
      labelNames: ['reason'],
      registers,
    });
    this.lastSweep = new client.Gauge({
      name: 'encodery_reconcile_last_sweep_timestamp_seconds',
      help: 'When this process last completed a reconciliation sweep (Unix time; 0: never)',
      registers,
    });
    new client.Gauge({
      name: 'encodery_queue_running',
      help: 'Media being processed now',
      registers,
      collect() {
        this.set(sources.queue()?.running ?? 0);
      },
    });
  }

  transferred(t: TransferReport): void {
    const labels = { direction: t.direction, scheme: t.scheme };
    this.transferSeconds.observe(labels, t.seconds);
    if (t.bytes > 0 || t.ok) this.transferBytes.inc(labels, t.bytes);
    if (!t.ok) this.transferErrors.inc(labels);
  }
}
