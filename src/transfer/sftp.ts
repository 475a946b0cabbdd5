import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path/posix';
import { Readable } from 'node:stream';
import ssh2 from 'ssh2';
import type { ConnectConfig, SFTPWrapper, Stats } from 'ssh2';
import { toTransferError, type Verb } from './errors.ts';
import { isKnownHostKey, knownHostName, parseKnownHosts } from './known-hosts.ts';
import { CONNECT_TIMEOUT_MS, aborted, connectAddress, credentialsOf, hostOf, remotePath, validateRemote, whoAt } from './remote.ts';
import { TransferError, type Progress, type SchemeModule, type TransferContext } from './types.ts';

/**
 * sftp:// with the URL's password, or else the private key from ENCODERY_SFTP_KEY_FILE. Paths
 * are absolute, as with curl; `/~/dir/file` is relative to the login folder.
 *
 * The server's host key must be listed in ENCODERY_SFTP_KNOWN_HOSTS when that is set. Without
 * it any host key is accepted (its SHA256 fingerprint is logged at debug level): like plain FTP,
 * that trusts the network path to the server.
 */

const { Client, utils } = ssh2;
const STATUS = utils.sftp.STATUS_CODE;
const REPORT_EVERY_MS = 250;

/** Tells the two auth failures apart in messages: a wrong password is not a wrong key. */
type Auth = { kind: 'password'; password: string } | { kind: 'key'; key: Buffer; passphrase?: string };

function sftpPath(url: URL): string {
  const p = remotePath(url) ?? '';
  return p.startsWith('/~/') ? p.slice(3) : p;
}

function sftpCode(err: unknown): number | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
}

function mapError(err: unknown, verb: Verb, url: URL, ctx: TransferContext, auth?: Auth): TransferError {
  if (err instanceof TransferError) return err;
  if (ctx.signal?.aborted) return aborted(verb, ctx.signal);
  const host = hostOf(url);
  const level = (err as { level?: unknown } | null)?.level;
  if (level === 'client-authentication') {
    const how = auth?.kind === 'key' ? ' with the configured private key (ENCODERY_SFTP_KEY_FILE)' : '';
    return new TransferError(`${verb} error: the SFTP server refused the login for user ${whoAt(url)}${how}`);
  }
  if (level === 'client-timeout') {
    return new TransferError(`${verb} error: the SFTP server ${host} did not answer within ${CONNECT_TIMEOUT_MS / 1000} s`, { retryable: true, cause: err });
  }
  const file = sftpPath(url);
  switch (sftpCode(err)) {
    case STATUS.NO_SUCH_FILE:
      return new TransferError(verb === 'Download' ? `Download error: ${file} was not found on ${host}` : `Upload error: a folder of ${file} is missing on ${host}`);
    case STATUS.PERMISSION_DENIED:
      return new TransferError(`${verb} error: permission denied for ${file} on ${host}`);
    case STATUS.NO_CONNECTION:
    case STATUS.CONNECTION_LOST:
      return new TransferError(`${verb} error: the connection to ${host} was lost`, { retryable: true, cause: err });
    case STATUS.FAILURE:
      return new TransferError(`${verb} error: the SFTP server ${host} failed the request for ${file} (disk full or not allowed?)`);
    case undefined:
      break;
    default:
      return new TransferError(`${verb} error: the SFTP server ${host} refused the request for ${file} (status ${sftpCode(err)})`);
  }
  const message = err instanceof Error ? err.message : '';
  // ssh2's wording when the peer goes away without a socket error.
  if (/connection lost|not connected|no response from server|keepalive timeout/i.test(message)) {
    return new TransferError(`${verb} error: the connection to ${host} was lost`, { retryable: true, cause: err });
  }
  return toTransferError(err, verb, host, ctx.signal);
}

async function authFor(url: URL, ctx: TransferContext, verb: Verb): Promise<Auth> {
  const { password } = credentialsOf(url);
  if (password !== null) return { kind: 'password', password };
  const keyFile = ctx.sftpKeyFile;
  if (!keyFile) {
    throw new TransferError(`${verb} error: the SFTP URL for ${whoAt(url)} has no password and no private key is configured (ENCODERY_SFTP_KEY_FILE)`);
  }
  let key: Buffer;
  try {
    key = await fs.readFile(keyFile);
  } catch (err) {
    throw new TransferError(`${verb} error: cannot read the SFTP private key file (ENCODERY_SFTP_KEY_FILE)`, { cause: err });
  }
  const passphrase = ctx.sftpKeyPassphrase ?? undefined;
  // Checked here so a wrong passphrase reads as one, not as a refused login.
  const parsed = utils.parseKey(key, passphrase);
  if (parsed instanceof Error) {
    throw new TransferError(`${verb} error: the SFTP private key cannot be used (${parsed.message.replace(/^Cannot parse privateKey: /, '')}); check ENCODERY_SFTP_KEY_FILE and ENCODERY_SFTP_KEY_PASSPHRASE`);
  }
  return { kind: 'key', key, ...(passphrase === undefined ? {} : { passphrase }) };
}

interface Session {
  sftp: SFTPWrapper;
  release: () => void;
  fail: (err: unknown) => TransferError;
  /**
   * Requests waiting for an answer, failed together when the connection breaks so none waits
   * forever. A set, not a race against one long-lived promise: such a promise keeps every
   * settled request (and its data) reachable until the connection ends.
   */
  pending: Set<(err: unknown) => void>;
  lost: unknown;
}

async function connect(url: URL, ctx: TransferContext, verb: Verb): Promise<Session> {
  if (ctx.signal?.aborted) throw aborted(verb, ctx.signal);
  const { user } = credentialsOf(url);
  if (user === null) throw new TransferError(`${verb} error: the SFTP URL names no user (sftp://user@host/path)`);
  const auth = await authFor(url, ctx, verb);
  const knownHosts = await readKnownHosts(ctx, verb);
  const address = await connectAddress(url, ctx.allowPrivateNetwork).catch((err: unknown) => {
    throw mapError(err, verb, url, ctx);
  });
  const fail = (err: unknown): TransferError => mapError(err, verb, url, ctx, auth);
  const conn = new Client();
  const onAbort = (): void => {
    conn.destroy();
  };
  ctx.signal?.addEventListener('abort', onAbort, { once: true });
  const release = (): void => {
    ctx.signal?.removeEventListener('abort', onAbort);
    conn.end();
  };
  const pending = new Set<(err: unknown) => void>();
  const session: Omit<Session, 'sftp'> = { release, fail, pending, lost: undefined };
  const breakAll = (err: unknown): void => {
    session.lost ??= err;
    for (const reject of pending) reject(err);
    pending.clear();
  };
  const host = hostOf(url);
  const port = url.port === '' ? 22 : Number(url.port);
  let refusedKey: string | null = null;
  const options: ConnectConfig = {
    host: address,
    port,
    username: user,
    readyTimeout: CONNECT_TIMEOUT_MS,
    // Three unanswered keepalives 10 s apart: the server is gone.
    keepaliveInterval: 10_000,
    keepaliveCountMax: 3,
    hostVerifier: (key: Buffer) => {
      const fingerprint = createHash('sha256').update(key).digest('base64').replace(/=+$/, '');
      ctx.debug?.(`SFTP host key of ${host}: SHA256:${fingerprint}`);
      if (knownHosts && !isKnownHostKey(knownHosts, knownHostName(host, port), key)) {
        refusedKey = fingerprint;
        return false;
      }
      return true;
    },
    ...(auth.kind === 'password' ? { password: auth.password } : { privateKey: auth.key, ...(auth.passphrase === undefined ? {} : { passphrase: auth.passphrase }) }),
  };
  try {
    const sftp = await new Promise<SFTPWrapper>((resolve, reject) => {
      conn.once('ready', () => {
        conn.sftp((err, s) => (err ? reject(err) : resolve(s)));
      });
      conn.on('error', (err) => {
        reject(err);
        breakAll(err);
      });
      conn.once('close', () => {
        const lost = new Error('connection lost');
        reject(lost);
        breakAll(lost);
      });
      conn.connect(options);
    });
    return Object.assign(session, { sftp });
  } catch (err) {
    release();
    conn.destroy();
    if (refusedKey !== null && !ctx.signal?.aborted) {
      throw new TransferError(`${verb} error: the host key of ${host} (SHA256:${refusedKey}) is not listed for ${knownHostName(host, port)} in ENCODERY_SFTP_KNOWN_HOSTS`);
    }
    throw fail(err);
  }
}

async function readKnownHosts(ctx: TransferContext, verb: Verb): Promise<ReturnType<typeof parseKnownHosts> | null> {
  const file = ctx.sftpKnownHosts;
  if (!file) return null;
  try {
    return parseKnownHosts(await fs.readFile(file, 'utf8'));
  } catch (err) {
    throw new TransferError(`${verb} error: cannot read the SFTP known hosts file (ENCODERY_SFTP_KNOWN_HOSTS)`, { cause: err });
  }
}

function call<T>(session: Session, run: (cb: (err: Error | null | undefined, value: T) => void) => void): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    if (session.lost !== undefined) return reject(session.lost);
    session.pending.add(reject);
    run((err, value) => {
      session.pending.delete(reject);
      if (err) reject(err);
      else resolve(value);
    });
  });
}

/** mkdir -p: each missing folder from the top, tolerating one made meanwhile by a concurrent upload. */
async function ensureDir(session: Session, dir: string): Promise<void> {
  if (dir === '' || dir === '.' || dir === '/') return;
  const parts = dir.split('/');
  for (let i = 1; i <= parts.length; i++) {
    const prefix = parts.slice(0, i).join('/');
    if (prefix === '' || prefix === '.') continue;
    const stat = await call<Stats>(session, (cb) => session.sftp.stat(prefix, cb)).catch((err: unknown) => {
      if (sftpCode(err) === STATUS.NO_SUCH_FILE) return null;
      throw err;
    });
    if (stat?.isDirectory()) continue;
    if (stat) throw new TransferError(`Upload error: ${prefix} exists and is not a folder`);
    await call(session, (cb) => session.sftp.mkdir(prefix, (err) => cb(err, undefined))).catch(async (err: unknown) => {
      const again = await call<Stats>(session, (cb) => session.sftp.stat(prefix, cb)).catch(() => null);
      if (!again?.isDirectory()) throw err;
    });
  }
}

function throttled(total: number, onProgress?: Progress): (done: number) => void {
  let last = 0;
  return (done) => {
    if (!onProgress) return;
    const now = Date.now();
    if (done !== total && now - last < REPORT_EVERY_MS) return;
    last = now;
    try {
      const r: unknown = onProgress(done, total);
      if (r instanceof Promise) r.catch(() => undefined);
    } catch {
      // progress is advisory
    }
  };
}

export const sftpScheme: SchemeModule = {
  schemes: ['sftp:'],

  validate(url, role) {
    return validateRemote(url, role, 'SFTP');
  },

  async read(url, ctx) {
    const session = await connect(url, ctx, 'Download');
    const file = sftpPath(url);
    try {
      const stat = await call<Stats>(session, (cb) => session.sftp.stat(file, cb));
      if (!stat.isFile()) throw new TransferError(`Download error: ${file} on ${hostOf(url)} is not a regular file`);
      const handle = await call<Buffer>(session, (cb) => session.sftp.open(file, 'r', cb));
      return { stream: new PipelinedReader(session, handle, stat.size), size: stat.size };
    } catch (err) {
      session.release();
      throw session.fail(err);
    }
  },

  async write(url, ctx, source, onProgress) {
    const session = await connect(url, ctx, 'Upload');
    const file = sftpPath(url);
    try {
      await ensureDir(session, path.dirname(file));
      const report = throttled(source.size, onProgress);
      report(0);
      // fastPut reads the local file in chunks with several writes in flight, waits for every
      // acknowledgement and closes the remote handle before calling back.
      await call(session, (cb) =>
        session.sftp.fastPut(source.path, file, { step: (done) => report(done) }, (err) => cb(err, undefined)),
      );
      report(source.size);
    } catch (err) {
      throw session.fail(err);
    } finally {
      session.release();
    }
  },
};

const READ_CHUNK = 64 * 1024;
const READS_IN_FLIGHT = 16;

/**
 * Reads `size` bytes with several READ requests in flight (at most 1 MiB), delivered in order:
 * one request per round trip, as ssh2's own read stream does, is slow on any real network.
 * Ends after the CLOSE of the handle, and fails on a lost connection or a file that shrank.
 */
class PipelinedReader extends Readable {
  #next = 0;
  #queue: Promise<Buffer>[] = [];
  #pumping = false;

  constructor(
    private readonly session: Session,
    private readonly handle: Buffer,
    private readonly size: number,
  ) {
    super({ highWaterMark: READ_CHUNK * 4 });
  }

  #readAt(position: number, length: number): Promise<Buffer> {
    const request = call<Buffer>(this.session, (cb) =>
      this.session.sftp.read(this.handle, Buffer.allocUnsafe(length), 0, length, position, (err, bytesRead, data) => cb(err, data.subarray(0, bytesRead))),
    ).then(async (data) => {
      if (data.length === length) return data;
      // A server may answer a READ with fewer bytes than asked; fetch the rest before going on.
      if (data.length === 0) throw new TransferError(`Download error: the file ended early (it changed during the transfer?)`);
      return Buffer.concat([data, await this.#readAt(position + data.length, length - data.length)]);
    });
    request.catch(() => undefined);
    return request;
  }

  override _read(): void {
    if (this.#pumping) return;
    this.#pumping = true;
    this.#pump().then(
      () => {
        this.#pumping = false;
      },
      (err: unknown) => {
        this.#pumping = false;
        this.destroy(this.session.fail(err));
      },
    );
  }

  async #pump(): Promise<void> {
    for (;;) {
      while (this.#queue.length < READS_IN_FLIGHT && this.#next < this.size) {
        const length = Math.min(READ_CHUNK, this.size - this.#next);
        this.#queue.push(this.#readAt(this.#next, length));
        this.#next += length;
      }
      const head = this.#queue.shift();
      if (!head) {
        await call(this.session, (cb) => this.session.sftp.close(this.handle, (err) => cb(err, undefined)));
        this.push(null);
        return;
      }
      const chunk = await head;
      if (this.destroyed) return;
      if (!this.push(chunk)) return;
    }
  }

  override _destroy(err: Error | null, done: (err?: Error | null) => void): void {
    this.session.release();
    done(err);
  }
}
