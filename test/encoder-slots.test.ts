/** Issue 13 §6: a media fetching its source does not hold an encoder. */
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import path from 'node:path';
import { test } from 'node:test';
import { EncoderSlots } from '../src/pipeline/encoder-slots.ts';
import { REDIS_URL, clearQueueKeys } from './cluster-processes.ts';
import { redisMissing } from './needs.ts';
import { makeClip, startTestServer, untilFinal, waitFor } from './helpers.ts';

test('encoder slots go to the highest priority first, then in arrival order, and an aborted waiter takes none', async () => {
  const slots = new EncoderSlots(1);
  const never = new AbortController().signal;
  const first = await slots.acquire(0, never);
  const order: string[] = [];
  const gone = new AbortController();
  const waits = [
    slots.acquire(0, never).then((r) => (order.push('low-1'), r)),
    slots.acquire(0, gone.signal).then((r) => (order.push('aborted'), r)),
    slots.acquire(0, never).then((r) => (order.push('low-2'), r)),
    slots.acquire(30, never).then((r) => (order.push('high'), r)),
  ];
  gone.abort('cancel');
  await assert.rejects(waits[1]!, (reason) => reason === 'cancel');
  assert.equal(slots.waiting, 3);
  first();
  first(); // a second release gives nothing back twice
  for (const expected of ['high', 'low-1', 'low-2']) {
    const index = { high: 3, 'low-1': 0, 'low-2': 2 }[expected]!;
    const release = await waits[index]!;
    assert.equal(order.at(-1), expected);
    assert.equal(order.length, ['high', 'low-1', 'low-2'].indexOf(expected) + 1, 'only one slot is ever held');
    release();
  }
  assert.equal(slots.waiting, 0);
});

for (const mode of ['embedded', 'cluster'] as const) {
test(`${mode} queue: with ENCODERY_WORKERS=1, a source trickling in does not keep a second media from finishing first`, async (t) => {
  const redisSkip = mode === 'cluster' && (await redisMissing());
  if (redisSkip) {
    t.skip(redisSkip);
    return;
  }
  const prefix = `encodery-test-${crypto.randomBytes(4).toString('hex')}`;
  const cluster: Record<string, string> = mode === 'cluster' ? { ENCODERY_REDIS_URL: REDIS_URL, ENCODERY_QUEUE_PREFIX: prefix } : {};
  // One byte every 10 s: slow, but above no limit the default settings would reach in this test.
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  const origin = http.createServer((_req, res) => {
    res.writeHead(200, { 'content-length': 1_000_000 });
    res.write('x');
    const timer = setInterval(() => res.write('x'), 10_000);
    timers.add(timer);
    res.on('close', () => clearInterval(timer));
  });
  origin.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => origin.listen(0, '127.0.0.1', r));
  const server = await startTestServer({ ...cluster, ENCODERY_WORKERS: '1' });
  t.after(async () => {
    for (const timer of timers) clearInterval(timer);
    for (const s of sockets) s.destroy();
    await server.close();
    await new Promise<void>((r) => origin.close(() => r()));
    if (mode === 'cluster') await clearQueueKeys(prefix);
  });
  const clip = await makeClip(path.join(server.filesDir, 'local.mp4'), { seconds: 1, size: '160x120' });

  const add = async (source: string) => {
    const r = await server.call('json', { action: 'AddMedia', source, format: { output: 'mp4', size: '160x120' } });
    assert.equal(r.message, 'Added', JSON.stringify(r));
    return String(r.MediaID);
  };
  const slow = await add(`http://127.0.0.1:${(origin.address() as AddressInfo).port}/slow.mp4`);
  const statusOf = async (id: string) => (await server.call('json', { action: 'GetStatus', mediaid: id, extended: 'yes' })).job?.status as string;
  await waitFor(async () => (await statusOf(slow)) === 'Downloading', 30_000);
  const local = await add(`file://${clip}`);
  const { final } = await untilFinal(server, local, 90_000);
  assert.equal(final.status, 'Finished', JSON.stringify(final));
  assert.equal(await statusOf(slow), 'Downloading', 'the trickling media is still fetching its source');
});
}
