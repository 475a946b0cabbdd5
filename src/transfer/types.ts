import type { Readable } from 'node:stream';
import { redactText } from './redact.ts';
import { UserFacingError } from '../domain/errors.ts';
import type { SchemeSettings } from './settings.ts';

/** Limits on how slowly and how long one transfer may run (ENCODERY_TRANSFER_*); 0 turns one off. */
export interface PaceLimits {
  /** Fewer bytes than this per second on average over one window fails the transfer. */
  minBytesPerSecond: number;
  windowSeconds: number;
  /** The whole transfer, retries included. */
  deadlineSeconds: number;
}

/** Built by transferContext (context.ts) from configuration; tests build their own. */
export interface TransferContext extends Partial<SchemeSettings> {
  /** Folders file:// may read and write (a user's own, domain/file-roots.ts). */
  fileRoots: readonly string[];
  /** Folders file:// may read but never write (ENCODERY_SHARED_FILE_ROOTS). */
  sharedFileRoots?: readonly string[];
  /** Folders file:// never reaches, even below a root, except through a root lying inside them. */
  deniedFileRoots?: readonly string[];
  allowPrivateNetwork: boolean;
  signal?: AbortSignal;
  maxSourceBytes?: number;
  /** Minimum rate and deadline of each download and upload (ENCODERY_TRANSFER_*); absent: none. */
  pace?: PaceLimits;
  /** Waits between upload attempts; default [1000, 4000, 10000]. Tests shorten it. */
  retryDelaysMs?: readonly number[];
  /** Diagnostics nobody is shown by default (an SFTP server's host key fingerprint). */
  debug?: (message: string) => void;
  /** Told of every download and upload when it ends, well or not (the metrics count them). */
  report?: (t: TransferReport) => void;
}

/** One download or upload (retries included) as it ended. */
export interface TransferReport {
  direction: 'download' | 'upload';
  /** The URL scheme without its colon: file, http, https, s3, ftp, ftps, sftp… */
  scheme: string;
  /** Bytes moved (on a failure: as far as it got). */
  bytes: number;
  seconds: number;
  ok: boolean;
}

export type Progress = (doneBytes: number, totalBytes: number | null) => void;

// Loggers print causes too (pino appends their messages and stacks), and library errors may
// quote the URL they were given: keep the code and the text, with every URL redacted.
function sanitizedCause(cause: unknown): unknown {
  if (!(cause instanceof Error)) return cause;
  const copy = new Error(redactText(cause.message));
  copy.name = cause.name;
  copy.stack = cause.stack === undefined ? undefined : redactText(cause.stack);
  const code = (cause as { code?: unknown }).code;
  if (code !== undefined) Object.assign(copy, { code });
  return copy;
}

/** The message is shown to the user (GetStatus, notifications), so it is always redacted. */
export class TransferError extends UserFacingError {
  readonly code = 'ENCODERY_TRANSFER_FAILED';

  constructor(message: string, options: { retryable?: boolean; cause?: unknown } = {}) {
    super(message, { retryable: options.retryable ?? false, ...(options.cause === undefined ? {} : { cause: sanitizedCause(options.cause) }) });
    this.name = 'TransferError';
  }
}

/** One per URL scheme; a new scheme is one new file registered in index.ts. */
export interface SchemeModule {
  readonly schemes: readonly string[];
  /**
   * Takes a URL of another module's scheme (S3 keys in an https URL); checked before the
   * scheme match, so keep it narrow and free of I/O.
   */
  claims?(url: URL, ctx: Partial<TransferContext>): boolean;
  /**
   * The URL of the host actually contacted, for the private-network check; null when the host
   * is trusted configuration. Without it, the URL's own host is checked.
   */
  connectsTo?(url: URL, ctx: Partial<TransferContext>): URL | null;
  /** Syntactic check only (no I/O): an error message, or null when acceptable. */
  validate(url: URL, role: 'source' | 'destination'): string | null;
  read(url: URL, ctx: TransferContext): Promise<{ stream: Readable; size: number | null }>;
  write(
    url: URL,
    ctx: TransferContext,
    source: { path: string; size: number },
    onProgress?: Progress,
  ): Promise<void>;
  /**
   * Writes the source into `toPath` (already created, empty) itself, e.g. by ranged reads at
   * offsets; must honour ctx.maxSourceBytes. Null: not handled here, `read` is used instead.
   */
  download?(url: URL, ctx: TransferContext, toPath: string, onProgress?: Progress): Promise<{ bytes: number } | null>;
  /** Why `download` would not fill the file front to back for this URL (e.g. parallel ranged reads), or null when it would. */
  outOfOrder?(url: URL, ctx: Partial<TransferContext>): string | null;
  /**
   * The object's size, or null when it does not exist. With `remove` and `removeTree`, what
   * makes a scheme usable as the shared storage (ENCODERY_STORAGE_URL).
   */
  stat?(url: URL, ctx: TransferContext): Promise<{ size: number } | null>;
  /** Deletes one object; one that does not exist is not an error. */
  remove?(url: URL, ctx: TransferContext): Promise<void>;
  /** Deletes everything under a folder URL (ending in `/`); returns how many objects went. */
  removeTree?(url: URL, ctx: TransferContext): Promise<number>;
}
