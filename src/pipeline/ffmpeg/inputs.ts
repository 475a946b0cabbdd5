/**
 * What FFmpeg and ffprobe may open for each input, decided here and nowhere else.
 *
 * Left to itself FFmpeg tells a demuxer from the bytes and then opens whatever the file names:
 * an HLS playlist, a DASH manifest or an ffconcat list inside the file roots would make it read
 * any file the server can read, another user's outputs included (issue 13 §1), and an image
 * name with `%d` becomes a numbered sequence. So every input gets an explicit protocol list and
 * demuxer list; FFmpeg hands both down to anything a demuxer opens in turn, and checks the
 * demuxer after probing, so a probed format missing from the list fails to open.
 */
import fs from 'node:fs/promises';
import { UserFacingError } from '../../domain/errors.ts';

/**
 * Who an input is, which decides what FFmpeg may open for it.
 * - `media`: anything a user named (a source, a logo or overlay, QC's `original_source`) or
 *   made from it; one media file, read as itself.
 * - `ownOutput`: an output Encodery wrote (probed for QC and reports): its own HLS/DASH
 *   playlists may be read, since they only name segments Encodery wrote beside them.
 * - `joinList`: the concat list Encodery writes to join split-and-stitch pieces.
 * - `captionText`: a WebVTT file Encodery wrote from the cues it parsed (pipeline/captions).
 * - `sccCaptions`: a user's SCC caption file, read only as SCC (pipeline/captions checks its lines first).
 */
export type InputRole = 'media' | 'ownOutput' | 'joinList' | 'captionText' | 'sccCaptions';

/**
 * Demuxers of the containers, audio files and single pictures Encodery reads as sources.
 * None of them opens another file (QuickTime's external references stay off by default). Never
 * here: hls, dash, concat, imf, webm_dash_manifest (they open what they name), image2 (it
 * expands `%d` and globs; a still picture is read by it only with that off, see inputGuard), lavfi (its `movie` source opens files), network and device inputs.
 * Names as FFmpeg 5.1 reports them; a demuxer matches when any of its comma-separated names does.
 */
const MEDIA_DEMUXERS = [
  // Containers and raw video streams.
  'mov', 'matroska', 'avi', 'mpegts', 'mpeg', 'flv', 'asf', 'mxf', 'ogg', 'dv', 'nut', 'ivf', 'gxf', 'rm', 'wtv',
  'yuv4mpegpipe', 'h264', 'hevc', 'm4v', 'mpegvideo', 'vc1', 'obu',
  // Audio files.
  'mp3', 'wav', 'w64', 'flac', 'aac', 'ac3', 'eac3', 'aiff', 'caf', 'amr', 'wv', 'ape', 'tta', 'dts', 'truehd', 'au', 'loas', 'mpc', 'mpc8', 'dsf',
  // One picture per file (logos, overlays, image sources), each probed by its signature.
  'png_pipe', 'jpeg_pipe', 'gif', 'webp_pipe', 'bmp_pipe', 'tiff_pipe', 'apng',
] as const;

interface InputRule {
  protocols: readonly string[];
  formats: readonly string[];
  /** Options that fix the demuxer, for inputs whose format Encodery itself chose. */
  force?: readonly string[];
}

const RULES = {
  media: { protocols: ['file'], formats: MEDIA_DEMUXERS },
  // The segments of Encodery's own HLS (MPEG-TS, fMP4, packed audio, WebVTT) and DASH outputs.
  ownOutput: { protocols: ['file'], formats: [...MEDIA_DEMUXERS, 'hls', 'dash', 'webvtt'] },
  // The concat demuxer opens the listed pieces with this same list, so their containers are on it.
  // `-safe 0`: the pieces are named by absolute paths, which Encodery wrote itself.
  joinList: { protocols: ['file'], formats: ['concat', ...MEDIA_DEMUXERS], force: ['-f', 'concat', '-safe', '0'] },
  // Subtitle demuxers open nothing else; the demuxer is forced, never probed from the bytes.
  captionText: { protocols: ['file'], formats: ['webvtt'], force: ['-f', 'webvtt'] },
  sccCaptions: { protocols: ['file'], formats: ['scc'], force: ['-f', 'scc'] },
} as const satisfies Record<InputRole, InputRule>;

/** `file:` makes FFmpeg read a path literally: a local name with a colon would otherwise be taken as a protocol. */
export function literalPath(path: string): string {
  return path.startsWith('file:') ? path : `file:${path}`;
}

/**
 * Still-picture extensions FFmpeg's image2 demuxer claims by name, ahead of the picture's own
 * signature (a JPEG that FFmpeg or a camera wrote probes as image2, not jpeg_pipe). Such a file is
 * read by image2 with pattern matching off, so its name is never a sequence or a glob.
 */
const STILL_EXTENSIONS = new Set(['jpg', 'jpeg', 'jpe', 'png', 'bmp', 'tif', 'tiff', 'webp', 'pgm', 'ppm', 'pbm', 'tga', 'jp2', 'dpx', 'exr', 'sgi', 'pcx', 'xbm', 'xwd', 'sun', 'ras']);

function isStillPicture(path: string | undefined): boolean {
  const ext = path?.match(/\.([A-Za-z0-9]+)$/)?.[1]?.toLowerCase();
  return ext !== undefined && STILL_EXTENSIONS.has(ext);
}

/**
 * A still picture whose name reads like a sequence or a glob (`%d`, `*`, `?`, `[`, `{`): refused
 * in words, though image2 would read it as itself (pattern matching is off).
 */
export function namedLikeSequence(path: string): boolean {
  return isStillPicture(path) && /[%*?[{]/.test(path.slice(path.lastIndexOf('/') + 1));
}

/**
 * The options that go before an input's `-i` (or before ffprobe's file): its allow-lists, and for
 * a still picture named by its extension, image2 forced with pattern matching off.
 */
export function inputGuard(role: InputRole, path?: string): string[] {
  const rule: InputRule = RULES[role];
  if ((role === 'media' || role === 'ownOutput') && isStillPicture(path)) {
    return ['-f', 'image2', '-pattern_type', 'none', '-protocol_whitelist', rule.protocols.join(','), '-format_whitelist', 'image2'];
  }
  return [...(rule.force ?? []), '-protocol_whitelist', rule.protocols.join(','), '-format_whitelist', rule.formats.join(',')];
}

/** One FFmpeg input: always a local file Encodery checked, fetched or wrote. */
export interface FfmpegInput {
  path: string;
  /** @default 'media', the strictest: an input that forgets its role can only be refused more. */
  role?: InputRole;
  /** Options that must precede `-i`, e.g. `-ss`. */
  options?: string[];
}

/** An input's whole argv part: allow-lists, its own options, `-i` and the literal path. */
export function inputArgs(input: FfmpegInput): string[] {
  return [...inputGuard(input.role ?? 'media', input.path), ...(input.options ?? []), '-i', literalPath(input.path)];
}

/** ffprobe's arguments for one file: the same allow-lists as FFmpeg's, then the literal path last. */
export function probeArgs(path: string, role: InputRole, options: string[]): string[] {
  return [...inputGuard(role, path), ...options, literalPath(path)];
}

/** A file that names other files rather than being media itself. */
export type NotMedia = 'hls' | 'dash' | 'ffconcat' | 'imageSequence';

/** What a refused input is ("… is an HLS playlist") and what a person does about it. */
export interface Refusal {
  what: string;
  advice: string;
}

const PLAYLIST_ADVICE = 'playlists and manifests are not supported as sources: give the media file itself';

const REFUSALS: Record<NotMedia, Refusal> = {
  hls: { what: 'an HLS playlist', advice: PLAYLIST_ADVICE },
  dash: { what: 'a DASH manifest', advice: PLAYLIST_ADVICE },
  ffconcat: { what: 'an FFmpeg concat list', advice: PLAYLIST_ADVICE },
  imageSequence: {
    what: 'an image-sequence pattern (its name has %d, *, ? or { before an image extension)',
    advice: 'image sequences are not supported as sources: give one file, named without those characters',
  },
};

/** An input that is a playlist, a manifest or in a format Encodery does not read. Not retryable. */
export class RefusedInputError extends UserFacingError {
  override name = 'RefusedInputError';
  readonly code = 'ENCODERY_INPUT_REFUSED';
  constructor(readonly refusal: Refusal) {
    super(`The source is ${refusal.what}; ${refusal.advice}.`);
  }
}

export function refusalOf(kind: NotMedia): Refusal {
  return REFUSALS[kind];
}

const SNIFF_BYTES = 4096;

/**
 * Reads the first bytes of a local file and names the playlist or manifest it is, or null. Runs
 * before any probe, so a playlist is refused in words a person can act on whatever its name,
 * and before FFmpeg has had a chance to open what it names.
 */
export async function sniffNotMedia(file: string): Promise<NotMedia | null> {
  // A file that cannot be opened is left to ffprobe, which says why in its own words.
  const handle = await fs.open(file, 'r').catch(() => null);
  if (!handle) return null;
  let head: string;
  try {
    const { buffer, bytesRead } = await handle.read(Buffer.alloc(SNIFF_BYTES), 0, SNIFF_BYTES, 0);
    head = buffer.subarray(0, bytesRead).toString('latin1');
  } finally {
    await handle.close();
  }
  const text = head.replace(/^\xEF\xBB\xBF/, '').trimStart();
  if (text.startsWith('#EXTM3U')) return 'hls';
  if (/^ffconcat\s+version/i.test(text)) return 'ffconcat';
  if (text.startsWith('<') && /<(?:[\w.-]+:)?MPD[\s>/]/.test(text)) return 'dash';
  return null;
}

/**
 * FFmpeg's refusal of a demuxer that is not on an input's list (`[hls @ 0x…] Format not on
 * whitelist '…'`), as what the input is; null when the lines hold no such refusal.
 */
export function refusedFormat(stderrLines: string[]): Refusal | null {
  for (const line of stderrLines) {
    const m = /^\[([^\]@]+?) @ 0x[0-9a-f]+\] Format not on whitelist/i.exec(line.trim());
    if (!m) continue;
    const demuxer = m[1]!;
    const known: Record<string, NotMedia> = { hls: 'hls', dash: 'dash', concat: 'ffconcat', image2: 'imageSequence' };
    const kind = known[demuxer];
    return kind
      ? REFUSALS[kind]
      : { what: `in a format Encodery does not read (${demuxer})`, advice: 'give a video, audio or picture file such as MP4, MOV, MKV, WebM, MPEG-TS, AVI, MP3, WAV, FLAC, Ogg, M4A, PNG, JPEG or GIF' };
  }
  return null;
}

/** Input options that make FFmpeg seek in a file, which a pipe cannot do. */
const SEEKING_INPUT_OPTIONS = new Set(['-ss', '-sseof', '-stream_loop', '-seek_timestamp']);

/**
 * `args` with the source at `path` read from FFmpeg's standard input instead (instant mode:
 * the file is still downloading), its allow-list narrowed to the pipe; or why it cannot be,
 * when the process opens the source more than once or seeks in it.
 */
export function pipedSource(args: readonly string[], path: string): { args: string[] } | { why: string } {
  const literal = literalPath(path);
  const mentions = args.filter((a) => a.includes(path)).length;
  const at = args.findIndex((a, i) => a === literal && args[i - 1] === '-i');
  if (at < 0 || mentions > 1) return { why: 'the FFmpeg process opens the source more than once' };
  // This input's own options run from the end of the one before it (`-i` and its path).
  const previous = args.slice(0, at - 1).lastIndexOf('-i');
  const from = previous < 0 ? 0 : previous + 2;
  const own = args.slice(from, at - 1);
  if (own.some((a) => SEEKING_INPUT_OPTIONS.has(a))) return { why: 'the FFmpeg process seeks in the source' };
  const out = [...args];
  const list = own.indexOf('-protocol_whitelist');
  if (list < 0) return { why: 'the source input has no allow-list to narrow' };
  out[from + list + 1] = 'pipe';
  out[at] = 'pipe:0';
  return { args: out };
}
