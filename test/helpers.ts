import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import fs from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo, Socket } from 'node:net';
import { XMLParser } from 'fast-xml-parser';
import pino, { type Logger } from 'pino';
import { Writable } from 'node:stream';
import { createLogger } from '../src/log.ts';
import pg from 'pg';
import { loadConfig, type Config } from '../src/config.ts';
import type { RunningServer } from '../src/server.ts';
import { TEST_PG_URL } from './needs.ts';
import type { OneOrMany, ReplyTo, StatusJob } from './replies.ts';

export const exec = promisify(execFile);

export const USER = { id: '1001', key: 'test-key-1001-abcdef' };
export const OTHER = { id: '2002', key: 'test-key-2002-abcdef' };

export async function tempDir(prefix = 'encodery-test-'): Promise<string> {
  return fs.mkdtemp(path.join(os.tmpdir(), prefix));
}

/** Test media made by FFmpeg itself: testsrc2 video with a sine tone. */
export async function makeClip(
  file: string,
  opts: { seconds?: number; size?: string; rate?: number; audio?: boolean; video?: boolean; extra?: string[] } = {},
): Promise<string> {
  const { seconds = 2, size = '320x240', rate = 25, audio = true, video = true, extra = [] } = opts;
  const args = ['-hide_banner', '-loglevel', 'error', '-y'];
  if (video) args.push('-f', 'lavfi', '-i', `testsrc2=size=${size}:rate=${rate}:duration=${seconds}`);
  if (audio) args.push('-f', 'lavfi', '-i', `sine=frequency=440:sample_rate=48000:duration=${seconds}`);
  if (video) args.push('-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p');
  if (audio) args.push('-c:a', 'aac', '-ac', '2');
  args.push(...extra, file);
  await exec('ffmpeg', args);
  return file;
}

/** x264 options for a keyframe every 2 s at 25 fps and nowhere else: chunk cut points the split tests can predict. */
export const KEYFRAMES_EVERY_2S = ['-g', '50', '-keyint_min', '50', '-sc_threshold', '0'];

/** Video frames in a file, counted from its packets (no decode). */
export async function frameCount(file: string): Promise<number> {
  const { stdout } = await exec('ffprobe', ['-v', 'error', '-select_streams', 'v:0', '-count_packets', '-show_entries', 'stream=nb_read_packets', '-of', 'csv=p=0', file]);
  return Number(stdout.trim());
}

export interface Probe {
  format: { duration?: string; format_name?: string; size?: string };
  streams: { codec_type: string; codec_name: string; width?: number; height?: number; sample_rate?: string; channels?: number; profile?: string; pix_fmt?: string }[];
}

export async function ffprobe(file: string): Promise<Probe> {
  const { stdout } = await exec('ffprobe', ['-v', 'error', '-print_format', 'json', '-show_format', '-show_streams', file]);
  return JSON.parse(stdout) as Probe;
}

export interface TestServer {
  server: RunningServer;
  config: Config;
  dataDir: string;
  /** USER's own file:// folder (`<data dir>/files/<USER.id>`: the test server has two users, each with a folder). */
  filesDir: string;
  /** A user's own file:// folder. */
  filesOf(user: { id: string }): string;
  /** POST a raw body and get the raw reply. */
  raw(body: string, headers?: Record<string, string>): Promise<{ status: number; type: string; text: string }>;
  /** POST a query as xml= or json= (URL-encoded), as `user` (default USER); returns `response`, typed by the action (replies.ts). */
  call<A extends string = string>(format: 'xml' | 'json', query: { action?: A; [field: string]: unknown }, user?: { id: string; key: string }): Promise<ReplyTo<A>>;
  close(): Promise<void>;
}

/**
 * `ENCODERY_TEST_STORE=postgres` runs the test servers on PostgreSQL (`ENCODERY_TEST_PG_URL`,
 * default the local `test` database): each gets a fresh schema of its own, dropped when it closes.
 */
export const TEST_STORE = process.env.ENCODERY_TEST_STORE === 'postgres' ? 'postgres' : 'sqlite';
export { TEST_PG_URL, pgReachable } from './needs.ts';

/**
 * Skips a test in the PostgreSQL pass (ENCODERY_TEST_STORE=postgres) that uses no store at all, such
 * as a process started without ENCODERY_DATABASE_URL: it runs once, in the SQLite pass.
 */
export const STORE_INDEPENDENT = TEST_STORE === 'postgres' ? 'uses no store: runs in the SQLite pass only' : false;

export interface TestDatabase {
  /** ENCODERY_DATABASE_URL for a server (or child process) that should use this schema. */
  url: string;
  drop(): Promise<void>;
}

/** A fresh PostgreSQL schema, selected through the URL's search_path. */
export async function createTestDatabase(): Promise<TestDatabase> {
  const schema = `encodery_test_${crypto.randomUUID().replaceAll('-', '')}`;
  const admin = async (statement: string) => {
    const client = new pg.Client({ connectionString: TEST_PG_URL });
    await client.connect();
    try {
      await client.query(statement);
    } finally {
      await client.end();
    }
  };
  await admin(`create schema ${schema}`);
  const url = new URL(TEST_PG_URL);
  url.searchParams.set('options', `-c search_path=${schema}`);
  return { url: url.toString(), drop: () => admin(`drop schema if exists ${schema} cascade`) };
}

export async function startTestServer(env: Record<string, string> = {}, log?: Logger): Promise<TestServer> {
  const dataDir = await tempDir();
  const database = TEST_STORE === 'postgres' && !('ENCODERY_DATABASE_URL' in env) ? await createTestDatabase() : null;
  const filesOf = (user: { id: string }) => path.join(dataDir, 'files', user.id);
  const filesDir = filesOf(USER);
  const config = loadConfig({
    ENCODERY_PORT: '0',
    ENCODERY_DATA_DIR: dataDir,
    ENCODERY_USERS: `${USER.id}:${USER.key},${OTHER.id}:${OTHER.key}`,
    ENCODERY_ALLOW_PRIVATE_NETWORK: 'true',
    ENCODERY_NOTIFY_RETRY_DELAYS_MS: '50,100,150',
    ENCODERY_WORKERS: '2',
    ...(database ? { ENCODERY_DATABASE_URL: database.url } : {}),
    ...env,
  });
  // Loaded here, not at the top: the server's modules cost each test file about a second of CPU
  // to load, and the files that only spawn processes or test one module never start one.
  const { startServer } = await import('../src/server.ts');
  const server = await startServer(config, { log: log ?? pino({ level: process.env.TEST_LOG ?? 'silent' }) }).catch(async (err: unknown) => {
    await database?.drop();
    throw err;
  });
  const raw: TestServer['raw'] = async (body, headers = {}) => {
    const res = await fetch(server.url + '/', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
      body,
    });
    return { status: res.status, type: res.headers.get('content-type') ?? '', text: await res.text() };
  };
  const call = async <A extends string = string>(format: 'xml' | 'json', query: { action?: A; [field: string]: unknown }, user = USER): Promise<ReplyTo<A>> => {
    const full = { userid: user.id, userkey: user.key, ...query };
    const doc = format === 'json' ? JSON.stringify({ query: full }) : toXml('query', full);
    const res = await raw(`${format}=${encodeURIComponent(doc)}`);
    if (res.status !== 200) throw new Error(`HTTP ${res.status}: ${res.text}`);
    const response: unknown = format === 'json' ? (JSON.parse(res.text) as { response: unknown }).response : parseXml(res.text).response;
    // The shape is the server's contract, which the assertions on it check.
    return response as ReplyTo<A>;
  };
  return {
    server,
    config,
    dataDir,
    filesDir,
    filesOf,
    raw,
    call,
    close: async () => {
      await server.close();
      await database?.drop();
      await fs.rm(dataDir, { recursive: true, force: true });
    },
  };
}

const xmlParser = new XMLParser({ ignoreAttributes: true, parseTagValue: false, trimValues: true });
export function parseXml(text: string): any {
  return xmlParser.parse(text);
}

export function toXml(name: string, value: unknown): string {
  if (Array.isArray(value)) return value.map((v) => toXml(name, v)).join('');
  if (value !== null && typeof value === 'object') {
    return `<${name}>${Object.entries(value).map(([k, v]) => toXml(k, v)).join('')}</${name}>`;
  }
  const text = String(value ?? '').replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  return `<${name}>${text}</${name}>`;
}

export const asList = <T>(x: T | T[] | undefined): T[] => (x === undefined ? [] : Array.isArray(x) ? x : [x]);

/** The one element a reply holds where the wire allows one or a list (7.8): a list fails the test. */
export function one<T>(x: OneOrMany<T>): T {
  if (Array.isArray(x)) throw new Error(`expected one element, got a list of ${x.length}: ${JSON.stringify(x).slice(0, 300)}`);
  return x;
}

export async function waitFor<T>(fn: () => Promise<T | undefined | false>, timeoutMs = 60_000, everyMs = 100): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value) return value;
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Polls GetStatus until the media reaches a final status; returns every status seen in order. */
export async function untilFinal(t: TestServer, mediaId: string, timeoutMs = 120_000, user = USER): Promise<{ final: StatusJob; seen: string[] }> {
  const seen: string[] = [];
  const final = await waitFor(async () => {
    const r = await t.call('json', { action: 'GetStatus', mediaid: mediaId, extended: 'yes' }, user);
    const job = r.job;
    if (!job || Array.isArray(job)) throw new Error(`GetStatus failed: ${JSON.stringify(r)}`);
    if (seen[seen.length - 1] !== job.status) seen.push(job.status);
    return ['Finished', 'Error', 'Stopped'].includes(job.status) ? job : undefined;
  }, timeoutMs, 50);
  return { final, seen };
}

export interface Received {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/** A real HTTP server that records what it receives; `respond` picks each status code. */
export async function startReceiver(respond: (r: Received, n: number) => number = () => 200) {
  const received: Received[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const r = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks) };
      received.push(r);
      res.statusCode = respond(r, received.length);
      res.end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** A static file server for http:// sources. */
export async function serveFiles(dir: string) {
  const server = http.createServer(async (req, res) => {
    const file = path.join(dir, path.basename(decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname)));
    const data = await fs.readFile(file).catch(() => null);
    if (!data) {
      res.statusCode = 404;
      res.end('missing');
      return;
    }
    res.setHeader('content-length', data.length);
    res.end(data);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, close: () => new Promise<void>((r) => server.close(() => r())) };
}

/** An HTTP source that takes the request and never answers: a media downloading from it holds its worker. */
export async function stallingSource(): Promise<{ url: string; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = http.createServer(() => {});
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** A logger at `level` whose JSON lines are appended to `lines`, for tests that read what was logged. */
export function collectLogs(level = 'debug', lines: string[] = []): { lines: string[]; logger: Logger } {
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(chunk.toString());
      cb();
    },
  });
  return { lines, logger: createLogger(level, sink) };
}
