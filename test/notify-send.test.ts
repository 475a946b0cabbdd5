import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { deliver, sendOnce, type AttemptRecord, type OutgoingNotification } from '../src/notify/send.ts';

interface Received {
  method: string;
  contentType: string | undefined;
  authorization: string | undefined;
  body: string;
}

async function receiver(plan: number[]) {
  const got: Received[] = [];
  const server = http.createServer(async (req, res) => {
    let body = '';
    for await (const c of req) body += String(c);
    got.push({ method: req.method!, contentType: req.headers['content-type'], authorization: req.headers.authorization, body });
    const status = plan[Math.min(got.length - 1, plan.length - 1)]!;
    res.writeHead(status, status === 302 ? { location: '/elsewhere' } : {}).end('ok');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/hook`, got, close: () => new Promise<void>((r) => server.close(() => r())) };
}

const xml = '<?xml version="1.0"?>\n<result><mediaid>42</mediaid><status>Finished</status><source>a&amp;b +c</source></result>';
const json = '{"result":{"mediaid":"42","status":"Finished"}}';
const open = { allowPrivateNetwork: true };

test('form body: one field named after the format, URL-encoded', async (t) => {
  const r = await receiver([200]);
  t.after(r.close);
  const a = await sendOnce({ url: r.url, format: 'xml', bodyFormat: 'form', document: xml }, open);
  assert.equal(a.status, 200);
  assert.equal(a.error, null);
  assert.ok(a.at instanceof Date && a.durationMs >= 0);
  const got = r.got[0]!;
  assert.equal(got.method, 'POST');
  assert.equal(got.contentType, 'application/x-www-form-urlencoded');
  const fields = new URLSearchParams(got.body);
  assert.deepEqual([...fields.keys()], ['xml']);
  assert.equal(fields.get('xml'), xml);

  await sendOnce({ url: r.url, format: 'json', bodyFormat: 'form', document: json }, open);
  assert.equal(new URLSearchParams(r.got[1]!.body).get('json'), json);
});

test('raw body: the document itself with its content type', async (t) => {
  const r = await receiver([204]);
  t.after(r.close);
  assert.equal((await sendOnce({ url: r.url, format: 'json', bodyFormat: 'raw', document: json }, open)).status, 204);
  assert.equal((await sendOnce({ url: r.url, format: 'xml', bodyFormat: 'raw', document: xml }, open)).error, null);
  assert.deepEqual(
    r.got.map((g) => [g.contentType, g.body]),
    [
      ['application/json', json],
      ['text/xml', xml],
    ],
  );
});

test('retries up to 3 times, recording every attempt', async (t) => {
  const r = await receiver([500]);
  t.after(r.close);
  const seen: AttemptRecord[] = [];
  const n: OutgoingNotification = { url: r.url, format: 'xml', bodyFormat: 'form', document: xml };
  const out = await deliver(n, { ...open, delaysMs: [10, 20, 30], onAttempt: (a) => void seen.push(a) });
  assert.equal(out.delivered, false);
  assert.equal(out.attempts.length, 4);
  assert.equal(r.got.length, 4);
  assert.deepEqual(seen, out.attempts);
  for (const a of out.attempts) {
    assert.equal(a.status, 500);
    assert.equal(a.error, 'HTTP 500 Internal Server Error');
  }
});

test('stops at the first success', async (t) => {
  const r = await receiver([503, 200]);
  t.after(r.close);
  const out = await deliver({ url: r.url, format: 'json', bodyFormat: 'raw', document: json }, { ...open, delaysMs: [10, 20, 30] });
  assert.equal(out.delivered, true);
  assert.deepEqual(out.attempts.map((a) => a.status), [503, 200]);
});

test('a redirect is not followed and counts as a failure', async (t) => {
  const r = await receiver([302]);
  t.after(r.close);
  const out = await deliver({ url: r.url, format: 'xml', bodyFormat: 'form', document: xml }, { ...open, delaysMs: [] });
  assert.equal(out.delivered, false);
  assert.equal(out.attempts[0]!.status, 302);
  assert.match(out.attempts[0]!.error!, /302 Found.*not followed/);
  assert.deepEqual(r.got.map((g) => g.method), ['POST']);
});

test('private receivers are refused unless allowed; failures are recorded, never thrown, and redacted', async (t) => {
  const r = await receiver([200]);
  t.after(r.close);
  const secretUrl = r.url.replace('http://', 'http://gateway:S3CRET@') + '?token=T0KEN';
  const refused = await sendOnce({ url: secretUrl, format: 'xml', bodyFormat: 'form', document: xml }, { allowPrivateNetwork: false });
  assert.equal(refused.status, null);
  assert.match(refused.error!, /private or reserved network address/);
  assert.equal(r.got.length, 0);

  const ok = await sendOnce({ url: secretUrl, format: 'xml', bodyFormat: 'form', document: xml }, open);
  assert.equal(ok.status, 200);
  assert.equal(r.got[0]!.authorization, `Basic ${Buffer.from('gateway:S3CRET').toString('base64')}`);

  await r.close();
  const down = await sendOnce({ url: secretUrl, format: 'xml', bodyFormat: 'form', document: xml }, open);
  assert.equal(down.status, null);
  assert.match(down.error!, /ECONNREFUSED/);
  for (const a of [refused, down]) assert.doesNotMatch(a.error!, /S3CRET|T0KEN|gateway/);

  const mail = await sendOnce({ url: 'mailto:ops@example.com', format: 'xml', bodyFormat: 'form', document: xml }, open);
  assert.equal(mail.error, 'unsupported notification URL scheme "mailto:"');
});

test('a receiver that never answers times out', async (t) => {
  const sockets = new Set<import('node:net').Socket>();
  const server = http.createServer(() => undefined);
  server.on('connection', (s) => sockets.add(s));
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
  t.after(() => {
    for (const s of sockets) s.destroy();
    server.close();
  });
  const { port } = server.address() as AddressInfo;
  const a = await sendOnce(
    { url: `http://127.0.0.1:${port}/`, format: 'xml', bodyFormat: 'form', document: xml },
    { ...open, timeoutMs: 100 },
  );
  assert.equal(a.status, null);
  assert.equal(a.error, 'no response from 127.0.0.1 (timeout)');
});
