/**
 * GetStatus throughput (issue 15 §5): requests per second at 32 keep-alive connections with
 * 10,000 media stored, against a bare Node HTTP server (a child process too) that answers every
 * POST with the very bytes Encodery answered, measured by the same load generator in the same
 * run, alternating. The ratio is the figure (target ≥ 0.6): it does not depend on how busy the
 * machine happens to be in the way a bare requests-per-second figure does. The CPU time each
 * server spends per request (from /proc) is printed beside it: it depends on load even less.
 *
 * The load is spread over every stored media, half in XML and half in JSON, a quarter of it for
 * the extended reply. A share of the media is running, and a writer in this process (another
 * process than the server, as a cluster's worker is) moves their progress while the load runs;
 * a share of the requests asks for those.
 * Before measuring, every media is asked for once, as clients that poll have done by then.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { Pool } from 'undici';
import { openSqlite } from '../src/store/db.ts';
import type { Db } from '../src/store/db.ts';
import { insertMedia } from '../src/store/repo.ts';
import { USER, median, processCpu, startServer } from './lib.ts';

const CONNECTIONS = 32;
const ROUNDS = Number(process.env.BENCH_STATUS_ROUNDS ?? 2);
/** One media in this many is running. */
const RUNNING_EVERY = 100;
/** The share of requests that ask for a running media (clients poll the media they wait for). */
const RUNNING_SHARE = 0.2;
/** Each running media's progress moves this often, as a worker's progress tracker writes it. */
const PROGRESS_EVERY_MS = 1000;
/** The share of requests for the extended reply (the rest ask for the simple one). */
const EXTENDED_SHARE = 0.25;

/** The media the load asks for: all of them, and those of them that are running. */
export interface StatusMedia {
  all: number[];
  running: number[];
}

/** `count` finished media as the pipeline leaves them; their ids are pushed to `ids`. */
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

/** The media of `ids` the bench sets running (progressWriter): one in RUNNING_EVERY. */
export const runningOf = (ids: number[]): StatusMedia => ({ all: ids, running: ids.filter((_, i) => i % RUNNING_EVERY === 0) });

/**
 * Sets one media in RUNNING_EVERY running, then moves their progress, each once per
 * PROGRESS_EVERY_MS, spread over the period; stop() ends it. It starts once the server runs, as
 * a worker elsewhere would, so the server does not take these media up as its own unfinished ones.
 */
async function progressWriter(dataDir: string, running: number[]): Promise<{ stop(): Promise<number> }> {
  const db: Db = await openSqlite(dataDir);
  await db.updateTable('media').set({ status: 'Processing', finished_at: null, progress: 10, worker_id: 'bench-worker', lease_until: Date.now() + 3600_000 }).where('id', 'in', running).execute();
  await db.updateTable('task').set({ status: 'Processing', finished_at: null, progress: 10 }).where('media_id', 'in', running).execute();
  const slices = 10;
  let tick = 0;
  let writes = 0;
  let busy = Promise.resolve();
  const timer = setInterval(() => {
    const slice = running.filter((_, i) => i % slices === tick % slices);
    const progress = 10 + (tick % 800) / 10;
    tick++;
    busy = busy.then(async () => {
      await db.transaction().execute(async (trx) => {
        await trx.updateTable('media').set({ progress, time_left: 90 - Math.floor(progress) }).where('id', 'in', slice).execute();
        await trx.updateTable('task').set({ progress, time_left: 90 - Math.floor(progress) }).where('media_id', 'in', slice).execute();
      });
      writes += slice.length;
    });
  }, PROGRESS_EVERY_MS / slices);
  return {
    async stop() {
      clearInterval(timer);
      await busy;
      await db.destroy();
      return writes;
    },
  };
}

type Format = 'xml' | 'json';

/** A GetStatus body; `extended` asks for the extended reply (7.8 rule 14). */
const statusBody = (id: number, format: Format, extended = false): string => {
  const more = extended ? { extended: 'yes' } : {};
  return format === 'json'
    ? 'json=' + encodeURIComponent(JSON.stringify({ query: { userid: USER.id, userkey: USER.key, action: 'GetStatus', mediaid: String(id), ...more } }))
    : 'xml=' + encodeURIComponent(`<?xml version="1.0"?><query><userid>${USER.id}</userid><userkey>${USER.key}</userkey><action>GetStatus</action><mediaid>${id}</mediaid>${extended ? '<extended>yes</extended>' : ''}</query>`);
};

/** A status reply, not an error, in the format asked for. */
const isStatus = (text: string, format: Format): boolean =>
  format === 'json' ? text.includes('"status"') && !text.includes('"errors"') : text.includes('<status>') && !text.includes('<errors>');

const pick = <T>(list: T[]): T => list[Math.floor(Math.random() * list.length)]!;


/** Requests per second over `seconds` after a warm-up, and the server's CPU µs per request; a reply that is not a status counts as an error. */
async function load(base: string, pid: number, media: StatusMedia, seconds: number): Promise<{ rate: number; cpuPerRequest: number; errors: number }> {
  const pool = new Pool(base, { connections: CONNECTIONS, pipelining: 1 });
  let deadline = 0;
  let done = 0;
  let errors = 0;
  const ask = async (id: number, format: Format, extended: boolean): Promise<void> => {
    const res = await pool.request({ path: '/', method: 'POST', body: statusBody(id, format, extended), headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    const text = await res.body.text();
    if (res.statusCode !== 200 || !isStatus(text, format)) errors++;
    done++;
  };
  const worker = async (): Promise<void> => {
    while (performance.now() < deadline) {
      const id = media.running.length > 0 && Math.random() < RUNNING_SHARE ? pick(media.running) : pick(media.all);
      await ask(id, Math.random() < 0.5 ? 'xml' : 'json', Math.random() < EXTENDED_SHARE);
    }
  };
  deadline = performance.now() + 2000;
  await Promise.all(Array.from({ length: CONNECTIONS }, worker));
  done = 0;
  errors = 0;
  deadline = performance.now() + seconds * 1000;
  const cpu0 = processCpu(pid).own * 1e6;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: CONNECTIONS }, worker));
  const rate = done / ((performance.now() - t0) / 1000);
  const cpuPerRequest = (processCpu(pid).own * 1e6 - cpu0) / done;
  await pool.close();
  return { rate, cpuPerRequest, errors };
}

/** Every media asked for once in each format and kind, 32 at a time: a server that has been polled has seen them. */
async function askEveryMedia(base: string, ids: number[]): Promise<void> {
  process.stdout.write(`asking for each of the ${ids.length} media once… `);
  const pool = new Pool(base, { connections: CONNECTIONS, pipelining: 1 });
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < ids.length) {
      const id = ids[next++]!;
      for (const [format, extended] of [['xml', false], ['json', false], ['xml', true], ['json', true]] as const) {
        const res = await pool.request({ path: '/', method: 'POST', body: statusBody(id, format, extended), headers: { 'content-type': 'application/x-www-form-urlencoded' } });
        const text = await res.body.text();
        if (!isStatus(text, format)) throw new Error(`GetStatus of media ${id} did not answer a status: ${text.slice(0, 300)}`);
      }
    }
  };
  await Promise.all(Array.from({ length: CONNECTIONS }, worker));
  await pool.close();
  process.stdout.write('done\n');
}

/** A plain node:http server in a process of its own that reads each body and answers the one of `replies` it asked for (format, extended or not). */
async function startBareServer(replies: Record<string, string>): Promise<{ base: string; child: ChildProcess }> {
  const program = `
    const http = require('node:http');
    const replies = JSON.parse(process.env.BARE_REPLIES);
    const reply = (format, type) => ({ type, bytes: Buffer.from(replies[format], 'utf8') });
    const json = reply('json', 'application/json; charset=utf-8');
    const xml = reply('xml', 'text/xml; charset=utf-8');
    const jsonExtended = reply('jsonExtended', 'application/json; charset=utf-8');
    const xmlExtended = reply('xmlExtended', 'text/xml; charset=utf-8');
    const server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c) => { body += c; });
      req.on('end', () => {
        const extended = body.includes('extended');
        const reply = body.startsWith('xml=') ? (extended ? xmlExtended : xml) : (extended ? jsonExtended : json);
        res.writeHead(200, { 'content-type': reply.type, 'content-length': reply.bytes.length });
        res.end(reply.bytes);
      });
    });
    server.keepAliveTimeout = 72000;
    server.listen(0, '127.0.0.1', () => console.log('listening on ' + server.address().port));
    process.on('SIGTERM', () => process.exit(0));
  `;
  const nodeArgs = (process.env.BENCH_SERVER_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const child = spawn(process.execPath, [...nodeArgs, '-e', program], { env: { ...process.env, BARE_REPLIES: JSON.stringify(replies) }, stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout!.on('data', (c: Buffer) => {
      const m = /listening on (\d+)/.exec(c.toString());
      if (m) resolve(Number(m[1]));
    });
    child.once('exit', (code) => reject(new Error(`bare server exited with ${code}`)));
  });
  return { base: `http://127.0.0.1:${port}`, child };
}

export async function statusThroughput(base: string, serverPid: number, dataDir: string, ids: number[], seconds: number): Promise<void> {
  const media = runningOf(ids);
  const sample = async (format: Format, extended = false): Promise<string> =>
    (await fetch(base + '/', { method: 'POST', body: statusBody(ids.at(-1)!, format, extended), headers: { 'content-type': 'application/x-www-form-urlencoded' } })).text();
  const replies = { xml: await sample('xml'), json: await sample('json'), xmlExtended: await sample('xml', true), jsonExtended: await sample('json', true) };
  const writer = await progressWriter(dataDir, media.running);
  await askEveryMedia(base, ids);
  const bare = await startBareServer(replies);
  const ours: number[] = [];
  const theirs: number[] = [];
  const ourCpu: number[] = [];
  const theirCpu: number[] = [];
  let errors = 0;
  try {
    for (let round = 0; round < ROUNDS; round++) {
      const a = await load(base, serverPid, media, seconds);
      const b = await load(bare.base, bare.child.pid!, media, seconds);
      ours.push(a.rate);
      theirs.push(b.rate);
      ourCpu.push(a.cpuPerRequest);
      theirCpu.push(b.cpuPerRequest);
      errors += a.errors;
      console.log(
        `  round ${round + 1}: Encodery ${Math.round(a.rate)} req/s (${Math.round(a.cpuPerRequest)} µs CPU each), ` +
          `bare node:http ${Math.round(b.rate)} req/s (${Math.round(b.cpuPerRequest)} µs CPU each), ${(a.rate / b.rate).toFixed(2)}`,
      );
    }
  } finally {
    bare.child.kill('SIGTERM');
    const writes = await writer.stop();
    console.log(`  (${writes} progress writes to the ${media.running.length} running media during the load; replies of ${replies.xml.length}, ${replies.json.length}, ${replies.xmlExtended.length} and ${replies.jsonExtended.length} bytes: XML and JSON, simple and extended)`);
  }
  const rate = median(ours);
  console.log(`GetStatus at ${CONNECTIONS} keep-alive connections, ${ids.length} media in the store: ${Math.round(rate)} requests/s, ${errors} errors (target ≥ 3000/s)`);
  console.log(`GetStatus CPU per request: Encodery ${Math.round(median(ourCpu))} µs, bare node:http ${Math.round(median(theirCpu))} µs`);
  console.log(`GetStatus / bare node:http answering the same bytes: ${(rate / median(theirs)).toFixed(2)} (target ≥ 0.6)`);
}

/** BENCH_ONLY=status: this section alone, with a server of its own. */
export async function statusSection(dataDir: string, count: number, seconds: number): Promise<void> {
  const ids: number[] = [];
  await fillStore(dataDir, count, ids);
  const port = 30000 + Math.floor(Math.random() * 20000);
  const server = await startServer(dataDir, port);
  try {
    await statusThroughput(`http://127.0.0.1:${port}`, server.pid!, dataDir, ids, seconds);
  } finally {
    server.kill('SIGTERM');
  }
}
