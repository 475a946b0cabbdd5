/**
 * Section 12: instant mode (issue 15 §1). A 60 s 1080p faststart source (BENCH_INSTANT_SECONDS)
 * served by a local origin at a rate that makes its download take about as long as the encode,
 * to a 720p HLS output PUT to a local destination that accepts at a rate that makes the upload
 * take about as long too. Prints AddMedia→Finished ÷ max(download alone, encode alone, upload
 * alone); target ≤ 1.15. The same media with instant=no (fetch, encode, upload one after another)
 * is printed beside it.
 *
 * "Encode alone" is AddMedia→Finished from a file:// source to a file:// destination (the same
 * format and output, the server's fixed cost included; FFmpeg's own wall and CPU seconds are
 * printed beside it); "download alone" a plain GET from the origin; "upload alone" the same
 * output files PUT to the destination, four at a time as the server sends them. The two rates
 * are set from the encode measured first, so the three phases take about as long as each other,
 * and each later run gets a fresh link at the same rates. Each run's Timings: line and timeline
 * (pipeline/media-run/timings.ts) are printed, with the load average: on a shared 2-core
 * machine, the instant encode can only keep pace with the download when nothing else takes its CPU.
 */
import fs from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { call, endWatcher, exec, startServer } from './lib.ts';
import { parseTimings } from '../src/pipeline/media-run/timings.ts';

const SECONDS = Number(process.env.BENCH_INSTANT_SECONDS ?? 60);
const TARGET = 1.15;

/** One link's rate, shared by every transfer on it: each chunk waits for its slot. */
class Link {
  #free = 0;
  constructor(private readonly bytesPerSecond: number) {}
  async take(bytes: number): Promise<void> {
    const now = performance.now();
    const start = Math.max(now, this.#free);
    this.#free = start + (bytes / this.bytesPerSecond) * 1000;
    const wait = this.#free - now;
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
  }
}

/** Serves one file at the link's rate. */
async function origin(file: Buffer, link: () => Link): Promise<{ url: string; close(): void }> {
  const server = http.createServer((req, res) => {
    res.setHeader('content-length', file.length);
    void (async () => {
      const l = link();
      for (let at = 0; at < file.length; at += 64 * 1024) {
        const chunk = file.subarray(at, at + 64 * 1024);
        await l.take(chunk.length);
        if (!res.write(chunk)) await new Promise((r) => res.once('drain', r));
      }
      res.end();
    })().catch(() => res.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/source.mp4`, close: () => server.close() };
}

/** Accepts PUTs at the link's rate, reading each body no faster than it allows; counts what arrived. */
async function destination(link: () => Link): Promise<{ url: string; received: () => number; close(): void }> {
  let received = 0;
  const server = http.createServer((req, res) => {
    const l = link();
    req.on('data', (chunk: Buffer) => {
      req.pause();
      received += chunk.length;
      void l.take(chunk.length).then(() => req.resume());
    });
    req.on('end', () => res.end('ok'));
  });
  server.keepAliveTimeout = 1000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, received: () => received, close: () => server.close() };
}

async function walk(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await fs.readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...(await walk(p)));
    else out.push(p);
  }
  return out;
}

export async function instantSection(dataDir: string): Promise<void> {
  const files = path.join(dataDir, 'instant');
  await fs.mkdir(files, { recursive: true });
  const source = path.join(files, 'source-1080p.mp4');
  process.stdout.write(`making a ${SECONDS} s 1080p faststart source… `);
  await exec('ffmpeg', [
    '-hide_banner', '-loglevel', 'error', '-y',
    '-f', 'lavfi', '-i', `testsrc2=size=1920x1080:rate=25:duration=${SECONDS}`,
    '-f', 'lavfi', '-i', `sine=frequency=440:sample_rate=48000:duration=${SECONDS}`,
    '-c:v', 'libx264', '-preset', 'ultrafast', '-b:v', '6M', '-g', '50', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-movflags', '+faststart', source,
  ]);
  const bytes = await fs.readFile(source);
  process.stdout.write(`done (${(bytes.length / 1e6).toFixed(1)} MB)\n`);

  let originLink = new Link(1e12);
  let destinationLink = new Link(1e12);
  const from = await origin(bytes, () => originLink);
  const to = await destination(() => destinationLink);
  const watcher = await endWatcher();
  const port = 30000 + Math.floor(Math.random() * 20000);
  const server = await startServer(path.join(files, 'server'), port, { ENCODERY_FILE_ROOTS: files, ENCODERY_WORKERS: '1' });
  const base = `http://127.0.0.1:${port}`;
  const format = (destination: string) => ({ output: 'advanced_hls', segment_duration: '2', turbo: 'yes', stream: [{ size: '0x720', bitrate: '2500k' }], destination });
  /** AddMedia→Finished in seconds; FFmpeg's wall and CPU seconds and the server's Timings: line (its phases and timeline). */
  const run = async (query: Record<string, unknown>): Promise<{ seconds: number; timings: string }> => {
    const t0 = performance.now();
    const added = await call(base, { action: 'AddMedia', notify: watcher.notify, notify_format: 'json', ...query });
    const status = await watcher.ended(added.MediaID);
    const seconds = (performance.now() - t0) / 1000;
    if (status !== 'Finished') throw new Error(`media ${added.MediaID} ended ${status}`);
    const s = await call(base, { action: 'GetStatus', mediaid: added.MediaID, extended: 'yes', include_task_status: 'yes' });
    const states = [[s.job.format].flat()[0]?.task_status?.state ?? []].flat() as { message: string }[];
    const lines = states.map((l) => l.message);
    const encoded = lines.find((m) => m.startsWith('Encoded '))?.replace(/^Encoded .* in /, 'FFmpeg ') ?? '';
    return { seconds, timings: `${encoded}; ${lines.find((m) => parseTimings(m) !== null) ?? '(no Timings: line)'}` };
  };
  try {
    const local = path.join(files, 'alone');
    const loadBefore = os.loadavg();
    const { seconds: encodeAlone, timings: encodeTimings } = await run({ source: `file://${source}`, format: format(`file://${local}/video.m3u8`) });
    const outputs = await walk(local);
    let outBytes = 0;
    for (const f of outputs) outBytes += (await fs.stat(f)).size;
    // Rates that make the download and the upload each take about as long as the encode did.
    const downRate = bytes.length / encodeAlone;
    const upRate = outBytes / encodeAlone;
    originLink = new Link(downRate);
    const t1 = performance.now();
    const res = await fetch(from.url);
    await res.arrayBuffer();
    const downloadAlone = (performance.now() - t1) / 1000;
    destinationLink = new Link(upRate);
    const t2 = performance.now();
    const queue = [...outputs];
    await Promise.all([0, 1, 2, 3].map(async () => {
      for (let f = queue.shift(); f; f = queue.shift()) {
        await fetch(`${to.url}/alone/${path.relative(local, f)}`, { method: 'PUT', body: await fs.readFile(f) });
      }
    }));
    const uploadAlone = (performance.now() - t2) / 1000;
    originLink = new Link(downRate);
    destinationLink = new Link(upRate);
    const { seconds: instant, timings: instantTimings } = await run({ source: from.url, format: format(`${to.url}/instant/video.m3u8`) });
    originLink = new Link(downRate);
    destinationLink = new Link(upRate);
    const { seconds: oneAfterAnother, timings: serialTimings } = await run({ source: from.url, instant: 'no', format: format(`${to.url}/serial/video.m3u8`) });
    const longest = Math.max(downloadAlone, encodeAlone, uploadAlone);
    console.log(`\n12. Instant mode: ${SECONDS} s 1080p faststart source (${(bytes.length / 1e6).toFixed(1)} MB at ${(downRate / 1e6).toFixed(2)} MB/s) to a 720p HLS output (${(outBytes / 1e6).toFixed(1)} MB, ${outputs.length} files, accepted at ${(upRate / 1e6).toFixed(2)} MB/s)`);
    console.log(`    download alone ${downloadAlone.toFixed(1)} s, encode alone ${encodeAlone.toFixed(1)} s, upload alone ${uploadAlone.toFixed(1)} s`);
    console.log(`    instant (default): AddMedia→Finished ${instant.toFixed(1)} s = ${(instant / longest).toFixed(2)} × the longest phase (target ≤ ${TARGET}) ${instant / longest <= TARGET ? 'PASS' : 'FAIL'}`);
    console.log(`    instant=no (one after another): ${oneAfterAnother.toFixed(1)} s = ${(oneAfterAnother / longest).toFixed(2)} × the longest phase`);
    console.log(`    load average before ${loadBefore.map((l) => l.toFixed(2)).join(' ')}, after ${os.loadavg().map((l) => l.toFixed(2)).join(' ')} (${os.cpus().length} cores)`);
    console.log(`    encode alone: ${encodeTimings}`);
    console.log(`    instant: ${instantTimings}`);
    console.log(`    instant=no: ${serialTimings}`);
  } finally {
    server.kill('SIGTERM');
    watcher.close();
    from.close();
    to.close();
  }
}
