import { mock, test } from 'node:test';
import assert from 'node:assert/strict';
import dns from 'node:dns';
import { existsSync, promises as fs } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { download, TransferError } from '../src/transfer/index.ts';
import { toTransferError } from '../src/transfer/errors.ts';
import { httpRequest } from '../src/transfer/http-client.ts';
import { __setAddressPolicyForTests } from '../src/transfer/guard.ts';
import type { TransferContext } from '../src/transfer/types.ts';

async function serve(handler: http.RequestListener): Promise<{ base: string; close: () => Promise<void> }> {
  const server = http.createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    base: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}

const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'encodery-http-'));
const open: TransferContext = { fileRoots: [], allowPrivateNetwork: true };
const payload = Buffer.alloc(1024 * 1024, 7);

const srv = await serve((req, res) => {
  const url = new URL(req.url!, 'http://x');
  const hops = Number(url.searchParams.get('hops') ?? 0);
  if (url.pathname === '/file') {
    res.writeHead(200, { 'content-length': payload.length });
    // several chunks so progress has something to report
    for (let i = 0; i < 16; i++) res.write(payload.subarray(i * 65536, (i + 1) * 65536));
    res.end();
  } else if (url.pathname === '/chain') {
    res.writeHead(302, { location: hops > 0 ? `/chain?hops=${hops - 1}` : '/file' }).end();
  } else if (url.pathname === '/to') {
    res.writeHead(307, { location: url.searchParams.get('u')! }).end();
  } else if (url.pathname === '/chunked') {
    res.writeHead(200);
    res.write(Buffer.alloc(800));
    res.end(Buffer.alloc(800));
  } else if (url.pathname === '/stall') {
    res.writeHead(200, { 'content-length': 10_000_000 });
    res.write(Buffer.alloc(65536)); // then never more
  } else if (url.pathname === '/auth') {
    res.end(req.headers.authorization ?? 'none');
  } else {
    res.writeHead(404).end('nope');
  }
});
test.after(() => srv.close());

test('downloads over http with progress and Content-Length', async () => {
  const to = path.join(dir, 'a.bin');
  const calls: [number, number | null][] = [];
  const r = await download(`${srv.base}/file`, to, open, (d, t) => calls.push([d, t]));
  assert.equal(r.bytes, payload.length);
  assert.deepEqual(await fs.readFile(to), payload);
  assert.deepEqual(calls.at(0), [0, payload.length]);
  assert.deepEqual(calls.at(-1), [payload.length, payload.length]);
});

test('a 404 is phrased like encoding.com and leaves no file', async () => {
  const to = path.join(dir, '404.bin');
  await assert.rejects(download(`${srv.base}/missing`, to, open), (err: unknown) => {
    assert.ok(err instanceof TransferError);
    assert.equal(err.message, 'Download error: The requested URL returned error: 404 Not Found');
    assert.equal(err.retryable, false);
    return true;
  });
  assert.equal(existsSync(to), false);
});

test('follows up to 5 redirects and refuses a sixth', async () => {
  const ok = await download(`${srv.base}/chain?hops=4`, path.join(dir, 'r5.bin'), open);
  assert.equal(ok.bytes, payload.length);
  await assert.rejects(download(`${srv.base}/chain?hops=5`, path.join(dir, 'r6.bin'), open), {
    message: 'Download error: too many redirects (more than 5)',
  });
});

test('a redirect to another scheme is refused', async () => {
  const to = `${srv.base}/to?u=${encodeURIComponent('file:///etc/passwd')}`;
  await assert.rejects(download(to, path.join(dir, 'scheme.bin'), open), /unsupported URL scheme "file:"/);
});

test('loopback is refused without allowPrivateNetwork, by address and by name', async () => {
  const closed: TransferContext = { fileRoots: [], allowPrivateNetwork: false };
  const port = new URL(srv.base).port;
  for (const host of ['127.0.0.1', 'localhost', '[::ffff:127.0.0.1]']) {
    await assert.rejects(download(`http://${host}:${port}/file`, path.join(dir, 'lo.bin'), closed), (err: unknown) => {
      assert.ok(err instanceof TransferError);
      assert.match(err.message, /^Download error: .* resolves to a private or reserved network address/);
      return true;
    });
  }
  assert.equal(existsSync(path.join(dir, 'lo.bin')), false);
});

test('names are checked at connect time, whatever they resolve to', async (t) => {
  // Stands in for a rebinding resolver: a public-looking name answering with a private address.
  const real = dns.lookup;
  const fake = (host: string, opts: dns.LookupOptions, cb: (...a: unknown[]) => void) =>
    host === 'media.example.com' ? cb(null, [{ address: '10.0.0.5', family: 4 }]) : real(host, opts as never, cb as never);
  mock.method(dns, 'lookup', fake);
  t.after(() => mock.restoreAll());
  const closed: TransferContext = { fileRoots: [], allowPrivateNetwork: false };
  await assert.rejects(download('http://media.example.com/v.mp4', path.join(dir, 'dns.bin'), closed), {
    message: 'Download error: media.example.com resolves to a private or reserved network address, which is not allowed',
  });
});

test('a redirect to a private address is refused when allowPrivateNetwork is false', async (t) => {
  // The test server is on loopback, so it is declared public for this test only.
  __setAddressPolicyForTests((ip) => ip === '127.0.0.1' || ip === '::1');
  t.after(() => __setAddressPolicyForTests(null));
  const closed: TransferContext = { fileRoots: [], allowPrivateNetwork: false };
  assert.equal((await download(`${srv.base}/file`, path.join(dir, 'pub.bin'), closed)).bytes, payload.length);
  const byName = `http://localhost:${new URL(srv.base).port}/file`;
  assert.equal((await download(byName, path.join(dir, 'pub.bin'), closed)).bytes, payload.length);
  for (const target of ['http://10.1.2.3/x', 'http://169.254.169.254/latest/meta-data/', 'http://[fd00::1]/x']) {
    const to = `${srv.base}/to?u=${encodeURIComponent(target)}`;
    await assert.rejects(download(to, path.join(dir, 'priv.bin'), closed), /private or reserved network address/);
  }
});

test('enforces maxSourceBytes from Content-Length and from counted bytes', async () => {
  const ctx: TransferContext = { ...open, maxSourceBytes: 1000 };
  const to = path.join(dir, 'big.bin');
  await assert.rejects(download(`${srv.base}/file`, to, ctx), {
    message: 'Download error: the source is larger than the limit of 1000 bytes',
  });
  assert.equal(existsSync(to), false);
  await assert.rejects(download(`${srv.base}/chunked`, to, ctx), /larger than the limit of 1000 bytes/);
  assert.equal(existsSync(to), false);
  assert.equal((await download(`${srv.base}/chunked`, to, { ...open, maxSourceBytes: 1600 })).bytes, 1600);
});

test('aborting mid-download rejects promptly and leaves no partial file', async () => {
  const ac = new AbortController();
  const to = path.join(dir, 'stall.bin');
  const started = Date.now();
  const p = download(`${srv.base}/stall`, to, { ...open, signal: ac.signal }, (d) => {
    if (d > 0) ac.abort();
  });
  await assert.rejects(p, { message: 'Download error: aborted' });
  assert.ok(Date.now() - started < 2000);
  assert.equal(existsSync(to), false);
});

test('credentials become Basic auth and never appear in errors', async () => {
  const to = path.join(dir, 'auth.txt');
  await download(`http://alice:s%3Acret@${srv.base.slice(7)}/auth`, to, open);
  assert.equal(await fs.readFile(to, 'utf8'), `Basic ${Buffer.from('alice:s:cret').toString('base64')}`);

  const gone = await serve((_q, r) => r.end());
  const port = new URL(gone.base).port;
  await gone.close();
  const url = `http://bob:hunter2@127.0.0.1:${port}/x?sig=SIGVALUE&X-Amz-Signature=AMZVALUE`;
  await assert.rejects(download(url, to, open), (err: unknown) => {
    assert.ok(err instanceof TransferError);
    assert.equal(err.message, 'Download error: could not connect to 127.0.0.1 (ECONNREFUSED)');
    assert.equal(err.retryable, true);
    return true;
  });
});

test('an origin that goes silent fails after the idle limit of its phase, with a message that says so', async () => {
  const res = await httpRequest(new URL(`${srv.base}/stall`), { method: 'GET', headers: {}, allowPrivateNetwork: true, idleLimitsMs: { body: 300 } });
  assert.equal(res.statusCode, 200);
  const failure = await pipeline(res.body, new Writable({ write: (_c, _e, done) => done() })).then(
    () => assert.fail('the stalled body ended'),
    (err: unknown) => toTransferError(err, 'Download', '127.0.0.1'),
  );
  assert.equal(failure.message, 'Download error: connection to 127.0.0.1 failed (no data for 0.3 s while waiting to receive the body)');
  assert.equal(failure.retryable, true);
});
