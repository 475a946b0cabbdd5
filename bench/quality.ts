/**
 * Section 8: the cost of the quality report (ENCODERY_QUALITY_REPORT) on issue 15's case: a 10 s
 * 1080p clip to the four-rung H.264 ladder (1080p, 720p, 480p, 360p; x264 medium, AAC) as ONE
 * advanced_hls format, by two server processes set up alike but for the setting, in alternating
 * order. Reported: the median AddMedia-to-Finished wall time of each and the extra wall time in %
 * (target ≤ 3 %), the FFmpeg process's CPU seconds, and the CPU seconds of the server with its
 * children (FFmpeg and the ffprobe of the output): CPU seconds show the cost with far less of the
 * noise of other work on the machine.
 *
 * Then what each part of the report costs on its own: the exact FFmpeg command the "on" task ran
 * (extended GetStatus), run bare with and without each part (the encoders' PSNR, their SSIM, the
 * ebur128 branch), CPU seconds of each from the shell's `times`, and the duration difference read
 * after the encode, as the report reads it (the playlists) and by ffprobe as it did before. BENCH_QUALITY_PART_SECONDS (default: all of it)
 * limits how much of the source the bare runs read, for a quicker look on a busy machine.
 */
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { durationOf } from '../src/pipeline/quality/report.ts';
import { probeMedia } from '../src/pipeline/ffmpeg/probe.ts';
import { LADDER, call, endWatcher, exec, makeClip, median, processCpu, startServer } from './lib.ts';

/** A process's CPU seconds with its finished children's. */
const treeCpu = (pid: number): number => {
  const cpu = processCpu(pid);
  return cpu.own + cpu.children;
};

const RUNS = Number(process.env.BENCH_QUALITY_RUNS ?? 5);
const PART_ROUNDS = Number(process.env.BENCH_QUALITY_PART_ROUNDS ?? 3);
const PART_SECONDS = process.env.BENCH_QUALITY_PART_SECONDS;

interface Run {
  wall: number;
  cpu: number;
  /** The server process and its finished children (FFmpeg, ffprobe): everything the media cost. */
  serverCpu: number;
}

/**
 * The parts of the report as they appear in a task's FFmpeg command, each with what the command is
 * without it. The ebur128 filter is replaced by `anull` so that the graph keeps its shape.
 */
const PARTS = {
  'PSNR (x264 +psnr)': (command: string) => command.replace(/ -flags:v(?::\d+)? \+psnr/g, ''),
  'SSIM (x264 -ssim 1)': (command: string) => command.replace(/ -ssim:v(?::\d+)? 1/g, ''),
  'loudness (ebur128 branch)': (command: string) => command.replace(/ebur128=[^,;']*/g, 'anull'),
} as const;

export async function qualitySection(dataDir: string): Promise<void> {
  const files = path.join(dataDir, 'files');
  await fs.mkdir(files, { recursive: true });
  const clip = path.join(files, 'quality-1080p.mp4');
  await makeClip(clip, 1920, 1080);
  console.log(
    'quality report: a 10 s 1080p clip to a four-rung ladder (1080p 5000k, 720p 2800k, 480p 1400k, 360p 800k; x264 medium) as one advanced_hls,' +
      ' report on against off, two servers set up alike',
  );
  console.log(`  load average before: ${os.loadavg().map((l) => l.toFixed(2)).join(' ')} (${os.cpus().length} cores)`);

  const ports = { on: 30000 + Math.floor(Math.random() * 10000), off: 40000 + Math.floor(Math.random() * 10000) };
  const dirs = { on: path.join(dataDir, 'q-on'), off: path.join(dataDir, 'q-off') };
  const children: ChildProcess[] = [];
  const pids = { on: 0, off: 0 };
  for (const mode of ['on', 'off'] as const) {
    await fs.mkdir(dirs[mode], { recursive: true });
    // The clip is read in place from the bench's files folder by both.
    const child = await startServer(dirs[mode], ports[mode], { ENCODERY_QUALITY_REPORT: mode, ENCODERY_FILE_ROOTS: files });
    children.push(child);
    pids[mode] = child.pid!;
  }
  const watcher = await endWatcher();
  let sample: Record<string, unknown> | undefined;
  let command = '';
  /** The "on" task's FFmpeg CPU seconds, median: what the duration part is compared with. */
  let taskCpu = 0;
  const kept = path.join(files, 'q-kept', 'video.m3u8');
  const runOne = async (mode: 'on' | 'off', run: number): Promise<Run> => {
    const base = `http://127.0.0.1:${ports[mode]}`;
    const out = path.join(files, `q-${mode}-${run}`);
    const cpu0 = treeCpu(pids[mode]);
    const t0 = performance.now();
    const added = await call(base, {
      action: 'AddMedia',
      source: `file://${clip}`,
      notify: watcher.notify,
      notify_format: 'json',
      format: {
        output: 'advanced_hls', turbo: 'no', audio_bitrate: '128k',
        stream: LADDER.map((r) => ({ size: `0x${r.height}`, bitrate: r.bitrate })),
        destination: `file://${out}/video.m3u8`,
      },
    });
    const status = await watcher.ended(added.MediaID);
    const wall = (performance.now() - t0) / 1000;
    const serverCpu = treeCpu(pids[mode]) - cpu0;
    const s = await call(base, { action: 'GetStatus', mediaid: added.MediaID, extended: 'yes' });
    if (status !== 'Finished') throw new Error(`bench media ended ${status}: ${s.job.description}`);
    const f = s.job.format;
    if ((mode === 'on') !== (f.quality_report !== undefined)) throw new Error(`report ${mode} but quality is ${JSON.stringify(f.quality_report)}`);
    if (mode === 'on') {
      sample = f.quality_report;
      command = f.command;
      await fs.rm(path.dirname(kept), { recursive: true, force: true });
      await fs.rename(out, path.dirname(kept));
    }
    await fs.rm(out, { recursive: true, force: true });
    return { wall, cpu: Number(f.cpu_time), serverCpu };
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
        `  run ${run + 1}: on ${a.wall.toFixed(2)} s (FFmpeg ${a.cpu.toFixed(2)} CPU s; all ${a.serverCpu.toFixed(2)} CPU s),` +
          ` off ${b.wall.toFixed(2)} s (FFmpeg ${b.cpu.toFixed(2)} CPU s; all ${b.serverCpu.toFixed(2)} CPU s)`,
      );
    }
    const m = (xs: Run[], k: keyof Run): number => median(xs.map((x) => x[k]));
    taskCpu = m(on, 'cpu');
    console.log(`  a summary: ${JSON.stringify(sample)}`);
    console.log(`  load average after the server runs: ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
    console.log(`  FFmpeg CPU, median: on ${m(on, 'cpu').toFixed(2)} s, off ${m(off, 'cpu').toFixed(2)} s (${pct(m(on, 'cpu'), m(off, 'cpu'))})`);
    console.log(
      `  all CPU of the media (server, FFmpeg, ffprobe), median: on ${m(on, 'serverCpu').toFixed(2)} s, off ${m(off, 'serverCpu').toFixed(2)} s` +
        ` (${pct(m(on, 'serverCpu'), m(off, 'serverCpu'))}; per-run differences ${on.map((a, k) => (a.serverCpu - off[k]!.serverCpu).toFixed(2)).join(', ')} s)`,
    );
    console.log(
      `quality report extra wall time (AddMedia to Finished), median of ${RUNS}: on ${m(on, 'wall').toFixed(2)} s, off ${m(off, 'wall').toFixed(2)} s:` +
        ` ${pct(m(on, 'wall'), m(off, 'wall'))}; extra CPU ${pct(m(on, 'serverCpu'), m(off, 'serverCpu'))} (target ≤ 3 %)`,
    );
  } finally {
    watcher.close();
    for (const c of children) c.kill('SIGTERM');
  }
  await partsOfTheReport(command, dirs.on, path.join(dataDir, 'q-bare'), kept, taskCpu);
}

/**
 * Each part's CPU cost: the task's command run bare as it was, without that part, and without
 * any, each round starting at another variant; a part's cost is the median over rounds of (as run − without it).
 */
async function partsOfTheReport(command: string, serverDir: string, bareDir: string, output: string, taskCpu: number): Promise<void> {
  // The bare runs write where the task wrote, moved to a folder of their own.
  let asRun = command.split(serverDir).join(bareDir);
  if (PART_SECONDS) asRun = asRun.replace(/ -i file:/, ` -t ${Number(PART_SECONDS)} -i file:`);
  const none = Object.values(PARTS).reduce((c, without) => without(c), asRun);
  const variants: Record<string, string> = { 'as run': asRun, 'without any part': none };
  for (const [name, without] of Object.entries(PARTS)) variants[`without ${name}`] = without(asRun);
  const cpu: Record<string, number[]> = Object.fromEntries(Object.keys(variants).map((k) => [k, []]));
  console.log(`  each part alone: the "on" task's FFmpeg command run bare, ${PART_ROUNDS} rounds${PART_SECONDS ? `, the first ${PART_SECONDS} s of the source` : ''}`);
  for (let round = 0; round < PART_ROUNDS; round++) {
    // Each round starts at another variant: on a machine whose other load changes, no variant always runs at the same moment.
    const all = Object.keys(variants);
    const names = [...all.slice(round % all.length), ...all.slice(0, round % all.length)];
    for (const name of names) {
      await fs.rm(bareDir, { recursive: true, force: true });
      await fs.mkdir(bareDir, { recursive: true });
      cpu[name]!.push(await childCpu(variants[name]!));
    }
    console.log(`  round ${round + 1}: ${Object.entries(cpu).map(([k, v]) => `${k} ${v.at(-1)!.toFixed(2)}`).join(', ')} CPU s`);
  }
  await fs.rm(bareDir, { recursive: true, force: true });
  const base = median(cpu['without any part']!);
  const costOf = (name: string): string => {
    const diffs = cpu['as run']!.map((c, k) => c - cpu[name]![k]!);
    const d = median(diffs);
    return `${d.toFixed(2)} CPU s (${((d / base) * 100).toFixed(1)} %; per round ${diffs.map((x) => x.toFixed(2)).join(', ')})`;
  };
  for (const name of Object.keys(PARTS)) console.log(`  part: ${name}: ${costOf(`without ${name}`)}`);
  console.log(`  all three parts together: ${costOf('without any part')}, of ${base.toFixed(2)} CPU s without them`);

  // The duration difference after the encode: read from the playlists now, by ffprobe before (and for other outputs).
  const timed = async (measure: () => Promise<unknown>): Promise<string> => {
    const runs: { wall: number; cpu: number }[] = [];
    for (let k = 0; k < PART_ROUNDS; k++) {
      const cpu0 = treeCpu(process.pid);
      const t0 = performance.now();
      await measure();
      runs.push({ wall: (performance.now() - t0) / 1000, cpu: treeCpu(process.pid) - cpu0 });
    }
    const cpu = median(runs.map((r) => r.cpu));
    return `median ${median(runs.map((r) => r.wall)).toFixed(3)} s wall, ${cpu.toFixed(2)} CPU s (${((cpu / taskCpu) * 100).toFixed(1)} % of the task's FFmpeg CPU)`;
  };
  const figure = await durationOf(output, 10, { ffprobe: 'ffprobe' });
  if (figure.value === null) throw new Error(`the duration difference was not measured: ${figure.method}`);
  console.log(`  part: duration difference, after the encode, as the report reads it (${figure.method.slice(0, 60)}…): ${await timed(() => durationOf(output, 10, { ffprobe: 'ffprobe' }))}`);
  console.log(`  part: duration difference by ffprobe of the master playlist (before; bench process and its ffprobe): ${await timed(() => probeMedia(output, { ffprobe: 'ffprobe', role: 'ownOutput' }))}`);
}

/** CPU seconds (user + system) of the children of a shell running `command`, from its `times`. */
async function childCpu(command: string): Promise<number> {
  const { stdout } = await exec('sh', ['-c', `${command} >/dev/null 2>&1; times`]);
  const children = stdout.trim().split('\n').at(-1)!;
  const seconds = [...children.matchAll(/(\d+)m([\d.]+)s/g)].map(([, min, sec]) => Number(min) * 60 + Number(sec));
  if (seconds.length !== 2) throw new Error(`unexpected output of times: ${stdout}`);
  return seconds[0]! + seconds[1]!;
}

const pct = (a: number, b: number): string => `${(((a / b) - 1) * 100).toFixed(1)} %`;

