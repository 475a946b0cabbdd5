import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, promises as fs } from 'node:fs';
import http, { type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { HeadObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type S3rver from 's3rver';
import { checkUrl, download, redactUrl, TransferError, upload } from '../src/transfer/index.ts';
import { redactText } from '../src/transfer/redact.ts';
import type { TransferContext } from '../src/transfer/types.ts';
import { loadConfig } from '../src/config.ts';
import { parseTarget, type Target } from '../src/transfer/s3.ts';
import { asList, makeClip, startTestServer, tempDir, untilFinal, USER } from './helpers.ts';
import { startS3 } from './remote-servers.ts';

const KEY = 'AKIAENCODERYTEST';
const SECRET = 'sEcr/et:Val+ue';
const IN_URL = `${KEY}:${encodeURIComponent(SECRET)}`;
const CANONICAL = 'a'.repeat(64);

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
}

const pick = (c: { s3Endpoint: string | null; s3Region: string }) => ({ s3Endpoint: c.s3Endpoint, s3Region: c.s3Region });

async function sha256(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(file)) h.update(chunk as Buffer);
  return h.digest('hex');
}

describe('S3 through a real S3 server (s3rver)', () => {
  let dir: string;
  let s3: S3rver;
  let endpoint: string;
  let host: string;
  let ctx: TransferContext;
  let verify: S3Client;
  const seen: Seen[] = [];
  let small: string;
  let big: string;

  before(async () => {
    dir = await tempDir('encodery-s3-');
    ({ s3, host, endpoint } = await startS3(dir, KEY, SECRET, ['media']));
    s3.httpServer.prependListener('request', (req: IncomingMessage) => seen.push({ method: req.method!, url: req.url!, headers: req.headers }));
    // s3:// takes its keys from the SDK's default chain.
    process.env.AWS_ACCESS_KEY_ID = KEY;
    process.env.AWS_SECRET_ACCESS_KEY = SECRET;
    // The configured endpoint is trusted: nothing here needs ENCODERY_ALLOW_PRIVATE_NETWORK.
    ctx = { fileRoots: [], allowPrivateNetwork: false, s3Endpoint: endpoint, s3Region: 'us-east-1', retryDelaysMs: [10] };
    verify = new S3Client({ region: 'us-east-1', endpoint, forcePathStyle: true, credentials: { accessKeyId: KEY, secretAccessKey: SECRET } });
    small = path.join(dir, 'small.mp4');
    await fs.writeFile(small, randomBytes(300_000));
    big = path.join(dir, 'big.bin');
    await fs.writeFile(big, randomBytes(20 * 1024 * 1024 + 12_345));
  });

  after(async () => {
    verify.destroy();
    await s3.close();
    await fs.rm(dir, { recursive: true, force: true });
  });

  test('small upload in one PUT with content_type, content_disposition and acl; key decoded; plain download', async () => {
    seen.length = 0;
    const url =
      's3://media/out/my%20clip%20%C3%BC.mp4?acl=public-read&content_type=video%2Fx-test' +
      '&content_disposition=attachment%3B%20filename%3D%22a%20b.mp4%22';
    const progress: number[] = [];
    await upload(small, url, ctx, (d) => progress.push(d));
    const puts = seen.filter((s) => s.method === 'PUT');
    assert.equal(puts.length, 1, 'one PUT for a small file');
    assert.equal(seen.filter((s) => s.method === 'POST').length, 0, 'no multipart upload');
    assert.equal(puts[0]!.headers['x-amz-acl'], 'public-read');
    assert.equal(progress.at(-1), 300_000);

    // The key is the decoded path, without the query options.
    const head = await verify.send(new HeadObjectCommand({ Bucket: 'media', Key: 'out/my clip ü.mp4' }));
    assert.equal(head.ContentType, 'video/x-test');
    assert.equal(head.ContentDisposition, 'attachment; filename="a b.mp4"');
    assert.equal(head.ContentLength, 300_000);

    const back = path.join(dir, 'small-back.mp4');
    const r = await download('s3://media/out/my%20clip%20%C3%BC.mp4', back, ctx);
    assert.equal(r.bytes, 300_000);
    assert.equal(await sha256(back), await sha256(small));
  });

  test('without content_type the extension decides; canonical_id becomes grants', async () => {
    seen.length = 0;
    await upload(small, `s3://media/out/granted.mp4?canonical_id=${CANONICAL}&acl=public-read`, ctx);
    const put = seen.find((s) => s.method === 'PUT')!;
    assert.equal(put.headers['x-amz-grant-full-control'], `id="${CANONICAL}"`);
    assert.equal(put.headers['x-amz-grant-read'], 'uri="http://acs.amazonaws.com/groups/global/AllUsers"');
    assert.equal(put.headers['x-amz-acl'], undefined, 'S3 refuses a canned ACL together with grants');
    const head = await verify.send(new HeadObjectCommand({ Bucket: 'media', Key: 'out/granted.mp4' }));
    assert.equal(head.ContentType, 'video/mp4');
  });

  test('20 MB: multipart upload in parallel parts (keys in the URL, path style), then ?multithread ranged download', async () => {
    seen.length = 0;
    const size = (await fs.stat(big)).size;
    const progress: number[] = [];
    await upload(big, `http://${IN_URL}@${host}/media/big/file.bin`, ctx, (d) => progress.push(d));
    assert.equal(seen.filter((s) => s.method === 'POST' && /[?&]uploads/.test(s.url)).length, 1, 'multipart upload started');
    const parts = seen.filter((s) => s.method === 'PUT' && /partNumber=/.test(s.url));
    assert.equal(parts.length, 3, '8 MiB parts');
    assert.ok(parts.every((p) => !String(p.headers.authorization).includes(SECRET)));
    assert.ok(progress.length >= 3 && progress.at(-1) === size, `progress ${progress.join(',')}`);

    seen.length = 0;
    const back = path.join(dir, 'big-back.bin');
    const reported: [number, number | null][] = [];
    const r = await download('s3://media/big/file.bin?multithread', back, ctx, (d, t) => reported.push([d, t]));
    assert.equal(r.bytes, size);
    assert.equal(await sha256(back), await sha256(big));
    const ranges = seen.filter((s) => s.method === 'GET').map((s) => s.headers.range);
    assert.deepEqual(ranges.sort(), [`bytes=0-${8 * 1024 * 1024 - 1}`, `bytes=${8 * 1024 * 1024}-${16 * 1024 * 1024 - 1}`, `bytes=${16 * 1024 * 1024}-${size - 1}`].sort());
    assert.deepEqual(reported.at(-1), [size, size]);

    const plain = path.join(dir, 'big-plain.bin');
    await download(`http://${IN_URL}@${host}/media/big/file.bin`, plain, ctx);
    assert.equal(await sha256(plain), await sha256(big));
  });

  test('an aborted multipart upload stops with "aborted"', async () => {
    seen.length = 0;
    const stop = new AbortController();
    const started = upload(big, 's3://media/big/aborted.bin', { ...ctx, signal: stop.signal }, (d) => {
      if (d > 0) stop.abort();
    });
    await assert.rejects(started, { message: 'Upload error: aborted' });
    await assert.rejects(verify.send(new HeadObjectCommand({ Bucket: 'media', Key: 'big/aborted.bin' })), { name: 'NotFound' });
    assert.ok(seen.some((s) => s.method === 'DELETE' && /uploadId=/.test(s.url)), 'the multipart upload is aborted on S3 too');
  });

  test('the source size limit holds for ranged reads too', async () => {
    const to = path.join(dir, 'limited.bin');
    await assert.rejects(download('s3://media/big/file.bin?multithread', to, { ...ctx, maxSourceBytes: 1_000_000 }), /larger than the limit of 1000000 bytes/);
    await assert.rejects(fs.stat(to), { code: 'ENOENT' });
  });

  test('errors a person can act on, without secrets', async () => {
    const missing = await upload(small, `s3://no-such-bucket/out/a.mp4`, ctx).then(
      () => assert.fail('uploaded to a missing bucket'),
      (err: unknown) => err,
    );
    assert.ok(missing instanceof TransferError);
    assert.equal(missing.message, 'Upload error: the S3 bucket does not exist (404 NoSuchBucket) for bucket no-such-bucket');
    assert.equal(missing.retryable, false);

    await assert.rejects(download('s3://media/nothing/here.mp4', path.join(dir, 'x'), ctx), {
      message: 'Download error: the S3 object "nothing/here.mp4" does not exist (404 NoSuchKey) for bucket media',
    });
    await assert.rejects(download('s3://media/nothing/here.mp4?multithread', path.join(dir, 'x'), ctx), {
      message: /^Download error: the S3 object "nothing\/here\.mp4" or its bucket does not exist \(404\) for bucket media$/,
    });

    // s3rver checks access keys but not v4 signatures, so the unknown key is what fails here.
    const wrong = `http://AKIAUNKNOWN:not-the-secret@${host}/media/out/a.mp4`;
    const bad = await upload(small, wrong, ctx).then(() => assert.fail('unknown key accepted'), (err: unknown) => err as TransferError);
    assert.equal(bad.message, 'Upload error: S3 does not know the access key (403 InvalidAccessKeyId) for bucket media');
    const everything = JSON.stringify({ m: bad.message, s: bad.stack, c: String((bad.cause as Error)?.stack) });
    assert.ok(!everything.includes('not-the-secret'));

    const refused = await upload(small, `http://${IN_URL}@127.0.0.1:1/media/x.mp4`, { ...ctx, s3Endpoint: 'http://127.0.0.1:1', retryDelaysMs: [] }).then(
      () => assert.fail('connected to a closed port'),
      (err: unknown) => err as TransferError,
    );
    assert.equal(refused.retryable, true, refused.message);
    assert.ok(!refused.message.includes(SECRET) && !refused.message.includes(encodeURIComponent(SECRET)));
  });

  test('5xx, SlowDown and connection resets are retryable: upload() tries again, then says so', async (t) => {
    let requests = 0;
    let mode: 'slowdown' | 'reset' = 'slowdown';
    const flaky = http.createServer((req, res) => {
      requests++;
      req.resume();
      if (mode === 'reset') {
        req.socket.destroy();
        return;
      }
      res.writeHead(503, { 'content-type': 'application/xml' });
      res.end('<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>');
    });
    await new Promise<void>((r) => flaky.listen(0, '127.0.0.1', r));
    t.after(() => new Promise<void>((r) => flaky.close(() => r())));
    const at = `127.0.0.1:${(flaky.address() as AddressInfo).port}`;
    const flakyCtx = { ...ctx, s3Endpoint: `http://${at}`, retryDelaysMs: [5] };

    const slow = await upload(small, 's3://media/a.mp4', flakyCtx).then(() => assert.fail('stored'), (err: unknown) => err as TransferError);
    assert.equal(slow.message, 'Upload error: S3 asked to slow down (503 SlowDown) for bucket media');
    assert.equal(slow.retryable, true);
    // Each request is tried 3 times (250 ms, 1 s apart), and upload() tries the whole file twice.
    assert.equal(requests, 6);

    mode = 'reset';
    const reset = await upload(small, 's3://media/a.mp4', flakyCtx).then(() => assert.fail('stored'), (err: unknown) => err as TransferError);
    assert.equal(reset.retryable, true, reset.message);
    assert.match(reset.message, /^Upload error: connection to 127\.0\.0\.1 failed \((ECONNRESET|EPIPE)\)$/);
  });

  test('routing and checks: keys make an https S3 URL signed; without keys or pre-signed it stays plain HTTP', () => {
    const claimed = (url: string) => /unknown S3/.test(checkUrl(url, 'destination', ctx) ?? '');
    // An option no S3 form knows tells who took the URL: only the S3 module rejects it.
    assert.equal(claimed(`https://${IN_URL}@bucket.s3.amazonaws.com/k.mp4?x=1`), true);
    assert.equal(claimed(`https://${IN_URL}@bucket.s3.eu-west-1.amazonaws.com/k.mp4?x=1`), true);
    assert.equal(claimed(`https://${IN_URL}@bucket.s3-eu-west-1.amazonaws.com/k.mp4?x=1`), true);
    assert.equal(claimed(`https://${IN_URL}@bucket.s3.dualstack.eu-west-1.amazonaws.com/k.mp4?x=1`), true);
    assert.equal(claimed(`https://${IN_URL}@s3.amazonaws.com/bucket/k.mp4?x=1`), true);
    assert.equal(claimed(`https://${IN_URL}@s3.eu-west-1.amazonaws.com/bucket/k.mp4?x=1`), true);
    assert.equal(claimed(`https://${IN_URL}@bucket.s3-website-eu-west-1.amazonaws.com/k.mp4?x=1`), false, 'website endpoint');
    assert.equal(claimed(`http://${IN_URL}@${host}/media/k.mp4?x=1`), true, 'the configured endpoint');
    assert.equal(claimed(`s3://bucket/k.mp4?x=1`), true);
    assert.equal(claimed('https://bucket.s3.amazonaws.com/k.mp4?x=1'), false, 'no keys: public HTTP');
    assert.equal(claimed(`https://${IN_URL}@example.com/k.mp4?x=1`), false, 'not an S3 host');
    assert.equal(claimed(`https://${IN_URL}@bucket.s3.amazonaws.com/k.mp4?X-Amz-Signature=abc&x=1`), false, 'pre-signed');
    assert.equal(claimed(`https://${IN_URL}@bucket.s3.amazonaws.com/k.mp4?AWSAccessKeyId=A&Signature=abc&x=1`), false, 'pre-signed v2');

    assert.equal(checkUrl(`s3://media/a.mp4?acl=public-read&content_type=video/mp4&content_disposition=attachment`, 'destination', ctx), null);
    assert.match(checkUrl('s3://media/a.mp4?acl=everyone', 'destination', ctx)!, /acl "everyone" is not an S3 canned ACL/);
    assert.match(checkUrl('s3://media/a.mp4?canonical_id=xyz', 'destination', ctx)!, /canonical_id must be/);
    assert.match(checkUrl(`s3://media/a.mp4?canonical_id=${CANONICAL}&acl=bucket-owner-read`, 'destination', ctx)!, /cannot be combined with canonical_id/);
    assert.match(checkUrl('s3://media/a.mp4?acl=private', 'source', ctx)!, /unknown S3 source option "acl"/);
    assert.equal(checkUrl('s3://media/a.mp4?multithread', 'source', ctx), null);
    assert.match(checkUrl('s3://media/', 'destination', ctx)!, /must name an object/);
    assert.match(checkUrl(`s3://${KEY}@media/a.mp4`, 'source', ctx)!, /both the access key and the secret/);

    // The endpoint is trusted; the same private host is refused when it is not the endpoint.
    assert.equal(checkUrl(`http://${IN_URL}@${host}/media/a.mp4`, 'source', ctx), null);
    assert.equal(checkUrl('s3://media/a.mp4', 'source', ctx), null);
    assert.match(checkUrl(`http://${IN_URL}@${host}/media/a.mp4`, 'source', { ...ctx, s3Endpoint: null })!, /private or loopback/);
  });

  test('every URL form names the right bucket, key, region and addressing', () => {
    const aws = { s3Region: 'us-east-1' };
    const of = (url: string, c: Partial<TransferContext> = aws) => {
      const t = parseTarget(new URL(url), c) as Target;
      return [t.bucket, t.key, t.region, t.endpoint, t.pathStyle, t.credentials?.secretAccessKey ?? null];
    };
    assert.deepEqual(of(`https://${IN_URL}@my.bucket.s3.amazonaws.com/a/b%20c.mp4?acl=private`), ['my.bucket', 'a/b c.mp4', 'us-east-1', null, false, SECRET]);
    assert.deepEqual(of(`https://${IN_URL}@bkt.s3.eu-west-1.amazonaws.com/%E2%9C%93.mp4`), ['bkt', '✓.mp4', 'eu-west-1', null, false, SECRET]);
    assert.deepEqual(of(`http://${IN_URL}@bkt.s3-ap-southeast-2.amazonaws.com/k`), ['bkt', 'k', 'ap-southeast-2', null, false, SECRET]);
    assert.deepEqual(of(`https://${IN_URL}@bkt.s3-external-1.amazonaws.com/k`), ['bkt', 'k', 'us-east-1', null, false, SECRET]);
    assert.deepEqual(of(`https://${IN_URL}@s3.us-west-2.amazonaws.com/bkt/dir/k+1.mp4`), ['bkt', 'dir/k+1.mp4', 'us-west-2', null, true, SECRET]);
    assert.deepEqual(of('s3://bkt/dir/clip%20%C3%BC.mp4?multithread'), ['bkt', 'dir/clip ü.mp4', 'us-east-1', null, false, null]);
    assert.deepEqual(of('s3://bkt/k', { s3Region: 'eu-central-1' }), ['bkt', 'k', 'eu-central-1', null, false, null]);
    assert.deepEqual(of(`s3://${IN_URL}@bkt/k`, ctx), ['bkt', 'k', 'us-east-1', endpoint, false, SECRET]);
    assert.deepEqual(of(`http://${IN_URL}@${host}/bkt/k.mp4`, ctx), ['bkt', 'k.mp4', 'us-east-1', endpoint, true, SECRET]);
    // An AWS host stays AWS even with an endpoint configured.
    assert.deepEqual(of(`https://${IN_URL}@bkt.s3.amazonaws.com/k`, ctx), ['bkt', 'k', 'us-east-1', null, false, SECRET]);
  });

  test('settings: ENCODERY_S3_ENDPOINT / --s3-endpoint and ENCODERY_S3_REGION', () => {
    const base = { ENCODERY_USERS: '1:12345678' };
    assert.deepEqual(pick(loadConfig(base)), { s3Endpoint: null, s3Region: 'us-east-1' });
    assert.deepEqual(pick(loadConfig({ ...base, ENCODERY_S3_ENDPOINT: 'http://minio:9000/', ENCODERY_S3_REGION: 'eu-west-1' })), {
      s3Endpoint: 'http://minio:9000',
      s3Region: 'eu-west-1',
    });
    assert.equal(loadConfig(base, ['--s3-endpoint', 'https://s3.example.net']).s3Endpoint, 'https://s3.example.net');
    assert.throws(() => loadConfig({ ...base, ENCODERY_S3_ENDPOINT: 'minio:9000' }), /ENCODERY_S3_ENDPOINT \(--s3-endpoint\)/);
    assert.throws(() => loadConfig({ ...base, ENCODERY_S3_REGION: 'EU WEST' }), /ENCODERY_S3_REGION \(--s3-region\): must be a region name/);
  });

  test('redaction: keys in the authority, v4 and v2 query signatures', () => {
    const shown = [
      redactUrl(`https://${IN_URL}@bucket.s3.amazonaws.com/out/a.mp4?acl=public-read`),
      redactUrl(`s3://${IN_URL}@bucket/out/a.mp4`),
      redactUrl(
        'https://bucket.s3.amazonaws.com/a.mp4?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAENCODERYTEST%2F20260101%2Fus-east-1%2Fs3%2Faws4_request' +
          '&X-Amz-Date=20260101T000000Z&X-Amz-Expires=900&X-Amz-Security-Token=TOKENVALUE&X-Amz-SignedHeaders=host&X-Amz-Signature=deadbeefcafe',
      ),
      redactUrl('https://bucket.s3.amazonaws.com/a.mp4?AWSAccessKeyId=AKIAENCODERYTEST&Expires=1700000000&Signature=c2lnbmF0dXJl'),
      redactText(`failed PUT http://${IN_URL}@${host}/media/a.mp4 (403)`),
    ];
    for (const s of shown) {
      for (const secret of [KEY, SECRET, encodeURIComponent(SECRET), 'TOKENVALUE', 'deadbeefcafe', 'c2lnbmF0dXJl']) {
        assert.ok(!s.includes(secret), `${secret} in ${s}`);
      }
    }
    assert.equal(shown[0], 'https://***:***@bucket.s3.amazonaws.com/out/a.mp4?acl=public-read');
    assert.equal(shown[1], 's3://***:***@bucket/out/a.mp4');
  });

  test('end to end: AddMedia from S3 to two S3 destinations and a missing bucket', async () => {
    const api = await startTestServer({ ENCODERY_S3_ENDPOINT: endpoint, ENCODERY_ALLOW_PRIVATE_NETWORK: 'false' });
    try {
      const clip = await makeClip(path.join(dir, 'clip.mp4'), { seconds: 1, size: '160x120' });
      await upload(clip, 's3://media/in/clip.mp4', ctx);
      const destinations = [
        `http://${IN_URL}@${host}/media/done/a.mp4?acl=public-read`,
        's3://media/done/b%20c.mp4?content_disposition=attachment',
        `s3://${IN_URL}@no-such-bucket/done/c.mp4`,
      ];
      const added = await api.call('json', {
        action: 'AddMedia',
        source: `http://${IN_URL}@${host}/media/in/clip.mp4?multithread`,
        format: { output: 'mp4', size: '160x120', destination: destinations },
      });
      assert.equal(added.message, 'Added', JSON.stringify(added));
      const { final } = await untilFinal(api, added.MediaID as string, 60_000);
      assert.equal(final.status, 'Finished', JSON.stringify(final));
      const format = asList(final.format)[0];
      assert.equal(format!.status, 'Finished');
      assert.deepEqual(format!.destination_status!.slice(0, 2), ['Saved', 'Saved']);
      assert.equal(format!.destination_status![2], 'Error (Upload error: the S3 bucket does not exist (404 NoSuchBucket) for bucket no-such-bucket)');

      const a = await verify.send(new HeadObjectCommand({ Bucket: 'media', Key: 'done/a.mp4' }));
      const b = await verify.send(new HeadObjectCommand({ Bucket: 'media', Key: 'done/b c.mp4' }));
      assert.ok((a.ContentLength ?? 0) > 1000);
      assert.equal(b.ContentLength, a.ContentLength);
      assert.equal(b.ContentDisposition, 'attachment');
      assert.equal(a.ContentType, 'video/mp4');

      const withLog = await api.call('xml', { action: 'GetStatus', mediaid: added.MediaID, include_task_status: 'yes', extended: 'yes' }, USER);
      const text = JSON.stringify([final, withLog]);
      assert.ok(text.includes('***:***@'), 'the destinations are shown, redacted');
      assert.match(text, /Downloaded [^"]* from http:\/\/\*\*\*:\*\*\*@127\.0\.0\.1/, 'the task log names the source, redacted');
      for (const secret of [KEY, SECRET, encodeURIComponent(SECRET)]) assert.ok(!text.includes(secret), 'no key or secret in GetStatus or the task log');
    } finally {
      await api.close();
    }
  });
});
