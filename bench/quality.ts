/**
 * Section 8: the cost of the quality report (ENCODERY_QUALITY_REPORT). The same 10 s 720p clip
 * encoded to one MP4 (x264 medium, CRF 23, AAC; pass-through off) by two server processes set up
 * alike but for the setting, in alternating order. Reported: the median AddMedia-to-Finished wall
 * time of each, the extra wall time in % (target < 15 %), the FFmpeg process's wall and CPU
 * seconds, and the CPU seconds of the server with its children (FFmpeg and the ffprobe of the
 * output): CPU seconds show the cost with far less of the noise of other work on the machine.
 */
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { call, endWatcher, makeClip, median, startServer } from './lib.ts';

const RUNS = Number(process.env.BENCH_QUALITY_RUNS ?? 5);

interface Run {
  wall: number;
  ffmpegWall: number;
  cpu: number;
  /** The server process and its finished children (FFmpeg, ffprobe): everything the media cost. */
  serverCpu: number;
}

export async function qualitySection(dataDir: string): Promise<void> {
  const files = path.join(dataDir, 'files');
  await fs.mkdir(files, { recursive: true });
  const clip = path.join(files, 'quality-720p.mp4');
  await makeClip(clip, 1280, 720);
  console.log('quality report: a 10 s 720p clip to one MP4 (x264 medium, CRF 23), report on against off, two servers set up alike');
  console.log(`  load average before: ${os.loadavg().map((l) => l.toFixed(2)).join(' ')} (${os.cpus().length} cores)`);

  const servers = { on: 0, off: 0 };
  const ports = { on: 30000 + Math.floor(Math.random() * 10000), off: 40000 + Math.floor(Math.random() * 10000) };
  const dirs = { on: path.join(dataDir, 'q-on'), off: path.join(dataDir, 'q-off') };
  const children: ChildProcess[] = [];
  const pids = { on: 0, off: 0 };
  for (const mode of ['on', 'off'] as const) {
    await fs.mkdir(dirs[mode], { recursive: true });
    // The clip is read in place from the bench's files folder by both.
    const child = await startServer(dirs[mode], ports[mode], { ENCODERY_QUALITY_REPORT: mode, ENCODERY_FILE_ROOTS: files });
    children.push(child);
    servers[mode] = ports[mode];
    pids[mode] = child.pid!;
  }
  const watcher = await endWatcher();
  let sample: Record<string, string> | undefined;
  const runOne = async (mode: 'on' | 'off', run: number): Promise<Run> => {
    const base = `http://127.0.0.1:${servers[mode]}`;
    const cpu0 = processTreeCpu(pids[mode]);
    const t0 = performance.now();
    const added = await call(base, {
      action: 'AddMedia',
      source: `file://${clip}`,
      notify: watcher.notify,
      notify_format: 'json',
      format: { output: 'mp4', smart_passthrough: 'no', destination: `file://${files}/q-${mode}-${run}.mp4` },
    });
    const status = await watcher.ended(added.MediaID);
    const wall = (performance.now() - t0) / 1000;
    const serverCpu = processTreeCpu(pids[mode]) - cpu0;
    const s = await call(base, { action: 'GetStatus', mediaid: added.MediaID, extended: 'yes' });
    if (status !== 'Finished') throw new Error(`bench media ended ${status}: ${s.job.description}`);
    const f = s.job.format;
    if ((mode === 'on') !== (f.quality_report !== undefined)) throw new Error(`report ${mode} but quality is ${JSON.stringify(f.quality_report)}`);
    if (mode === 'on') sample = f.quality_report;
    await fs.rm(path.join(files, `q-${mode}-${run}.mp4`), { force: true });
    // speed = seconds encoded / FFmpeg wall seconds; the clip is 10 s.
    return { wall, ffmpegWall: 10 / Number(f.speed), cpu: Number(f.cpu_time), serverCpu };
  };

  try {
    await runOne('on', -1); // warm-up of both (caches, JIT)
    await runOne('off', -1);
    const on: Run[] = [];
    const off: Run[] = [];
    for (let run = 0; run < RUNS; run++) {
      const order = run % 2 === 0 ? (['on', 'off'] as const) : (['off', 'on'] as const);
      for (const mode of order) (mode === 'on' ? on : off).push(await runOne(mode, run));
      const a = on.at(-1)!;
      const b = off.at(-1)!;
      console.log(
        `  run ${run + 1}: on ${a.wall.toFixed(2)} s (FFmpeg ${a.ffmpegWall.toFixed(2)} s, ${a.cpu.toFixed(2)} CPU s; all ${a.serverCpu.toFixed(2)} CPU s),` +
          ` off ${b.wall.toFixed(2)} s (FFmpeg ${b.ffmpegWall.toFixed(2)} s, ${b.cpu.toFixed(2)} CPU s; all ${b.serverCpu.toFixed(2)} CPU s)`,
      );
    }
    const m = (xs: Run[], k: keyof Run): number => median(xs.map((x) => x[k]));
    const pct = (a: number, b: number): string => `${(((a / b) - 1) * 100).toFixed(1)} %`;
    console.log(`  a summary: ${JSON.stringify(sample)}`);
    console.log(`  load average after: ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
    console.log(`  FFmpeg wall, median: on ${m(on, 'ffmpegWall').toFixed(2)} s, off ${m(off, 'ffmpegWall').toFixed(2)} s (${pct(m(on, 'ffmpegWall'), m(off, 'ffmpegWall'))})`);
    console.log(`  FFmpeg CPU, median: on ${m(on, 'cpu').toFixed(2)} s, off ${m(off, 'cpu').toFixed(2)} s (${pct(m(on, 'cpu'), m(off, 'cpu'))})`);
    console.log(`  all CPU of the media (server, FFmpeg, ffprobe), median: on ${m(on, 'serverCpu').toFixed(2)} s, off ${m(off, 'serverCpu').toFixed(2)} s (${pct(m(on, 'serverCpu'), m(off, 'serverCpu'))})`);
    console.log(
      `quality report extra wall time (AddMedia to Finished), median of ${RUNS}: on ${m(on, 'wall').toFixed(2)} s, off ${m(off, 'wall').toFixed(2)} s:` +
        ` ${pct(m(on, 'wall'), m(off, 'wall'))} (target < 15 %)`,
    );
  } finally {
    watcher.close();
    for (const c of children) c.kill('SIGTERM');
  }
}

/** User + system CPU seconds of a process and its reaped children (/proc, 1/100 s ticks). */
function processTreeCpu(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14])) / 100;
}

