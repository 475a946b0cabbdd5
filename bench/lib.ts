/** What the bench sections share: the server process, the API call, the end-of-media watcher. */
import { readFileSync } from 'node:fs';
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { promisify } from 'node:util';

export const exec = promisify(execFile);
export const USER = { id: '4242', key: 'bench-key-4242-abcdef' };

/** The four-rung H.264 ladder of the ladder and quality sections (1080p, 720p, 480p, 360p). */
export const LADDER = [
  { height: 1080, bitrate: '5000k' },
  { height: 720, bitrate: '2800k' },
  { height: 480, bitrate: '1400k' },
  { height: 360, bitrate: '800k' },
] as const;

/**
 * Learns when a media ended from its notify callback: polling GetStatus every few ms would take
 * CPU from FFmpeg on a machine the encode keeps busy, and add up to a polling interval.
 */
export async function endWatcher(): Promise<{ notify: string; ended(mediaId: string): Promise<string>; close(): void }> {
  const waiting = new Map<string, (status: string) => void>();
  const early = new Map<string, string>();
  const receiver = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      res.end('ok');
      const json = new URLSearchParams(Buffer.concat(chunks).toString()).get('json');
      const result = json ? (JSON.parse(json) as { result?: { mediaid?: string; status?: string } }).result : undefined;
      if (!result?.mediaid) return;
      const resolve = waiting.get(result.mediaid);
      if (resolve) resolve(result.status ?? '');
      else early.set(result.mediaid, result.status ?? '');
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  receiver.unref();
  return {
    notify: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/ended`,
    ended: (mediaId) =>
      early.has(mediaId) ? Promise.resolve(early.get(mediaId)!) : new Promise<string>((resolve) => waiting.set(mediaId, resolve)),
    close: () => receiver.close(),
  };
}

/**
 * `npm start` as a child process, so its memory is its own; `env` adds settings.
 * BENCH_SERVER_NODE_ARGS adds Node flags to it alone, e.g. `--cpu-prof` to profile the server under load.
 */
export async function startServer(dataDir: string, port: number, env: Record<string, string> = {}): Promise<ChildProcess> {
  const nodeArgs = (process.env.BENCH_SERVER_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const child = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', 'src/main.ts', 'serve', '--port', String(port)], {
    // Loopback allowed: the ladder section's notify callback goes to the bench itself.
    env: { ...process.env, ENCODERY_DATA_DIR: dataDir, ENCODERY_USERS: `${USER.id}:${USER.key}`, ENCODERY_LOG_LEVEL: 'warn', ENCODERY_ALLOW_PRIVATE_NETWORK: 'true', ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (c: Buffer) => {
      if (c.toString().includes('listening on')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`server exited with ${code}`)));
  });
  return child;
}

export async function call(base: string, query: Record<string, unknown>): Promise<any> {
  const body = 'json=' + encodeURIComponent(JSON.stringify({ query: { userid: USER.id, userkey: USER.key, ...query } }));
  const res = await fetch(base + '/', { method: 'POST', body, headers: { 'content-type': 'application/x-www-form-urlencoded' } });
  const json = (await res.json()) as { response: any };
  if (json.response.errors) throw new Error(json.response.errors.error);
  return json.response;
}

/** A test clip made by FFmpeg (10 s unless told): testsrc2 at 30 fps with a stereo 440 Hz tone. */
export async function makeClip(file: string, width: number, height: number, { seconds = 10, preset = 'veryfast' } = {}): Promise<void> {
  process.stdout.write(`making a ${seconds} s ${height}p test clip… `);
  await exec('ffmpeg', [
    '-hide_banner', '-loglevel', 'error', '-y',
    '-f', 'lavfi', '-i', `testsrc2=size=${width}x${height}:rate=30:duration=${seconds}`,
    '-f', 'lavfi', '-i', `sine=frequency=440:sample_rate=48000:duration=${seconds}`,
    '-c:v', 'libx264', '-preset', preset, '-crf', '18', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-ac', '2', file,
  ]);
  process.stdout.write('done\n');
}

/** The middle value; for an even count, the mean of the two middle ones (not the upper one). */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/**
 * User + system CPU seconds of a process (`own`) and of its finished, reaped children
 * (`children`), from /proc in 1/100 s ticks; zeros when the process is gone.
 */
export function processCpu(pid: number | 'self'): { own: number; children: number } {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return { own: 0, children: 0 };
  }
  // utime, stime, cutime and cstime are fields 14 to 17 of the line: 11 to 14 after the command's `) `.
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ').map(Number);
  return { own: (f[11]! + f[12]!) / 100, children: (f[13]! + f[14]!) / 100 };
}
