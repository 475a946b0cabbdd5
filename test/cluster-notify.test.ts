import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { openStore } from '../src/store/db.ts';
import { claimNotification, claimableNotifications, insertNotification, notificationAttemptsOf, notificationsOf, recordNotificationAttempt } from '../src/store/repo.ts';
import { spawnEncodery, stopProcesses, type Proc } from './cluster-processes.ts';
import { USER, createTestDatabase, startTestServer, tempDir, waitFor, type TestServer } from './helpers.ts';

/**
 * Several nodes deliver notifications from one PostgreSQL outbox: each notification is claimed
 * by exactly one node, and the claim of a node that died mid-send expires so another sends it.
 * (Always on PostgreSQL, whatever ENCODERY_TEST_STORE says: sharing a store is what it is about;
 * named cluster-* so that npm test does not run it a second time in its PostgreSQL set, test/run.ts.)
 */

/** Counts deliveries per path; `hold(n)` decides whether the n-th request is left unanswered. */
async function countingReceiver(opts: { delayMs?: number; hold?: (n: number) => boolean } = {}) {
  const counts = new Map<string, number>();
  const sockets = new Set<Socket>();
  let n = 0;
  const server = http.createServer((req, res) => {
    const i = ++n;
    req.resume();
    req.on('end', () => {
      const path = req.url ?? '';
      counts.set(path, (counts.get(path) ?? 0) + 1);
      if (opts.hold?.(i)) return;
      setTimeout(() => res.end('ok'), opts.delayMs ?? 0);
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    counts,
    requests: () => n,
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** Pending notifications as a node that stopped before delivering them would leave them. */
async function leavePending(url: string, dataDir: string, receiver: string, count: number): Promise<void> {
  const db = await openStore({ dataDir, databaseUrl: url });
  try {
    for (let i = 0; i < count; i++) {
      await insertNotification(db, { media_id: 1, kind: 'notify', url: `${receiver}/n${i}`, format: 'xml', body_format: 'form', document: `<result><mediaid>1</mediaid><n>${i}</n></result>` });
    }
  } finally {
    await db.destroy();
  }
}

test('claimNotification – on SQLite and PostgreSQL: one live claim at a time, an expired one can be taken, nothing before it is due', async () => {
  const database = await createTestDatabase();
  const dir = await tempDir();
  try {
    for (const databaseUrl of [null, database.url]) {
      const db = await openStore({ dataDir: dir, databaseUrl });
      try {
        const id = await insertNotification(db, { media_id: 7, kind: 'notify', url: 'http://127.0.0.1:9/x', format: 'xml', body_format: 'form', document: '<result/>' });
        const now = Date.now() + 10;
        assert.equal(await claimNotification(db, id, 'a', now - 60_000, now + 1000), false, 'not due yet');
        const both = await Promise.all([claimNotification(db, id, 'a', now, now + 1000), claimNotification(db, id, 'b', now, now + 1000)]);
        assert.equal(both.filter(Boolean).length, 1, `exactly one of two nodes claims it (${databaseUrl ? 'PostgreSQL' : 'SQLite'})`);
        assert.deepEqual(await claimableNotifications(db, now + 500, 10), [], 'a live claim is not offered');
        assert.equal(await claimNotification(db, id, 'c', now + 500, now + 1500), false);
        assert.deepEqual(await claimableNotifications(db, now + 1001, 10), [id], 'an expired claim is offered');
        assert.equal(await claimNotification(db, id, 'c', now + 1001, now + 2001), true, 'and can be taken');
        await recordNotificationAttempt(db, { notification_id: id, at: now, http_status: 200, error: null, duration_ms: 3 }, { state: 'delivered', next_at: now });
        assert.equal(await claimNotification(db, id, 'd', now + 5000, now + 6000), false, 'a delivered notification is not claimed');
        const [row] = await notificationsOf(db, 7);
        assert.equal(row!.claimed_by, null);
      } finally {
        await db.destroy();
      }
    }
  } finally {
    await database.drop();
    await fs.rm(dir, { recursive: true, force: true });
  }
});

const env = (url: string): Record<string, string> => ({ ENCODERY_DATABASE_URL: url, ENCODERY_NOTIFY_TIMEOUT_SECONDS: '1' });

test('two API nodes resuming one outbox at once: each notification is delivered exactly once', async () => {
  const database = await createTestDatabase();
  const dir = await tempDir();
  // Slow replies keep both nodes' attempts overlapping: without claims both would send each one.
  const receiver = await countingReceiver({ delayMs: 300 });
  const nodes: TestServer[] = [];
  try {
    await leavePending(database.url, dir, receiver.url, 10);
    nodes.push(...(await Promise.all([startTestServer(env(database.url)), startTestServer(env(database.url))])));
    const db = nodes[0]!.server.db;
    await waitFor(async () => (await notificationsOf(db, 1)).every((n) => n.state === 'delivered') || undefined, 30_000, 50);
    // A little longer, for a duplicate that would still be on its way.
    await new Promise((r) => setTimeout(r, 2500));
    assert.equal(receiver.counts.size, 10);
    for (const [path, n] of receiver.counts) assert.equal(n, 1, `${path} delivered ${n} times`);
    const attempts = await notificationAttemptsOf(db, 1);
    for (const list of attempts.values()) assert.equal(list.length, 1);
    for (const row of await notificationsOf(db, 1)) assert.equal(row.claimed_by, null, 'the claim ends with the attempt');
  } finally {
    await Promise.all(nodes.map((n) => n.close()));
    await receiver.close();
    await database.drop();
    await fs.rm(dir, { recursive: true, force: true });
  }
});

test('a node killed while sending: its claim expires and another node delivers the notification', { timeout: 90_000 }, async () => {
  const database = await createTestDatabase();
  const dir = await tempDir();
  // The first POST is never answered: the node sending it is killed meanwhile.
  const receiver = await countingReceiver({ hold: (n) => n === 1 });
  let dying: Proc | undefined;
  let survivor: TestServer | undefined;
  try {
    await leavePending(database.url, dir, receiver.url, 1);
    dying = await spawnEncodery(
      ['--port', '0'],
      { ...env(database.url), ENCODERY_DATA_DIR: dir, ENCODERY_USERS: `${USER.id}:${USER.key}`, ENCODERY_ALLOW_PRIVATE_NETWORK: 'true', ENCODERY_LOG_LEVEL: 'warn', ENCODERY_NOTIFY_TIMEOUT_SECONDS: '3' },
      /listening on/,
    );
    await waitFor(async () => receiver.requests() >= 1 || undefined, 15_000, 20);
    dying.child.kill('SIGKILL');
    await new Promise((r) => dying!.child.once('exit', r));
    survivor = await startTestServer(env(database.url));
    const db = survivor.server.db;
    const [row] = await notificationsOf(db, 1);
    assert.equal(row!.state, 'pending');
    assert.ok(row!.claimed_by && row!.claimed_until! > Date.now(), 'the killed node still holds its claim');
    const delivered = await waitFor(async () => {
      const [n] = await notificationsOf(db, 1);
      return n!.state === 'delivered' ? n : undefined;
    }, 60_000, 100);
    assert.equal(delivered.claimed_by, null);
    assert.equal(receiver.requests(), 2, 'sent once more, by the survivor, after the claim expired');
    const attempts = [...(await notificationAttemptsOf(db, 1)).values()].flat();
    assert.equal(attempts.length, 1, 'the killed node recorded no attempt');
    assert.equal(attempts[0]!.http_status, 200);
    assert.ok(attempts[0]!.at >= row!.claimed_until!, 'the survivor waited for the claim to expire');
  } finally {
    await stopProcesses([dying]);
    await survivor?.close();
    await receiver.close();
    await database.drop();
    await fs.rm(dir, { recursive: true, force: true });
  }
});
