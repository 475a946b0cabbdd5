/**
 * Reading the media change feed (the `media_change` table the triggers of migration 0009 fill):
 * which media changed after a cursor, and what they show now. The dashboard follows it to push
 * updates; one reader per process serves every client, whichever process wrote the change.
 */
import type { Statement } from 'better-sqlite3';
import { sql } from 'kysely';
import { sqliteConnection, type Db } from './db.ts';
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
 * One media's version in the feed, read with its owner check: `undefined` when the user has no
 * such media (or it is deleted). Every change a reply shows appends to the feed (migration 0009),
 * so a reply built at one version holds while the version is the same.
 */
export async function mediaVersion(db: Db, userId: string, mediaId: number): Promise<MediaVersion | undefined> {
  const connection = sqliteConnection(db);
  if (connection) {
    // The hot read of GetStatus: a prepared statement, without Kysely's query building. SQLite
    // has one writer at a time, so seqs commit in order and the newest seq is the version.
    // Seeing a write of a transaction still open here is harmless: a cached reply is only
    // answered when the version equals the one it was built at, and building reads after it.
    let statement = versionStatements.get(connection);
    if (!statement) versionStatements.set(connection, (statement = connection.prepare(SQLITE_VERSION).pluck()));
    const seq = statement.get(mediaId, userId) as number | null | undefined;
    return seq === undefined ? undefined : { version: seq === null ? null : String(seq) };
  }
  // PostgreSQL hands out seqs when a transaction writes, not when it commits: a change with a
  // lower seq may commit after a higher one, so the count of kept changes is part of the version.
  const { rows } = await sql<{ seq: string | number | null; n: string | number }>`
    select c.seq, c.n from media m, lateral (select max(seq) as seq, count(*) as n from media_change where media_id = m.id) c
    where m.id = ${mediaId} and m.user_id = ${userId} and m.deleted = 0`.execute(db);
  const row = rows[0];
  return row === undefined ? undefined : { version: row.seq === null ? null : `${row.seq}/${row.n}` };
}

const SQLITE_VERSION = 'select (select max(seq) from media_change where media_id = media.id) from media where id = ? and user_id = ? and deleted = 0';
const versionStatements = new WeakMap<object, Statement>();
