import type { Logger } from 'pino';
import { describeError, EncoderyError, errorRef, UserFacingError, type ErrorCode } from '../domain/errors.ts';
import { isStoreUnavailable } from '../store/faults.ts';

/**
 * Every error text the API answers with, in one place. Texts seen from the real service or its
 * clients are kept verbatim (reference 1.5); the rest say what was wrong and how to fix it.
 */
export const ErrorText = {
  auth: 'Wrong user id or key!',
  badQuery: (why: string) => `Wrong query format: ${why}`,
  unknownAction: (action: string) => `Unknown action "${action}".`,
  noAction: 'Action is not indicated!',
  noSource: 'Source file is not indicated!',
  noFormat: 'No formats specified!',
  noMediaId: 'Media ID is not indicated!',
  badMediaId: (id: string) => `Media ID "${id}" is not a positive whole number.`,
  mediaNotFound: (id: string | number) => `Media ${id} not found.`,
  noTaskId: 'Task ID is not indicated!',
  taskNotFound: (id: string | number) => `Task ${id} not found in this media.`,
  noPresetName: 'Preset name is not indicated!',
  presetNotFound: (name: string) => `Preset "${name}" not found.`,
  badPresetName: (field: string, name: string) =>
    `Field "${field}": "${name.slice(0, 80)}" is not a preset name; use 1 to 64 letters, digits, "_", "." or "-".`,
  builtInPreset: (name: string) => `Preset "${name}" is a built-in (ui) preset and cannot be deleted.`,
  tooManyPresets: (limit: number) => `A user may keep at most ${limit} presets; delete some with DeletePreset first.`,
  wrongShape: (field: string, expected: string) => `Field "${field}" must be ${expected}.`,
  badValue: (field: string, why: string) => `Field "${field}" ${why}`,
  tooLarge: (limit: number) => `Request body is larger than the limit of ${limit} bytes.`,
  fieldTooLong: (field: string, limit: number) => `Field "${field}" is longer than the limit of ${limit} characters.`,
  wrongMethod: (method: string) => `The API takes POST, not ${method.slice(0, 16)}: POST / with a form field named xml or json.`,
  noSuchPath: (path: string) => `Nothing is served at ${JSON.stringify(path.slice(0, 80))}: the API is POST / with a form field named xml or json.`,
  unreadable: (why: string) => `The request could not be read (${why.slice(0, 120)}).`,
  internal: (ref: string) => `Internal error (ref ${ref}); the request was not carried out. Try again later.`,
  storeUnavailable: 'The database cannot be reached right now; try again in a moment.',
  queueUnavailable: 'The queue cannot be reached right now and a worker is processing this media, so it cannot be interrupted; nothing was changed. Try again in a moment.',
} as const;

/** An error the API answers with an `<errors>` reply, in its own words (ErrorText); nothing was changed. */
export class ApiError extends UserFacingError {
  override name = 'ApiError';
  readonly code = 'ENCODERY_REQUEST_REFUSED';
}

/**
 * What the API answers when an error of each code reaches it:
 * - `as-written`: the error's own words (an ApiError's come from ErrorText above);
 * - `described`: its words without server paths or credentials (domain/errors.ts describeError);
 * - a text of ErrorText: the request was refused for a passing reason, said the same way each time;
 * - `internal`: nothing of it; the user gets a reference that finds the whole error in the log.
 */
type WireRule = 'as-written' | 'described' | 'internal' | { text: string };

const WIRE_RULES: Record<ErrorCode, WireRule> = {
  ENCODERY_REQUEST_REFUSED: 'as-written',
  ENCODERY_FORMAT_INVALID: 'described',
  ENCODERY_TRANSFER_FAILED: 'described',
  ENCODERY_FFMPEG_FAILED: 'described',
  ENCODERY_SOURCE_UNREADABLE: 'described',
  ENCODERY_INPUT_REFUSED: 'described',
  ENCODERY_SPLIT_PIECE_FAILED: 'described',
  ENCODERY_CAPTIONS_INVALID: 'described',
  ENCODERY_QUEUE_UNAVAILABLE: { text: ErrorText.queueUnavailable },
  ENCODERY_RETRY_LATER: 'internal',
  ENCODERY_ILLEGAL_TRANSITION: 'internal',
  ENCODERY_STORE_OPEN_FAILED: 'internal',
  ENCODERY_CONFIG_INVALID: 'internal',
  ENCODERY_OUTSIDE_ROOTS: 'internal',
  ENCODERY_FORBIDDEN_ADDRESS: 'internal',
  ENCODERY_HTTP_TIMEOUT: 'internal',
  ENCODERY_UPLOAD_TOO_LARGE: 'internal',
  ENCODERY_SECRET_UNSEALABLE: 'described',
};

/** The rule for one code (exported for the test that every code has one). */
export function wireRuleOf(code: ErrorCode): WireRule {
  return WIRE_RULES[code];
}

/**
 * The one line the API answers for an error that ended an action, and the log line it leaves:
 * a refused request is the client's to fix and is not logged; a passing fault (the store or the
 * queue out of reach) is a warning; anything else is logged whole under the reference the
 * user is given.
 */
export function wireMessage(err: unknown, log: Logger, context: Record<string, unknown> = {}): string {
  const rule = err instanceof EncoderyError ? WIRE_RULES[err.code] : null;
  if (rule === 'as-written') return (err as Error).message;
  if (rule === 'described') return describeError(err);
  if (rule !== null && typeof rule === 'object') {
    log.warn({ err, ...context }, 'the request was refused for a passing fault');
    return rule.text;
  }
  if (isStoreUnavailable(err)) {
    log.warn({ err, ...context }, 'the store could not be reached; the request was refused');
    return ErrorText.storeUnavailable;
  }
  const ref = errorRef(err);
  log.error({ err, ref, ...context }, 'request failed; the user was given its reference');
  return ErrorText.internal(ref);
}
