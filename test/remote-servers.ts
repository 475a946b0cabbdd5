/**
 * Real FTP(S), SSH/SFTP, S3 (s3rver) and Azure Blob (Azurite) servers for the transfer tests, on
 * free loopback ports over temp folders.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, promises as fs } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { FtpSrv } from 'ftp-srv';
import S3rver from 's3rver';
// s3rver's own account registry: lets a test use a secret that needs percent-encoding.
import { DUMMY_ACCOUNT } from 's3rver/lib/models/account.js';
import ssh2 from 'ssh2';
import type { Connection } from 'ssh2';
import { exec, tempDir } from './helpers.ts';
import { freePort } from './ports.ts';
export { freePort };

export const FTP_USER = 'bob';
/** Characters that must be percent-encoded in a URL, to check the decoding. */
export const FTP_PASSWORD = 'pa:ss/w@rd';
export const enc = encodeURIComponent;

export async function sha256(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

export async function randomFile(dir: string, name: string, bytes: number): Promise<string> {
  const file = path.join(dir, name);
  const handle = await fs.open(file, 'w');
  for (let left = bytes; left > 0; left -= 1 << 20) await handle.write(randomBytes(Math.min(left, 1 << 20)));
  await handle.close();
  return file;
}

export interface Cert {
  key: string;
  cert: string;
  certFile: string;
}

/** A self-signed certificate for 127.0.0.1 and localhost. */
export async function selfSigned(dir: string): Promise<Cert> {
  const keyFile = path.join(dir, 'key.pem');
  const certFile = path.join(dir, 'cert.pem');
  await exec('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', keyFile, '-out', certFile, '-days', '1', '-subj', '/CN=localhost',
    '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost',
  ]);
  return { key: await fs.readFile(keyFile, 'utf8'), cert: await fs.readFile(certFile, 'utf8'), certFile };
}

export interface FtpServer {
  port: number;
  root: string;
  /** Whether each login so far came over TLS. */
  logins: { user: string; secure: boolean }[];
  close(): Promise<void>;
}

// ftp-srv logs through a bunyan-shaped object; the tests want silence.
const QUIET: Record<string, unknown> = { child: () => QUIET };
for (const level of ['trace', 'debug', 'info', 'warn', 'error', 'fatal']) QUIET[level] = () => undefined;

export async function startFtp(opts: { tls?: Cert } = {}): Promise<FtpServer> {
  const root = await tempDir('encodery-ftp-');
  const port = await freePort();
  const srv = new FtpSrv({
    url: `ftp://127.0.0.1:${port}`,
    pasv_url: '127.0.0.1',
    pasv_min: 40000,
    pasv_max: 60000,
    anonymous: false,
    log: QUIET,
    ...(opts.tls ? { tls: { key: opts.tls.key, cert: opts.tls.cert } } : {}),
  });
  const logins: FtpServer['logins'] = [];
  srv.on('login', ({ connection, username, password }, resolve, reject) => {
    if (username === FTP_USER && password === FTP_PASSWORD) {
      logins.push({ user: username, secure: Boolean((connection as { secure?: boolean }).secure) });
      resolve({ root });
    } else reject(new Error('Login incorrect'));
  });
  await srv.listen();
  return {
    port,
    root,
    logins,
    close: async () => {
      await srv.close();
      await fs.rm(root, { recursive: true, force: true });
    },
  };
}

/** A TCP server that misbehaves: drops every connection at once, says it is busy (421), or never says a word. */
export async function startRude(kind: 'drop' | 'busy' | 'silent'): Promise<{ port: number; connections: () => number; close(): Promise<void> }> {
  let count = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    count++;
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
    if (kind === 'drop') socket.resetAndDestroy();
    if (kind === 'busy') socket.end('421 Too many users, try later\r\n');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    connections: () => count,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}

// ---------------------------------------------------------------- SSH / SFTP

export const SSH_USER = 'alice';
export const SSH_PASSWORD = 'op:en/s@same';

export interface SshServer {
  port: number;
  root: string;
  /** How each successful login authenticated. */
  logins: string[];
  /** `keytype base64` of the server's host key, as in known_hosts. */
  hostKey: string;
  close(): Promise<void>;
}

const { Server, utils } = ssh2;
const { STATUS_CODE, OPEN_MODE } = utils.sftp;

/**
 * An SSH server whose SFTP subsystem serves `root` as `/` (open, read, write, fstat, stat,
 * lstat, mkdir, close): just what the client uses. Password and public-key logins.
 */
export async function startSsh(opts: { clientPublicKey?: string; /** answers READs with at most this many bytes, as some servers do */ maxRead?: number } = {}): Promise<SshServer> {
  const root = await tempDir('encodery-sftp-');
  const hostPair = utils.generateKeyPairSync('ed25519');
  const hostKey = hostPair.private;
  const allowedKey = opts.clientPublicKey ? utils.parseKey(opts.clientPublicKey) : null;
  if (allowedKey instanceof Error) throw allowedKey;
  const logins: string[] = [];
  const clients = new Set<Connection>();
  const local = (p: string): string | null => {
    const full = path.resolve(root, `.${path.posix.resolve('/', p)}`);
    return full === root || full.startsWith(root + path.sep) ? full : null;
  };
  const server = new Server({ hostKeys: [hostKey] }, (client) => {
    clients.add(client);
    client.on('close', () => clients.delete(client));
    client.on('error', () => undefined);
    client.on('authentication', (ctx) => {
      if (ctx.username !== SSH_USER) return ctx.reject();
      if (ctx.method === 'password' && ctx.password === SSH_PASSWORD) {
        logins.push('password');
        return ctx.accept();
      }
      if (ctx.method === 'publickey' && allowedKey && ctx.key.algo === allowedKey.type && ctx.key.data.equals(allowedKey.getPublicSSH())) {
        if (!ctx.signature) return ctx.accept(); // the client asks whether this key would do
        if (allowedKey.verify(ctx.blob!, ctx.signature, ctx.hashAlgo) === true) {
          logins.push('publickey');
          return ctx.accept();
        }
      }
      ctx.reject(['password', 'publickey']);
    });
    client.on('ready', () => {
      client.on('session', (accept) => {
        accept().on('sftp', (acceptSftp) => {
          const sftp = acceptSftp();
          const handles = new Map<number, fs.FileHandle>();
          let next = 0;
          const fail = (id: number, err: unknown) => {
            const code = (err as NodeJS.ErrnoException).code;
            sftp.status(id, code === 'ENOENT' ? STATUS_CODE.NO_SUCH_FILE : code === 'EACCES' ? STATUS_CODE.PERMISSION_DENIED : STATUS_CODE.FAILURE);
          };
          const attrs = (s: import('node:fs').Stats) => ({ mode: s.mode, uid: s.uid, gid: s.gid, size: s.size, atime: s.atimeMs / 1000, mtime: s.mtimeMs / 1000 });
          const handleOf = (buf: Buffer) => handles.get(buf.readUInt32BE(0));
          // A client that goes away mid-transfer (an aborted download) sends no CLOSE: its files are closed here, as a real server does.
          sftp.on('close', () => {
            for (const h of handles.values()) void h.close().catch(() => {});
            handles.clear();
          });
          sftp.on('OPEN', (id, filename, flags) => {
            const file = local(filename);
            if (!file) return sftp.status(id, STATUS_CODE.PERMISSION_DENIED);
            const mode = flags & OPEN_MODE.WRITE ? (flags & OPEN_MODE.TRUNC ? 'w' : 'r+') : 'r';
            fs.open(file, mode).then((h) => {
              const n = next++;
              handles.set(n, h);
              const b = Buffer.alloc(4);
              b.writeUInt32BE(n);
              sftp.handle(id, b);
            }, (err) => fail(id, err));
          });
          sftp.on('READ', (id, handle, offset, length) => {
            const h = handleOf(handle);
            if (!h) return sftp.status(id, STATUS_CODE.FAILURE);
            const n = Math.min(length, opts.maxRead ?? length);
            const buf = Buffer.alloc(n);
            h.read(buf, 0, n, offset).then(({ bytesRead }) => {
              if (bytesRead === 0) sftp.status(id, STATUS_CODE.EOF);
              else sftp.data(id, buf.subarray(0, bytesRead));
            }, (err) => fail(id, err));
          });
          sftp.on('WRITE', (id, handle, offset, data) => {
            const h = handleOf(handle);
            if (!h) return sftp.status(id, STATUS_CODE.FAILURE);
            h.write(data, 0, data.length, offset).then(() => sftp.status(id, STATUS_CODE.OK), (err) => fail(id, err));
          });
          sftp.on('FSTAT', (id, handle) => {
            const h = handleOf(handle);
            if (!h) return sftp.status(id, STATUS_CODE.FAILURE);
            h.stat().then((s) => sftp.attrs(id, attrs(s)), (err) => fail(id, err));
          });
          const stat = (id: number, p: string) => {
            const file = local(p);
            if (!file) return sftp.status(id, STATUS_CODE.PERMISSION_DENIED);
            fs.stat(file).then((s) => sftp.attrs(id, attrs(s)), (err) => fail(id, err));
          };
          sftp.on('STAT', stat);
          sftp.on('LSTAT', stat);
          sftp.on('MKDIR', (id, p) => {
            const dir = local(p);
            if (!dir) return sftp.status(id, STATUS_CODE.PERMISSION_DENIED);
            fs.mkdir(dir).then(() => sftp.status(id, STATUS_CODE.OK), (err) => fail(id, err));
          });
          sftp.on('CLOSE', (id, handle) => {
            const h = handleOf(handle);
            if (!h) return sftp.status(id, STATUS_CODE.FAILURE);
            handles.delete(handle.readUInt32BE(0));
            h.close().then(() => sftp.status(id, STATUS_CODE.OK), (err) => fail(id, err));
          });
        });
      });
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    root,
    logins,
    hostKey: hostPair.public.split(' ').slice(0, 2).join(' '),
    close: async () => {
      for (const c of clients) c.end();
      await new Promise((r) => server.close(r));
      await fs.rm(root, { recursive: true, force: true });
    },
  };
}

// ---------------------------------------------------------------- S3 (s3rver)

/** A real S3 server holding `buckets`, which accepts `key`/`secret` (as well as its own defaults). */
export async function startS3(dir: string, key: string, secret: string, buckets: string[]): Promise<{ s3: S3rver; host: string; endpoint: string; close(): Promise<void> }> {
  DUMMY_ACCOUNT.createKeyPair(key, secret);
  const s3 = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory: path.join(dir, 'store'), configureBuckets: buckets.map((name) => ({ name })) });
  const { port } = await s3.run();
  const host = `127.0.0.1:${port}`;
  return { s3, host, endpoint: `http://${host}`, close: () => s3.close() };
}

// ---------------------------------------------------------------- Azure Blob (Azurite)

/** Azurite's well-known development account (public, documented by Microsoft). */
export const AZURITE_ACCOUNT = 'devstoreaccount1';
export const AZURITE_KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

async function untilListening(port: number, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`azurite exited with ${child.exitCode}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1', () => {
        s.end();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error('azurite did not start');
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function startAzurite(dir: string): Promise<{ azurite: ChildProcess; endpoint: string }> {
  const port = await freePort();
  const azurite = spawn(
    path.resolve('node_modules/.bin/azurite-blob'),
    ['--blobHost', '127.0.0.1', '--blobPort', String(port), '--location', path.join(dir, 'azurite'), '--silent', '--skipApiVersionCheck', '--loose', '--disableTelemetry'],
    { stdio: 'ignore' },
  );
  await untilListening(port, azurite);
  return { azurite, endpoint: `http://127.0.0.1:${port}/${AZURITE_ACCOUNT}` };
}

// Azurite writes its files until it exits: the folder is removed only after that.
export async function stopAzurite(azurite: ChildProcess | undefined): Promise<void> {
  if (!azurite || azurite.exitCode !== null || azurite.signalCode !== null) return;
  const exited = new Promise((r) => azurite.once('exit', r));
  azurite.kill();
  await exited;
}
