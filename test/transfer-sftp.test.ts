import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import ssh2 from 'ssh2';
import { checkUrl, download, upload, TransferError, type TransferContext } from '../src/transfer/index.ts';
import { tempDir } from './helpers.ts';
import { SSH_PASSWORD, SSH_USER, enc, randomFile, sha256, startRude, startSsh, type SshServer } from './remote-servers.ts';

let ssh: SshServer;
let work: string;
let big: string;
let keyFile: string;
const PASSPHRASE = 'correct horse';

const ctx = (extra: Partial<TransferContext> = {}): TransferContext => ({
  fileRoots: [],
  allowPrivateNetwork: true,
  retryDelaysMs: [20, 20],
  ...extra,
});
const withKey = (passphrase = PASSPHRASE): Partial<TransferContext> => ({ sftpKeyFile: keyFile, sftpKeyPassphrase: passphrase });
const auth = `${SSH_USER}:${enc(SSH_PASSWORD)}`;

before(async () => {
  work = await tempDir();
  const pair = ssh2.utils.generateKeyPairSync('ed25519', { passphrase: PASSPHRASE, cipher: 'aes256-ctr', rounds: 16 });
  keyFile = path.join(work, 'id_ed25519');
  await fs.writeFile(keyFile, pair.private, { mode: 0o600 });
  ssh = await startSsh({ clientPublicKey: pair.public });
  big = await randomFile(work, 'big.bin', 10 * 1024 * 1024 + 77);
});

after(async () => {
  await ssh?.close();
  await fs.rm(work, { recursive: true, force: true });
});

test('SFTP with a password: a 10 MB file goes up into new folders and comes back byte for byte', async () => {
  const url = `sftp://${auth}@127.0.0.1:${ssh.port}/up/deep%20er/out%20file.bin`;
  const seen: number[] = [];
  const debug: string[] = [];
  await upload(big, url, ctx({ debug: (m) => debug.push(m) }), (d) => seen.push(d));
  assert.equal(await sha256(path.join(ssh.root, 'up', 'deep er', 'out file.bin')), await sha256(big));
  assert.equal(seen.at(-1), (await fs.stat(big)).size);
  assert.match(debug.join('\n'), /^SFTP host key of 127\.0\.0\.1: SHA256:[A-Za-z0-9+/]{43}$/m);

  const back = path.join(work, 'back.bin');
  const totals: (number | null)[] = [];
  const { bytes } = await download(url, back, ctx(), (_d, total) => totals.push(total));
  assert.equal(bytes, (await fs.stat(big)).size);
  assert.equal(totals.at(-1), bytes, 'stat told the size before the transfer');
  assert.equal(await sha256(back), await sha256(big));
  assert.deepEqual([...new Set(ssh.logins)], ['password']);
});

test('SFTP with the configured private key when the URL has no password', async () => {
  const small = await randomFile(work, 'small.bin', 200_000);
  const before = ssh.logins.length;
  await upload(small, `sftp://${SSH_USER}@127.0.0.1:${ssh.port}/keyed/a.bin`, ctx(withKey()));
  assert.equal(await sha256(path.join(ssh.root, 'keyed', 'a.bin')), await sha256(small));
  assert.deepEqual(ssh.logins.slice(before), ['publickey']);
  await download(`sftp://${SSH_USER}@127.0.0.1:${ssh.port}/keyed/a.bin`, path.join(work, 'k'), ctx(withKey()));
  assert.equal(await sha256(path.join(work, 'k')), await sha256(small));

  const wrong = await upload(small, `sftp://${SSH_USER}@127.0.0.1:${ssh.port}/keyed/b.bin`, ctx(withKey('not it'))).catch((e: unknown) => e);
  assert.ok(wrong instanceof TransferError);
  assert.match(wrong.message, /^Upload error: the SFTP private key cannot be used \(.*\); check ENCODERY_SFTP_KEY_FILE and ENCODERY_SFTP_KEY_PASSPHRASE$/);
  assert.equal(wrong.retryable, false);

  const none = await upload(small, `sftp://${SSH_USER}@127.0.0.1:${ssh.port}/keyed/c.bin`, ctx()).catch((e: unknown) => e);
  assert.ok(none instanceof TransferError);
  assert.equal(none.message, `Upload error: the SFTP URL for ${SSH_USER}@127.0.0.1 has no password and no private key is configured (ENCODERY_SFTP_KEY_FILE)`);
});

test('SFTP: a wrong password is a clear, final error naming the user, never the password', async () => {
  const err = await upload(big, `sftp://${SSH_USER}:Wrong-Secret@127.0.0.1:${ssh.port}/x.bin`, ctx()).catch((e: unknown) => e);
  assert.ok(err instanceof TransferError);
  assert.equal(err.message, `Upload error: the SFTP server refused the login for user ${SSH_USER}@127.0.0.1`);
  assert.equal(err.retryable, false);
  assert.doesNotMatch(JSON.stringify({ m: err.message, s: err.stack, c: String(err.cause) }), /Wrong-Secret/);
});

test('SFTP: a missing source is a final error naming the path', async () => {
  const err = await download(`sftp://${auth}@127.0.0.1:${ssh.port}/nope/missing.mp4`, path.join(work, 'm'), ctx()).catch((e: unknown) => e);
  assert.ok(err instanceof TransferError);
  assert.equal(err.message, 'Download error: /nope/missing.mp4 was not found on 127.0.0.1');
  assert.equal(err.retryable, false);
});

test('SFTP: a server that drops the connection is transient and retried', async () => {
  const rude = await startRude('drop');
  try {
    const err = await upload(big, `sftp://${auth}@127.0.0.1:${rude.port}/x.bin`, ctx()).catch((e: unknown) => e);
    assert.ok(err instanceof TransferError);
    assert.equal(err.retryable, true, err.message);
    assert.match(err.message, /^Upload error: (connection to|the connection to) 127\.0\.0\.1 (failed|was lost)/);
    assert.equal(rude.connections(), 3);
  } finally {
    await rude.close();
  }
});

test('SFTP: aborting closes a connection that hangs, at once', async () => {
  const silent = await startRude('silent');
  try {
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 200);
    const started = Date.now();
    const err = await download(`sftp://${auth}@127.0.0.1:${silent.port}/x.bin`, path.join(work, 'a'), ctx({ signal: controller.signal })).catch((e: unknown) => e);
    assert.ok(err instanceof TransferError);
    assert.equal(err.message, 'Download error: aborted');
    assert.ok(Date.now() - started < 3000, `took ${Date.now() - started} ms`);
  } finally {
    await silent.close();
  }
});

test('SFTP: private and loopback hosts are refused before connecting unless allowed', async () => {
  const before = ssh.logins.length;
  const err = await upload(big, `sftp://${auth}@localhost:${ssh.port}/p.bin`, ctx({ allowPrivateNetwork: false })).catch((e: unknown) => e);
  assert.ok(err instanceof TransferError);
  assert.match(err.message, /^Upload error: localhost resolves to a private or reserved network address/);
  assert.equal(ssh.logins.length, before);
  assert.equal(checkUrl('sftp://u:p@example.com/out/', 'destination'), null);
  assert.match(checkUrl('sftp://u:p@example.com/dir/', 'source') ?? '', /must name a file/);
  assert.match(checkUrl('sftp:///x.mp4', 'source') ?? '', /missing host name/);
});

test('ENCODERY_SFTP_KEY_FILE must name a readable file at start; the settings reach the config', async () => {
  const { loadConfig, ConfigError } = await import('../src/config.ts');
  const base = { ENCODERY_DATA_DIR: work, ENCODERY_USERS: '1:abcdefgh12' };
  assert.throws(() => loadConfig({ ...base, ENCODERY_SFTP_KEY_FILE: path.join(work, 'absent') }), (e: unknown) => e instanceof ConfigError && /^ENCODERY_SFTP_KEY_FILE \(--sftp-key-file\): not a readable file/.test(e.message));
  const c = loadConfig(base, ['--sftp-key-file', keyFile, '--sftp-key-passphrase', PASSPHRASE]);
  assert.equal(c.sftpKeyFile, keyFile);
  assert.equal(c.sftpKeyPassphrase, PASSPHRASE);
  assert.equal(c.ftpsCaFile, null);
});

test('ENCODERY_SFTP_KNOWN_HOSTS: a listed host key (plain or hashed name) passes; an unlisted or revoked one is refused before logging in', async () => {
  const small = await randomFile(work, 'kh.bin', 50_000);
  const name = `[127.0.0.1]:${ssh.port}`;
  const salt = randomBytes(20);
  const hashed = `|1|${salt.toString('base64')}|${createHmac('sha1', salt).update(name).digest('base64')}`;
  const other = ssh2.utils.generateKeyPairSync('ed25519').public.split(' ').slice(0, 2).join(' ');
  const known = async (text: string): Promise<Partial<TransferContext>> => {
    const file = path.join(work, `known_hosts_${randomBytes(4).toString('hex')}`);
    await fs.writeFile(file, text);
    return { sftpKnownHosts: file };
  };
  const url = (f: string) => `sftp://${auth}@127.0.0.1:${ssh.port}/kh/${f}`;

  await upload(small, url('plain.bin'), ctx(await known(`# ours\nexample.com ${other}\n${name} ${ssh.hostKey}\n`)));
  await upload(small, url('hashed.bin'), ctx(await known(`${hashed} ${ssh.hostKey}\n`)));
  assert.deepEqual((await fs.readdir(path.join(ssh.root, 'kh'))).sort(), ['hashed.bin', 'plain.bin']);

  const logins = ssh.logins.length;
  for (const text of [`${name} ${other}\n127.0.0.1 ${ssh.hostKey}\n`, `@revoked * ${ssh.hostKey}\n${name} ${ssh.hostKey}\n`]) {
    const err = await upload(small, url('refused.bin'), ctx(await known(text))).catch((e: unknown) => e);
    assert.ok(err instanceof TransferError);
    assert.match(err.message, new RegExp(`^Upload error: the host key of 127\\.0\\.0\\.1 \\(SHA256:[A-Za-z0-9+/]{43}\\) is not listed for \\[127\\.0\\.0\\.1\\]:${ssh.port} in ENCODERY_SFTP_KNOWN_HOSTS$`));
    assert.equal(err.retryable, false);
  }
  assert.equal(ssh.logins.length, logins, 'no password was sent to an unverified server');
});

test('SFTP: a server that answers reads with fewer bytes than asked still yields the whole file', async () => {
  const stingy = await startSsh({ maxRead: 10_000 });
  try {
    const file = await randomFile(stingy.root, 'short.bin', 1_000_003);
    const back = path.join(work, 'short-back.bin');
    const { bytes } = await download(`sftp://${auth}@127.0.0.1:${stingy.port}/short.bin`, back, ctx());
    assert.equal(bytes, 1_000_003);
    assert.equal(await sha256(back), await sha256(file));
  } finally {
    await stingy.close();
  }
});
