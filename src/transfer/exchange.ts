/**
 * One request and its (small) text answer over HTTP(S), through the same guarded agents as every
 * download: for key servers (SPEKE), which are asked with a POST rather than read like a file.
 */
import { firstHeader, httpRequest } from './http-client.ts';
import { statusLine } from './http.ts';
import { namesPrivateAddress } from './guard.ts';
import { redactUrl } from './redact.ts';
import { toTransferError } from './errors.ts';
import { TransferError, type TransferContext } from './types.ts';

/** A key server's answer is a CPIX document of a few kilobytes. */
const MAX_ANSWER_BYTES = 1024 * 1024;

export async function postForText(url: string, body: string, headers: Record<string, string>, ctx: TransferContext): Promise<string> {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new TransferError(`Invalid URL "${redactUrl(url)}"`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new TransferError(`${redactUrl(url)} is not an http:// or https:// URL`);
  if (parsed.username !== '' || parsed.password !== '') throw new TransferError(`${redactUrl(url)} must not carry a user name or password`);
  if (!ctx.allowPrivateNetwork && namesPrivateAddress(parsed)) throw new TransferError(`${redactUrl(url)} names a private address, which this server does not contact`);
  try {
    const res = await httpRequest(parsed, {
      method: 'POST',
      headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) },
      body,
      allowPrivateNetwork: ctx.allowPrivateNetwork,
      ...(ctx.signal ? { signal: ctx.signal } : {}),
    });
    const declared = Number(firstHeader(res.headers['content-length']));
    if (Number.isFinite(declared) && declared > MAX_ANSWER_BYTES) {
      res.body.destroy();
      throw new TransferError(`${redactUrl(url)} answered with more than ${MAX_ANSWER_BYTES} bytes`);
    }
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of res.body as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > MAX_ANSWER_BYTES) {
        res.body.destroy();
        throw new TransferError(`${redactUrl(url)} answered with more than ${MAX_ANSWER_BYTES} bytes`);
      }
      chunks.push(chunk);
    }
    if (res.statusCode < 200 || res.statusCode > 299) throw new TransferError(`${redactUrl(url)} answered ${statusLine(res.statusCode)}`);
    return Buffer.concat(chunks).toString('utf8');
  } catch (err) {
    if (err instanceof TransferError) throw err;
    throw toTransferError(err, 'Download', parsed.hostname, ctx.signal);
  }
}
