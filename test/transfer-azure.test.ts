import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import {
  BlobSASPermissions,
  BlobServiceClient,
  generateBlobSASQueryParameters,
  StorageSharedKeyCredential,
} from '@azure/storage-blob';
import { createAzureScheme, parseAzureUrl } from '../src/transfer/azure.ts';
import { __setAddressPolicyForTests, guardedNodeAgent } from '../src/transfer/guard.ts';
import { checkUrl, download, redactUrl, TransferError, upload, type TransferContext } from '../src/transfer/index.ts';
import { asList, makeClip, startTestServer, tempDir, untilFinal } from './helpers.ts';
import { AZURITE_ACCOUNT, AZURITE_KEY, startAzurite, stopAzurite } from './remote-servers.ts';

const ACCOUNT = AZURITE_ACCOUNT;
const KEY = AZURITE_KEY;
const WRONG_KEY = Buffer.from('not the key of this account at all!!').toString('base64');
const credential = new StorageSharedKeyCredential(ACCOUNT, KEY);

const keyUrl = (container: string, blob: string, key = KEY) =>
  `https://${encodeURIComponent(key)}@${ACCOUNT}.blob.core.windows.net/${container}/${blob}`;
const sasUrl = (container: string, blob: string) => {
  const sas = generateBlobSASQueryParameters(
    { containerName: container, blobName: blob, permissions: BlobSASPermissions.parse('rcw'), expiresOn: new Date(Date.now() + 3600_000) },
    credential,
  ).toString();
  return { url: `https://${ACCOUNT}.blob.core.windows.net/${container}/${blob}?${sas}`, sig: new URLSearchParams(sas).get('sig')! };
};

const sha256 = async (file: string) => createHash('sha256').update(await fs.readFile(file)).digest('hex');

describe('Azure Blob against a real Azurite', () => {
  let azurite: ChildProcess;
  let dir: string;
  let endpoint: string;
  let service: BlobServiceClient;
  let ctx: TransferContext;
  // Small blocks so a 1.3 MB file goes up as several parallel blocks.
  const small = createAzureScheme({ singleShotBytes: 256 * 1024, blockBytes: 256 * 1024, concurrency: 3 });

  before(async () => {
    dir = await tempDir('encodery-azure-');
    ({ azurite, endpoint } = await startAzurite(dir));
    service = new BlobServiceClient(endpoint, credential);
    await service.createContainer('media');
    await service.createContainer('out');
    // The endpoint is on loopback: it is exempt from the private network rule, so keep the rule on.
    ctx = { fileRoots: [dir], allowPrivateNetwork: false, azureEndpoint: endpoint, retryDelaysMs: [] };
  });
  after(async () => {
    await stopAzurite(azurite);
    await fs.rm(dir, { recursive: true, force: true });
  });

  test('key form: several parallel blocks up, streamed down, same bytes, content type from the extension', async () => {
    const file = path.join(dir, 'big.mp4');
    await fs.writeFile(file, randomBytes(1_300_000));
    const url = new URL(keyUrl('media', 'in/big.mp4'));
    const seen: number[] = [];
    await small.write(url, ctx, { path: file, size: 1_300_000 }, (done) => void seen.push(done));
    assert.equal(seen.at(-1), 1_300_000, 'progress reaches the size');

    const blob = service.getContainerClient('media').getBlockBlobClient('in/big.mp4');
    const blocks = await blob.getBlockList('committed');
    assert.equal(blocks.committedBlocks?.length, 5, 'ceil(1 300 000 / 262 144) blocks');
    const props = await blob.getProperties();
    assert.equal(props.contentType, 'video/mp4');
    assert.equal(props.contentLength, 1_300_000);

    const back = path.join(dir, 'back.mp4');
    const sizes: (number | null)[] = [];
    const got = await download(url.href, back, ctx, (_d, total) => void sizes.push(total));
    assert.equal(got.bytes, 1_300_000);
    assert.equal(sizes[0], 1_300_000, 'the size comes from the blob properties');
    assert.equal(await sha256(back), await sha256(file));

    await assert.rejects(download(url.href, path.join(dir, 'x'), { ...ctx, maxSourceBytes: 1000 }), {
      message: 'Download error: the source is larger than the limit of 1000 bytes',
    });
  });

  test('SAS URL: up through the registered module, down again, same bytes', async () => {
    const file = path.join(dir, 'sas.m3u8');
    await fs.writeFile(file, '#EXTM3U\n#EXT-X-ENDLIST\n');
    const { url } = sasUrl('out', 'hls/master.m3u8');
    assert.equal(checkUrl(url, 'destination', { allowPrivateNetwork: false }), null);
    await upload(file, url, ctx);
    const props = await service.getContainerClient('out').getBlobClient('hls/master.m3u8').getProperties();
    assert.equal(props.contentType, 'application/vnd.apple.mpegurl');
    const back = path.join(dir, 'sas-back');
    await download(url, back, ctx);
    assert.equal(await fs.readFile(back, 'utf8'), '#EXTM3U\n#EXT-X-ENDLIST\n');
  });

  test('a missing container or blob is a clear, non-transient error', async () => {
    const file = path.join(dir, 'one.mp4');
    await fs.writeFile(file, 'x');
    const err = await upload(file, keyUrl('nope', 'a.mp4'), ctx).catch((e: unknown) => e);
    assert.ok(err instanceof TransferError);
    assert.equal(err.message, 'Upload error: Azure has no container nope in account devstoreaccount1 (404 ContainerNotFound)');
    assert.equal(err.retryable, false);
    const miss = await download(keyUrl('media', 'missing.mp4'), path.join(dir, 'm'), ctx).catch((e: unknown) => e);
    assert.ok(miss instanceof TransferError);
    assert.match(miss.message, /^Download error: Azure has no blob missing\.mp4 in container media of account devstoreaccount1 \(404/);
    await assert.rejects(fs.stat(path.join(dir, 'm')), { code: 'ENOENT' });
    const anonymous = await upload(file, `https://${ACCOUNT}.blob.core.windows.net/out/a.mp4`, ctx).catch((e: unknown) => e);
    assert.ok(anonymous instanceof TransferError);
    assert.match(anonymous.message, /^Upload error: Azure refused the request \(\d+ \w+\) for container out of account devstoreaccount1: the URL has no key or SAS signature/);
    assert.equal(anonymous.retryable, false);
  });

  test('a wrong key is a non-transient 403 that names the container and never the key', async () => {
    const file = path.join(dir, 'one.mp4');
    await fs.writeFile(file, 'x');
    const err = await upload(file, keyUrl('out', 'a.mp4', WRONG_KEY), { ...ctx, retryDelaysMs: [10, 10] }).catch((e: unknown) => e);
    assert.ok(err instanceof TransferError);
    // Azure answers AuthenticationFailed, Azurite AuthorizationFailure.
    assert.match(err.message, /^Upload error: Azure refused the request \(403 (AuthenticationFailed|AuthorizationFailure)\) for container out of account devstoreaccount1: check the account key$/);
    assert.equal(err.retryable, false);
    const everything = `${err.message} ${String((err.cause as Error)?.message)} ${String((err.cause as Error)?.stack)}`;
    assert.ok(!everything.includes(WRONG_KEY) && !everything.includes(encodeURIComponent(WRONG_KEY)));
  });

  test('URL forms: KEY@ and ACCOUNT:KEY@ (%-escaped base64), SAS, and the mistakes named', () => {
    const t = parseAzureUrl(new URL(keyUrl('media', 'a%20b/c.mp4')));
    assert.ok(typeof t !== 'string');
    assert.deepEqual([t.account, t.container, t.blob, t.key], [ACCOUNT, 'media', 'a b/c.mp4', KEY]);
    assert.ok(!t.href.includes('@'), 'the SDK never sees the key in the URL');
    const pair = parseAzureUrl(new URL(`https://${ACCOUNT}:${encodeURIComponent(KEY)}@${ACCOUNT}.blob.core.windows.net/media/x`));
    assert.ok(typeof pair !== 'string' && pair.key === KEY);
    const viaEndpoint = parseAzureUrl(new URL(sasUrl('media', 'x.mp4').url), 'http://127.0.0.1:1/devstoreaccount1/');
    assert.ok(typeof viaEndpoint !== 'string');
    assert.match(viaEndpoint.href, /^http:\/\/127\.0\.0\.1:1\/devstoreaccount1\/media\/x\.mp4\?sv=.*&sig=/);

    const problem = (u: string) => checkUrl(u, 'destination');
    assert.match(problem(`https://${ACCOUNT}.blob.core.windows.net/`)!, /no container/);
    assert.match(problem(`https://${ACCOUNT}.blob.core.windows.net/Bad_Name/x.mp4`)!, /"Bad_Name" is not a valid Azure container name/);
    assert.match(problem(`https://${ACCOUNT}.blob.core.windows.net/media/`)!, /no blob name/);
    const badKey = problem(`https://not*base64@${ACCOUNT}.blob.core.windows.net/media/x.mp4`)!;
    assert.match(badKey, /not valid base64: %-escape it/);
    assert.doesNotMatch(badKey, /not\*base64/);
    assert.match(problem(`https://someone:${encodeURIComponent(KEY)}@${ACCOUNT}.blob.core.windows.net/media/x`)!, /URLENCODED_KEY@ACCOUNT/);
    // Without key or signature it is a public blob read anonymously: accepted.
    assert.equal(checkUrl(`https://${ACCOUNT}.blob.core.windows.net/media/x.mp4`, 'source'), null);
  });

  test('redaction: the key in KEY@, ACCOUNT:KEY@ and an unescaped key, and the SAS sig', () => {
    const escaped = encodeURIComponent(KEY);
    assert.equal(redactUrl(keyUrl('media', 'a.mp4')), `https://***@${ACCOUNT}.blob.core.windows.net/media/a.mp4`);
    assert.equal(redactUrl(`https://${ACCOUNT}:${escaped}@${ACCOUNT}.blob.core.windows.net/m/a.mp4`), `https://***:***@${ACCOUNT}.blob.core.windows.net/m/a.mp4`);
    // A raw key's "/" moves the host into the path; the whole key is still masked.
    assert.equal(redactUrl(`https://${KEY}@${ACCOUNT}.blob.core.windows.net/m/a.mp4?x=1`), `https://***@${ACCOUNT}.blob.core.windows.net/m/a.mp4?x=1`);
    const { url, sig } = sasUrl('media', 'a.mp4');
    const shown = redactUrl(url);
    assert.ok(!shown.includes(sig) && !shown.includes(encodeURIComponent(sig)));
    assert.match(shown, /[?&]sig=\*\*\*(&|$)/);
    assert.match(shown, /[?&]sv=[^*]/, 'the rest of the SAS stays readable');
    // A plain path with an @ segment keeps its host.
    assert.equal(redactUrl('https://cdn.example.com/users/@bob/a.mp4'), 'https://cdn.example.com/users/@bob/a.mp4');
  });

  test('503 ServerBusy and connection resets are transient (after the SDK retries); abort stops a hanging request', async () => {
    let requests = 0;
    let mode: 'busy' | 'reset' | 'hang' = 'busy';
    const fake = http.createServer((req, res) => {
      requests++;
      req.resume();
      if (mode === 'reset') return void req.socket.destroy();
      if (mode === 'hang') return;
      res.writeHead(503, { 'x-ms-error-code': 'ServerBusy', 'content-type': 'application/xml' });
      res.end('<?xml version="1.0" encoding="utf-8"?><Error><Code>ServerBusy</Code><Message>busy</Message></Error>');
    });
    await new Promise<void>((r) => fake.listen(0, '127.0.0.1', r));
    const fakeCtx = { ...ctx, azureEndpoint: `http://127.0.0.1:${(fake.address() as net.AddressInfo).port}/${ACCOUNT}` };
    const file = path.join(dir, 'one.mp4');
    await fs.writeFile(file, 'x');
    try {
      const busy = await upload(file, keyUrl('out', 'a.mp4'), fakeCtx).catch((e: unknown) => e);
      assert.ok(busy instanceof TransferError);
      assert.equal(busy.message, 'Upload error: Azure is unavailable (503 ServerBusy) for container out of account devstoreaccount1');
      assert.equal(busy.retryable, true);
      assert.equal(requests, 3, 'the SDK tried each request 3 times');

      mode = 'reset';
      const reset = await download(keyUrl('out', 'a.mp4'), path.join(dir, 'r'), fakeCtx).catch((e: unknown) => e);
      assert.ok(reset instanceof TransferError);
      assert.match(reset.message, /^Download error: connection to 127\.0\.0\.1 failed \(ECONNRESET\)$/);
      assert.equal(reset.retryable, true);

      mode = 'hang';
      const controller = new AbortController();
      setTimeout(() => controller.abort(), 200);
      await assert.rejects(upload(file, keyUrl('out', 'a.mp4'), { ...fakeCtx, signal: controller.signal }), { message: 'Upload error: aborted' });
    } finally {
      fake.closeAllConnections();
      await new Promise((r) => fake.close(r));
    }
  });

  test('the private network rule holds for Azure hosts that are not the configured endpoint', async () => {
    const { port } = new URL(endpoint);
    const get = (agent: http.Agent) =>
      new Promise<number>((resolve, reject) => {
        http.get({ host: '127.0.0.1', port, path: `/${ACCOUNT}?comp=list`, agent }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        }).on('error', reject);
      });
    await assert.rejects(get(guardedNodeAgent('http:')), { code: 'ENCODERY_FORBIDDEN_ADDRESS' });
    __setAddressPolicyForTests(() => true);
    try {
      assert.equal(await get(guardedNodeAgent('http:')), 403, 'reaches Azurite once loopback counts as public');
    } finally {
      __setAddressPolicyForTests(null);
    }
  });
});

describe('AddMedia with an Azure source and Azure destinations (API end to end)', () => {
  let azurite: ChildProcess;
  let dir: string;
  let endpoint: string;

  before(async () => {
    dir = await tempDir('encodery-azure-e2e-');
    ({ azurite, endpoint } = await startAzurite(dir));
  });
  after(async () => {
    await stopAzurite(azurite);
    await fs.rm(dir, { recursive: true, force: true });
  });

  test('per-destination statuses, bytes in Azurite, no key or sig in GetStatus or the task log', async () => {
    const service = new BlobServiceClient(endpoint, credential);
    await service.createContainer('src');
    await service.createContainer('out');
    const clip = await makeClip(path.join(dir, 'clip.mp4'), { seconds: 2 });
    await service.getContainerClient('src').getBlockBlobClient('clip.mp4').uploadFile(clip);

    const t = await startTestServer({ ENCODERY_AZURE_ENDPOINT: endpoint, ENCODERY_ALLOW_PRIVATE_NETWORK: 'false' });
    try {
      const sas = sasUrl('out', 'sas/a.mp4');
      const destinations = [keyUrl('out', 'key/a.mp4'), sas.url, keyUrl('out', 'bad/a.mp4', WRONG_KEY)];
      const added = await t.call('json', {
        action: 'AddMedia',
        source: keyUrl('src', 'clip.mp4'),
        format: [{ output: 'mp4', size: '0x120', destination: destinations }],
      });
      assert.equal(added.message, 'Added', JSON.stringify(added));
      const { final } = await untilFinal(t, added.MediaID);
      const [mp4] = asList(final.format) as any[];
      assert.equal(mp4.destination.length, 3);
      assert.deepEqual(mp4.destination_status.slice(0, 2), ['Saved', 'Saved'], JSON.stringify(mp4));
      assert.match(
        mp4.destination_status[2],
        /^Error \(Upload error: Azure refused the request \(403 \w+\) for container out of account devstoreaccount1: check the account key\)$/,
      );

      const out = service.getContainerClient('out');
      const a = path.join(dir, 'a.mp4');
      const b = path.join(dir, 'b.mp4');
      await out.getBlobClient('key/a.mp4').downloadToFile(a);
      await out.getBlobClient('sas/a.mp4').downloadToFile(b);
      assert.equal(await sha256(a), await sha256(b), 'both destinations got the same output');
      assert.ok((await fs.stat(a)).size > 1000);
      assert.equal(String(mp4.convertedsize), String((await fs.stat(a)).size));
      assert.equal((await out.getBlobClient('key/a.mp4').getProperties()).contentType, 'video/mp4');
      assert.equal(await out.getBlobClient('bad/a.mp4').exists(), false);

      const shown = [
        JSON.stringify(await t.call('json', { action: 'GetStatus', mediaid: added.MediaID, extended: 'yes', include_task_status: 'yes' })),
        JSON.stringify(await t.call('xml', { action: 'GetStatus', mediaid: added.MediaID, include_task_status: 'yes' })),
        JSON.stringify(await t.call('json', { action: 'GetMediaInfo', mediaid: added.MediaID })),
      ].join('\n');
      assert.match(shown, /task_status/, 'the task log is part of what was checked');
      assert.match(shown, /https:\/\/\*\*\*@devstoreaccount1\.blob\.core\.windows\.net\/out\/key\/a\.mp4/);
      for (const secret of [KEY, encodeURIComponent(KEY), WRONG_KEY, encodeURIComponent(WRONG_KEY), sas.sig, encodeURIComponent(sas.sig)]) {
        assert.ok(!shown.includes(secret), 'a credential leaked into a reply');
      }
    } finally {
      await t.close();
    }
  });
});
