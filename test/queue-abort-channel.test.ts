import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { Redis } from 'ioredis';
import pino from 'pino';
import { AbortListener, publishAbort, type AbortMessage } from '../src/queue/abort-channel.ts';
import { redisConnection } from '../src/queue/redis.ts';
import { redisMissing, TEST_REDIS_URL } from './needs.ts';
import { waitFor } from './helpers.ts';

test('abort channel: a listener hears media and chunk aborts of its installation, and ignores malformed messages and other installations', async (t) => {
  const redisSkip = await redisMissing();
  if (redisSkip) {
    t.skip(redisSkip);
    return;
  }
  const prefix = `encodery-test-${crypto.randomBytes(4).toString('hex')}`;
  const heard: AbortMessage[] = [];
  const listener = new AbortListener(redisConnection(TEST_REDIS_URL), prefix, pino({ level: 'silent' }), (m) => heard.push(m));
  const elsewhere: AbortMessage[] = [];
  const other = new AbortListener(redisConnection(TEST_REDIS_URL), `${prefix}-other`, pino({ level: 'silent' }), (m) => elsewhere.push(m));
  const publisher = new Redis(redisConnection(TEST_REDIS_URL));
  try {
    await listener.start();
    await other.start();
    const channel = `${prefix}:encodery:abort`;
    await publisher.publish(channel, 'not json');
    await publisher.publish(channel, JSON.stringify({ kind: 'media', mediaId: -1, reason: 'cancel' }));
    await publisher.publish(channel, JSON.stringify({ mediaId: 5, reason: 'cancel' }));
    assert.equal(await publishAbort(publisher, prefix, { kind: 'media', mediaId: 5, reason: 'stop' }), 1, 'one process listens');
    await publishAbort(publisher, prefix, { kind: 'chunk', jobId: '42' });
    await waitFor(async () => heard.length === 2, 5000, 20);
    assert.deepEqual(heard, [{ kind: 'media', mediaId: 5, reason: 'stop' }, { kind: 'chunk', jobId: '42' }]);
    assert.deepEqual(elsewhere, []);
  } finally {
    await listener.close();
    await other.close();
    await listener.close();
    publisher.disconnect();
  }
});
