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
import { USER, call, endWatcher, exec, median, startServer } from './lib.ts';
import { frameCount } from '../test/helpers.ts';
import { redisReachable } from '../test/cluster-processes.ts';

const RUNS = Number(process.env.BENCH_SPLIT_RUNS ?? 3);
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
async function startProcesses(dir: string, files: string): Promise<{ base: string; what: string; pids: number[]; stop(): void }> {
  const env = {
    ENCODERY_DATA_DIR: dir, ENCODERY_USERS: `${USER.id}:${USER.key}`, ENCODERY_LOG_LEVEL: 'warn', ENCODERY_ALLOW_PRIVATE_NETWORK: 'true',
    ENCODERY_FFMPEG_THREADS: '1', ENCODERY_SPLIT_CHUNK_SECONDS: '10', ENCODERY_WORKERS: '1', ENCODERY_FILE_ROOTS: files,
  };
  const port = 30000 + Math.floor(Math.random() * 20000);
  if (!(await redisReachable(REDIS_URL))) {
    const server = await startServer(dir, port, { ...env, ENCODERY_SPLIT_CONCURRENCY: '2' });
    return { base: `http://127.0.0.1:${port}`, what: '2 chunk encoders in ONE embedded process (no Redis at ' + REDIS_URL + ')', pids: [server.pid!], stop: () => server.kill('SIGTERM') };
  }
  const cluster = { ...env, ENCODERY_REDIS_URL: REDIS_URL, ENCODERY_QUEUE_PREFIX: `encodery-bench-${crypto.randomBytes(4).toString('hex')}`, ENCODERY_SPLIT_CONCURRENCY: '1' };
  const api = await spawnRole(['--role', 'api', '--port', String(port)], cluster, /listening on/);
  const workers = await Promise.all([0, 1].map(() => spawnRole(['--role', 'worker'], cluster, /worker taking media/)));
  return {
    base: api.url, what: '2 worker processes (cluster on Redis), one chunk each at a time', pids: [api, ...workers].map((p) => p.child.pid!),
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
  const encode = async (name: string, split: boolean): Promise<{ seconds: number; frames: number; how: string; cpu: string; phases: string; ffmpegCpu: number; log: LogLine[] }> => {
    const out = path.join(files, `${name}.mp4`);
    const cpu0 = await Promise.all(procs.pids.map((pid) => processCpu([pid])));
    const t0 = performance.now();
    const added = await call(base, {
      action: 'AddMedia', source: `file://${source}`, notify: watcher.notify, notify_format: 'json',
      ...(split ? { multijob_workflow: 'yes' } : {}),
      format: { output: 'mp4', bitrate: '2500k', turbo: 'yes', destination: `file://${out}` },
    });
    const status = await watcher.ended(added.MediaID);
    const seconds = (performance.now() - t0) / 1000;
    const encoderyCpu = (await Promise.all(procs.pids.map((pid) => processCpu([pid])))).map((c, i) => c - cpu0[i]!);
    if (status !== 'Finished') {
      const s = await call(base, { action: 'GetStatus', mediaid: added.MediaID, extended: 'yes' });
      throw new Error(`bench media ended ${status}: ${s.job.description}`);
    }
    const s = await call(base, { action: 'GetStatus', mediaid: added.MediaID, extended: 'yes', include_task_status: 'yes' });
    const states: { message: string }[] = [s.job.format.task_status?.state ?? []].flat();
    const how = states.map((x) => x.message).find((m) => m.includes('joined without re-encoding'));
    if (split && !how) throw new Error('the split media was not split: ' + states.map((x) => x.message).join(' | '));
    const log = await taskLog(path.join(files, 'server'), Number(added.MediaID));
    const ffmpegCpu = Number(/, ([\d.]+) CPU s\)/.exec(states.map((x) => x.message).join('\n'))?.[1] ?? NaN);
    const cpu = `CPU: FFmpeg ${ffmpegCpu.toFixed(1)} s, Encodery processes ${encoderyCpu.reduce((a, b) => a + b, 0).toFixed(1)} s (${encoderyCpu.map((c) => c.toFixed(2)).join(' / ')})`;
    return { seconds, frames: await frameCount(out), how: how ?? 'one piece', cpu, phases: split ? splitPhases(log) : '', ffmpegCpu, log };
  };
  try {
    const ratios: number[] = [];
    const estimates: number[] = [];
    for (let run = 0; run < RUNS; run++) {
      const one = await encode(`one-${run}`, false);
      const split = await encode(`split-${run}`, true);
      ratios.push(one.seconds / split.seconds);
      console.log(`split-and-stitch run ${run + 1}: one process ${one.seconds.toFixed(2)} s (${one.frames} frames), split ${split.seconds.toFixed(2)} s (${split.frames} frames), ${(one.seconds / split.seconds).toFixed(2)}× [${split.how}; load average ${os.loadavg()[0]!.toFixed(2)}]`);
      console.log(`  one process ${one.cpu}; split ${split.cpu}`);
      console.log(`  split phases: ${split.phases}`);
      const est = idleEstimate(one, split);
      estimates.push(est.one / est.split);
      console.log(`  CPU-path estimate for an idle machine (each FFmpeg on a core of its own): one process ${est.one.toFixed(2)} s, split ${est.split.toFixed(2)} s, ${(est.one / est.split).toFixed(2)}×`);
    }
    console.log(`7. split-and-stitch speed-up, ${SECONDS} s 720p, 1 FFmpeg thread each, ${procs.what}: ${median(ratios).toFixed(2)}× (median of ${RUNS}; target ≥ 1.7×; load average ${os.loadavg()[0]!.toFixed(2)} on ${os.cpus().length} cores); CPU-path estimate ${median(estimates).toFixed(2)}×`);
  } finally {
    watcher.close();
    procs.stop();
  }
}

/** utime + stime of these processes, in seconds (Linux /proc; 0 elsewhere). */
async function processCpu(pids: number[]): Promise<number> {
  let ticks = 0;
  for (const pid of pids) {
    const stat = await fs.readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    ticks += Number(fields[11] ?? 0) + Number(fields[12] ?? 0);
  }
  return ticks / 100;
}

type LogLine = { at: number; message: string };

/**
 * What the walls would be with every FFmpeg on a core of its own (a shared, loaded machine
 * stretches them): FFmpeg CPU seconds on the critical path plus the measured fixed phases. One
 * process: before FFmpeg + its CPU + delivery. Split: before the chunks + the busiest worker's
 * chunk CPU + half the audio's (it runs beside the chunks on the same cores) + the join's CPU +
 * delivery.
 */
function idleEstimate(one: { ffmpegCpu: number; log: LogLine[] }, split: { ffmpegCpu: number; log: LogLine[] }): { one: number; split: number } {
  const at = (log: LogLine[], re: RegExp): number => log.find((l) => re.test(l.message))?.at ?? NaN;
  const oneFixed = at(one.log, /^Running: /) + (at(one.log, /^Status: Finished/) - at(one.log, /^Status: Saving/));
  const perWorker = new Map<string, number>();
  let chunksCpu = 0;
  for (const l of split.log) {
    const m = /^Encoded chunk .* \(([\d.]+) CPU s\) on (\S+)$/.exec(l.message);
    if (!m) continue;
    perWorker.set(m[2]!, (perWorker.get(m[2]!) ?? 0) + Number(m[1]));
    chunksCpu += Number(m[1]);
  }
  const audioCpu = Number(/^Encoded the audio .* \(([\d.]+) CPU s\)/.exec(split.log.find((l) => l.message.startsWith('Encoded the audio'))?.message ?? '')?.[1] ?? 0);
  const joinCpu = Math.max(0, split.ffmpegCpu - chunksCpu - audioCpu);
  const splitFixed = at(split.log, /^Split into .* encoding them/) + (at(split.log, /^Status: Finished/) - at(split.log, /joined without re-encoding$/));
  return { one: (oneFixed / 1000) + one.ffmpegCpu, split: (splitFixed / 1000) + Math.max(...perWorker.values()) + audioCpu / 2 + joinCpu };
}

/** The media's task log with millisecond times, from the store the bench processes share (SQLite in their data dir). */
async function taskLog(dataDir: string, mediaId: number): Promise<LogLine[]> {
  const Database = (await import('better-sqlite3')).default;
  const db = new Database(path.join(dataDir, 'encodery.sqlite'), { readonly: true });
  try {
    const media = db.prepare('select created_at from media where id = ?').get(mediaId) as { created_at: number };
    const rows = db.prepare('select l.at, l.message from task_log l join task t on t.id = l.task_id where t.media_id = ? order by l.id').all(mediaId) as { at: number; message: string }[];
    return rows.map((r) => ({ at: r.at - media.created_at, message: r.message }));
  } finally {
    db.close();
  }
}

/** Where a split media's time went: before the chunks, the chunks (and each worker's busy time), the audio, the join, the delivery. */
function splitPhases(log: LogLine[]): string {
  const at = (re: RegExp, last = false): number => (last ? [...log].reverse() : log).find((l) => re.test(l.message))?.at ?? NaN;
  const s = (ms: number): string => (ms / 1000).toFixed(2);
  const planned = at(/^Split into .* encoding them/);
  const lastChunk = at(/^Encoded chunk /, true);
  const audio = at(/^Encoded the audio/);
  const joined = at(/joined without re-encoding$/);
  const finished = at(/^Status: Finished/);
  const busy = new Map<string, number>();
  for (const l of log) {
    const m = /^Encoded chunk .* in ([\d.]+) s .*on (\S+)$/.exec(l.message);
    if (m) busy.set(m[2]!, (busy.get(m[2]!) ?? 0) + Number(m[1]));
  }
  return [
    `before the chunks (fetch, probe, keyframe scan) ${s(planned)} s`,
    `chunks ${s(lastChunk - planned)} s (busy per worker: ${[...busy.values()].map((v) => v.toFixed(2)).join(' / ')} s)`,
    `audio done at +${s(audio - planned)} s`,
    `join ${s(joined - Math.max(lastChunk, audio))} s`,
    `delivery ${s(finished - joined)} s`,
  ].join('; ');
}
