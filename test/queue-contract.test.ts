/**
 * The contract every media queue keeps (queue/types.ts `MediaQueue`), run against each one: the
 * in-process queue of the embedded mode and BullMQ on Redis of the cluster mode, with a processor
 * of the test's own (no store, no FFmpeg: the queue is what is tested). ENCODERY_TEST_QUEUES=inprocess
 * (or bullmq) narrows the run.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import pino from 'pino';
import { InProcessQueue } from '../src/queue/in-process.ts';
import type { AbortReason, MediaProcessor, MediaQueue } from '../src/queue/types.ts';
import { clearQueueKeys } from './cluster-processes.ts';
import { redisMissing, TEST_REDIS_URL } from './needs.ts';
import { waitFor } from './helpers.ts';

interface QueueOptions {
  concurrency: number;
  /** Our priority scale (50 first, -50 last); null: the media is gone. */
  priorityOf(mediaId: number): number | null;
  /** Whether a worker holds the media (the store lease, in production). */
  held(mediaId: number): boolean;
}

interface OpenedQueue {
  queue: MediaQueue;
  /** Stops the workers as a shutdown does: what they run is interrupted. */
  shutdownWorkers(): Promise<void>;
  close(): Promise<void>;
}

interface QueueAdapter {
  name: string;
  skip(): Promise<string | false>;
  open(process: MediaProcessor, options: QueueOptions): Promise<OpenedQueue>;
}

const silent = pino({ level: 'silent' });

const ADAPTERS: QueueAdapter[] = [
  {
    name: 'inprocess',
    skip: async () => false,
    open: async (process, o) => {
      const queue = new InProcessQueue(process, o.concurrency, () => undefined, async (id) => o.priorityOf(id));
      return { queue, shutdownWorkers: () => queue.close(), close: () => queue.close() };
    },
  },
  {
    name: 'bullmq',
    skip: redisMissing,
    open: async (process, o) => {
      // Loaded only here: BullMQ is the cluster's, and an in-process-only run should not pay for it.
      const { BullMediaQueue, BullWorkers } = await import('../src/queue/bullmq.ts');
      const settings = { redisUrl: TEST_REDIS_URL, prefix: `encodery-test-${crypto.randomBytes(4).toString('hex')}`, lockMs: 5000, log: silent };
      const queue = new BullMediaQueue(settings, async (id) => {
        const priority = o.priorityOf(id);
        return priority === null ? null : { priority, tags: [] };
      }, async (id) => o.held(id));
      await queue.ready();
      const workers = new BullWorkers({ ...settings, concurrency: o.concurrency, tags: [], onGivenUp: async () => undefined }, process);
      await workers.start();
      return {
        queue,
        shutdownWorkers: () => workers.close(),
        close: async () => {
          await workers.close();
          await queue.close();
          await clearQueueKeys(settings.prefix);
        },
      };
    },
  },
];

const only = process.env.ENCODERY_TEST_QUEUES?.split(',').map((s) => s.trim().toLowerCase());

/**
 * A processor whose runs the test steers: each run is recorded, and one given a gate waits for it
 * (or for its abort) before it returns.
 */
function steeredProcessor() {
  const runs: { mediaId: number; reason?: unknown; returnedAt?: number }[] = [];
  const gates = new Map<number, () => void>();
  const running = new Set<number>();
  const holds = new Map<number, Promise<void>>();
  const process: MediaProcessor = async (mediaId, signal) => {
    const run: (typeof runs)[number] = { mediaId };
    runs.push(run);
    running.add(mediaId);
    try {
      const hold = holds.get(mediaId);
      if (hold) {
        await new Promise<void>((resolve) => {
          gates.set(mediaId, resolve);
          signal.addEventListener('abort', () => resolve(), { once: true });
          void hold.then(resolve);
        });
      }
      if (signal.aborted) {
        run.reason = signal.reason;
        // A run lets go a moment after its signal, as FFmpeg does: abort() must wait for it.
        await new Promise((r) => setTimeout(r, 150));
      }
    } finally {
      run.returnedAt = performance.now();
      running.delete(mediaId);
    }
  };
  return {
    process,
    runs,
    running,
    /** Media `id` runs until released (or aborted). */
    block(id: number): () => void {
      let release!: () => void;
      holds.set(id, new Promise<void>((r) => (release = r)));
      return () => release();
    },
    ran: (id: number) => runs.filter((r) => r.mediaId === id).length,
    done: (id: number) => runs.some((r) => r.mediaId === id && r.returnedAt !== undefined),
  };
}

for (const adapter of ADAPTERS) {
  if (only && !only.includes(adapter.name)) continue;
  describe(`queue contract: ${adapter.name}`, async () => {
    const skip = await adapter.skip();

    const withQueue = async (concurrency: number, priorities: Map<number, number>, body: (q: MediaQueue, p: ReturnType<typeof steeredProcessor>, opened: OpenedQueue) => Promise<void>) => {
      const p = steeredProcessor();
      const opened = await adapter.open(p.process, {
        concurrency,
        priorityOf: (id) => priorities.get(id) ?? null,
        held: (id) => p.running.has(id),
      });
      try {
        await body(opened.queue, p, opened);
      } finally {
        await opened.close();
      }
    };

    test('a media queued twice while it waits runs once', { skip }, async () => {
      await withQueue(1, new Map([[1, 0], [2, 0], [3, 0]]), async (queue, p) => {
        const release = p.block(1);
        await queue.enqueue(1);
        await waitFor(async () => p.running.has(1), 10_000, 10);
        await queue.enqueue(2);
        await queue.enqueue(2);
        await queue.enqueue(3);
        release();
        // 3 was queued after 2, at the same priority: once it ran, 2 had every chance to run twice.
        await waitFor(async () => p.done(3), 10_000, 10);
        assert.equal(p.ran(2), 1);
        assert.deepEqual(p.runs.map((r) => r.mediaId), [1, 2, 3]);
      });
    });

    test('a media that is gone is not queued', { skip }, async () => {
      await withQueue(1, new Map([[2, 0]]), async (queue, p) => {
        await queue.enqueue(1);
        await queue.enqueue(2);
        await waitFor(async () => p.done(2), 10_000, 10);
        assert.equal(p.ran(1), 0);
      });
    });

    test('with one slot, waiting media start highest priority first, in the order queued within one priority', { skip }, async () => {
      const priorities = new Map([[1, 0], [10, -10], [11, 0], [12, 50], [13, 0], [14, 20]]);
      await withQueue(1, priorities, async (queue, p) => {
        const release = p.block(1);
        await queue.enqueue(1);
        await waitFor(async () => p.running.has(1), 10_000, 10);
        for (const id of [10, 11, 12, 13, 14]) await queue.enqueue(id);
        await waitFor(async () => queue.waiting === 5, 10_000, 50);
        release();
        await waitFor(async () => p.runs.length === 6 && p.runs.every((r) => r.returnedAt !== undefined), 10_000, 10);
        assert.deepEqual(p.runs.map((r) => r.mediaId), [1, 12, 14, 11, 13, 10]);
      });
    });

    test('aborting a running media aborts its signal with the reason, and resolves only once the run has returned', { skip }, async () => {
      await withQueue(2, new Map([[1, 0]]), async (queue, p) => {
        p.block(1);
        await queue.enqueue(1);
        await waitFor(async () => p.running.has(1), 10_000, 10);
        await waitFor(async () => queue.running === 1, 10_000, 50);
        const reason: AbortReason = 'cancel';
        await queue.abort(1, reason);
        const resolvedAt = performance.now();
        const run = p.runs[0]!;
        assert.equal(run.reason, reason);
        assert.ok(run.returnedAt !== undefined && run.returnedAt <= resolvedAt, 'the run had returned when abort() resolved');
      });
    });

    test('aborting a waiting media takes it out of the queue: it never runs', { skip }, async () => {
      await withQueue(1, new Map([[1, 0], [2, 0], [3, 0]]), async (queue, p) => {
        const release = p.block(1);
        await queue.enqueue(1);
        await waitFor(async () => p.running.has(1), 10_000, 10);
        await queue.enqueue(2);
        await queue.abort(2, 'cancel');
        await queue.enqueue(3);
        release();
        await waitFor(async () => p.done(3), 10_000, 10);
        assert.equal(p.ran(2), 0);
      });
    });

    test('aborting a media the queue does not hold resolves at once', { skip }, async () => {
      await withQueue(1, new Map(), async (queue) => {
        const started = performance.now();
        await queue.abort(999, 'stop');
        assert.ok(performance.now() - started < 2000);
      });
    });

    test('a shutdown interrupts the running media with the reason "shutdown"', { skip }, async () => {
      await withQueue(1, new Map([[1, 0]]), async (queue, p, opened) => {
        p.block(1);
        await queue.enqueue(1);
        await waitFor(async () => p.running.has(1), 10_000, 10);
        await opened.shutdownWorkers();
        assert.equal(p.runs[0]!.reason, 'shutdown');
        assert.ok(p.done(1), 'the run had returned when the shutdown resolved');
      });
    });
  });
}
