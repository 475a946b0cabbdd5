/**
 * Real Encodery processes for the cluster tests and the split bench: `serve` with a role, its
 * stdout lines kept, and whether the Redis they need answers.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { Redis } from 'ioredis';
import { TEST_REDIS_URL } from './needs.ts';

export { redisReachable, TEST_REDIS_URL as REDIS_URL } from './needs.ts';

export interface Proc {
  child: ChildProcess;
  /** Every stdout line so far (pino JSON for the workers). */
  lines: string[];
}

/** `encodery serve …args`; resolves once a stdout line matches `ready`, rejects if it exits first. */
export function spawnEncodery(args: string[], env: Record<string, string>, ready: RegExp): Promise<Proc> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', 'serve', ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const proc: Proc = { child, lines: [] };
  let partial = '';
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (c: Buffer) => {
      const lines = (partial + c.toString()).split('\n');
      partial = lines.pop()!;
      proc.lines.push(...lines);
      if (lines.some((l) => ready.test(l))) resolve(proc);
    });
    child.once('exit', (code) => reject(new Error(`encodery ${args.join(' ')} exited with ${code}: ${proc.lines.join('\n')}`)));
  });
}

/** SIGTERM to every process still running, waiting for each to exit. */
export async function stopProcesses(procs: (Proc | undefined)[]): Promise<void> {
  for (const p of procs) {
    if (p && p.child.exitCode === null && p.child.signalCode === null) {
      p.child.kill('SIGTERM');
      await new Promise((r) => p.child.once('exit', r));
    }
  }
}

/** Removes every Redis key a test's queue prefix made. */
export async function clearQueueKeys(prefix: string, url = TEST_REDIS_URL): Promise<void> {
  const redis = new Redis(url);
  const keys = await redis.keys(`${prefix}:*`);
  if (keys.length > 0) await redis.del(...keys);
  redis.disconnect();
}
