import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import os from 'node:os';
import type { Logger } from 'pino';
import type { FastifyInstance } from 'fastify';
import { ConfigError, type Config, type User } from './config.ts';
import { createStore, storeAnswers, type Db, type StoreHealth } from './store/db.ts';
import { describeStoreFault, retryWhileUnavailable, type RetryOptions } from './store/faults.ts';
import { getMedia, getTasks, listUnfinished } from './store/repo.ts';
import { Lifecycle, type Change } from './store/lifecycle.ts';
import { ACTIVE_MEDIA_STATUSES, isFinalMedia } from './domain/status.ts';
import { crashPointOf } from './domain/lifecycle.ts';
import { InProcessQueue } from './queue/in-process.ts';
import type { BullMediaQueue, BullWorkers, MediaRoute } from './queue/bullmq.ts';
import { MediaLeases } from './queue/lease.ts';
import { Reconciler } from './queue/reconcile.ts';
import { liveLease } from './store/lease.ts';
import { healthCheck, startHealthServer } from './health.ts';
import type { BullChunkWorkers } from './queue/bull-chunks.ts';
import { ChunkSources, type SplitPieces } from './pipeline/split/pieces.ts';
import { chunkProcessor } from './pipeline/split/chunk-processor.ts';
import { RetryLater, type MediaProcessor, type MediaQueue } from './queue/types.ts';
import { requiredTags } from './queue/route.ts';
import { parsePriority } from './domain/priority.ts';
import type { FieldMap } from './domain/fields.ts';
import { mediaDirs } from './domain/layout.ts';
import { createMediaProcessor, type PipelineEvents, type PipelineLifecycle } from './pipeline/media-run/index.ts';
import { EncoderSlots } from './pipeline/encoder-slots.ts';
import { SharedStorage } from './storage/shared-storage.ts';
import { Outbox } from './notify/outbox.ts';
import { notifySecret } from './notify/sign.ts';
import { Users } from './api/auth.ts';
import { buildApp } from './api/app.ts';
import { Metrics, type QueueView } from './metrics.ts';
import { checkFfmpeg } from './pipeline/ffmpeg/version.ts';
import { StatusCache } from './api/actions/status-cache.ts';
import { fileRootsFor } from './domain/file-roots.ts';
import { createLogger } from './log.ts';
import { watchMediaEnds } from './media-ends.ts';
import { mediaOptions } from './domain/media-options.ts';
import { SECRET_KEY_SETTING, parseSealingKey, sealingKeyOf } from './domain/sealed.ts';
import { sealClearSecrets } from './store/reseal.ts';

export interface RunningServer {
  app: FastifyInstance;
  db: Db;
  url: string;
  users: readonly User[];
  /** Whether the store is ready and answers now (/healthz reports it). */
  storeHealth: StoreHealth;
  /** Graceful stop: no new work, running media interrupted and resumed at the next start. */
  close(): Promise<void>;
}

export interface StartOptions {
  log?: Logger;
  /** Called once with a user created on first start (its key is shown only then). */
  onUserCreated?: (user: User, file: string) => void;
  /** The result of a check the caller already made, so start-up does not run FFmpeg twice. */
  ffmpegChecked?: boolean;
  /** The FFmpeg version that check found (for encodery_build_info). */
  ffmpegVersion?: string;
}

/** How often /healthz's view of FFmpeg is refreshed (a binary can vanish under a running server). */
const FFMPEG_RECHECK_MS = 60_000;

/** A process with the worker role only: no HTTP port; it takes media from the cluster queue. */
export interface RunningWorker {
  db: Db;
  /** Whether the store answers now, for the worker's health checks. */
  storeHealth: StoreHealth;
  /** Where ENCODERY_HEALTH_PORT serves /healthz and /metrics; null when it is not set. */
  healthUrl: string | null;
  /** Graceful stop: running media are interrupted and handed back to the queue for another worker. */
  close(): Promise<void>;
}

/** FFmpeg's usability for /healthz, rechecked off the request path (a binary can vanish under a running process). */
async function watchFfmpeg(config: Config, opts: StartOptions, onVersion: (version: string) => void) {
  const paths = { ffmpeg: config.ffmpeg, ffprobe: config.ffprobe };
  const checked = (r: Awaited<ReturnType<typeof checkFfmpeg>>): boolean => {
    if (r.ok) onVersion(r.version);
    return r.ok;
  };
  if (opts.ffmpegChecked && opts.ffmpegVersion) onVersion(opts.ffmpegVersion);
  let ready = opts.ffmpegChecked ?? checked(await checkFfmpeg(paths));
  const timer = setInterval(() => void checkFfmpeg(paths).then((r) => (ready = checked(r))), FFMPEG_RECHECK_MS);
  timer.unref();
  return { ready: () => ready, stop: () => clearInterval(timer) };
}

/** What every role shares: users, store, notifications and the pipeline's events. */
async function openCore(config: Config, opts: StartOptions) {
  const log = opts.log ?? createLogger(config.logLevel, undefined, config.logFormat);
  fs.mkdirSync(config.dataDir, { recursive: true });
  // Checked before anything opens: a storage nobody can write must stop the start.
  const storage = SharedStorage.from(config);
  const users = new Users(config.users ?? loadOrCreateUsers(config.dataDir, opts.onUserCreated));
  const fileRoots = fileRootsFor(config, users.all.map((u) => u.id));
  for (const root of config.fileRoots) fs.mkdirSync(root, { recursive: true });
  // A user's own folders exist from the start: writes below them are checked against them.
  for (const u of users.all) for (const root of fileRoots(u.id).own) fs.mkdirSync(root, { recursive: true });
  // Made without touching the database: start-up waits for it below (waitForStore).
  const store = createStore(config);
  const db = store.db;
  let storeReady = false;
  const storeHealth: StoreHealth = { ready: () => storeReady, healthy: async () => storeReady && (await storeAnswers(db)) };
  /**
   * Brings the schema up to date, waiting (a log line per attempt) while the store cannot be
   * reached: a process started during a database outage carries on once it is back.
   */
  const waitForStore = async (): Promise<void> => {
    await store.prepare(storeRetry(log, 'bringing the schema up to date'));
    storeReady = true;
  };
  let queue: QueueView | undefined;
  let ffmpegVersion: string | null = null;
  const metrics = new Metrics(db, { queue: () => queue, ffmpegVersion: () => ffmpegVersion });
  // Derived once at start: each user's notification secret (notify/sign.ts).
  const secrets = new Map(users.all.map((u) => [u.id, notifySecret(u.key)]));
  const outbox = new Outbox(db, log.child({ part: 'notify' }), {
    allowPrivateNetwork: config.allowPrivateNetwork,
    retryDelaysMs: config.notifyRetryDelaysMs,
    sendTimeoutMs: config.notifyTimeoutSeconds * 1000,
    secretFor: (userId) => secrets.get(userId) ?? null,
    onAttempt: (kind, ok, givenUp) => {
      metrics.notifyAttempts.inc({ kind, outcome: ok ? 'ok' : 'error' });
      if (givenUp) metrics.notifyGivenUp.inc({ kind });
    },
  });
  // Every status change, with the notifications it triggers, in one transaction.
  const mediaEnds = watchMediaEnds(db, metrics, log);
  const crash = crashAfter(config.testCrashAt);
  const lifecycle: PipelineLifecycle = new Lifecycle(db, {
    outbox,
    afterCommit: (changes) => {
      mediaEnds(changes);
      crash?.(changes);
    },
  });
  const events: PipelineEvents = {
    taskEncoded: (seconds, output, outcome) => metrics.taskSeconds.observe({ output, outcome }, seconds),
    transferred: (t) => metrics.transferred(t),
  };
  // Cluster workers hand split-and-stitch chunks to the whole cluster through their own queue.
  const chunks = config.redisUrl && config.role !== 'api' ? new (await bullChunks()).BullChunkQueue(bullSettings(config, log)) : null;
  const encoderSlots = new EncoderSlots(config.workers);
  const pipeline = createMediaProcessor({ db, lifecycle, config, log, events, storage, encoderSlots, fileRoots, ...(chunks ? { chunkExecutor: (id: number, pieces: SplitPieces | null, priority: number) => chunks.executor(id, pieces, priority) } : {}) });
  return {
    log, users, fileRoots, db, lifecycle, storeHealth, waitForStore, metrics, outbox, events, pipeline, storage, chunks,
    setQueue: (q: QueueView) => (queue = q),
    setFfmpegVersion: (v: string) => (ffmpegVersion = v),
  };
}

/** Waits out an unreachable store during a start-up step, logging each attempt. */
function storeRetry(log: Logger, step: string): RetryOptions {
  return {
    onRetry: (attempt, delayMs, err) => log.warn({ attempt, retryInMs: delayMs, reason: describeStoreFault(err) }, `waiting for the store (${step}): it cannot be reached; trying again`),
  };
}

/**
 * A run that could not reach the store is not the media's fault: the queue is told to run it
 * again later (RetryLater) instead of dropping or failing it.
 */
function retryOnStoreFault(process: MediaProcessor): MediaProcessor {
  return async (mediaId, signal, resumeNote) => {
    try {
      await process(mediaId, signal, resumeNote);
    } catch (err) {
      const fault = describeStoreFault(err);
      throw fault ? new RetryLater(fault, { cause: err }) : err;
    }
  };
}

async function chunkWorkers(config: Config, log: Logger, storage: SharedStorage | null): Promise<BullChunkWorkers> {
  const sources = storage ? new ChunkSources(storage, config.dataDir, log.child({ part: 'chunks' })) : null;
  const processor = chunkProcessor({ ffmpeg: config.ffmpeg, threads: config.ffmpegThreads, sources });
  const w = new (await bullChunks()).BullChunkWorkers({ ...bullSettings(config, log), concurrency: config.splitConcurrency, processor });
  await w.start();
  return w;
}

/** Media a process takes from the queue at once: one per encoder, and more that fetch their sources meanwhile. */
function mediaAtOnce(config: Config): number {
  return config.workers + config.downloads;
}

/**
 * The BullMQ side, loaded only by a process in cluster mode: BullMQ and ioredis are a large part of
 * a start-up's CPU, which every embedded server (and each test file) would pay for nothing.
 */
const bullMedia = () => import('./queue/bullmq.ts');
const bullChunks = () => import('./queue/bull-chunks.ts');

function bullSettings(config: Config, log: Logger) {
  return { redisUrl: config.redisUrl!, prefix: config.queuePrefix, lockMs: config.queueLockSeconds * 1000, log: log.child({ part: 'queue' }) };
}

type Core = Awaited<ReturnType<typeof openCore>>;

/** The producer side of the cluster queue, which every role has: AddMedia's, and the sweep's. */
async function clusterQueue(config: Config, log: Logger, db: Db): Promise<BullMediaQueue> {
  const queue = new (await bullMedia()).BullMediaQueue(bullSettings(config, log), mediaRoute(db), async (mediaId) => (await liveLease(db, mediaId, Date.now())) !== null);
  await queue.ready();
  return queue;
}

/** The cluster's media workers of this process, holding each media by a store lease as well. */
async function mediaWorkers(config: Config, core: Core): Promise<BullWorkers> {
  const { log, db } = core;
  const workerId = `${os.hostname()}/${process.pid}/${crypto.randomBytes(3).toString('hex')}`;
  const leases = new MediaLeases({ db, workerId, leaseMs: config.queueLockSeconds * 1000, log: log.child({ part: 'lease' }) });
  const workers = new (await bullMedia()).BullWorkers(
    { ...bullSettings(config, log), concurrency: mediaAtOnce(config), tags: config.workerTags, onGivenUp: givenUp(db, core.lifecycle, log) },
    clusterProcessor(db, config.dataDir, core.pipeline, leases, core.storage, log),
  );
  await workers.start();
  return workers;
}

function reconciler(config: Config, core: Core, queue: BullMediaQueue): Reconciler {
  const sweeper = new Reconciler({
    db: core.db,
    queue,
    everyMs: config.sweepSeconds * 1000,
    log: core.log.child({ part: 'sweep' }),
    onRequeued: (reason) => core.metrics.requeued.inc({ reason }),
    onSwept: (at) => core.metrics.lastSweep.set(at / 1000),
  });
  sweeper.start();
  return sweeper;
}

/**
 * In a cluster a job can reach a worker after the media moved on without it (a stalled job
 * coming back after StopMedia, a cancel that raced the queue): the store decides.
 */
function clusterProcessor(db: Db, dataDir: string, pipeline: MediaProcessor, leases: MediaLeases, storage?: SharedStorage | null, log?: Logger): MediaProcessor {
  return retryOnStoreFault(async (mediaId, signal, resumeNote) => {
    const media = await getMedia(db, mediaId);
    if (!media || media.deleted || isFinalMedia(media.status)) return;
    // Not ours while another live worker holds it in the store (a job redelivered after Redis lost its lock).
    if (!(await leases.run(mediaId, signal, (held) => pipeline(mediaId, held, resumeNote)))) return;
    // CancelMedia clears the folders on the API's machine; this worker's copies are its own to clear.
    if (signal.aborted && signal.reason === 'cancel') {
      const dirs = mediaDirs(dataDir, mediaId);
      await Promise.all([dirs.scratch, dirs.outputs].map((d) => fs.promises.rm(d, { recursive: true, force: true })));
      // An upload that was in flight when the API cleared the storage may have landed since.
      if (storage && log) await storage.removeMedia(mediaId, log);
    }
  });
}

/**
 * The queue gave up on a media whose workers kept dying under it: it ends in Error, with every
 * unfinished task, so that nothing stays in Processing; RestartMedia tries again.
 */
function givenUp(db: Db, lifecycle: Lifecycle, log: Logger) {
  return async (mediaId: number, reason: string): Promise<void> => {
    const media = await getMedia(db, mediaId);
    if (!media || media.deleted || isFinalMedia(media.status)) return;
    // Redis away longer than the lock looks like a dead worker to the queue; a live store lease
    // says the worker is alive and still encoding, so the queue's count is not held against it.
    const lease = await liveLease(db, mediaId, Date.now());
    if (lease) {
      log.warn({ mediaId, holder: lease.workerId, reason }, 'the queue gave up on a media that a live worker still holds: left to that worker');
      return;
    }
    const { MAX_STALLS } = await bullMedia();
    await lifecycle.giveUp(mediaId, `The workers processing this media stopped ${MAX_STALLS + 1} times without finishing it (killed or out of memory; queue: ${reason}). RestartMedia tries again.`);
  };
}

/**
 * ENCODERY_TEST_CRASH_AT: the process kills itself right after the named change commits. It
 * exists so that tests and `npm run chaos` can prove nothing is lost at that exact point (a kill
 * timed from outside cannot hit it); unset, it does nothing.
 */
function crashAfter(point: string | null): ((changes: readonly Change[]) => void) | undefined {
  if (!point) return undefined;
  return (changes) => {
    if (changes.some((c) => crashPointOf(c.entity, c.to) === point)) process.kill(process.pid, 'SIGKILL');
  };
}

/** A media's `priority` on our scale (stored validated; unreadable counts as normal); null when it is gone. */
function mediaPriority(db: Db) {
  return async (mediaId: number): Promise<number | null> => {
    const media = await getMedia(db, mediaId);
    if (!media || media.deleted) return null;
    const priority = parsePriority(mediaOptions(media.options).priority);
    return priority.ok ? priority.priority : 0;
  };
}

/** Where the cluster queue puts a media: its priority field and the tags its formats need. */
function mediaRoute(db: Db) {
  const priorityOf = mediaPriority(db);
  return async (mediaId: number): Promise<MediaRoute | null> => {
    // Both reads at once: this is on AddMedia's path in an API node.
    const [priority, tasks] = await Promise.all([priorityOf(mediaId), getTasks(db, mediaId)]);
    if (priority === null) return null;
    return { priority, tags: requiredTags(tasks.map((t) => JSON.parse(t.format) as FieldMap)) };
  };
}

/**
 * Assembles a process that answers the API: the embedded mode (SQLite store, in-process queue
 * and workers, HTTP API), or in a cluster the `api` role (enqueues on Redis) or `all` (API and
 * workers in one process).
 */
export async function startServer(config: Config, opts: StartOptions = {}): Promise<RunningServer> {
  if (config.role === 'worker') throw new Error('startServer answers the API; use startWorker for the worker role');
  config = withSealingKey(config);
  const core = await openCore(config, opts);
  const { log, users, db, lifecycle, metrics, outbox, storage, storeHealth } = core;

  let queue: MediaQueue;
  let workers: BullWorkers | undefined;
  let chunkers: BullChunkWorkers | undefined;
  let sweeper: Reconciler | undefined;
  let bull: BullMediaQueue | undefined;
  if (config.redisUrl) {
    bull = await clusterQueue(config, log, db);
    queue = bull;
  } else {
    const processor = retryOnStoreFault(core.pipeline);
    queue = new InProcessQueue(processor, mediaAtOnce(config), (mediaId, err) => log.error({ err, mediaId }, 'worker crashed on a media'), mediaPriority(db), (mediaId, failures, delayMs, reason) =>
      log.warn({ mediaId, failures, delayMs, reason }, 'media goes back to the queue: it is tried again later'));
  }
  core.setQueue(queue);

  // Checked off the request path: /healthz answers from the last result. An API node runs no
  // FFmpeg (the workers probe and encode), so it neither needs nor checks one.
  const ffmpeg = config.role !== 'api' ? await watchFfmpeg(config, opts, core.setFfmpegVersion) : null;
  const queueConnected = bull ? () => bull.connected() : null;

  let publicUrl = config.publicUrl ?? '';
  const app = buildApp({
    config,
    db,
    queue,
    lifecycle,
    log,
    users,
    metrics,
    publicUrl: () => publicUrl,
    statusCache: new StatusCache(),
    storage,
    fileRoots: core.fileRoots,
    storeHealth,
    health: healthCheck({ store: storeHealth, queueConnected, ffmpegReady: ffmpeg?.ready ?? null }),
  });

  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      ffmpeg?.stop();
      await sweeper?.close();
      await app.close().catch((err) => log.error({ err }, 'closing HTTP failed'));
      await workers?.close().catch((err) => log.error({ err }, 'closing workers failed'));
      await chunkers?.close();
      await core.chunks?.close();
      await queue.close().catch((err) => log.error({ err }, 'closing queue failed'));
      await outbox.close().catch((err) => log.error({ err }, 'closing outbox failed'));
      await db.destroy().catch((err) => log.error({ err }, 'closing store failed'));
    })());

  // The port opens before the store is ready: while it cannot be reached, /healthz says 503 and
  // every request is answered "try again later" instead of the connection being refused.
  await app.listen({ host: config.host, port: config.port });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  const url = `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`;
  if (!publicUrl) publicUrl = url;

  try {
    await core.waitForStore();
    await sealClearSecrets(db, sealingKeyOf(config)).then(
      (sealed) => Object.values(sealed).some((n) => n > 0) && log.info({ sealed }, 'secret fields stored in clear by an older version sealed'),
      (err: unknown) => log.warn({ err }, 'sealing secret fields stored in clear failed; they stay usable and are sealed at the next start'),
    );
    if (bull && config.role === 'all') {
      workers = await mediaWorkers(config, core);
      chunkers = await chunkWorkers(config, log, core.storage);
    }
    if (bull) sweeper = reconciler(config, core, bull);
    // What a previous process left unfinished is picked up again, in the order it was accepted.
    // In a cluster the job id is the media id, so a media still queued or running is not doubled.
    await retryWhileUnavailable(async () => {
      for (const { id } of await listUnfinished(db, ACTIVE_MEDIA_STATUSES)) await queue.enqueue(id);
    }, storeRetry(log, 'queueing unfinished media'));
    await retryWhileUnavailable(() => outbox.resume(), storeRetry(log, 'resuming notifications'));
  } catch (err) {
    await close();
    throw err;
  }
  return { app, db, url, users: users.all, storeHealth, close };
}

/** The cluster's `worker` role: processes media from the Redis queue; opens no port. */
export async function startWorker(config: Config, opts: StartOptions = {}): Promise<RunningWorker> {
  if (!config.redisUrl) throw new Error('the worker role needs ENCODERY_REDIS_URL');
  config = withSealingKey(config);
  const core = await openCore(config, opts);
  const { log, db, outbox, storeHealth } = core;
  const queue = await clusterQueue(config, log, db);
  // FFmpeg was checked before the start; a worker that cannot run it does not start at all.
  const ffmpeg = await watchFfmpeg(config, opts, core.setFfmpegVersion);
  const health = healthCheck({ store: storeHealth, queueConnected: () => queue.connected(), ffmpegReady: ffmpeg.ready });
  // The health port opens before the store is ready, so a worker waiting for it reports 503.
  const healthServer = config.healthPort === null ? null : await startHealthServer({ host: config.host, port: config.healthPort, health, metrics: core.metrics });
  let workers: BullWorkers | undefined;
  let chunkers: BullChunkWorkers | undefined;
  let sweeper: Reconciler | undefined;
  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      await sweeper?.close();
      ffmpeg.stop();
      await healthServer?.close();
      await workers?.close().catch((err) => log.error({ err }, 'closing workers failed'));
      await chunkers?.close();
      await core.chunks?.close();
      await queue.close().catch((err) => log.error({ err }, 'closing queue failed'));
      await outbox.close().catch((err) => log.error({ err }, 'closing outbox failed'));
      await db.destroy().catch((err) => log.error({ err }, 'closing store failed'));
    })());
  try {
    await core.waitForStore();
    workers = await mediaWorkers(config, core);
    chunkers = await chunkWorkers(config, log, core.storage);
  } catch (err) {
    await close();
    throw err;
  }
  const running = workers;
  // The worker's view for the metrics: cluster-wide waiting, its own running media, Redis up.
  core.setQueue({ get waiting() { return queue.waiting; }, get running() { return running.running; }, connected: () => queue.connected() });
  sweeper = reconciler(config, core, queue);
  return { db, storeHealth, healthUrl: healthServer?.url ?? null, close };
}

/**
 * ENCODERY_SECRET_KEY, or on a single machine a key made on the first start and kept in the data
 * dir (readable by this user only); processes sharing the data dir share it, other machines do not.
 */
function withSealingKey(config: Config): Config {
  if (config.secretKey) return config;
  fs.mkdirSync(config.dataDir, { recursive: true });
  const file = path.join(config.dataDir, 'secret.key');
  try {
    // wx: two processes starting at once on one data dir keep the first one's key.
    fs.writeFileSync(file, crypto.randomBytes(32).toString('hex') + '\n', { flag: 'wx', mode: 0o600 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  const key = parseSealingKey(fs.readFileSync(file, 'utf8'));
  if (!key) throw new ConfigError(`${file} does not hold a sealing key (64 hex digits); restore it, or set ${SECRET_KEY_SETTING}`);
  return { ...config, secretKey: key };
}

/** The first start makes one user and keeps it in the data dir; later starts read it back. */
function loadOrCreateUsers(dataDir: string, onCreated?: (user: User, file: string) => void): User[] {
  const file = path.join(dataDir, 'users.json');
  if (fs.existsSync(file)) return JSON.parse(fs.readFileSync(file, 'utf8')) as User[];
  const user: User = { id: String(crypto.randomInt(100_000, 999_999)), key: crypto.randomBytes(16).toString('hex') };
  fs.writeFileSync(file, JSON.stringify([user], null, 2) + '\n', { mode: 0o600 });
  onCreated?.(user, file);
  return [user];
}
