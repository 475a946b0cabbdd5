/**
 * Section 7: split-and-stitch. A 60 s 720p source encoded to one MP4 by one FFmpeg process,
 * against the same format with multijob_workflow=yes (keyframe-aligned chunks of
 * ENCODERY_SPLIT_CHUNK_SECONDS, 10 s, two encoded at a time, the audio whole, joined without
 * re-encoding). Every FFmpeg process is held to one thread (ENCODERY_FFMPEG_THREADS=1), so the
 * figure shows what two encoders buy over one. Target ≥ 1.7×.
 *
 * With Redis on 127.0.0.1:6379 (BENCH_REDIS_URL) it runs a cluster: one API process and two
 * worker processes (each one chunk at a time), the plain encode taken by one of them. Without
 * Redis it falls back to one embedded process running two chunk encodes at a time and says so.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import { USER, call, endWatcher, exec, startServer } from './lib.ts';
import { redisReachable } from '../test/cluster-processes.ts';

const RUNS = Number(process.env.BENCH_SPLIT_RUNS ?? 2);
const SECONDS = 60;
const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';


function spawnRole(args: string[], env: Record<string, string>, ready: RegExp): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', 'serve', ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    child.stdout!.on('data', (c: Buffer) => {
      const text = c.toString();
      if (ready.test(text)) resolve({ child, url: /listening on (http:\/\/\S+)/.exec(text)?.[1] ?? '' });
    });
    child.once('exit', (code) => reject(new Error(`encodery ${args.join(' ')} exited with ${code}`)));
  });
}

/** One API process and two worker processes on Redis, or one embedded process; each FFmpeg at one thread. */
async function startProcesses(dir: string, files: string): Promise<{ base: string; what: string; stop(): void }> {
  const env = {
    ENCODERY_DATA_DIR: dir, ENCODERY_USERS: `${USER.id}:${USER.key}`, ENCODERY_LOG_LEVEL: 'warn', ENCODERY_ALLOW_PRIVATE_NETWORK: 'true',
    ENCODERY_FFMPEG_THREADS: '1', ENCODERY_SPLIT_CHUNK_SECONDS: '10', ENCODERY_WORKERS: '1', ENCODERY_FILE_ROOTS: files,
  };
  const port = 30000 + Math.floor(Math.random() * 20000);
  if (!(await redisReachable(REDIS_URL))) {
    const server = await startServer(dir, port, { ...env, ENCODERY_SPLIT_CONCURRENCY: '2' });
    return { base: `http://127.0.0.1:${port}`, what: '2 chunk encoders in ONE embedded process (no Redis at ' + REDIS_URL + ')', stop: () => server.kill('SIGTERM') };
  }
  const cluster = { ...env, ENCODERY_REDIS_URL: REDIS_URL, ENCODERY_QUEUE_PREFIX: `encodery-bench-${crypto.randomBytes(4).toString('hex')}`, ENCODERY_SPLIT_CONCURRENCY: '1' };
  const api = await spawnRole(['--role', 'api', '--port', String(port)], cluster, /listening on/);
  const workers = await Promise.all([0, 1].map(() => spawnRole(['--role', 'worker'], cluster, /worker taking media/)));
  return {
    base: api.url, what: '2 worker processes (cluster on Redis), one chunk each at a time',
    stop: () => {
      for (const p of [api, ...workers]) p.child.kill('SIGTERM');
    },
  };
}

export async function splitSection(dataDir: string): Promise<void> {
  const files = path.join(dataDir, 'split');
  await fs.mkdir(files, { recursive: true });
  const source = path.join(files, 'source-720p.mp4');
  process.stdout.write(`making a ${SECONDS} s 720p source… `);
  await exec('ffmpeg', [
    '-hide_banner', '-loglevel', 'error', '-y',
    '-f', 'lavfi', '-i', `testsrc2=size=1280x720:rate=25:duration=${SECONDS}`,
    '-f', 'lavfi', '-i', `sine=frequency=440:sample_rate=48000:duration=${SECONDS}`,
    '-c:v', 'libx264', '-preset', 'ultrafast', '-g', '50', '-pix_fmt', 'yuv420p', '-c:a', 'aac', source,
  ]);
  process.stdout.write('done\n');
  const watcher = await endWatcher();
  const procs = await startProcesses(path.join(files, 'server'), files);
  const base = procs.base;
  const encode = async (name: string, split: boolean): Promise<{ seconds: number; frames: number; how: string }> => {
    const out = path.join(files, `${name}.mp4`);
    const t0 = performance.now();
    const added = await call(base, {
      action: 'AddMedia', source: `file://${source}`, notify: watcher.notify, notify_format: 'json',
      ...(split ? { multijob_workflow: 'yes' } : {}),
      format: { output: 'mp4', bitrate: '2500k', turbo: 'yes', destination: `file://${out}` },
    });
    const status = await watcher.ended(added.MediaID);
    const seconds = (performance.now() - t0) / 1000;
    if (status !== 'Finished') {
      const s = await call(base, { action: 'GetStatus', mediaid: added.MediaID, extended: 'yes' });
      throw new Error(`bench media ended ${status}: ${s.job.description}`);
    }
    const s = await call(base, { action: 'GetStatus', mediaid: added.MediaID, extended: 'yes', include_task_status: 'yes' });
    const states: { message: string }[] = [s.job.format.task_status?.state ?? []].flat();
    const how = states.map((x) => x.message).find((m) => m.includes('joined without re-encoding'));
    if (split && !how) throw new Error('the split media was not split: ' + states.map((x) => x.message).join(' | '));
    const { stdout } = await exec('ffprobe', ['-v', 'error', '-select_streams', 'v:0', '-count_packets', '-show_entries', 'stream=nb_read_packets', '-of', 'csv=p=0', out]);
    return { seconds, frames: Number(stdout.trim()), how: how ?? 'one piece' };
  };
  try {
    const ratios: number[] = [];
    for (let run = 0; run < RUNS; run++) {
      const one = await encode(`one-${run}`, false);
      const split = await encode(`split-${run}`, true);
      ratios.push(one.seconds / split.seconds);
      console.log(`split-and-stitch run ${run + 1}: one process ${one.seconds.toFixed(2)} s (${one.frames} frames), split ${split.seconds.toFixed(2)} s (${split.frames} frames), ${(one.seconds / split.seconds).toFixed(2)}× [${split.how}; load average ${os.loadavg()[0]!.toFixed(2)}]`);
    }
    ratios.sort((a, b) => a - b);
    const median = ratios[Math.floor(ratios.length / 2)]!;
    console.log(`7. split-and-stitch speed-up, ${SECONDS} s 720p, 1 FFmpeg thread each, ${procs.what}: ${median.toFixed(2)}× (median of ${RUNS}; target ≥ 1.7×)`);
  } finally {
    watcher.close();
    procs.stop();
  }
}
