/**
 * Split-and-stitch chunks in a cluster: each unit (a video chunk, the whole audio) is a job of
 * the `chunks` queue that any worker process takes; the worker running the media waits for them
 * and joins the pieces. A worker killed mid-chunk loses only that chunk: BullMQ's stalled-job
 * check gives it to another worker. The pieces are written under the shared data dir (see
 * splitPiecePath), so every worker must see the same ENCODERY_DATA_DIR for now.
 */
import { hostname } from 'node:os';
import { Job, Queue, UnrecoverableError, Worker } from 'bullmq';
import { z } from 'zod';
import type { Logger } from 'pino';
import { runFfmpeg } from '../pipeline/ffmpeg/run.ts';
import type { SplitUnit, UnitExecutor, UnitResult } from '../pipeline/split/run.ts';
import { redisConnection, MAX_STALLS } from './bullmq.ts';

const QUEUE = 'chunks';
// A chunk's end is noticed within this; on the critical path once per chunk round.
const POLL_MS = 50;
const PROGRESS_EVERY_MS = 500;
/** A chunk handed back by a worker shutting down is tried again; an FFmpeg failure is not (UnrecoverableError). */
const CHUNK_ATTEMPTS = 3;

const ChunkData = z.object({
  mediaId: z.number().int().positive(),
  args: z.array(z.string()),
  durationSec: z.number().nonnegative(),
});
type ChunkData = z.infer<typeof ChunkData>;

const ChunkResult = z.object({ wallSec: z.number(), cpuSec: z.number(), worker: z.string() });

export interface ChunkSettings {
  redisUrl: string;
  prefix: string;
  lockMs: number;
  log: Logger;
}

/** The media worker's side: hands units out as jobs and waits for them. */
export class BullChunkQueue {
  readonly #queue: Queue<ChunkData>;
  #closing: Promise<void> | undefined;

  constructor(settings: ChunkSettings) {
    this.#queue = new Queue<ChunkData>(QUEUE, { connection: redisConnection(settings.redisUrl), prefix: settings.prefix });
    this.#queue.on('error', (err) => settings.log.error({ err: err.message }, 'chunk queue connection error'));
  }

  executor(mediaId: number): UnitExecutor {
    return { lanes: Number.MAX_SAFE_INTEGER, run: (unit, signal, onProgress) => this.#run(mediaId, unit, signal, onProgress) };
  }

  async #run(mediaId: number, unit: SplitUnit, signal: AbortSignal, onProgress: (f: number) => void): Promise<UnitResult> {
    signal.throwIfAborted();
    // A fresh id per run: a job left by an earlier run of this media (its worker died) is not reused.
    const job = await this.#queue.add('chunk', { mediaId, args: unit.args, durationSec: unit.durationSec }, { attempts: CHUNK_ATTEMPTS, removeOnComplete: { age: 3600 }, removeOnFail: { age: 3600 } });
    try {
      for (;;) {
        signal.throwIfAborted();
        // The state first, then the job: a job read before it completed has no return value yet,
        // while one read after seeing "completed" always has it (BullMQ stores both in one step).
        const state = await this.#queue.getJobState(job.id!);
        const current = await Job.fromId<ChunkData>(this.#queue, job.id!);
        if (!current) throw new Error('the chunk job vanished from the queue');
        if (state === 'completed') return ChunkResult.parse(current.returnvalue);
        if (state === 'failed') throw new Error(current.failedReason || 'the chunk job failed');
        if (typeof current.progress === 'number') onProgress(current.progress);
        await new Promise((r) => setTimeout(r, POLL_MS));
      }
    } finally {
      // A job still waiting is dropped (aborted or failed elsewhere); one a worker holds runs out.
      await job.remove().catch(() => undefined);
    }
  }

  close(): Promise<void> {
    return (this.#closing ??= this.#queue.close());
  }
}

/** Every worker process's side: runs chunk jobs with its own FFmpeg, `concurrency` at once. */
export class BullChunkWorkers {
  readonly #worker: Worker<ChunkData>;
  #closing: Promise<void> | undefined;

  constructor(settings: ChunkSettings & { ffmpeg: string; threads: number; concurrency: number }) {
    const me = `${hostname()}:${process.pid}`;
    this.#worker = new Worker<ChunkData>(QUEUE, async (job, _token, signal) => {
      const data = ChunkData.safeParse(job.data);
      if (!data.success) throw new UnrecoverableError('a chunk job without a valid command');
      let last = 0;
      settings.log.info({ mediaId: data.data.mediaId, job: job.id }, 'chunk taken from the queue');
      try {
        const r = await runFfmpeg(data.data.args, {
          ffmpeg: settings.ffmpeg, threads: settings.threads, durationSec: data.data.durationSec, signal,
          onProgress: (p) => {
            if (Date.now() - last < PROGRESS_EVERY_MS) return;
            last = Date.now();
            void job.updateProgress(p.fraction).catch(() => undefined);
          },
        });
        return { wallSec: r.wallSec, cpuSec: r.cpuSec, worker: me };
      } catch (err) {
        if (signal?.aborted) throw err;
        // FFmpeg failing on a chunk fails the same way elsewhere: no retry.
        throw new UnrecoverableError(err instanceof Error ? err.message : String(err));
      }
    }, {
      connection: redisConnection(settings.redisUrl),
      prefix: settings.prefix,
      concurrency: settings.concurrency,
      lockDuration: settings.lockMs,
      stalledInterval: Math.max(500, Math.round(settings.lockMs / 2)),
      maxStalledCount: MAX_STALLS,
      drainDelay: 1,
      autorun: false,
    });
    this.#worker.on('error', (err) => settings.log.error({ err: err.message }, 'chunk worker connection error'));
  }

  start(): void {
    void this.#worker.run().catch(() => undefined);
  }

  close(): Promise<void> {
    return (this.#closing ??= (async () => {
      this.#worker.cancelAllJobs('shutdown');
      await this.#worker.close().catch(() => undefined);
    })());
  }
}
