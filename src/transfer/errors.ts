import { EncoderyError } from '../domain/errors.ts';
import { ForbiddenAddressError, OutsideRootsError } from './guard.ts';
import { HttpTimeoutError } from './http-client.ts';
import { TransferError } from './types.ts';

export type Verb = 'Download' | 'Upload' | 'Delete';

const CONNECT_CODES = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ENETDOWN']);
// Worth another attempt later: the peer or the path may recover.
const NETWORK_CODES = new Set([
  ...CONNECT_CODES,
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
]);

/** The first system or library error code in the cause chain (SDKs wrap socket errors); our own codes are not quoted. */
export function errorCode(err: unknown): string | undefined {
  for (let e = err, depth = 0; e && typeof e === 'object' && depth < 5; depth++) {
    const c = (e as { code?: unknown }).code;
    if (typeof c === 'string' && !(e instanceof EncoderyError)) return c;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

function findInChain<T extends Error>(err: unknown, type: abstract new (...args: never[]) => T): T | undefined {
  for (let e = err, depth = 0; e && typeof e === 'object' && depth < 5; depth++) {
    if (e instanceof type) return e;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

export function isForbiddenAddress(err: unknown): boolean {
  return findInChain(err, ForbiddenAddressError) !== undefined;
}

/**
 * Turns anything thrown by a transfer into a user-facing TransferError. Only the host name and
 * an error code are ever quoted: library messages may embed URLs with credentials.
 */
export function toTransferError(err: unknown, verb: Verb, host: string, signal?: AbortSignal): TransferError {
  if (err instanceof TransferError) return err;
  if (signal?.aborted) return new TransferError(`${verb} error: aborted`, { cause: err });
  if (err instanceof OutsideRootsError) {
    return new TransferError(`${verb} error: the path is outside the allowed file roots`);
  }
  if (isForbiddenAddress(err)) {
    const blocked = new ForbiddenAddressError(host);
    return new TransferError(`${verb} error: ${blocked.message}`, { cause: err });
  }
  const silent = findInChain(err, HttpTimeoutError);
  if (silent) {
    const what = silent.phase === 'connect' ? `could not connect to ${host}` : `connection to ${host} failed`;
    return new TransferError(`${verb} error: ${what} (${silent.message})`, { retryable: true, cause: err });
  }
  const code = errorCode(err);
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') {
    return new TransferError(`${verb} error: could not resolve host ${host} (${code})`, {
      retryable: code === 'EAI_AGAIN',
      cause: err,
    });
  }
  if (code && NETWORK_CODES.has(code)) {
    const what = CONNECT_CODES.has(code) ? `could not connect to ${host}` : `connection to ${host} failed`;
    return new TransferError(`${verb} error: ${what} (${code})`, { retryable: true, cause: err });
  }
  if (code === 'ENOSPC') {
    return new TransferError(`${verb} error: no space left on device`, { retryable: true, cause: err });
  }
  if (code?.startsWith('Z_')) {
    return new TransferError(`${verb} error: the compressed content sent by ${host} is corrupt or cut short (${code})`, { cause: err });
  }
  if (code && /CERT|TLS|SSL/.test(code)) {
    return new TransferError(`${verb} error: TLS problem with ${host} (${code})`, { cause: err });
  }
  return new TransferError(`${verb} error: unexpected failure${code ? ` (${code})` : ''}`, { cause: err });
}
