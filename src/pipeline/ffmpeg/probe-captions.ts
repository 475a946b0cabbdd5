/**
 * Closed captions in the video itself (ATSC A/53 CEA-608/708 in H.264 or HEVC SEI, MPEG-1/2 user
 * data): FFmpeg's decoders report them (ffprobe's `closed_captions`) only once they have decoded a
 * picture that carries them, so a plain `-show_streams` always says 0. The first few pictures are
 * decoded here, and only for those codecs: broadcast captions ride on every picture, so a handful
 * finds them, for the cost of decoding them and nothing for other sources.
 */
import { execFile } from 'node:child_process';
import type { MediaProbe } from '../../domain/media-probe.ts';
import { probeArgs, type InputRole } from './inputs.ts';

/** Codecs whose FFmpeg decoder reads A/53 captions. */
const CARRIERS = ['h264', 'hevc', 'mpeg2video', 'mpeg1video'];
/** Pictures decoded: captioning encoders send cc_data with every picture (padding when nothing is said), so a few find it; each more costs a decode. */
const PICTURES = 5;

/** The probe with `closedCaptions` set on its video: true or false when looked for, null when its codec cannot carry them or the look failed. */
export async function withEmbeddedCaptions(file: string, probe: MediaProbe, opts: { ffprobe: string; signal?: AbortSignal; role?: InputRole }): Promise<MediaProbe> {
  if (!probe.video) return probe;
  if (!CARRIERS.includes(probe.video.codec)) return { ...probe, video: { ...probe.video, closedCaptions: null } };
  const args = ['-v', 'error', ...probeArgs(file, opts.role ?? 'media', [
    '-select_streams', 'v:0', '-read_intervals', `%+#${PICTURES}`, '-show_entries', 'stream=closed_captions:frame=pts', '-print_format', 'json',
  ])];
  const stdout = await new Promise<string | null>((resolve) => {
    execFile(opts.ffprobe, args, { maxBuffer: 1024 * 1024, signal: opts.signal, windowsHide: true }, (err, out) => resolve(err ? null : out));
  });
  if (opts.signal?.aborted) throw opts.signal.reason;
  let found: boolean | null = null;
  try {
    const flag = stdout === null ? undefined : (JSON.parse(stdout) as { streams?: { closed_captions?: unknown }[] }).streams?.[0]?.closed_captions;
    if (flag === 0 || flag === 1) found = flag === 1;
  } catch {
    // Not knowing is no reason to fail the source: GetMediaInfo leaves the line out.
  }
  return { ...probe, video: { ...probe.video, closedCaptions: found } };
}
