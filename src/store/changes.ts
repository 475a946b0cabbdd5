/**
 * Reading the media change feed (the `media_change` table the triggers of migration 0009 fill):
 * which media changed after a cursor, and what they show now. The dashboard follows it to push
 * updates; one reader per process serves every client, whichever process wrote the change.
 */
import SQLite, { type Database as SQLiteConnection, type Statement } from 'better-sqlite3';
import { sql } from 'kysely';
import { closeWithStore, sqliteConnection, type Db } from './db.ts';
import { TaskStatus } from '../domain/status.ts';

/** How long a change is kept in the feed (the pruning's cutoff): readers that need one older than that read the media itself. */
export const CHANGE_KEEP_MS = 15 * 60_000;

export interface ChangeRow {
  seq: number;
  mediaId: number;
}

/** What the live views show of a media, read when its change is delivered. */
export interface MediaState {
  id: number;
  userId: string;
  status: string;
  progress: number;
  timeLeft: number;
  deleted: boolean;
  /** Its outputs, and how many of them ended in Error: a partly failed media is shown as such. */
  tasks: number;
  failedTasks: number;
}

/** The newest change's seq; 0 when there is none. */
export async function latestChangeSeq(db: Db): Promise<number> {
  const row = await db.selectFrom('media_change').select((eb) => eb.fn.max('seq').as('seq')).executeTakeFirst();
  return Number(row?.seq ?? 0);
}

/** The oldest seq still kept; null when none is (everything older was pruned). */
export async function oldestChangeSeq(db: Db): Promise<number | null> {
  const row = await db.selectFrom('media_change').select((eb) => eb.fn.min('seq').as('seq')).executeTakeFirst();
  return row?.seq === null || row?.seq === undefined ? null : Number(row.seq);
}

/** Changes after `cursor`, oldest first, at most `limit`. */
export async function changesAfter(db: Db, cursor: number, limit: number): Promise<ChangeRow[]> {
  const rows = await db.selectFrom('media_change').select(['seq', 'media_id']).where('seq', '>', cursor).orderBy('seq').limit(limit).execute();
  return rows.map((r) => ({ seq: Number(r.seq), mediaId: Number(r.media_id) }));
}

/** Those of these seqs that exist now (numbers skipped earlier whose transaction committed since). */
export async function changesIn(db: Db, seqs: number[]): Promise<ChangeRow[]> {
  const found: ChangeRow[] = [];
  for (let i = 0; i < seqs.length; i += 500) {
    const rows = await db.selectFrom('media_change').select(['seq', 'media_id']).where('seq', 'in', seqs.slice(i, i + 500)).orderBy('seq').execute();
    for (const r of rows) found.push({ seq: Number(r.seq), mediaId: Number(r.media_id) });
  }
  return found;
}

/** The distinct media changed after `cursor` (at most `limit` of them), for one user's catch-up. */
export async function mediaChangedAfter(db: Db, cursor: number, limit: number): Promise<number[]> {
  const rows = await db.selectFrom('media_change').select('media_id').distinct().where('seq', '>', cursor).limit(limit).execute();
  return rows.map((r) => Number(r.media_id));
}

/** The current state of these media (any user's: the caller filters). */
export async function mediaStates(db: Db, ids: number[]): Promise<MediaState[]> {
  const states: MediaState[] = [];
  for (let i = 0; i < ids.length; i += 500) {
    const rows = await db
      .selectFrom('media')
      .select(['id', 'user_id', 'status', 'progress', 'time_left', 'deleted'])
      .select((eb) => [
        eb.selectFrom('task').select((t) => t.fn.countAll().as('n')).whereRef('task.media_id', '=', 'media.id').as('tasks'),
        eb.selectFrom('task').select((t) => t.fn.countAll().as('n')).whereRef('task.media_id', '=', 'media.id').where('task.status', '=', TaskStatus.Error).as('failed_tasks'),
      ])
      .where('id', 'in', ids.slice(i, i + 500))
      .execute();
    for (const r of rows) {
      states.push({
        id: r.id, userId: r.user_id, status: r.status, progress: Number(r.progress), timeLeft: Number(r.time_left), deleted: r.deleted !== 0,
        tasks: Number(r.tasks ?? 0), failedTasks: Number(r.failed_tasks ?? 0),
      });
    }
  }
  return states;
}

/** Forgets changes older than `before` (epoch ms, the database's clock); the number removed. */
export async function pruneChanges(db: Db, before: number): Promise<number> {
  const r = await db.deleteFrom('media_change').where('at', '<', before).executeTakeFirst();
  return Number(r.numDeletedRows ?? 0);
}

/** Where a media stands in the change feed; `version` null when every change it had was pruned. */
export interface MediaVersion {
  version: string | null;
}

/**
 * One media's version in the feed: `undefined` when the store says at once that the user has no
 * such media (or it is deleted). Every change a reply shows appends to the feed (migration 0009),
 * so a reply built at one version holds while the version is the same. On SQLite the owner is not
 * read here: whoever answers from a version also keeps whose media it is (api/actions/status-cache.ts).
 */
export async function mediaVersion(db: Db, userId: string, mediaId: number): Promise<MediaVersion | undefined> {
  const connection = sqliteConnection(db);
  if (connection) {
    let follower = followers.get(connection);
    if (!follower) followers.set(connection, (follower = new SqliteFeedFollower(connection)));
    return follower.versionOf(mediaId);
  }
  // PostgreSQL hands out seqs when a transaction writes, not when it commits: a change with a
  // lower seq may commit after a higher one, so the count of kept changes is part of the version.
  const { rows } = await sql<{ seq: string | number | null; n: string | number }>`
    select c.seq, c.n from media m, lateral (select max(seq) as seq, count(*) as n from media_change where media_id = m.id) c
    where m.id = ${mediaId} and m.user_id = ${userId} and m.deleted = 0`.execute(db);
  const row = rows[0];
  return row === undefined ? undefined : { version: row.seq === null ? null : `${row.seq}/${row.n}` };
}

/** Media whose newest change a follower remembers before it starts over (a new generation). */
const FOLLOWED_MEDIA = 200_000;

/**
 * The change feed of one SQLite store, followed by this process: the newest seq of each media
 * changed since the follower started. SQLite has one writer at a time and `seq` is AUTOINCREMENT,
 * so seqs commit in order and are never reused: reading past a cursor misses nothing.
 *
 * A version is read after it was asked for, never before: every request waiting in one turn of
 * the event loop shares one read of the feed, made in that turn's check phase (setImmediate),
 * after their bodies were received. So a change that committed before a client sent its request,
 * in this process or any other, is in the version that request is answered at: replies are never
 * stale. One indexed range read per turn replaces one read per request.
 *
 * A follower that went unasked for longer than the feed is surely kept (pruning might have taken
 * changes it never read), or that remembers too many media, starts a new generation: versions of
 * the old one match nothing, so every kept reply is built again once.
 */
class SqliteFeedFollower {
  readonly #newer: Statement;
  #cursor: number;
  #generation = 0;
  readonly #seqOf = new Map<number, number>();
  #readAt = Date.now();
  #next: Promise<void> | null = null;

  constructor(store: SQLiteConnection) {
    // A connection of its own, which sees committed changes only: the store's own one also sees
    // the writes of a transaction still open on it, whose seqs a rollback hands out again.
    const reader = new SQLite(store.name, { readonly: true, fileMustExist: true });
    reader.pragma('busy_timeout = 5000');
    this.#newer = reader.prepare('select seq, media_id from media_change where seq > ? order by seq').raw();
    this.#cursor = Number(reader.prepare('select max(seq) from media_change').pluck().get() ?? 0);
    closeWithStore(store, reader);
  }

  async versionOf(mediaId: number): Promise<MediaVersion> {
    await (this.#next ??= new Promise<void>((resolve, reject) =>
      setImmediate(() => {
        this.#next = null;
        try {
          this.#read();
          resolve();
        } catch (err) {
          reject(err as Error);
        }
      }),
    ));
    return { version: `${this.#generation}:${this.#seqOf.get(mediaId) ?? 0}` };
  }

  #read(): void {
    const now = Date.now();
    if (now - this.#readAt > CHANGE_KEEP_MS / 3 || this.#seqOf.size > FOLLOWED_MEDIA) this.#startOver();
    this.#readAt = now;
    for (const [seq, mediaId] of this.#newer.iterate(this.#cursor) as IterableIterator<[number, number]>) {
      this.#seqOf.set(mediaId, seq);
      this.#cursor = seq;
    }
  }

  #startOver(): void {
    this.#generation++;
    this.#seqOf.clear();
  }
}

const followers = new WeakMap<object, SqliteFeedFollower>();
