/**
 * Section 9: progress and time left (issue 12 §3). One media from a 60 s 1080p source with an
 * MP4, an HLS ladder (three rungs; one process with the MP4, one decode), a thumbnail and a GIF
 * (each a process of its own, run after the ladder), GetStatus sampled every 0.5 s until it
 * ends. Prints whether the media's progress ever went back, and the median absolute error of
 * `time_left` against the time that really remained, over the samples once 20 % was done
 * (target ≤ 20 %). On a machine shared with other work the figure is pessimistic: the pace the
 * estimate measures changes under it. BENCH_PROGRESS_TRACE=1 prints every sample (seconds, status,
 * progress, time_left, time_left_current); BENCH_PROGRESS_SECONDS sets the source's length.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { call, makeClip, median, startServer } from './lib.ts';

const SECONDS = Number(process.env.BENCH_PROGRESS_SECONDS ?? 60);
const SAMPLE_MS = 500;
const FROM_PROGRESS = 20;

interface Sample {
  atMs: number;
  status: string;
  progress: number;
  timeLeft: number;
}

export async function progressSection(dataDir: string): Promise<void> {
  const files = path.join(dataDir, 'progress');
  await fs.mkdir(files, { recursive: true });
  const clip = path.join(files, 'clip-60s-1080p.mp4');
  await makeClip(clip, 1920, 1080, { seconds: SECONDS, preset: 'ultrafast' });

  const port = 30000 + Math.floor(Math.random() * 20000);
  const server = await startServer(path.join(dataDir, 'progress-server'), port, { ENCODERY_FILE_ROOTS: files });
  const base = `http://127.0.0.1:${port}`;
  try {
    const dest = (name: string) => `file://${path.join(files, 'out', name)}`;
    console.log(`progress and time left: a ${SECONDS} s 1080p source to an MP4 720p + an advanced_hls ladder (720p, 480p, 360p), turbo=yes,`);
    console.log(`  a thumbnail and a 480x270 GIF; GetStatus every ${SAMPLE_MS / 1000} s until Finished`);
    const added = await call(base, {
      action: 'AddMedia',
      source: `file://${clip}`,
      format: [
        { output: 'mp4', size: '1280x720', bitrate: '2800k', turbo: 'yes', destination: dest('video.mp4') },
        {
          output: 'advanced_hls', turbo: 'yes', audio_bitrate: '128k', destination: dest('hls/video.m3u8'),
          stream: [{ size: '0x720', bitrate: '2800k' }, { size: '0x480', bitrate: '1400k' }, { size: '0x360', bitrate: '800k' }],
        },
        { output: 'thumbnail', time: '10', destination: dest('poster.jpg') },
        { output: 'gif', size: '480x270', destination: dest('preview.gif') },
      ],
    });
    const t0 = performance.now();
    const samples: Sample[] = [];
    for (;;) {
      const s = await call(base, { action: 'GetStatus', mediaid: added.MediaID });
      samples.push({ atMs: performance.now() - t0, status: s.status, progress: Number(s.progress), timeLeft: Number(s.time_left) });
      if (process.env.BENCH_PROGRESS_TRACE) console.log('   ', ((performance.now() - t0) / 1000).toFixed(1), s.status, s.progress, s.time_left, s.time_left_current);
      if (['Finished', 'Error', 'Stopped'].includes(s.status)) {
        if (s.status !== 'Finished') throw new Error(`bench progress media ended ${s.status}: ${s.description ?? ''}`);
        break;
      }
      await new Promise((r) => setTimeout(r, SAMPLE_MS));
    }
    report(samples);
  } finally {
    server.kill('SIGTERM');
  }
}

function report(samples: Sample[]): void {
  const endMs = samples.at(-1)!.atMs;
  const backs = samples.filter((s, i) => i > 0 && s.progress < samples[i - 1]!.progress);
  const early100 = samples.filter((s) => s.progress >= 100 && s.status !== 'Finished');
  const judged = samples.filter((s) => s.status !== 'Finished' && s.progress >= FROM_PROGRESS && endMs - s.atMs >= SAMPLE_MS);
  const errors = judged.map((s) => {
    const actual = (endMs - s.atMs) / 1000;
    return { actual, said: s.timeLeft, relative: Math.abs(s.timeLeft - actual) / actual };
  });
  console.log(`  ${samples.length} samples over ${(endMs / 1000).toFixed(1)} s`);
  for (const share of [0.25, 0.5, 0.75, 0.9]) {
    const s = samples.find((x) => x.atMs >= endMs * share);
    if (s) console.log(`  at ${(s.atMs / 1000).toFixed(1)} s: ${s.status} ${s.progress.toFixed(1)} %, time_left ${s.timeLeft} s, really ${((endMs - s.atMs) / 1000).toFixed(1)} s`);
  }
  console.log(`media progress monotonic: ${backs.length === 0 ? 'yes' : `NO (${backs.length} step(s) back)`}; 100 before Finished: ${early100.length === 0 ? 'never' : `${early100.length} time(s)`}`);
  if (errors.length === 0) {
    console.log('time_left: no sample past 20 % to judge');
    return;
  }
  const mid = median(errors.map((e) => e.relative));
  const secs = median(errors.map((e) => Math.abs(e.said - e.actual)));
  console.log(`time_left median absolute error once ${FROM_PROGRESS} % was done: ${(mid * 100).toFixed(1)} % (${secs.toFixed(1)} s, ${errors.length} samples; target ≤ 20 %)`);
}
