/** The source's video frames as ffprobe's packet flags tell them: presentation times and which start a GOP. */
import { forEachVideoPacket } from '../ffmpeg/probe.ts';

export interface FrameTimes {
  /** Presentation times of every video frame, ascending (seconds). */
  pts: number[];
  /** Indexes into `pts` of the frames that are keyframes. */
  keyframes: number[];
}

export async function readFrameTimes(file: string, opts: { ffprobe: string; signal?: AbortSignal }): Promise<FrameTimes> {
  const frames: { t: number; key: boolean }[] = [];
  await forEachVideoPacket(file, ['pts_time', 'flags'], opts, ([time, flags]) => {
    const t = Number(time);
    // A packet without a presentation time cannot be a cut point; the split is refused below if too many lack one.
    // MPEG-TS sources also print empty lines (Number('') would be a frame at 0).
    if (time === undefined || time === '' || time === 'N/A' || !Number.isFinite(t)) return;
    frames.push({ t, key: (flags ?? '').includes('K') });
  });
  // Packets come in decode order; B-frames make presentation order differ.
  frames.sort((a, b) => a.t - b.t);
  const keyframes: number[] = [];
  frames.forEach((f, i) => {
    if (f.key) keyframes.push(i);
  });
  return { pts: frames.map((f) => f.t), keyframes };
}
