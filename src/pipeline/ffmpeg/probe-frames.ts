/**
 * What only decoded pictures tell:
 * - closed captions in the video itself (ATSC A/53 CEA-608/708 in H.264 or HEVC SEI, MPEG-1/2
 *   user data): a decoder reports them only once it has decoded a picture that carries them.
 *   The main probe's stream analysis (libavformat's find_stream_info) decodes the video's first
 *   picture (an MP4's first alone; MPEG-TS and Matroska are read further), however many packets
 *   of other streams come first, and FFmpeg's stream summary on
 *   stderr (`Stream #0:0…: Video: h264 …, Closed Captions, …`) says what that decoder saw. So the
 *   summary answers without another process. (ffprobe's own `closed_captions` field comes from a
 *   second decoder that only -show_frames feeds, so a plain -show_streams always says 0.)
 *   Captioning encoders send cc_data with every picture (padding when nothing is said), so the
 *   first picture finds them.
 * - HDR static metadata (mastering display, content light level) usually travels in the video's
 *   SEI, not in the container, so ffprobe shows it only on decoded frames.
 *
 * The look, one more ffprobe over the first pictures, runs only for what the main probe left
 * open: HDR without its static metadata, or captions the summary cannot tell (HEVC, whose
 * analysis skips decoding pictures; an FFmpeg that words its summary otherwise). Most sources
 * need neither, and skip its process.
 */
import { execFile } from 'node:child_process';
import { colorOf, lacksHdrMetadata, videoStreamOf } from '../../domain/video-color.ts';
import type { MediaProbe } from '../../domain/media-probe.ts';
import { probeArgs, type InputRole } from './inputs.ts';

/** Codecs whose FFmpeg decoder reads A/53 captions. */
const CAPTION_CARRIERS = ['h264', 'hevc', 'mpeg2video', 'mpeg1video'];
/**
 * Carriers whose stream analysis decodes the first picture in full, SEI and user data included,
 * so the summary's word is the decoder's. HEVC's analysis only parses headers (FFmpeg skips its
 * pictures there), and its summary never says: its captions are looked for.
 */
const SUMMARY_CARRIERS = ['h264', 'mpeg2video', 'mpeg1video'];
/** Pictures the look decodes for captions the summary did not answer: enough to meet a captioning encoder's cc_data. */
const CAPTION_PICTURES = 5;

interface FirstFrames {
  closedCaptions: boolean | null;
  sideData: Record<string, unknown>[] | null;
}

/**
 * Whether FFmpeg's stream summary (ffprobe's stderr at log level info) says the video stream
 * carries closed captions; undefined when it cannot tell: no line for that stream, or a codec
 * whose analysis does not decode pictures.
 */
export function captionsInSummary(stderr: string, probe: MediaProbe): boolean | undefined {
  const stream = videoStreamOf(probe.raw);
  if (!stream || typeof stream['index'] !== 'number' || !SUMMARY_CARRIERS.includes(probe.video?.codec ?? '')) return undefined;
  // `  Stream #0:1[0x100](eng): Video: h264 (High) (avc1 / 0x31637661), yuv420p(progressive), 1920x1080, Closed Captions, 25 fps, …`.
  // The line's start is rebuilt from the report, language tag and all, so a tag whose text
  // looks like such a line cannot stand in for it; the last one is the summary's own.
  const id = typeof stream['id'] === 'string' ? `[${stream['id']}]` : '';
  const tags = (stream['tags'] ?? {}) as Record<string, unknown>;
  const languageKey = Object.keys(tags).find((k) => k.toLowerCase() === 'language');
  const language = languageKey !== undefined ? `(${String(tags[languageKey])})` : '';
  const head = `\n  Stream #0:${stream['index']}${id}${language}: Video: `;
  const at = `\n${stderr}`.lastIndexOf(head);
  if (at < 0) return undefined;
  const line = `\n${stderr}`.slice(at + head.length).split('\n', 1)[0]!;
  return line.split(', ').includes('Closed Captions');
}

/** How many of the video's first pictures the look must decode (0: no look): 1 for HDR metadata alone, more for captions still unknown. */
export function picturesToLook(probe: MediaProbe, role: InputRole, summaryCaptions: boolean | undefined): number {
  const video = probe.video;
  if (!video) return 0;
  if (role === 'media' && CAPTION_CARRIERS.includes(video.codec) && summaryCaptions === undefined) return CAPTION_PICTURES;
  return lacksHdrMetadata(video.color) ? 1 : 0;
}

/** The look at the first `pictures` of the probe's video stream; null fields when it failed. */
export function lookAtFirstFrames(file: string, probe: MediaProbe, pictures: number, opts: { ffprobe: string; signal?: AbortSignal; role?: InputRole }): Promise<FirstFrames> {
  const unknown: FirstFrames = { closedCaptions: null, sideData: null };
  const index = videoStreamOf(probe.raw)?.['index'];
  if (typeof index !== 'number') return Promise.resolve(unknown);
  const args = ['-v', 'error', ...probeArgs(file, opts.role ?? 'media', [
    '-select_streams', String(index), '-read_intervals', `%+#${pictures}`, '-show_frames', '-show_entries', 'stream=closed_captions:frame=side_data_list', '-print_format', 'json',
  ])];
  return new Promise((resolve) => {
    execFile(opts.ffprobe, args, { maxBuffer: 1024 * 1024, signal: opts.signal, windowsHide: true }, (err, stdout) => {
      // Not knowing is no reason to fail the source: its tags still say HDR, GetMediaInfo leaves the captions line out.
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

/**
 * The probe completed: the HDR colour with the look's frame side data, and (for a source)
 * `closedCaptions` from the stream summary, or from the look where the summary was silent.
 */
export function withFirstFrames(probe: MediaProbe, look: FirstFrames | null, role: InputRole, summaryCaptions: boolean | undefined): MediaProbe {
  const video = probe.video;
  if (!video) return probe;
  let color = video.color;
  const stream = videoStreamOf(probe.raw);
  if (look?.sideData && stream && lacksHdrMetadata(color)) color = colorOf(stream, look.sideData);
  // An output's captions are the encoder's doing: only a source says whether it carries them.
  if (role !== 'media') return { ...probe, video: { ...video, color } };
  const closedCaptions = CAPTION_CARRIERS.includes(video.codec) ? (summaryCaptions ?? look?.closedCaptions ?? null) : null;
  return { ...probe, video: { ...video, color, closedCaptions } };
}
