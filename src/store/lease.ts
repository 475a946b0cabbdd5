import type { MediaStatus } from '../domain/status.ts';
import type { Db } from './db.ts';

/**
 * A cluster worker's hold on a media, kept in the store beside it: who runs it (`worker_id`) and
 * until when the hold lasts unless renewed (`lease_until`, epoch ms of the workers' clocks).
 * Each function is one statement, so two workers racing for one media cannot both win.
 */

export interface Lease {
  workerId: string;
  until: number;
}

/** Takes the media for `workerId` unless another worker's lease is still live; true when taken. */
export async function takeLease(db: Db, mediaId: number, workerId: string, now: number, until: number): Promise<boolean> {
  const r = await db
    .updateTable('media')
    .set({ worker_id: workerId, lease_until: until })
    .where('id', '=', mediaId)
    .where((eb) => eb.or([eb('worker_id', 'is', null), eb('worker_id', '=', workerId), eb('lease_until', 'is', null), eb('lease_until', '<', now)]))
    .executeTakeFirst();
  return Number(r.numUpdatedRows) === 1;
}

/** Extends a lease this worker still holds; false when it is no longer this worker's. */
export async function renewLease(db: Db, mediaId: number, workerId: string, until: number): Promise<boolean> {
  const r = await db.updateTable('media').set({ lease_until: until }).where('id', '=', mediaId).where('worker_id', '=', workerId).executeTakeFirst();
  return Number(r.numUpdatedRows) === 1;
}

/** Lets go of the media, if this worker still holds it. */
export async function releaseLease(db: Db, mediaId: number, workerId: string): Promise<void> {
  await db.updateTable('media').set({ worker_id: null, lease_until: null }).where('id', '=', mediaId).where('worker_id', '=', workerId).execute();
}

/** The lease on a media if one is live at `now`; null when no worker holds it. */
export async function liveLease(db: Db, mediaId: number, now: number): Promise<Lease | null> {
  const row = await db.selectFrom('media').select(['worker_id', 'lease_until']).where('id', '=', mediaId).executeTakeFirst();
  if (!row?.worker_id || row.lease_until === null || row.lease_until < now) return null;
  return { workerId: row.worker_id, until: Number(row.lease_until) };
}

/**
 * Media the store says should be waiting or worked on (these statuses, not deleted) that no
 * worker holds at `now`: what the reconciliation sweep checks against the queue.
 */
export async function unheldMedia(db: Db, statuses: readonly MediaStatus[], now: number): Promise<{ id: number; status: MediaStatus }[]> {
  return db
    .selectFrom('media')
    .select(['id', 'status'])
    .where('status', 'in', statuses)
    .where('deleted', '=', 0)
    .where((eb) => eb.or([eb('worker_id', 'is', null), eb('lease_until', 'is', null), eb('lease_until', '<', now)]))
    .orderBy('id')
    .execute();
}
