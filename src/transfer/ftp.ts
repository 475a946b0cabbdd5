import { createReadStream, promises as fs } from 'node:fs';
import path from 'node:path/posix';
import { Readable, Writable } from 'node:stream';
import tls from 'node:tls';
import net from 'node:net';
import type { Client, FTPError } from 'basic-ftp';
import { toTransferError, type Verb } from './errors.ts';
import { ByteMeter } from './meter.ts';
import {
  CONNECT_TIMEOUT_MS,
  IDLE_TIMEOUT_MS,
  aborted,
  connectAddress,
  credentialsOf,
  hostOf,
  quoteReply,
  remotePath,
  validateRemote,
  whoAt,
  withDeadline,
} from './remote.ts';
import { TransferError, type SchemeModule, type TransferContext } from './types.ts';

/**
 * ftp:// and ftps:// (explicit TLS: AUTH TLS on the control port, 21 by default), always in
 * passive mode. As with curl, the path is relative to the login folder; `//abs/path` is absolute.
 */

// 4xx replies say "try again later" (RFC 959): busy, cannot open data connection, transfer
// aborted, file busy, local error, insufficient storage.
const TRANSIENT_REPLIES = new Set([421, 425, 426, 450, 451, 452]);
// basic-ftp reports a vanished peer with plain errors carrying no code.
const CONNECTION_LOST = /^(Timeout \(|Server sent FIN|Server closed connection|Socket closed due to)/;

function ftpPath(url: URL): string {
  return (remotePath(url) ?? '').slice(1);
}

type BasicFtp = typeof import('basic-ftp');
/** The client library, loaded with the first connection: most process starts never need it. */
let basicFtp: BasicFtp | undefined;
/** A reply the FTP server refused with (none can exist before the library is loaded). */
const isFtpError = (err: unknown): err is FTPError => basicFtp !== undefined && err instanceof basicFtp.FTPError;

function mapError(err: unknown, verb: Verb, url: URL, ctx: TransferContext): TransferError {
  if (err instanceof TransferError) return err;
  if (ctx.signal?.aborted) return aborted(verb, ctx.signal);
  const host = hostOf(url);
  if (isFtpError(err)) {
    const code = err.code;
    const reply = quoteReply(err.message, credentialsOf(url).password);
    if (code === 530) return new TransferError(`${verb} error: the FTP server refused the login (530) for user ${whoAt(url)}`);
    if (TRANSIENT_REPLIES.has(code)) {
      return new TransferError(`${verb} error: the FTP server ${host} is temporarily unable to serve the request (${reply})`, { retryable: true });
    }
    const file = `/${ftpPath(url)}`;
    if (verb === 'Download' && (code === 550 || code === 551)) return new TransferError(`${verb} error: ${file} was not found or is not readable on ${host} (${reply})`);
    if (verb === 'Upload' && (code === 550 || code === 551 || code === 553)) return new TransferError(`${verb} error: the FTP server ${host} refused to store ${file} (${reply})`);
    return new TransferError(`${verb} error: the FTP server ${host} answered ${reply}`, { retryable: code >= 400 && code < 500 });
  }
  const message = err instanceof Error ? err.message : '';
  if (CONNECTION_LOST.test(message)) {
    return new TransferError(`${verb} error: the connection to ${host} was lost`, { retryable: true, cause: err });
  }
  return toTransferError(err, verb, host, ctx.signal);
}

async function tlsOptions(url: URL, ctx: TransferContext): Promise<tls.ConnectionOptions> {
  const host = hostOf(url);
  const caFile = ctx.ftpsCaFile;
  return {
    // The socket may go to the checked IP address; the certificate must still match the name.
    ...(net.isIP(host) === 0 ? { servername: host } : {}),
    ...(caFile ? { ca: [...tls.rootCertificates, await fs.readFile(caFile, 'utf8')] } : {}),
  };
}

/** A logged-in client, closed at once when the media is aborted; `release` closes it. */
async function connect(url: URL, ctx: TransferContext, verb: Verb): Promise<{ client: Client; release: () => void }> {
  if (ctx.signal?.aborted) throw aborted(verb, ctx.signal);
  const { Client } = (basicFtp ??= await import('basic-ftp'));
  const client = new Client(IDLE_TIMEOUT_MS);
  const onAbort = (): void => client.close();
  ctx.signal?.addEventListener('abort', onAbort, { once: true });
  const release = (): void => {
    ctx.signal?.removeEventListener('abort', onAbort);
    client.close();
  };
  try {
    const address = await connectAddress(url, ctx.allowPrivateNetwork);
    const { user, password } = credentialsOf(url);
    const secure = url.protocol === 'ftps:';
    const port = url.port === '' ? 21 : Number(url.port);
    const login = async (): Promise<void> => {
      await client.connect(address, port);
      if (secure) {
        const options = { ...(await tlsOptions(url, ctx)), host: address };
        await client.useTLS(options).catch((err: unknown) => {
          if (isFtpError(err) && err.code >= 500) {
            throw new TransferError(`${verb} error: the FTP server ${hostOf(url)} does not offer explicit TLS (AUTH TLS answered ${err.code}); use ftp:// or ask for FTPS`);
          }
          throw err;
        });
      }
      await client.sendIgnoringError('OPTS UTF8 ON');
      await client.login(user ?? 'anonymous', password ?? 'anonymous@');
      await client.useDefaultSettings();
    };
    await withDeadline(
      login(),
      CONNECT_TIMEOUT_MS,
      () => client.close(),
      `${verb} error: the FTP server ${hostOf(url)} did not answer within ${CONNECT_TIMEOUT_MS / 1000} s`,
    );
    return { client, release };
  } catch (err) {
    release();
    throw mapError(err, verb, url, ctx);
  }
}

export const ftpScheme: SchemeModule = {
  schemes: ['ftp:', 'ftps:'],

  validate(url, role) {
    const passive = url.searchParams.get('passive');
    if (passive !== null && !['', 'yes', 'true', '1'].includes(passive.toLowerCase())) {
      return `Invalid ${role} URL: active FTP (passive=${passive}) is not supported; leave passive out or send passive=yes`;
    }
    return validateRemote(url, role, 'FTP');
  },

  async read(url, ctx) {
    const { client, release } = await connect(url, ctx, 'Download');
    const file = ftpPath(url);
    let size: number | null = null;
    try {
      size = await client.size(file);
    } catch (err) {
      // SIZE is optional (RFC 3659): a server without it still serves RETR, which reports a missing file.
      if (!isFtpError(err) || client.closed) {
        release();
        throw mapError(err, 'Download', url, ctx);
      }
    }
    // RETR starts on the first read: a source refused for its size costs no data connection.
    // The stream ends only once the server confirmed the whole file (226): a data connection
    // that closes early followed by a 426 must fail the download, not truncate the source.
    let started = false;
    let resume: (() => void) | null = null;
    const out = new Readable({
      read() {
        if (!started) {
          started = true;
          client.downloadTo(sink, file).then(
            () => out.push(null),
            (err: unknown) => out.destroy(mapError(err, 'Download', url, ctx)),
          );
        }
        const r = resume;
        resume = null;
        r?.();
      },
      destroy(err, done) {
        release();
        done(err);
      },
    });
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        if (out.push(chunk)) done();
        else resume = done;
      },
    });
    return { stream: out, size };
  },

  async write(url, ctx, source, onProgress) {
    const { client, release } = await connect(url, ctx, 'Upload');
    try {
      const file = ftpPath(url);
      const dir = path.dirname(file);
      // ensureDir creates each missing folder and leaves the client in the deepest one.
      if (dir !== '.' && dir !== '') await client.ensureDir(dir);
      const meter = new ByteMeter(source.size, onProgress);
      const input = createReadStream(source.path);
      input.once('error', (err) => meter.destroy(err));
      await client.uploadFrom(input.pipe(meter), path.basename(file));
    } catch (err) {
      throw mapError(err, 'Upload', url, ctx);
    } finally {
      release();
    }
  },
};
