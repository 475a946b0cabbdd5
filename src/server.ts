import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import pino, { type Logger } from 'pino';
import type { FastifyInstance } from 'fastify';
import type { Config, User } from './config.ts';
import { openStore, type Db } from './store/db.ts';
import { listUnfinished } from './store/repo.ts';
import { ACTIVE_MEDIA_STATUSES } from './domain/status.ts';
import { InProcessQueue } from './queue/in-process.ts';
import { createMediaProcessor, type PipelineEvents } from './pipeline/process-media.ts';
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

/** Assembles the embedded mode: the store (SQLite, or PostgreSQL when configured), in-process queue and workers, HTTP API. */
export async function startServer(config: Config, opts: StartOptions = {}): Promise<RunningServer> {
  const log = opts.log ?? pino({ level: config.logLevel, redact: ['*.userkey', 'userkey', '*.key'] });
  fs.mkdirSync(config.dataDir, { recursive: true });
  for (const root of config.fileRoots) fs.mkdirSync(root, { recursive: true });
  const users = new Users(config.users ?? loadOrCreateUsers(config.dataDir, opts.onUserCreated));
  const db = await openStore(config);

  let queue: InProcessQueue | undefined;
  const metrics = new Metrics(db, () => queue);
  // Derived once at start: each user's notification secret (notify/sign.ts).
  const secrets = new Map(users.all.map((u) => [u.id, notifySecret(u.key)]));
  const outbox = new Outbox(db, log.child({ part: 'notify' }), {
    allowPrivateNetwork: config.allowPrivateNetwork,
    retryDelaysMs: config.notifyRetryDelaysMs,
    secretFor: (userId) => secrets.get(userId) ?? null,
  });
  const events: PipelineEvents = {
    mediaEnded: (id) => outbox.mediaEnded(id),
    mediaReady: (id) => outbox.mediaReady(id),
    destinationDone: (e) => outbox.destinationDone(e),
    taskEncoded: (seconds, output) => metrics.taskSeconds.observe({ output }, seconds),
  };
  queue = new InProcessQueue(createMediaProcessor({ db, config, log, events }), config.workers, (mediaId, err) =>
    log.error({ err, mediaId }, 'worker crashed on a media'),
  );

  // Checked off the request path: /healthz answers from the last result.
  const ffmpegPaths = { ffmpeg: config.ffmpeg, ffprobe: config.ffprobe };
  let ffmpegReady = opts.ffmpegChecked ?? (await checkFfmpeg(ffmpegPaths)).ok;
  const ffmpegTimer = setInterval(() => {
    void checkFfmpeg(ffmpegPaths).then((r) => (ffmpegReady = r.ok));
  }, FFMPEG_RECHECK_MS);
  ffmpegTimer.unref();

  let publicUrl = config.publicUrl ?? '';
  const app = buildApp({
    config,
    db,
    queue,
    events,
    log,
    users,
    metrics,
    publicUrl: () => publicUrl,
    statusCache: new FinalStatusCache(),
    ffmpegReady: () => ffmpegReady,
  });
  await app.listen({ host: config.host, port: config.port });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  const url = `http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port}`;
  if (!publicUrl) publicUrl = url;

  // What a previous process left unfinished is picked up again, in the order it was accepted.
  for (const { id } of await listUnfinished(db, ACTIVE_MEDIA_STATUSES)) queue.enqueue(id);
  await outbox.resume();

  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      clearInterval(ffmpegTimer);
      await app.close().catch((err) => log.error({ err }, 'closing HTTP failed'));
      await queue!.close().catch((err) => log.error({ err }, 'closing queue failed'));
      await outbox.close().catch((err) => log.error({ err }, 'closing outbox failed'));
      await db.destroy().catch((err) => log.error({ err }, 'closing store failed'));
    })());
  return { app, db, url, users: users.all, close };
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
