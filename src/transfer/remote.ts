import dns from 'node:dns/promises';
import net from 'node:net';
import { ForbiddenAddressError, isAllowedAddress } from './guard.ts';
import type { Verb } from './errors.ts';
import { TransferError } from './types.ts';
import { decodeOrKeep } from './url-parts.ts';

/**
 * What FTP(S) and SFTP share: where to connect (checked against the private-network rule
 * before any socket opens), the credentials and path of the URL, and the time limits.
 */

/** A dead or black-holed server must not hang a media. */
export const CONNECT_TIMEOUT_MS = 15_000;
/** No byte in either direction for this long during a transfer: the peer is gone. */
export const IDLE_TIMEOUT_MS = 30_000;


export function hostOf(url: URL): string {
  return url.hostname.replace(/^\[(.*)\]$/, '$1');
}

export function credentialsOf(url: URL): { user: string | null; password: string | null } {
  return {
    user: url.username === '' ? null : decodeOrKeep(url.username),
    password: url.password === '' ? null : decodeOrKeep(url.password),
  };
}

/** `bob@host` for messages: names who was refused without the password. */
export function whoAt(url: URL): string {
  const { user } = credentialsOf(url);
  return user === null ? hostOf(url) : `${user}@${hostOf(url)}`;
}

/**
 * The URL's path, percent-escapes decoded. Control characters are refused: FTP sends paths on
 * a line-based control connection, where a CR or LF would start a command of the sender's choosing.
 */
export function remotePath(url: URL): string | null {
  const p = decodeOrKeep(url.pathname);
  return /[\0-\x1f\x7f]/.test(p) ? null : p;
}

/** Common syntactic checks; null when acceptable. */
export function validateRemote(url: URL, role: 'source' | 'destination', label: string): string | null {
  if (hostOf(url) === '') return `Invalid ${role} URL: missing host name`;
  const p = remotePath(url);
  if (p === null) return `Invalid ${role} URL: the ${label} path contains control characters`;
  // A destination ending in `/` is a folder: the pipeline appends each file's name before uploading.
  if (role === 'source' && (p === '' || p.endsWith('/'))) return `Invalid ${role} URL: a ${label} source must name a file, not a folder`;
  return null;
}

/**
 * The address to connect to. Without ENCODERY_ALLOW_PRIVATE_NETWORK the name is resolved here
 * and every answer must be public; the caller then connects to that very address, so a second
 * DNS answer (rebinding) cannot slip a private one in.
 */
export async function connectAddress(url: URL, allowPrivateNetwork: boolean): Promise<string> {
  const host = hostOf(url);
  if (allowPrivateNetwork) return host;
  if (net.isIP(host) !== 0) {
    if (!isAllowedAddress(host, false)) throw new ForbiddenAddressError(host);
    return host;
  }
  const answers = await dns.lookup(host, { all: true, verbatim: true });
  if (answers.length === 0 || answers.some((a) => !isAllowedAddress(a.address, false))) throw new ForbiddenAddressError(host);
  return answers[0]!.address;
}

/** Runs `work` with a deadline; `onTimeout` must make `work` settle (close its socket). */
export async function withDeadline<T>(work: Promise<T>, ms: number, onTimeout: () => void, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  let timedOut = false;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      timedOut = true;
      onTimeout();
      reject(new TransferError(message, { retryable: true }));
    }, ms);
  });
  try {
    return await Promise.race([work, deadline]);
  } catch (err) {
    if (timedOut) throw new TransferError(message, { retryable: true, cause: err });
    throw err;
  } finally {
    clearTimeout(timer);
    work.catch(() => undefined);
  }
}

/** Makes a server's reply text safe to quote: one short line, without the password if it was echoed. */
export function quoteReply(text: string, password: string | null): string {
  let t = text.replace(/[\0-\x1f\x7f]+/g, ' ').trim();
  if (password) t = t.split(password).join('***');
  return t.length > 120 ? `${t.slice(0, 117)}...` : t;
}

export function aborted(verb: Verb, signal: AbortSignal): TransferError {
  return new TransferError(`${verb} error: aborted`, { cause: signal.reason });
}
