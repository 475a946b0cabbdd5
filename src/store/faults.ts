import { setTimeout as delay } from 'node:timers/promises';
import { UserFacingError } from '../domain/errors.ts';

/**
 * Which store errors say "the store cannot be reached right now" rather than "this query or this
 * media is wrong". The first kind is nobody's fault: the work that hit it is tried again later
 * (the queue retries the media, the API answers "try again"), never ended in Error.
 */

/** Socket-level failures on the way to PostgreSQL (node's `code`s). */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  'EAI_AGAIN',
]);

/**
 * PostgreSQL SQLSTATEs that pass: a connection exception (class 08), a server shutting down,
 * starting up or out of connections, a standby that is not yet promoted after a failover, and
 * the conflicts a retry resolves.
 */
const TRANSIENT_SQLSTATES = new Set(['57P01', '57P02', '57P03', '53300', '25006', '40001', '40P01']);

/** node-postgres reports a lost or timed-out connection with a message and no code. */
const PG_CONNECTION_MESSAGES = [
  'Connection terminated',
  'timeout exceeded when trying to connect',
  'Client has encountered a connection error and is not queryable',
  'Query read timeout',
];

/** SQLite: another connection holds the lock longer than busy_timeout allowed. */
const SQLITE_TRANSIENT = /^SQLITE_(BUSY|LOCKED)/;

/** Whether `err` (or what it wraps) says the store could not be reached or was busy: worth retrying later. */
export function isStoreUnavailable(err: unknown): boolean {
  return storeFault(err, 0) !== null;
}

/** The store fault inside `err`, phrased in one line for logs and task logs; null when it is no store fault. */
export function describeStoreFault(err: unknown): string | null {
  const fault = storeFault(err, 0);
  return fault ? `the database could not be reached (${fault.replace(/\s+/g, ' ').trim().slice(0, 200)})` : null;
}

// Errors arrive wrapped: a cause chain (StoreError, our own wrappers) or an AggregateError (a
// host name with several addresses, each refused).
function storeFault(err: unknown, depth: number): string | null {
  if (depth > 5 || err === null || typeof err !== 'object') return null;
  // A transfer, an FFmpeg run or a bad field failed (an origin resetting its connection is
  // ECONNRESET too): the media's own fault, whatever socket code it wraps.
  if (err instanceof UserFacingError) return null;
  const e = err as { code?: unknown; message?: unknown; cause?: unknown; errors?: unknown };
  const code = typeof e.code === 'string' ? e.code : '';
  const message = typeof e.message === 'string' ? e.message : '';
  if (NETWORK_CODES.has(code) || TRANSIENT_SQLSTATES.has(code) || /^08[0-9A-Z]{3}$/.test(code) || SQLITE_TRANSIENT.test(code)) return message || code;
  if (PG_CONNECTION_MESSAGES.some((m) => message.startsWith(m))) return message;
  if (Array.isArray(e.errors)) {
    for (const inner of e.errors) {
      const found = storeFault(inner, depth + 1);
      if (found) return found;
    }
  }
  return storeFault(e.cause, depth + 1);
}

export interface RetryOptions {
  /** Told before each wait, so that every attempt leaves a log line. */
  onRetry(attempt: number, delayMs: number, err: unknown): void;
  /** Ends the waiting (the process is stopping): the last error is thrown. */
  signal?: AbortSignal;
}

const FIRST_RETRY_MS = 500;
const MAX_RETRY_MS = 5000;

/**
 * Runs `step` until it succeeds or fails for a reason other than an unreachable store, waiting
 * 0.5 s, 1 s, 2 s … (at most 5 s) between attempts: start-up waits for a database that is down.
 */
export async function retryWhileUnavailable<T>(step: () => Promise<T>, opts: RetryOptions): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await step();
    } catch (err) {
      if (!isStoreUnavailable(err) || opts.signal?.aborted) throw err;
      const delayMs = Math.min(MAX_RETRY_MS, FIRST_RETRY_MS * 2 ** Math.min(attempt - 1, 10));
      opts.onRetry(attempt, delayMs, err);
      await delay(delayMs, undefined, { signal: opts.signal }).catch(() => undefined);
      if (opts.signal?.aborted) throw err;
    }
  }
}
