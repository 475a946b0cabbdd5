import { DelayedError, Queue, Worker, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { z } from 'zod';
import { QueueUnavailableError, RetryLater, resumeNoteOf, retryDelayMs, type AbortReason, type MediaProcessor, type MediaQueue } from './types.ts';
import { bullPriority, queueName, ROUTED_TAGS, tagSubsets } from './route.ts';
import { nextUp, queuesToRun } from './scheduler.ts';
import { AbortListener, publishAbort, type AbortMessage } from './abort-channel.ts';
import { redactError, redisConnection } from './redis.ts';

export { redisConnection } from './redis.ts';

/**
 * The cluster queue: one BullMQ job per media (job id `media-<id>`, so a media is never queued
 * twice), in the queue of the capability tags its formats need (`media`, `media-hevc`, ...).
 * API processes hold a {@link BullMediaQueue}; worker processes run {@link BullWorkers}.
 * The store stays the truth: a job only says "look at media N".
 */

export interface BullSettings {
  redisUrl: string;
  /** Prefix of every key; one per installation (and per test) sharing a Redis. */
  prefix: string;
  /** How long a worker's lock on a job lives without renewal. */
  lockMs: number;
  log: Logger;
}

/** What the queue needs to know about a media to place it; null when it is gone. */
export interface MediaRoute {
  /** Our scale: -50 (last) to 50 (first). */
  priority: number;
  tags: string[];
}

const JobData = z.object({
  mediaId: z.number().int().positive(),
  /** Runs in a row that hit an infrastructure fault (RetryLater), and the last one's reason. */
  retry: z.object({ failures: z.number().int().positive(), reason: z.string() }).optional(),
});
type JobData = z.infer<typeof JobData>;

function mediaIdOf(data: unknown): number | undefined {
  const parsed = JobData.safeParse(data);
  return parsed.success ? parsed.data.mediaId : undefined;
}

/** Reasons after which the media is handed back to the queue for another worker, not dropped. */
const HAND_BACK: readonly unknown[] = ['shutdown', 'lock-lost'];
const ABORT_POLL_MS = 100;
/**
 * How long an action waits for Redis before answering anyway. The store holds the media: a job
 * not added in time is added when Redis answers again (or by the sweep, reconcile.ts), so a
 * frozen Redis delays the work, never the client (who would time out and send it again).
 */
export const QUEUE_WAIT_MS = 500;


/** BullMQ refuses numeric custom ids (they would clash with its own counter). */
const jobIdOf = (mediaId: number): string => `media-${mediaId}`;

/** The API side: enqueue, abort, counts. Every queue a route can name is opened up front. */
export class BullMediaQueue implements MediaQueue {
  readonly #queues = new Map<string, Queue<JobData>>();
  readonly #settings: BullSettings;
  readonly #route: (mediaId: number) => Promise<MediaRoute | null>;
  readonly #held: (mediaId: number) => Promise<boolean>;
  readonly #publisher: Redis;
  #ping: Promise<boolean> | undefined;
  #counts = { waiting: 0, running: 0, at: 0 };
  #closing: Promise<void> | undefined;

  /** `held`: whether a worker holds the media in the store now (a live lease, queue/lease.ts). */
  constructor(settings: BullSettings, route: (mediaId: number) => Promise<MediaRoute | null>, held: (mediaId: number) => Promise<boolean>) {
    this.#settings = settings;
    this.#route = route;
    this.#held = held;
    const connection = redisConnection(settings.redisUrl);
    this.#publisher = new Redis(connection);
    this.#publisher.on('error', (err) => settings.log.error({ err: redactError(err) }, 'abort channel error'));
    for (const tags of tagSubsets(ROUTED_TAGS)) {
      const name = queueName(tags);
      const queue = new Queue<JobData>(name, { connection, prefix: settings.prefix });
      queue.on('error', (err) => settings.log.error({ err: redactError(err), queue: name }, 'queue connection error'));
      this.#queues.set(name, queue);
    }
  }

  /** Resolves once Redis answers, so a wrong URL fails the start instead of the first AddMedia. */
  async ready(): Promise<void> {
    await Promise.all([...this.#queues.values()].map((q) => q.waitUntilReady()));
  }

  async enqueue(mediaId: number): Promise<void> {
    const route = await this.#route(mediaId);
    if (!route) return;
    const queue = this.#queues.get(queueName(route.tags))!;
    // Finished jobs are removed at once: a job id still held by a finished job would swallow the
    // next enqueue of the same media (a restart).
    const adding = queue.add('media', { mediaId }, {
      jobId: jobIdOf(mediaId),
      priority: bullPriority(route.priority),
      removeOnComplete: true,
      removeOnFail: true,
    });
    if (await settlesWithin(adding, QUEUE_WAIT_MS)) return;
    this.#settings.log.warn({ mediaId }, 'the queue does not answer: the media is queued when it does (or by the next sweep)');
    adding.catch((err: unknown) => this.#settings.log.error({ err: redactError(err), mediaId }, 'queueing a media failed; the sweep queues it'));
  }

  /** Whether the queue holds a job for the media (waiting, delayed or being run). */
  async holds(mediaId: number): Promise<boolean> {
    const states = await Promise.all([...this.#queues.values()].map((q) => q.getJobState(jobIdOf(mediaId))));
    return states.some((s) => s !== 'unknown' && s !== 'completed' && s !== 'failed');
  }

  /**
   * Whether Redis answers a PING within `timeoutMs`. One PING at a time: while Redis is frozen,
   * health checks share the one in flight instead of piling up more.
   */
  async connected(timeoutMs = QUEUE_WAIT_MS): Promise<boolean> {
    const ping = (this.#ping ??= this.#publisher
      .ping()
      .then((r) => r === 'PONG')
      .catch(() => false)
      .finally(() => (this.#ping = undefined)));
    return (await settlesWithin(ping, timeoutMs)) ? ping : false;
  }

  /**
   * Claims the cluster's next sweep: true for one caller per `periodMs` across every node. The
   * claim is left to expire rather than released, so the nodes' timers need not agree.
   */
  async claimSweep(periodMs: number): Promise<boolean> {
    const claim = this.#publisher.set(`${this.#settings.prefix}:encodery:sweep`, String(process.pid), 'PX', Math.max(1, periodMs - 100), 'NX');
    if (await settlesWithin(claim, QUEUE_WAIT_MS)) return (await claim) === 'OK';
    claim.catch(() => undefined);
    return false;
  }

  /**
   * A waiting job is removed. A job a worker holds cannot be (BullMQ refuses while its lock is
   * alive), nor can a run be stopped by removing its job: so the workers are told, and this
   * retries until neither the queue's lock nor the store lease holds the media any more (the
   * holder has let go, or its hold has expired because it is dead); the message is repeated in
   * case a worker missed it. When Redis does not answer, see the end.
   */
  async abort(mediaId: number, reason: AbortReason): Promise<void> {
    const jobId = jobIdOf(mediaId);
    const message: AbortMessage = { kind: 'media', mediaId, reason };
    const deadline = Date.now() + 2 * this.#settings.lockMs + 60_000;
    let answered = false;
    let givenUp = false;
    const aborting = (async () => {
      for (;;) {
        let held = false;
        for (const q of this.#queues.values()) if ((await q.remove(jobId)) === 0) held = true;
        answered = true;
        if (givenUp) return;
        // A run can outlive its job (Redis lost the lock or the job): its store lease still says so.
        if (!held && !(await this.#held(mediaId))) return;
        if (Date.now() > deadline) throw new Error(`the worker running media ${mediaId} did not let go of it`);
        await publishAbort(this.#publisher, this.#settings.prefix, message);
        await new Promise((r) => setTimeout(r, ABORT_POLL_MS));
      }
    })();
    if ((await settlesWithin(aborting, QUEUE_WAIT_MS)) || answered) return aborting;
    // Redis does not answer. With no worker holding the media in the store, only a waiting job
    // can exist: it is removed when Redis is back, and a worker that gets it first finds the
    // media changed in the store. A worker running it cannot be told: the caller must not go on.
    if (await this.#held(mediaId)) {
      givenUp = true;
      aborting.catch(() => undefined);
      throw new QueueUnavailableError(`the queue (Redis) does not answer, and media ${mediaId} is being processed: it cannot be interrupted now`);
    }
    aborting.catch((err: unknown) => this.#settings.log.error({ err: redactError(err), mediaId }, 'taking a media out of the queue failed'));
  }

  /** Cluster-wide counts for the metrics, refreshed at most once a second in the background. */
  get waiting(): number {
    this.#refreshCounts();
    return this.#counts.waiting;
  }

  get running(): number {
    this.#refreshCounts();
    return this.#counts.running;
  }

  #refreshCounts(): void {
    if (Date.now() - this.#counts.at < 1000 || this.#closing) return;
    this.#counts.at = Date.now();
    void Promise.all([...this.#queues.values()].map((q) => q.getJobCounts('wait', 'prioritized', 'delayed', 'active')))
      .then((all) => {
        this.#counts.waiting = all.reduce((n, c) => n + (c.wait ?? 0) + (c.prioritized ?? 0) + (c.delayed ?? 0), 0);
        this.#counts.running = all.reduce((n, c) => n + (c.active ?? 0), 0);
      })
      .catch(() => undefined);
  }

  close(): Promise<void> {
    return (this.#closing ??= Promise.allSettled([...[...this.#queues.values()].map((q) => q.close()), this.#publisher.quit()]).then(() => undefined));
  }
}

export interface WorkerSettings extends BullSettings {
  /** Media this process runs at once, across all its queues. */
  concurrency: number;
  /** Capability tags of this worker. */
  tags: string[];
  /**
   * BullMQ gave up on a media: it stalled (its worker died) more often than allowed. Called in
   * the worker that drew the job, which must end the media in the store (nothing else will).
   */
  onGivenUp(mediaId: number, reason: string): Promise<void>;
}

/** Times a media may lose its worker (killed, out of memory) and still be passed on. */
export const MAX_STALLS = 2;

/**
 * How a worker holds its jobs, for media and chunks alike: a lock renewed while it runs, checked
 * for stalls twice per lock period, so a worker that dies loses its job to another.
 */
export function leaseOptions(lockMs: number) {
  return {
    lockDuration: lockMs,
    stalledInterval: Math.max(500, Math.round(lockMs / 2)),
    // A job that keeps killing its workers is not passed on forever.
    maxStalledCount: MAX_STALLS,
    // A job handed back (paused, shutting down) is found by other workers within a second.
    drainDelay: 1,
  };
}

/** A lost lock is reported once a minute per job, not at every renewal attempt. */
const LOCK_LOST_REPEAT_MS = 60_000;

/** How often a worker with a free slot looks again at which of its queues holds the next media. */
const SELECT_EVERY_MS = 1000;

/**
 * The worker side: one BullMQ Worker per queue this process may take from (the plain one and one
 * per combination of its tags), sharing `concurrency` slots. When the slots are full every Worker
 * is paused, so that an idle worker elsewhere gets the next media; a job fetched in the moment
 * before the pause is handed straight back.
 *
 * BullMQ orders each queue by priority, but not across queues. So while a slot is free and media
 * wait, only the Worker of the queue whose next media comes first (priority, then age) runs; the
 * others are paused. When nothing waits every Worker runs, so a new media is taken at once
 * (scheduler.ts decides which).
 */
export class BullWorkers {
  readonly #workers: Worker<JobData>[] = [];
  /** The same queues seen from the producer side, to peek at what each gives out next. */
  readonly #queues: Queue<JobData>[] = [];
  /** Names of the queues this process takes from right now. */
  #allowed = new Set<string>();
  readonly #settings: WorkerSettings;
  readonly #process: MediaProcessor;
  #busy = 0;
  /**
   * Runs in a row, on any media, that hit an infrastructure fault, and until when this process
   * takes no media because of them: while the store is down, trying the next media would only
   * fail again, so the queue is not run through (each media sent back) but left waiting.
   */
  #faults = 0;
  #holdUntil = 0;
  readonly #aborts: AbortListener;
  #closing: Promise<void> | undefined;
  #selecting: Promise<void> | undefined;
  #selectAgain = false;
  #selectTimer: NodeJS.Timeout | undefined;
  /** When each job's lost lock was last reported (BullMQ retries the renewal, and reports it, until the run ends). */
  readonly #lockLost = new Map<string, number>();

  constructor(settings: WorkerSettings, process: MediaProcessor) {
    this.#settings = settings;
    this.#process = process;
    const connection = redisConnection(settings.redisUrl);
    const routed = settings.tags.filter((t) => ROUTED_TAGS.includes(t));
    // Most specific queue first: work only this worker can do is what it should prefer.
    const names = tagSubsets(routed).map(queueName).reverse();
    for (const name of names) {
      const worker = new Worker<JobData>(name, (job, token, signal) => this.#run(job, token, signal!), {
        connection,
        prefix: settings.prefix,
        concurrency: settings.concurrency,
        ...leaseOptions(settings.lockMs),
        autorun: false,
      });
      worker.on('error', (err) => {
        // BullMQ says so on every renewal attempt; lockRenewalFailed below reports it once.
        if (err.message.startsWith('could not renew lock')) return;
        settings.log.error({ err: redactError(err), queue: name }, 'worker connection error');
      });
      worker.on('failed', (job, err) => {
        const data = job ? JobData.safeParse(job.data) : undefined;
        if (!data?.success) return;
        settings.log.error({ mediaId: data.data.mediaId, reason: err.message }, 'queue gave up on a media');
        settings.onGivenUp(data.data.mediaId, err.message).catch((e: unknown) => settings.log.error({ err: e }, 'ending a given-up media failed'));
      });
      worker.on('lockRenewalFailed', (ids) => {
        // Redis was away longer than the lock. The run goes on: the store lease (queue/lease.ts)
        // says whose the media is, and a worker given the job meanwhile leaves it to this one.
        const now = Date.now();
        const fresh = ids.filter((id) => now - (this.#lockLost.get(id) ?? 0) > LOCK_LOST_REPEAT_MS);
        if (this.#lockLost.size > 10_000) this.#lockLost.clear();
        for (const id of fresh) this.#lockLost.set(id, now);
        if (fresh.length > 0) settings.log.warn({ jobIds: fresh }, 'the queue lost its lock on running media; they carry on under their store lease');
      });
      this.#workers.push(worker);
      const queue = new Queue<JobData>(name, { connection, prefix: settings.prefix });
      queue.on('error', (err) => settings.log.error({ err: redactError(err), queue: name }, 'queue connection error'));
      this.#queues.push(queue);
    }
    this.#aborts = new AbortListener(connection, settings.prefix, settings.log, (message) => {
      if (message.kind !== 'media') return;
      for (const w of this.#workers) w.cancelJob(jobIdOf(message.mediaId), message.reason);
    });
  }

  get running(): number {
    return this.#busy;
  }

  /** Subscribes to aborts first, so that no abort of a media this process takes is missed. */
  async start(): Promise<void> {
    await this.#aborts.start();
    // The first choice is made before any Worker fetches, so media already waiting start in order.
    await this.#selectOnce().catch((err: unknown) => {
      // Redis not answering yet: every queue runs, and BullMQ reconnects and retries.
      this.#settings.log.error({ err: redactError(err) }, 'choosing a queue failed');
      this.#apply(new Set(this.#workers.map((w) => w.name)));
    });
    this.#selectTimer = setInterval(() => this.#select(), SELECT_EVERY_MS);
    this.#selectTimer.unref();
  }

  /** Re-runs the choice of queues; calls that come while one runs are folded into one more run. */
  #select(): void {
    if (this.#closing) return;
    if (this.#selecting) {
      this.#selectAgain = true;
      return;
    }
    this.#selecting = (async () => {
      do {
        this.#selectAgain = false;
        await this.#selectOnce();
      } while (this.#selectAgain && !this.#closing);
    })()
      .catch((err: unknown) => this.#settings.log.error({ err: redactError(err) }, 'choosing a queue failed'))
      .finally(() => {
        this.#selecting = undefined;
        // Asked for again after the loop's last check: not lost.
        if (this.#selectAgain) this.#select();
      });
  }

  async #selectOnce(): Promise<void> {
    if (this.#closing) return;
    if (this.#busy >= this.#settings.concurrency || Date.now() < this.#holdUntil) {
      this.#apply(new Set());
      return;
    }
    const heads = await Promise.all(this.#queues.map((q) => nextUp(q, mediaIdOf)));
    // A slot may have been taken while Redis answered.
    if (this.#busy >= this.#settings.concurrency || this.#closing) return;
    this.#apply(queuesToRun(this.#workers.map((w) => w.name), heads));
  }

  /** Runs the Workers of these queues, pauses the others. */
  #apply(allowed: Set<string>): void {
    this.#allowed = allowed;
    for (const w of this.#workers) {
      if (!allowed.has(w.name)) {
        if (!w.isPaused()) void w.pause(true).catch(() => undefined);
      } else if (w.isPaused()) {
        w.resume();
      } else if (!w.isRunning()) {
        // Never started, or its loop ended in the moment a resume came: start it (again).
        void w.run().catch((err: unknown) => this.#settings.log.error({ err: redactError(err) }, 'worker stopped'));
      }
    }
  }

  async #run(job: Job<JobData>, token: string | undefined, signal: AbortSignal): Promise<void> {
    const data = JobData.safeParse(job.data);
    if (!data.success) {
      this.#settings.log.error({ jobId: job.id }, 'dropping a queue job that names no media');
      return;
    }
    // A paused Worker can still receive the media its last fetch was waiting for: hand it back.
    if (!this.#allowed.has(job.queueName) || !this.#take()) throw Worker.RateLimitError();
    const { mediaId, retry } = data.data;
    this.#settings.log.info({ mediaId, queue: job.queueName }, 'media taken from the queue');
    let retryLater: RetryLater | undefined;
    try {
      await this.#process(mediaId, signal, retry ? resumeNoteOf(retry.reason, retry.failures) : undefined);
      this.#faults = 0;
    } catch (err) {
      if (err instanceof RetryLater && !signal.aborted) {
        retryLater = err;
        // Held off before the slot is given back, so that the free slot fetches nothing meanwhile.
        this.#holdUntil = Date.now() + retryDelayMs(++this.#faults);
      } else this.#settings.log.error({ err, mediaId }, 'worker crashed on a media');
    } finally {
      this.#give();
    }
    if (retryLater) await this.#retryLater(job, token, mediaId, (retry?.failures ?? 0) + 1, retryLater.message);
    // Back to the front of its queue; the pipeline resumes after the last step it finished.
    if (signal.aborted && HAND_BACK.includes(signal.reason)) throw Worker.RateLimitError();
  }

  /**
   * The media is not at fault (its store could not be reached): the job goes to BullMQ's delayed
   * set and comes back after a growing delay, to whichever worker is free. It is neither
   * completed (which would drop the media) nor failed (which would count against it).
   */
  async #retryLater(job: Job<JobData>, token: string | undefined, mediaId: number, failures: number, reason: string): Promise<never> {
    const delayMs = retryDelayMs(failures);
    this.#settings.log.warn({ mediaId, failures, delayMs, reason }, 'media goes back to the queue: it is tried again later');
    try {
      await job.updateData({ mediaId, retry: { failures, reason } });
      await job.moveToDelayed(Date.now() + delayMs, token);
    } catch (err) {
      // Not delayed (Redis hiccuped too): straight back to the queue rather than failed.
      this.#settings.log.warn({ err: redactError(err), mediaId }, 'delaying a media failed; it goes back to the queue now');
      throw Worker.RateLimitError();
    }
    throw new DelayedError();
  }

  #take(): boolean {
    if (this.#closing || this.#busy >= this.#settings.concurrency || Date.now() < this.#holdUntil) return false;
    this.#busy++;
    if (this.#busy >= this.#settings.concurrency) this.#apply(new Set());
    // With a slot still free, the queue holding the next media may have changed.
    else this.#select();
    return true;
  }

  #give(): void {
    this.#busy--;
    this.#select();
  }

  /**
   * Graceful stop: media being processed are interrupted and handed back to the queue, where
   * another worker resumes them at once (an encode may run for hours; a stop should not wait).
   */
  close(): Promise<void> {
    return (this.#closing ??= (async () => {
      clearInterval(this.#selectTimer);
      for (const w of this.#workers) w.cancelAllJobs('shutdown');
      await Promise.allSettled(this.#workers.map((w) => w.close()));
      await this.#selecting;
      await Promise.allSettled(this.#queues.map((q) => q.close()));
      await this.#aborts.close();
    })());
  }
}

/** Whether `p` settles within `ms` (true), rethrowing its error if it fails in time. */
async function settlesWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), ms)));
  try {
    return await Promise.race([p.then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
