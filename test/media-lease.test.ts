import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import { openStore } from '../src/store/db.ts';
import { insertMedia } from '../src/store/repo.ts';
import { liveLease, releaseLease, renewLease, takeLease, unheldMedia } from '../src/store/lease.ts';
import { createTestDatabase, tempDir } from './helpers.ts';

test('store lease – on SQLite and PostgreSQL: one worker holds a media at a time, a lapsed lease can be taken, the loser cannot renew', async () => {
  const database = await createTestDatabase();
  const dir = await tempDir();
  try {
    for (const databaseUrl of [null, database.url]) {
      const db = await openStore({ dataDir: dir, databaseUrl });
      const where = databaseUrl ? 'PostgreSQL' : 'SQLite';
      try {
        const id = await insertMedia(db, { userId: '1', sources: ['file:///x.mp4'], options: '{}', notifyUrl: null, benchmark: false, version: 't', status: 'Processing', tasks: [] });
        const now = Date.now();
        assert.deepEqual(await unheldMedia(db, ['Processing'], now), [{ id, status: 'Processing' }], `${where}: unheld at first`);
        const both = await Promise.all([takeLease(db, id, 'a', now, now + 1000), takeLease(db, id, 'b', now, now + 1000)]);
        assert.equal(both.filter(Boolean).length, 1, `${where}: exactly one of two workers takes it`);
        const [winner, loser] = both[0] ? ['a', 'b'] : ['b', 'a'];
        assert.deepEqual(await liveLease(db, id, now + 500), { workerId: winner, until: now + 1000 });
        assert.deepEqual(await unheldMedia(db, ['Processing'], now + 500), [], `${where}: a live lease holds it`);
        assert.equal(await renewLease(db, id, loser, now + 2000), false, `${where}: the loser cannot renew`);
        assert.equal(await renewLease(db, id, winner, now + 2000), true);
        assert.equal(await takeLease(db, id, loser, now + 1500, now + 2500), false, `${where}: a renewed lease is still live`);
        assert.equal(await liveLease(db, id, now + 2001), null, `${where}: lapsed`);
        assert.equal(await takeLease(db, id, loser, now + 2001, now + 3000), true, `${where}: a lapsed lease is taken`);
        assert.equal(await renewLease(db, id, winner, now + 4000), false, `${where}: the old holder learns it lost the media`);
        await releaseLease(db, id, winner);
        assert.equal((await liveLease(db, id, now + 2500))?.workerId, loser, `${where}: only the holder releases`);
        await releaseLease(db, id, loser);
        assert.equal(await liveLease(db, id, now + 2500), null);
      } finally {
        await db.destroy();
      }
    }
  } finally {
    await database.drop();
    await fs.rm(dir, { recursive: true, force: true });
  }
});
