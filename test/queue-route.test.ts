import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import path from 'node:path';
import { Writable } from 'node:stream';
import { Redis } from 'ioredis';
import { ConfigError, loadConfig } from '../src/config.ts';
import { parsePriority } from '../src/domain/priority.ts';
import { bullPriority, queueName, requiredTags, tagSubsets } from '../src/queue/route.ts';
import pino from 'pino';
import { startWorker, type RunningWorker } from '../src/server.ts';
import { USER, asList, ffprobe, makeClip, startTestServer, untilFinal } from './helpers.ts';

test('priority – words and numbers map to an order, higher first', () => {
  const order = ['low', '-50', 'normal', '', '10', 'high', 'HIGH', '50'].map((p) => {
    const r = parsePriority(p);
    assert.ok(r.ok, p);
    return bullPriority(r.priority);
  });
  // BullMQ runs the lowest number first and 0 would mean "no priority".
  assert.deepEqual(order, [76, 101, 51, 51, 41, 26, 26, 1]);
  assert.deepEqual(parsePriority(undefined), { ok: true, priority: 0 });
  for (const bad of ['urgent', '51', '-51', '1.5', { x: '1' }]) {
    const r = parsePriority(bad);
    assert.ok(!r.ok && r.error.startsWith('priority must be'), JSON.stringify(bad));
  }
});

test('capability tags – HEVC and AV1 formats need their tag, others none', () => {
  assert.deepEqual(requiredTags([{ output: 'mp4' }, { output: 'webm' }, { output: 'mp3' }, { output: 'thumbnail' }]), []);
  assert.deepEqual(requiredTags([{ output: 'mp4', video_codec: 'hevc' }]), ['hevc']);
  assert.deepEqual(requiredTags([{ output: 'webm', video_codec: 'av1' }, { output: 'mp4', video_codec: 'libx265' }]), ['av1', 'hevc']);
  // A format that no longer parses needs nothing: the worker that takes it fails just that task.
  assert.deepEqual(requiredTags([{ output: 'no-such-output' }]), []);
  assert.equal(queueName([]), 'media');
  assert.equal(queueName(['hevc', 'av1']), 'media-av1-hevc');
  assert.deepEqual(tagSubsets(['hevc', 'av1']).map(queueName).sort(), ['media', 'media-av1', 'media-av1-hevc', 'media-hevc']);
});

test('roles – api and worker without a Redis URL are refused in one line naming the setting', () => {
  for (const role of ['api', 'worker']) {
    assert.throws(() => loadConfig({ ENCODERY_ROLE: role }), (err: Error) => {
      assert.ok(err instanceof ConfigError);
      assert.match(err.message, /^ENCODERY_ROLE \(--role\): .* needs ENCODERY_REDIS_URL \(--redis-url\)/);
      assert.ok(!err.message.includes('\n'));
      return true;
    });
  }
  assert.equal(loadConfig({}, ['--role', 'worker', '--redis-url', 'redis://127.0.0.1:6379']).role, 'worker');
  assert.throws(() => loadConfig({ ENCODERY_ROLE: 'boss' }), /ENCODERY_ROLE \(--role\): must be api, worker or all/);
  assert.throws(() => loadConfig({ ENCODERY_REDIS_URL: 'http://x' }), /ENCODERY_REDIS_URL/);
  assert.deepEqual(loadConfig({ ENCODERY_WORKER_TAGS: 'HEVC, gpu,hevc' }).workerTags, ['gpu', 'hevc']);
});

test('AddMedia with a bad priority is refused, naming the field; nothing is stored', async () => {
  const t = await startTestServer();
  try {
    const r = await t.call('json', { action: 'AddMedia', source: 'https://example.com/a.mp4', priority: 'urgent', format: { output: 'mp4' } });
    assert.match(String(r.errors?.error), /^priority must be high, normal, low or a whole number/);
    const list = await t.call('json', { action: 'GetMediaList' });
    assert.equal(asList(list.media).length, 0);
  } finally {
    await t.close();
  }
});

test('role all with Redis: API and worker in one process over BullMQ', async (t) => {
  const redis = new Redis('redis://127.0.0.1:6379', { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  redis.on('error', () => undefined);
  const up = await redis.connect().then(() => true, () => false);
  if (!up) {
    t.skip('Redis is not reachable at 127.0.0.1:6379');
    return;
  }
  const prefix = `encodery-test-${crypto.randomBytes(4).toString('hex')}`;
  const server = await startTestServer({ ENCODERY_REDIS_URL: 'redis://127.0.0.1:6379', ENCODERY_QUEUE_PREFIX: prefix });
  try {
    const clip = await makeClip(path.join(server.filesDir, 'in.mp4'), { seconds: 1, size: '160x90' });
    const out = path.join(server.filesDir, 'out.mp4');
    const r = await server.call('json', { action: 'AddMedia', source: `file://${clip}`, priority: 'high', format: { output: 'mp4', destination: `file://${out}` } });
    assert.equal((await untilFinal(server, r.MediaID, 30_000)).final.status, 'Finished');
    assert.equal((await ffprobe(out)).streams.find((s) => s.codec_type === 'video')?.codec_name, 'h264');
    assert.ok((await redis.keys(`${prefix}:media:*`)).length > 0, 'the queue lives in Redis under the prefix');
  } finally {
    await server.close();
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
  }
});

test('a media whose workers kept dying ends in Error with every task, not stuck in Processing', async (t) => {
  const redis = new Redis('redis://127.0.0.1:6379', { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  redis.on('error', () => undefined);
  if (!(await redis.connect().then(() => true, () => false))) {
    t.skip('Redis is not reachable at 127.0.0.1:6379');
    return;
  }
  const prefix = `encodery-test-${crypto.randomBytes(4).toString('hex')}`;
  const cluster = { ENCODERY_REDIS_URL: 'redis://127.0.0.1:6379', ENCODERY_QUEUE_PREFIX: prefix };
  const api = await startTestServer({ ...cluster, ENCODERY_ROLE: 'api' });
  let worker: RunningWorker | undefined;
  try {
    const clip = await makeClip(path.join(api.filesDir, 'in.mp4'), { seconds: 1, size: '160x90' });
    const r = await api.call('json', { action: 'AddMedia', source: `file://${clip}`, format: [{ output: 'mp4' }, { output: 'webm' }] });
    // What BullMQ's stalled-job check writes on a job that lost its worker more often than allowed.
    await redis.hset(`${prefix}:media:media-${r.MediaID}`, 'defa', 'job stalled more than allowable limit');
    const config = loadConfig({ ...cluster, ENCODERY_ROLE: 'worker', ENCODERY_DATA_DIR: api.dataDir, ENCODERY_USERS: `${USER.id}:${USER.key}`, ENCODERY_PORT: '0' });
    worker = await startWorker(config, { log: pino({ level: 'silent' }) });
    const { final } = await untilFinal(api, r.MediaID, 30_000);
    assert.equal(final.status, 'Error');
    assert.match(final.description!, /stopped 3 times without finishing it/);
    const tasks = asList(final.format) as { status: string }[];
    assert.equal(tasks.length, 2);
    for (const task of tasks) assert.equal(task.status, 'Error');
  } finally {
    await worker?.close();
    await api.close();
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
  }
});

test('priority orders the cluster queue: high first, then normal, then low, each in the order added', async (t) => {
  const redis = new Redis('redis://127.0.0.1:6379', { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  redis.on('error', () => undefined);
  if (!(await redis.connect().then(() => true, () => false))) {
    t.skip('Redis is not reachable at 127.0.0.1:6379');
    return;
  }
  const prefix = `encodery-test-${crypto.randomBytes(4).toString('hex')}`;
  const cluster = { ENCODERY_REDIS_URL: 'redis://127.0.0.1:6379', ENCODERY_QUEUE_PREFIX: prefix };
  const api = await startTestServer({ ...cluster, ENCODERY_ROLE: 'api' });
  let worker: RunningWorker | undefined;
  try {
    const clip = await makeClip(path.join(api.filesDir, 'in.mp4'), { seconds: 1, size: '160x90' });
    const ids: Record<string, string> = {};
    // Queued while no worker runs, so the order taken is the queue's alone.
    for (const [name, priority] of [['low', 'low'], ['normal1', ''], ['high', 'high'], ['normal2', 'normal'], ['top', '50']] as const) {
      const r = await api.call('json', { action: 'AddMedia', source: `file://${clip}`, priority, format: { output: 'mp3' } });
      ids[r.MediaID] = name;
    }
    const taken: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const line of chunk.toString().split('\n').filter(Boolean)) {
          const entry = JSON.parse(line) as { msg?: string; mediaId?: number };
          if (entry.msg === 'media taken from the queue') taken.push(ids[String(entry.mediaId)]!);
        }
        done();
      },
    });
    const config = loadConfig({ ...cluster, ENCODERY_ROLE: 'worker', ENCODERY_WORKERS: '1', ENCODERY_DOWNLOADS: '0', ENCODERY_DATA_DIR: api.dataDir, ENCODERY_USERS: `${USER.id}:${USER.key}` });
    worker = await startWorker(config, { log: pino({ level: 'info' }, sink) });
    for (const id of Object.keys(ids)) assert.equal((await untilFinal(api, id, 30_000)).final.status, 'Finished');
    assert.deepEqual(taken, ['top', 'high', 'normal1', 'normal2', 'low']);
  } finally {
    await worker?.close();
    await api.close();
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length > 0) await redis.del(...keys);
    redis.disconnect();
  }
});
