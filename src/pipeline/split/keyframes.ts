/** The source's video frames as ffprobe's packet flags tell them: presentation times and which start a GOP. */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { ffmpegUrl } from '../ffmpeg/args.ts';

export interface FrameTimes {
  /** Presentation times of every video frame, ascending (seconds). */
  pts: number[];
  /** Indexes into `pts` of the frames that are keyframes. */
  keyframes: number[];
}

export async function readFrameTimes(file: string, opts: { ffprobe: string; signal?: AbortSignal }): Promise<FrameTimes> {
  opts.signal?.throwIfAborted();
  const child = spawn(opts.ffprobe, ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'packet=pts_time,flags', '-of', 'csv=p=0', ffmpegUrl(file)], {
    signal: opts.signal, stdio: ['ignore', 'pipe', 'pipe'], windowsHide: true,
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => {
    if (stderr.length < 4096) stderr += d.toString();
  });
  const closed = new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', resolve);
  });
  const frames: { t: number; key: boolean }[] = [];
  for await (const line of createInterface({ input: child.stdout })) {
    const [time, flags] = line.split(',');
    const t = Number(time);
    // A packet without a presentation time cannot be a cut point; the split is refused below if too many lack one.
    if (time === undefined || time === 'N/A' || !Number.isFinite(t)) continue;
    frames.push({ t, key: (flags ?? '').includes('K') });
  }
  const code = await closed;
  if (code !== 0) throw new Error(`ffprobe could not read the video packets (${stderr.trim().split('\n').at(-1) ?? `exit ${code}`})`);
  // Packets come in decode order; B-frames make presentation order differ.
  frames.sort((a, b) => a.t - b.t);
  const keyframes: number[] = [];
  frames.forEach((f, i) => {
    if (f.key) keyframes.push(i);
  });
  return { pts: frames.map((f) => f.t), keyframes };
}
