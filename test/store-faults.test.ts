import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import SQLite from 'better-sqlite3';
import { sql } from 'kysely';
import { createStore, storeAnswers } from '../src/store/db.ts';
import { describeStoreFault, isStoreUnavailable, retryWhileUnavailable } from '../src/store/faults.ts';
import { InProcessQueue } from '../src/queue/in-process.ts';
import { RetryLater } from '../src/queue/types.ts';
import { TransferError } from '../src/transfer/types.ts';
import { createTestDatabase, tempDir, waitFor, TEST_PG_URL } from './helpers.ts';
import { postgresMissing } from './needs.ts';
import { startTcpProxy } from './tcp-proxy.ts';

/**
 * Issue 19 §1: which store errors mean "try again later" (the store is unreachable or busy)
 * rather than "this is wrong", told apart on errors the real drivers raise.
 */

const PG_URL = TEST_PG_URL;


const caught = async (p: Promise<unknown>): Promise<unknown> => p.then(() => assert.fail('expected an error'), (err: unknown) => err);

test('isStoreUnavailable – PostgreSQL refused, reset mid-query and back: unavailable; a bad query or a broken constraint: not', { skip: await postgresMissing() }, async () => {
  const database = await createTestDatabase();
  const proxy = await startTcpProxy(Number(new URL(PG_URL).port || 5432), new URL(PG_URL).hostname);
  const url = new URL(database.url);
  url.port = String(proxy.port);
  const store = createStore({ dataDir: '', databaseUrl: url.toString() });
  try {
    await proxy.down();
    const refused = await caught(sql`select 1`.execute(store.db));
    assert.ok(isStoreUnavailable(refused), String(refused));
    assert.match(describeStoreFault(refused)!, /^the database could not be reached \(.*ECONNREFUSED/);
    assert.equal(await storeAnswers(store.db), false);

    // Start-up waits, one attempt after another, until the store answers.
    const attempts: number[] = [];
    const prepared = store.prepare({ onRetry: (attempt) => attempts.push(attempt) });
    await waitFor(async () => attempts.length >= 2 || undefined, 10_000, 20);
    await proxy.up();
    await prepared;
    assert.equal(await storeAnswers(store.db), true);

    // A connection cut while its query runs: the query fails as unavailable, the process lives on.
    const slow = sql`select pg_sleep(5)`.execute(store.db);
    await waitFor(async () => proxy.live > 0 || undefined, 5000, 10);
    await new Promise((r) => setTimeout(r, 200));
    await proxy.holdThenReset(0);
    const reset = await caught(slow);
    assert.ok(isStoreUnavailable(reset), String(reset));
    assert.equal(await storeAnswers(store.db), true, 'the pool opens a new connection');

    const syntax = await caught(sql`selec 1`.execute(store.db));
    assert.equal(isStoreUnavailable(syntax), false, String(syntax));
    await sql`create table t (id integer primary key)`.execute(store.db);
    await sql`insert into t values (1)`.execute(store.db);
    const duplicate = await caught(sql`insert into t values (1)`.execute(store.db));
    assert.equal(isStoreUnavailable(duplicate), false, String(duplicate));
    assert.equal(isStoreUnavailable(new Error('wrapped', { cause: reset })), true, 'found through a cause');
  } finally {
    await store.db.destroy();
    await proxy.close();
    await database.drop();
  }
});

test('isStoreUnavailable – SQLite busy beyond its timeout: unavailable', async () => {
  const dir = await tempDir();
  try {
    const file = path.join(dir, 'busy.sqlite');
    const holder = new SQLite(file);
    holder.exec('create table t (x integer)');
    holder.exec('begin exclusive');
    const other = new SQLite(file, { timeout: 10 });
    let busy: unknown;
    try {
      other.exec('insert into t values (1)');
    } catch (err) {
      busy = err;
    }
    assert.ok(isStoreUnavailable(busy), String(busy));
    holder.exec('rollback');
    let missing: unknown;
    try {
      other.exec('insert into nowhere values (1)');
    } catch (err) {
      missing = err;
    }
    assert.equal(isStoreUnavailable(missing), false, String(missing));
    other.close();
    holder.close();
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
});

test('isStoreUnavailable – a transfer that failed on a reset socket is the media\'s fault, not the store\'s', () => {
  const reset = Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' });
  assert.equal(isStoreUnavailable(reset), true);
  // An origin resetting mid-body reaches the pipeline as a TransferError wrapping the socket's ECONNRESET.
  const download = new TransferError('Download error: connection reset by the origin', { cause: reset });
  assert.equal(isStoreUnavailable(download), false);
  assert.equal(describeStoreFault(download), null);
});

test('retryWhileUnavailable – gives up at once on an error that is not about reaching the store', async () => {
  let calls = 0;
  const err = await caught(retryWhileUnavailable(async () => {
    calls++;
    throw new Error('relation "media" does not exist');
  }, { onRetry: () => assert.fail('no retry') }));
  assert.equal(calls, 1);
  assert.match(String(err), /does not exist/);
});

test('InProcessQueue – a run refused with RetryLater runs again later with a note saying why, holds the queue meanwhile, and is not reported as a crash', async () => {
  const runs: { mediaId: number; at: number; note: string | undefined }[] = [];
  const crashes: unknown[] = [];
  const retries: { failures: number; delayMs: number; reason: string }[] = [];
  const queue = new InProcessQueue(
    async (mediaId, _signal, note) => {
      runs.push({ mediaId, at: Date.now(), note });
      if (mediaId === 7 && runs.filter((r) => r.mediaId === 7).length <= 2) throw new RetryLater('the database could not be reached (connect ECONNREFUSED 127.0.0.1:5432)');
    },
    1,
    (_id, err) => crashes.push(err),
    async () => 0,
    (_id, failures, delayMs, reason) => retries.push({ failures, delayMs, reason }),
  );
  try {
    await queue.enqueue(7);
    await waitFor(async () => retries.length === 1 || undefined, 5000, 5);
    const refusedAt = Date.now();
    await queue.enqueue(8);
    await waitFor(async () => runs.length === 4 || undefined, 15_000, 20);
    // Let a wrongly scheduled extra run show itself.
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual(runs.map((r) => r.mediaId).sort(), [7, 7, 7, 8]);
    const eight = runs.find((r) => r.mediaId === 8)!;
    assert.ok(eight.at - refusedAt >= 700, `the next media waited for the hold (${eight.at - refusedAt} ms), not run straight into the same fault`);
    const sevens = runs.filter((r) => r.mediaId === 7);
    assert.equal(sevens[0]!.note, undefined);
    assert.match(sevens[2]!.note!, /^Resumed: an earlier run stopped because the database could not be reached \(connect ECONNREFUSED 127\.0\.0\.1:5432\) \(2 runs in a row\)/);
    assert.deepEqual(retries.map((r) => r.failures), [1, 2]);
    assert.ok(retries[1]!.delayMs > retries[0]!.delayMs * 1.2, `the delay grows (${retries.map((r) => r.delayMs).join(', ')} ms)`);
    assert.deepEqual(crashes, []);
  } finally {
    await queue.close();
  }
});
