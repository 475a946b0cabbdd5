/**
 * `npm run bench`: the core issue's figures, measured against a real server process.
 *
 * 1. Fixed cost per media: a 10 s 1080p clip to a 720p MP4 at 2500k, quality report on,
 *    AddMedia-to-Finished against the exact FFmpeg command the task ran, alternating runs; the
 *    ratio (target ≤ 1.05), the fixed cost (wall less FFmpeg's wall, target ≤ 0.2 s), the server's
 *    CPU seconds and the per-phase breakdown (bench/overhead.ts).
 * 2. GetStatus requests per second at 32 keep-alive connections with 10,000 media in the store
 *    (target ≥ 3,000/s on a 2-core machine), and as a ratio to a bare node:http server answering
 *    the same bytes, measured in the same run by the same load generator (target ≥ 0.6; bench/status.ts).
 * 3. The server's peak RSS (VmHWM).
 * 4. Decode once, encode many: a 10 s 1080p clip to a four-rung H.264 ladder (1080p, 720p, 480p,
 *    360p) as ONE advanced_hls format through the server (AddMedia to Finished), against the same
 *    four renditions made by four plain FFmpeg commands run one after another. Median of
 *    BENCH_LADDER_RUNS (5) alternating runs. Target ≤ 0.70. Both sides use the x264 preset
 *    BENCH_LADDER_PRESET (`veryfast`, what turbo=yes selects; `medium` is the default without it).
 *
 * 5. Memory: a 1 GiB source over HTTP, remuxed, delivered to S3 and SFTP; the server's peak RSS
 *    grows by less than 150 MB (bench/memory.ts).
 *
 * 6. AddMedia throughput: media accepted per second from 32 concurrent clients against one API
 *    node on PostgreSQL (bench/addmedia.ts).
 *
 * 7. Split-and-stitch: a 60 s 720p source to one MP4 by one FFmpeg process against keyframe-aligned
 *    chunks encoded two at a time, every FFmpeg at one thread (bench/split.ts). Target ≥ 1.7×.
 *
 * 8. Quality report: a 10 s 1080p clip to the section-4 ladder as one advanced_hls (x264 medium) with
 *    ENCODERY_QUALITY_REPORT on and off, each pair run at the same moment, extra wall time and CPU
 *    seconds in %, then what each part of the report costs on its own (bench/quality.ts). Target ≤ 3 %.
 *
 * 9. Progress and time left: a 60 s 1080p source to an MP4, an HLS ladder, a thumbnail and a GIF, GetStatus
 *    every 0.5 s: whether media progress was monotonic, and the median absolute error of time_left
 *    against the time that really remained once 20 % was done (bench/progress.ts). Target ≤ 20 %.
 *
 * 10. Tone-mapping: the same 1080p picture as a PQ and a BT.709 source to a 3-rung H.264 HLS ladder, the extra
 *     wall time of the tone-map (bench/hdr.ts).
 *
 * 11. Output cache: a 10 s 1080p clip to a 720p MP4, encoded once and then repeated with the same source and format:
 *     AddMedia-to-Finished of the repeats (target < 1 s) and the FFmpeg processes and CPU seconds they caused (target 0; bench/cache.ts).
 *
 * 12. Instant mode: a 60 s 1080p faststart source from a rate-limited local origin to a 720p HLS output PUT to a
 *     rate-limited destination, AddMedia→Finished ÷ max(download alone, encode alone, upload alone) (bench/instant.ts). Target ≤ 1.15.
 *
 * BENCH_ONLY=overhead runs section 1 alone, BENCH_ONLY=ladder section 4, BENCH_ONLY=memory section 5, BENCH_ONLY=addmedia section 6,
 * BENCH_ONLY=split section 7, BENCH_ONLY=quality section 8, BENCH_ONLY=progress section 9, BENCH_ONLY=hdr section 10, BENCH_ONLY=status section 2, BENCH_ONLY=cache section 11, BENCH_ONLY=instant section 12.
 */
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { LADDER, processCpu, call, endWatcher, exec, makeClip, median, startServer } from './lib.ts';
import { memorySection } from './memory.ts';
import { addMediaSection } from './addmedia.ts';
import { splitSection } from './split.ts';
import { qualitySection } from './quality.ts';
import { progressSection } from './progress.ts';
import { hdrSection } from './hdr.ts';
import { cacheSection } from './cache.ts';
import { instantSection } from './instant.ts';
import { fillStore, statusSection, statusThroughput } from './status.ts';
import { overheadSection } from './overhead.ts';

const STATUS_SECONDS = Number(process.env.BENCH_STATUS_SECONDS ?? 10);
const STORE_MEDIA = 10_000;
const LADDER_RUNS = Number(process.env.BENCH_LADDER_RUNS ?? 5);
const LADDER_PRESET = process.env.BENCH_LADDER_PRESET ?? 'veryfast';
const ONLY_OVERHEAD = process.env.BENCH_ONLY === 'overhead';
const ONLY_LADDER = process.env.BENCH_ONLY === 'ladder';
const ONLY_MEMORY = process.env.BENCH_ONLY === 'memory';
const ONLY_ADDMEDIA = process.env.BENCH_ONLY === 'addmedia';
const ONLY_SPLIT = process.env.BENCH_ONLY === 'split';
const ONLY_QUALITY = process.env.BENCH_ONLY === 'quality';
const ONLY_PROGRESS = process.env.BENCH_ONLY === 'progress';
const ONLY_HDR = process.env.BENCH_ONLY === 'hdr';
const ONLY_STATUS = process.env.BENCH_ONLY === 'status';
const ONLY_CACHE = process.env.BENCH_ONLY === 'cache';
const ONLY_INSTANT = process.env.BENCH_ONLY === 'instant';

async function main(): Promise<void> {
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'encodery-bench-'));
  try {
    const only = ONLY_OVERHEAD || ONLY_LADDER || ONLY_MEMORY || ONLY_ADDMEDIA || ONLY_SPLIT || ONLY_QUALITY || ONLY_PROGRESS || ONLY_HDR || ONLY_STATUS || ONLY_CACHE || ONLY_INSTANT;
    if (!only || ONLY_OVERHEAD) await overheadSection(dataDir);
    if (!only || ONLY_LADDER) await encodeSections(dataDir);
    if (!only || ONLY_MEMORY) await memorySection(dataDir);
    if (!only || ONLY_ADDMEDIA) await addMediaSection(dataDir);
    if (!only || ONLY_SPLIT) await splitSection(dataDir);
    if (!only || ONLY_QUALITY) await qualitySection(dataDir);
    if (!only || ONLY_PROGRESS) await progressSection(dataDir);
    if (!only || ONLY_HDR) await hdrSection(dataDir);
    if (!only || ONLY_CACHE) await cacheSection(dataDir);
    if (ONLY_STATUS) await statusSection(dataDir, STORE_MEDIA, STATUS_SECONDS);
    if (!only || ONLY_INSTANT) await instantSection(dataDir);
  } finally {
    await fs.rm(dataDir, { recursive: true, force: true });
  }
}

/** Sections 2 to 4, against one server. */
async function encodeSections(dataDir: string): Promise<void> {
  const files = path.join(dataDir, 'files');
  await fs.mkdir(files, { recursive: true });

  const ids: number[] = [];
  if (!ONLY_LADDER) await fillStore(dataDir, STORE_MEDIA, ids);

  const port = 30000 + Math.floor(Math.random() * 20000);
  const server = await startServer(dataDir, port);
  const base = `http://127.0.0.1:${port}`;
  try {
    if (!ONLY_LADDER) await statusAndMemory(base, dataDir, ids, server);
    await ladder(base, files);
  } finally {
    server.kill('SIGTERM');
  }
}

async function statusAndMemory(base: string, dataDir: string, ids: number[], server: ChildProcess): Promise<void> {
  // 2. GetStatus throughput, against a bare server answering the same bytes.
  await statusThroughput(base, server.pid!, dataDir, ids, STATUS_SECONDS);

  // 3. Peak memory.
  const status = await fs.readFile(`/proc/${server.pid}/status`, 'utf8');
  const hwm = /VmHWM:\s+(\d+) kB/.exec(status)?.[1];
  console.log(`server peak RSS: ${hwm ? (Number(hwm) / 1024).toFixed(1) : '?'} MiB`);
}

/** Section 4: one advanced_hls ladder through the server against four plain FFmpeg commands. */
async function ladder(base: string, files: string): Promise<void> {
  const clip = path.join(files, 'clip-1080p.mp4');
  await makeClip(clip, 1920, 1080);
  const turbo = LADDER_PRESET === 'veryfast' ? 'yes' : LADDER_PRESET === 'medium' ? 'no' : null;
  if (turbo === null) throw new Error('BENCH_LADDER_PRESET must be veryfast or medium (the presets an advanced_hls stream can select)');
  const theirArgs = (r: (typeof LADDER)[number], out: string): string[] => [
    '-hide_banner', '-loglevel', 'error', '-y', '-i', clip, '-vf', `scale=-2:${r.height}`,
    '-c:v', 'libx264', '-preset', LADDER_PRESET, '-b:v', r.bitrate, '-c:a', 'aac', '-b:a', '128k', out,
  ];
  console.log('decode once, encode many: a four-rung H.264 ladder (1080p 5000k, 720p 2800k, 480p 1400k, 360p 800k), AAC 128k');
  console.log(`  ours: ONE advanced_hls format (turbo=${turbo}: x264 ${LADDER_PRESET}), AddMedia to Finished, delivered to file://`);
  console.log(`  theirs: four plain FFmpeg commands to MP4, one after another, e.g. ffmpeg ${theirArgs(LADDER[0]!, 'out-1080.mp4').slice(4).join(' ')}`);

  const watcher = await endWatcher();
  const notify = watcher.notify;

  const runOurs = async (run: number): Promise<number> => {
    const t0 = performance.now();
    const added = await call(base, {
      action: 'AddMedia',
      source: `file://${clip}`,
      notify,
      notify_format: 'json',
      format: {
        output: 'advanced_hls', turbo, audio_bitrate: '128k',
        stream: LADDER.map((r) => ({ size: `0x${r.height}`, bitrate: r.bitrate })),
        destination: `file://${files}/ladder-${run}/video.m3u8`,
      },
    });
    const status = await watcher.ended(added.MediaID);
    const seconds = (performance.now() - t0) / 1000;
    const s = await call(base, { action: 'GetStatus', mediaid: added.MediaID, extended: 'yes' });
    if (status !== 'Finished') throw new Error(`bench ladder ended ${status}: ${s.job.description}`);
    cpu.ours = Number(s.job.format.cpu_time);
    const master = await fs.readFile(path.join(files, `ladder-${run}`, 'video.m3u8'), 'utf8');
    const variants = master.split('\n').filter((l) => l.startsWith('#EXT-X-STREAM-INF:')).length;
    if (variants !== LADDER.length) throw new Error(`the ladder master lists ${variants} variants, expected ${LADDER.length}`);
    await fs.rm(path.join(files, `ladder-${run}`), { recursive: true, force: true });
    return seconds;
  };
  const runTheirs = async (run: number): Promise<number> => {
    const dir = path.join(files, `theirs-${run}`);
    await fs.mkdir(dir, { recursive: true });
    const cpu0 = processCpu('self').children;
    const t0 = performance.now();
    for (const r of LADDER) await exec('ffmpeg', theirArgs(r, path.join(dir, `out-${r.height}.mp4`)));
    const seconds = (performance.now() - t0) / 1000;
    cpu.theirs = processCpu('self').children - cpu0;
    await fs.rm(dir, { recursive: true, force: true });
    return seconds;
  };

  const cpu = { ours: 0, theirs: 0 };
  const ratios: number[] = [];
  for (let run = 0; run < LADDER_RUNS; run++) {
    let ours: number;
    let theirs: number;
    if (run % 2 === 0) {
      ours = await runOurs(run);
      theirs = await runTheirs(run);
    } else {
      theirs = await runTheirs(run);
      ours = await runOurs(run);
    }
    ratios.push(ours / theirs);
    console.log(
      `  run ${run + 1}: Encodery ${ours.toFixed(2)} s, four FFmpeg commands ${theirs.toFixed(2)} s, ratio ${(ours / theirs).toFixed(3)}` +
        ` (FFmpeg CPU ${cpu.ours.toFixed(1)} s against ${cpu.theirs.toFixed(1)} s)`,
    );
  }
  watcher.close();
  const middle = median(ratios);
  console.log(`ladder from one decode / four separate commands, median of ${LADDER_RUNS}: ${middle.toFixed(3)} (target ≤ 0.70)`);
}

await main();
