/**
 * One HTTP request through node:http / node:https and the guarded agents (guard.ts), for sources,
 * destinations and notifications alike.
 *
 * Not undici: undici 7 asserts `!this.paused` and ends the process when a peer closes a
 * close-delimited response (HTTP/1.0, `Connection: close`) while its body is paused by
 * backpressure (nodejs/undici#5360). The fix (#5474) is only in undici 8, which needs
 * Node >= 22.19, and Encodery runs on Node 20. node:http's parser has no such state.
 */
import http, { type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import https from 'node:https';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { transferAgent } from './guard.ts';
import { EncoderyError } from '../domain/errors.ts';

/** How long an origin may stay silent in each phase of a request. */
export const HTTP_IDLE_LIMITS_MS = { connect: 15_000, response: 60_000, body: 120_000 } as const;
export type HttpPhase = keyof typeof HTTP_IDLE_LIMITS_MS;

/** An origin that stayed silent longer than its phase allows; toTransferError words it for users. */
export class HttpTimeoutError extends EncoderyError {
  readonly code = 'ENCODERY_HTTP_TIMEOUT';
  constructor(
    readonly phase: HttpPhase,
    readonly seconds: number,
  ) {
    super(`no data for ${seconds} s while waiting to ${phase === 'connect' ? 'connect' : phase === 'response' ? 'receive the response' : 'receive the body'}`, { retryable: true });
    this.name = 'HttpTimeoutError';
  }
}

export interface HttpRequestOptions {
  method: 'GET' | 'PUT' | 'POST';
  headers: Record<string, string>;
  /** Sent as is; a stream is piped and its failure aborts the request. */
  body?: Readable | string | null;
  allowPrivateNetwork: boolean;
  signal?: AbortSignal;
  /** Tests shorten these. */
  idleLimitsMs?: Partial<Record<HttpPhase, number>>;
}

export interface HttpResponse {
  statusCode: number;
  headers: IncomingHttpHeaders;
  /** The body; its consumer must read or destroy it. A failure after the head arrives as its 'error'. */
  body: IncomingMessage;
}

/** Resolves with the response head; rejects if the request fails before it. No redirects are followed. */
export function httpRequest(url: URL, opts: HttpRequestOptions): Promise<HttpResponse> {
  const limits = { ...HTTP_IDLE_LIMITS_MS, ...opts.idleLimitsMs };
  return new Promise((resolve, reject) => {
    const client = url.protocol === 'https:' ? https : http;
    const req = client.request(url, {
      method: opts.method,
      headers: opts.headers,
      agent: transferAgent(url.protocol, opts.allowPrivateNetwork),
      ...(opts.signal ? { signal: opts.signal } : {}),
    });
    let phase: HttpPhase = 'connect';
    let response: IncomingMessage | null = null;
    const enter = (next: HttpPhase) => {
      phase = next;
      req.setTimeout(limits[next]);
    };
    enter('connect');
    req.on('socket', (socket) => {
      if (socket.connecting) socket.once('connect', () => enter('response'));
      else enter('response');
    });
    req.on('timeout', () => {
      const err = new HttpTimeoutError(phase, Number((limits[phase] / 1000).toFixed(1)));
      if (response) response.destroy(err);
      else req.destroy(err);
    });
    // Stays attached for the request's whole life: an error after the head reaches the body's
    // consumer through the body stream, and must not surface here as an unhandled 'error'.
    req.on('error', reject);
    req.on('response', (res) => {
      response = res;
      enter('body');
      res.on('error', () => undefined);
      resolve({ statusCode: res.statusCode ?? 0, headers: res.headers, body: res });
    });
    const body = opts.body;
    if (body === undefined || body === null || typeof body === 'string') req.end(body ?? undefined);
    else pipeline(body, req).catch((err: unknown) => req.destroy(err instanceof Error ? err : new Error(String(err))));
  });
}

export function firstHeader(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
