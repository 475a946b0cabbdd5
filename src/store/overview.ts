import { sql } from 'kysely';
import type { Db } from './db.ts';
import type { MediaRow } from './repo.ts';
import type { MediaStatus } from '../domain/status.ts';

export interface QueueOverview {
  counts: { status: string; n: number }[];
  /** Media a worker owns right now (downloading, processing, saving), oldest first. */
  active: Pick<MediaRow, 'id' | 'status' | 'sources' | 'progress' | 'time_left' | 'started_at' | 'created_at'>[];
  /** Finished media of the window, one per row: when, and how many seconds of source it was. */
  finished: { at: number; sourceSeconds: number }[];
}

/**
 * What the dashboard's queue overview shows, for one user only. `durations` remembers each
 * finished media's source seconds: a probe never changes once a media finished, and reading
 * every probe of the day once a second would cost far more than the page is worth. Give each
 * user a map of their own.
 */
export async function queueOverview(db: Db, userId: string, since: number, activeStatuses: readonly MediaStatus[], durations: Map<number, number>): Promise<QueueOverview> {
  const counts = await db
    .selectFrom('media')
    .select(['status', sql<number>`count(*)`.as('n')])
    .where('user_id', '=', userId)
    .where('deleted', '=', 0)
    .groupBy('status')
    .execute();
  const active = await db
    .selectFrom('media')
    .select(['id', 'status', 'sources', 'progress', 'time_left', 'started_at', 'created_at'])
    .where('user_id', '=', userId)
    .where('deleted', '=', 0)
    .where('status', 'in', activeStatuses)
    .orderBy('id')
    .limit(50)
    .execute();
  const done = await db
    .selectFrom('media')
    .select(['id', 'finished_at'])
    .where('user_id', '=', userId)
    .where('deleted', '=', 0)
    .where('status', '=', 'Finished')
    .where('finished_at', '>=', since)
    .execute();
  const unknown = done.map((d) => d.id).filter((id) => !durations.has(id));
  for (let i = 0; i < unknown.length; i += 500) {
    const rows = await db.selectFrom('media').select(['id', 'probe']).where('id', 'in', unknown.slice(i, i + 500)).execute();
    for (const r of rows) durations.set(r.id, sourceSeconds(r.probe));
  }
  // Only the window's media stay remembered (one restarted since is read again when it finishes).
  const current = new Set(done.map((d) => d.id));
  for (const id of durations.keys()) if (!current.has(id)) durations.delete(id);
  return {
    counts: counts.map((c) => ({ status: c.status, n: Number(c.n) })),
    active,
    finished: done.map((d) => ({ at: d.finished_at ?? since, sourceSeconds: durations.get(d.id) ?? 0 })),
  };
}

/** The summed duration of a media's probed sources; 0 when it was never probed. */
function sourceSeconds(probe: string | null): number {
  if (!probe) return 0;
  try {
    const list = JSON.parse(probe) as { durationSec?: unknown }[];
    return list.reduce((sum, p) => sum + (typeof p.durationSec === 'number' && Number.isFinite(p.durationSec) ? p.durationSec : 0), 0);
  } catch {
    return 0;
  }
}

/** The source seconds of each of the user's media among `ids` that has been probed (the media list's duration column). */
export async function sourceDurations(db: Db, userId: string, ids: readonly number[]): Promise<Map<number, number>> {
  const out = new Map<number, number>();
  if (ids.length === 0) return out;
  const rows = await db.selectFrom('media').select(['id', 'probe']).where('user_id', '=', userId).where('deleted', '=', 0).where('id', 'in', [...ids]).execute();
  for (const r of rows) if (r.probe) out.set(r.id, sourceSeconds(r.probe));
  return out;
}
