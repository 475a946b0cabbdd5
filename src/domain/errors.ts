import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import { redactText } from './redact.ts';

/**
 * An error whose message is written for the user who sent the media: shown as it is (server
 * paths aside) in GetStatus, task logs and notifications. Every other error is internal: the
 * user sees "Internal error (ref …)" and the log keeps the whole error under that reference.
 */
export class UserFacingError extends Error {
  override name = 'UserFacingError';
}

// Node's system errors (fs, net) carry these and quote server paths in their messages.
const SYSTEM_ERROR_KEYS = ['errno', 'syscall', 'path'];
// Programming errors and store drivers (better-sqlite3's SqliteError, pg's DatabaseError).
const INTERNAL_NAMES = new Set(['TypeError', 'RangeError', 'ReferenceError', 'SyntaxError', 'EvalError', 'URIError', 'AssertionError', 'SqliteError', 'DatabaseError', 'StoreError']);
const SQL_TEXT = /\b(select\s.+\sfrom|insert\s+into|update\s+\S+\s+set|delete\s+from|create\s+table|alter\s+table)\b|\bSQLITE_[A-Z]+\b/i;

/**
 * Whether a user may see this error's message. A UserFacingError may; so, for now, may a plain
 * `Error` thrown by our own code (those messages are phrased for users; new code throws a
 * UserFacingError) unless it is a system error, quotes SQL or says `internal:`. Everything else
 * may not.
 */
export function isUserFacing(err: unknown): err is Error {
  if (!(err instanceof Error)) return false;
  if (SYSTEM_ERROR_KEYS.some((k) => k in err) || SQL_TEXT.test(err.message) || err.message.startsWith('internal:')) return false;
  if (err instanceof UserFacingError) return true;
  return Object.getPrototypeOf(err) === Error.prototype && !INTERNAL_NAMES.has(err.name);
}

/** A short reference for an internal error, the same wherever the same error is shown or logged. */
export function errorRef(err: unknown): string {
  const text = err instanceof Error ? `${err.name}\n${err.message}\n${err.stack ?? ''}` : String(err);
  return createHash('sha256').update(text).digest('hex').slice(0, 6);
}

/** What a user is told about an internal error; the operator finds it in the log by its ref. */
export function internalErrorText(err: unknown): string {
  return `Internal error (ref ${errorRef(err)})`;
}

// An absolute path (not part of a URL): a server path a user has no business seeing. Only its
// last part is kept, which is what a user can act on (`source-0`, `clip.mp4`).
const SERVER_PATH = /(?<![\w/.~-])\/(?:[^\s/'"`:,;()[\]]+\/)+([^\s/'"`:,;()[\]]*)/g;

/** Removes server paths from a text shown to a user. */
export function withoutServerPaths(text: string): string {
  return text.replace(SERVER_PATH, (_m, last: string) => last || '…');
}

/**
 * One line a user may see: a user-facing error's message without server paths or credentials,
 * or for anything else (a store error, a failed system call, a bug) "Internal error (ref …)",
 * with the whole error logged under that reference when `log` is given.
 */
export function describeError(err: unknown, log?: Logger): string {
  if (!isUserFacing(err)) {
    log?.error({ err, ref: errorRef(err) }, 'internal error, shown to the user by its reference');
    return internalErrorText(err);
  }
  const message = redactText(withoutServerPaths(err.message));
  return message.replace(/\s+/g, ' ').trim().slice(0, 1000) || 'unknown error';
}
