import { createReadStream, createWriteStream } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ObjectCannedACL, PutObjectCommandInput, S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { errorCode, toTransferError, type Verb } from './errors.ts';
import { guardedLookup } from './guard.ts';
import { ByteMeter, tooLargeMessage } from './meter.ts';
import { contentTypeOf } from '../domain/content-types.ts';
import { TransferError, type Progress, type SchemeModule, type TransferContext } from './types.ts';
import { decodePart } from './url-parts.ts';

const MiB = 1024 * 1024;
/** S3 takes at most 10,000 parts; 8 MiB parts cover 78 GiB before they must grow. */
const PART_BYTES = 8 * MiB;
const MAX_PARTS = 10_000;
const PARALLEL = 4;
const REQUEST_RETRY_MS = [250, 1000];

// bucket.s3.amazonaws.com, bucket.s3.eu-west-1.amazonaws.com, bucket.s3-eu-west-1.amazonaws.com,
// bucket.s3.dualstack.eu-west-1.amazonaws.com, and the same without a bucket for path-style URLs
// (s3.amazonaws.com/bucket/key). Website endpoints (s3-website-…) are plain HTTP and not matched.
const AWS_HOST = /^(?:(.+)\.)?s3(?:\.dualstack)?(?:[.-]([a-z]{2}(?:-[a-z]+)+-\d+|external-1))?\.amazonaws\.com$/;
const BUCKET = /^[a-z0-9][a-z0-9._-]{1,254}$/i;
const CANONICAL_ID = /^[0-9a-f]{64}$/i;

const CANNED_ACLS: readonly ObjectCannedACL[] = [
  'private',
  'public-read',
  'public-read-write',
  'authenticated-read',
  'aws-exec-read',
  'bucket-owner-read',
  'bucket-owner-full-control',
];
// S3 refuses a canned ACL together with grant headers, so with canonical_id the canned ACLs that
// only add readers are spelled out as grants.
const READERS: Partial<Record<ObjectCannedACL, string>> = {
  private: '',
  'public-read': 'uri="http://acs.amazonaws.com/groups/global/AllUsers"',
  'authenticated-read': 'uri="http://acs.amazonaws.com/groups/global/AuthenticatedUsers"',
};

const OPTIONS = {
  source: ['multithread', 'nocopy'],
  destination: ['acl', 'canonical_id', 'content_type', 'content_disposition'],
} as const;

export interface Target {
  bucket: string;
  key: string;
  region: string;
  /** The configured S3-compatible service, addressed path-style; null: AWS. */
  endpoint: string | null;
  pathStyle: boolean;
  credentials: { accessKeyId: string; secretAccessKey: string } | null;
  options: URLSearchParams;
}


function endpointHost(ctx: Partial<TransferContext>): string | null {
  if (!ctx.s3Endpoint) return null;
  try {
    return new URL(ctx.s3Endpoint).host;
  } catch {
    return null;
  }
}

/** v4 and v2 query signatures: such a URL is complete as it is and goes out as plain HTTP. */
function isPresigned(url: URL): boolean {
  for (const name of url.searchParams.keys()) {
    const n = name.toLowerCase();
    if (n === 'x-amz-signature' || n === 'signature' || n === 'awsaccesskeyid') return true;
  }
  return false;
}

/** The target, or an error message naming what is wrong. No I/O; exported for tests. */
export function parseTarget(url: URL, ctx: Partial<TransferContext>, folder = false): Target | string {
  const region = ctx.s3Region || 'us-east-1';
  const endpoint = ctx.s3Endpoint || null;
  let bucket: string | null;
  let rawKey: string;
  let hostRegion: string | null = null;
  let pathStyle = false;
  if (url.protocol === 's3:') {
    bucket = decodePart(url.hostname);
    rawKey = url.pathname.replace(/^\//, '');
  } else {
    const aws = AWS_HOST.exec(url.hostname);
    if (url.host === endpointHost(ctx) || !aws?.[1]) {
      const slash = url.pathname.indexOf('/', 1);
      bucket = decodePart(slash < 0 ? url.pathname.slice(1) : url.pathname.slice(1, slash));
      rawKey = slash < 0 ? '' : url.pathname.slice(slash + 1);
      pathStyle = true;
    } else {
      bucket = aws[1];
      rawKey = url.pathname.replace(/^\//, '');
    }
    if (aws && url.host !== endpointHost(ctx)) hostRegion = aws[2] === 'external-1' ? 'us-east-1' : (aws[2] ?? null);
  }
  if (!bucket) return 'the S3 URL names no bucket';
  if (!BUCKET.test(bucket)) return `"${bucket}" is not a valid S3 bucket name`;
  const key = decodePart(rawKey);
  if (key === null) return 'the S3 object key has a malformed percent-escape';
  if (!folder && (key === '' || key.endsWith('/'))) return 'the S3 URL must name an object (bucket/key), not a bucket or folder';
  const user = decodePart(url.username);
  const secret = decodePart(url.password);
  if (user === null || secret === null) return 'the S3 credentials in the URL have a malformed percent-escape';
  if ((user === '') !== (secret === '')) {
    return 'give both the access key and the secret as KEY:SECRET@ (percent-encode / as %2F and : as %3A in the secret)';
  }
  return {
    bucket,
    key,
    region: hostRegion ?? region,
    endpoint: url.protocol === 's3:' || url.host === endpointHost(ctx) ? endpoint : null,
    pathStyle,
    credentials: user === '' ? null : { accessKeyId: user, secretAccessKey: secret },
    options: url.searchParams,
  };
}

function checkOptions(t: Target, role: 'source' | 'destination'): string | null {
  const known: readonly string[] = OPTIONS[role];
  for (const name of t.options.keys()) {
    if (!known.includes(name)) {
      return `unknown S3 ${role} option "${name}" (the ${role} options are ${known.join(', ')})`;
    }
  }
  const acl = t.options.get('acl');
  if (acl !== null && !CANNED_ACLS.includes(acl as ObjectCannedACL)) {
    return `acl "${acl}" is not an S3 canned ACL; use one of ${CANNED_ACLS.join(', ')}`;
  }
  const canonical = t.options.get('canonical_id');
  if (canonical !== null) {
    if (!CANONICAL_ID.test(canonical)) return 'canonical_id must be an S3 canonical user ID (64 hexadecimal characters)';
    if (acl !== null && READERS[acl as ObjectCannedACL] === undefined) {
      return `acl "${acl}" cannot be combined with canonical_id; use private, public-read or authenticated-read`;
    }
  }
  return null;
}

function target(url: URL, ctx: TransferContext, verb: Verb, folder = false): Target {
  const t = parseTarget(url, ctx, folder);
  if (typeof t === 'string') throw new TransferError(`${verb} error: ${t}`);
  return t;
}

const SILENT = { trace() {}, debug() {}, info() {}, warn() {}, error() {} };

// The SDK warns on every start that its releases after January 2027 will need Node 22. The
// version in package-lock.json runs on Node 20; the warning says nothing an operator can act on.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

type S3Sdk = typeof import('@aws-sdk/client-s3');
/** The SDK, loaded with the first client: it is a large part of a process start that most runs never need. */
let sdk: S3Sdk | undefined;
const loadSdk = async (): Promise<S3Sdk> => (sdk ??= await import('@aws-sdk/client-s3'));
/** An error from the SDK (none can exist before it is loaded). */
const isS3Exception = (err: unknown): err is S3ServiceException => sdk !== undefined && err instanceof sdk.S3ServiceException;

/** One client per transfer: its sockets close with it, and credentials never outlive the URL. */
async function clientFor(t: Target, ctx: TransferContext, maxAttempts = 3): Promise<S3Client> {
  const { S3Client } = await loadSdk();
  // The configured endpoint is trusted; AWS hosts go through the same address check as HTTP.
  const guarded = !ctx.allowPrivateNetwork && t.endpoint === null;
  const agent = { keepAlive: true, maxSockets: PARALLEL * 2, ...(guarded ? { lookup: guardedLookup } : {}) };
  return new S3Client({
    region: t.region,
    ...(t.endpoint ? { endpoint: t.endpoint } : {}),
    forcePathStyle: t.endpoint !== null || t.pathStyle,
    followRegionRedirects: true,
    ...(t.credentials ? { credentials: t.credentials } : {}),
    maxAttempts,
    // We report failures ourselves; the SDK would print warnings on the console.
    logger: SILENT,
    // Many S3-compatible services reject the flexible checksums AWS added in 2025.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    requestHandler: {
      httpAgent: new http.Agent(agent),
      httpsAgent: new https.Agent(agent),
      connectionTimeout: 15_000,
      requestTimeout: 120_000,
    },
  });
}

const TRANSIENT_CODES = new Set([
  'SlowDown',
  'Throttling',
  'ThrottlingException',
  'RequestTimeout',
  'RequestTimeTooSkewed',
  'InternalError',
  'ServiceUnavailable',
  'TooManyRequests',
]);

function describeCode(code: string, status: number, t: Target): string {
  switch (code) {
    case 'AccessDenied':
      return 'access denied by S3';
    case 'AllAccessDisabled':
      return 'all access to this S3 object has been disabled';
    case 'NoSuchBucket':
      return 'the S3 bucket does not exist';
    case 'NoSuchKey':
      return `the S3 object "${t.key}" does not exist`;
    case 'InvalidAccessKeyId':
      return 'S3 does not know the access key';
    case 'SignatureDoesNotMatch':
      return 'S3 rejected the signature: check the secret key (in a URL, percent-encode / as %2F and : as %3A)';
    case 'AccessControlListNotSupported':
      return 'the bucket does not allow ACLs: remove acl and canonical_id';
    case 'InvalidBucketName':
      return 'S3 refused the bucket name';
    case 'PermanentRedirect':
    case 'AuthorizationHeaderMalformed':
      return 'the bucket is in another region: name it in the host (bucket.s3.REGION.amazonaws.com) or set ENCODERY_S3_REGION';
    case 'PreconditionFailed':
      return 'the S3 object changed while it was being read';
    case 'SlowDown':
    case 'Throttling':
    case 'ThrottlingException':
    case 'TooManyRequests':
      return 'S3 asked to slow down';
    default:
      if (status === 403) return 'access denied by S3';
      if (status === 404) return `the S3 object "${t.key}" or its bucket does not exist`;
      if (status >= 500) return 'S3 failed to answer';
      return 'S3 refused the request';
  }
}

/** Only our own words, the S3 error code and the bucket: SDK messages may carry request details. */
function s3Failure(err: unknown, verb: Verb, t: Target, signal?: AbortSignal): TransferError {
  if (err instanceof TransferError) return err;
  if (signal?.aborted) return new TransferError(`${verb} error: aborted`, { cause: err });
  const name = (err as { name?: unknown } | null)?.name;
  if (name === 'CredentialsProviderError' || name === 'ProviderError') {
    return new TransferError(
      `${verb} error: no AWS credentials for bucket ${t.bucket}: put KEY:SECRET@ in the URL or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY`,
      { cause: err },
    );
  }
  const status = isS3Exception(err) ? err.$metadata.httpStatusCode : undefined;
  if (isS3Exception(err) && status !== undefined) {
    // HEAD answers carry no body, so the SDK names the error after the status.
    const code = /^\d+$/.test(err.name) || err.name === 'NotFound' || err.name === 'Unknown' ? '' : err.name;
    const transient = status >= 500 || status === 429 || TRANSIENT_CODES.has(code);
    const what = describeCode(code, status, t);
    return new TransferError(`${verb} error: ${what} (${status}${code ? ` ${code}` : ''}) for bucket ${t.bucket}`, {
      retryable: transient,
      cause: err,
    });
  }
  const host = t.endpoint ? new URL(t.endpoint).hostname : `${t.bucket} on S3`;
  // The SDK names socket errors TimeoutError too; its own timeouts are the ones without a code.
  if (name === 'TimeoutError' && errorCode(err) === undefined) return new TransferError(`${verb} error: connection to ${host} timed out`, { retryable: true, cause: err });
  return toTransferError(err, verb, host, signal);
}

function putParams(t: Target, file: string): Omit<PutObjectCommandInput, 'Body'> {
  const o = t.options;
  const params: Omit<PutObjectCommandInput, 'Body'> = {
    Bucket: t.bucket,
    Key: t.key,
    // Without a type S3 stores binary/octet-stream; the key's extension wins over the local file's.
    ContentType: o.get('content_type') ?? contentTypeOf(t.key) ?? contentTypeOf(file) ?? undefined,
  };
  const disposition = o.get('content_disposition');
  if (disposition !== null) params.ContentDisposition = disposition;
  const acl = o.get('acl') as ObjectCannedACL | null;
  const canonical = o.get('canonical_id');
  if (canonical !== null) {
    params.GrantFullControl = `id="${canonical.toLowerCase()}"`;
    const readers = acl === null ? '' : READERS[acl];
    if (readers) params.GrantRead = readers;
  } else if (acl !== null) {
    params.ACL = acl;
  }
  return params;
}

/** Progress is advisory: a failing callback must not fail the transfer. */
function advise(onProgress: Progress | undefined, done: number, total: number): void {
  try {
    const r: unknown = onProgress?.(done, total);
    if (r instanceof Promise) r.catch(() => undefined);
  } catch {
    // ignored, see above
  }
}

/** Byte ranges [start, end] of `partBytes` each (the last one shorter). */
function ranges(size: number, partBytes: number): [number, number][] {
  const out: [number, number][] = [];
  for (let start = 0; start < size; start += partBytes) out.push([start, Math.min(size, start + partBytes) - 1]);
  return out;
}

/**
 * Runs `task` for 0..count-1, PARALLEL at a time. The first failure stops the others at once
 * (their signal aborts) and is the one thrown: the others are its consequence.
 */
async function inParallel(count: number, outer: AbortSignal | undefined, task: (i: number, signal: AbortSignal) => Promise<void>): Promise<void> {
  const stop = new AbortController();
  const signal = outer ? AbortSignal.any([outer, stop.signal]) : stop.signal;
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count && !signal.aborted) await task(next++, signal);
  };
  const results = await Promise.allSettled(
    Array.from({ length: Math.min(PARALLEL, count) }, () =>
      worker().catch((err: unknown) => {
        stop.abort();
        throw err;
      }),
    ),
  );
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}

/**
 * A request whose body is a file stream cannot be replayed by the SDK, so its own retries are
 * off for uploads and each request is retried here with a fresh stream.
 */
async function retried<T>(t: Target, signal: AbortSignal | undefined, send: () => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await send();
    } catch (err) {
      const delay = REQUEST_RETRY_MS[attempt];
      if (delay === undefined || signal?.aborted || !s3Failure(err, 'Upload', t).retryable) throw err;
      await sleep(delay, undefined, signal ? { signal } : {});
    }
  }
}

async function rangedDownload(
  client: S3Client,
  t: Target,
  ctx: TransferContext,
  toPath: string,
  onProgress?: Progress,
): Promise<{ bytes: number }> {
  const { GetObjectCommand, HeadObjectCommand } = await loadSdk();
  const head = await client.send(new HeadObjectCommand({ Bucket: t.bucket, Key: t.key }), { abortSignal: ctx.signal });
  const size = head.ContentLength ?? 0;
  if (ctx.maxSourceBytes !== undefined && size > ctx.maxSourceBytes) throw new TransferError(tooLargeMessage(ctx.maxSourceBytes));
  const parts = ranges(size, PART_BYTES);
  const done = parts.map(() => 0);
  const report = () => advise(onProgress, done.reduce((a, b) => a + b, 0), size);
  report();
  await inParallel(parts.length, ctx.signal, async (i, signal) => {
    const [start, end] = parts[i]!;
    const res = await client.send(
      // IfMatch: every range must come from the same version of the object.
      new GetObjectCommand({ Bucket: t.bucket, Key: t.key, Range: `bytes=${start}-${end}`, ...(head.ETag ? { IfMatch: head.ETag } : {}) }),
      { abortSignal: signal },
    );
    const meter = new ByteMeter(end - start + 1, (d) => {
      done[i] = d;
      report();
    });
    await pipeline(res.Body as Readable, meter, createWriteStream(toPath, { flags: 'r+', start }), { signal });
    if (meter.bytes !== end - start + 1) {
      throw new TransferError(`Download error: S3 sent ${meter.bytes} bytes for a range of ${end - start + 1} for bucket ${t.bucket}`, {
        retryable: true,
      });
    }
  });
  return { bytes: size };
}

/**
 * One PUT up to a part's size, else a multipart upload whose parts are read straight from the
 * file, PARALLEL at a time: memory stays at the sockets' buffers, whatever the file size
 * (lib-storage's Upload copies each part into memory first: 115 MB more RSS for a 400 MB file).
 */
async function uploadFile(
  client: S3Client,
  t: Target,
  source: { path: string; size: number },
  signal: AbortSignal | undefined,
  onProgress?: Progress,
): Promise<void> {
  const { AbortMultipartUploadCommand, CompleteMultipartUploadCommand, CreateMultipartUploadCommand, PutObjectCommand, UploadPartCommand } = await loadSdk();
  const params = putParams(t, source.path);
  const partBytes = Math.max(PART_BYTES, Math.ceil(source.size / MAX_PARTS));
  const parts = ranges(source.size, partBytes);
  const done = parts.map(() => 0);
  const report = () => advise(onProgress, done.reduce((a, b) => a + b, 0), source.size);
  const slice = (i: number): { Body: Readable; ContentLength: number } => {
    const [start, end] = parts[i]!;
    done[i] = 0;
    const meter = new ByteMeter(end - start + 1, (d) => {
      done[i] = d;
      report();
    });
    pipeline(createReadStream(source.path, { start, end }), meter).catch(() => undefined);
    return { Body: meter, ContentLength: end - start + 1 };
  };
  if (parts.length <= 1) {
    const body = parts.length === 0 ? { Body: Buffer.alloc(0), ContentLength: 0 } : null;
    await retried(t, signal, () => client.send(new PutObjectCommand({ ...params, ...(body ?? slice(0)) }), { abortSignal: signal }));
    advise(onProgress, source.size, source.size);
    return;
  }
  const { UploadId } = await retried(t, signal, () => client.send(new CreateMultipartUploadCommand(params), { abortSignal: signal }));
  const where = { Bucket: t.bucket, Key: t.key, UploadId };
  try {
    const etags: string[] = [];
    await inParallel(parts.length, signal, async (i, partSignal) => {
      const res = await retried(t, partSignal, () =>
        client.send(new UploadPartCommand({ ...where, PartNumber: i + 1, ...slice(i) }), { abortSignal: partSignal }),
      );
      etags[i] = res.ETag ?? '';
    });
    await retried(t, signal, () =>
      client.send(
        new CompleteMultipartUploadCommand({ ...where, MultipartUpload: { Parts: etags.map((ETag, i) => ({ ETag, PartNumber: i + 1 })) } }),
        { abortSignal: signal },
      ),
    );
  } catch (err) {
    // S3 bills for the stored parts of an upload nobody completes.
    await client.send(new AbortMultipartUploadCommand(where)).catch(() => undefined);
    throw err;
  }
}

export const s3Scheme: SchemeModule = {
  schemes: ['s3:'],

  // Keys in an http(s) URL to an S3 host mean "sign with these". Without keys, or pre-signed,
  // the URL is an ordinary HTTP resource and stays with the http module.
  claims(url, ctx) {
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return false;
    if (url.username === '' || isPresigned(url)) return false;
    return url.host === endpointHost(ctx) || AWS_HOST.test(url.hostname);
  },

  connectsTo(url, ctx) {
    const t = parseTarget(url, ctx);
    if (typeof t === 'string') return url;
    return t.endpoint === null ? new URL(`https://${url.protocol === 's3:' ? 's3.amazonaws.com' : url.host}/`) : null;
  },

  validate(url, role) {
    // Routing already chose this module; the endpoint only decides addressing, not validity.
    const t = parseTarget(url, {});
    if (typeof t === 'string') return `Invalid ${role} URL: ${t}`;
    const problem = checkOptions(t, role);
    return problem ? `Invalid ${role} URL: ${problem}` : null;
  },

  async read(url, ctx) {
    const t = target(url, ctx, 'Download');
    const client = await clientFor(t, ctx);
    const { GetObjectCommand } = await loadSdk();
    try {
      const res = await client.send(new GetObjectCommand({ Bucket: t.bucket, Key: t.key }), { abortSignal: ctx.signal });
      const stream = res.Body as Readable;
      stream.once('close', () => client.destroy());
      return { stream, size: res.ContentLength ?? null };
    } catch (err) {
      client.destroy();
      throw s3Failure(err, 'Download', t, ctx.signal);
    }
  },

  outOfOrder(url, ctx) {
    const t = parseTarget(url, ctx, false);
    return typeof t !== 'string' && t.options.has('multithread') ? 'multithread reads the source in parallel ranges' : null;
  },

  async download(url, ctx, toPath, onProgress) {
    const t = target(url, ctx, 'Download');
    if (!t.options.has('multithread')) return null;
    const client = await clientFor(t, ctx);
    try {
      return await rangedDownload(client, t, ctx, toPath, onProgress);
    } catch (err) {
      throw s3Failure(err, 'Download', t, ctx.signal);
    } finally {
      client.destroy();
    }
  },

  async write(url, ctx, source, onProgress) {
    const t = target(url, ctx, 'Upload');
    const client = await clientFor(t, ctx, 1);
    try {
      await uploadFile(client, t, source, ctx.signal, onProgress);
    } catch (err) {
      throw s3Failure(err, 'Upload', t, ctx.signal);
    } finally {
      client.destroy();
    }
  },

  async stat(url, ctx) {
    const t = target(url, ctx, 'Download');
    const client = await clientFor(t, ctx);
    const { HeadObjectCommand } = await loadSdk();
    try {
      const head = await client.send(new HeadObjectCommand({ Bucket: t.bucket, Key: t.key }), { abortSignal: ctx.signal });
      return { size: head.ContentLength ?? 0 };
    } catch (err) {
      if (isS3Exception(err) && err.$metadata.httpStatusCode === 404 && err.name !== 'NoSuchBucket') return null;
      throw s3Failure(err, 'Download', t, ctx.signal);
    } finally {
      client.destroy();
    }
  },

  async remove(url, ctx) {
    const t = target(url, ctx, 'Delete');
    const client = await clientFor(t, ctx);
    const { DeleteObjectCommand } = await loadSdk();
    try {
      await client.send(new DeleteObjectCommand({ Bucket: t.bucket, Key: t.key }), { abortSignal: ctx.signal });
    } catch (err) {
      throw s3Failure(err, 'Delete', t, ctx.signal);
    } finally {
      client.destroy();
    }
  },

  async removeTree(url, ctx) {
    const t = target(url, ctx, 'Delete', true);
    // Never the whole bucket: only a folder inside it.
    if (t.key === '' || !t.key.endsWith('/')) throw new TransferError(`Delete error: only a folder (bucket/prefix/) can be removed from bucket ${t.bucket}`);
    const client = await clientFor(t, ctx);
    let count = 0;
    const { DeleteObjectCommand, ListObjectsV2Command } = await loadSdk();
    try {
      let token: string | undefined;
      do {
        const page = await client.send(new ListObjectsV2Command({ Bucket: t.bucket, Prefix: t.key, ContinuationToken: token }), { abortSignal: ctx.signal });
        const keys = (page.Contents ?? []).map((o) => o.Key).filter((k): k is string => !!k);
        // One DELETE per object: the batch call needs a Content-MD5 that several S3-compatible services treat differently.
        await inParallel(keys.length, ctx.signal, async (i, signal) => {
          await client.send(new DeleteObjectCommand({ Bucket: t.bucket, Key: keys[i] }), { abortSignal: signal });
        });
        count += keys.length;
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token);
      return count;
    } catch (err) {
      throw s3Failure(err, 'Delete', t, ctx.signal);
    } finally {
      client.destroy();
    }
  },
};
