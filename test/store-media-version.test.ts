/**
 * A media's version in the change feed (store/changes.ts mediaVersion), which GetStatus answers
 * cached replies by. On SQLite one follower per process reads the feed past a cursor, once per
 * turn of the event loop: these tests check that it misses no committed change, whoever wrote it,
 * and is not led astray by a transaction of its own process that is still open or rolled back.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { openSqlite, type Db } from '../src/store/db.ts';
import { insertMedia } from '../src/store/repo.ts';
import { mediaVersion } from '../src/store/changes.ts';
import { tempDir } from './helpers.ts';

describe('media versions from the SQLite change feed', () => {
  let dir: string;
  let server: Db;
  let worker: Db;
  let id: number;
  const version = async () => (await mediaVersion(server, 'u1', id))?.version;
  const setProgress = (db: Db, progress: number) => db.updateTable('media').set({ progress }).where('id', '=', id).execute();

  before(async () => {
    dir = await tempDir();
    server = await openSqlite(dir);
    worker = await openSqlite(dir);
    id = await insertMedia(worker, { userId: 'u1', sources: ['https://example.com/a.mp4'], options: '{}', notifyUrl: null, benchmark: false, version: 't', status: 'New', tasks: [] });
  });
  after(async () => {
    await worker.destroy();
    await server.destroy();
  });

  it('changes with every change another connection commits, and only then', async () => {
    const first = await version();
    assert.equal(await version(), first);
    await setProgress(worker, 10);
    const second = await version();
    assert.notEqual(second, first);
    assert.equal(await version(), second);
  });

  it('gives every request waiting in one turn the version that includes a change committed before them', async () => {
    const before = await version();
    await setProgress(worker, 20);
    const all = await Promise.all(Array.from({ length: 32 }, () => version()));
    for (const v of all) assert.notEqual(v, before);
    assert.equal(new Set(all).size, 1);
  });

  it('ignores a change of a transaction still open in its own process, and misses nothing after it rolls back', async () => {
    const before = await version();
    await assert.rejects(
      server.transaction().execute(async (trx) => {
        await trx.updateTable('media').set({ progress: 30 }).where('id', '=', id).execute();
        assert.equal(await version(), before);
        throw new Error('roll back');
      }),
      /roll back/,
    );
    assert.equal(await version(), before);
    // The committed change takes the seq the rolled-back one had: a cursor past it would miss it.
    await setProgress(worker, 40);
    assert.notEqual(await version(), before);
  });
});
