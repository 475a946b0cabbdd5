import { z } from 'zod';
import { baseUrl, readableFile, type CheckedSetting, type SettingValues } from '../setting-kinds.ts';

/**
 * The settings of each storage scheme, one group per scheme: config.ts reads them with the
 * others, and every TransferContext carries their values (transfer/context.ts). A new scheme
 * is its module (registered in index.ts) and, if it needs settings, one group here.
 */

const azure = {
  azureEndpoint: { env: 'ENCODERY_AZURE_ENDPOINT', flag: 'azure-endpoint', help: 'Azure Blob service URL used for every Azure URL instead of ACCOUNT.blob.core.windows.net (Azurite: http://127.0.0.1:10000/devstoreaccount1)', value: baseUrl },
} satisfies Record<string, CheckedSetting>;

const s3 = {
  s3Endpoint: { env: 'ENCODERY_S3_ENDPOINT', flag: 's3-endpoint', help: 'Base URL of an S3-compatible service for s3:// URLs (path-style addressing; trusted even on a private network)', value: baseUrl },
  s3Region: {
    env: 'ENCODERY_S3_REGION',
    flag: 's3-region',
    help: 'Region for s3:// URLs and the S3 endpoint (AWS redirects to the bucket\'s own region)',
    default: 'us-east-1',
    value: z.string().trim().regex(/^[a-z0-9-]+$/, 'must be a region name such as us-east-1'),
  },
} satisfies Record<string, CheckedSetting>;

const sftp = {
  sftpKeyFile: { env: 'ENCODERY_SFTP_KEY_FILE', flag: 'sftp-key-file', help: 'Private key (PEM or OpenSSH) for sftp:// URLs that carry no password', value: readableFile },
  sftpKeyPassphrase: { env: 'ENCODERY_SFTP_KEY_PASSPHRASE', flag: 'sftp-key-passphrase', help: 'Passphrase of the SFTP private key, if it has one', value: z.string().optional().transform((p) => p ?? null) },
  sftpKnownHosts: { env: 'ENCODERY_SFTP_KNOWN_HOSTS', flag: 'sftp-known-hosts', help: 'OpenSSH known_hosts file; when set, SFTP servers must present a host key listed there', value: readableFile },
} satisfies Record<string, CheckedSetting>;

const ftps = {
  ftpsCaFile: { env: 'ENCODERY_FTPS_CA_FILE', flag: 'ftps-ca-file', help: 'PEM CA certificates trusted for ftps:// besides the system ones', value: readableFile },
} satisfies Record<string, CheckedSetting>;

const optionalText = z.string().trim().optional().transform((v) => (v === undefined || v === '' ? null : v));

/**
 * SPEKE key servers (speke_url, asked through exchange.ts) behind AWS IAM auth (API Gateway,
 * Lambda function URLs) want SigV4-signed requests: these say for which region, and with which
 * credentials when AWS's own chain (AWS_ACCESS_KEY_ID…, profiles, instance roles) is not meant.
 */
const speke = {
  spekeAwsRegion: {
    env: 'ENCODERY_SPEKE_AWS_REGION',
    flag: 'speke-aws-region',
    help: 'Sign every speke_url request with AWS SigV4 for this region (service execute-api, or lambda for a Lambda function URL); unset: only API Gateway and Lambda URL hosts are signed, for the region in their name',
    value: z.string().trim().regex(/^[a-z0-9-]+$/, 'must be a region name such as us-east-1').optional().transform((v) => v ?? null),
  },
  spekeAwsAccessKeyId: { env: 'ENCODERY_SPEKE_AWS_ACCESS_KEY_ID', flag: 'speke-aws-access-key-id', help: 'Access key id signing SPEKE requests (with the secret key); unset: the AWS credential chain (AWS_ACCESS_KEY_ID, profiles, instance roles)', value: optionalText },
  spekeAwsSecretAccessKey: { env: 'ENCODERY_SPEKE_AWS_SECRET_ACCESS_KEY', flag: 'speke-aws-secret-access-key', help: 'Secret access key signing SPEKE requests; never shown', value: optionalText },
  spekeAwsSessionToken: { env: 'ENCODERY_SPEKE_AWS_SESSION_TOKEN', flag: 'speke-aws-session-token', help: 'Session token of temporary SPEKE credentials, if they have one', value: optionalText },
} satisfies Record<string, CheckedSetting>;

export const SCHEME_SETTINGS = { ...azure, ...s3, ...sftp, ...ftps, ...speke };

/**
 * What the scheme modules read (ctx.s3Endpoint, ctx.sftpKeyFile, …): null or absent, nothing
 * configured. From configuration only, never from a URL.
 */
export type SchemeSettings = SettingValues<typeof SCHEME_SETTINGS>;

export const SCHEME_SETTING_KEYS = Object.keys(SCHEME_SETTINGS) as (keyof SchemeSettings)[];
