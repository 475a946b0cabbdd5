/**
 * Split-and-stitch chunks in a cluster: each video chunk is a job of the `chunks` queue that any
 * worker process takes; the worker running the media waits for them and joins the pieces. A
 * worker killed mid-chunk loses only that chunk: BullMQ's stalled-job check gives it to another
 * worker. Where the pieces live is the executor's business (split/pieces.ts): the shared data
 * dir, or ENCODERY_STORAGE_URL.
 *
 * Not a BullMQ flow whose parent is the media job: a parent waiting for its children is held by
 * no worker, so the media's live progress, its CancelMedia path (a parent with locked children
 * cannot be removed) and its in-memory run would all have to be rebuilt, and the media would be
 * taken up afresh after the last chunk (sources, probe, keyframe scan again) on the critical path.
 * The media job's holder waiting on its chunks' events costs one idle media slot, which the audio
 * encode uses.
 */
import { hostname } from 'node:os';
import { Job, Queue, QueueEvents, UnrecoverableError, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { z } from 'zod';
import type { Logger } from 'pino';
import { ChunkJob, UnitFigures, type ChunkProcessor, type PieceStore, type SplitUnit, type UnitExecutor, type UnitResult } from '../domain/split-unit.ts';
import { leaseOptions } from './bullmq.ts';
import { AbortListener, publishAbort } from './abort-channel.ts';
import { redisConnection } from './redis.ts';
import { bullPriority } from './route.ts';

const QUEUE = 'chunks';
/**
 * A chunk's end comes as a QueueEvents event; this check of the job's state only covers an
 * event missed (the events stream is read from "now" once connected, and reconnects can drop one).
 */
const SAFETY_CHECK_MS = 1000;
const PROGRESS_EVERY_MS = 500;
/** A chunk handed back by a worker shutting down is tried again; an FFmpeg failure is not (UnrecoverableError). */
const CHUNK_ATTEMPTS = 3;
/** The reason a chunk is cancelled with when the media running it no longer wants it. */
const ABANDONED = 'abandoned';

const ChunkResult = z.object({ wallSec: z.number(), cpuSec: z.number(), worker: z.string(), figures: UnitFigures.optional().catch(undefined) });

export interface ChunkSettings {
  redisUrl: string;
  prefix: string;
  lockMs: number;
  log: Logger;
}

interface Waiter {
  wake(): void;
  onProgress(f: number): void;
}

/** The media worker's side: hands chunks out as jobs and waits for them. */
export class BullChunkQueue {
  readonly #settings: ChunkSettings;
  readonly #queue: Queue<ChunkJob>;
  readonly #publisher: Redis;
  #events: Promise<QueueEvents> | undefined;
  readonly #waiters = new Map<string, Waiter>();
  #closing: Promise<void> | undefined;

  constructor(settings: ChunkSettings) {
    this.#settings = settings;
    const connection = redisConnection(settings.redisUrl);
    this.#queue = new Queue<ChunkJob>(QUEUE, { connection, prefix: settings.prefix });
    this.#queue.on('error', (err) => settings.log.error({ err: err.message }, 'chunk queue connection error'));
    this.#publisher = new Redis(connection);
    this.#publisher.on('error', (err) => settings.log.error({ err: err.message }, 'abort channel error'));
  }

  /** One events reader per process, opened on the first split. */
  #listen(): Promise<QueueEvents> {
    return (this.#events ??= (async () => {
      const events = new QueueEvents(QUEUE, { connection: redisConnection(this.#settings.redisUrl), prefix: this.#settings.prefix });
      events.on('error', (err) => this.#settings.log.error({ err: err.message }, 'chunk events connection error'));
      const wake = ({ jobId }: { jobId: string }): void => this.#waiters.get(jobId)?.wake();
      events.on('completed', wake);
      events.on('failed', wake);
      events.on('removed', wake);
      events.on('progress', ({ jobId, data }) => {
        if (typeof data === 'number') this.#waiters.get(jobId)?.onProgress(data);
      });
      try {
        await events.waitUntilReady();
      } catch (err) {
        // Not kept: the next split tries again.
        this.#events = undefined;
        await events.close().catch(() => undefined);
        throw err;
      }
      return events;
    })());
  }

  /**
   * Chunks through this queue, at the media's `priority` (our scale); `pieces` says where their
   * files go (the shared storage, or null: the data dir every worker shares).
   */
  executor(mediaId: number, pieces: PieceStore | null, priority: number): UnitExecutor {
    return {
      lanes: Number.MAX_SAFE_INTEGER,
      run: (unit, signal, onProgress) => this.#run(mediaId, unit, pieces, bullPriority(priority), signal, onProgress),
      ...(pieces ? { kept: (unit: SplitUnit, signal: AbortSignal) => pieces.kept(unit, signal) } : {}),
    };
  }

  async #run(mediaId: number, unit: SplitUnit, pieces: PieceStore | null, priority: number, signal: AbortSignal, onProgress: (f: number) => void): Promise<UnitResult> {
    signal.throwIfAborted();
    await this.#listen();
    const place = pieces ? await pieces.prepare(unit, signal) : null;
    const data: ChunkJob = {
      mediaId, args: place ? place.args : unit.args, durationSec: unit.durationSec,
      ...(place ? { place: place.place } : {}), ...(unit.measure ? { measure: unit.measure } : {}),
    };
    // A fresh id per run: a job left by an earlier run of this media (its worker died) is not reused.
    // The media's priority: chunks of a high-priority media go before those of a low one.
    const job = await this.#queue.add('chunk', data, { priority, attempts: CHUNK_ATTEMPTS, removeOnComplete: { age: 3600 }, removeOnFail: { age: 3600 } });
    const id = job.id!;
    let ended = false;
    let wake: () => void = () => undefined;
    this.#waiters.set(id, { wake: () => wake(), onProgress });
    const onAbort = (): void => wake();
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      for (;;) {
        signal.throwIfAborted();
        // The state first, then the job: a job read before it completed has no return value yet,
        // while one read after seeing "completed" always has it (BullMQ stores both in one step).
        const state = await this.#queue.getJobState(id);
        if (state === 'completed' || state === 'failed' || state === 'unknown') {
          ended = true;
          const current = await Job.fromId<ChunkJob>(this.#queue, id);
          if (!current) throw new Error('the chunk job vanished from the queue');
          if (state === 'failed') throw new Error(current.failedReason || 'the chunk job failed');
          const result = ChunkResult.parse(current.returnvalue);
          if (pieces) await pieces.fetch(unit, signal);
          return result;
        }
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, SAFETY_CHECK_MS);
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
          if (signal.aborted) wake();
        });
      }
    } finally {
      this.#waiters.delete(id);
      signal.removeEventListener('abort', onAbort);
      if (!ended) await this.#abandon(job);
    }
  }

  /** A job still waiting is dropped; one a worker holds is cancelled there, which stops its FFmpeg. */
  async #abandon(job: Job<ChunkJob>): Promise<void> {
    const removed = await job.remove().then(() => true, () => false);
    // The coordinator tells the worker holding it (cancel, stop, a failed sibling).
    if (!removed) await publishAbort(this.#publisher, this.#settings.prefix, { kind: 'chunk', jobId: job.id! }).catch(() => undefined);
  }

  close(): Promise<void> {
    return (this.#closing ??= (async () => {
      const events = await this.#events?.catch(() => undefined);
      await Promise.allSettled([this.#queue.close(), events?.close(), this.#publisher.quit()]);
    })());
  }
}

/** Every worker process's side: runs chunk jobs with its own FFmpeg, `concurrency` at once. */
export class BullChunkWorkers {
  readonly #worker: Worker<ChunkJob>;
  readonly #aborts: AbortListener;
  readonly #processor: ChunkProcessor;
  #closing: Promise<void> | undefined;

  constructor(settings: ChunkSettings & { concurrency: number; processor: ChunkProcessor }) {
    this.#processor = settings.processor;
    const me = `${hostname()}:${process.pid}`;
    this.#worker = new Worker<ChunkJob>(QUEUE, async (job, _token, signal) => {
      const data = ChunkJob.safeParse(job.data);
      if (!data.success) throw new UnrecoverableError('a chunk job without a valid command');
      let last = 0;
      settings.log.info({ mediaId: data.data.mediaId, job: job.id }, 'chunk taken from the queue');
      try {
        const r = await settings.processor.run(data.data, signal!, (fraction) => {
          if (Date.now() - last < PROGRESS_EVERY_MS) return;
          last = Date.now();
          void job.updateProgress(fraction).catch(() => undefined);
        });
        return { ...r, worker: me };
      } catch (err) {
        if (signal?.reason === ABANDONED) throw new UnrecoverableError('the media no longer needs this chunk');
        if (signal?.aborted) throw err;
        // FFmpeg failing on a chunk fails the same way elsewhere: no retry.
        throw new UnrecoverableError(err instanceof Error ? err.message : String(err));
      }
    }, {
      connection: redisConnection(settings.redisUrl),
      prefix: settings.prefix,
      concurrency: settings.concurrency,
      ...leaseOptions(settings.lockMs),
      autorun: false,
    });
    this.#worker.on('error', (err) => settings.log.error({ err: err.message }, 'chunk worker connection error'));
    this.#aborts = new AbortListener(redisConnection(settings.redisUrl), settings.prefix, settings.log, (message) => {
      if (message.kind === 'chunk' && this.#worker.cancelJob(message.jobId, ABANDONED)) settings.log.info({ job: message.jobId }, 'chunk abandoned by its media; FFmpeg stopped');
    });
  }

  /** Subscribes to chunk aborts before taking any chunk. */
  async start(): Promise<void> {
    await this.#aborts.start();
    void this.#worker.run().catch(() => undefined);
  }

  close(): Promise<void> {
    return (this.#closing ??= (async () => {
      this.#worker.cancelAllJobs('shutdown');
      await this.#worker.close().catch(() => undefined);
      await this.#aborts.close();
      await this.#processor.close();
    })());
  }
}
