import type { Logger } from 'pino';
import type { Db } from '../store/db.ts';
import * as repo from '../store/repo.ts';
import { render, type WireFormat } from '../api/wire/render.ts';
import { sendOnce, type AttemptRecord } from './send.ts';
import { resultPayload, readyPayload } from './payload.ts';
import { MediaStatus } from '../domain/status.ts';
import type { FieldMap } from '../domain/fields.ts';

export interface OutboxOptions {
  allowPrivateNetwork: boolean;
  /** Delays before each retry; its length is the number of retries (3, as encoding.com does). */
  retryDelaysMs: number[];
}

/**
 * Notifications are written to the store first and delivered from there, so a restart resumes
 * them; every attempt is recorded on the row.
 */
export class Outbox {
  readonly #timers = new Set<NodeJS.Timeout>();
  readonly #inFlight = new Set<Promise<void>>();
  #closed = false;

  constructor(
    private readonly db: Db,
    private readonly log: Logger,
    private readonly opts: OutboxOptions,
  ) {}

  /** Deliver whatever a previous process left pending. */
  async resume(): Promise<void> {
    for (const row of await repo.pendingNotifications(this.db)) this.#schedule(row.id, row.next_at - Date.now());
  }

  async close(): Promise<void> {
    this.#closed = true;
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
    await Promise.all(this.#inFlight);
  }

  /** The media reached Finished or Error: `notify`, and `notify_encoding_errors` on errors. */
  async mediaEnded(mediaId: number): Promise<void> {
    const media = await repo.getMedia(this.db, mediaId);
    if (!media) return;
    const options = JSON.parse(media.options) as FieldMap;
    const targets: { kind: string; url: string }[] = [];
    if (media.notify_url) targets.push({ kind: 'notify', url: media.notify_url });
    const onErrors = str(options.notify_encoding_errors);
    if (onErrors && media.status === MediaStatus.Error) targets.push({ kind: 'notify_encoding_errors', url: onErrors });
    if (targets.length === 0) return;
    const tasks = await repo.getTasks(this.db, mediaId);
    const destinations = await repo.getDestinations(this.db, tasks.map((t) => t.id));
    const body = resultPayload(media, tasks, destinations);
    for (const t of targets) await this.#add(media, t.kind, t.url, body);
  }

  /** An AddMediaBenchmark media is downloaded and waits for ProcessMedia. */
  async mediaReady(mediaId: number): Promise<void> {
    const media = await repo.getMedia(this.db, mediaId);
    if (!media?.notify_url) return;
    await this.#add(media, 'ready', media.notify_url, readyPayload(media));
  }

  async #add(media: repo.MediaRow, kind: string, url: string, body: ReturnType<typeof resultPayload>): Promise<void> {
    const options = JSON.parse(media.options) as FieldMap;
    const format: WireFormat = str(options.notify_format)?.toLowerCase() === 'json' ? 'json' : 'xml';
    const bodyFormat = str(options.notify_body_format)?.toLowerCase() === 'raw' ? 'raw' : 'form';
    const document = render(format, 'result', body);
    const id = await repo.insertNotification(this.db, { media_id: media.id, kind, url, format, body_format: bodyFormat, document });
    this.#schedule(id, 0);
  }

  #schedule(id: number, delayMs: number): void {
    if (this.#closed) return;
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      const p = this.#attempt(id).finally(() => this.#inFlight.delete(p));
      this.#inFlight.add(p);
    }, Math.max(0, delayMs));
    timer.unref();
    this.#timers.add(timer);
  }

  async #attempt(id: number): Promise<void> {
    const row = await repo.getNotification(this.db, id);
    if (!row || row.state !== 'pending') return;
    const attempt = await sendOnce(
      { url: row.url, format: row.format as WireFormat, bodyFormat: row.body_format as 'form' | 'raw', document: row.document },
      { allowPrivateNetwork: this.opts.allowPrivateNetwork },
    );
    const attempts = [...(JSON.parse(row.attempts) as AttemptRecord[]), attempt];
    const ok = attempt.status !== null && attempt.status >= 200 && attempt.status < 300;
    const retryIn = this.opts.retryDelaysMs[attempts.length - 1];
    const state = ok ? 'delivered' : retryIn === undefined ? 'failed' : 'pending';
    const nextAt = Date.now() + (retryIn ?? 0);
    await repo.updateNotification(this.db, id, { attempts: JSON.stringify(attempts), state, next_at: nextAt });
    if (state === 'pending') this.#schedule(id, retryIn!);
    else if (state === 'failed') this.log.warn({ mediaId: row.media_id, kind: row.kind, attempts: attempts.length }, 'notification given up');
  }
}

function str(v: unknown): string | undefined {
  const s = Array.isArray(v) ? v[0] : v;
  return typeof s === 'string' && s.trim() !== '' ? s.trim() : undefined;
}
