/**
 * Section 8: the cost of the quality report (ENCODERY_QUALITY_REPORT) on issue 15's case: a 10 s
 * 1080p clip to the four-rung H.264 ladder (1080p, 720p, 480p, 360p; x264 medium, AAC) as ONE
 * advanced_hls format, by two server processes set up alike but for the setting. Each run is a
 * pair: the "on" and the "off" media are added at the same moment, so that both encodes meet the
 * same load from the rest of the machine. Reported per pair and as the median of the pairs: the
 * AddMedia-to-Finished wall time of each and the extra in % (target ≤ 3 %), the FFmpeg process's
 * CPU seconds, and the CPU seconds of the server with its children (FFmpeg and anything else the
 * media ran). CPU seconds show the cost with far less of the noise of other work on the machine.
 *
 * Why pairs run together: run one after the other, a pair's two encodes meet different load (on
 * this shared 2-core machine, other work comes and goes within a minute), and the CPU seconds of
 * the same command vary with it (31.7 to 42.7 s for the bare ladder command within one hour at
 * load 9 to 28): ten times what the report costs, so a few sequential runs could show it costing
 * -1 % or +14 %. Run together, the bare command with and without the report differed by 0.56 and
 * 0.92 CPU s in two pairs. BENCH_QUALITY_PAIRING=sequential runs each pair one after the other
 * (alternating which goes first), to see that noise.
 *
 * Then what each part of the report costs on its own: the exact FFmpeg command the "on" task ran
 * (extended GetStatus), run bare as it ran, paired (at the same moment) with the same command
 * without one part (the encoders' PSNR, their SSIM, the ebur128 branch), without all three, or with
 * itself (the noise of a pair); CPU seconds of each from the shell's `times`. Then the duration
 * difference read after the encode, as the report reads it (the playlists) and by ffprobe as it
 * did before. BENCH_QUALITY_PART_SECONDS (default: all of it) limits how much of the source the
 * bare runs read, for a quicker look on a busy machine.
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
const SEQUENTIAL = process.env.BENCH_QUALITY_PAIRING === 'sequential';

/**
 * Runs the two sides of a comparison as a pair: at the same moment, or with
 * BENCH_QUALITY_PAIRING=sequential one after the other, `round` choosing which goes first.
 */
async function paired<T>(a: () => Promise<T>, b: () => Promise<T>, round: number): Promise<[T, T]> {
  if (!SEQUENTIAL) return Promise.all([a(), b()]);
  if (round % 2 === 0) {
    const first = await a();
    return [first, await b()];
  }
  const first = await b();
  return [await a(), first];
}

const pairing = SEQUENTIAL ? 'one after the other, alternating which goes first' : 'both at the same moment';

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
      ` report on against off, two servers set up alike, each pair of media run ${pairing}`,
  );
  console.log(`  load average before: ${loadavg()} (${os.cpus().length} cores)`);

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
  // One watcher per server: both number their media from 1, and a pair's two media end at about the same time.
  const watchers = { on: await endWatcher(), off: await endWatcher() };
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
      notify: watchers[mode].notify,
      notify_format: 'json',
      format: {
        output: 'advanced_hls', turbo: 'no', audio_bitrate: '128k',
        stream: LADDER.map((r) => ({ size: `0x${r.height}`, bitrate: r.bitrate })),
        destination: `file://${out}/video.m3u8`,
      },
    });
    const status = await watchers[mode].ended(added.MediaID);
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
    await paired(() => runOne('on', -1), () => runOne('off', -1), 0); // warm-up of both (caches, JIT)
    const on: Run[] = [];
    const off: Run[] = [];
    for (let run = 0; run < RUNS; run++) {
      const [a, b] = await paired(() => runOne('on', run), () => runOne('off', run), run);
      on.push(a);
      off.push(b);
      console.log(
        `  pair ${run + 1} (load ${loadavg()}): on ${a.wall.toFixed(2)} s (FFmpeg ${a.cpu.toFixed(2)} CPU s; all ${a.serverCpu.toFixed(2)} CPU s),` +
          ` off ${b.wall.toFixed(2)} s (FFmpeg ${b.cpu.toFixed(2)} CPU s; all ${b.serverCpu.toFixed(2)} CPU s):` +
          ` ${pct(a.cpu, b.cpu)} FFmpeg CPU, ${pct(a.wall, b.wall)} wall`,
      );
    }
    const m = (xs: Run[], k: keyof Run): number => median(xs.map((x) => x[k]));
    /** The median over pairs of each pair's extra, in %, and the range of the pairs. */
    const extra = (k: keyof Run): string => {
      const each = on.map((a, j) => (a[k] / off[j]![k] - 1) * 100);
      return `${median(each).toFixed(1)} % (pairs ${Math.min(...each).toFixed(1)} to ${Math.max(...each).toFixed(1)} %)`;
    };
    taskCpu = m(on, 'cpu');
    console.log(`  a summary: ${JSON.stringify(sample)}`);
    console.log(`  load average after the server runs: ${loadavg()}`);
    console.log(`  FFmpeg CPU, median: on ${m(on, 'cpu').toFixed(2)} s, off ${m(off, 'cpu').toFixed(2)} s; extra, median of the pairs: ${extra('cpu')}`);
    console.log(
      `  all CPU of the media (server, FFmpeg, ffprobe), median: on ${m(on, 'serverCpu').toFixed(2)} s, off ${m(off, 'serverCpu').toFixed(2)} s;` +
        ` extra, median of the pairs: ${extra('serverCpu')}`,
    );
    console.log(
      `quality report extra (AddMedia to Finished), median of ${RUNS} pairs: wall ${extra('wall')}` +
        ` (on ${m(on, 'wall').toFixed(2)} s, off ${m(off, 'wall').toFixed(2)} s); CPU of the media ${extra('serverCpu')} (target ≤ 3 %)`,
    );
  } finally {
    for (const w of Object.values(watchers)) w.close();
    for (const c of children) c.kill('SIGTERM');
  }
  await partsOfTheReport(command, dirs.on, path.join(dataDir, 'q-bare'), kept, taskCpu);
}

/**
 * Each part's CPU cost: the task's command run bare as it was, paired with the same command
 * without that part (and with it without all three); a part's cost is the median over rounds of
 * (as run − without it), each round taking the parts in another order.
 */
async function partsOfTheReport(command: string, serverDir: string, bareDir: string, output: string, taskCpu: number): Promise<void> {
  let asRun = command;
  if (PART_SECONDS) asRun = asRun.replace(/ -i file:/, ` -t ${Number(PART_SECONDS)} -i file:`);
  const none = Object.values(PARTS).reduce((c, without) => without(c), asRun);
  const without: Record<string, string> = Object.fromEntries(Object.entries(PARTS).map(([name, drop]) => [name, drop(asRun)]));
  without['all three parts together'] = none;
  // The command against itself: what a pair differs by when nothing differs, the floor under every figure above.
  without['nothing (the noise of a pair)'] = asRun;
  const diffs: Record<string, { asRun: number; without: number }[]> = Object.fromEntries(Object.keys(without).map((k) => [k, []]));
  console.log(
    `  each part alone: the "on" task's FFmpeg command run bare, paired with it without the part (${pairing}), ${PART_ROUNDS} rounds` +
      `${PART_SECONDS ? `, the first ${PART_SECONDS} s of the source` : ''}`,
  );
  /** The command writing into a folder of its own (the two of a pair run at once). */
  const bare = async (cmd: string, side: string): Promise<number> => {
    const dir = `${bareDir}-${side}`;
    await fs.rm(dir, { recursive: true, force: true });
    await fs.mkdir(dir, { recursive: true });
    return childCpu(cmd.split(serverDir).join(dir));
  };
  for (let round = 0; round < PART_ROUNDS; round++) {
    // Each round takes the parts in another order: on a machine whose other load changes, no part always runs at the same moment.
    const all = Object.keys(without);
    const names = [...all.slice(round % all.length), ...all.slice(0, round % all.length)];
    for (const name of names) {
      const [a, b] = await paired(() => bare(asRun, 'a'), () => bare(without[name]!, 'b'), round);
      diffs[name]!.push({ asRun: a, without: b });
    }
    console.log(
      `  round ${round + 1} (load ${loadavg()}): ` +
        Object.entries(diffs).map(([k, v]) => `${k} ${v.at(-1)!.asRun.toFixed(2)} against ${v.at(-1)!.without.toFixed(2)}`).join('; ') + ' CPU s',
    );
  }
  for (const dir of ['a', 'b']) await fs.rm(`${bareDir}-${dir}`, { recursive: true, force: true });
  for (const [name, runs] of Object.entries(diffs)) {
    const d = runs.map((r) => r.asRun - r.without);
    const pcts = runs.map((r) => (r.asRun / r.without - 1) * 100);
    console.log(
      `  part: ${name}: ${median(d).toFixed(2)} CPU s, ${median(pcts).toFixed(1)} % of the command without it` +
        ` (median of ${runs.length} pairs; per pair ${d.map((x) => x.toFixed(2)).join(', ')} s)`,
    );
  }

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
  console.log(`  load average at the end: ${loadavg()}`);
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
const loadavg = (): string => os.loadavg().map((l) => l.toFixed(2)).join(' ');
