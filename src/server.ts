import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import pino, { type Logger } from 'pino';
import type { FastifyInstance } from 'fastify';
import type { Config, User } from './config.ts';
import { openStore, type Db } from './store/db.ts';
import { getMedia, getTasks, listUnfinished } from './store/repo.ts';
import { Lifecycle, type Change } from './store/lifecycle.ts';
import { ACTIVE_MEDIA_STATUSES, isFinalMedia } from './domain/status.ts';
import { crashPointOf } from './domain/lifecycle.ts';
import { InProcessQueue } from './queue/in-process.ts';
import { BullMediaQueue, BullWorkers, MAX_STALLS, type MediaRoute } from './queue/bullmq.ts';
import { BullChunkQueue, BullChunkWorkers } from './queue/bull-chunks.ts';
import { ChunkSources, type SplitPieces } from './pipeline/split/pieces.ts';
import type { MediaProcessor, MediaQueue } from './queue/types.ts';
import { requiredTags } from './queue/route.ts';
import { parsePriority } from './domain/priority.ts';
import type { FieldMap } from './domain/fields.ts';
import { mediaDirs } from './domain/layout.ts';
import { createMediaProcessor, type PipelineEvents, type PipelineLifecycle } from './pipeline/process-media.ts';
import { SharedStorage } from './pipeline/shared-storage.ts';
import { Outbox } from './notify/outbox.ts';
import { notifySecret } from './notify/sign.ts';
import { Users } from './api/auth.ts';
import { buildApp } from './api/app.ts';
import { Metrics } from './metrics.ts';
import { checkFfmpeg } from './pipeline/ffmpeg/version.ts';
import { FinalStatusCache } from './api/actions/status-cache.ts';

export interface RunningServer {
  app: FastifyInstance;
  db: Db;
  url: string;
  users: readonly User[];
  /** Graceful stop: no new work, running media interrupted and resumed at the next start. */
  close(): Promise<void>;
}

export interface StartOptions {
  log?: Logger;
  /** Called once with a user created on first start (its key is shown only then). */
  onUserCreated?: (user: User, file: string) => void;
  /** The result of a check the caller already made, so start-up does not run FFmpeg twice. */
  ffmpegChecked?: boolean;
}

/** How often /healthz's view of FFmpeg is refreshed (a binary can vanish under a running server). */
const FFMPEG_RECHECK_MS = 60_000;

/** A process with the worker role only: no HTTP port; it takes media from the cluster queue. */
export interface RunningWorker {
  db: Db;
  /** Graceful stop: running media are interrupted and handed back to the queue for another worker. */
  close(): Promise<void>;
}

/** What every role shares: users, store, notifications and the pipeline's events. */
async function openCore(config: Config, opts: StartOptions) {
  const log = opts.log ?? pino({ level: config.logLevel, redact: ['*.userkey', 'userkey', '*.key'] });
  fs.mkdirSync(config.dataDir, { recursive: true });
  // Checked before anything opens: a storage nobody can write must stop the start.
  const storage = SharedStorage.from(config);
  for (const root of config.fileRoots) fs.mkdirSync(root, { recursive: true });
  const users = new Users(config.users ?? loadOrCreateUsers(config.dataDir, opts.onUserCreated));
  const db = await openStore(config);
  let queue: MediaQueue | undefined;
  const metrics = new Metrics(db, () => queue);
  // Derived once at start: each user's notification secret (notify/sign.ts).
  const secrets = new Map(users.all.map((u) => [u.id, notifySecret(u.key)]));
  const outbox = new Outbox(db, log.child({ part: 'notify' }), {
    allowPrivateNetwork: config.allowPrivateNetwork,
    retryDelaysMs: config.notifyRetryDelaysMs,
    sendTimeoutMs: config.notifyTimeoutSeconds * 1000,
    secretFor: (userId) => secrets.get(userId) ?? null,
  });
  // Every status change, with the notifications it triggers, in one transaction.
  const lifecycle: PipelineLifecycle = new Lifecycle(db, { outbox, afterCommit: crashAfter(config.testCrashAt) });
  const events: PipelineEvents = {
    taskEncoded: (seconds, output) => metrics.taskSeconds.observe({ output }, seconds),
  };
  // Cluster workers hand split-and-stitch chunks to the whole cluster through their own queue.
  const chunks = config.redisUrl && config.role !== 'api' ? new BullChunkQueue(bullSettings(config, log)) : null;
  const pipeline = createMediaProcessor({ db, lifecycle, config, log, events, storage, ...(chunks ? { chunkExecutor: (id: number, pieces: SplitPieces | null, priority: number) => chunks.executor(id, pieces, priority) } : {}) });
  return { log, users, db, lifecycle, metrics, outbox, events, pipeline, storage, chunks, setQueue: (q: MediaQueue) => (queue = q) };
}

async function chunkWorkers(config: Config, log: Logger, storage: SharedStorage | null): Promise<BullChunkWorkers> {
  const sources = storage ? new ChunkSources(storage, config.dataDir, log.child({ part: 'chunks' })) : null;
  const w = new BullChunkWorkers({ ...bullSettings(config, log), ffmpeg: config.ffmpeg, threads: config.ffmpegThreads, concurrency: config.splitConcurrency, sources });
  await w.start();
  return w;
}

function bullSettings(config: Config, log: Logger) {
  return { redisUrl: config.redisUrl!, prefix: config.queuePrefix, lockMs: config.queueLockSeconds * 1000, log: log.child({ part: 'queue' }) };
}

/**
 * In a cluster a job can reach a worker after the media moved on without it (a stalled job
 * coming back after StopMedia, a cancel that raced the queue): the store decides.
 */
function clusterProcessor(db: Db, dataDir: string, pipeline: MediaProcessor, storage?: SharedStorage | null, log?: Logger): MediaProcessor {
  return async (mediaId, signal) => {
    const media = await getMedia(db, mediaId);
    if (!media || media.deleted || isFinalMedia(media.status)) return;
    await pipeline(mediaId, signal);
    // CancelMedia clears the folders on the API's machine; this worker's copies are its own to clear.
    if (signal.aborted && signal.reason === 'cancel') {
      const dirs = mediaDirs(dataDir, mediaId);
      await Promise.all([dirs.scratch, dirs.outputs].map((d) => fs.promises.rm(d, { recursive: true, force: true })));
      // An upload that was in flight when the API cleared the storage may have landed since.
      if (storage && log) await storage.removeMedia(mediaId, log);
    }
  };
}

/**
 * The queue gave up on a media whose workers kept dying under it: it ends in Error, with every
 * unfinished task, so that nothing stays in Processing; RestartMedia tries again.
 */
function givenUp(lifecycle: Lifecycle) {
  return async (mediaId: number, reason: string): Promise<void> => {
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
    const priority = parsePriority((JSON.parse(media.options) as FieldMap).priority);
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
  const core = await openCore(config, opts);
  const { log, users, db, lifecycle, metrics, outbox, storage } = core;

  let queue: MediaQueue;
  let workers: BullWorkers | undefined;
  let chunkers: BullChunkWorkers | undefined;
  if (config.redisUrl) {
    const bull = new BullMediaQueue(bullSettings(config, log), mediaRoute(db));
    await bull.ready();
    queue = bull;
    if (config.role === 'all') {
      workers = new BullWorkers({ ...bullSettings(config, log), concurrency: config.workers, tags: config.workerTags, onGivenUp: givenUp(core.lifecycle) }, clusterProcessor(db, config.dataDir, core.pipeline, core.storage, log));
      await workers.start();
      chunkers = await chunkWorkers(config, log, core.storage);
    }
  } else {
    queue = new InProcessQueue(core.pipeline, config.workers, (mediaId, err) => log.error({ err, mediaId }, 'worker crashed on a media'), mediaPriority(db));
  }
  core.setQueue(queue);

  // Checked off the request path: /healthz answers from the last result. An API node runs no
  // FFmpeg (the workers probe and encode), so it neither needs nor checks one.
  const ffmpegPaths = { ffmpeg: config.ffmpeg, ffprobe: config.ffprobe };
  const encodes = config.role !== 'api';
  let ffmpegReady = encodes && (opts.ffmpegChecked ?? (await checkFfmpeg(ffmpegPaths)).ok);
  const ffmpegTimer = encodes
    ? setInterval(() => {
        void checkFfmpeg(ffmpegPaths).then((r) => (ffmpegReady = r.ok));
      }, FFMPEG_RECHECK_MS)
    : undefined;
  ffmpegTimer?.unref();

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
    statusCache: new FinalStatusCache(),
    storage,
    ffmpegReady: encodes ? () => ffmpegReady : null,
  });
  await app.listen({ host: config.host, port: config.port });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  const url = `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`;
  if (!publicUrl) publicUrl = url;

  // What a previous process left unfinished is picked up again, in the order it was accepted.
  // In a cluster the job id is the media id, so a media still queued or running is not doubled.
  for (const { id } of await listUnfinished(db, ACTIVE_MEDIA_STATUSES)) await queue.enqueue(id);
  await outbox.resume();

  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      clearInterval(ffmpegTimer);
      await app.close().catch((err) => log.error({ err }, 'closing HTTP failed'));
      await workers?.close().catch((err) => log.error({ err }, 'closing workers failed'));
      await chunkers?.close();
      await core.chunks?.close();
      await queue.close().catch((err) => log.error({ err }, 'closing queue failed'));
      await outbox.close().catch((err) => log.error({ err }, 'closing outbox failed'));
      await db.destroy().catch((err) => log.error({ err }, 'closing store failed'));
    })());
  return { app, db, url, users: users.all, close };
}

/** The cluster's `worker` role: processes media from the Redis queue; opens no port. */
export async function startWorker(config: Config, opts: StartOptions = {}): Promise<RunningWorker> {
  if (!config.redisUrl) throw new Error('the worker role needs ENCODERY_REDIS_URL');
  const core = await openCore(config, opts);
  const { log, db, outbox } = core;
  const workers = new BullWorkers({ ...bullSettings(config, log), concurrency: config.workers, tags: config.workerTags, onGivenUp: givenUp(core.lifecycle) }, clusterProcessor(db, config.dataDir, core.pipeline, core.storage, log));
  await workers.start();
  const chunkers = await chunkWorkers(config, log, core.storage);
  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      await workers.close().catch((err) => log.error({ err }, 'closing workers failed'));
      await chunkers.close();
      await core.chunks?.close();
      await outbox.close().catch((err) => log.error({ err }, 'closing outbox failed'));
      await db.destroy().catch((err) => log.error({ err }, 'closing store failed'));
    })());
  return { db, close };
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
