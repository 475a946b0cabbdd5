import Fastify from 'fastify';
import type { StoreHealth } from './store/db.ts';
import type { Metrics } from './metrics.ts';

/**
 * What /healthz reports on every role: the store answers, the queue answers (cluster mode), FFmpeg
 * is usable (processes that encode). Each check is bounded, so a frozen Redis or database makes
 * the answer 503 rather than making the probe hang.
 */
export interface HealthSources {
  /** The store's readiness (start-up done) and whether it answers now (store/db.ts). */
  store: StoreHealth;
  /** Whether the queue's Redis answers; null without Redis (the in-process queue cannot be away). */
  queueConnected: (() => Promise<boolean>) | null;
  /** Whether FFmpeg is usable (checked off the request path); null in a process that encodes nothing. */
  ffmpegReady: (() => boolean) | null;
}

export interface HealthReport {
  ok: boolean;
  checks: { store: boolean; queue?: boolean; ffmpeg?: boolean };
}

/** A check that has not answered in this long counts as failed. */
const CHECK_TIMEOUT_MS = 1000;

export function healthCheck(sources: HealthSources): () => Promise<HealthReport> {
  // One store probe at a time: while the database is frozen, checks share the one in flight.
  let probing: Promise<boolean> | undefined;
  const storeUp = () =>
    (probing ??= sources.store
      .healthy()
      .catch(() => false)
      .finally(() => (probing = undefined)));
  return async () => {
    const [store, queue] = await Promise.all([within(storeUp(), CHECK_TIMEOUT_MS), sources.queueConnected ? within(sources.queueConnected(), CHECK_TIMEOUT_MS) : undefined]);
    const checks: HealthReport['checks'] = { store, ...(queue === undefined ? {} : { queue }), ...(sources.ffmpegReady ? { ffmpeg: sources.ffmpegReady() } : {}) };
    return { ok: Object.values(checks).every(Boolean), checks };
  };
}

/**
 * encoding.com's public status page (`GET /status.php`, reference 1.1): one code for the worst
 * condition now, `ok` when there is none. Only `ok` means healthy to clients (go-encodingcom's
 * APIStatus). The texts name what is wrong, never where (no host, URL or error detail).
 */
export interface ServiceStatus {
  status: string;
  status_code: 'ok' | 'api_out' | 'encoding_delay' | 'queue_slow';
  incident: string;
}

export function serviceStatus(report: HealthReport, oldestWaitingSec: number | null, queueSlowSec: number): ServiceStatus {
  const { store, queue, ffmpeg } = report.checks;
  if (!store) return { status: 'API unavailable', status_code: 'api_out', incident: 'The job store does not answer: requests are refused until it is back.' };
  if (queue === false) return { status: 'API unavailable', status_code: 'api_out', incident: 'The job queue does not answer: new media cannot be added until it is back.' };
  if (ffmpeg === false) return { status: 'Encoding delayed', status_code: 'encoding_delay', incident: 'FFmpeg is not usable on this node: media wait until it is.' };
  if (oldestWaitingSec !== null && oldestWaitingSec >= queueSlowSec) {
    return { status: 'Queue slow', status_code: 'queue_slow', incident: `A media has waited ${Math.round(oldestWaitingSec)} s for a worker.` };
  }
  return { status: 'All systems operational', status_code: 'ok', incident: '' };
}

async function within(p: Promise<boolean>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

/** The health port of a worker (ENCODERY_HEALTH_PORT): GET /healthz and /metrics, nothing else. */
export async function startHealthServer(opts: { host: string; port: number; health: () => Promise<HealthReport>; metrics: Metrics }) {
  const app = Fastify({ logger: false, connectionTimeout: 10_000, requestTimeout: 10_000 });
  app.get('/healthz', async (_req, reply) => {
    const report = await opts.health();
    return reply.code(report.ok ? 200 : 503).send({ status: report.ok ? 'ok' : 'unavailable', checks: report.checks });
  });
  app.get('/metrics', async (_req, reply) => reply.type(opts.metrics.registry.contentType).send(await opts.metrics.registry.metrics()));
  await app.listen({ host: opts.host, port: opts.port });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : opts.port;
  return { url: `http://${opts.host.includes(':') ? `[${opts.host}]` : opts.host}:${port}`, close: () => app.close() };
}
