import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import path from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import { loadConfig } from '../src/config.ts';
import { startWorker, type RunningWorker } from '../src/server.ts';
import { getMedia } from '../src/store/repo.ts';
import { REDIS_URL, clearQueueKeys } from './cluster-processes.ts';
import { redisMissing } from './needs.ts';
import { USER, makeClip, stallingSource, startTestServer, untilFinal, waitFor } from './helpers.ts';


test('embedded queue: waiting media start highest priority first, in the order added within one priority', async () => {
  // No media beyond the one worker: the order the queue hands media out in is what is tested here.
  const t = await startTestServer({ ENCODERY_WORKERS: '1', ENCODERY_DOWNLOADS: '0' });
  const stall = await stallingSource();
  try {
    const clip = await makeClip(path.join(t.filesDir, 'in.mp4'), { seconds: 1, size: '160x90' });
    const blocker = await t.call('json', { action: 'AddMedia', source: `${stall.url}/never.mp4`, format: { output: 'mp3' } });
    assert.ok(blocker.MediaID, JSON.stringify(blocker));
    await waitFor(async () => (await t.call('json', { action: 'GetStatus', mediaid: blocker.MediaID })).status === 'Downloading', 10_000, 20);
    const names = new Map<string, string>();
    for (const [name, priority] of [['low', 'low'], ['normal1', ''], ['high', 'high'], ['normal2', 'normal'], ['minus10', '-10'], ['top', '50']] as const) {
      const r = await t.call('json', { action: 'AddMedia', source: `file://${clip}`, priority, format: { output: 'mp3' } });
      assert.ok(r.MediaID, JSON.stringify(r));
      names.set(r.MediaID, name);
    }
    // Nothing queued behind the blocker may start while it holds the only worker.
    for (const id of names.keys()) assert.equal((await getMedia(t.server.db, Number(id)))?.started_at, null);
    assert.equal((await t.call('json', { action: 'CancelMedia', mediaid: blocker.MediaID })).message, 'Deleted');
    for (const id of names.keys()) assert.equal((await untilFinal(t, id, 60_000)).final.status, 'Finished', `media ${names.get(id)}`);
    const started = await Promise.all([...names.keys()].map(async (id) => ({ name: names.get(id)!, at: (await getMedia(t.server.db, Number(id)))!.started_at! })));
    started.sort((a, b) => a.at - b.at);
    assert.deepEqual(started.map((s) => s.name), ['top', 'high', 'normal1', 'normal2', 'minus10', 'low']);
  } finally {
    await stall.close();
    await t.close();
  }
});

test('cluster queue: a worker serving several capability queues takes the highest priority across them', async (t) => {
  const redisSkip = await redisMissing();
  if (redisSkip) {
    t.skip(redisSkip);
    return;
  }
  const prefix = `encodery-test-${crypto.randomBytes(4).toString('hex')}`;
  const cluster = { ENCODERY_REDIS_URL: REDIS_URL, ENCODERY_QUEUE_PREFIX: prefix };
  const api = await startTestServer({ ...cluster, ENCODERY_ROLE: 'api' });
  let worker: RunningWorker | undefined;
  try {
    const clip = await makeClip(path.join(api.filesDir, 'in.mp4'), { seconds: 1, size: '160x90' });
    const names = new Map<string, string>();
    // Two queues (`media`, `media-hevc`), filled while no worker runs; each queue alone is in
    // priority order, but which queue holds the next media decides only with the global order.
    const plan = [
      ['plain-low', 'low', false],
      ['hevc-low', 'low', true],
      ['plain-normal', 'normal', false],
      ['hevc-high', 'high', true],
      ['hevc-normal', '', true],
      ['plain-top', '40', false],
    ] as const;
    for (const [name, priority, hevc] of plan) {
      const format = hevc ? { output: 'mp4', video_codec: 'libx265', size: '64x36' } : { output: 'mp3' };
      const r = await api.call('json', { action: 'AddMedia', source: `file://${clip}`, priority, format });
      assert.ok(r.MediaID, JSON.stringify(r));
      names.set(r.MediaID, name);
    }
    const taken: { name: string; queue: string }[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const line of chunk.toString().split('\n').filter(Boolean)) {
          const entry = JSON.parse(line) as { msg?: string; mediaId?: number; queue?: string };
          if (entry.msg === 'media taken from the queue') taken.push({ name: names.get(String(entry.mediaId))!, queue: entry.queue! });
        }
        done();
      },
    });
    const config = loadConfig({ ...cluster, ENCODERY_ROLE: 'worker', ENCODERY_WORKERS: '1', ENCODERY_DOWNLOADS: '0', ENCODERY_WORKER_TAGS: 'hevc', ENCODERY_DATA_DIR: api.dataDir, ENCODERY_USERS: `${USER.id}:${USER.key}` });
    worker = await startWorker(config, { log: pino({ level: 'info' }, sink) });
    for (const id of names.keys()) assert.equal((await untilFinal(api, id, 60_000)).final.status, 'Finished', `media ${names.get(id)}`);
    assert.deepEqual(
      taken.map((x) => x.name),
      ['plain-top', 'hevc-high', 'plain-normal', 'hevc-normal', 'plain-low', 'hevc-low'],
      JSON.stringify(taken),
    );
  } finally {
    await worker?.close();
    await api.close();
    await clearQueueKeys(prefix);
  }
});
