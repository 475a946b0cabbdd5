/**
 * The contract every transfer scheme keeps (transfer/index.ts `download`/`upload` over a
 * `SchemeModule`), run against each one with a real server: file, http(s) (read only), s3
 * (s3rver), azure (Azurite), ftp (ftp-srv) and sftp (ssh2). Objects are placed and read back by the
 * test's own means (the file system under the server, the vendor's SDK), never by the code under
 * test. ENCODERY_TEST_SCHEMES=ftp,sftp (for example) narrows the run. What is peculiar to one
 * scheme (multipart, SAS, TLS, host keys, rude servers) stays in its transfer-<scheme> file.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { BlobServiceClient, StorageSharedKeyCredential } from '@azure/storage-blob';
import { download, TransferError, upload, type TransferContext } from '../src/transfer/index.ts';
import { serveFiles, tempDir } from './helpers.ts';
import {
  AZURITE_ACCOUNT, AZURITE_KEY, FTP_PASSWORD, FTP_USER, SSH_PASSWORD, SSH_USER, enc, startAzurite, startFtp, startS3, startSsh, stopAzurite,
} from './remote-servers.ts';

/** One scheme with its server running. */
interface SchemeUnderTest {
  ctx: TransferContext;
  /** Places an object by the test's own means; the URL Encodery reads it from. */
  put(name: string, data: Buffer): Promise<string>;
  /** A URL where nothing is. */
  missing: string;
  /** Writable schemes: the URL Encodery writes `name` to (folders in it need not exist), and the object read back by the test's own means. */
  write?: { url(name: string): string; read(name: string): Promise<Buffer> };
  /** A credential the URLs carry, which no error may show. */
  secret?: string;
  close(): Promise<void>;
}

interface Scheme {
  name: string;
  start(dir: string): Promise<SchemeUnderTest>;
}

const S3_KEY = 'AKIAENCODERYCONTRACT';
const S3_SECRET = 'contract/Secret:Val+ue';

const SCHEMES: Scheme[] = [
  {
    name: 'file',
    start: async (dir) => {
      const root = path.join(dir, 'root');
      await fs.mkdir(root);
      return {
        ctx: { fileRoots: [root], allowPrivateNetwork: false },
        put: async (name, data) => {
          await fs.writeFile(path.join(root, name), data);
          return `file://${path.join(root, name)}`;
        },
        missing: `file://${path.join(root, 'missing.bin')}`,
        write: { url: (name) => `file://${path.join(root, 'new', 'deep', name)}`, read: (name) => fs.readFile(path.join(root, 'new', 'deep', name)) },
        close: async () => undefined,
      };
    },
  },
  {
    name: 'http',
    start: async (dir) => {
      const served = path.join(dir, 'served');
      await fs.mkdir(served);
      const server = await serveFiles(served);
      return {
        ctx: { fileRoots: [], allowPrivateNetwork: true, retryDelaysMs: [10] },
        put: async (name, data) => {
          await fs.writeFile(path.join(served, name), data);
          return `${server.url}/${name}`;
        },
        missing: `${server.url}/missing.bin`,
        close: () => server.close(),
      };
    },
  },
  {
    name: 's3',
    start: async (dir) => {
      const s3 = await startS3(dir, S3_KEY, S3_SECRET, ['contract']);
      const client = new S3Client({ region: 'us-east-1', endpoint: s3.endpoint, forcePathStyle: true, credentials: { accessKeyId: S3_KEY, secretAccessKey: S3_SECRET } });
      // s3:// takes its keys from the SDK's default chain.
      process.env.AWS_ACCESS_KEY_ID = S3_KEY;
      process.env.AWS_SECRET_ACCESS_KEY = S3_SECRET;
      const read = async (key: string) => Buffer.from(await (await client.send(new GetObjectCommand({ Bucket: 'contract', Key: key }))).Body!.transformToByteArray());
      return {
        ctx: { fileRoots: [], allowPrivateNetwork: false, s3Endpoint: s3.endpoint, s3Region: 'us-east-1', retryDelaysMs: [10] },
        put: async (name, data) => {
          await client.send(new PutObjectCommand({ Bucket: 'contract', Key: `in/${name}`, Body: data }));
          return `s3://contract/in/${name}`;
        },
        missing: 's3://contract/in/missing.bin',
        write: { url: (name) => `s3://contract/new/deep/${name}`, read: (name) => read(`new/deep/${name}`) },
        close: async () => {
          client.destroy();
          await s3.close();
        },
      };
    },
  },
  {
    name: 'azure',
    start: async (dir) => {
      const { azurite, endpoint } = await startAzurite(dir);
      const service = new BlobServiceClient(endpoint, new StorageSharedKeyCredential(AZURITE_ACCOUNT, AZURITE_KEY));
      await service.createContainer('contract');
      const container = service.getContainerClient('contract');
      const url = (blob: string) => `https://${encodeURIComponent(AZURITE_KEY)}@${AZURITE_ACCOUNT}.blob.core.windows.net/contract/${blob}`;
      return {
        // The endpoint is on loopback: it is exempt from the private network rule, so keep the rule on.
        ctx: { fileRoots: [], allowPrivateNetwork: false, azureEndpoint: endpoint, retryDelaysMs: [10] },
        put: async (name, data) => {
          await container.getBlockBlobClient(`in/${name}`).uploadData(data);
          return url(`in/${name}`);
        },
        missing: url('in/missing.bin'),
        write: { url: (name) => url(`new/deep/${name}`), read: (name) => container.getBlockBlobClient(`new/deep/${name}`).downloadToBuffer() },
        secret: AZURITE_KEY,
        close: () => stopAzurite(azurite),
      };
    },
  },
  {
    name: 'ftp',
    start: async () => {
      const ftp = await startFtp();
      const base = `ftp://${FTP_USER}:${enc(FTP_PASSWORD)}@127.0.0.1:${ftp.port}`;
      return {
        ctx: { fileRoots: [], allowPrivateNetwork: true, retryDelaysMs: [10] },
        put: async (name, data) => {
          await fs.writeFile(path.join(ftp.root, name), data);
          return `${base}/${name}`;
        },
        missing: `${base}/missing.bin`,
        write: { url: (name) => `${base}/new/deep/${name}`, read: (name) => fs.readFile(path.join(ftp.root, 'new', 'deep', name)) },
        secret: FTP_PASSWORD,
        close: () => ftp.close(),
      };
    },
  },
  {
    name: 'sftp',
    start: async () => {
      const ssh = await startSsh();
      const base = `sftp://${SSH_USER}:${enc(SSH_PASSWORD)}@127.0.0.1:${ssh.port}`;
      return {
        ctx: { fileRoots: [], allowPrivateNetwork: true, retryDelaysMs: [10] },
        put: async (name, data) => {
          await fs.writeFile(path.join(ssh.root, name), data);
          return `${base}/${name}`;
        },
        missing: `${base}/missing.bin`,
        write: { url: (name) => `${base}/new/deep/${name}`, read: (name) => fs.readFile(path.join(ssh.root, 'new', 'deep', name)) },
        secret: SSH_PASSWORD,
        close: () => ssh.close(),
      };
    },
  },
];

const only = process.env.ENCODERY_TEST_SCHEMES?.split(',').map((s) => s.trim().toLowerCase());

/** Big enough to arrive in several chunks (progress is reported more than once). */
const PAYLOAD = randomBytes(3 * 1024 * 1024 + 17);

for (const scheme of SCHEMES) {
  if (only && !only.includes(scheme.name)) continue;
  describe(`transfer contract: ${scheme.name}`, () => {
    let dir: string;
    let s: SchemeUnderTest;
    before(async () => {
      dir = await tempDir(`encodery-contract-${scheme.name}-`);
      s = await scheme.start(dir);
    });
    after(async () => {
      await s?.close();
      await fs.rm(dir, { recursive: true, force: true });
    });

    const noSecretIn = (err: unknown) => {
      if (!s.secret) return;
      const shown = `${String((err as Error).message)} ${String((err as Error).stack)} ${String((err as Error).cause)}`;
      assert.ok(!shown.includes(s.secret) && !shown.includes(encodeURIComponent(s.secret)), `no credential in: ${shown.slice(0, 300)}`);
    };

    test('a source comes down byte for byte, its progress reaching the size', async () => {
      const url = await s.put('source.bin', PAYLOAD);
      const to = path.join(dir, 'down.bin');
      const seen: number[] = [];
      const { bytes } = await download(url, to, s.ctx, (done) => seen.push(done));
      assert.equal(bytes, PAYLOAD.length);
      assert.ok((await fs.readFile(to)).equals(PAYLOAD), 'the same bytes');
      assert.equal(seen.at(-1), PAYLOAD.length, 'progress reaches the size');
    });

    test('a missing source is a final TransferError that leaves no file and shows no credential', async () => {
      const to = path.join(dir, 'missing-down.bin');
      const err = await download(s.missing, to, s.ctx).catch((e: unknown) => e);
      assert.ok(err instanceof TransferError, String(err));
      assert.equal(err.retryable, false, err.message);
      assert.match(err.message, /^Download error: /);
      noSecretIn(err);
      await assert.rejects(fs.stat(to), { code: 'ENOENT' });
    });

    test('a source larger than the size limit is refused and leaves no file', async () => {
      const url = await s.put('limited.bin', PAYLOAD);
      const to = path.join(dir, 'limited-down.bin');
      await assert.rejects(download(url, to, { ...s.ctx, maxSourceBytes: 1000 }), (err: unknown) => {
        assert.ok(err instanceof TransferError);
        assert.match(err.message, /larger than the limit of 1000 bytes/);
        return true;
      });
      await assert.rejects(fs.stat(to), { code: 'ENOENT' });
    });

    test('an aborted transfer rejects with the abort and leaves no file', async () => {
      const url = await s.put('aborted.bin', PAYLOAD);
      const to = path.join(dir, 'aborted-down.bin');
      const controller = new AbortController();
      controller.abort(new Error('stopped by the test'));
      const started = performance.now();
      await assert.rejects(download(url, to, { ...s.ctx, signal: controller.signal }));
      assert.ok(performance.now() - started < 2000, 'at once');
      await assert.rejects(fs.stat(to), { code: 'ENOENT' });
    });

    test('an output goes up into folders that did not exist, byte for byte, its progress reaching the size', async (t) => {
      if (!s.write) {
        t.skip(`${scheme.name} is read-only`);
        return;
      }
      const from = path.join(dir, 'up.bin');
      await fs.writeFile(from, PAYLOAD);
      const seen: number[] = [];
      await upload(from, s.write.url('out file.bin'), s.ctx, (done) => seen.push(done));
      assert.ok((await s.write.read('out file.bin')).equals(PAYLOAD), 'the same bytes arrived');
      assert.equal(seen.at(-1), PAYLOAD.length, 'progress reaches the size');
    });
  });
}
