/**
 * The web dashboard at /dashboard: sign-in, a signed session cookie, the page shell and static
 * files, and `/dashboard/api`, which runs the same encoding.com actions as `POST /` with the
 * session's user injected, so every check of the API applies to the dashboard too.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { z } from 'zod';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { User } from '../config.ts';
import type { Users } from '../api/auth.ts';
import type { Services } from '../api/actions/context.ts';
import type { FieldMap } from '../domain/fields.ts';
import { SUPPORTED_OUTPUTS } from '../domain/format.ts';
import { ACTIVE_MEDIA_STATUSES } from '../domain/status.ts';
import { queueOverview } from '../store/overview.ts';
import { redactUrl } from '../transfer/redact.ts';
import { registerEvents } from './events.ts';
import { COOKIE, SESSION_MS, Sessions, readCookie, sameToken, type Session } from './session.ts';
import { loginPage, notFoundPage, shellPage } from './shell.ts';
import { EncoderyError } from '../domain/errors.ts';
import { registerFormApi } from './form-api.ts';

export interface DashboardOptions {
  deps: Services & { users: Users };
  /** Runs one encoding.com query (credentials included) exactly as `POST /` does; the JSON reply text. */
  answer: (query: FieldMap) => Promise<string>;
  /** Runs the dry run of one query's action (AddMedia, SavePreset) as `answer` does, storing nothing. */
  check: (query: FieldMap) => Promise<string>;
}

const PUBLIC_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'public');
const resolve = (p: string) => fileURLToPath(import.meta.resolve(p));
/** The players, served from the app so the pages need nothing from another origin. */
const VENDOR: Record<string, string> = {
  'hls.min.js': resolve('hls.js/dist/hls.min.js'),
  // The package exports only its ESM build to Node; the browser build (a global `dashjs`) sits beside it.
  'dash.all.min.js': path.join(path.dirname(resolve('dashjs')), '..', 'umd', 'dash.all.min.js'),
};
const STATIC_TYPES: Record<string, string> = { '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8', '.svg': 'image/svg+xml' };
/** Pages the shell answers; the browser code picks the view from the path. */
const PAGES = ['/', '/media', '/media/:id', '/add', '/presets'];

/** `POST /dashboard/api`: the JSON body `POST /` takes; the action code checks the fields themselves. */
const ApiBody = z.object({ query: z.record(z.string(), z.unknown()) });
const LoginBody = z.object({ userid: z.string().max(64).trim(), userkey: z.string().max(512).trim() });

const CSP = [
  "default-src 'self'",
  "img-src 'self' data: blob:",
  "media-src 'self' blob:",
  "worker-src 'self' blob:",
  "connect-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

declare module 'fastify' {
  interface FastifyRequest {
    dashboardSession?: Session | null;
  }
}

export const dashboard: FastifyPluginAsync<DashboardOptions> = async (app, { deps, answer, check }) => {
  const startedAt = Date.now();
  const sessions = new Sessions(deps.users.all);
  /** Per user: source seconds of each media finished in the overview's window. */
  const durations = new Map<string, Map<number, number>>();
  const publicFiles = new Set(fs.readdirSync(PUBLIC_DIR).filter((f) => STATIC_TYPES[path.extname(f)]));

  // This scope reads its own bodies: small JSON and forms, and uploads streamed to disk.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'string', bodyLimit: deps.config.maxBodyBytes }, (_req, body, done) => {
    try {
      done(null, JSON.parse(body as string));
    } catch {
      done(Object.assign(new Error('the body is not valid JSON'), { statusCode: 400 }), undefined);
    }
  });
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: 64 * 1024 }, (_req, body, done) => {
    done(null, Object.fromEntries(new URLSearchParams(body as string)));
  });
  app.addContentTypeParser('application/octet-stream', (_req, payload, done) => done(null, payload));

  app.addHook('onRequest', async (request, reply) => {
    request.dashboardSession = sessions.read(readCookie(request.headers.cookie, COOKIE));
    reply.header('content-security-policy', CSP);
    reply.header('x-content-type-options', 'nosniff');
    reply.header('x-frame-options', 'DENY');
    reply.header('referrer-policy', 'same-origin');
    // A state-changing request must come from a page of this server, signed in or not (login CSRF).
    if (request.method !== 'GET' && request.method !== 'HEAD' && !sameOrigin(request, deps.publicUrl())) {
      return reply.code(403).send({ error: 'cross-origin request refused' });
    }
  });

  const cookieFlags = (request: FastifyRequest) => `Path=/dashboard; HttpOnly; SameSite=Strict${isHttps(request, deps.publicUrl()) ? '; Secure' : ''}`;

  // Any other path under /dashboard is a page a person typed or followed: answer one, not JSON.
  app.setNotFoundHandler(async (_request, reply) => html(reply.code(404), notFoundPage()));

  app.get('/login', async (request, reply) => {
    if (request.dashboardSession) return reply.redirect('/dashboard', 303);
    return html(reply, loginPage());
  });

  app.post('/login', async (request, reply) => {
    const body = LoginBody.safeParse(request.body);
    const userid = body.success ? body.data.userid : '';
    const user = body.success ? deps.users.authenticate(body.data.userid, body.data.userkey) : null;
    if (!user) {
      deps.log.info({ userid: userid.slice(0, 32) }, 'dashboard sign-in refused');
      return html(reply.code(401), loginPage('Wrong user id or key.', userid));
    }
    const { cookie } = sessions.create(user);
    reply.header('set-cookie', `${COOKIE}=${cookie}; ${cookieFlags(request)}; Max-Age=${SESSION_MS / 1000}`);
    return reply.redirect('/dashboard', 303);
  });

  app.post('/logout', async (request, reply) => {
    const session = request.dashboardSession;
    const body = (request.body ?? {}) as Record<string, unknown>;
    if (session) {
      if (!sameToken(typeof body.csrf === 'string' ? body.csrf : headerToken(request), session.csrf)) return reply.code(403).send({ error: 'missing or wrong CSRF token' });
      sessions.revoke(session);
    }
    reply.header('set-cookie', `${COOKIE}=; ${cookieFlags(request)}; Max-Age=0`);
    return reply.redirect('/dashboard/login', 303);
  });

  for (const page of PAGES) {
    app.get(page, async (request, reply) => {
      const session = request.dashboardSession;
      if (!session) return reply.redirect('/dashboard/login', 303);
      return html(reply, shellPage(session.user.id, session.csrf));
    });
  }

  app.get<{ Params: { file: string } }>('/static/:file', async (request, reply) => {
    const { file } = request.params;
    if (!publicFiles.has(file)) return reply.code(404).type('text/plain').send('Not found\n');
    return reply.type(STATIC_TYPES[path.extname(file)]!).header('cache-control', 'no-cache').send(fs.createReadStream(path.join(PUBLIC_DIR, file)));
  });

  app.get<{ Params: { file: string } }>('/vendor/:file', async (request, reply) => {
    const full = VENDOR[request.params.file];
    if (!full) return reply.code(404).type('text/plain').send('Not found\n');
    return reply.type(STATIC_TYPES['.js']!).header('cache-control', 'public, max-age=86400').send(fs.createReadStream(full));
  });

  // Every route below needs a signed-in session; POSTs also the session's CSRF token.
  const guard = (request: FastifyRequest, reply: FastifyReply): Session | null => {
    const session = request.dashboardSession;
    if (!session) {
      void reply.code(401).send({ error: 'sign in first' });
      return null;
    }
    if (request.method === 'POST' && !sameToken(headerToken(request), session.csrf)) {
      void reply.code(403).send({ error: 'missing or wrong CSRF token' });
      return null;
    }
    reply.header('cache-control', 'no-store');
    return session;
  };

  registerEvents(app, { db: deps.db, log: deps.log, guard });

  app.post('/api', async (request, reply) => {
    const session = guard(request, reply);
    if (!session) return reply;
    const body = ApiBody.safeParse(request.body);
    if (!body.success) return reply.code(400).send({ error: 'send {"query": {...}} as JSON' });
    // Whatever credentials the page sent are replaced by the session's own.
    const { userid: _id, userkey: _key, ...rest } = body.data.query;
    const text = await answer({ ...(rest as FieldMap), userid: session.user.id, userkey: session.user.key });
    return reply.type('application/json; charset=utf-8').send(text);
  });

  app.get('/api/overview', async (request, reply) => {
    const session = guard(request, reply);
    if (!session) return reply;
    return overview(deps, durations, session.user, startedAt);
  });

  /** The outputs a media can have, for the list's filter. */
  app.get('/api/outputs', async (request, reply) => {
    const session = guard(request, reply);
    if (!session) return reply;
    return { outputs: SUPPORTED_OUTPUTS };
  });

  registerFormApi(app, { guard, check, db: deps.db, uploadTarget: (session, name) => pathToFileURL(uploadPath(deps, session.user, name)).href });

  app.post<{ Querystring: { name?: string } }>('/upload', async (request, reply) => {
    const session = guard(request, reply);
    if (!session) return reply;
    if (!request.headers['content-type']?.startsWith('application/octet-stream')) return reply.code(415).send({ error: 'send the file as application/octet-stream' });
    const source = await saveUpload(deps, session.user, String(request.query.name ?? 'upload'), request.body as Readable).catch((err: unknown) => {
      if (err instanceof UploadTooLargeError) return err;
      throw err;
    });
    if (source instanceof UploadTooLargeError) return reply.code(413).send({ error: source.message });
    return { source };
  });
};

export class UploadTooLargeError extends EncoderyError {
  override name = 'UploadTooLargeError';
  readonly code = 'ENCODERY_UPLOAD_TOO_LARGE';
}

/** The upload goes into the user's first own file folder, where their `file://` sources may read it. */
async function saveUpload(deps: DashboardOptions['deps'], user: User, name: string, body: Readable): Promise<string> {
  const full = uploadPath(deps, user, name);
  await fs.promises.mkdir(path.dirname(full), { recursive: true });
  const limit = deps.config.maxSourceBytes;
  let size = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      size += chunk.length;
      cb(size > limit ? new UploadTooLargeError(`the file is larger than ${limit} bytes`) : null, chunk);
    },
  });
  try {
    await pipeline(body, counter, fs.createWriteStream(full, { flags: 'wx', mode: 0o600 }));
  } catch (err) {
    await fs.promises.rm(full, { force: true });
    throw err;
  }
  deps.log.info({ userId: user.id, bytes: size }, 'dashboard upload saved');
  return pathToFileURL(full).href;
}

/** A new file name for an upload, in the user's first own file folder, from the name the browser claims. */
function uploadPath(deps: DashboardOptions['deps'], user: User, name: string): string {
  const root = deps.fileRoots(user.id).own[0];
  if (!root) throw new Error('no file root to upload into');
  const safe = path.basename(name).replace(/[^A-Za-z0-9._-]/g, '_').replace(/^\.+/, '').slice(-100) || 'upload';
  return path.join(root, 'dashboard-uploads', user.id, `${crypto.randomBytes(12).toString('hex')}-${safe}`);
}

const HOUR = 3_600_000;
const MINUTE = 60_000;

async function overview(deps: DashboardOptions['deps'], durations: Map<string, Map<number, number>>, user: User, startedAt: number) {
  const now = Date.now();
  const since = now - 24 * HOUR;
  let known = durations.get(user.id);
  if (!known) durations.set(user.id, (known = new Map()));
  const o = await queueOverview(deps.db, user.id, since, ACTIVE_MEDIA_STATUSES, known);
  const hourly = Array.from({ length: 24 }, (_, i) => ({ hoursAgo: 23 - i, media: 0, minutes: 0 }));
  for (const f of o.finished) {
    const slot = hourly[23 - Math.min(23, Math.floor((now - f.at) / HOUR))]!;
    slot.media += 1;
    slot.minutes += f.sourceSeconds / 60;
  }
  const lastHour = hourly[23]!;
  // "Per hour" over the time there was to finish them: since this server started (or since the
  // oldest media it finished in the window, after a restart), at most 24 h, at least a minute.
  const from = Math.max(since, Math.min(startedAt, ...o.finished.map((f) => f.at)));
  const hours = Math.max(MINUTE, now - from) / HOUR;
  return {
    counts: Object.fromEntries(o.counts.map((c) => [c.status, c.n])),
    active: o.active.map((m) => ({
      id: m.id,
      status: m.status,
      source: redactUrl((JSON.parse(m.sources) as string[])[0] ?? ''),
      progress: m.progress,
      time_left: m.time_left,
    })),
    lastHour: { media: lastHour.media, minutes: round(lastHour.minutes) },
    last24h: { media: o.finished.length, minutes: round(o.finished.reduce((s, f) => s + f.sourceSeconds, 0) / 60), hours: Math.round(hours * 10_000) / 10_000, perHour: round(o.finished.length / hours) },
    hourly: hourly.map((h) => ({ ...h, minutes: round(h.minutes) })),
  };
}

const round = (n: number) => Math.round(n * 100) / 100;

function headerToken(request: FastifyRequest): string | undefined {
  const t = request.headers['x-csrf-token'];
  return typeof t === 'string' ? t : undefined;
}

/** The request's Origin (or, without one, its Referer) is this server's own. */
function sameOrigin(request: FastifyRequest, publicUrl: string): boolean {
  const site = request.headers['sec-fetch-site'];
  if (typeof site === 'string' && site !== 'same-origin' && site !== 'none') return false;
  const claimed = request.headers.origin ?? request.headers.referer;
  if (typeof claimed !== 'string' || claimed === 'null') return false;
  let origin: URL;
  try {
    origin = new URL(claimed);
  } catch {
    return false;
  }
  if (origin.host === request.headers.host && (origin.protocol === 'http:' || origin.protocol === 'https:')) return true;
  try {
    return publicUrl !== '' && origin.origin === new URL(publicUrl).origin;
  } catch {
    return false;
  }
}

function isHttps(request: FastifyRequest, publicUrl: string): boolean {
  return request.protocol === 'https' || publicUrl.startsWith('https:');
}

function html(reply: FastifyReply, text: string): FastifyReply {
  return reply.type('text/html; charset=utf-8').header('cache-control', 'no-store').send(text);
}
