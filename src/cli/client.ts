/**
 * The client side of the public JSON API: `POST /` with one form field `json={"query":{...}}`,
 * exactly as encoding.com clients send it. Replies are read by the rules of reference 7.8:
 * HTTP 200 for everything, `response` an object, `errors.error` the sign of failure.
 */
import { request } from 'undici';
import { redactUrl } from '../transfer/redact.ts';
import { CliError, ExitCode, interrupted } from './exit.ts';
import type { Connection } from './settings.ts';

export type Reply = Record<string, unknown>;
export type QueryFields = Record<string, unknown>;

export interface ApiClientOptions {
  /** Time for one request, connection to last byte. @default 30000 */
  timeoutMs?: number;
  /** Aborts a request in flight (Ctrl-C). */
  signal?: AbortSignal;
}

export class ApiClient {
  readonly #conn: Connection;
  readonly #timeoutMs: number;
  readonly #signal: AbortSignal | undefined;

  constructor(conn: Connection, opts: ApiClientOptions = {}) {
    this.#conn = conn;
    this.#timeoutMs = opts.timeoutMs ?? 30_000;
    this.#signal = opts.signal;
  }

  /** Where requests go, without any credentials the URL may carry. */
  get where(): string {
    return redactUrl(this.#conn.url.toString());
  }

  /** Runs one action; throws CliError (Api or Connection) when it did not succeed. */
  async call(action: string, fields: QueryFields = {}): Promise<Reply> {
    const query = { userid: this.#conn.userid, userkey: this.#conn.userkey, action, ...fields };
    const body = `json=${encodeURIComponent(JSON.stringify({ query }))}`;
    let status: number;
    let text: string;
    try {
      const res = await request(this.#conn.url, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
        body,
        signal: this.#signal ? AbortSignal.any([this.#signal, AbortSignal.timeout(this.#timeoutMs)]) : AbortSignal.timeout(this.#timeoutMs),
      });
      status = res.statusCode;
      text = await res.body.text();
    } catch (err) {
      if (this.#signal?.aborted) throw interrupted();
      throw new CliError(`cannot reach ${this.where}: ${describeNetworkError(err, this.#timeoutMs)}`, ExitCode.Connection);
    }
    return parseReply(status, text, this.where);
  }
}

/** Reads one reply; exported for the reply-shape unit tests. */
export function parseReply(status: number, text: string, where: string): Reply {
  if (status !== 200) {
    throw new CliError(`${where} answered HTTP ${status}${snippet(text)}; is this an Encodery (encoding.com API) server?`, ExitCode.Connection);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new CliError(`${where} did not answer with JSON${snippet(text)}; is this an Encodery (encoding.com API) server?`, ExitCode.Connection);
  }
  const response = isObject(doc) ? doc.response : undefined;
  if (!isObject(response)) throw new CliError(`${where} answered JSON without a "response" object${snippet(text)}`, ExitCode.Connection);
  if ('errors' in response) throw new CliError(errorText(response.errors), ExitCode.Api);
  return response;
}

/** `errors.error` is one string by the rules, but a list or a bare string is read too. */
function errorText(errors: unknown): string {
  const inner = isObject(errors) ? errors.error : errors;
  const texts = (Array.isArray(inner) ? inner : [inner]).filter((e): e is string | number => typeof e === 'string' || typeof e === 'number').map(String);
  return texts.length > 0 ? texts.join(', ') : 'the server answered with an error without a text';
}

function describeNetworkError(err: unknown, timeoutMs: number): string {
  const e = err as { name?: string; code?: string; message?: string; cause?: { code?: string; message?: string } };
  if (e?.name === 'TimeoutError' || e?.name === 'AbortError') return `no answer within ${Math.round(timeoutMs / 1000)} s`;
  const code = e?.code ?? e?.cause?.code;
  const message = e?.cause?.message ?? e?.message ?? String(err);
  return code && !message.includes(code) ? `${code} ${message}` : message;
}

function snippet(text: string): string {
  const line = text.replace(/\s+/g, ' ').trim().slice(0, 120);
  return line ? ` ("${line}${text.length > 120 ? '…' : ''}")` : '';
}

export const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
