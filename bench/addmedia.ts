/**
 * Section 6 (BENCH_ONLY=addmedia): AddMedia throughput, media accepted per second, from 32
 * concurrent clients against one API node: a separate `encodery serve --role api` process on
 * PostgreSQL with its queue on Redis (the cluster's API node), and, for comparison, the embedded
 * mode (SQLite store, in-process queue).
 *
 * What is measured is acceptance: the request parsed and validated, the media, its tasks and
 * destinations written in one transaction, the media handed to the queue, the reply rendered.
 * The cluster run has no worker, so the media wait in Redis; the embedded node's one worker takes
 * the first media and sits on its source, a local HTTP server that never answers. Either way no
 * download or encode takes CPU from the API during the measurement.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import crypto from 'node:crypto';
import { Redis } from 'ioredis';
import pg from 'pg';
import { Pool } from 'undici';
import { USER, startServer } from './lib.ts';
import { stallingSource } from '../test/helpers.ts';

const SECONDS = Number(process.env.BENCH_ADDMEDIA_SECONDS ?? 10);
const CLIENTS = 32;
const PG_URL = process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';

export async function addMediaSection(dataDir: string): Promise<void> {
  const stall = await stallingSource();
  const database = `encodery_bench_${process.pid}_${Date.now()}`;
  const admin = async (statement: string) => {
    const client = new pg.Client({ connectionString: PG_URL });
    await client.connect();
    try {
      await client.query(statement);
    } finally {
      await client.end();
    }
  };
  const prefix = `encodery-bench-${crypto.randomBytes(4).toString('hex')}`;
  try {
    await admin(`create database ${database}`);
    try {
      const url = new URL(PG_URL);
      url.pathname = `/${database}`;
      const cluster = { ENCODERY_ROLE: 'api', ENCODERY_DATABASE_URL: url.toString(), ENCODERY_REDIS_URL: REDIS_URL, ENCODERY_QUEUE_PREFIX: prefix };
      const onPostgres = await measure(path.join(dataDir, 'addmedia-pg'), cluster, stall.url).finally(() => clearQueue(prefix));
      // Every reply that gave a MediaID must be a row: the figure counts stored media, not replies.
      const check = new pg.Client({ connectionString: url.toString() });
      await check.connect();
      const { rows } = await check.query<{ n: string; tasks: string }>('select count(*) as n, (select count(*) from task) as tasks from media');
      await check.end();
      if (Number(rows[0]!.n) !== onPostgres.replied) throw new Error(`${onPostgres.replied} media accepted but ${rows[0]!.n} stored`);
      if (Number(rows[0]!.tasks) !== 2 * onPostgres.replied) throw new Error(`${rows[0]!.tasks} tasks stored for ${onPostgres.replied} media`);
      console.log(
        `AddMedia from ${CLIENTS} concurrent clients, one --role api process on PostgreSQL (queue on Redis): ${Math.round(onPostgres.rate)} media accepted/s ` +
          `(${onPostgres.accepted} in ${SECONDS} s, ${onPostgres.errors} errors; p50 ${onPostgres.p50.toFixed(1)} ms, p99 ${onPostgres.p99.toFixed(1)} ms)`,
      );
    } finally {
      await admin(`drop database if exists ${database} with (force)`);
    }
    const onSqlite = await measure(path.join(dataDir, 'addmedia-sqlite'), {}, stall.url);
    console.log(
      `  the same against the embedded mode (SQLite store, in-process queue): ${Math.round(onSqlite.rate)} media accepted/s ` +
        `(${onSqlite.errors} errors; p50 ${onSqlite.p50.toFixed(1)} ms, p99 ${onSqlite.p99.toFixed(1)} ms)`,
    );
  } finally {
    stall.close();
  }
}

async function measure(dataDir: string, env: Record<string, string>, source: string) {
  await fs.mkdir(dataDir, { recursive: true });
  const port = 30000 + Math.floor(Math.random() * 20000);
  const server = await startServer(dataDir, port, { ENCODERY_WORKERS: '1', ...env });
  const outputs = path.join(dataDir, 'files');
  const pool = new Pool(`http://127.0.0.1:${port}`, { connections: CLIENTS, pipelining: 1 });
  try {
    let deadline = 0;
    let accepted = 0;
    let errors = 0;
    let n = 0;
    let replied = 0;
    const latencies: number[] = [];
    const client = async () => {
      while (performance.now() < deadline) {
        const query = {
          userid: USER.id,
          userkey: USER.key,
          action: 'AddMedia',
          source: `${source}/source-${n++}.mp4`,
          format: [
            { output: 'mp4', size: '640x360', destination: `file://${outputs}/a.mp4` },
            { output: 'webm', destination: `file://${outputs}/a.webm` },
          ],
        };
        const body = 'json=' + encodeURIComponent(JSON.stringify({ query }));
        const t0 = performance.now();
        const res = await pool.request({ path: '/', method: 'POST', body, headers: { 'content-type': 'application/x-www-form-urlencoded' } });
        const text = await res.body.text();
        latencies.push(performance.now() - t0);
        if (res.statusCode === 200 && /"MediaID":"\d+"/.test(text)) {
          accepted++;
          replied++;
        }
        else errors++;
      }
    };
    // Warm-up: connections, JIT, the pool's PostgreSQL connections.
    deadline = performance.now() + 2000;
    await Promise.all(Array.from({ length: CLIENTS }, client));
    accepted = 0;
    errors = 0;
    latencies.length = 0;
    deadline = performance.now() + SECONDS * 1000;
    const t0 = performance.now();
    await Promise.all(Array.from({ length: CLIENTS }, client));
    const elapsed = (performance.now() - t0) / 1000;
    latencies.sort((a, b) => a - b);
    const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * q))] ?? 0;
    return { rate: accepted / elapsed, accepted, replied, errors, p50: at(0.5), p99: at(0.99) };
  } finally {
    await pool.close();
    server.kill('SIGTERM');
    const killer = setTimeout(() => server.kill('SIGKILL'), 10_000);
    await new Promise((r) => (server.exitCode !== null ? r(null) : server.once('exit', r)));
    clearTimeout(killer);
  }
}

/** Removes the Redis keys of the bench's queue (the media it accepted wait there for no worker). */
async function clearQueue(prefix: string): Promise<void> {
  const redis = new Redis(REDIS_URL);
  try {
    const keys = await redis.keys(`${prefix}:*`);
    if (keys.length > 0) await redis.del(...keys);
  } finally {
    redis.disconnect();
  }
}

