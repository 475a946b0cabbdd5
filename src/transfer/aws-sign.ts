/**
 * AWS Signature Version 4 for the requests Encodery makes to key servers (SPEKE v2 behind API
 * Gateway with IAM auth, or a Lambda function URL), with the AWS SDK's own signer. Which requests
 * are signed, for which region, and with which credentials comes from the ENCODERY_SPEKE_AWS_*
 * settings (transfer/settings.ts); the credentials never leave this module, never in a message.
 */
import crypto from 'node:crypto';
import { SignatureV4 } from '@smithy/signature-v4';
import { defaultProvider } from '@aws-sdk/credential-provider-node';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider, Checksum, SourceData } from '@smithy/types';
import type { SchemeSettings } from './settings.ts';
import { redactUrl } from './redact.ts';
import { TransferError } from './types.ts';

export interface AwsSigning {
  region: string;
  /** `execute-api` (API Gateway) or `lambda` (a function URL). */
  service: string;
}

type SpekeSettings = Partial<Pick<SchemeSettings, 'spekeAwsRegion' | 'spekeAwsAccessKeyId' | 'spekeAwsSecretAccessKey' | 'spekeAwsSessionToken'>>;

const API_GATEWAY = /\.execute-api\.([a-z0-9-]+)\.amazonaws\.com$/i;
const LAMBDA_URL = /\.lambda-url\.([a-z0-9-]+)\.on\.aws$/i;

/** How a request to `url` is signed: null when it goes unsigned. */
export function awsSigningFor(url: URL, s: SpekeSettings): AwsSigning | null {
  const lambda = LAMBDA_URL.exec(url.hostname);
  const gateway = API_GATEWAY.exec(url.hostname);
  const service = lambda ? 'lambda' : 'execute-api';
  if (s.spekeAwsRegion) return { region: s.spekeAwsRegion, service };
  const named = lambda ?? gateway;
  return named ? { region: named[1]!.toLowerCase(), service } : null;
}

/** SHA-256 and HMAC-SHA256 as the signer asks for them, from node:crypto. */
class NodeSha256 implements Checksum {
  readonly #secret: Buffer | null;
  #hash: crypto.Hash | crypto.Hmac;

  constructor(secret?: SourceData) {
    this.#secret = secret === undefined ? null : bytesOf(secret);
    this.#hash = this.#fresh();
  }

  update(data: Uint8Array | string): void {
    this.#hash.update(bytesOf(data));
  }

  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.#hash.digest());
  }

  reset(): void {
    this.#hash = this.#fresh();
  }

  #fresh(): crypto.Hash | crypto.Hmac {
    return this.#secret ? crypto.createHmac('sha256', this.#secret) : crypto.createHash('sha256');
  }
}

function bytesOf(data: SourceData): Buffer {
  if (typeof data === 'string') return Buffer.from(data, 'utf8');
  if (ArrayBuffer.isView(data)) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return Buffer.from(data);
}

let chain: AwsCredentialIdentityProvider | null = null;

function credentialsOf(s: SpekeSettings): AwsCredentialIdentity | AwsCredentialIdentityProvider {
  if (s.spekeAwsAccessKeyId && s.spekeAwsSecretAccessKey) {
    return { accessKeyId: s.spekeAwsAccessKeyId, secretAccessKey: s.spekeAwsSecretAccessKey, ...(s.spekeAwsSessionToken ? { sessionToken: s.spekeAwsSessionToken } : {}) };
  }
  // AWS's own chain (environment, profiles, container and instance roles), kept: it caches what it finds.
  chain ??= defaultProvider();
  return chain;
}

/** The headers of a POST to `url` with SigV4's `authorization`, `x-amz-date` (and session token) added. */
export async function signedHeaders(url: URL, headers: Record<string, string>, body: string, signing: AwsSigning, s: SpekeSettings): Promise<Record<string, string>> {
  const signer = new SignatureV4({ ...signing, credentials: credentialsOf(s), sha256: NodeSha256 });
  const query: Record<string, string | string[]> = {};
  for (const key of new Set(url.searchParams.keys())) {
    const all = url.searchParams.getAll(key);
    query[key] = all.length === 1 ? all[0]! : all;
  }
  try {
    const signed = await signer.sign({
      method: 'POST', protocol: url.protocol, hostname: url.hostname, ...(url.port ? { port: Number(url.port) } : {}),
      path: url.pathname, query, headers: { ...headers, host: url.host }, body,
    });
    return signed.headers;
  } catch (err) {
    // The chain's own messages list where it looked; none carries a secret, but the wording is ours.
    throw new TransferError(`no AWS credentials to sign the request to ${redactUrl(url.href)}: set ENCODERY_SPEKE_AWS_ACCESS_KEY_ID and ENCODERY_SPEKE_AWS_SECRET_ACCESS_KEY, or give the process AWS credentials (AWS_ACCESS_KEY_ID, a profile, an instance role)`, { cause: err });
  }
}
