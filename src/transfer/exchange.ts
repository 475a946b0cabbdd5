/**
 * One request and its (small) text answer over HTTP(S), through the same guarded agents as every
 * download: for key servers (SPEKE), which are asked with a POST rather than read like a file,
 * and signed with AWS SigV4 where the settings say the server wants it (aws-sign.ts).
 */
import { firstHeader, httpRequest } from './http-client.ts';
import { statusLine } from './http.ts';
import { namesPrivateAddress } from './guard.ts';
import { redactUrl } from './redact.ts';
import { toTransferError } from './errors.ts';
import { awsSigningFor, signedHeaders } from './aws-sign.ts';
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
  const signing = awsSigningFor(parsed, ctx);
  const sent = { ...headers, 'content-length': String(Buffer.byteLength(body)) };
  const final = signing ? await signedHeaders(parsed, sent, body, signing, ctx) : sent;
  try {
    const res = await httpRequest(parsed, {
      method: 'POST',
      headers: final,
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
    if (res.statusCode === 401 || res.statusCode === 403) {
      throw new TransferError(signing
        ? `the key server ${redactUrl(url)} refused the AWS SigV4-signed request (${statusLine(res.statusCode)}): check that the credentials may call it (execute-api:Invoke) and that ${signing.region} is its region (ENCODERY_SPEKE_AWS_REGION)`
        : `the key server ${redactUrl(url)} refused the request (${statusLine(res.statusCode)}); if it wants AWS SigV4-signed requests (API Gateway with IAM auth), set ENCODERY_SPEKE_AWS_REGION and its credentials`);
    }
    if (res.statusCode < 200 || res.statusCode > 299) throw new TransferError(`${redactUrl(url)} answered ${statusLine(res.statusCode)}`);
    return Buffer.concat(chunks).toString('utf8');
  } catch (err) {
    if (err instanceof TransferError) throw err;
    throw toTransferError(err, 'Download', parsed.hostname, ctx.signal);
  }
}
