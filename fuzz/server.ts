import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** An Encodery server in a process of its own (embedded mode, temp data dir, a port of its own). */
export interface FuzzServer {
  url: string;
  user: { id: string; key: string };
  filesDir: string;
  maxBodyBytes: number;
  /** Resident memory of the server process now, in bytes. */
  rss(): Promise<number>;
  /** Log lines at error level or above so far. */
  errorLines(): string[];
  /** Why the process ended, if it has. */
  exited(): string | null;
  stop(): Promise<void>;
}

export async function startFuzzServer(maxBodyBytes = 1_048_576): Promise<FuzzServer> {
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'encodery-fuzz-'));
  const filesDir = path.join(dataDir, 'files');
  await fs.mkdir(filesDir, { recursive: true });
  const user = { id: '1001', key: 'fuzz-key-1001-abcdef' };
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', path.join(REPO, 'src/main.ts'), 'serve'], {
    cwd: REPO,
    env: {
      ...process.env,
      ENCODERY_HOST: '127.0.0.1',
      ENCODERY_PORT: '0',
      ENCODERY_DATA_DIR: dataDir,
      ENCODERY_USERS: `${user.id}:${user.key}`,
      ENCODERY_WORKERS: '1',
      ENCODERY_MAX_BODY_BYTES: String(maxBodyBytes),
      ENCODERY_LOG_LEVEL: 'warn',
      ENCODERY_NOTIFY_RETRY_DELAYS_MS: '100,100,100',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const errors: string[] = [];
  let exit: string | null = null;
  let partial = '';
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the server did not start within 60 s')), 60_000);
    child.stdout!.on('data', (c: Buffer) => {
      const lines = (partial + c.toString('utf8')).split('\n');
      partial = lines.pop()!;
      for (const line of lines) {
        const listening = /listening on (http:\/\/\S+)/.exec(line);
        if (listening) {
          clearTimeout(timer);
          resolve(listening[1]!);
        }
        // pino: 50 error, 60 fatal.
        if (/"level":(5|6)\d/.test(line)) errors.push(line.slice(0, 2000));
      }
    });
    child.stderr!.on('data', (c: Buffer) => errors.push(`stderr: ${c.toString('utf8').slice(0, 2000)}`));
    child.once('exit', (code, signal) => {
      exit = `exited with ${signal ?? code}`;
      clearTimeout(timer);
      reject(new Error(`the server ${exit} before listening: ${errors.join('\n')}`));
    });
  });
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const ended = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      const force = setTimeout(() => child.kill('SIGKILL'), 20_000);
      await ended;
      clearTimeout(force);
    }
    await fs.rm(dataDir, { recursive: true, force: true });
  };
  return {
    url,
    user,
    filesDir,
    maxBodyBytes,
    rss: async () => {
      const status = await fs.readFile(`/proc/${child.pid}/status`, 'utf8').catch(() => '');
      return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) * 1024;
    },
    errorLines: () => errors,
    exited: () => exit,
    stop,
  };
}
