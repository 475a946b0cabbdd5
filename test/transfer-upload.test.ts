import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { TransferError, upload } from '../src/transfer/index.ts';
import type { TransferContext } from '../src/transfer/types.ts';

interface Seen {
  method: string;
  path: string;
  length: string | undefined;
  body: Buffer;
}

/** `plan` gives the status of each successive request (the last one repeats). */
async function receiver(plan: number[]) {
  const seen: Seen[] = [];
  const server = http.createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    seen.push({ method: req.method!, path: req.url!, length: req.headers['content-length'], body: Buffer.concat(chunks) });
    const status = plan[Math.min(seen.length - 1, plan.length - 1)]!;
    if (status === 307) res.writeHead(307, { location: '/moved' }).end();
    else res.writeHead(status).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/out/video.mp4`,
    seen,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'encodery-up-'));
const file = path.join(dir, 'video.mp4');
const bytes = Buffer.from(Array.from({ length: 200_000 }, (_, i) => i % 251));
await fs.writeFile(file, bytes);
const ctx: TransferContext = { fileRoots: [], allowPrivateNetwork: true, retryDelaysMs: [10, 20, 30] };

test('PUTs the file with Content-Length and reports progress', async (t) => {
  const r = await receiver([201]);
  t.after(r.close);
  let last: [number, number | null] = [0, null];
  await upload(file, r.url, ctx, (d, total) => (last = [d, total]));
  assert.equal(r.seen.length, 1);
  assert.equal(r.seen[0]!.method, 'PUT');
  assert.equal(r.seen[0]!.length, String(bytes.length));
  assert.deepEqual(r.seen[0]!.body, bytes);
  assert.deepEqual(last, [bytes.length, bytes.length]);
});

test('retries transient failures with a fresh stream each time', async (t) => {
  const r = await receiver([500, 500, 200]);
  t.after(r.close);
  await upload(file, r.url, ctx);
  assert.equal(r.seen.length, 3);
  for (const s of r.seen) assert.deepEqual(s.body, bytes);
});

test('gives up after 3 retries', async (t) => {
  const r = await receiver([503]);
  t.after(r.close);
  await assert.rejects(upload(file, r.url, ctx), (err: unknown) => {
    assert.ok(err instanceof TransferError);
    assert.equal(err.message, 'Upload error: The destination returned 503 Service Unavailable');
    assert.equal(err.retryable, true);
    return true;
  });
  assert.equal(r.seen.length, 4);
});

test('a permanent failure is not retried', async (t) => {
  const r = await receiver([403]);
  t.after(r.close);
  await assert.rejects(upload(file, r.url, ctx), {
    message: 'Upload error: The destination returned 403 Forbidden',
  });
  assert.equal(r.seen.length, 1);
});

test('follows a 307 by sending the body again', async (t) => {
  const r = await receiver([307, 200]);
  t.after(r.close);
  await upload(file, r.url, ctx);
  assert.deepEqual(r.seen.map((s) => s.path), ['/out/video.mp4', '/moved']);
  assert.deepEqual(r.seen[1]!.body, bytes);
});

test('loopback destinations are refused without allowPrivateNetwork, credentials redacted', async (t) => {
  const r = await receiver([200]);
  t.after(r.close);
  const u = new URL(r.url);
  u.username = 'AKIAKEY';
  u.password = 'SECRET';
  u.search = '?X-Amz-Credential=CRED&X-Amz-Signature=SIG';
  await assert.rejects(upload(file, u.href, { ...ctx, allowPrivateNetwork: false }), (err: unknown) => {
    assert.ok(err instanceof TransferError);
    assert.equal(err.retryable, false);
    assert.doesNotMatch(err.message, /AKIAKEY|SECRET|CRED|SIG/);
    return true;
  });
  assert.equal(r.seen.length, 0);
});
