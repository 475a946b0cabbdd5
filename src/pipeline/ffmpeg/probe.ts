/** ffprobe, reduced to the facts the planner and GetMediaInfo need. */
import { execFile, spawn, type ExecFileException } from 'node:child_process';
import { createInterface } from 'node:readline';
import { UserFacingError } from '../../domain/errors.ts';
import { literalPath, namedLikeSequence, probeArgs, RefusedInputError, refusalOf, refusedFormat, sniffNotMedia, type InputRole } from './inputs.ts';
import { colorOf } from '../../domain/video-color.ts';
import { captionsInSummary, lookAtFirstFrames, picturesToLook, withFirstFrames } from './probe-frames.ts';
import type { FfprobeJson, MediaProbe, VideoStreamInfo, AudioStreamInfo } from '../../domain/media-probe.ts';
export type { AudioStreamInfo, FfprobeJson, MediaProbe, VideoStreamInfo } from '../../domain/media-probe.ts';

/** The source is not media we can encode. Not retryable: the same bytes will fail the same way. */
export class UnreadableSourceError extends UserFacingError {
  override name = 'UnreadableSourceError';
  readonly code = 'ENCODERY_SOURCE_UNREADABLE';
}

const MAX_PROBE_OUTPUT = 16 * 1024 * 1024;

export interface ProbeOptions {
  ffprobe: string;
  signal?: AbortSignal;
  /** What ffprobe may open for this file (inputs.ts). @default 'media' */
  role?: InputRole;
}

/**
 * A media file's facts. A `media` file that is a playlist or manifest is refused first, from
 * its bytes, with a {@link RefusedInputError}, before ffprobe opens anything it names.
 */
export async function probeMedia(file: string, opts: ProbeOptions): Promise<MediaProbe> {
  opts.signal?.throwIfAborted();
  const role = opts.role ?? 'media';
  if (role === 'media') {
    if (namedLikeSequence(file)) throw new RefusedInputError(refusalOf('imageSequence'));
    const kind = await sniffNotMedia(file);
    if (kind) throw new RefusedInputError(refusalOf(kind));
  }
  // Log level info: FFmpeg's stream summary on stderr says whether the video carries captions (probe-frames.ts).
  const args = ['-hide_banner', '-v', 'info', ...probeArgs(file, role, ['-print_format', 'json', '-show_format', '-show_streams'])];
  const { stdout, stderr, exitError } = await new Promise<{ stdout: string; stderr: string; exitError: ExecFileException | null }>(
    (resolve) => {
      execFile(opts.ffprobe, args, { maxBuffer: MAX_PROBE_OUTPUT, signal: opts.signal, windowsHide: true }, (err, stdout, stderr) =>
        resolve({ stdout, stderr, exitError: err }),
      );
    },
  );
  if (opts.signal?.aborted) throw opts.signal.reason;
  if (exitError) {
    if (exitError.code === 'ENOENT' || exitError.code === 'EACCES') {
      throw new Error(`ffprobe could not be started ("${opts.ffprobe}": ${exitError.code}). Check ENCODERY_FFPROBE.`);
    }
    const refusal = refusedFormat(stderr.split('\n'));
    if (refusal) throw new RefusedInputError(refusal);
    throw new UnreadableSourceError(unreadableMessage(ffprobeReason(stderr, file)));
  }
  let json: FfprobeJson;
  try {
    json = JSON.parse(stdout) as FfprobeJson;
  } catch {
    throw new UnreadableSourceError(unreadableMessage('its report was not valid JSON'));
  }
  const plain = fromFfprobeJson(json);
  const captions = role === 'media' ? captionsInSummary(stderr, plain) : undefined;
  // Another ffprobe over the first pictures only for what this one left open (probe-frames.ts).
  const pictures = picturesToLook(plain, role, captions);
  const look = pictures > 0 ? await lookAtFirstFrames(file, plain, pictures, { ffprobe: opts.ffprobe, role, signal: opts.signal }) : null;
  if (opts.signal?.aborted) throw opts.signal.reason;
  const probe = withFirstFrames(plain, look, role, captions);
  if (!probe.video && probe.audio.length === 0) {
    throw new UnreadableSourceError(
      'The source has neither a video nor an audio stream, so there is nothing to encode. Check that the URL points to a video or audio file.',
    );
  }
  return probe;
}

/** Exported for tests and for callers that already hold ffprobe output. */
export function fromFfprobeJson(json: FfprobeJson): MediaProbe {
  const format = json.format ?? {};
  const streams = json.streams ?? [];
  // Cover art in MP3/M4A shows up as a one-frame video stream: it is not the video.
  const videoStream = streams.find((s) => s['codec_type'] === 'video' && !isAttachedPicture(s));
  const audio = streams.filter((s) => s['codec_type'] === 'audio').map(audioInfo);
  const video = videoStream ? videoInfo(videoStream) : null;
  const streamDurations = [video?.durationSec ?? null, ...audio.map((a) => a.durationSec)].filter((d): d is number => d !== null);
  return {
    formatName: str(format['format_name']) ?? 'unknown',
    durationSec: num(format['duration']) ?? (streamDurations.length ? Math.max(...streamDurations) : 0),
    bitrate: int(format['bit_rate']),
    sizeBytes: int(format['size']) ?? 0,
    video,
    audio,
    raw: json,
  };
}

function videoInfo(s: Record<string, unknown> & { tags?: Record<string, string> }): VideoStreamInfo {
  const width = int(s['width']) ?? 0;
  const height = int(s['height']) ?? 0;
  const sar = validRatio(str(s['sample_aspect_ratio'])) ?? '1:1';
  const [sarNum, sarDen] = sar.split(':').map(Number) as [number, number];
  return {
    codec: str(s['codec_name']) ?? 'unknown',
    profile: str(s['profile']),
    bitrate: int(s['bit_rate']),
    width,
    height,
    fps: rate(str(s['avg_frame_rate'])) ?? rate(str(s['r_frame_rate'])) ?? 0,
    pixelAspectRatio: sar,
    displayAspectRatio: validRatio(str(s['display_aspect_ratio'])) ?? reducedRatio(width * sarNum, height * sarDen),
    rotation: rotationOf(s),
    durationSec: streamDuration(s),
    pixFmt: str(s['pix_fmt']),
    fieldOrder: str(s['field_order']),
    level: positive(int(s['level'])),
    codecTag: tag(str(s['codec_tag_string'])),
    color: colorOf(s),
  };
}

function audioInfo(s: Record<string, unknown> & { tags?: Record<string, string> }): AudioStreamInfo {
  const language = s.tags?.['language'] ?? null;
  return {
    codec: str(s['codec_name']) ?? 'unknown',
    profile: str(s['profile']),
    bitrate: int(s['bit_rate']),
    sampleRate: int(s['sample_rate']) ?? 0,
    channels: int(s['channels']) ?? 0,
    durationSec: streamDuration(s),
    language: language && language !== 'und' ? language : null,
  };
}

/**
 * The display matrix reports the counter-clockwise angle; the old `rotate` tag is clockwise.
 * We report clockwise, rounded to a quarter turn, which is what FFmpeg's autorotate applies.
 */
function rotationOf(s: Record<string, unknown> & { tags?: Record<string, string> }): 0 | 90 | 180 | 270 {
  let clockwise: number | null = null;
  const sideData = Array.isArray(s['side_data_list']) ? (s['side_data_list'] as Array<Record<string, unknown>>) : [];
  const matrix = sideData.find((d) => d['side_data_type'] === 'Display Matrix');
  const ccw = matrix ? num(matrix['rotation']) : null;
  if (ccw !== null) clockwise = -ccw;
  else {
    const tag = num(s.tags?.['rotate']);
    if (tag !== null) clockwise = tag;
  }
  if (clockwise === null) return 0;
  const quarter = (((Math.round(clockwise / 90) * 90) % 360) + 360) % 360;
  return quarter as 0 | 90 | 180 | 270;
}

function isAttachedPicture(s: Record<string, unknown>): boolean {
  const d = s['disposition'];
  return typeof d === 'object' && d !== null && (d as Record<string, unknown>)['attached_pic'] === 1;
}

function streamDuration(s: Record<string, unknown> & { tags?: Record<string, string> }): number | null {
  const d = num(s['duration']);
  if (d !== null) return d;
  // Matroska keeps per-stream durations only as a `DURATION` tag (`00:00:02.000000000`).
  const tag = s.tags?.['DURATION'] ?? s.tags?.['duration'];
  const m = tag ? /^(\d+):(\d{2}):(\d{2}(?:\.\d+)?)$/.exec(tag) : null;
  return m ? Number(m[1]) * 3600 + Number(m[2]) * 60 + Number(m[3]) : null;
}

function str(v: unknown): string | null {
  return typeof v === 'string' && v !== '' && v !== 'N/A' && v !== 'unknown' ? v : null;
}

function num(v: unknown): number | null {
  const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
  return Number.isFinite(n) ? n : null;
}

/** ffprobe says -99 for an unknown level. */
function positive(n: number | null): number | null {
  return n !== null && n > 0 ? n : null;
}

/** ffprobe writes a FourCC with unprintable bytes as `[27][0][0][0]`: that is no tag to compare. */
function tag(v: string | null): string | null {
  return v && /^[A-Za-z0-9 ]{4}$/.test(v) ? v.trim() : null;
}

function int(v: unknown): number | null {
  const n = num(v);
  return n === null ? null : Math.round(n);
}

function rate(v: string | null): number | null {
  if (!v) return null;
  const [a, b] = v.split('/').map(Number) as [number, number | undefined];
  const r = b === undefined ? a : b === 0 ? NaN : a / b;
  return Number.isFinite(r) && r > 0 ? r : null;
}

function validRatio(v: string | null): string | null {
  if (!v) return null;
  const m = /^(\d+):(\d+)$/.exec(v);
  return m && Number(m[1]) > 0 && Number(m[2]) > 0 ? v : null;
}

function reducedRatio(w: number, h: number): string {
  if (w <= 0 || h <= 0) return '1:1';
  const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));
  const g = gcd(w, h);
  return `${w / g}:${h / g}`;
}

/** ffprobe's last error line without the `file:/tmp/x: ` prefix it puts in front. */
function ffprobeReason(stderr: string, file: string): string {
  const lines = stderr.split('\n').map((l) => l.trim()).filter(Boolean);
  const last = lines.at(-1) ?? 'no details';
  for (const prefix of [`${literalPath(file)}: `, `${file}: `]) {
    if (last.startsWith(prefix)) return last.slice(prefix.length);
  }
  return last;
}

function unreadableMessage(reason: string): string {
  return `The source could not be read as a media file (ffprobe: ${reason}). Check that the URL points to a video or audio file and that it is not truncated.`;
}

/** One packet of a stream: its decode time and size, as a buffer model needs them. */
export interface PacketInfo {
  dtsSec: number;
  bytes: number;
}

/**
 * Streams the first video stream's packets as ffprobe's CSV fields (`entries`, in ffprobe's own
 * field order), reading by demuxing only (no decode): a few seconds for hours of video, and never
 * the whole list in one string, as a long file has hundreds of thousands of packets.
 */
export async function forEachVideoPacket(
  file: string, entries: string[], opts: ProbeOptions, onPacket: (fields: string[]) => void,
): Promise<void> {
  opts.signal?.throwIfAborted();
  const args = ['-v', 'error', ...probeArgs(file, opts.role ?? 'media', ['-select_streams', 'v:0', '-show_entries', `packet=${entries.join(',')}`, '-of', 'csv=p=0'])];
  const child = spawn(opts.ffprobe, args, {
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
  for await (const line of createInterface({ input: child.stdout })) {
    // MPEG-TS packets carry side data, which the CSV writer answers with an empty line.
    if (line !== '') onPacket(line.split(','));
  }
  const code = await closed;
  const refusal = code !== 0 ? refusedFormat(stderr.split('\n')) : null;
  if (refusal) throw new RefusedInputError(refusal);
  if (code !== 0) throw new Error(`ffprobe could not read the video packets (${stderr.trim().split('\n').at(-1) ?? `exit ${code}`})`);
}

/** The first video stream's packets in decode order, with their sizes (for a buffer model). */
export async function readVideoPackets(file: string, opts: ProbeOptions): Promise<PacketInfo[]> {
  const packets: PacketInfo[] = [];
  let last = 0;
  await forEachVideoPacket(file, ['dts_time', 'size'], opts, ([dts, size]) => {
    const bytes = Number(size);
    if (!Number.isFinite(bytes)) return;
    // A packet without a decode time (rare, at stream starts) is taken to follow the last one.
    const t = Number(dts);
    last = Number.isFinite(t) && dts !== 'N/A' ? t : last;
    packets.push({ dtsSec: last, bytes });
  });
  return packets;
}
