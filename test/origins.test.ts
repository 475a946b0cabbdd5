/**
 * Issue 13 §2 and §6: HTTP origins that misbehave the ways real ones do, each through the real API
 * (AddMedia with an http:// source, GetStatus until final). Every media ends Finished or in Error
 * with a reason, and the server (this very process) is still alive after all of them.
 */
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { after, before, test } from 'node:test';
import { asList, makeClip, startTestServer, tempDir, untilFinal, type TestServer } from './helpers.ts';

/** An MP4 with a `free` box of `padding` bytes after it: still one valid file, as large as wanted. */
function padded(mp4: Buffer, padding: number): Buffer {
  const box = Buffer.alloc(8 + padding);
  box.writeUInt32BE(8 + padding, 0);
  box.write('free', 4, 'latin1');
  return Buffer.concat([mp4, box]);
}

type Origin = (socket: net.Socket, path: string) => void;

/** A raw TCP origin, so each route can break HTTP exactly as a broken server does. */
async function startOrigin(routes: Record<string, Origin>): Promise<{ url: string; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    let head = '';
    const onData = (chunk: Buffer) => {
      head += chunk.toString('latin1');
      if (!head.includes('\r\n\r\n')) return;
      socket.off('data', onData);
      const target = head.split(' ')[1] ?? '/';
      const route = routes[new URL(target, 'http://x').pathname];
      if (route) route(socket, target);
      else socket.end('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
    };
    socket.on('data', onData);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise<void>((r) => server.close(() => r()));
    },
  };
}

const head = (lines: string[]) => `${lines.join('\r\n')}\r\n\r\n`;

let t: TestServer;
let origin: Awaited<ReturnType<typeof startOrigin>>;
let clip: Buffer;
let large: Buffer;
const timers = new Set<NodeJS.Timeout>();

before(async () => {
  const work = await tempDir();
  clip = await fs.readFile(await makeClip(path.join(work, 'clip.mp4'), { seconds: 1, size: '160x120', extra: ['-movflags', '+faststart'] }));
  await fs.rm(work, { recursive: true, force: true });
  large = padded(clip, 24 * 1024 * 1024);
  origin = await startOrigin({
    // Python's http.server: HTTP/1.0, no Content-Length, the end of the body is the close.
    '/http10': (s) => {
      s.write(head(['HTTP/1.0 200 OK', 'Content-Type: video/mp4', 'Connection: close']));
      s.end(large);
    },
    '/reset': (s) => {
      s.write(head(['HTTP/1.1 200 OK', `Content-Length: ${large.length}`]));
      s.write(large.subarray(0, 256 * 1024), () => s.resetAndDestroy());
    },
    '/short': (s) => {
      s.write(head(['HTTP/1.1 200 OK', `Content-Length: ${clip.length + 5000}`, 'Connection: close']));
      s.end(clip);
    },
    '/long': (s) => {
      s.write(head(['HTTP/1.1 200 OK', `Content-Length: ${clip.length}`]));
      s.end(Buffer.concat([clip, Buffer.alloc(5000, 0x41)]));
    },
    '/loop': (s) => s.end(head(['HTTP/1.1 302 Found', 'Location: /loop', 'Content-Length: 0', 'Connection: close'])),
    '/gzip': (s) => {
      const body = gzipSync(clip);
      s.end(Buffer.concat([Buffer.from(head(['HTTP/1.1 200 OK', 'Content-Encoding: gzip', `Content-Length: ${body.length}`, 'Connection: close'])), body]));
    },
    '/endless': (s) => {
      s.write(head(['HTTP/1.1 200 OK', 'Transfer-Encoding: chunked']));
      const chunk = Buffer.concat([Buffer.from('10000\r\n'), Buffer.alloc(0x10000, 1), Buffer.from('\r\n')]);
      const more = () => {
        while (!s.destroyed && s.write(chunk));
      };
      s.on('drain', more);
      more();
    },
    '/trickle': (s) => {
      s.write(head(['HTTP/1.1 200 OK', `Content-Length: ${clip.length}`]));
      let sent = 0;
      const timer = setInterval(() => {
        if (s.destroyed || sent >= clip.length) return clearInterval(timer);
        s.write(clip.subarray(sent, ++sent));
      }, 10_000);
      timers.add(timer);
    },
  });
  t = await startTestServer({
    ENCODERY_WORKERS: '1',
    ENCODERY_QUALITY_REPORT: 'off',
    ENCODERY_MAX_SOURCE_BYTES: String(64 * 1024 * 1024),
    ENCODERY_TRANSFER_MIN_BYTES_PER_SECOND: '1000',
    // Long enough that no healthy download here ever has a window without 3000 bytes, even on a loaded machine.
    ENCODERY_TRANSFER_WINDOW_SECONDS: '3',
  });
});

after(async () => {
  for (const timer of timers) clearInterval(timer);
  await Promise.all([t?.close(), origin?.close()]);
});

async function addMedia(route: string): Promise<string> {
  const added = await t.call('json', {
    action: 'AddMedia',
    source: `${origin.url}${route}`,
    format: { output: 'mp4', size: '160x120' },
  });
  assert.equal(added.message, 'Added', JSON.stringify(added));
  return String(added.MediaID);
}

async function finalOf(route: string): Promise<{ status: string; description: string; format: any }> {
  const { final } = await untilFinal(t, await addMedia(route), 120_000);
  return { status: final.status, description: String(final.description ?? ''), format: asList(final.format)[0] };
}

test('an HTTP/1.0 origin that closes while the download is paused by backpressure: Finished, and the process lives (issue 13 §2)', async () => {
  // One close in a few lands while the reader is paused (2 of 4 runs in the issue): several media make it sure.
  const ids = [];
  for (let i = 0; i < 4; i++) ids.push(await addMedia('/http10'));
  for (const id of ids) {
    const { final } = await untilFinal(t, id, 120_000);
    assert.equal(final.status, 'Finished', JSON.stringify(final));
  }
});

test('a connection reset mid-body ends the media in Error naming the reset', async () => {
  const r = await finalOf('/reset');
  assert.equal(r.status, 'Error');
  assert.match(r.description, /Download error: connection to 127\.0\.0\.1 failed \(ECONNRESET\)/);
});

test('a body shorter than its Content-Length is an error, not a truncated source', async () => {
  const r = await finalOf('/short');
  assert.equal(r.status, 'Error');
  assert.match(r.description, /Download error: connection to 127\.0\.0\.1 failed \(ECONNRESET\)/);
});

test('bytes beyond the Content-Length are not part of the source', async () => {
  const r = await finalOf('/long');
  assert.equal(r.status, 'Finished', JSON.stringify(r));
});

test('a redirect loop ends after 5 hops', async () => {
  const r = await finalOf('/loop');
  assert.equal(r.status, 'Error');
  assert.match(r.description, /Download error: too many redirects \(more than 5\)/);
});

test('a gzip content-encoding the origin sends unasked is decoded', async () => {
  const r = await finalOf('/gzip');
  assert.equal(r.status, 'Finished', JSON.stringify(r));
});

test('an endless body is stopped by ENCODERY_MAX_SOURCE_BYTES', async () => {
  const r = await finalOf('/endless');
  assert.equal(r.status, 'Error');
  assert.match(r.description, /Download error: the source is larger than the limit of 67108864 bytes/);
});

test('a 1-byte-every-10-s trickle fails on the minimum transfer rate (issue 13 §6)', async () => {
  const r = await finalOf('/trickle');
  assert.equal(r.status, 'Error');
  assert.match(r.description, /Download error: .*below the minimum of 1000 bytes\/s/);
});

test('after every misbehaving origin the server still answers', async () => {
  const list = await t.call('json', { action: 'GetMediaList' });
  assert.ok(asList(list.media).length >= 11, JSON.stringify(list).slice(0, 300));
});
