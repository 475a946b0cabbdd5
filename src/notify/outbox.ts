import crypto from 'node:crypto';
import os from 'node:os';
import type { Logger } from 'pino';
import type { Db } from '../store/db.ts';
import * as repo from '../store/repo.ts';
import { render, type WireFormat, type WireObject } from '../api/wire/render.ts';
import { sendOnce } from './send.ts';
import { retryWhileUnavailable, type RetryOptions } from '../store/faults.ts';
import { resultPayload, readyPayload, uploadPayload, qcPayload } from './payload.ts';
import type { DeliveredOutput } from '../domain/delivered-output.ts';
import type { Change, OutboxWriter } from '../store/lifecycle.ts';
import { MediaStatus, isFinalMedia } from '../domain/status.ts';
import type { FieldMap } from '../domain/fields.ts';
import { mediaOptions } from '../domain/media-options.ts';

export interface OutboxOptions {
  allowPrivateNetwork: boolean;
  /** Delays before each retry; its length is the number of retries (3, as encoding.com does). */
  retryDelaysMs: number[];
  /** The notification secret of a user (sign.ts), looked up at each attempt; null: unsigned. */
  secretFor(userId: string): string | null;
  /**
   * How long one POST may take. A node's claim on a notification lasts twice this, so a live
   * sender always finishes inside its claim.
   * @default 30000
   */
  sendTimeoutMs?: number;
  /** This process among the nodes sharing the store (hostname, pid and a random part by default). */
  node?: string;
  /** After each recorded attempt: whether it was delivered, and whether the notification is now given up. */
  onAttempt?: (kind: string, ok: boolean, givenUp: boolean) => void;
}

/**
 * How often a node looks for notifications nobody is sending: left by a node that stopped, or
 * claimed by one that died mid-send (its claim has expired).
 */
const SWEEP_EVERY_MS = 2000;
const SWEEP_BATCH = 100;
const DEFAULT_SEND_TIMEOUT_MS = 30_000;


/**
 * Notifications are written to the store first, in the transaction of the status change that
 * triggers them (rowsFor, called by store/lifecycle.ts), and delivered from there, so a restart
 * resumes them; every attempt is recorded in its own row (time, HTTP status or error, duration).
 *
 * Every node (API or worker) sharing the store delivers from it. Before each attempt a node
 * claims the row with a conditional UPDATE, so exactly one node sends it; the claim ends when the
 * attempt is recorded, or expires if the node dies mid-send, and then another node's sweep takes
 * the notification over.
 */
export class Outbox implements OutboxWriter<DeliveredOutput> {
  readonly #timers = new Set<NodeJS.Timeout>();
  readonly #inFlight = new Set<Promise<void>>();
  /** Ids this process is attempting now, so a sweep does not start a second attempt of its own. */
  readonly #attempting = new Set<number>();
  readonly #node: string;
  readonly #sendTimeoutMs: number;
  #sweeper: NodeJS.Timeout | undefined;
  #sweeping = false;
  #closed = false;

  constructor(
    private readonly db: Db,
    private readonly log: Logger,
    private readonly opts: OutboxOptions,
  ) {
    this.#node = opts.node ?? `${os.hostname()}:${process.pid}:${crypto.randomBytes(4).toString('hex')}`;
    this.#sendTimeoutMs = opts.sendTimeoutMs ?? DEFAULT_SEND_TIMEOUT_MS;
  }

  /**
   * Deliver whatever a previous process left pending, and from now on whatever another node
   * leaves behind.
   */
  async resume(): Promise<void> {
    for (const row of await repo.pendingNotifications(this.db)) this.#schedule(row.id, row.next_at - Date.now());
    if (this.#closed || this.#sweeper) return;
    this.#sweeper = setInterval(() => void this.#sweep(), SWEEP_EVERY_MS);
    this.#sweeper.unref();
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#sweeper);
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
    await Promise.all(this.#inFlight);
  }

  async #sweep(): Promise<void> {
    if (this.#sweeping || this.#closed) return;
    this.#sweeping = true;
    try {
      for (const id of await repo.claimableNotifications(this.db, Date.now(), SWEEP_BATCH)) {
        if (!this.#attempting.has(id)) this.#schedule(id, 0);
      }
    } catch (err) {
      this.log.error({ err }, 'looking for notifications to deliver failed');
    } finally {
      this.#sweeping = false;
    }
  }

  /**
   * The notifications a transaction's status changes trigger, read and rendered inside it
   * (store/lifecycle.ts inserts them before it commits): `notify` (and `notify_encoding_errors`)
   * when a media ends, `ready` when an AddMediaBenchmark media is downloaded, `notify_upload`
   * when a destination is Saved or fails, `qc_start_notify` and `qc_notify` for a QC child.
   */
  async rowsFor(trx: Db, changes: readonly Change<DeliveredOutput>[]): Promise<repo.NewNotification[]> {
    const rows: repo.NewNotification[] = [];
    for (const c of changes) {
      if (c.entity === 'task') continue;
      const media = await repo.getMedia(trx, c.mediaId);
      if (!media) continue;
      const options = mediaOptions(media.options);
      const row = (kind: string, url: string, body: WireObject, about: { task_id: number; destination_id: number } | null = null) =>
        rows.push(notificationRow(media, options, kind, url, body, about));
      if (c.entity === 'destination') {
        const url = str(options.notify_upload);
        const dest = url ? await repo.getDestination(trx, c.destinationId) : undefined;
        if (url && dest) row('notify_upload', url, uploadPayload(media.id, c.taskId, dest, c.facts), { task_id: c.taskId, destination_id: dest.id });
        continue;
      }
      if (media.parent_media_id !== null) {
        // A QC child: the URLs are the parent's fields; the notification is the child's, where its GetStatus lists it.
        const kind = c.to === MediaStatus.Processing ? 'qc_start_notify' : isFinalMedia(c.to) ? 'qc_notify' : null;
        const parent = kind ? await repo.getMedia(trx, media.parent_media_id) : undefined;
        const url = kind && parent ? str(mediaOptions(parent.options)[kind]) : undefined;
        if (kind && url) {
          const [task] = await repo.getTasks(trx, media.id);
          row(kind, url, qcPayload(media, task ?? null));
        }
        continue;
      }
      if (c.to === MediaStatus.ReadyToProcess && media.notify_url) row('ready', media.notify_url, readyPayload(media));
      if (!isFinalMedia(c.to)) continue;
      const targets: { kind: string; url: string }[] = [];
      if (media.notify_url) targets.push({ kind: 'notify', url: media.notify_url });
      const onErrors = str(options.notify_encoding_errors);
      if (onErrors && c.to === MediaStatus.Error) targets.push({ kind: 'notify_encoding_errors', url: onErrors });
      if (targets.length === 0) continue;
      const tasks = await repo.getTasks(trx, media.id);
      const destinations = await repo.getDestinations(trx, tasks.map((t) => t.id));
      const body = resultPayload(media, tasks, destinations);
      for (const t of targets) row(t.kind, t.url, body);
    }
    return rows;
  }

  /** Rows committed by this process's lifecycle: sent now. */
  added(ids: number[]): void {
    for (const id of ids) this.#schedule(id, 0);
  }

  #schedule(id: number, delayMs: number): void {
    if (this.#closed) return;
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      const p = this.#attempt(id)
        .catch((err: unknown) => this.log.error({ err, notificationId: id }, 'delivering a notification failed'))
        .finally(() => this.#inFlight.delete(p));
      this.#inFlight.add(p);
    }, Math.max(0, delayMs));
    timer.unref();
    this.#timers.add(timer);
  }

  #storeWait(mediaId: number, signal: AbortSignal): RetryOptions {
    return { signal, onRetry: (attempt, delayMs) => this.log.warn({ mediaId, attempt, retryInMs: delayMs }, 'a notification waits for the store, which cannot be reached') };
  }

  async #attempt(id: number): Promise<void> {
    if (this.#attempting.has(id)) return;
    this.#attempting.add(id);
    try {
      const now = Date.now();
      // Not due, delivered, or being sent by another node: not ours to send now.
      if (!(await repo.claimNotification(this.db, id, this.#node, now, now + 2 * this.#sendTimeoutMs))) return;
      await this.#send(id);
    } finally {
      this.#attempting.delete(id);
    }
  }

  async #send(id: number): Promise<void> {
    const row = await repo.getNotification(this.db, id);
    if (!row || row.state !== 'pending') return;
    const media = await repo.getMedia(this.db, row.media_id);
    const secret = media ? this.opts.secretFor(media.user_id) : null;
    const attempt = await sendOnce(
      { url: row.url, format: row.format as WireFormat, bodyFormat: row.body_format as 'form' | 'raw', document: row.document, secret },
      { allowPrivateNetwork: this.opts.allowPrivateNetwork, timeoutMs: this.#sendTimeoutMs },
    );
    // Sent: it must be recorded while the claim holds, or another node would send it again.
    const wait = this.#storeWait(row.media_id, AbortSignal.timeout(this.#sendTimeoutMs));
    const made = (await retryWhileUnavailable(() => repo.countNotificationAttempts(this.db, id), wait)) + 1;
    const ok = attempt.error === null;
    const retryIn = this.opts.retryDelaysMs[made - 1];
    const state = ok ? 'delivered' : retryIn === undefined ? 'failed' : 'pending';
    await retryWhileUnavailable(
      () =>
        repo.recordNotificationAttempt(
          this.db,
          { notification_id: id, at: attempt.at.getTime(), http_status: attempt.status, error: attempt.error, duration_ms: attempt.durationMs },
          { state, next_at: Date.now() + (retryIn ?? 0) },
        ),
      wait,
    );
    this.opts.onAttempt?.(row.kind, ok, state === 'failed');
    if (state === 'pending') this.#schedule(id, retryIn!);
    else if (state === 'failed') this.log.warn({ mediaId: row.media_id, kind: row.kind, attempts: made }, 'notification given up');
  }
}

function notificationRow(
  media: repo.MediaRow,
  options: FieldMap,
  kind: string,
  url: string,
  body: WireObject,
  about: { task_id: number; destination_id: number } | null,
): repo.NewNotification {
  const format: WireFormat = str(options.notify_format)?.toLowerCase() === 'json' ? 'json' : 'xml';
  const bodyFormat = str(options.notify_body_format)?.toLowerCase() === 'raw' ? 'raw' : 'form';
  return { media_id: media.id, kind, url, format, body_format: bodyFormat, document: render(format, 'result', body), ...about };
}

function str(v: unknown): string | undefined {
  const s = Array.isArray(v) ? v[0] : v;
  return typeof s === 'string' && s.trim() !== '' ? s.trim() : undefined;
}
