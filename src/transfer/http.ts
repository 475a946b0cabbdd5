import { createReadStream } from 'node:fs';
import { STATUS_CODES } from 'node:http';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';
import { toTransferError, type Verb } from './errors.ts';
import { firstHeader, httpRequest, type HttpResponse } from './http-client.ts';
import { ByteMeter } from './meter.ts';
import { TransferError, type SchemeModule, type TransferContext } from './types.ts';
import { decodeOrKeep } from './url-parts.ts';

export const USER_AGENT = 'Encodery';
const MAX_REDIRECTS = 5;
const REDIRECTS = new Set([301, 302, 303, 307, 308]);

export function statusLine(status: number): string {
  return `${status} ${STATUS_CODES[status] ?? ''}`.trim();
}

export function isTransientStatus(status: number): boolean {
  return status >= 500 || status === 429 || status === 408;
}


/** user:password@ becomes Basic auth, as curl does; the URL sent on the wire carries none. */
export function splitCredentials(url: URL): { target: string; authorization: string | null } {
  if (url.username === '' && url.password === '') return { target: url.href, authorization: null };
  const bare = new URL(url.href);
  bare.username = '';
  bare.password = '';
  const pair = `${decodeOrKeep(url.username)}:${decodeOrKeep(url.password)}`;
  return { target: bare.href, authorization: `Basic ${Buffer.from(pair).toString('base64')}` };
}

/**
 * One request per hop, redirects followed by hand so every hop goes back through the scheme
 * check and the guarded dispatcher. Credentials are sent only to the origin they were given for.
 */
async function send(
  start: URL,
  ctx: TransferContext,
  verb: Verb,
  method: 'GET' | 'PUT',
  followable: ReadonlySet<number>,
  body?: () => { stream: Readable; size: number },
): Promise<{ res: HttpResponse; url: URL }> {
  let url = start;
  let authorization = splitCredentials(start).authorization;
  for (let hop = 0; ; hop++) {
    const { target, authorization: own } = splitCredentials(url);
    // Media is compressed already: asking for identity keeps well-behaved origins from re-encoding it.
    const headers: Record<string, string> = { 'user-agent': USER_AGENT, 'accept-encoding': 'identity' };
    const auth = own ?? authorization;
    if (auth) headers.authorization = auth;
    const payload = body?.();
    if (payload) headers['content-length'] = String(payload.size);
    let res: HttpResponse;
    try {
      res = await httpRequest(new URL(target), {
        method,
        headers,
        body: payload?.stream ?? null,
        allowPrivateNetwork: ctx.allowPrivateNetwork,
        ...(ctx.signal ? { signal: ctx.signal } : {}),
      });
    } catch (err) {
      payload?.stream.destroy();
      throw toTransferError(err, verb, url.hostname, ctx.signal);
    }
    if (!REDIRECTS.has(res.statusCode)) return { res, url };
    // Each request has its own connection (guard.ts), so a redirect's body is not worth reading.
    res.body.destroy();
    const location = firstHeader(res.headers.location);
    if (!followable.has(res.statusCode) || !location) {
      throw new TransferError(`${verb} error: unexpected redirect (${statusLine(res.statusCode)})`);
    }
    if (hop >= MAX_REDIRECTS) throw new TransferError(`${verb} error: too many redirects (more than ${MAX_REDIRECTS})`);
    let next: URL;
    try {
      next = new URL(location, url);
    } catch {
      throw new TransferError(`${verb} error: invalid redirect location`);
    }
    if (next.protocol !== 'http:' && next.protocol !== 'https:') {
      throw new TransferError(`${verb} error: redirect to an unsupported URL scheme "${next.protocol}"`);
    }
    if (next.origin !== url.origin) authorization = null;
    url = next;
  }
}

const DECODERS: Record<string, () => NodeJS.ReadWriteStream & Readable> = {
  gzip: createGunzip,
  'x-gzip': createGunzip,
  deflate: createInflate,
  br: createBrotliDecompress,
};

/**
 * The body as the file it stands for. An origin may compress it although we asked for identity
 * (a web server gzipping every type): like a browser, the source is what that encoding decodes
 * to, so its size is unknown up front and ENCODERY_MAX_SOURCE_BYTES counts decoded bytes.
 */
function decodedBody(res: HttpResponse): { stream: Readable; size: number | null } {
  const encoding = (firstHeader(res.headers['content-encoding']) ?? '').trim().toLowerCase();
  if (encoding === '' || encoding === 'identity') {
    const length = Number(firstHeader(res.headers['content-length']));
    return { stream: res.body, size: Number.isSafeInteger(length) && length >= 0 ? length : null };
  }
  const decoder = DECODERS[encoding]?.();
  if (!decoder) {
    res.body.destroy();
    const shown = encoding.replace(/[^a-z0-9_.,\s-]/g, '').slice(0, 40);
    throw new TransferError(`Download error: the origin sent the file in a content encoding Encodery cannot decode ("${shown}")`);
  }
  res.body.on('error', (err) => decoder.destroy(err));
  decoder.on('close', () => res.body.destroy());
  res.body.pipe(decoder);
  return { stream: decoder, size: null };
}

export const httpScheme: SchemeModule = {
  schemes: ['http:', 'https:'],

  validate(url, role) {
    if (url.hostname === '') return `Invalid ${role} URL: missing host name`;
    return null;
  },

  async read(url, ctx) {
    const { res } = await send(url, ctx, 'Download', 'GET', REDIRECTS);
    if (res.statusCode < 200 || res.statusCode > 299) {
      res.body.destroy();
      throw new TransferError(`Download error: The requested URL returned error: ${statusLine(res.statusCode)}`, {
        retryable: isTransientStatus(res.statusCode),
      });
    }
    return decodedBody(res);
  },

  async write(url, ctx, source, onProgress) {
    const open = () => {
      // A fresh stream per hop: a 307/308 means sending the whole body again.
      const meter = new ByteMeter(source.size, onProgress);
      pipeline(createReadStream(source.path), meter).catch(() => undefined);
      return { stream: meter, size: source.size };
    };
    const { res } = await send(url, ctx, 'Upload', 'PUT', new Set([307, 308]), open);
    res.body.destroy();
    if (res.statusCode < 200 || res.statusCode > 299) {
      throw new TransferError(`Upload error: The destination returned ${statusLine(res.statusCode)}`, {
        retryable: isTransientStatus(res.statusCode),
      });
    }
  },
};
