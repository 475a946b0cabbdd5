/**
 * Section 11 (BENCH_ONLY=cache): the output cache. A 10 s 1080p clip to a 720p MP4 at 2500k, once
 * encoded (a miss, which fills the cache) and then repeated BENCH_CACHE_RUNS (5) times with the same
 * source and format to new destinations: AddMedia-to-Finished of each repeat (target < 1 s) and
 * the FFmpeg work the repeats caused (target: no FFmpeg process, 0 CPU seconds). FFmpeg runs
 * through a wrapper that records each process it starts (but `-version`), so the count is what
 * really ran, not what the server says it ran.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { call, endWatcher, makeClip, median, startServer } from './lib.ts';

const RUNS = Number(process.env.BENCH_CACHE_RUNS ?? 5);

export async function cacheSection(dataDir: string): Promise<void> {
  const files = path.join(dataDir, 'files');
  await fs.mkdir(files, { recursive: true });
  const clip = path.join(files, 'cache-1080p.mp4');
  await makeClip(clip, 1920, 1080);
  const record = path.join(dataDir, 'cache-ffmpeg-runs.txt');
  const wrapper = path.join(dataDir, 'cache-ffmpeg');
  await fs.writeFile(record, '');
  await fs.writeFile(wrapper, `#!/bin/sh\ncase " $* " in *" -version "*) ;; *) echo run >> '${record}' ;; esac\nexec ffmpeg "$@"\n`, { mode: 0o755 });
  const ffmpegRuns = async (): Promise<number> => (await fs.readFile(record, 'utf8')).split('\n').filter(Boolean).length;

  console.log('output cache: a 10 s 1080p clip to a 720p MP4 at 2500k, encoded once, then repeated with the same source and format');
  console.log(`  load average before: ${os.loadavg().map((l) => l.toFixed(2)).join(' ')} (${os.cpus().length} cores)`);
  const port = 30000 + Math.floor(Math.random() * 20000);
  const dir = path.join(dataDir, 'cache-server');
  await fs.mkdir(dir, { recursive: true });
  const child = await startServer(dir, port, { ENCODERY_CACHE_MAX_BYTES: String(1024 ** 3), ENCODERY_FFMPEG: wrapper, ENCODERY_FILE_ROOTS: files });
  const base = `http://127.0.0.1:${port}`;
  const watcher = await endWatcher();
  const runOne = async (name: string): Promise<{ wall: number; cpu: number; cache: string | undefined }> => {
    const t0 = performance.now();
    const added = await call(base, {
      action: 'AddMedia', source: `file://${clip}`, notify: watcher.notify, notify_format: 'json',
      format: { output: 'mp4', size: '1280x720', bitrate: '2500k', smart_passthrough: 'no', destination: `file://${files}/${name}.mp4` },
    });
    const status = await watcher.ended(added.MediaID);
    const wall = (performance.now() - t0) / 1000;
    const s = await call(base, { action: 'GetStatus', mediaid: added.MediaID, extended: 'yes' });
    if (status !== 'Finished') throw new Error(`bench media ended ${status}: ${s.job.description}`);
    await fs.rm(path.join(files, `${name}.mp4`), { force: true });
    return { wall, cpu: Number(s.job.format.cpu_time ?? 0), cache: s.job.format.cache };
  };
  try {
    const first = await runOne('cache-first');
    if (first.cache !== undefined) throw new Error(`the first run was already a cache hit (${first.cache})`);
    console.log(`  first run (encoded, fills the cache): ${first.wall.toFixed(2)} s, FFmpeg ${first.cpu.toFixed(2)} CPU s`);
    const before = await ffmpegRuns();
    const repeats = [];
    for (let run = 0; run < RUNS; run++) {
      const r = await runOne(`cache-repeat-${run}`);
      if (!r.cache) throw new Error(`repeat ${run + 1} was not a cache hit`);
      repeats.push(r);
      console.log(`  repeat ${run + 1}: ${r.wall.toFixed(3)} s (${r.cache})`);
    }
    const spawned = (await ffmpegRuns()) - before;
    const cpu = repeats.reduce((n, r) => n + r.cpu, 0);
    console.log(`  load average after: ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
    console.log(
      `output cache: repeated job AddMedia to Finished, median of ${RUNS}: ${median(repeats.map((r) => r.wall)).toFixed(3)} s (target < 1 s; ` +
        `${(median(repeats.map((r) => r.wall)) / first.wall).toFixed(3)} of the encoded run); FFmpeg processes started by the repeats: ${spawned}, ` +
        `FFmpeg CPU seconds: ${cpu.toFixed(2)} (target 0)`,
    );
  } finally {
    watcher.close();
    child.kill('SIGTERM');
  }
}
