/**
 * Live updates for the dashboard by server-sent events (`GET /dashboard/api/events`).
 *
 * One `ChangeFeed` per process follows the store's change feed (store/changes.ts) with a cursor
 * while any page listens, reads what each changed media shows now, and hands it to the streams
 * of that media's user only. The cursor makes a tick one indexed read whatever the number of
 * clients; the workers writing the changes may be other processes on other machines.
 *
 * PostgreSQL hands out `seq` numbers when a transaction writes, not when it commits, so a number
 * may show up after a higher one. A skipped number is remembered for a few seconds and looked
 * for again; the event id a page resumes from (Last-Event-ID) never passes a skipped number.
 */
import type { Writable } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { Db } from '../store/db.ts';
import { CHANGE_KEEP_MS, changesAfter, changesIn, latestChangeSeq, mediaChangedAfter, mediaStates, oldestChangeSeq, pruneChanges, type ChangeRow, type MediaState } from '../store/changes.ts';
import type { Session } from './session.ts';

/** How often the feed reads the store while someone listens. */
const TICK_MS = 500;
/** Changes read in one tick; more are read in the next one, at once. */
const BATCH = 2000;
/** How long a skipped seq is waited for before it is taken for a rolled-back write. */
const GAP_WAIT_MS = 5000;
const MAX_GAPS = 5000;
/** Changes are kept this long: a page away longer than this reloads its view instead of catching up. */
const KEEP_MS = CHANGE_KEEP_MS;
const PRUNE_EVERY_MS = 60_000;
/** A comment line this often keeps proxies and the browser from taking a quiet stream for a dead one. */
const HEARTBEAT_MS = 15_000;
/** A stream whose unsent bytes pass this is closed: its page reconnects and catches up from the store. */
const MAX_BUFFERED_BYTES = 256 * 1024;
/** Open streams per user (a tab keeps one). */
const MAX_STREAMS_PER_USER = 32;
/** Media one catch-up sends; a page that missed more reloads its view. */
const CATCH_UP_LIMIT = 500;

/** What a page receives for each changed media (ids as strings, as the API's replies give them). */
export interface MediaEvent {
  id: string;
  status: string;
  progress: number;
  time_left: number;
  deleted: boolean;
  /** Outputs that ended in Error, of how many: the list's bar says a partly failed media is one. */
  failed: number;
  of: number;
}

type Listener = (media: MediaEvent[], position: number) => void;

const toEvent = (m: MediaState): MediaEvent => ({ id: String(m.id), status: m.status, progress: Math.round(m.progress * 100) / 100, time_left: m.timeLeft, deleted: m.deleted, failed: m.failedTasks, of: m.tasks });

export class ChangeFeed {
  readonly #db: Db;
  readonly #log: Logger;
  readonly #listeners = new Map<string, Set<Listener>>();
  #cursor: number | null = null;
  /** Skipped seqs and when they were first missed. */
  readonly #gaps = new Map<number, number>();
  #timer: NodeJS.Timeout | null = null;
  #starting: Promise<void> | null = null;
  readonly #pruning: NodeJS.Timeout;
  #closed = false;
  /** Bumped by every stop, so a round that was under way when it stopped schedules nothing. */
  #runs = 0;

  constructor(db: Db, log: Logger) {
    this.#db = db;
    this.#log = log;
    // Whether or not anyone listens: the triggers append on every write, here or on any node.
    this.#pruning = setInterval(() => {
      pruneChanges(db, Date.now() - KEEP_MS).catch((err: unknown) => log.warn({ err }, 'pruning the media change feed failed'));
    }, PRUNE_EVERY_MS).unref();
  }

  /** Everything up to this seq has been handed to the listeners. */
  get position(): number {
    let p = this.#cursor ?? 0;
    for (const seq of this.#gaps.keys()) p = Math.min(p, seq - 1);
    return p;
  }

  /** Listens for one user's media; the feed runs while anyone listens. Returns the unsubscribe. */
  async subscribe(userId: string, listener: Listener): Promise<() => void> {
    let set = this.#listeners.get(userId);
    if (!set) this.#listeners.set(userId, (set = new Set()));
    set.add(listener);
    const unsubscribe = () => {
      set.delete(listener);
      if (set.size === 0) this.#listeners.delete(userId);
      if (this.#listeners.size === 0) this.#stop();
    };
    try {
      await this.#start();
    } catch (err) {
      unsubscribe();
      throw err;
    }
    return unsubscribe;
  }

  close(): void {
    this.#closed = true;
    clearInterval(this.#pruning);
    this.#listeners.clear();
    this.#stop();
  }

  #start(): Promise<void> {
    if (this.#cursor !== null || this.#closed) return Promise.resolve();
    this.#starting ??= latestChangeSeq(this.#db).then(
      (seq) => {
        this.#starting = null;
        if (this.#listeners.size === 0 || this.#closed) return;
        this.#cursor = seq;
        this.#schedule(TICK_MS);
      },
      (err: unknown) => {
        this.#starting = null;
        throw err;
      },
    );
    return this.#starting;
  }

  #stop(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    this.#runs += 1;
    // The next listener starts from the newest change; what it missed before comes by catch-up.
    this.#cursor = null;
    this.#gaps.clear();
  }

  #schedule(ms: number): void {
    if (this.#closed || this.#cursor === null) return;
    const run = this.#runs;
    this.#timer = setTimeout(() => void this.#tick(run), ms);
  }

  async #tick(run: number): Promise<void> {
    let more = false;
    try {
      more = await this.#read();
    } catch (err) {
      this.#log.warn({ err }, 'reading the media change feed failed');
    }
    if (run === this.#runs) this.#schedule(more ? 0 : TICK_MS);
  }

  /** One round: new changes, skipped ones that appeared, then each user's share. True: more are waiting. */
  async #read(): Promise<boolean> {
    const from = this.#cursor;
    if (from === null) return false;
    const now = Date.now();
    const rows: ChangeRow[] = await changesAfter(this.#db, from, BATCH);
    let expected = from + 1;
    for (const r of rows) {
      for (let s = expected; s < r.seq && this.#gaps.size < MAX_GAPS; s++) this.#gaps.set(s, now);
      expected = r.seq + 1;
    }
    // Stopped (and maybe started again) while reading: that run's reads are its own.
    if (this.#cursor !== from) return false;
    if (rows.length > 0) this.#cursor = rows.at(-1)!.seq;
    const waited = [...this.#gaps.keys()].filter((s) => !rows.some((r) => r.seq === s));
    if (waited.length > 0) {
      for (const late of await changesIn(this.#db, waited)) {
        this.#gaps.delete(late.seq);
        rows.push(late);
      }
    }
    for (const [seq, since] of this.#gaps) if (now - since > GAP_WAIT_MS) this.#gaps.delete(seq);

    const ids = [...new Set(rows.map((r) => r.mediaId))];
    if (ids.length > 0) {
      const byUser = new Map<string, MediaEvent[]>();
      for (const m of await mediaStates(this.#db, ids)) {
        if (!this.#listeners.has(m.userId)) continue;
        let list = byUser.get(m.userId);
        if (!list) byUser.set(m.userId, (list = []));
        list.push(toEvent(m));
      }
      const position = this.position;
      for (const [userId, media] of byUser) for (const listener of this.#listeners.get(userId) ?? []) listener(media, position);
    }
    return rows.length === BATCH;
  }
}

/** What an event stream writes to: the response, as far as the stream uses it. */
export type EventSink = Pick<Writable, 'write' | 'end' | 'destroy' | 'destroyed' | 'writableLength'>;

/** One open event stream; its writes never queue more than `maxBufferedBytes`. */
export class EventStream {
  readonly #raw: EventSink;
  readonly #maxBuffered: number;
  #ended = false;

  constructor(raw: EventSink, maxBufferedBytes = MAX_BUFFERED_BYTES) {
    this.#maxBuffered = maxBufferedBytes;
    this.#raw = raw;
  }

  get ended(): boolean {
    return this.#ended || this.#raw.destroyed;
  }

  send(event: string, data: unknown, id?: number): void {
    this.#write(`${id !== undefined ? `id: ${id}\n` : ''}event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  }

  comment(text: string): void {
    this.#write(`: ${text}\n\n`);
  }

  end(): void {
    if (this.ended) return;
    this.#ended = true;
    this.#raw.end();
  }

  #write(chunk: string): void {
    if (this.ended) return;
    // A client that does not read (a stalled tab, a slow link) would make the server hold every
    // update for it; it is dropped instead and catches up from the store when it reconnects.
    if (this.#raw.writableLength > this.#maxBuffered) {
      this.#ended = true;
      this.#raw.destroy();
      return;
    }
    this.#raw.write(chunk);
  }
}

export interface EventRoutesOptions {
  db: Db;
  log: Logger;
  /** The signed-in session of a request, or null after answering it (401). */
  guard: (request: FastifyRequest, reply: FastifyReply) => Session | null;
}

/** Registers `GET /api/events` in the dashboard's scope. */
export function registerEvents(app: FastifyInstance, { db, log, guard }: EventRoutesOptions): void {
  const feed = new ChangeFeed(db, log);
  const streams = new Set<EventStream>();
  const perUser = new Map<string, number>();
  let heartbeat: NodeJS.Timeout | null = null;

  app.addHook('preClose', async () => {
    // Open streams would keep the server from closing.
    feed.close();
    if (heartbeat) clearInterval(heartbeat);
    for (const s of streams) s.end();
  });

  app.get('/api/events', async (request, reply) => {
    const session = guard(request, reply);
    if (!session) return reply;
    const userId = session.user.id;
    if ((perUser.get(userId) ?? 0) >= MAX_STREAMS_PER_USER) return reply.code(429).send({ error: 'too many open event streams' });
    const lastId = parseEventId(request.headers['last-event-id']);

    reply.hijack();
    const raw = reply.raw;
    raw.writeHead(200, {
      ...(reply.getHeaders() as Record<string, string>),
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      'x-accel-buffering': 'no',
    });
    const stream = new EventStream(raw);
    streams.add(stream);
    perUser.set(userId, (perUser.get(userId) ?? 0) + 1);
    heartbeat ??= setInterval(() => {
      for (const s of streams) s.comment('heartbeat');
    }, HEARTBEAT_MS);

    let unsubscribe: (() => void) | null = null;
    let closed = false;
    raw.on('close', () => {
      closed = true;
      unsubscribe?.();
      stream.end();
      streams.delete(stream);
      const n = (perUser.get(userId) ?? 1) - 1;
      if (n > 0) perUser.set(userId, n);
      else perUser.delete(userId);
      if (streams.size === 0 && heartbeat) {
        clearInterval(heartbeat);
        heartbeat = null;
      }
    });

    try {
      // A dropped connection is retried by the browser after this long.
      raw.write('retry: 2000\n\n');
      // Listening starts before the catch-up is read, so nothing falls between the two.
      unsubscribe = await feed.subscribe(userId, (media, position) => stream.send('media', media, position));
      if (closed) return unsubscribe();
      if (lastId === null) {
        stream.send('ready', {}, feed.position);
        return;
      }
      const position = feed.position;
      const oldest = await oldestChangeSeq(db);
      const ids = oldest === null || lastId < oldest - 1 ? null : await mediaChangedAfter(db, lastId, CATCH_UP_LIMIT + 1);
      if (ids === null || ids.length > CATCH_UP_LIMIT) {
        // Too much was missed (or forgotten): the page reloads what it shows.
        stream.send('resync', {}, position);
        return;
      }
      const mine = (await mediaStates(db, ids)).filter((m) => m.userId === userId).map(toEvent);
      stream.send('media', mine, Math.max(position, lastId));
    } catch (err) {
      log.warn({ err }, 'starting a dashboard event stream failed');
      stream.end();
    }
  });
}

/** A Last-Event-ID we sent: a seq number; anything else is ignored (the page starts afresh). */
function parseEventId(header: string | string[] | undefined): number | null {
  return typeof header === 'string' && /^\d{1,15}$/.test(header) ? Number(header) : null;
}
