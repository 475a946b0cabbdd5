/**
 * Section 1: the fixed cost per media (issue 15 §2). A 10 s 1080p clip to a 720p MP4 at 2500k,
 * quality report on, read in place from file:// and delivered to file://: AddMedia-to-Finished
 * (the notify callback's arrival) against the exact FFmpeg command the task reports, run bare,
 * in alternating order. Reported per run and as medians: the ratio (target ≤ 1.05), the fixed cost
 * as the server's wall time less its own FFmpeg's wall time in the same run (target ≤ 0.2 s), the
 * server process's own CPU seconds (without FFmpeg and ffprobe), and the per-phase breakdown of the
 * task log's `Timings:` line (pipeline/media-run/timings.ts).
 */
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { call, endWatcher, exec, makeClip, median, processCpu, startServer } from './lib.ts';
import { parseTimings } from '../src/pipeline/media-run/timings.ts';

const RUNS = Number(process.env.BENCH_RUNS ?? 5);

interface OursRun {
  wall: number;
  /** FFmpeg's wall time inside the server, from the task log's timings. */
  encode: number;
  /** The server process alone, user + system. */
  serverCpu: number;
  /**
   * Its children's CPU less what the task reports for FFmpeg: ffprobe, and FFmpeg's last moments,
   * which its sampled figure misses (the MP4 trailer and the faststart rewrite after `progress=end`).
   */
  otherCpu: number;
  phases: Map<string, number>;
}

export async function overheadSection(dataDir: string): Promise<void> {
  const files = path.join(dataDir, 'overhead-files');
  const serverDir = path.join(dataDir, 'overhead-server');
  await fs.mkdir(files, { recursive: true });
  await fs.mkdir(serverDir, { recursive: true });
  const clip = path.join(files, 'clip-1080p.mp4');
  await makeClip(clip, 1920, 1080);
  console.log('fixed cost per media: a 10 s 1080p clip to a 720p MP4 at 2500k (x264 medium), quality report on, file:// in and out');
  console.log(`  load average before: ${os.loadavg().map((l) => l.toFixed(2)).join(' ')} (${os.cpus().length} cores)`);
  const port = 30000 + Math.floor(Math.random() * 20000);
  const server: ChildProcess = await startServer(serverDir, port, { ENCODERY_QUALITY_REPORT: 'on', ENCODERY_FILE_ROOTS: files });
  const base = `http://127.0.0.1:${port}`;
  const watcher = await endWatcher();
  let command = '';
  const runOurs = async (run: number): Promise<OursRun> => {
    const cpu0 = processCpu(server.pid!);
    const t0 = performance.now();
    const added = await call(base, {
      action: 'AddMedia',
      source: `file://${clip}`,
      notify: watcher.notify,
      notify_format: 'json',
      format: { output: 'mp4', size: '1280x720', bitrate: '2500k', destination: `file://${files}/out-${run}.mp4` },
    });
    const status = await watcher.ended(added.MediaID);
    const wall = (performance.now() - t0) / 1000;
    const cpu1 = processCpu(server.pid!);
    const s = await call(base, { action: 'GetStatus', mediaid: added.MediaID, extended: 'yes', include_task_status: 'yes' });
    if (status !== 'Finished') throw new Error(`bench media ended ${status}: ${s.job.description}`);
    const f = s.job.format;
    if (f.quality_report === undefined) throw new Error('the quality report is off: this case is measured with it on');
    command ||= f.command;
    const states = [f.task_status?.state ?? []].flat() as { message: string }[];
    const phases = states.map((l) => parseTimings(l.message)).find((p) => p !== null);
    if (!phases) throw new Error('the task log has no Timings: line');
    await fs.rm(path.join(files, `out-${run}.mp4`), { force: true });
    const serverCpu = cpu1.own - cpu0.own;
    return { wall, encode: phases.get('encode') ?? 0, serverCpu, otherCpu: Math.max(0, cpu1.children - cpu0.children - Number(f.cpu_time)), phases };
  };
  const runTheirs = async (): Promise<number> => {
    // The task's output folder is gone once delivered; put it back (untimed) so the very same command line runs.
    const output = command.trim().split(/\s+/).pop()!.replace(/^'|'$/g, '').replace(/^file:/, '');
    await fs.mkdir(path.dirname(output), { recursive: true });
    const t0 = performance.now();
    await exec('sh', ['-c', command + ' >/dev/null 2>&1']);
    const seconds = (performance.now() - t0) / 1000;
    await fs.rm(output, { force: true });
    return seconds;
  };

  try {
    await runOurs(-1); // warm-up, and the command line to compare against
    console.log(`  the task ran: ${command}`);
    const ours: OursRun[] = [];
    const ratios: number[] = [];
    for (let run = 0; run < RUNS; run++) {
      let o: OursRun;
      let theirs: number;
      if (run % 2 === 0) {
        o = await runOurs(run);
        theirs = await runTheirs();
      } else {
        theirs = await runTheirs();
        o = await runOurs(run);
      }
      ours.push(o);
      ratios.push(o.wall / theirs);
      console.log(
        `  run ${run + 1}: Encodery ${o.wall.toFixed(2)} s (its FFmpeg ${o.encode.toFixed(2)} s, fixed cost ${(o.wall - o.encode).toFixed(3)} s;` +
          ` server CPU ${o.serverCpu.toFixed(2)} s, other children CPU ${o.otherCpu.toFixed(2)} s), bare FFmpeg ${theirs.toFixed(2)} s, ratio ${(o.wall / theirs).toFixed(3)}`,
      );
    }
    const m = (pick: (o: OursRun) => number): number => median(ours.map(pick));
    const names = [...new Set(ours.flatMap((o) => [...o.phases.keys()]))];
    const rest = m((o) => o.wall - sumPhases(o.phases));
    console.log(`  phases, median of ${RUNS} (server's Timings: line): ${names.map((n) => `${n} ${m((o) => o.phases.get(n) ?? 0).toFixed(3)} s`).join(', ')}`);
    console.log(`  not in those phases (AddMedia reply, final status write, notify callback): ${rest.toFixed(3)} s`);
    console.log(`  server process CPU per media, median: ${m((o) => o.serverCpu).toFixed(2)} s; its children's besides FFmpeg's reported CPU (ffprobe, FFmpeg's unsampled end): ${m((o) => o.otherCpu).toFixed(2)} s`);
    console.log(`  load average after: ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
    console.log(`fixed cost per media (wall less its FFmpeg's wall, same run), median of ${RUNS}: ${m((o) => o.wall - o.encode).toFixed(3)} s (target ≤ 0.2 s)`);
    console.log(`AddMedia-to-Finished / bare FFmpeg, median of ${RUNS}: ${median(ratios).toFixed(3)} (target ≤ 1.05)`);
  } finally {
    watcher.close();
    server.kill('SIGTERM');
  }
}

/** The phases' sum; `fixed cost` and `store` restate or overlap them. */
function sumPhases(phases: Map<string, number>): number {
  let total = 0;
  for (const [name, sec] of phases) if (name !== 'fixed cost' && name !== 'store') total += sec;
  return total;
}

