import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { Queue } from 'bullmq';
import { redisConnection } from '../src/queue/bullmq.ts';
import { bullPriority } from '../src/queue/route.ts';
import { before, firstHead, headOf, nextUp, queuesToRun, type Head } from '../src/queue/scheduler.ts';
import { clearQueueKeys } from './cluster-processes.ts';
import { redisMissing, TEST_REDIS_URL } from './needs.ts';

const head = (priority: number, timestamp: number, mediaId: number): Head => ({ priority, timestamp, mediaId });
const mediaIdOf = (data: unknown): number | undefined => {
  const id = (data as { mediaId?: unknown } | null)?.mediaId;
  return typeof id === 'number' ? id : undefined;
};

test('scheduler: a lower BullMQ priority number starts first, whatever the age', () => {
  assert.equal(before(head(1, 500, 9), head(2, 100, 1)), true);
  assert.equal(before(head(2, 100, 1), head(1, 500, 9)), false);
});

test('scheduler: within one priority the older media starts first, then the lower media id', () => {
  assert.equal(before(head(5, 100, 9), head(5, 200, 1)), true);
  assert.equal(before(head(5, 100, 1), head(5, 100, 2)), true);
  assert.equal(before(head(5, 100, 2), head(5, 100, 1)), false);
  assert.equal(before(head(5, 100, 2), head(5, 100, 2)), false, 'a media does not go before itself');
});

test('scheduler: only the queue holding the next media runs; with nothing waiting, every queue runs', () => {
  const names = ['media-hevc', 'media'];
  assert.deepEqual(firstHead([null, null]), -1);
  assert.deepEqual([...queuesToRun(names, [null, null])], names);
  assert.deepEqual([...queuesToRun(names, [null, head(50, 1, 1)])], ['media']);
  assert.deepEqual([...queuesToRun(names, [head(10, 9, 9), head(50, 1, 1)])], ['media-hevc']);
  assert.deepEqual([...queuesToRun(names, [head(10, 9, 9), head(10, 1, 1)])], ['media']);
});

test('scheduler: the head of a list of jobs is its first one; a job naming no media goes last among equals', () => {
  assert.equal(headOf([], mediaIdOf), null);
  const jobs = [
    { priority: 3, timestamp: 10, data: { mediaId: 7 } },
    { priority: 3, timestamp: 10, data: { other: true } },
    { priority: 3, timestamp: 10, data: { mediaId: 4 } },
    { priority: 4, timestamp: 1, data: { mediaId: 1 } },
  ];
  assert.deepEqual(headOf(jobs, mediaIdOf), head(3, 10, 4));
  assert.deepEqual(headOf([jobs[1]!], mediaIdOf), head(3, 10, Number.MAX_SAFE_INTEGER));
});

test('scheduler: nextUp reads what a real BullMQ queue gives out next, the plain wait list before the prioritized set', async (t) => {
  const redisSkip = await redisMissing();
  if (redisSkip) {
    t.skip(redisSkip);
    return;
  }
  const prefix = `encodery-test-${crypto.randomBytes(4).toString('hex')}`;
  const queue = new Queue('media', { connection: redisConnection(TEST_REDIS_URL), prefix });
  try {
    assert.equal(await nextUp(queue, mediaIdOf), null, 'an empty queue has no head');
    await queue.add('media', { mediaId: 11 }, { jobId: 'media-11', priority: bullPriority(0) });
    await queue.add('media', { mediaId: 12 }, { jobId: 'media-12', priority: bullPriority(30) });
    await queue.add('media', { mediaId: 13 }, { jobId: 'media-13', priority: bullPriority(30) });
    const prioritized = await nextUp(queue, mediaIdOf);
    assert.equal(prioritized?.mediaId, 12, 'the highest priority, then the oldest');
    assert.equal(prioritized?.priority, bullPriority(30));
    // A job without a priority (as one handed back by a stalled worker lands) is in the plain wait list.
    await queue.add('media', { mediaId: 14 }, { jobId: 'media-14' });
    assert.equal((await nextUp(queue, mediaIdOf))?.mediaId, 14, 'the wait list is emptied first');
  } finally {
    await queue.close();
    await clearQueueKeys(prefix);
  }
});
