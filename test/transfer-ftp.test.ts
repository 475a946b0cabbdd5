import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { checkUrl, download, redactUrl, upload, TransferError, type TransferContext } from '../src/transfer/index.ts';
import { tempDir } from './helpers.ts';
import { FTP_PASSWORD, FTP_USER, enc, randomFile, selfSigned, sha256, startFtp, startRude, type Cert, type FtpServer } from './remote-servers.ts';

let ftp: FtpServer;
let ftps: FtpServer;
let cert: Cert;
let work: string;
let big: string;

const ctx = (extra: Partial<TransferContext> = {}): TransferContext => ({
  fileRoots: [],
  allowPrivateNetwork: true,
  retryDelaysMs: [20, 20],
  ...extra,
});
const auth = `${FTP_USER}:${enc(FTP_PASSWORD)}`;

before(async () => {
  work = await tempDir();
  cert = await selfSigned(work);
  [ftp, ftps] = await Promise.all([startFtp(), startFtp({ tls: cert })]);
  big = await randomFile(work, 'big.bin', 10 * 1024 * 1024 + 123);
});

after(async () => {
  await Promise.all([ftp?.close(), ftps?.close()]);
  await fs.rm(work, { recursive: true, force: true });
});

test('FTP: a 10 MB file goes up into folders that did not exist and comes back byte for byte', async () => {
  const url = `ftp://${auth}@127.0.0.1:${ftp.port}/new/deep%20er/out%20file.bin?passive=yes`;
  const seen: number[] = [];
  await upload(big, url, ctx(), (d) => seen.push(d));
  const stored = path.join(ftp.root, 'new', 'deep er', 'out file.bin');
  assert.equal(await sha256(stored), await sha256(big));
  assert.equal(seen.at(-1), (await fs.stat(big)).size, 'progress reaches the full size');

  const back = path.join(work, 'back.bin');
  const totals: (number | null)[] = [];
  const { bytes } = await download(url, back, ctx(), (_d, total) => totals.push(total));
  assert.equal(bytes, (await fs.stat(big)).size);
  assert.equal(totals.at(-1), bytes, 'SIZE told the total before the transfer');
  assert.equal(await sha256(back), await sha256(big));
});

test('FTP: the source size limit applies before any byte is fetched', async () => {
  await fs.mkdir(path.join(ftp.root, 'src'), { recursive: true });
  await fs.copyFile(big, path.join(ftp.root, 'src', 'big.bin'));
  const to = path.join(work, 'limited.bin');
  let progressCalls = 0;
  await assert.rejects(
    download(`ftp://${auth}@127.0.0.1:${ftp.port}/src/big.bin`, to, ctx({ maxSourceBytes: 1_000_000 }), () => progressCalls++),
    /larger than the limit of 1000000 bytes/,
  );
  assert.equal(progressCalls, 0, 'refused on the SIZE answer, before the transfer started');
  await assert.rejects(fs.stat(to), /ENOENT/);
});

test('FTP: a wrong password is a clear, final error that names the user, never the password', async () => {
  const attempts = ftp.logins.length;
  const err = await upload(big, `ftp://${FTP_USER}:Wrong-Secret@127.0.0.1:${ftp.port}/x.bin`, ctx()).catch((e: unknown) => e);
  assert.ok(err instanceof TransferError);
  assert.equal(err.message, `Upload error: the FTP server refused the login (530) for user ${FTP_USER}@127.0.0.1`);
  assert.equal(err.retryable, false);
  assert.doesNotMatch(JSON.stringify({ m: err.message, s: err.stack, c: String(err.cause) }), /Wrong-Secret/);
  assert.equal(ftp.logins.length, attempts);
});

test('FTP: a missing source file is a final error naming the path', async () => {
  const err = await download(`ftp://${auth}@127.0.0.1:${ftp.port}/nope/missing.mp4`, path.join(work, 'm'), ctx()).catch((e: unknown) => e);
  assert.ok(err instanceof TransferError);
  assert.match(err.message, /^Download error: \/nope\/missing\.mp4 was not found or is not readable on 127\.0\.0\.1 \(55\d/);
  assert.equal(err.retryable, false);
});

test('FTPS: explicit TLS with a CA from ENCODERY_FTPS_CA_FILE round-trips; without it the certificate is refused', async () => {
  const small = await randomFile(work, 'small.bin', 300_000);
  const url = `ftps://${auth}@127.0.0.1:${ftps.port}/tls/a.bin`;
  await upload(small, url, ctx({ ftpsCaFile: cert.certFile }));
  assert.equal(await sha256(path.join(ftps.root, 'tls', 'a.bin')), await sha256(small));
  const back = path.join(work, 'tls-back.bin');
  await download(url, back, ctx({ ftpsCaFile: cert.certFile }));
  assert.equal(await sha256(back), await sha256(small));
  assert.ok(ftps.logins.length >= 2 && ftps.logins.every((l) => l.secure), 'every login came over TLS');

  const err = await upload(small, url, ctx()).catch((e: unknown) => e);
  assert.ok(err instanceof TransferError);
  assert.match(err.message, /^Upload error: TLS problem with 127\.0\.0\.1 \(/);
  assert.equal(err.retryable, false);

  const plain = await upload(small, `ftps://${auth}@127.0.0.1:${ftp.port}/tls/b.bin`, ctx()).catch((e: unknown) => e);
  assert.ok(plain instanceof TransferError);
  assert.match(plain.message, /^Upload error: the FTP server 127\.0\.0\.1 does not offer explicit TLS \(AUTH TLS answered 5\d\d\); use ftp:\/\/ or ask for FTPS$/);
});

test('FTP: a server that drops the connection is transient and retried, then reported', async () => {
  const rude = await startRude('drop');
  try {
    const err = await upload(big, `ftp://${auth}@127.0.0.1:${rude.port}/x.bin`, ctx()).catch((e: unknown) => e);
    assert.ok(err instanceof TransferError);
    assert.equal(err.retryable, true);
    assert.match(err.message, /^Upload error: (connection to|the connection to) 127\.0\.0\.1 (failed|was lost)/);
    assert.equal(rude.connections(), 3, 'one attempt and two retries');
  } finally {
    await rude.close();
  }
});

test('FTP: a 421 "too many users" greeting is transient and retried', async () => {
  const busy = await startRude('busy');
  try {
    const err = await upload(big, `ftp://${auth}@127.0.0.1:${busy.port}/x.bin`, ctx()).catch((e: unknown) => e);
    assert.ok(err instanceof TransferError);
    assert.equal(err.retryable, true);
    assert.match(err.message, /^Upload error: the FTP server 127\.0\.0\.1 is temporarily unable to serve the request \(421 Too many users/);
    assert.equal(busy.connections(), 3);
  } finally {
    await busy.close();
  }
});

test('FTP: aborting closes a connection that hangs, at once', async () => {
  const silent = await startRude('silent');
  try {
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 200);
    const started = Date.now();
    const err = await download(`ftp://${auth}@127.0.0.1:${silent.port}/x.bin`, path.join(work, 'a'), ctx({ signal: controller.signal })).catch((e: unknown) => e);
    assert.ok(err instanceof TransferError);
    assert.equal(err.message, 'Download error: aborted');
    assert.ok(Date.now() - started < 3000, `took ${Date.now() - started} ms`);
  } finally {
    await silent.close();
  }
});

test('FTP: private and loopback hosts are refused before connecting unless allowed', async () => {
  const before = ftp.logins.length;
  for (const host of ['127.0.0.1', 'localhost']) {
    const err = await upload(big, `ftp://${auth}@${host}:${ftp.port}/p.bin`, ctx({ allowPrivateNetwork: false })).catch((e: unknown) => e);
    assert.ok(err instanceof TransferError);
    assert.match(err.message, new RegExp(`^Upload error: ${host} resolves to a private or reserved network address`));
  }
  assert.equal(ftp.logins.length, before);
  assert.match(checkUrl(`ftp://u:p@10.0.0.1/x`, 'source', { allowPrivateNetwork: false }) ?? '', /private or loopback/);
});

test('FTP URLs: active mode and control characters are refused when the request arrives', () => {
  assert.equal(checkUrl('ftp://u:p@example.com/out/?passive=yes', 'destination'), null);
  assert.equal(checkUrl('ftps://example.com:2121/in/a.mp4', 'source'), null);
  assert.match(checkUrl('ftp://u:p@example.com/x.mp4?passive=no', 'destination') ?? '', /active FTP \(passive=no\) is not supported/);
  assert.match(checkUrl('ftp://u:p@example.com/x%0D%0ADELE%20y.mp4', 'destination') ?? '', /control characters/);
  assert.match(checkUrl('ftp://example.com/folder/', 'source') ?? '', /must name a file/);
});

test('redaction masks user:password@ in ftp, ftps and sftp URLs, also inside text', async () => {
  for (const scheme of ['ftp', 'ftps', 'sftp']) {
    assert.equal(redactUrl(`${scheme}://bob:${enc(FTP_PASSWORD)}@host:21/a/b.mp4?passive=yes`), `${scheme}://***:***@host:21/a/b.mp4?passive=yes`);
    assert.equal(redactUrl(`${scheme}://bob@host/a.mp4`), `${scheme}://***@host/a.mp4`);
  }
  const { redactText } = await import('../src/transfer/redact.ts');
  assert.equal(redactText('Error saving to sftp://bob:hunter2@h/x.mp4: boom'), 'Error saving to sftp://***:***@h/x.mp4: boom');
});
