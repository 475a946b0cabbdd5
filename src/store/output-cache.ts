import type { Selectable } from 'kysely';
import type { Db } from './db.ts';
import type { OutputCacheTable } from './schema.ts';

/**
 * The output cache's index (pipeline/cache/): one row per published entry. On PostgreSQL every
 * node of a cluster shares it; the statements below are each one atomic step, so two nodes
 * publishing, reading and evicting at once never serve an entry whose files are gone.
 */
export type CacheRow = Selectable<OutputCacheTable>;

/**
 * The entry under `key`, claimed for reading until `until`: eviction leaves it alone while its
 * files are being copied out. Its use time moves to `now` (the LRU order). Null: no such entry.
 */
export async function claimCacheEntry(db: Db, key: string, now: number, until: number): Promise<CacheRow | null> {
  const claimed = await db
    .updateTable('output_cache')
    .set({ used_at: now, reading_until: until })
    .where('key', '=', key)
    .returningAll()
    .executeTakeFirst();
  return claimed ?? null;
}

/** The copy is done: the entry may be evicted again (unless another reader still holds it). */
export async function releaseCacheEntry(db: Db, key: string, until: number): Promise<void> {
  await db.updateTable('output_cache').set({ reading_until: 0 }).where('key', '=', key).where('reading_until', '<=', until).execute();
}

/** Publishes an entry whose files are all written. False when another node published the same key first. */
export async function publishCacheEntry(db: Db, row: Omit<CacheRow, 'reading_until'>): Promise<boolean> {
  const result = await db.insertInto('output_cache').values(row).onConflict((oc) => oc.column('key').doNothing()).executeTakeFirst();
  return Number(result.numInsertedOrUpdatedRows ?? 0) > 0;
}

/**
 * Unpublishes the entry stored in `folder` under `key`: a broken one, or one a fresh encode
 * replaces (`unreadSince`: only if no node holds a read claim on it then). Its row, to remove its
 * files; null when none went.
 */
export async function dropCacheEntry(db: Db, key: string, folder: string, unreadSince?: number): Promise<CacheRow | null> {
  let q = db.deleteFrom('output_cache').where('key', '=', key).where('folder', '=', folder);
  if (unreadSince !== undefined) q = q.where('reading_until', '<', unreadSince);
  return (await q.returningAll().executeTakeFirst()) ?? null;
}

export async function getCacheEntry(db: Db, key: string): Promise<CacheRow | null> {
  return (await db.selectFrom('output_cache').selectAll().where('key', '=', key).executeTakeFirst()) ?? null;
}

export async function cacheBytes(db: Db): Promise<number> {
  const row = await db.selectFrom('output_cache').select((eb) => eb.fn.sum<number | string | null>('bytes').as('total')).executeTakeFirst();
  return Number(row?.total ?? 0);
}

/**
 * Unpublishes least recently used entries until the cache holds at most `maxBytes`; entries
 * being read are skipped. Returns the rows removed, whose files the caller deletes: once the row
 * is gone no node can claim the entry, so deleting its files cannot pull them from under a reader.
 */
export async function evictCacheEntries(db: Db, maxBytes: number, now: number): Promise<CacheRow[]> {
  const evicted: CacheRow[] = [];
  let total = await cacheBytes(db);
  while (total > maxBytes) {
    const oldest = await db
      .selectFrom('output_cache')
      .select(['key', 'used_at'])
      .where('reading_until', '<', now)
      .orderBy('used_at')
      .orderBy('created_at')
      .limit(1)
      .executeTakeFirst();
    if (!oldest) break;
    // Only if nobody claimed it since: a reader's claim moves used_at.
    const gone = await db
      .deleteFrom('output_cache')
      .where('key', '=', oldest.key)
      .where('used_at', '=', oldest.used_at)
      .where('reading_until', '<', now)
      .returningAll()
      .executeTakeFirst();
    if (gone) evicted.push(gone);
    total = await cacheBytes(db);
  }
  return evicted;
}

/** Every entry, least recently used first (for the tests and an operator's look). */
export function listCacheEntries(db: Db): Promise<CacheRow[]> {
  return db.selectFrom('output_cache').selectAll().orderBy('used_at').orderBy('created_at').execute();
}
