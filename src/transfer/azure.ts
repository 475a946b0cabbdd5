import { Readable } from 'node:stream';
import type { BlockBlobClient, StoragePipelineOptions } from '@azure/storage-blob';
import { contentTypeOf, UNKNOWN_CONTENT_TYPE } from '../domain/content-types.ts';
import { toTransferError, type Verb } from './errors.ts';
import { guardedNodeAgent } from './guard.ts';
import { TransferError, type SchemeModule, type TransferContext } from './types.ts';
import { decodePart } from './url-parts.ts';

/**
 * Azure Blob Storage (reference 5.1/5.2), claimed by host name since both forms are https URLs:
 * - signed: `https://ACCOUNT.blob.core.windows.net/CONTAINER/PATH?sv=..&sig=..`
 * - key form: `https://URLENCODED_KEY@ACCOUNT.blob.core.windows.net/CONTAINER/PATH`
 *   (`ACCOUNT:URLENCODED_KEY@` is accepted too)
 * - neither: anonymous, which only works for a public container.
 * With ENCODERY_AZURE_ENDPOINT set (Azurite, Azure Stack), every such URL is served by that endpoint.
 */

const AZURE_HOST = /^([a-z0-9]{3,24})\.blob\.core\.windows\.net$/;
const CONTAINER = /^(?:\$root|\$web|[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){2,62})$/;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

export interface AzureTuning {
  /** Files up to this size go up in one request; larger ones in parallel blocks. */
  singleShotBytes: number;
  blockBytes: number;
  /** Blocks in flight at once: each reads its own slice of the file, so memory stays bounded. */
  concurrency: number;
}

const DEFAULT_TUNING: AzureTuning = { singleShotBytes: 32 * 1024 ** 2, blockBytes: 8 * 1024 ** 2, concurrency: 4 };
// Azure's limit of blocks per blob: larger files need larger blocks.
const MAX_BLOCKS = 50_000;

interface AzureTarget {
  account: string;
  container: string;
  blob: string;
  key: string | null;
  /** A SAS URL (its `sig` authorizes the request). */
  signed: boolean;
  /** The URL the SDK is given: no credentials in it, the SAS query kept as sent. */
  href: string;
  /** Requests go to an operator-configured endpoint, exempt from the private network rule. */
  viaEndpoint: boolean;
}


/** The parsed parts, or a message naming what is wrong. No I/O. */
export function parseAzureUrl(url: URL, endpoint?: string | null): AzureTarget | string {
  const host = AZURE_HOST.exec(url.hostname.toLowerCase());
  if (!host) return `"${url.hostname}" is not an Azure Blob host (ACCOUNT.blob.core.windows.net)`;
  const account = host[1]!;
  const segments = url.pathname.split('/').slice(1);
  const container = decodePart(segments[0] ?? '') ?? '';
  if (!CONTAINER.test(container)) {
    return container === ''
      ? 'the Azure URL has no container: use https://ACCOUNT.blob.core.windows.net/CONTAINER/PATH'
      : `"${container}" is not a valid Azure container name (3 to 63 lowercase letters, digits and single hyphens)`;
  }
  const blob = decodePart(segments.slice(1).join('/'));
  if (blob === null) return 'the Azure blob path has a malformed %-escape';
  if (blob === '' || blob.endsWith('/')) return 'the Azure URL has no blob name after the container';

  let key: string | null = null;
  if (url.username !== '' || url.password !== '') {
    // Documented: KEY@ACCOUNT...; the key is base64, so its '/', '+' and '=' must be %-escaped.
    const user = decodePart(url.username);
    const pass = decodePart(url.password);
    if (user === null || pass === null) return 'the Azure account key has a malformed %-escape';
    if (url.password !== '' && user.toLowerCase() !== account) {
      return 'the Azure key form is https://URLENCODED_KEY@ACCOUNT.blob.core.windows.net/CONTAINER/PATH';
    }
    key = url.password !== '' ? pass : user;
    if (!BASE64.test(key) || key.length % 4 !== 0) {
      return 'the Azure account key is not valid base64: %-escape it in the URL ("/" as %2F, "+" as %2B, "=" as %3D)';
    }
  }

  let base = `${url.protocol}//${url.host}`;
  if (endpoint) base = endpoint.replace(/\/+$/, '');
  return { account, container, blob, key, signed: url.searchParams.has('sig'), href: `${base}${url.pathname}${url.search}`, viaEndpoint: Boolean(endpoint) };
}

function target(url: URL, ctx: TransferContext, verb: Verb): AzureTarget {
  const t = parseAzureUrl(url, ctx.azureEndpoint);
  if (typeof t === 'string') throw new TransferError(`${verb} error: ${t}`);
  return t;
}

async function clientFor(t: AzureTarget, ctx: TransferContext): Promise<BlockBlobClient> {
  // Loaded on first use: the SDK is a large part of a process start that most runs never need.
  const { AnonymousCredential, BlockBlobClient, newPipeline, StorageSharedKeyCredential } = await import('@azure/storage-blob');
  const credential = t.key ? new StorageSharedKeyCredential(t.account, t.key) : new AnonymousCredential();
  const options: StoragePipelineOptions & { agent?: unknown } = {
    // Per request (one block, one range): the whole transfer is retried by the caller as well.
    retryOptions: { maxTries: 3, retryDelayInMs: 500, maxRetryDelayInMs: 8000, tryTimeoutInMs: 10 * 60_000 },
  };
  // The SDK passes unknown pipeline options on to core-rest-pipeline, whose agent policy
  // then connects every request through our address check.
  if (!ctx.allowPrivateNetwork && !t.viaEndpoint) options.agent = guardedNodeAgent(new URL(t.href).protocol);
  return new BlockBlobClient(t.href, newPipeline(credential, options));
}

interface RestLike {
  statusCode?: number;
  code?: string;
  details?: { errorCode?: string };
}

function isTransientStatus(status: number): boolean {
  return status >= 500 || status === 429 || status === 408;
}

/** Azure's own words (status and error code) plus what the user can do about them. */
function azureError(err: unknown, verb: Verb, t: AzureTarget, ctx: TransferContext): TransferError {
  if (err instanceof TransferError) return err;
  if (ctx.signal?.aborted || (err as Error | undefined)?.name === 'AbortError') {
    return new TransferError(`${verb} error: aborted`, { cause: err });
  }
  const e = (err ?? {}) as RestLike;
  const host = t.viaEndpoint ? new URL(t.href).hostname : `${t.account}.blob.core.windows.net`;
  if (e.code === 'ENCODERY_FORBIDDEN_ADDRESS') {
    return new TransferError(`${verb} error: ${host} resolves to a private or reserved network address, which is not allowed`, { cause: err });
  }
  if (typeof e.statusCode !== 'number' || e.statusCode === 0) return toTransferError(err, verb, host, ctx.signal);
  const status = e.statusCode;
  const code = e.details?.errorCode ?? (e.code && e.code !== 'REQUEST_SEND_ERROR' ? e.code : undefined);
  const said = code ? `${status} ${code}` : String(status);
  const where = `container ${t.container} of account ${t.account}`;
  const anonymous = !t.key && !t.signed;
  let text: string;
  if (anonymous && (status === 401 || status === 403 || status === 404)) {
    // Azure hides private containers from anonymous callers behind a 404.
    text = `Azure refused the request (${said}) for ${where}: the URL has no key or SAS signature, so it only works for a public container (use https://URLENCODED_KEY@ACCOUNT.blob.core.windows.net/... or a SAS URL)`;
  } else if (code === 'ContainerNotFound') text = `Azure has no container ${t.container} in account ${t.account} (${said})`;
  else if (code === 'BlobNotFound' || (status === 404 && verb === 'Download')) text = `Azure has no blob ${t.blob} in ${where} (${said})`;
  else if (status === 403) {
    const hint = t.key ? 'check the account key' : 'check the SAS signature, its permissions and expiry';
    text = `Azure refused the request (${said}) for ${where}: ${hint}`;
  } else if (isTransientStatus(status)) text = `Azure is unavailable (${said}) for ${where}`;
  else text = `Azure refused the request (${said}) for ${where}`;
  return new TransferError(`${verb} error: ${text}`, { retryable: isTransientStatus(status), cause: err });
}

/** A factory so tests can use small blocks; the registered module uses the defaults. */
export function createAzureScheme(tuning: AzureTuning = DEFAULT_TUNING): SchemeModule {
  return {
    schemes: [],

    claims(url) {
      return (url.protocol === 'https:' || url.protocol === 'http:') && AZURE_HOST.test(url.hostname.toLowerCase());
    },

    validate(url, role) {
      const t = parseAzureUrl(url);
      return typeof t === 'string' ? `Invalid ${role} URL: ${t}` : null;
    },

    async read(url, ctx) {
      const t = target(url, ctx, 'Download');
      try {
        const res = await (await clientFor(t, ctx)).download(0, undefined, {
          ...(ctx.signal ? { abortSignal: ctx.signal } : {}),
          maxRetryRequests: 5,
        });
        const body = res.readableStreamBody;
        if (!body) throw new TransferError('Download error: Azure returned no body');
        const size = res.contentLength;
        // The SDK's body is an old-style stream type; wrap keeps backpressure and errors.
        const stream = body instanceof Readable ? body : new Readable().wrap(body);
        return { stream, size: typeof size === 'number' && Number.isSafeInteger(size) && size >= 0 ? size : null };
      } catch (err) {
        throw azureError(err, 'Download', t, ctx);
      }
    },

    async write(url, ctx, source, onProgress) {
      const t = target(url, ctx, 'Upload');
      onProgress?.(0, source.size);
      try {
        await (await clientFor(t, ctx)).uploadFile(source.path, {
          maxSingleShotSize: tuning.singleShotBytes,
          blockSize: Math.max(tuning.blockBytes, Math.ceil(source.size / MAX_BLOCKS)),
          concurrency: tuning.concurrency,
          blobHTTPHeaders: { blobContentType: contentTypeOf(t.blob) ?? UNKNOWN_CONTENT_TYPE },
          ...(ctx.signal ? { abortSignal: ctx.signal } : {}),
          onProgress: (p) => {
            try {
              onProgress?.(p.loadedBytes, source.size);
            } catch {
              // progress is advisory
            }
          },
        });
      } catch (err) {
        throw azureError(err, 'Upload', t, ctx);
      }
    },
  };
}

export const azureScheme = createAzureScheme();
