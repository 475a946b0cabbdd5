import { setTimeout as sleep } from 'node:timers/promises';
import { errorCode, isForbiddenAddress } from '../transfer/errors.ts';
import { httpRequest } from '../transfer/http-client.ts';
import { USER_AGENT, splitCredentials, statusLine } from '../transfer/http.ts';
import { SIGNATURE_HEADER, signatureValue } from './sign.ts';

export interface OutgoingNotification {
  url: string;
  format: 'xml' | 'json';
  bodyFormat: 'form' | 'raw';
  /** The rendered XML or JSON. */
  document: string;
  /** The user's notification secret; each attempt is signed with it (sign.ts). Omitted: unsigned. */
  secret?: string | null;
}

export interface AttemptRecord {
  at: Date;
  status: number | null;
  durationMs: number;
  error: string | null;
}

const DEFAULT_TIMEOUT_MS = 30_000;
// encoding.com: "we will resend the post up to 3 times"; the intervals are ours.
const DEFAULT_DELAYS_MS = [1000, 5000, 25_000];

function encodeBody(n: OutgoingNotification): { body: string; contentType: string } {
  if (n.bodyFormat === 'raw') {
    return { body: n.document, contentType: n.format === 'json' ? 'application/json' : 'text/xml' };
  }
  return {
    body: new URLSearchParams({ [n.format]: n.document }).toString(),
    contentType: 'application/x-www-form-urlencoded',
  };
}

function failureText(err: unknown, host: string, timedOut: boolean, aborted: boolean): string {
  if (aborted) return 'aborted';
  if (timedOut) return `no response from ${host} (timeout)`;
  if (isForbiddenAddress(err)) return `${host} resolves to a private or reserved network address, which is not allowed`;
  const code = errorCode(err);
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return `could not resolve host ${host} (${code})`;
  // Only the host and a code: library messages may quote the URL, credentials included.
  return `could not deliver to ${host}${code ? ` (${code})` : ''}`;
}

/** One POST. Never throws: every outcome, network failures included, is an AttemptRecord. */
export async function sendOnce(
  n: OutgoingNotification,
  opts: { allowPrivateNetwork: boolean; timeoutMs?: number; signal?: AbortSignal },
): Promise<AttemptRecord> {
  const at = new Date();
  const started = performance.now();
  const record = (status: number | null, error: string | null): AttemptRecord => ({
    at,
    status,
    durationMs: Math.round(performance.now() - started),
    error,
  });

  let url: URL;
  try {
    url = new URL(n.url.trim());
  } catch {
    return record(null, 'invalid notification URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return record(null, `unsupported notification URL scheme "${url.protocol}"`);
  }

  const timeout = AbortSignal.timeout(opts.timeoutMs ?? DEFAULT_TIMEOUT_MS);
  const signal = opts.signal ? AbortSignal.any([timeout, opts.signal]) : timeout;
  const { target, authorization } = splitCredentials(url);
  const { body, contentType } = encodeBody(n);
  const headers: Record<string, string> = { 'content-type': contentType, 'user-agent': USER_AGENT };
  if (authorization) headers.authorization = authorization;
  if (n.secret) headers[SIGNATURE_HEADER.toLowerCase()] = signatureValue(n.secret, body, Math.floor(Date.now() / 1000));
  try {
    const res = await httpRequest(new URL(target), {
      method: 'POST',
      headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) },
      body,
      signal,
      allowPrivateNetwork: opts.allowPrivateNetwork,
    });
    // Only the status matters, and the connection is not reused (guard.ts): the reply body is dropped unread.
    res.body.destroy();
    const ok = res.statusCode >= 200 && res.statusCode <= 299;
    if (ok) return record(res.statusCode, null);
    const redirect = res.statusCode >= 300 && res.statusCode <= 399;
    return record(res.statusCode, `HTTP ${statusLine(res.statusCode)}${redirect ? ' (redirects are not followed)' : ''}`);
  } catch (err) {
    return record(null, failureText(err, url.hostname, timeout.aborted, opts.signal?.aborted ?? false));
  }
}

/**
 * The first attempt plus one retry per entry of `delaysMs`, stopping at the first 2xx.
 * Errors thrown by `onAttempt` propagate (they are the caller's); an abort ends the loop quietly.
 */
export async function deliver(
  n: OutgoingNotification,
  opts: {
    allowPrivateNetwork: boolean;
    delaysMs?: number[];
    onAttempt?: (a: AttemptRecord) => void | Promise<void>;
    signal?: AbortSignal;
  },
): Promise<{ delivered: boolean; attempts: AttemptRecord[] }> {
  const delays = opts.delaysMs ?? DEFAULT_DELAYS_MS;
  const attempts: AttemptRecord[] = [];
  for (let i = 0; ; i++) {
    const a = await sendOnce(n, { allowPrivateNetwork: opts.allowPrivateNetwork, signal: opts.signal });
    attempts.push(a);
    await opts.onAttempt?.(a);
    if (a.error === null) return { delivered: true, attempts };
    const delay = delays[i];
    if (delay === undefined || opts.signal?.aborted) return { delivered: false, attempts };
    try {
      await sleep(delay, undefined, opts.signal ? { signal: opts.signal } : {});
    } catch {
      return { delivered: false, attempts };
    }
  }
}
