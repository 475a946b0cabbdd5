import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import pino from 'pino';
import { openStore, type Db } from '../src/store/db.ts';
import * as repo from '../src/store/repo.ts';
import { Lifecycle, type OutboxWriter } from '../src/store/lifecycle.ts';
import { IllegalTransitionError, destinationMoveAllowed, mediaMoveAllowed, taskMoveAllowed } from '../src/domain/lifecycle.ts';
import { MediaStatus, TaskStatus, isFinalMedia } from '../src/domain/status.ts';
import { Outbox } from '../src/notify/outbox.ts';
import { TEST_STORE, createTestDatabase, startReceiver, tempDir, waitFor } from './helpers.ts';

// One store per run: ENCODERY_TEST_STORE=postgres runs the same tests on PostgreSQL.
const dir = await tempDir();
const database = TEST_STORE === 'postgres' ? await createTestDatabase() : null;
const db: Db = await openStore({ dataDir: dir, databaseUrl: database?.url ?? null });
const receiver = await startReceiver();
const outbox = new Outbox(db, pino({ level: 'silent' }), { allowPrivateNetwork: true, retryDelaysMs: [50, 50, 50], secretFor: () => null });
const lifecycle = new Lifecycle(db, { outbox });
after(async () => {
  await outbox.close();
  await db.destroy();
  await receiver.close();
  await database?.drop();
  await fs.rm(dir, { recursive: true, force: true });
});

async function newMedia(options: Record<string, string> = {}): Promise<{ mediaId: number; taskId: number; destinationId: number }> {
  const mediaId = await repo.insertMedia(db, {
    userId: '1', sources: ['http://example.com/a.mp4'], options: JSON.stringify(options), notifyUrl: options.notify ?? null,
    benchmark: false, version: 'test', status: 'New',
    tasks: [{ output: 'mp4', format: '{"output":"mp4"}', destinations: ['file:///tmp/a.mp4'] }],
  });
  const [task] = await repo.getTasks(db, mediaId);
  const destinationId = (await repo.getDestinations(db, [task!.id])).get(task!.id)![0]!.id;
  return { mediaId, taskId: task!.id, destinationId };
}

const logOf = async (taskId: number) => ((await repo.getTaskLogs(db, [taskId])).get(taskId) ?? []).map((l) => l.message);

test(`${TEST_STORE}: a move writes status, prev_status, the log line and its notification together`, async () => {
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

test(`${TEST_STORE}: an illegal move is refused with IllegalTransitionError and writes nothing`, async () => {
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

test(`${TEST_STORE}: a failure while writing the notifications rolls the status change back`, async () => {
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

test(`${TEST_STORE}: stop ends unfinished tasks in Error and the media in Stopped, with one notify`, async () => {
  const { mediaId, taskId } = await newMedia({ notify: `${receiver.url}/stop` });
  await lifecycle.media(mediaId, 'Processing');
  await lifecycle.task(taskId, 'Processing');
  assert.equal(await lifecycle.stop(mediaId), 'Stopped');
  assert.equal((await repo.getTask(db, taskId))!.status, 'Error');
  assert.equal((await repo.getTask(db, taskId))!.description, 'Stopped by StopMedia');
  assert.equal(await lifecycle.stop(mediaId), null, 'a stopped media is not stopped again');
  assert.deepEqual((await repo.notificationsOf(db, mediaId)).map((n) => n.kind), ['notify']);
  // Restart opens it all again in one move.
  await lifecycle.restart(mediaId, { redeliver: [], reencode: [taskId], log: 'RestartMedia: media status New' });
  assert.equal((await repo.getMedia(db, mediaId))!.status, 'New');
  assert.equal((await repo.getTask(db, taskId))!.status, 'New');
});

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
