import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Users } from './auth.ts';
import type { Services } from './actions/context.ts';
import { ACTIONS, CHECKS } from './actions/index.ts';
import type { Action, ActionContext } from './actions/context.ts';
import { ApiError, ErrorText, wireMessage } from './errors.ts';
import { scalar } from './query.ts';
import { decodeBody, FormatScanner, requestedFormat } from './wire/decode.ts';
import { DecodedBodyCache } from './wire/decoded-cache.ts';
import { CONTENT_TYPE, render, renderResponse, renderStatusPage, type WireFormat, type WireObject } from './wire/render.ts';
import { findTaskByToken, oldestWaitingMedia } from '../store/repo.ts';
import type { StoreHealth } from '../store/db.ts';
import { mediaDirs } from '../domain/layout.ts';
import type { Metrics } from '../metrics.ts';
import { openForDownload } from '../storage/shared-storage.ts';
import { describeError } from '../domain/errors.ts';
import { contentTypeOf, UNKNOWN_CONTENT_TYPE } from '../domain/content-types.ts';
import { dashboard } from '../dashboard/plugin.ts';
import { serviceStatus, type HealthReport } from '../health.ts';

export interface AppDeps extends Services {
  users: Users;
  metrics: Metrics;
  /** The store's readiness (start-up done) and health; requests are refused while it is not ready. */
  storeHealth: StoreHealth;
  /** The /healthz report (health.ts): the store, the queue, and FFmpeg where this process encodes. */
  health: () => Promise<HealthReport>;
}

interface RawBody {
  text: string;
  tooLarge: boolean;
  /** What the body asked for (FormatScanner), known even when it is over the limit or undecodable. */
  format: WireFormat;
}

/**
 * A request body up to `limit` bytes; a longer one is read to its end (and dropped) so that the
 * reply can name its format. A body within the limit is scanned for its format only when a reply
 * needs it (an error): a kept polling body never is.
 */
function readBody(payload: NodeJS.ReadableStream, limit: number): Promise<RawBody> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let scanner: FormatScanner | undefined;
    let size = 0;
    payload.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (!scanner && size > limit) {
        scanner = new FormatScanner();
        for (const kept of chunks) scanner.push(kept);
        chunks.length = 0;
      }
      if (scanner) scanner.push(chunk);
      else chunks.push(chunk);
    });
    payload.on('end', () => {
      if (scanner) return resolve({ text: '', tooLarge: true, format: scanner.format });
      const text = (chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)).toString('utf8');
      let format: WireFormat | undefined;
      resolve({ text, tooLarge: false, get format() { return (format ??= requestedFormat(text)); } });
    });
    payload.on('error', reject);
  });
}

const isEndpoint = (req: http.IncomingMessage): boolean => req.method === 'POST' && (req.url === '/' || req.url?.startsWith('/?') === true);

/** One API request, answered 200 whatever happens (7.8 rule 1): an error is a reply in the request's format. */
async function serveEndpoint(deps: AppDeps, decodedBodies: DecodedBodyCache, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
  let raw: RawBody;
  try {
    raw = await readBody(req, deps.config.maxBodyBytes);
  } catch {
    // The client went away or broke the stream mid-body: there is no one to answer.
    res.destroy();
    return;
  }
  let format: WireFormat | undefined;
  let bytes: Buffer;
  try {
    const answered = await answer(deps, raw, ACTIONS, decodedBodies);
    format = answered.format;
    deps.metrics.requests.inc({ action: answered.action, outcome: 'errors' in answered.body ? 'error' : 'ok' });
    bytes = renderResponse(format, answered.body);
  } catch (err) {
    format ??= raw.format;
    bytes = Buffer.from(render(format, 'response', errorBody(wireMessage(err, deps.log, { url: '/' }))), 'utf8');
  }
  res.writeHead(200, { 'content-type': CONTENT_TYPE[format], 'content-length': bytes.length });
  res.end(bytes);
}

const REQUEST_TIMEOUT_MS = 120_000;
/** fastify's own default: longer than the usual client's idle pool timeout, so the client closes first. */
const KEEP_ALIVE_MS = 72_000;

/** The HTTP edge: the encoding.com endpoint, health, metrics and kept-output downloads. */
export function buildApp(deps: AppDeps): FastifyInstance {
  const app = Fastify({
    logger: false,
    // `POST /`, the encoding.com endpoint, is answered by `serveEndpoint` straight from Node's
    // server: fastify's per-request hooks, reply object and content-type parsing cost more than
    // a cached GetStatus reply does (issue 15 §5). Every other route goes through fastify.
    serverFactory: (route) => {
      const decodedBodies = new DecodedBodyCache();
      const server = http.createServer((req, res) => {
        if (!isEndpoint(req)) return route(req, res);
        // Nothing a request does may end the process: a failure past the reply's own error path drops the connection.
        serveEndpoint(deps, decodedBodies, req, res).catch((err: unknown) => {
          deps.log.error({ err }, 'API request failed outside its error reply');
          res.destroy();
        });
      });
      server.keepAliveTimeout = KEEP_ALIVE_MS;
      server.requestTimeout = REQUEST_TIMEOUT_MS;
      server.setTimeout(REQUEST_TIMEOUT_MS);
      return server;
    },
    // The body is read by our own parser, which enforces the limit and still answers in the
    // request's format; fastify's own limit is set well above it as a backstop.
    bodyLimit: deps.config.maxBodyBytes * 4,
    requestTimeout: REQUEST_TIMEOUT_MS,
    connectionTimeout: REQUEST_TIMEOUT_MS,
    keepAliveTimeout: KEEP_ALIVE_MS,
  });

  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_req, payload, done) =>
    readBody(payload, deps.config.maxBodyBytes).then((body) => done(null, body), (err: unknown) => done(err as Error, undefined)));

  const sendError = (reply: FastifyReply, status: number, format: WireFormat, message: string) =>
    reply.code(status).header('content-type', CONTENT_TYPE[format]).send(render(format, 'response', errorBody(message)));

  // The API decodes a body by its own shape (7.8 rule 6), never by its Content-Type; a missing,
  // empty or malformed one must not turn into fastify's 415, answered outside the envelope.
  const ignoreContentType = async (request: FastifyRequest) => {
    delete request.raw.headers['content-type'];
  };

  app.get('/', async (_req, reply) =>
    reply.type('text/plain').send('Encodery speaks the encoding.com Media API here: POST / with a form field xml or json.\n'),
  );

  // No client of the API uses another method; an HTTP tool that does learns the truth (405) and,
  // in the format its body asked for, what to send instead.
  app.route({
    method: ['PUT', 'DELETE', 'PATCH', 'OPTIONS'],
    url: '/',
    onRequest: ignoreContentType,
    handler: async (request, reply) => {
      const raw = request.body as RawBody | undefined;
      return sendError(reply.header('allow', 'GET, HEAD, POST'), 405, raw?.format ?? 'xml', ErrorText.wrongMethod(request.method));
    },
  });

  app.setNotFoundHandler(async (request, reply) => {
    const raw = request.body as RawBody | undefined;
    if (!raw) return reply.code(404).type('text/plain').send('Not found\n');
    return sendError(reply, 404, raw.format, ErrorText.noSuchPath(request.url.split('?')[0] ?? ''));
  });

  // The dashboard is one more client of the same actions: its queries go through `answer` too.
  void app.register(dashboard, {
    prefix: '/dashboard',
    deps,
    answer: async (query) => {
      const { format, body, action } = await answer(deps, { text: JSON.stringify({ query }), tooLarge: false, format: 'json' });
      deps.metrics.requests.inc({ action, outcome: 'errors' in body ? 'error' : 'ok' });
      return render(format, 'response', body);
    },
    check: async (query) => {
      const { format, body } = await answer(deps, { text: JSON.stringify({ query }), tooLarge: false, format: 'json' }, CHECKS);
      return render(format, 'response', body);
    },
  });

  app.get('/healthz', async (_req, reply) => {
    const { ok, checks } = await deps.health();
    return reply.code(ok ? 200 : 503).send({ status: ok ? 'ok' : 'unavailable', checks });
  });

  // encoding.com's public status page (reference 1.1), served on the API's own host as the
  // video-transcoding-api fake server does; public like the real one, so it says nothing secret.
  app.get<{ Querystring: { format?: string } }>('/status.php', async (request, reply) => {
    const format: WireFormat = String(request.query.format ?? '').toLowerCase() === 'json' ? 'json' : 'xml';
    const report = await deps.health();
    const since = report.checks.store ? await oldestWaitingMedia(deps.db).catch(() => null) : null;
    const waited = since === null ? null : Math.max(0, (Date.now() - since) / 1000);
    const page = serviceStatus(report, waited, deps.config.queueSlowSeconds);
    return reply.code(200).header('content-type', CONTENT_TYPE[format]).send(renderStatusPage(format, page));
  });

  app.get('/metrics', async (_req, reply) => {
    const text = await deps.metrics.registry.metrics();
    return reply.type(deps.metrics.registry.contentType).send(text);
  });

  // Kept outputs: `/download/<token>/<path relative to the task's folder>`, nested for HLS
  // (`stream_0/seg_00001.ts`). Only a file recorded for that task is served, so no path can
  // reach outside it.
  app.get<{ Params: { token: string; '*': string } }>('/download/:token/*', async (request, reply) => {
    const { token } = request.params;
    const name = request.params['*'];
    const safe = name !== '' && !name.includes('\\') && !name.includes('\0') && name.split('/').every((s) => s !== '' && s !== '.' && s !== '..');
    const task = safe && /^[A-Za-z0-9_-]{20,64}$/.test(token) ? await findTaskByToken(deps.db, token) : undefined;
    const files = task?.outputs ? (JSON.parse(task.outputs) as string[]) : [];
    const folder = task ? mediaDirs('', task.media_id).task(task.id) : '';
    const file = files.find((f) => path.relative(folder, f).split(path.sep).join('/') === name);
    if (!file || !task) return reply.code(404).type('text/plain').send('Not found\n');
    const type = contentTypeOf(file) ?? UNKNOWN_CONTENT_TYPE;
    if (deps.storage) {
      // Kept outputs live in the shared storage: any API node serves them, whichever worker made them.
      const opened = await openForDownload(deps.storage, task, name).catch((err: unknown) => {
        deps.log.warn({ taskId: task.id, reason: describeError(err) }, 'reading a kept output from the shared storage failed');
        return 'failed' as const;
      });
      if (opened === 'failed') return reply.code(502).type('text/plain').send('The shared storage did not answer; try again\n');
      if (!opened) return reply.code(404).type('text/plain').send('Not found\n');
      if (opened.size !== null) reply.header('content-length', opened.size);
      return reply.type(type).send(opened.stream);
    }
    const full = path.join(deps.config.dataDir, file);
    const stat = await fs.promises.stat(full).catch(() => null);
    if (!stat?.isFile()) return reply.code(404).type('text/plain').send('Not found\n');
    reply.header('content-length', stat.size).type(type);
    return reply.send(fs.createReadStream(full));
  });

  app.setErrorHandler((err, request, reply) => {
    const status = (err as { statusCode?: number }).statusCode;
    const clientFault = status !== undefined && status >= 400 && status < 500;
    // A request the client got wrong is theirs to fix; only our own faults are errors.
    const url = request.url.slice(0, 200);
    if (clientFault) deps.log.warn({ url, reason: (err as Error).message }, 'request refused');
    const message = clientFault ? ErrorText.unreadable((err as Error).message) : wireMessage(err, deps.log, { url });
    return reply.code(clientFault ? status : 500).send({ error: clientFault ? (err as Error).message : message });
  });

  return app;
}

/** Actions clients poll with the same body again and again, and that only read: their decoded bodies are kept (DecodedBodyCache). */
const POLLED_ACTIONS = new Set(['getstatus', 'gettaskstatus']);

/**
 * One query through `actions` (the encoding.com actions, or their dry runs), its errors in the
 * wire's words; `decodedBodies`, when given, keeps and reuses the decoding of polled bodies.
 */
async function answer(
  deps: AppDeps,
  raw: RawBody,
  actions: Record<string, Action> = ACTIONS,
  decodedBodies?: DecodedBodyCache,
): Promise<{ format: WireFormat; body: WireObject; action: string }> {
  let format: WireFormat | undefined;
  let action = 'unknown';
  try {
    if (raw.tooLarge) throw new ApiError(ErrorText.tooLarge(deps.config.maxBodyBytes));
    const kept = decodedBodies?.get(raw.text);
    const decoded = kept ?? decodeBody(raw.text);
    format = decoded.format;
    const query = decoded.query;
    const user = deps.users.authenticate(scalar(query, 'userid'), scalar(query, 'userkey'));
    if (!user) throw new ApiError(ErrorText.auth);
    const name = scalar(query, 'action');
    if (!name) throw new ApiError(ErrorText.noAction);
    const handler = actions[name.toLowerCase()];
    if (!handler) throw new ApiError(ErrorText.unknownAction(name.slice(0, 64)));
    action = name.toLowerCase();
    if (!kept && decodedBodies && POLLED_ACTIONS.has(action)) decodedBodies.set(raw.text, decoded);
    if (!deps.storeHealth.ready()) throw new ApiError(ErrorText.storeUnavailable);
    // The services are reached through the prototype: copying every one of them per request costs more than a cached reply.
    const ctx: ActionContext = Object.create(deps) as ActionContext;
    ctx.user = user;
    ctx.query = query;
    return { format, body: await handler(ctx), action };
  } catch (err) {
    return { format: format ?? raw.format, body: errorBody(wireMessage(err, deps.log, { action })), action };
  }
}

/** One `error`, a single string (7.8 rule 5). */
function errorBody(message: string): WireObject {
  return { errors: { error: message } };
}
