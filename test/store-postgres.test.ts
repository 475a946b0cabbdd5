import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import { sql } from 'kysely';
import { StoreError, openStore, openSqlite } from '../src/store/db.ts';
import { migrationProvider } from '../src/store/migrations.ts';
import * as repo from '../src/store/repo.ts';
import type { MediaStatus } from '../src/domain/status.ts';
import { createTestDatabase, tempDir, type TestDatabase } from './helpers.ts';

// The store's dialect differences, checked against the real PostgreSQL (the local `test`
// database, or ENCODERY_TEST_PG_URL) and, where results must agree, against SQLite too. What
// every store must do alike is in store-contract.test.ts.

const schemas: TestDatabase[] = [];
const dirs: string[] = [];
async function freshPostgres(): Promise<TestDatabase> {
  const d = await createTestDatabase();
  schemas.push(d);
  return d;
}
after(async () => {
  for (const d of schemas) await d.drop();
  for (const dir of dirs) await fs.rm(dir, { recursive: true, force: true });
});

const media = (userId: string, status: MediaStatus = 'New'): repo.NewMedia => ({
  userId,
  sources: ['http://example.com/a.mp4'],
  options: '{}',
  notifyUrl: null,
  benchmark: false,
  version: '1',
  status,
  tasks: [{ output: 'mp4', format: '{"output":"mp4"}', destinations: ['s3://bucket/a.mp4'] }],
});

test('two API nodes starting at once on an empty PostgreSQL both come up, and the migrations run once', async () => {
  const { url } = await freshPostgres();
  const nodes = await Promise.all([1, 2, 3].map(() => openStore({ dataDir: '/nonexistent', databaseUrl: url })));
  try {
    const applied = await sql<{ name: string }>`select name from kysely_migration order by name`.execute(nodes[0]!);
    // Every migration in the repo, each once (a name listed here would clash with each new one).
    const all = Object.keys(await migrationProvider.getMigrations()).sort();
    assert.deepEqual(applied.rows.map((r) => r.name), all);
    // A later start finds everything applied and changes nothing.
    const again = await openStore({ dataDir: '/nonexistent', databaseUrl: url });
    await again.destroy();
  } finally {
    await Promise.all(nodes.map((db) => db.destroy()));
  }
});

test('media ids from two API nodes on one PostgreSQL are numbers, unique and increasing', async () => {
  const { url } = await freshPostgres();
  const [a, b] = await Promise.all([1, 2].map(() => openStore({ dataDir: '/nonexistent', databaseUrl: url })));
  try {
    const ids: number[] = [];
    // Interleaved and concurrent, as two nodes answering AddMedia would be.
    for (let round = 0; round < 5; round++) {
      ids.push(...(await Promise.all([repo.insertMedia(a!, media('1')), repo.insertMedia(b!, media('1'))])));
    }
    for (const id of ids) assert.equal(typeof id, 'number');
    assert.equal(new Set(ids).size, ids.length, 'no id is given twice');
    const rows = await a!.selectFrom('media').select('id').orderBy('id').execute();
    assert.deepEqual(rows.map((r) => r.id), [...ids].sort((x, y) => x - y));
    const next = await repo.insertMedia(b!, media('1'));
    assert.ok(next > Math.max(...ids), 'a newer media has a larger id');
    const tasks = await repo.getTasks(a!, next);
    assert.equal(typeof tasks[0]!.id, 'number');
    assert.equal(tasks[0]!.media_id, next);
  } finally {
    await a!.destroy();
    await b!.destroy();
  }
});

test('GetMediaList filters, sorting and paging give the same media on PostgreSQL and SQLite', async () => {
  const { url } = await freshPostgres();
  const dir = await tempDir();
  dirs.push(dir);
  const sqlite = await openSqlite(dir);
  const postgres = await openStore({ dataDir: dir, databaseUrl: url });
  try {
    // Mixed-case sources (byte order puts 'Z' before 'a'), equal sort keys, NULL start and finish times.
    const sources = ['http://h/b.mp4', 'http://h/Z.mp4', 'http://h/a.mp4', 'http://h/b.mp4', 'HTTP://h/c.mp4', 'http://h/_x.mp4', 'http://h/é.mp4'];
    const statuses: MediaStatus[] = ['Finished', 'Error', 'New', 'Finished', 'Processing', 'Stopped', 'New'];
    for (const db of [sqlite, postgres]) {
      for (const [i, source] of sources.entries()) {
        const m = { ...media(i % 3 === 2 ? '2' : '1', statuses[i]), sources: [source] };
        m.tasks = [{ output: i % 2 ? 'webm' : 'mp4', format: '{}', destinations: [] }];
        const id = await repo.insertMedia(db, m, 1_000_000 + (i % 4) * 1000);
        if (i % 3 !== 1) await repo.updateMedia(db, id, { started_at: 2_000_000 - i * 10, finished_at: i % 2 ? 3_000_000 : null });
      }
    }
    const sorts: repo.MediaListFilter['sort'][] = ['id', 'sources', 'status', 'created_at', 'started_at', 'finished_at', 'user_id'];
    const filters: Omit<repo.MediaListFilter, 'sort' | 'order'>[] = [
      { userId: '1' },
      { userId: '1', limit: 2, offset: 1 },
      { userId: '1', limit: 3, offset: 3 },
      { userId: '1', status: 'Finished' },
      { userId: '1', output: 'webm' },
      { userId: '1', dateFrom: 1_001_000, dateTo: 1_002_000 },
      { userId: '1', taskId: 4 },
      { userId: '2' },
    ];
    let compared = 0;
    for (const sort of sorts) {
      for (const order of ['asc', 'desc'] as const) {
        for (const f of filters) {
          const query = { ...f, sort, order };
          const [a, b] = await Promise.all([repo.listMedia(sqlite, query), repo.listMedia(postgres, query)]);
          const view = (r: { rows: repo.MediaRow[]; total: number }) => ({ ids: r.rows.map((m) => m.id), total: r.total });
          assert.deepEqual(view(b), view(a), JSON.stringify(query));
          compared += a.rows.length;
        }
      }
    }
    assert.ok(compared > 100, 'the comparisons looked at real rows');
    // One spelled-out case, so that "the same" cannot mean "both wrong": byte order and NULLs first.
    const bySource = await repo.listMedia(postgres, { userId: '1', sort: 'sources', order: 'asc' });
    assert.deepEqual(bySource.rows.map((m) => JSON.parse(m.sources)[0]), [
      'HTTP://h/c.mp4',
      'http://h/Z.mp4',
      'http://h/b.mp4',
      'http://h/b.mp4',
      'http://h/é.mp4',
    ]);
    // This machine's database may already sort bytewise (C.UTF-8); a server in another locale
    // would not, so the text columns carry their own collation.
    const collations = await sql<{ collation_name: string | null }>`
      select collation_name from information_schema.columns
      where table_schema = current_schema() and table_name = 'media' and column_name in ('sources', 'status', 'user_id')`.execute(postgres);
    assert.deepEqual(collations.rows.map((r) => r.collation_name), ['C', 'C', 'C']);
    const byStart = await repo.listMedia(postgres, { userId: '1', sort: 'started_at', order: 'asc' });
    assert.equal(byStart.rows[0]!.started_at, null, 'a media never started sorts first going up');
    const byStartDesc = await repo.listMedia(postgres, { userId: '1', sort: 'started_at', order: 'desc' });
    assert.equal(byStartDesc.rows.at(-1)!.started_at, null, 'and last going down');
  } finally {
    await sqlite.destroy();
    await postgres.destroy();
  }
});

test('a PostgreSQL store that cannot be reached fails the start with where and why, never the password', async () => {
  const base = new URL(process.env.ENCODERY_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test');
  const wrong = new URL(base);
  wrong.username = 'encodery_no_such_role';
  wrong.password = 'hunter2-secret';
  await assert.rejects(openStore({ dataDir: '/nonexistent', databaseUrl: wrong.toString() }), (err: Error) => {
    assert.ok(err instanceof StoreError, String(err));
    assert.match(err.message, new RegExp(`at ${base.host}${base.pathname}`));
    assert.match(err.message, /encodery_no_such_role/);
    assert.doesNotMatch(err.message, /hunter2/);
    return true;
  });
});
