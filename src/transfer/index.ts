import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Readable } from 'node:stream';
import { toTransferError, type Verb } from './errors.ts';
import { azureScheme } from './azure.ts';
import { fileScheme, readableRoots } from './file.ts';
import { ftpScheme } from './ftp.ts';
import { OutsideRootsError, namesPrivateAddress, resolveReadPath } from './guard.ts';
import { fileURLToPath } from 'node:url';
import { httpScheme } from './http.ts';
import { s3Scheme } from './s3.ts';
import { ByteMeter, TransferPace, tooLargeMessage } from './meter.ts';
import { redactUrl } from './redact.ts';
import { sftpScheme } from './sftp.ts';
import { TransferError, type Progress, type SchemeModule, type TransferContext, type TransferReport } from './types.ts';

export { redactUrl } from './redact.ts';
export { lexicallyInside } from './guard.ts';
export { TransferError } from './types.ts';
export type { Progress, SchemeModule, TransferContext } from './types.ts';
export { transferContext, type TransferScope } from './context.ts';

const MODULES: readonly SchemeModule[] = [
  fileScheme,
  azureScheme,
  httpScheme,
  s3Scheme,
  ftpScheme,
  sftpScheme,
];

const DEFAULT_RETRY_DELAYS_MS = [1000, 4000, 10_000];

function moduleFor(url: URL, ctx: Partial<TransferContext>): SchemeModule | undefined {
  return MODULES.find((m) => m.claims?.(url, ctx)) ?? MODULES.find((m) => m.schemes.includes(url.protocol));
}

function parse(url: string, role: 'source' | 'destination', ctx: Partial<TransferContext>): { url: URL; module: SchemeModule } | string {
  let parsed: URL;
  try {
    parsed = new URL(url.trim());
  } catch {
    return `Invalid ${role} URL "${redactUrl(url)}"`;
  }
  const module = moduleFor(parsed, ctx);
  if (!module) return `Unsupported URL scheme "${parsed.protocol}" in ${role} "${redactUrl(url)}"`;
  const problem = module.validate(parsed, role);
  return problem ?? { url: parsed, module };
}

/** Synchronous, no I/O: for request validation. An error message, or null when acceptable. */
export function checkUrl(url: string, role: 'source' | 'destination', opts: Partial<TransferContext> = {}): string | null {
  const r = parse(url, role, opts);
  if (typeof r === 'string') return r;
  const contacted = r.module.connectsTo ? r.module.connectsTo(r.url, opts) : r.url;
  if (opts.allowPrivateNetwork === false && contacted && contacted.protocol !== 'file:' && namesPrivateAddress(contacted)) {
    return `The ${role} host ${contacted.hostname} is a private or loopback address, which is not allowed (see ENCODERY_ALLOW_PRIVATE_NETWORK)`;
  }
  return null;
}

function resolve(url: string, role: 'source' | 'destination', verb: Verb, ctx: Partial<TransferContext>): { url: URL; module: SchemeModule } {
  const r = parse(url, role, ctx);
  if (typeof r === 'string') throw new TransferError(`${verb} error: ${r}`);
  return r;
}

function abortedError(verb: Verb, signal: AbortSignal): TransferError {
  return new TransferError(`${verb} error: aborted`, { cause: signal.reason });
}

/**
 * The checked real path of a `file://` source, for reading in place instead of copying it:
 * inside the roots (symlinks resolved) and a regular file (a FIFO or device would hang FFmpeg).
 * Null for every other scheme.
 */
export async function localSourcePath(url: string, ctx: TransferContext): Promise<string | null> {
  const { url: parsed } = resolve(url, 'source', 'Download', ctx);
  if (parsed.protocol !== 'file:') return null;
  try {
    const real = await resolveReadPath(readableRoots(ctx), fileURLToPath(parsed), ctx.deniedFileRoots);
    if (!(await fs.stat(real)).isFile()) throw new TransferError('Download error: the source is not a regular file');
    return real;
  } catch (err) {
    if (err instanceof TransferError) throw err;
    if (err instanceof OutsideRootsError) throw new TransferError('Download error: the path is outside the allowed file roots');
    const code = (err as NodeJS.ErrnoException).code;
    throw new TransferError(`Download error: ${code === 'ENOENT' ? 'file not found' : `cannot read the file${code ? ` (${code})` : ''}`}`, { cause: err });
  }
}

/**
 * The transfer as the scheme sees it: its signal also fires when ctx.pace stops it, and every
 * progress report feeds the pace. Null pace: no limits configured.
 */
function paced(verb: Verb, ctx: TransferContext, onProgress?: Progress): { ctx: TransferContext; onProgress?: Progress; pace: TransferPace | null } {
  if (!ctx.pace) return { ctx, ...(onProgress ? { onProgress } : {}), pace: null };
  const pace = new TransferPace(verb, ctx.pace, ctx.signal);
  return {
    ctx: { ...ctx, signal: pace.signal },
    onProgress: (done, total) => {
      pace.count(done);
      return onProgress?.(done, total);
    },
    pace,
  };
}

/** The scheme a transfer is counted under: one a module serves (never text from the URL otherwise). */
function schemeLabel(url: URL, module: SchemeModule): string {
  if (module.schemes.includes(url.protocol)) return url.protocol.slice(0, -1);
  return module === azureScheme ? 'azure' : (module.schemes[0]?.slice(0, -1) ?? 'other');
}

/** Runs one transfer and tells `ctx.report` how it went; one cancelled on purpose is not reported. */
async function reported<T>(
  direction: TransferReport['direction'],
  url: URL,
  module: SchemeModule,
  ctx: TransferContext,
  onProgress: Progress | undefined,
  run: (onProgress: Progress | undefined) => Promise<T>,
  bytesOf: (result: T) => number,
): Promise<T> {
  const report = ctx.report;
  if (!report) return run(onProgress);
  const started = performance.now();
  let moved = 0;
  const tell = (ok: boolean, bytes: number) => {
    try {
      report({ direction, scheme: schemeLabel(url, module), bytes, seconds: (performance.now() - started) / 1000, ok });
    } catch {
      // Counting is advisory: it never fails a transfer.
    }
  };
  try {
    const result = await run((done, total) => {
      moved = done;
      return onProgress?.(done, total);
    });
    tell(true, bytesOf(result));
    return result;
  } catch (err) {
    if (!ctx.signal?.aborted) tell(false, moved);
    throw err;
  }
}

/**
 * Why a download of `url` would not write its file front to back, so that no reader may follow
 * it as it grows (instant mode), or null when it would.
 */
export function whyOutOfOrder(url: string, ctx: Partial<TransferContext>): string | null {
  const r = parse(url, 'source', ctx);
  return typeof r === 'string' ? r : (r.module.outOfOrder?.(r.url, ctx) ?? null);
}

/** What a download moved; `sha256` (hex) of the bytes when asked for and they streamed through in order. */
export interface Downloaded {
  bytes: number;
  sha256?: string;
}

/**
 * Streams `url` into `toPath` (created or truncated); on any failure `toPath` is removed.
 * `digest`: hash the bytes as they pass (the output cache's key), so the file is not read twice;
 * a scheme that writes ranges out of order (S3) returns no hash, and the caller reads the file.
 */
export async function download(url: string, toPath: string, outer: TransferContext, onOuterProgress?: Progress, opts: { digest?: boolean } = {}): Promise<Downloaded> {
  const { url: parsed, module } = resolve(url, 'source', 'Download', outer);
  return reported('download', parsed, module, outer, onOuterProgress, (p) => downloadFrom(parsed, module, toPath, outer, p, opts.digest ?? false), (r) => r.bytes);
}

async function downloadFrom(parsed: URL, module: SchemeModule, toPath: string, outer: TransferContext, onOuterProgress: Progress | undefined, digest: boolean): Promise<Downloaded> {
  if (outer.signal?.aborted) throw abortedError('Download', outer.signal);
  const limit = outer.maxSourceBytes;
  const tooLarge = tooLargeMessage(limit ?? 0);
  // The file exists before the pipeline starts, so the cleanup below can never race its creation.
  const out = await fs.open(toPath, 'w').catch((err: unknown) => {
    throw new TransferError('Download error: cannot create the local file', { cause: err });
  });
  const { ctx, onProgress, pace } = paced('Download', outer, onOuterProgress);
  try {
    const own = await module.download?.(parsed, ctx, toPath, onProgress);
    if (own) {
      await out.close();
      return own;
    }
    const { stream, size } = await module.read(parsed, ctx);
    if (limit !== undefined && size !== null && size > limit) {
      stream.destroy();
      throw new TransferError(tooLarge);
    }
    const meter = new ByteMeter(size, onProgress, limit === undefined ? undefined : { bytes: limit, message: tooLarge });
    const hash = digest ? createHash('sha256') : null;
    if (hash) meter.on('data', (chunk: Buffer) => hash.update(chunk));
    await pipeline(stream, meter, out.createWriteStream(), ctx.signal ? { signal: ctx.signal } : {});
    return { bytes: meter.bytes, ...(hash ? { sha256: hash.digest('hex') } : {}) };
  } catch (err) {
    await out.close().catch(() => undefined);
    await fs.rm(toPath, { force: true }).catch(() => undefined);
    if (outer.signal?.aborted) throw abortedError('Download', outer.signal);
    if (pace?.failure) throw pace.failure;
    throw toTransferError(err, 'Download', parsed.hostname || 'localhost', ctx.signal);
  } finally {
    pace?.stop();
  }
}

/**
 * Delivers a local file. Transient failures (connection resets, timeouts, 5xx, 429) are retried
 * after each of `ctx.retryDelaysMs`; anything else fails at once.
 */
export async function upload(fromPath: string, url: string, outer: TransferContext, onOuterProgress?: Progress): Promise<void> {
  const { url: parsed, module } = resolve(url, 'destination', 'Upload', outer);
  await reported('upload', parsed, module, outer, onOuterProgress, (p) => uploadTo(parsed, module, fromPath, outer, p), (size) => size);
}

/** Returns the size sent. */
async function uploadTo(parsed: URL, module: SchemeModule, fromPath: string, outer: TransferContext, onOuterProgress?: Progress): Promise<number> {
  let size: number;
  try {
    size = (await fs.stat(fromPath)).size;
  } catch (err) {
    throw new TransferError('Upload error: the file to upload is missing', { cause: err });
  }
  const delays = outer.retryDelaysMs ?? DEFAULT_RETRY_DELAYS_MS;
  const { ctx, onProgress, pace } = paced('Upload', outer, onOuterProgress);
  try {
    for (let attempt = 0; ; attempt++) {
      if (outer.signal?.aborted) throw abortedError('Upload', outer.signal);
      if (pace?.failure) throw pace.failure;
      pace?.restart();
      try {
        await module.write(parsed, ctx, { path: fromPath, size }, onProgress);
        return size;
      } catch (err) {
        if (pace?.failure && !outer.signal?.aborted) throw pace.failure;
        const failure = toTransferError(err, 'Upload', parsed.hostname || 'localhost', ctx.signal);
        const delay = delays[attempt];
        if (!failure.retryable || delay === undefined || ctx.signal?.aborted) throw failure;
        try {
          await sleep(delay, undefined, ctx.signal ? { signal: ctx.signal } : {});
        } catch {
          throw pace?.failure ?? abortedError('Upload', outer.signal!);
        }
      }
    }
  } finally {
    pace?.stop();
  }
}

/** A URL inside the shared storage: trusted configuration, so parsed without the per-role checks. */
function storageTarget(url: string, verb: Verb, ctx: Partial<TransferContext>): { url: URL; module: SchemeModule } {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new TransferError(`${verb} error: invalid storage URL "${redactUrl(url)}"`);
  }
  const module = moduleFor(parsed, ctx);
  if (!module) throw new TransferError(`${verb} error: unsupported URL scheme "${parsed.protocol}"`);
  return { url: parsed, module };
}

/**
 * Why `base` (a folder URL) cannot hold the shared storage, or null when it can: its scheme
 * must read, write, stat and delete, and an object below it must be a valid destination.
 */
export function checkStorageUrl(base: string, ctx: Partial<TransferContext>): string | null {
  if (!base.endsWith('/')) return 'must name a folder and end with /';
  const problem = checkUrl(`${base}probe`, 'destination', { ...ctx, allowPrivateNetwork: true });
  if (problem) return problem;
  const { module } = storageTarget(`${base}probe`, 'Upload', ctx);
  if (!module.stat || !module.remove || !module.removeTree) {
    return `${module.schemes.join(' ')} cannot hold the shared storage (it needs listing and deleting); use s3:// or file://`;
  }
  return null;
}

/** The object's size, or null when there is no such object. */
export async function statObject(url: string, ctx: TransferContext): Promise<{ size: number } | null> {
  const { url: parsed, module } = storageTarget(url, 'Download', ctx);
  if (!module.stat) throw new TransferError(`Download error: ${parsed.protocol} objects cannot be looked up`);
  try {
    return await module.stat(parsed, ctx);
  } catch (err) {
    throw toTransferError(err, 'Download', parsed.hostname || 'localhost', ctx.signal);
  }
}

/** A stream of the object, for serving it (the caller destroys it when the client goes away). */
export async function openObject(url: string, ctx: TransferContext): Promise<{ stream: Readable; size: number | null }> {
  const { url: parsed, module } = storageTarget(url, 'Download', ctx);
  try {
    return await module.read(parsed, ctx);
  } catch (err) {
    throw toTransferError(err, 'Download', parsed.hostname || 'localhost', ctx.signal);
  }
}

/** Deletes everything under the folder URL `url` (ending in `/`); how many objects went. */
export async function removeTree(url: string, ctx: TransferContext): Promise<number> {
  const { url: parsed, module } = storageTarget(url, 'Delete', ctx);
  if (!module.removeTree) throw new TransferError(`Delete error: ${parsed.protocol} folders cannot be removed`);
  try {
    return await module.removeTree(parsed, ctx);
  } catch (err) {
    throw toTransferError(err, 'Delete', parsed.hostname || 'localhost', ctx.signal);
  }
}
