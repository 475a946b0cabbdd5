/**
 * Every notification carries X-Encodery-Signature, checked here exactly as the README tells a
 * receiver to: derive the secret from the API key, HMAC "<t>.<raw body>", compare in constant time.
 * Also: an undelivered notification survives a restart of the server, and an older store's
 * attempts survive migration 0003.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import os from 'node:os';
import pino from 'pino';
import SQLite from 'better-sqlite3';
import { Kysely, Migrator, SqliteDialect } from 'kysely';
import { migrationProvider } from '../src/store/migrations.ts';
import { startServer } from '../src/server.ts';
import { OTHER, USER, makeClip, parseXml, startReceiver, startTestServer, waitFor, type Received, type TestServer } from './helpers.ts';

// --- the README's recipe, verbatim -----------------------------------------------------------
function notifySecret(userKey: string): string {
  return crypto.createHmac('sha256', userKey).update('encodery-notify').digest('hex');
}

function verify(header: string | undefined, rawBody: Buffer, secret: string, toleranceSec = 300): boolean {
  const m = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(header ?? '');
  if (!m) return false;
  const t = Number(m[1]);
  if (Math.abs(Date.now() / 1000 - t) > toleranceSec) return false;
  const expected = crypto.createHmac('sha256', secret).update(`${m[1]}.`).update(rawBody).digest();
  return crypto.timingSafeEqual(expected, Buffer.from(m[2]!, 'hex'));
}
// ---------------------------------------------------------------------------------------------

const signatureOf = (r: Received): string | undefined => r.headers['x-encodery-signature'] as string | undefined;

describe('notification signatures', () => {
  let t: TestServer;
  let hooks: Awaited<ReturnType<typeof startReceiver>>;
  let clip: string;
  let otherClip: string;

  before(async () => {
    t = await startTestServer();
    hooks = await startReceiver();
    await fs.mkdir(t.filesDir, { recursive: true });
    clip = await makeClip(path.join(t.filesDir, 'sig.mp4'), { seconds: 1, size: '160x90' });
    otherClip = path.join(t.filesOf(OTHER), 'sig.mp4');
    await fs.copyFile(clip, otherClip);
  });
  after(async () => {
    await t.close();
    await hooks.close();
  });

  test('an XML raw body and a JSON form body are both signed over the exact bytes received, with the owner\'s secret', async () => {
    const a = await t.call('xml', { action: 'AddMediaBenchmark', source: `file://${clip}`, notify: `${hooks.url}/xml-raw`, notify_body_format: 'raw' });
    const b = await t.call('json', { action: 'AddMediaBenchmark', source: `file://${otherClip}`, notify: `${hooks.url}/json-form`, notify_format: 'json' }, OTHER);
    const xmlRaw = await waitFor(async () => hooks.received.find((r) => r.url === '/xml-raw'));
    const jsonForm = await waitFor(async () => hooks.received.find((r) => r.url === '/json-form'));

    // The bodies are what 6.2 says: the bare document, and one form field named after the format.
    assert.match(String(xmlRaw.headers['content-type']), /text\/xml/);
    assert.equal(parseXml(xmlRaw.body.toString()).result.mediaid, a.MediaID);
    assert.equal(JSON.parse(new URLSearchParams(jsonForm.body.toString()).get('json')!).result.mediaid, b.MediaID);

    assert.ok(verify(signatureOf(xmlRaw), xmlRaw.body, notifySecret(USER.key)), signatureOf(xmlRaw));
    assert.ok(verify(signatureOf(jsonForm), jsonForm.body, notifySecret(OTHER.key)), signatureOf(jsonForm));

    // What a forger cannot do: reuse a signature on another body, or sign with another user's secret.
    assert.equal(verify(signatureOf(xmlRaw), Buffer.concat([xmlRaw.body, Buffer.from(' ')]), notifySecret(USER.key)), false);
    assert.equal(verify(signatureOf(jsonForm), jsonForm.body, notifySecret(USER.key)), false);
    // The timestamp is inside the signed text: moving it breaks the signature.
    const [, ts, mac] = /^t=(\d+),v1=(\w+)$/.exec(signatureOf(xmlRaw)!)!;
    assert.equal(verify(`t=${Number(ts) + 1},v1=${mac}`, xmlRaw.body, notifySecret(USER.key)), false);
    // An old notification is refused by the tolerance check.
    assert.equal(verify(signatureOf(xmlRaw), xmlRaw.body, notifySecret(USER.key), -1), false);
  });
});

test('a notification not yet delivered when the server stops is delivered by the next start, every attempt kept', async () => {
  let down = true;
  const hooks = await startReceiver(() => (down ? 500 : 200));
  // The first retry waits long enough for the server to stop in between.
  const t = await startTestServer({ ENCODERY_NOTIFY_RETRY_DELAYS_MS: '1500,100,100' });
  let second: Awaited<ReturnType<typeof startServer>> | undefined;
  try {
    await fs.mkdir(t.filesDir, { recursive: true });
    const clip = await makeClip(path.join(t.filesDir, 'r.mp4'), { seconds: 1, size: '160x90' });
    const { MediaID: id } = await t.call('json', { action: 'AddMediaBenchmark', source: `file://${clip}`, notify: `${hooks.url}/ready` });
    await waitFor(async () => hooks.received.length >= 1 || undefined, 30_000);
    await t.server.close();
    down = false;

    second = await startServer(t.config, { log: pino({ level: 'silent' }) });
    await waitFor(async () => hooks.received.length >= 2 || undefined, 10_000);
    const db = second.db;
    const rows = await db.selectFrom('notification').selectAll().where('media_id', '=', Number(id)).execute();
    assert.equal(rows.length, 1);
    await waitFor(async () => (await db.selectFrom('notification').select('state').where('id', '=', rows[0]!.id).executeTakeFirst())?.state === 'delivered', 5000);
    const attempts = await db.selectFrom('notification_attempt').selectAll().where('notification_id', '=', rows[0]!.id).orderBy('id').execute();
    assert.deepEqual(attempts.map((a) => [a.http_status, a.error]), [[500, 'HTTP 500 Internal Server Error'], [200, null]]);
    assert.ok(attempts[1]!.at - attempts[0]!.at >= 1400, 'the retry kept its delay across the restart');
    for (const r of hooks.received) assert.ok(verify(signatureOf(r), r.body, notifySecret(USER.key)));
  } finally {
    await second?.close();
    await t.close();
    await hooks.close();
  }
});

test('a store from before migration 0003 keeps its notification attempts, moved to their own rows', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'encodery-mig-'));
  const sqlite = new SQLite(path.join(dir, 'old.sqlite'));
  const db = new Kysely<any>({ dialect: new SqliteDialect({ database: sqlite }) });
  try {
    const migrator = new Migrator({ db, provider: migrationProvider });
    assert.equal((await migrator.migrateTo('0002_presets')).error, undefined);
    const old = [
      { at: '2026-11-28T10:00:00.000Z', status: 503, durationMs: 12, error: 'HTTP 503 Service Unavailable' },
      { at: '2026-11-28T10:00:02.000Z', status: null, durationMs: 30001, error: 'no response from hooks.example.com (timeout)' },
      { at: '2026-11-28T10:00:12.000Z', status: 200, durationMs: 8, error: null },
    ];
    await db
      .insertInto('notification')
      .values({ media_id: 1, kind: 'notify', url: 'https://hooks.example.com/', format: 'xml', body_format: 'form', document: '<result/>', state: 'delivered', attempts: JSON.stringify(old), next_at: 0 })
      .execute();
    assert.equal((await migrator.migrateToLatest()).error, undefined);
    const rows = await db.selectFrom('notification_attempt').selectAll().orderBy('id').execute();
    assert.deepEqual(
      rows.map((r) => [r.notification_id, r.at, r.http_status, r.error, r.duration_ms]),
      old.map((a) => [1, Date.parse(a.at), a.status, a.error, a.durationMs]),
    );
    const note = await db.selectFrom('notification').selectAll().executeTakeFirstOrThrow();
    assert.equal('attempts' in note, false);
    assert.deepEqual([note.task_id, note.destination_id, note.state], [null, null, 'delivered']);
  } finally {
    await db.destroy();
    await fs.rm(dir, { recursive: true, force: true });
  }
});
