/**
 * HDR static metadata (mastering display, content light level) usually travels in the video's
 * SEI, not in the container: ffprobe shows it only on decoded frames. One frame is read, and only
 * for PQ and HLG sources, so an SDR source costs nothing more.
 */
import { execFile } from 'node:child_process';
import { colorOf, isHighDynamicRange, videoStreamOf } from '../../domain/video-color.ts';
import type { MediaProbe } from '../../domain/media-probe.ts';
import { probeArgs, type InputRole } from './inputs.ts';

/** The probe with its video's colour completed from the first frame's side data, when it is HDR and the container had none. */
export async function withFrameColor(file: string, probe: MediaProbe, opts: { ffprobe: string; signal?: AbortSignal; role?: InputRole }): Promise<MediaProbe> {
  const color = probe.video?.color;
  if (!probe.video || !isHighDynamicRange(color) || (color!.mastering && color!.contentLight)) return probe;
  const stream = videoStreamOf(probe.raw);
  if (!stream) return probe;
  const args = ['-v', 'error', ...probeArgs(file, opts.role ?? 'media', [
    '-read_intervals', '%+#1', '-select_streams', 'v:0', '-show_frames', '-show_entries', 'frame=side_data_list', '-print_format', 'json',
  ])];
  const stdout = await new Promise<string | null>((resolve) => {
    execFile(opts.ffprobe, args, { maxBuffer: 1024 * 1024, signal: opts.signal, windowsHide: true }, (err, out) => resolve(err ? null : out));
  });
  if (opts.signal?.aborted) throw opts.signal.reason;
  // Without the frame's metadata the source is still HDR by its tags; only the static metadata is missing.
  if (stdout === null) return probe;
  let frames: Array<{ side_data_list?: Record<string, unknown>[] }> = [];
  try {
    frames = (JSON.parse(stdout) as { frames?: typeof frames }).frames ?? [];
  } catch {
    return probe;
  }
  const sideData = frames[0]?.side_data_list ?? [];
  return { ...probe, video: { ...probe.video, color: colorOf(stream, sideData) } };
}
