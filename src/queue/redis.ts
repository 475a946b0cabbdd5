import type { RedisOptions } from 'ioredis';

/** The ioredis options of a redis:// URL (BullMQ insists on no per-request retry limit for workers). */
export function redisConnection(url: string): RedisOptions {
  const u = new URL(url);
  const db = u.pathname.replace(/^\//, '');
  return {
    host: u.hostname.replace(/^\[|\]$/g, ''),
    port: u.port ? Number(u.port) : 6379,
    ...(u.username ? { username: decodeURIComponent(u.username) } : {}),
    ...(u.password ? { password: decodeURIComponent(u.password) } : {}),
    ...(db ? { db: Number(db) } : {}),
    ...(u.protocol === 'rediss:' ? { tls: {} } : {}),
    maxRetriesPerRequest: null,
  };
}

/** ioredis errors can quote the URL they failed on; a password must not reach the logs. */
export function redactError(err: unknown): unknown {
  if (!(err instanceof Error)) return err;
  const copy = new Error(err.message.replace(/\/\/[^@/\s]*@/g, '//***@'));
  copy.name = err.name;
  return copy;
}
