/**
 * Section 7: split-and-stitch. A 60 s 720p source encoded to one MP4 by one FFmpeg process,
 * against the same format with multijob_workflow=yes (keyframe-aligned chunks of
 * ENCODERY_SPLIT_CHUNK_SECONDS, 10 s, two encoded at a time, the audio whole, joined without
 * re-encoding). Every FFmpeg process is held to one thread (ENCODERY_FFMPEG_THREADS=1), so the
 * figure shows what two encoders buy over one. Target ≥ 1.7×.
 *
 * Cluster mode is not wired yet: the two chunk encoders are two FFmpeg processes of one
 * embedded worker (ENCODERY_SPLIT_CONCURRENCY=2), not two worker processes.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { call, endWatcher, exec, startServer } from './lib.ts';

const RUNS = Number(process.env.BENCH_SPLIT_RUNS ?? 2);
const SECONDS = 60;

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
  const port = 30000 + Math.floor(Math.random() * 20000);
  const server = await startServer(path.join(files, 'server'), port, {
    ENCODERY_FFMPEG_THREADS: '1', ENCODERY_SPLIT_CONCURRENCY: '2', ENCODERY_SPLIT_CHUNK_SECONDS: '10', ENCODERY_WORKERS: '1',
    ENCODERY_FILE_ROOTS: files,
  });
  const base = `http://127.0.0.1:${port}`;
  const encode = async (name: string, split: boolean): Promise<{ seconds: number; frames: number }> => {
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
    const { stdout } = await exec('ffprobe', ['-v', 'error', '-select_streams', 'v:0', '-count_packets', '-show_entries', 'stream=nb_read_packets', '-of', 'csv=p=0', out]);
    return { seconds, frames: Number(stdout.trim()) };
  };
  try {
    const ratios: number[] = [];
    for (let run = 0; run < RUNS; run++) {
      const one = await encode(`one-${run}`, false);
      const split = await encode(`split-${run}`, true);
      ratios.push(one.seconds / split.seconds);
      console.log(`split-and-stitch run ${run + 1}: one process ${one.seconds.toFixed(2)} s (${one.frames} frames), split ${split.seconds.toFixed(2)} s (${split.frames} frames), ${(one.seconds / split.seconds).toFixed(2)}×`);
    }
    ratios.sort((a, b) => a - b);
    const median = ratios[Math.floor(ratios.length / 2)]!;
    console.log(`7. split-and-stitch speed-up, ${SECONDS} s 720p, 1 FFmpeg thread each, 2 chunk encoders on one embedded worker: ${median.toFixed(2)}× (median of ${RUNS}; target ≥ 1.7×)`);
  } finally {
    watcher.close();
    server.kill('SIGTERM');
  }
}
