import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { STORE_INDEPENDENT, makeClip, startReceiver, startTestServer, tempDir, untilFinal, waitFor, type TestServer } from './helpers.ts';

describe('operations: health, metrics, notification retries', () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer();
  });
  after(() => t.close());

  test('GET /healthz – ready when the store and ffmpeg are usable', async () => {
    const res = await fetch(`${t.server.url}/healthz`);
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { status: 'ok', checks: { store: true, ffmpeg: true } });
  });

  test('notify is retried with backoff until the receiver accepts it, every attempt recorded', async () => {
    const receiver = await startReceiver((r, n) => (n <= 2 ? 500 : 200));
    try {
      await fs.mkdir(t.filesDir, { recursive: true });
      const clip = await makeClip(path.join(t.filesDir, 'n.mp4'), { seconds: 1 });
      const { MediaID: id } = await t.call('json', {
        action: 'AddMedia',
        source: `file://${clip}`,
        notify: `${receiver.url}/hook`,
        notify_format: 'json',
        notify_body_format: 'raw',
        format: { output: 'mp3' },
      });
      await untilFinal(t, id);
      await waitFor(async () => receiver.received.length >= 3 || undefined, 10_000);
      assert.equal(receiver.received.length, 3);
      for (const r of receiver.received) {
        assert.match(String(r.headers['content-type']), /application\/json/);
        assert.equal(JSON.parse(r.body.toString()).result.mediaid, id, 'raw body is the document itself');
      }
      // The third answer is recorded after the receiver has it: wait for the record, not for the request.
      const notifications = () => t.server.db.selectFrom('notification').selectAll().where('media_id', '=', Number(id)).execute();
      await waitFor(async () => (await notifications()).every((n) => n.state !== 'pending') || undefined, 10_000);
      const rows = await notifications();
      assert.equal(rows.length, 1);
      assert.equal(rows[0]!.state, 'delivered');
      const attempts = await t.server.db.selectFrom('notification_attempt').selectAll().where('notification_id', '=', rows[0]!.id).orderBy('id').execute();
      assert.deepEqual(attempts.map((a) => a.http_status), [500, 500, 200]);
    } finally {
      await receiver.close();
    }
  });

  test('GET /metrics – Prometheus text with requests by action, media by status, queue depth', async () => {
    const res = await fetch(`${t.server.url}/metrics`);
    assert.equal(res.status, 200);
    const text = await res.text();
    assert.match(text, /encodery_api_requests_total\{action="addmedia",outcome="ok"\} \d+/);
    assert.match(text, /encodery_media\{status="Finished"\} \d+/);
    assert.match(text, /encodery_queue_depth \d+/);
    assert.match(text, /encodery_task_encode_seconds_count\{output="mp3",outcome="ok"\} \d+/);
  });
});

test('GET /healthz – 503 naming ffmpeg when FFmpeg is not usable', async () => {
  const t = await startTestServer({ ENCODERY_FFMPEG: '/nonexistent/ffmpeg' });
  try {
    const res = await fetch(`${t.server.url}/healthz`);
    assert.equal(res.status, 503);
    assert.deepEqual(await res.json(), { status: 'unavailable', checks: { store: true, ffmpeg: false } });
  } finally {
    await t.close();
  }
});

test('the first start creates one user, prints it once and keeps it', { skip: STORE_INDEPENDENT }, async () => {
  const dataDir = await tempDir();
  const start = async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', 'serve', '--port', '0'], {
      env: { ...process.env, ENCODERY_DATA_DIR: dataDir, ENCODERY_USERS: '', ENCODERY_LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    await new Promise<void>((resolve, reject) => {
      child.stdout!.on('data', (c) => {
        out += c;
        if (out.includes('listening on')) resolve();
      });
      child.once('exit', (code) => reject(new Error(`exited ${code}: ${out}`)));
    });
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    return out;
  };
  try {
    const first = await start();
    const users = JSON.parse(await fs.readFile(path.join(dataDir, 'users.json'), 'utf8'));
    assert.equal(users.length, 1);
    assert.match(first, new RegExp(`userid\\s+${users[0].id}`));
    assert.match(first, new RegExp(`userkey\\s+${users[0].key}`));
    const second = await start();
    assert.doesNotMatch(second, /userkey/);
  } finally {
    await fs.rm(dataDir, { recursive: true, force: true });
  }
});
