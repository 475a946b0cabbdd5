/**
 * `npm run bench`: the core issue's figures, measured against a real server process.
 *
 * 1. Overhead: a 10 s 720p clip to one MP4, AddMedia-to-Finished wall time divided by the wall
 *    time of the exact FFmpeg command the task ran (from extended GetStatus), median of 5
 *    alternating runs. Target ≤ 1.10.
 * 2. GetStatus requests per second at 32 concurrent connections with 10,000 media in the store.
 *    Target ≥ 3,000/s on a 2-core machine.
 * 3. The server's peak RSS (VmHWM).
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Pool } from 'undici';
import { openSqlite } from '../src/store/db.ts';
import { insertMedia } from '../src/store/repo.ts';

const exec = promisify(execFile);
const USER = { id: '4242', key: 'bench-key-4242-abcdef' };
const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const STATUS_SECONDS = Number(process.env.BENCH_STATUS_SECONDS ?? 10);
const STORE_MEDIA = 10_000;

async function main(): Promise<void> {
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'encodery-bench-'));
  const files = path.join(dataDir, 'files');
  await fs.mkdir(files, { recursive: true });
  const clip = path.join(files, 'clip-720p.mp4');
  process.stdout.write('making a 10 s 720p test clip… ');
  await exec('ffmpeg', [
    '-hide_banner', '-loglevel', 'error', '-y',
    '-f', 'lavfi', '-i', 'testsrc2=size=1280x720:rate=30:duration=10',
    '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000:duration=10',
    '-c:v', 'libx264', '-preset', 'veryfast', '-crf', '18', '-pix_fmt', 'yuv420p', '-c:a', 'aac', clip,
  ]);
  process.stdout.write('done\n');

  process.stdout.write(`filling the store with ${STORE_MEDIA} finished media… `);
  const db = await openSqlite(dataDir);
  const ids: number[] = [];
  for (let i = 0; i < STORE_MEDIA; i++) {
    ids.push(
      await insertMedia(db, {
        userId: USER.id,
        sources: [`https://example.com/videos/${i}.mp4`],
        options: '{}',
        notifyUrl: null,
        benchmark: false,
        version: 'bench',
        status: 'Finished',
        tasks: [{ output: 'mp4', format: JSON.stringify({ output: 'mp4', size: '0x720', bitrate: '2500k' }), destinations: [`https://example.com/out/${i}.mp4`] }],
      }),
    );
  }
  // As the pipeline leaves them: every finished media has its timestamps.
  await db.updateTable('media').set((eb) => ({ started_at: eb.ref('created_at'), downloaded_at: eb.ref('created_at'), finished_at: eb.ref('created_at'), progress: 100 })).execute();
  await db.updateTable('task').set((eb) => ({ status: 'Finished', started_at: eb.ref('created_at'), finished_at: eb.ref('created_at'), progress: 100 })).execute();
  await db.updateTable('destination').set({ status: 'Saved' }).execute();
  await db.destroy();
  process.stdout.write('done\n');

  const port = 30000 + Math.floor(Math.random() * 20000);
  const server = await startServer(dataDir, port);
  const base = `http://127.0.0.1:${port}`;
  try {
    // 1. Overhead against the bare FFmpeg command.
    const ratios: number[] = [];
    let command = '';
    const runOurs = async (run: number): Promise<number> => {
      const t0 = performance.now();
      const added = await call(base, { action: 'AddMedia', source: `file://${clip}`, format: { output: 'mp4', destination: `file://${files}/out-${run}.mp4` } });
      for (;;) {
        const s = await call(base, { action: 'GetStatus', mediaid: added.MediaID, extended: 'yes' });
        if (s.job.status === 'Finished') {
          command ||= s.job.format.command;
          return (performance.now() - t0) / 1000;
        }
        if (s.job.status === 'Error') throw new Error(`bench media failed: ${s.job.description}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    const runTheirs = async (): Promise<number> => {
      // A finished media's scratch copy of its source and its delivered output folder are gone;
      // put both places back (untimed) so the very same command line can run.
      const output = command.trim().split(/\s+/).pop()!.replace(/^'|'$/g, '').replace(/^file:/, '');
      await fs.mkdir(path.dirname(output), { recursive: true });
      const input = /-i file:(\S+)/.exec(command)![1]!;
      await fs.mkdir(path.dirname(input), { recursive: true });
      await fs.copyFile(clip, input);
      const t0 = performance.now();
      await exec('sh', ['-c', command + ' >/dev/null 2>&1']);
      return (performance.now() - t0) / 1000;
    };
    await runOurs(-1); // warm-up, and the command line to compare against
    console.log(`  the task ran: ${command}`);
    for (let run = 0; run < RUNS; run++) {
      let ours: number;
      let theirs: number;
      if (run % 2 === 0) {
        ours = await runOurs(run);
        theirs = await runTheirs();
      } else {
        theirs = await runTheirs();
        ours = await runOurs(run);
      }
      ratios.push(ours / theirs);
      console.log(`  run ${run + 1}: Encodery ${ours.toFixed(2)} s, bare ffmpeg ${theirs.toFixed(2)} s, ratio ${(ours / theirs).toFixed(3)}`);
    }
    const median = [...ratios].sort((a, b) => a - b)[Math.floor(ratios.length / 2)]!;
    console.log(`AddMedia-to-Finished / bare FFmpeg, median of ${RUNS}: ${median.toFixed(3)} (target ≤ 1.10)`);

    // 2. GetStatus throughput.
    const pool = new Pool(base, { connections: 32, pipelining: 1 });
    let deadline = 0;
    let done = 0;
    let errors = 0;
    const worker = async () => {
      while (performance.now() < deadline) {
        const id = ids[Math.floor(Math.random() * ids.length)]!;
        const body = 'json=' + encodeURIComponent(JSON.stringify({ query: { userid: USER.id, userkey: USER.key, action: 'GetStatus', mediaid: String(id) } }));
        const res = await pool.request({ path: '/', method: 'POST', body, headers: { 'content-type': 'application/x-www-form-urlencoded' } });
        const text = await res.body.text();
        if (res.statusCode !== 200 || text.includes('"errors"')) errors++;
        done++;
      }
    };
    // Warm up first (connections, JIT, caches), then measure the steady state.
    deadline = performance.now() + 3000;
    await Promise.all(Array.from({ length: 32 }, worker));
    done = 0;
    errors = 0;
    deadline = performance.now() + STATUS_SECONDS * 1000;
    const t0 = performance.now();
    await Promise.all(Array.from({ length: 32 }, worker));
    const rate = done / ((performance.now() - t0) / 1000);
    await pool.close();
    console.log(`GetStatus at 32 concurrent connections, ${STORE_MEDIA} media in the store: ${Math.round(rate)} requests/s, ${errors} errors (target ≥ 3000/s)`);

    // 3. Peak memory.
    const status = await fs.readFile(`/proc/${server.pid}/status`, 'utf8');
    const hwm = /VmHWM:\s+(\d+) kB/.exec(status)?.[1];
    console.log(`server peak RSS: ${hwm ? (Number(hwm) / 1024).toFixed(1) : '?'} MiB`);
  } finally {
    server.kill('SIGTERM');
    await fs.rm(dataDir, { recursive: true, force: true });
  }
}

async function startServer(dataDir: string, port: number): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', 'serve', '--port', String(port)], {
    env: { ...process.env, ENCODERY_DATA_DIR: dataDir, ENCODERY_USERS: `${USER.id}:${USER.key}`, ENCODERY_LOG_LEVEL: 'warn' },
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

async function call(base: string, query: Record<string, unknown>): Promise<any> {
  const body = 'json=' + encodeURIComponent(JSON.stringify({ query: { userid: USER.id, userkey: USER.key, ...query } }));
  const res = await fetch(base + '/', { method: 'POST', body, headers: { 'content-type': 'application/x-www-form-urlencoded' } });
  const json = (await res.json()) as { response: any };
  if (json.response.errors) throw new Error(json.response.errors.error);
  return json.response;
}

await main();
