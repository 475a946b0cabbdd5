import { parseArgs } from 'node:util';
import path from 'node:path';
import { z } from 'zod';
import { CRASH_POINTS, type CrashPoint } from './domain/lifecycle.ts';
import { bool, int, list, type Setting } from './setting-kinds.ts';
import { SCHEME_SETTINGS, type SchemeSettings } from './transfer/settings.ts';
import { EncoderyError } from './domain/errors.ts';
import { parseSealingKey, type SealingKey } from './domain/sealed.ts';

/**
 * Every setting Encodery reads, from ENCODERY_* variables or the matching --flag (flags win).
 * Validated once at start; the rest of the code only sees the typed Config.
 */
export interface User {
  id: string;
  key: string;
}

/** The storage schemes' own settings (ENCODERY_S3_*, ENCODERY_SFTP_*, …) are in transfer/settings.ts. */
export interface Config extends SchemeSettings {
  host: string;
  port: number;
  dataDir: string;
  /** PostgreSQL connection URL for the shared store; null: SQLite in the data dir (the embedded mode). */
  databaseUrl: string | null;
  /** null: the users come from `<dataDir>/users.json`, created on the first start. */
  users: User[] | null;
  workers: number;
  /** Media the queue runs beyond `workers`, fetching their sources while every encoder is busy. */
  downloads: number;
  fileRoots: string[];
  /** Folders every user may read through file:// and none may write (ENCODERY_SHARED_FILE_ROOTS). */
  sharedFileRoots: string[];
  allowPrivateNetwork: boolean;
  publicUrl: string | null;
  ffmpeg: string;
  ffprobe: string;
  maxBodyBytes: number;
  maxSourceBytes: number;
  /** A download or upload averaging fewer bytes per second than this over one window fails; 0 = no minimum. */
  transferMinBytesPerSecond: number;
  /** The window that minimum is averaged over. */
  transferWindowSeconds: number;
  /** Longest one download or upload (its retries included) may take; 0 = no limit. */
  transferDeadlineSeconds: number;
  logLevel: string;
  /** auto: readable lines on a terminal, JSON lines otherwise. */
  logFormat: 'auto' | 'pretty' | 'json';
  /** Delays between notification attempts; tests shorten them. */
  notifyRetryDelaysMs: number[];
  /** How long one notification POST may take; a node's claim on a notification lasts twice this. */
  notifyTimeoutSeconds: number;
  /** Cluster mode: the BullMQ queue lives in this Redis; null: the embedded in-process queue. */
  redisUrl: string | null;
  /** What this process does: answer the API, process media, or both (the only choice without Redis). */
  role: Role;
  /** Capabilities this worker offers (`hevc`, `av1`, ...); media needing a tag go only to workers that have it. */
  workerTags: string[];
  /** Prefix of every Redis key of the queue, so several installations (or tests) can share one Redis. */
  queuePrefix: string;
  /** How long a worker's claim on a media outlives the worker: a crashed worker's media moves on after about this. */
  queueLockSeconds: number;
  /** How often the cluster compares the store with the queue and re-queues what the queue lost. */
  sweepSeconds: number;
  /** A worker's port for /healthz and /metrics; null: none. */
  healthPort: number | null;
  /** /status.php says `queue_slow` once a media has waited this long for a worker. */
  queueSlowSeconds: number;
  /**
   * Folder URL (s3://bucket/prefix/, file:///shared/) holding kept outputs and encoded outputs
   * awaiting delivery, so that no node needs another's disk; null: they stay in the data dir.
   */
  storageUrl: string | null;
  /** Sources longer than this are encoded split-and-stitch without being asked; 0 = only with multijob_workflow=yes. */
  splitAboveSeconds: number;
  /** Target length of one split chunk; cuts land on the nearest source keyframe. */
  splitChunkSeconds: number;
  /** How many chunk encodes of one media run at once in this process. */
  splitConcurrency: number;
  /** Threads per FFmpeg process for decoders, filters and encoders; 0 = FFmpeg's choice. */
  ffmpegThreads: number;
  /** Measure every encoded video output (PSNR, SSIM, loudness, duration, speed) for GetStatus and notify. */
  qualityReport: boolean;
  /** Refuse request fields the field registry does not know, instead of warning about them. */
  strictFields: boolean;
  /**
   * What audio_codec dolby_heaac/dolby_heaacv2 get: this FFmpeg has no HE-AAC encoder, so they are
   * refused, or (`lc`) written as AAC-LC with a line in the task log saying so.
   */
  heAac: HeAacMode;
  /**
   * Largest total size of the output cache (pipeline/cache/), least recently used entries evicted
   * first; 0 = no cache. In the data dir, or in ENCODERY_STORAGE_URL when set (shared by a cluster).
   */
  cacheMaxBytes: number;
  /**
   * Seals secret request fields (drm_key, encryption_key, …) before they are stored; null until
   * the start resolves it (server.ts: this setting, else a key generated once in the data dir).
   */
  secretKey: SealingKey | null;
  /** Testing only: SIGKILL this process right after the named status change commits (domain/lifecycle.ts). */
  testCrashAt: CrashPoint | null;
}

export const ROLES = ['all', 'api', 'worker'] as const;
export type Role = (typeof ROLES)[number];
export const HE_AAC_MODES = ['refuse', 'lc'] as const;
export type HeAacMode = (typeof HE_AAC_MODES)[number];

/** A group's names and help, for the table below. */
function documentation<G extends Record<string, Setting>>(group: G): { [K in keyof G]: Setting } {
  return Object.fromEntries(Object.entries(group).map(([key, { env, flag, help, default: fallback }]) => [key, { env, flag, help, ...(fallback === undefined ? {} : { default: fallback }) }])) as { [K in keyof G]: Setting };
}

/** A group's checks, for the schema below. */
function checks<G extends Record<string, { value: z.ZodType }>>(group: G): { [K in keyof G]: G[K]['value'] } {
  return Object.fromEntries(Object.entries(group).map(([key, s]) => [key, s.value])) as { [K in keyof G]: G[K]['value'] };
}

/** The table the README documents; keep them in step. */
export const SETTINGS = {
  host: { env: 'ENCODERY_HOST', flag: 'host', help: 'Address to listen on', default: '127.0.0.1' },
  port: { env: 'ENCODERY_PORT', flag: 'port', help: 'Port to listen on', default: '8080' },
  dataDir: { env: 'ENCODERY_DATA_DIR', flag: 'data-dir', help: 'SQLite database, scratch space and kept outputs', default: './data' },
  databaseUrl: { env: 'ENCODERY_DATABASE_URL', flag: 'database-url', help: 'PostgreSQL store shared by several nodes, postgres://user:password@host:5432/db (default: SQLite in the data dir)' },
  users: { env: 'ENCODERY_USERS', flag: 'users', help: 'API users as id:key,id:key' },
  workers: { env: 'ENCODERY_WORKERS', flag: 'workers', help: 'How many media are encoded at once', default: '1' },
  downloads: { env: 'ENCODERY_DOWNLOADS', flag: 'downloads', help: 'How many more media than workers are taken from the queue at once, to fetch their sources (or deliver their outputs) while the encoders are busy', default: '2' },
  fileRoots: { env: 'ENCODERY_FILE_ROOTS', flag: 'file-roots', help: 'Directories file:// may use, comma-separated (default <data dir>/files); with several users each has its own folder <root>/<userid>' },
  sharedFileRoots: { env: 'ENCODERY_SHARED_FILE_ROOTS', flag: 'shared-file-roots', help: 'Directories every user may read through file:// (sources, logos, fonts) but none may write, comma-separated; must not contain a file root' },
  allowPrivateNetwork: { env: 'ENCODERY_ALLOW_PRIVATE_NETWORK', flag: 'allow-private-network', help: 'Allow URLs resolving to private, loopback or link-local addresses', default: 'false' },
  publicUrl: { env: 'ENCODERY_PUBLIC_URL', flag: 'public-url', help: 'Base URL for links to outputs Encodery keeps itself' },
  ffmpeg: { env: 'ENCODERY_FFMPEG', flag: 'ffmpeg', help: 'Path of the ffmpeg binary', default: 'ffmpeg' },
  ffprobe: { env: 'ENCODERY_FFPROBE', flag: 'ffprobe', help: 'Path of the ffprobe binary', default: 'ffprobe' },
  maxBodyBytes: { env: 'ENCODERY_MAX_BODY_BYTES', flag: 'max-body-bytes', help: 'Largest API request body', default: '1048576' },
  maxSourceBytes: { env: 'ENCODERY_MAX_SOURCE_BYTES', flag: 'max-source-bytes', help: 'Largest source file accepted', default: String(50 * 1024 ** 3) },
  transferMinBytesPerSecond: { env: 'ENCODERY_TRANSFER_MIN_BYTES_PER_SECOND', flag: 'transfer-min-bytes-per-second', help: 'A download or upload moving fewer bytes per second than this on average over one window fails; 0 = no minimum', default: '1024' },
  transferWindowSeconds: { env: 'ENCODERY_TRANSFER_WINDOW_SECONDS', flag: 'transfer-window-seconds', help: 'The window the minimum transfer rate is averaged over', default: '120' },
  transferDeadlineSeconds: { env: 'ENCODERY_TRANSFER_DEADLINE_SECONDS', flag: 'transfer-deadline-seconds', help: 'Longest one download or upload may take, retries included; 0 = no limit', default: '86400' },
  logLevel: { env: 'ENCODERY_LOG_LEVEL', flag: 'log-level', help: 'pino log level', default: 'info' },
  logFormat: { env: 'ENCODERY_LOG_FORMAT', flag: 'log-format', help: 'auto (readable lines when stdout is a terminal, JSON lines otherwise), pretty or json', default: 'auto' },
  notifyRetryDelaysMs: { env: 'ENCODERY_NOTIFY_RETRY_DELAYS_MS', flag: 'notify-retry-delays-ms', help: 'Delays before the 3 notification retries, comma-separated ms', default: '2000,10000,60000' },
  notifyTimeoutSeconds: { env: 'ENCODERY_NOTIFY_TIMEOUT_SECONDS', flag: 'notify-timeout-seconds', help: 'How long one notification POST may take; a node that dies while sending one has its claim on it expire after twice this, and another node sends it', default: '30' },
  ...documentation(SCHEME_SETTINGS),
  redisUrl: { env: 'ENCODERY_REDIS_URL', flag: 'redis-url', help: 'redis:// or rediss:// URL: cluster mode, the queue lives in Redis (BullMQ)' },
  role: { env: 'ENCODERY_ROLE', flag: 'role', help: 'api (HTTP API only), worker (processes media, no HTTP port) or all; api and worker need ENCODERY_REDIS_URL', default: 'all' },
  workerTags: { env: 'ENCODERY_WORKER_TAGS', flag: 'worker-tags', help: 'Capabilities of this worker, comma-separated (hevc, av1); media needing one go only to workers that have it' },
  queuePrefix: { env: 'ENCODERY_QUEUE_PREFIX', flag: 'queue-prefix', help: 'Prefix of the queue\'s Redis keys (one per installation sharing a Redis)', default: 'encodery' },
  storageUrl: { env: 'ENCODERY_STORAGE_URL', flag: 'storage-url', help: 'Shared storage for kept outputs and outputs awaiting delivery, a folder URL such as s3://bucket/prefix/ or file:///shared/encodery/ (default: the data dir; no node reads another\'s disk when set)' },
  queueLockSeconds: { env: 'ENCODERY_QUEUE_LOCK_SECONDS', flag: 'queue-lock-seconds', help: 'How long a worker\'s claim on a media outlives it: a crashed worker\'s media goes to another worker after about twice this', default: '30' },
  sweepSeconds: { env: 'ENCODERY_SWEEP_SECONDS', flag: 'sweep-seconds', help: 'How often the cluster re-queues media that the store says are waiting or being worked on but that neither the queue nor a live worker holds (Redis came back empty, a lost write, a dead worker); one node sweeps per period', default: '60' },
  healthPort: { env: 'ENCODERY_HEALTH_PORT', flag: 'health-port', help: 'Worker role: port for GET /healthz and /metrics on ENCODERY_HOST (the API serves both on its own port); unset: none' },
  queueSlowSeconds: { env: 'ENCODERY_QUEUE_SLOW_SECONDS', flag: 'queue-slow-seconds', help: 'GET /status.php answers status_code queue_slow once a media has waited this long for a worker to take it', default: '300' },
  splitAboveSeconds: { env: 'ENCODERY_SPLIT_ABOVE_SECONDS', flag: 'split-above-seconds', help: 'Encode video formats of sources longer than this in keyframe-aligned chunks (split-and-stitch); 0 = only when multijob_workflow=yes', default: '0' },
  splitChunkSeconds: { env: 'ENCODERY_SPLIT_CHUNK_SECONDS', flag: 'split-chunk-seconds', help: 'Length of one split-and-stitch chunk (cut at the nearest source keyframe)', default: '10' },
  splitConcurrency: { env: 'ENCODERY_SPLIT_CONCURRENCY', flag: 'split-concurrency', help: 'Chunk encodes of one media run at once by this process', default: '2' },
  ffmpegThreads: { env: 'ENCODERY_FFMPEG_THREADS', flag: 'ffmpeg-threads', help: 'Threads per FFmpeg process (decoders, filters, encoders); 0 = FFmpeg decides', default: '0' },
  qualityReport: { env: 'ENCODERY_QUALITY_REPORT', flag: 'quality-report', help: 'A quality summary (PSNR, SSIM, loudness, duration difference, realtime factor) on every encoded video output, in extended GetStatus and notify; off skips the measuring', default: 'on' },
  strictFields: { env: 'ENCODERY_STRICT_FIELDS', flag: 'strict-fields', help: 'Refuse requests with fields Encodery does not know (answered with an error naming them) instead of accepting them with a warning', default: 'false' },
  heAac: { env: 'ENCODERY_HE_AAC', flag: 'he-aac', help: 'audio_codec dolby_heaac and dolby_heaacv2: refuse them (this FFmpeg has no HE-AAC encoder), or lc to write AAC-LC in their place with a line in the task log', default: 'refuse' },
  cacheMaxBytes: { env: 'ENCODERY_CACHE_MAX_BYTES', flag: 'cache-max-bytes', help: 'Output cache size in bytes: a format already encoded from the same source bytes, by the same user, with the same settings and FFmpeg build, is delivered from the cache without encoding; least recently used entries are evicted first; kept in the data dir, or in ENCODERY_STORAGE_URL when set (shared by the cluster); 0 = off', default: '0' },
  secretKey: { env: 'ENCODERY_SECRET_KEY', flag: 'secret-key', help: '32 bytes (64 hex digits or base64) sealing secret request fields (drm_key, encryption_key, …) in the store with AES-256-GCM; every API node and worker sharing a store needs the same value (default: generated once into <data dir>/secret.key, mode 0600)' },
  testCrashAt: { env: 'ENCODERY_TEST_CRASH_AT', flag: 'test-crash-at', help: 'Testing only: the process kills itself (SIGKILL) right after this status change commits, e.g. destination-saved or media-finished; proves that nothing is lost at that point' },
} satisfies Record<keyof Config, Setting>;

export class ConfigError extends EncoderyError {
  override name = 'ConfigError';
  readonly code = 'ENCODERY_CONFIG_INVALID';
}

const usersSchema = list.pipe(
  z
    .array(
      z
        .string()
        .regex(/^\d+:[^:\s]{8,}$/, 'each user is id:key with a numeric id and a key of at least 8 characters')
        .transform((pair): User => {
          const i = pair.indexOf(':');
          return { id: pair.slice(0, i), key: pair.slice(i + 1) };
        }),
    )
    .min(1, 'give at least one user'),
);

const schema = z.object({
  host: z.string().min(1),
  port: int(0, 65535),
  dataDir: z.string().min(1),
  databaseUrl: z.url({ protocol: /^postgres(ql)?$/, error: 'must be a postgres:// or postgresql:// URL' }).optional(),
  users: usersSchema.optional(),
  workers: int(1, 64),
  downloads: int(0, 64),
  fileRoots: list.optional(),
  sharedFileRoots: list.optional(),
  allowPrivateNetwork: bool,
  publicUrl: z.url({ protocol: /^https?$/ }).optional(),
  ffmpeg: z.string().min(1),
  ffprobe: z.string().min(1),
  maxBodyBytes: int(1024, 1024 ** 3),
  maxSourceBytes: int(1, Number.MAX_SAFE_INTEGER),
  transferMinBytesPerSecond: int(0, 1024 ** 3),
  transferWindowSeconds: int(1, 86_400),
  transferDeadlineSeconds: int(0, 365 * 86_400),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
  logFormat: z.enum(['auto', 'pretty', 'json']),
  notifyRetryDelaysMs: list.pipe(z.array(z.string().regex(/^\d+$/).transform(Number)).length(3, 'give exactly three delays')),
  notifyTimeoutSeconds: int(1, 600),
  ...checks(SCHEME_SETTINGS),
  redisUrl: z.url({ protocol: /^rediss?$/, error: 'must be a redis:// or rediss:// URL' }).optional(),
  role: z.enum(ROLES, { error: 'must be api, worker or all' }),
  workerTags: list.pipe(z.array(z.string().toLowerCase().regex(/^[a-z0-9][a-z0-9_-]*$/, 'tags are short words of letters, digits, - and _'))).optional(),
  queuePrefix: z.string().trim().regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be letters, digits, - and _ (at most 64)'),
  queueLockSeconds: int(1, 3600),
  sweepSeconds: int(1, 86_400),
  healthPort: int(0, 65535).optional(),
  queueSlowSeconds: int(1, 7 * 86_400),
  // The URL's own text is never echoed: it may carry keys.
  storageUrl: z.string().trim().refine((u) => URL.canParse(u), 'must be a URL such as s3://bucket/prefix/ or file:///shared/encodery/').optional(),
  splitAboveSeconds: int(0, 10 ** 7),
  splitChunkSeconds: int(1, 3600),
  splitConcurrency: int(1, 64),
  ffmpegThreads: int(0, 256),
  qualityReport: bool,
  strictFields: bool,
  heAac: z.enum(HE_AAC_MODES, { error: 'must be refuse or lc' }),
  cacheMaxBytes: int(0, Number.MAX_SAFE_INTEGER),
  // The key itself is never quoted in the message.
  secretKey: z.string().optional().refine((k) => k === undefined || parseSealingKey(k) !== null, 'must be 32 bytes as 64 hex digits or base64 (e.g. openssl rand -hex 32)').transform((k) => (k === undefined ? null : parseSealingKey(k))),
  testCrashAt: z.enum(CRASH_POINTS, { error: `must be one of ${CRASH_POINTS.join(', ')}` }).optional(),
});

/** Reads settings from `env` and `argv` (flags like --port 9000 or --port=9000). */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, argv: string[] = []): Config {
  const options = Object.fromEntries(Object.values(SETTINGS).map((s) => [s.flag, { type: 'string' as const }]));
  let flags: Record<string, string | boolean | undefined>;
  try {
    flags = parseArgs({ args: argv, options, allowPositionals: true, strict: true }).values;
  } catch (err) {
    throw new ConfigError((err as Error).message);
  }
  const input: Record<string, string | undefined> = {};
  for (const [key, setting] of Object.entries(SETTINGS) as [keyof Config, Setting][]) {
    const fromFlag = flags[setting.flag];
    const value = typeof fromFlag === 'string' ? fromFlag : env[setting.env];
    input[key] = value === undefined || value === '' ? setting.default : value;
  }
  const parsed = schema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const setting = SETTINGS[issue.path[0] as keyof Config];
    throw new ConfigError(`${setting.env} (--${setting.flag}): ${issue.message}`);
  }
  const c = parsed.data;
  if (c.role !== 'all' && !c.redisUrl) {
    throw new ConfigError(`${SETTINGS.role.env} (--${SETTINGS.role.flag}): ${c.role} needs ${SETTINGS.redisUrl.env} (--${SETTINGS.redisUrl.flag}); without Redis one process does everything (role all)`);
  }
  if ((c.spekeAwsAccessKeyId === null) !== (c.spekeAwsSecretAccessKey === null)) {
    const missing = c.spekeAwsAccessKeyId === null ? SETTINGS.spekeAwsAccessKeyId : SETTINGS.spekeAwsSecretAccessKey;
    throw new ConfigError(`${missing.env} (--${missing.flag}): SPEKE credentials are an access key id and a secret access key together; give both, or neither for the AWS credential chain`);
  }
  const dataDir = path.resolve(c.dataDir);
  const fileRoots = (c.fileRoots ?? [path.join(dataDir, 'files')]).map((r) => path.resolve(r));
  const sharedFileRoots = (c.sharedFileRoots ?? []).map((r) => path.resolve(r));
  // Nothing in the data dir itself (kept outputs, scratch, the store) is ever reachable through file://.
  const whole = [...fileRoots, ...sharedFileRoots].find((r) => r === dataDir);
  if (whole) {
    const setting = fileRoots.includes(whole) ? SETTINGS.fileRoots : SETTINGS.sharedFileRoots;
    throw new ConfigError(`${setting.env} (--${setting.flag}): ${whole} is the data dir, which file:// never reaches; give a folder inside it (such as ${path.join(dataDir, 'files')}) or elsewhere`);
  }
  // A shared folder above a file root would let every user read every other user's folder.
  const overlap = sharedFileRoots.find((s) => fileRoots.some((r) => r === s || r.startsWith(s + path.sep) || s.startsWith(r + path.sep)));
  if (overlap) {
    throw new ConfigError(`${SETTINGS.sharedFileRoots.env} (--${SETTINGS.sharedFileRoots.flag}): ${overlap} overlaps a file root (${SETTINGS.fileRoots.env}); give a folder of its own`);
  }
  return {
    ...c,
    dataDir,
    databaseUrl: c.databaseUrl ?? null,
    users: c.users ?? null,
    fileRoots,
    sharedFileRoots,
    publicUrl: c.publicUrl ? c.publicUrl.replace(/\/+$/, '') : null,
    testCrashAt: c.testCrashAt ?? null,
    redisUrl: c.redisUrl ?? null,
    healthPort: c.healthPort ?? null,
    storageUrl: c.storageUrl ? (c.storageUrl.endsWith('/') ? c.storageUrl : `${c.storageUrl}/`) : null,
    workerTags: [...new Set(c.workerTags ?? [])].sort(),
  };
}
