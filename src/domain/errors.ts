import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import { redactText } from './redact.ts';

/**
 * Every stable error code, with what it means (the README's table of error codes). A code names a
 * kind of failure for good: code branches on it, never on a message. api/errors.ts decides what
 * the API answers for each.
 */
export const ERROR_CODES = {
  ENCODERY_REQUEST_REFUSED: 'The API refused a request (a missing or bad field, an unknown media, a wrong key); nothing changed.',
  ENCODERY_FORMAT_INVALID: 'A format\'s fields cannot be encoded as given.',
  ENCODERY_TRANSFER_FAILED: 'A download, upload or delete failed; retryable when the failure may pass (a reset, a timeout, a 5xx).',
  ENCODERY_FFMPEG_FAILED: 'FFmpeg could not start, or ran and failed.',
  ENCODERY_SOURCE_UNREADABLE: 'The source is not media FFmpeg can read.',
  ENCODERY_INPUT_REFUSED: 'An input is a playlist, a manifest or a format Encodery does not read.',
  ENCODERY_SPLIT_PIECE_FAILED: 'A split-and-stitch piece is missing or does not join.',
  ENCODERY_CAPTIONS_INVALID: 'A closed_captions file does not parse (its line is named), or the captions asked for cannot be made from this source.',
  ENCODERY_QUEUE_UNAVAILABLE: 'Redis did not answer, so the request was refused; retryable.',
  ENCODERY_RETRY_LATER: 'A media met an infrastructure fault (the store, the queue) and goes back to the queue; retryable.',
  ENCODERY_ILLEGAL_TRANSITION: 'A status change the lifecycle table does not allow; nothing of it was written (internal).',
  ENCODERY_STORE_OPEN_FAILED: 'The store could not be opened (internal).',
  ENCODERY_CONFIG_INVALID: 'A setting is missing or wrong; the process does not start.',
  ENCODERY_OUTSIDE_ROOTS: 'A file:// path escapes its roots (internal; users see a transfer error).',
  ENCODERY_FORBIDDEN_ADDRESS: 'A host resolves to a private or reserved address (internal; users see a transfer error).',
  ENCODERY_HTTP_TIMEOUT: 'An HTTP origin stayed silent too long (internal; users see a retryable transfer error).',
  ENCODERY_UPLOAD_TOO_LARGE: 'A dashboard upload is over the size limit.',
  ENCODERY_SECRET_UNSEALABLE: 'A stored secret field (drm_key, encryption_key, …) was sealed with another ENCODERY_SECRET_KEY than this process has.',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

/**
 * Every error class of Encodery's own: a stable `code`, and whether trying the same thing again
 * later may succeed (`retryable`), decided by the code that throws, which knows best.
 */
export abstract class EncoderyError extends Error {
  abstract readonly code: ErrorCode;
  readonly retryable: boolean;

  constructor(message: string, options: { retryable?: boolean; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.retryable = options.retryable ?? false;
  }
}

/**
 * An error whose message is written for the user who sent the media: shown as it is (server
 * paths aside) in GetStatus, task logs and notifications. Every other error is internal: the
 * user sees "Internal error (ref …)" and the log keeps the whole error under that reference.
 */
export abstract class UserFacingError extends EncoderyError {
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
