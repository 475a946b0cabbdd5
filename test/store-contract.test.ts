/**
 * The contract every store keeps, run against each one: SQLite (embedded) and PostgreSQL (shared),
 * as Kysely runs one suite over its dialects. Each store gets a fresh database of its own.
 * ENCODERY_TEST_STORES=sqlite (or postgres) narrows the run. What only compares the two stores
 * with each other, or only concerns PostgreSQL, stays in store-postgres.test.ts.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import pino from 'pino';
import { openStore, type Db } from '../src/store/db.ts';
import * as repo from '../src/store/repo.ts';
import { liveLease, releaseLease, renewLease, takeLease, unheldMedia } from '../src/store/lease.ts';
import { Lifecycle, type OutboxWriter } from '../src/store/lifecycle.ts';
import { IllegalTransitionError, destinationMoveAllowed, mediaMoveAllowed, taskMoveAllowed } from '../src/domain/lifecycle.ts';
import { MediaStatus, TaskStatus, isFinalMedia } from '../src/domain/status.ts';
import { Outbox } from '../src/notify/outbox.ts';
import { postgresMissing } from './needs.ts';
import { createTestDatabase, startReceiver, tempDir, waitFor } from './helpers.ts';

interface StoreAdapter {
  name: 'sqlite' | 'postgres';
  skip(): Promise<string | false>;
  /** A fresh, migrated store, and how to remove it. */
  open(dir: string): Promise<{ db: Db; drop(): Promise<void> }>;
}

const STORES: StoreAdapter[] = [
  {
    name: 'sqlite',
    skip: async () => false,
    open: async (dir) => ({ db: await openStore({ dataDir: dir, databaseUrl: null }), drop: async () => undefined }),
  },
  {
    name: 'postgres',
    skip: postgresMissing,
    open: async (dir) => {
      const database = await createTestDatabase();
      return { db: await openStore({ dataDir: dir, databaseUrl: database.url }), drop: () => database.drop() };
    },
  },
];

const only = process.env.ENCODERY_TEST_STORES?.split(',').map((s) => s.trim().toLowerCase());

const newMediaRow = (userId: string, extra: Partial<repo.NewMedia> = {}): repo.NewMedia => ({
  userId,
  sources: ['http://example.com/a.mp4'],
  options: '{}',
  notifyUrl: null,
  benchmark: false,
  version: 'test',
  status: 'New',
  tasks: [{ output: 'mp4', format: '{"output":"mp4"}', destinations: ['file:///tmp/a.mp4'] }],
  ...extra,
});

for (const store of STORES) {
  if (only && !only.includes(store.name)) continue;
  describe(`store contract: ${store.name}`, async () => {
    const skip = await store.skip();
    let dir: string;
    let db: Db;
    let drop: () => Promise<void>;
    let receiver: Awaited<ReturnType<typeof startReceiver>>;
    let outbox: Outbox;
    let lifecycle: Lifecycle;

    before(async () => {
      if (skip) return;
      dir = await tempDir();
      ({ db, drop } = await store.open(dir));
      receiver = await startReceiver();
      outbox = new Outbox(db, pino({ level: 'silent' }), { allowPrivateNetwork: true, retryDelaysMs: [50, 50, 50], secretFor: () => null });
      lifecycle = new Lifecycle(db, { outbox });
    });
    after(async () => {
      if (skip) return;
      await outbox.close();
      await db.destroy();
      await receiver.close();
      await drop();
      await fs.rm(dir, { recursive: true, force: true });
    });

    async function newMedia(options: Record<string, string> = {}): Promise<{ mediaId: number; taskId: number; destinationId: number }> {
      const mediaId = await repo.insertMedia(db, newMediaRow('1', { options: JSON.stringify(options), notifyUrl: options.notify ?? null }));
      const [task] = await repo.getTasks(db, mediaId);
      const destinationId = (await repo.getDestinations(db, [task!.id])).get(task!.id)![0]!.id;
      return { mediaId, taskId: task!.id, destinationId };
    }
    const logOf = async (taskId: number) => ((await repo.getTaskLogs(db, [taskId])).get(taskId) ?? []).map((l) => l.message);

    test('a media is stored with its tasks and destinations, under increasing numeric ids, and only its owner finds it', { skip }, async () => {
      const a = await repo.insertMedia(db, newMediaRow('1', {
        sources: ['http://example.com/a.mp4', 'http://example.com/b.mp4'],
        tasks: [
          { output: 'mp4', format: '{"output":"mp4"}', destinations: ['file:///tmp/1.mp4', 's3://bucket/2.mp4'] },
          { output: 'mp3', format: '{"output":"mp3"}', destinations: [] },
        ],
      }));
      const b = await repo.insertMedia(db, newMediaRow('2'));
      assert.equal(typeof a, 'number');
      assert.ok(b > a, 'ids increase');
      const media = (await repo.getMedia(db, a))!;
      assert.deepEqual(JSON.parse(media.sources), ['http://example.com/a.mp4', 'http://example.com/b.mp4']);
      assert.equal(media.status, 'New');
      const tasks = await repo.getTasks(db, a);
      assert.deepEqual(tasks.map((t) => [t.output, t.status]), [['mp4', 'New'], ['mp3', 'New']]);
      const destinations = await repo.getDestinations(db, tasks.map((t) => t.id));
      assert.deepEqual(destinations.get(tasks[0]!.id)!.map((d) => d.url), ['file:///tmp/1.mp4', 's3://bucket/2.mp4']);
      assert.deepEqual(destinations.get(tasks[1]!.id) ?? [], []);
      assert.equal((await repo.findMedia(db, '1', a))?.id, a);
      assert.equal(await repo.findMedia(db, '2', a), undefined, "another user's media is not found");
    });

    test('times, sizes beyond 32 bits, floats and counts come back as exact JS numbers', { skip }, async () => {
      const now = 1_764_300_000_123;
      const id = await repo.insertMedia(db, newMediaRow('7'), now);
      await repo.updateMedia(db, id, { source_bytes: 6_000_000_000_123, progress: 100 / 3, started_at: now + 5 });
      const [task] = await repo.getTasks(db, id);
      await repo.updateTask(db, task!.id, { cpu_sec: 1.23, speed: 2.5e-7, converted_size: 4_294_967_297 });
      await repo.appendLog(db, [task!.id], 'hello', now + 9);
      const m = (await repo.getMedia(db, id))!;
      const t = (await repo.getTask(db, task!.id))!;
      const log = (await repo.getTaskLogs(db, [task!.id])).get(task!.id)!;
      assert.deepEqual(
        { created: m.created_at, started: m.started_at, bytes: m.source_bytes, progress: m.progress, finished: m.finished_at, cpu: t.cpu_sec, speed: t.speed, size: t.converted_size, logAt: log[0]!.at },
        { created: now, started: now + 5, bytes: 6_000_000_000_123, progress: 100 / 3, finished: null, cpu: 1.23, speed: 2.5e-7, size: 4_294_967_297, logAt: now + 9 },
      );
      assert.deepEqual(await repo.countMediaByStatus(db, '7'), [{ status: 'New', n: 1 }]);
    });

    test('task log lines come back in the order written', { skip }, async () => {
      const { taskId } = await newMedia();
      for (const [i, line] of ['one', 'two', 'three'].entries()) await repo.appendLog(db, [taskId], line, 1000 + i);
      assert.deepEqual(await logOf(taskId), ['one', 'two', 'three']);
    });

    test('presets upsert by name, and a deleted one is gone', { skip }, async () => {
      await repo.savePresets(db, 'p1', [{ name: 'web', output: 'mp4', format: '{"a":1}' }], 1000);
      await repo.savePresets(db, 'p1', [{ name: 'web', output: 'webm', format: '{"a":2}' }], 2000);
      const list = await repo.listPresets(db, 'p1');
      assert.deepEqual(list.map((p) => [p.name, p.output, p.format, p.created_at, p.updated_at]), [['web', 'webm', '{"a":2}', 1000, 2000]]);
      assert.deepEqual(await repo.listPresets(db, 'p2'), [], "another user's presets are apart");
      assert.equal(await repo.deletePreset(db, 'p1', 'web'), true);
      assert.equal(await repo.deletePreset(db, 'p1', 'web'), false);
    });

    test('lease: one worker holds a media at a time, a lapsed lease can be taken, the loser cannot renew', { skip }, async () => {
      const id = await repo.insertMedia(db, newMediaRow('lease', { status: 'Processing', tasks: [] }));
      const now = Date.now();
      assert.ok((await unheldMedia(db, ['Processing'], now)).some((m) => m.id === id), 'unheld at first');
      const both = await Promise.all([takeLease(db, id, 'a', now, now + 1000), takeLease(db, id, 'b', now, now + 1000)]);
      assert.equal(both.filter(Boolean).length, 1, 'exactly one of two workers takes it');
      const [winner, loser] = both[0] ? ['a', 'b'] : ['b', 'a'];
      assert.deepEqual(await liveLease(db, id, now + 500), { workerId: winner, until: now + 1000 });
      assert.ok(!(await unheldMedia(db, ['Processing'], now + 500)).some((m) => m.id === id), 'a live lease holds it');
      assert.equal(await renewLease(db, id, loser!, now + 2000), false, 'the loser cannot renew');
      assert.equal(await renewLease(db, id, winner!, now + 2000), true);
      assert.equal(await takeLease(db, id, loser!, now + 1500, now + 2500), false, 'a renewed lease is still live');
      assert.equal(await liveLease(db, id, now + 2001), null, 'lapsed');
      assert.equal(await takeLease(db, id, loser!, now + 2001, now + 3000), true, 'a lapsed lease is taken');
      assert.equal(await renewLease(db, id, winner!, now + 4000), false, 'the old holder learns it lost the media');
      await releaseLease(db, id, winner!);
      assert.equal((await liveLease(db, id, now + 2500))?.workerId, loser, 'only the holder releases');
      await releaseLease(db, id, loser!);
      assert.equal(await liveLease(db, id, now + 2500), null);
    });

    test('lifecycle: a move writes status, prev_status, the log line and its notification together', { skip }, async () => {
      const { mediaId, taskId } = await newMedia({ notify: `${receiver.url}/notify` });
      await lifecycle.media(mediaId, 'Downloading');
      await lifecycle.media(mediaId, 'Error', { patch: { description: 'the source is gone', finished_at: Date.now() } });
      const media = (await repo.getMedia(db, mediaId))!;
      assert.equal(media.status, 'Error');
      assert.equal(media.prev_status, 'Downloading');
      assert.deepEqual(await logOf(taskId), ['Media status: Downloading', 'Media status: Error']);
      const [row] = await repo.notificationsOf(db, mediaId);
      assert.equal(row?.kind, 'notify');
      await waitFor(async () => receiver.received.some((r) => r.url === '/notify' && r.body.toString().includes(`%3Cmediaid%3E${mediaId}%3C`)) || undefined, 20_000, 50);
    });

    test('lifecycle: an illegal move is refused with IllegalTransitionError and writes nothing', { skip }, async () => {
      const { mediaId, taskId, destinationId } = await newMedia({ notify: `${receiver.url}/refused` });
      await lifecycle.media(mediaId, 'Stopped');
      const before = await logOf(taskId);
      await assert.rejects(lifecycle.media(mediaId, 'Processing'), (err: unknown) => {
        assert.ok(err instanceof IllegalTransitionError);
        assert.equal(err.code, 'ENCODERY_ILLEGAL_TRANSITION');
        assert.deepEqual([err.entity, err.id, err.from, err.to], ['media', mediaId, 'Stopped', 'Processing']);
        return true;
      });
      await assert.rejects(lifecycle.media(mediaId, 'Stopped'), IllegalTransitionError, 'an ended media does not end twice');
      await assert.rejects(lifecycle.task(taskId, 'Finished'), IllegalTransitionError, 'a New task cannot be Finished');
      await lifecycle.destination(destinationId, 'Saved');
      await assert.rejects(lifecycle.destination(destinationId, 'Error (late)'), IllegalTransitionError, 'a Saved destination is not failed afterwards');
      assert.equal((await repo.getMedia(db, mediaId))!.status, 'Stopped');
      assert.equal((await repo.getTask(db, taskId))!.status, 'New');
      assert.equal((await repo.getDestination(db, destinationId))!.status, 'Saved');
      assert.deepEqual(await logOf(taskId), before);
      assert.equal((await repo.notificationsOf(db, mediaId)).length, 1, 'only the Stopped notify');
    });

    test('lifecycle: a failure while writing the notifications rolls the status change back', { skip }, async () => {
      const { mediaId, taskId } = await newMedia();
      const failing: OutboxWriter = {
        rowsFor: async () => {
          throw new Error('the outbox table is unavailable');
        },
        added: () => assert.fail('nothing was committed'),
      };
      await assert.rejects(new Lifecycle(db, { outbox: failing }).media(mediaId, 'Downloading'), /outbox table/);
      assert.equal((await repo.getMedia(db, mediaId))!.status, 'New');
      assert.deepEqual(await logOf(taskId), []);
    });

    test('lifecycle: stop ends unfinished tasks in Error and the media in Stopped, with one notify; restart opens it all again', { skip }, async () => {
      const { mediaId, taskId } = await newMedia({ notify: `${receiver.url}/stop` });
      await lifecycle.media(mediaId, 'Processing');
      await lifecycle.task(taskId, 'Processing');
      assert.equal(await lifecycle.stop(mediaId), 'Stopped');
      assert.equal((await repo.getTask(db, taskId))!.status, 'Error');
      assert.equal((await repo.getTask(db, taskId))!.description, 'Stopped by StopMedia');
      assert.equal(await lifecycle.stop(mediaId), null, 'a stopped media is not stopped again');
      assert.deepEqual((await repo.notificationsOf(db, mediaId)).map((n) => n.kind), ['notify']);
      await lifecycle.restart(mediaId, { redeliver: [], reencode: [taskId], log: 'RestartMedia: media status New' });
      assert.equal((await repo.getMedia(db, mediaId))!.status, 'New');
      assert.equal((await repo.getTask(db, taskId))!.status, 'New');
    });
  });
}

test('the transition table: every unfinished media can fail, stop or restart, and an ended one only restarts', () => {
  for (const from of Object.values(MediaStatus)) {
    const ended = isFinalMedia(from);
    assert.equal(mediaMoveAllowed(from, 'New'), true, `${from} → New (restart)`);
    assert.equal(mediaMoveAllowed(from, 'Error'), !ended, `${from} → Error`);
    assert.equal(mediaMoveAllowed(from, 'Stopped'), !ended, `${from} → Stopped`);
    assert.equal(mediaMoveAllowed(from, from), !ended, `${from} stays`);
  }
  for (const from of Object.values(TaskStatus)) assert.equal(taskMoveAllowed(from, 'New'), true, `task ${from} → New (restart)`);
  assert.equal(destinationMoveAllowed('Saved', 'Saved'), false);
  assert.equal(destinationMoveAllowed('Error (refused)', 'Saved'), true, 'a failed destination is tried again when the media resumes');
});
