/**
 * GetStatus throughput (section 2): requests per second at 32 keep-alive connections with the
 * store full, against a bare Node HTTP server (a child process too) that answers every POST with
 * the very bytes Encodery answered, measured by the same load generator in the same run,
 * alternating. The ratio is the figure (target ≥ 0.6): it does not depend on how busy the
 * machine happens to be in the way a bare requests-per-second figure does.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { Pool } from 'undici';
import { openSqlite } from '../src/store/db.ts';
import { insertMedia } from '../src/store/repo.ts';
import { USER, median, startServer } from './lib.ts';

const CONNECTIONS = 32;
const ROUNDS = Number(process.env.BENCH_STATUS_ROUNDS ?? 2);

/** Finished media as the pipeline leaves them, `count` of them; their ids are pushed to `ids`. */
export async function fillStore(dataDir: string, count: number, ids: number[]): Promise<void> {
  process.stdout.write(`filling the store with ${count} finished media… `);
  const db = await openSqlite(dataDir);
  for (let i = 0; i < count; i++) {
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
  await db.updateTable('media').set((eb) => ({ started_at: eb.ref('created_at'), downloaded_at: eb.ref('created_at'), finished_at: eb.ref('created_at'), progress: 100 })).execute();
  await db.updateTable('task').set((eb) => ({ status: 'Finished', started_at: eb.ref('created_at'), finished_at: eb.ref('created_at'), progress: 100 })).execute();
  await db.updateTable('destination').set({ status: 'Saved' }).execute();
  await db.destroy();
  process.stdout.write('done\n');
}

const statusBody = (id: number): string =>
  'json=' + encodeURIComponent(JSON.stringify({ query: { userid: USER.id, userkey: USER.key, action: 'GetStatus', mediaid: String(id) } }));

/** Requests per second over `seconds` after a warm-up; a reply that is not a status counts as an error. */
async function load(base: string, ids: number[], seconds: number): Promise<{ rate: number; errors: number }> {
  const pool = new Pool(base, { connections: CONNECTIONS, pipelining: 1 });
  let deadline = 0;
  let done = 0;
  let errors = 0;
  const worker = async (): Promise<void> => {
    while (performance.now() < deadline) {
      const body = statusBody(ids[Math.floor(Math.random() * ids.length)]!);
      const res = await pool.request({ path: '/', method: 'POST', body, headers: { 'content-type': 'application/x-www-form-urlencoded' } });
      const text = await res.body.text();
      if (res.statusCode !== 200 || !text.includes('"status"') || text.includes('"errors"')) errors++;
      done++;
    }
  };
  deadline = performance.now() + 2000;
  await Promise.all(Array.from({ length: CONNECTIONS }, worker));
  done = 0;
  errors = 0;
  deadline = performance.now() + seconds * 1000;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: CONNECTIONS }, worker));
  const rate = done / ((performance.now() - t0) / 1000);
  await pool.close();
  return { rate, errors };
}

/** A plain node:http server in a process of its own that reads each body and answers `reply`. */
async function startBareServer(reply: string): Promise<{ base: string; child: ChildProcess }> {
  const program = `
    const http = require('node:http');
    const bytes = Buffer.from(process.env.BARE_REPLY, 'utf8');
    const server = http.createServer((req, res) => {
      req.on('data', () => {});
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': bytes.length });
        res.end(bytes);
      });
    });
    server.keepAliveTimeout = 72000;
    server.listen(0, '127.0.0.1', () => console.log('listening on ' + server.address().port));
  `;
  const child = spawn(process.execPath, ['-e', program], { env: { ...process.env, BARE_REPLY: reply }, stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout!.on('data', (c: Buffer) => {
      const m = /listening on (\d+)/.exec(c.toString());
      if (m) resolve(Number(m[1]));
    });
    child.once('exit', (code) => reject(new Error(`bare server exited with ${code}`)));
  });
  return { base: `http://127.0.0.1:${port}`, child };
}

export async function statusThroughput(base: string, ids: number[], seconds: number): Promise<void> {
  const sample = await fetch(base + '/', { method: 'POST', body: statusBody(ids[0]!), headers: { 'content-type': 'application/x-www-form-urlencoded' } });
  const reply = await sample.text();
  const bare = await startBareServer(reply);
  const ours: number[] = [];
  const theirs: number[] = [];
  let errors = 0;
  try {
    for (let round = 0; round < ROUNDS; round++) {
      const a = await load(base, ids, seconds);
      const b = await load(bare.base, ids, seconds);
      ours.push(a.rate);
      theirs.push(b.rate);
      errors += a.errors;
      console.log(`  round ${round + 1}: Encodery ${Math.round(a.rate)} req/s, bare node:http ${Math.round(b.rate)} req/s (same ${reply.length}-byte reply)`);
    }
  } finally {
    bare.child.kill('SIGTERM');
  }
  const rate = median(ours);
  console.log(`GetStatus at ${CONNECTIONS} keep-alive connections, ${ids.length} media in the store: ${Math.round(rate)} requests/s, ${errors} errors (target ≥ 3000/s)`);
  console.log(`GetStatus / bare node:http answering the same bytes: ${(rate / median(theirs)).toFixed(2)} (target ≥ 0.6)`);
}

/** BENCH_ONLY=status: section 2 alone, with a server of its own. */
export async function statusSection(dataDir: string, count: number, seconds: number): Promise<void> {
  const ids: number[] = [];
  await fillStore(dataDir, count, ids);
  const port = 30000 + Math.floor(Math.random() * 20000);
  const server = await startServer(dataDir, port);
  try {
    await statusThroughput(`http://127.0.0.1:${port}`, ids, seconds);
  } finally {
    server.kill('SIGTERM');
  }
}
