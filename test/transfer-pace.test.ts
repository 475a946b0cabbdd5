/** Issue 13 §6: the minimum transfer rate and the deadline hold for uploads and downloads of any scheme. */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, promises as fs } from 'node:fs';
import http from 'node:http';
import net, { type AddressInfo, type Socket } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { download, upload } from '../src/transfer/index.ts';
import type { TransferContext } from '../src/transfer/types.ts';
import { FTP_PASSWORD, FTP_USER, enc, startFtp } from './remote-servers.ts';

const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'encodery-pace-'));
const sockets = new Set<Socket>();
const timers = new Set<NodeJS.Timeout>();
const server = http.createServer((req, res) => {
  const route = new URL(req.url!, 'http://x').pathname;
  if (route === '/steady') {
    // 4 KB every 100 ms: well above the minimum, for ever.
    res.writeHead(200);
    const timer = setInterval(() => res.write(Buffer.alloc(4096)), 100);
    timers.add(timer);
    res.on('close', () => clearInterval(timer));
  } else if (route === '/sink') {
    // Takes the upload's first bytes and then reads no more: the sender stalls on a full socket.
    req.once('data', () => req.pause());
  } else {
    res.end('ok');
  }
});
server.on('connection', (s) => {
  sockets.add(s);
  s.on('close', () => sockets.delete(s));
});
await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
const ftp = await startFtp();

after(async () => {
  for (const t of timers) clearInterval(t);
  for (const s of sockets) s.destroy();
  await new Promise<void>((r) => server.close(() => r()));
  await ftp.close();
  await fs.rm(dir, { recursive: true, force: true });
});

const ctx = (pace: NonNullable<TransferContext['pace']>): TransferContext => ({ fileRoots: [dir], allowPrivateNetwork: true, retryDelaysMs: [], pace });

test('a download that keeps a good rate is still stopped by the deadline, and leaves no file', async () => {
  const to = path.join(dir, 'steady.bin');
  const started = Date.now();
  await assert.rejects(download(`${base}/steady`, to, ctx({ minBytesPerSecond: 1000, windowSeconds: 1, deadlineSeconds: 3 })), {
    message: 'Download error: the transfer took longer than the limit of 3 s',
  });
  assert.ok(Date.now() - started < 30_000);
  assert.equal(existsSync(to), false);
});

test('an upload the destination stops reading fails on the minimum rate', async () => {
  const from = path.join(dir, 'big.bin');
  await fs.writeFile(from, Buffer.alloc(32 * 1024 * 1024, 3));
  await assert.rejects(upload(from, `${base}/sink`, ctx({ minBytesPerSecond: 100_000, windowSeconds: 2, deadlineSeconds: 0 })), (err: Error) => {
    assert.match(err.message, /^Upload error: the transfer averaged \d+(\.\d)? bytes\/s over 2 s, below the minimum of 100000 bytes\/s$/);
    return true;
  });
});

test('the same watch stops FTP and SFTP transfers from a server that never says a word', async () => {
  const quiet = net.createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => quiet.listen(0, '127.0.0.1', r));
  const port = (quiet.address() as AddressInfo).port;
  try {
    for (const scheme of ['ftp', 'sftp']) {
      await assert.rejects(download(`${scheme}://u:p@127.0.0.1:${port}/a.mp4`, path.join(dir, `${scheme}.bin`), ctx({ minBytesPerSecond: 1000, windowSeconds: 1, deadlineSeconds: 0 })), {
        message: 'Download error: the transfer averaged 0.0 bytes/s over 1 s, below the minimum of 1000 bytes/s',
      });
    }
  } finally {
    for (const s of sockets) s.destroy();
    await new Promise<void>((r) => quiet.close(() => r()));
  }
});

test('a healthy FTP round trip is left alone by the watch', async () => {
  const from = path.join(dir, 'small.bin');
  await fs.writeFile(from, Buffer.alloc(200_000, 5));
  const url = `ftp://${FTP_USER}:${enc(FTP_PASSWORD)}@127.0.0.1:${ftp.port}/small.bin`;
  const loose = ctx({ minBytesPerSecond: 1000, windowSeconds: 1, deadlineSeconds: 60 });
  await upload(from, url, loose);
  assert.equal((await download(url, path.join(dir, 'back.bin'), loose)).bytes, 200_000);
});
