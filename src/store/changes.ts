/**
 * Reading the media change feed (the `media_change` table the triggers of migration 0009 fill):
 * which media changed after a cursor, and what they show now. The dashboard follows it to push
 * updates; one reader per process serves every client, whichever process wrote the change.
 */
import type { Db } from './db.ts';
import { TaskStatus } from '../domain/status.ts';

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
