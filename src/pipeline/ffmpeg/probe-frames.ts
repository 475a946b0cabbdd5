/**
 * What only decoded pictures tell, read by one more ffprobe over the first few pictures:
 * - HDR static metadata (mastering display, content light level) usually travels in the video's
 *   SEI, not in the container, so ffprobe shows it only on decoded frames;
 * - closed captions in the video itself (ATSC A/53 CEA-608/708 in H.264 or HEVC SEI, MPEG-1/2
 *   user data): the decoders report them (`closed_captions`) only once they have decoded a picture
 *   that carries them, so a plain `-show_streams` always says 0. Captioning encoders send cc_data
 *   with every picture (padding when nothing is said), so a handful of pictures finds them.
 *
 * The look starts together with the main probe (probe.ts), so its process start-up, most of its
 * cost, overlaps the main probe's instead of following it; it is used only when the video needs it.
 */
import { execFile } from 'node:child_process';
import { colorOf, lacksHdrMetadata, videoStreamOf } from '../../domain/video-color.ts';
import type { MediaProbe } from '../../domain/media-probe.ts';
import { probeArgs, type InputRole } from './inputs.ts';

/** Codecs whose FFmpeg decoder reads A/53 captions. */
const CAPTION_CARRIERS = ['h264', 'hevc', 'mpeg2video', 'mpeg1video'];
/** Pictures decoded: enough to meet a captioning encoder's cc_data; each more costs a decode. */
const PICTURES = 5;

interface FirstFrames {
  closedCaptions: boolean | null;
  sideData: Record<string, unknown>[] | null;
}

/** The look at the first pictures of a file's first video stream; null fields when it failed or there is no video. */
export function lookAtFirstFrames(file: string, opts: { ffprobe: string; signal?: AbortSignal; role?: InputRole }): Promise<FirstFrames> {
  const args = ['-v', 'error', ...probeArgs(file, opts.role ?? 'media', [
    '-select_streams', 'v:0', '-read_intervals', `%+#${PICTURES}`, '-show_frames', '-show_entries', 'stream=closed_captions:frame=side_data_list', '-print_format', 'json',
  ])];
  return new Promise((resolve) => {
    execFile(opts.ffprobe, args, { maxBuffer: 1024 * 1024, signal: opts.signal, windowsHide: true }, (err, stdout) => {
      // Not knowing is no reason to fail the source: its tags still say HDR, GetMediaInfo leaves the captions line out.
      const unknown: FirstFrames = { closedCaptions: null, sideData: null };
      if (err) return resolve(unknown);
      try {
        const json = JSON.parse(stdout) as { streams?: { closed_captions?: unknown }[]; frames?: { side_data_list?: Record<string, unknown>[] }[] };
        const flag = json.streams?.[0]?.closed_captions;
        resolve({ closedCaptions: flag === 0 || flag === 1 ? flag === 1 : null, sideData: json.frames?.[0]?.side_data_list ?? [] });
      } catch {
        resolve(unknown);
      }
    });
  });
}

/** Whether the probe's video needs the look: HDR without its static metadata, or (for a source) a codec that can carry captions. */
export function needsFirstFrames(probe: MediaProbe, role: InputRole): boolean {
  const video = probe.video;
  if (!video) return false;
  return lacksHdrMetadata(video.color) || (role === 'media' && CAPTION_CARRIERS.includes(video.codec));
}

/** The probe completed from the look: the HDR colour with its frame side data, and (for a source) `closedCaptions`. */
export function withFirstFrames(probe: MediaProbe, look: FirstFrames | null, role: InputRole): MediaProbe {
  const video = probe.video;
  if (!video) return probe;
  let color = video.color;
  const stream = videoStreamOf(probe.raw);
  if (look?.sideData && stream && lacksHdrMetadata(color)) color = colorOf(stream, look.sideData);
  // An output's captions are the encoder's doing: only a source says whether it carries them.
  if (role !== 'media') return { ...probe, video: { ...video, color } };
  const closedCaptions = CAPTION_CARRIERS.includes(video.codec) ? (look?.closedCaptions ?? null) : null;
  return { ...probe, video: { ...video, color, closedCaptions } };
}

