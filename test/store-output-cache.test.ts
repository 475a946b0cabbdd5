import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { openStore, type Db } from '../src/store/db.ts';
import * as cache from '../src/store/output-cache.ts';
import { postgresMissing } from './needs.ts';
import { createTestDatabase, tempDir } from './helpers.ts';

/**
 * The output cache's index (store/output-cache.ts) on both stores: what makes eviction safe
 * beside readers and publication safe beside another node publishing the same key.
 */
const STORES = [
  { name: 'sqlite', skip: async (): Promise<string | false> => false, open: async (dir: string) => ({ db: await openStore({ dataDir: dir, databaseUrl: null }), drop: async () => undefined }) },
  {
    name: 'postgres',
    skip: postgresMissing,
    open: async (dir: string) => {
      const database = await createTestDatabase();
      return { db: await openStore({ dataDir: dir, databaseUrl: database.url }), drop: () => database.drop() };
    },
  },
];

const row = (key: string, bytes: number, usedAt: number) => ({ key, user_id: '1', folder: `${key.slice(0, 2)}/${key}-x`, bytes, entry: '{"output":"mp4","files":[],"quality":null}', created_at: usedAt, used_at: usedAt });

for (const store of STORES) {
  describe(`output cache index: ${store.name}`, async () => {
    const skip = await store.skip();
    let db: Db;
    let drop: () => Promise<void>;
    before(async () => {
      if (skip) return;
      ({ db, drop } = await store.open(await tempDir()));
    });
    after(async () => {
      if (skip) return;
      await db.destroy();
      await drop();
    });

    test('one key is published once: a second node publishing it learns it lost', { skip }, async () => {
      assert.equal(await cache.publishCacheEntry(db, row('aa01', 10, 1000)), true);
      assert.equal(await cache.publishCacheEntry(db, { ...row('aa01', 10, 1001), folder: 'aa/aa01-y' }), false);
      assert.equal((await cache.getCacheEntry(db, 'aa01'))?.folder, 'aa/aa01-x');
      assert.equal(await cache.cacheBytes(db), 10);
    });

    test('a claim moves the entry to the most recently used; a missing key is no claim', { skip }, async () => {
      assert.equal(await cache.claimCacheEntry(db, 'nope', 2000, 3000), null);
      const claimed = await cache.claimCacheEntry(db, 'aa01', 2000, 3000);
      assert.equal(claimed?.used_at, 2000);
      assert.equal(claimed?.reading_until, 3000);
      await cache.releaseCacheEntry(db, 'aa01', 3000);
      assert.equal((await cache.getCacheEntry(db, 'aa01'))?.reading_until, 0);
    });

    test('eviction takes the least recently used first and passes over entries being read', { skip }, async () => {
      await cache.publishCacheEntry(db, row('bb02', 10, 2100));
      await cache.publishCacheEntry(db, row('cc03', 10, 2200));
      // aa01 (used 2000) is the oldest, but a node is copying it out until 5000.
      await cache.claimCacheEntry(db, 'aa01', 2000, 5000);
      const gone = await cache.evictCacheEntries(db, 25, 4000);
      assert.deepEqual(gone.map((r) => r.key), ['bb02']);
      assert.deepEqual((await cache.listCacheEntries(db)).map((r) => r.key), ['aa01', 'cc03']);
      // Nothing unclaimed is left to make room: the bound is kept as far as readers allow.
      assert.deepEqual((await cache.evictCacheEntries(db, 5, 4000)).map((r) => r.key), ['cc03']);
      assert.equal(await cache.cacheBytes(db), 10);
      // Released (or its claim expired), it goes too.
      await cache.releaseCacheEntry(db, 'aa01', 5000);
      assert.deepEqual((await cache.evictCacheEntries(db, 5, 4000)).map((r) => r.key), ['aa01']);
      assert.equal(await cache.cacheBytes(db), 0);
    });

    test('a replacement does not drop an entry being read; a broken entry is dropped by its folder', { skip }, async () => {
      await cache.publishCacheEntry(db, row('dd04', 10, 6000));
      await cache.claimCacheEntry(db, 'dd04', 6100, 9000);
      assert.equal(await cache.dropCacheEntry(db, 'dd04', 'dd/dd04-x', 7000), null);
      assert.equal(await cache.dropCacheEntry(db, 'dd04', 'dd/other-folder'), null);
      assert.equal((await cache.dropCacheEntry(db, 'dd04', 'dd/dd04-x'))?.key, 'dd04');
      assert.equal(await cache.getCacheEntry(db, 'dd04'), null);
    });
  });
}
