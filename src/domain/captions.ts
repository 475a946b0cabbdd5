/**
 * `closed_captions` (reference 4.5; repeatable): sidecar caption files (SRT, WebVTT, SCC) by URL,
 * fetched like a source, each either carried as a subtitle track of the output or burned into its
 * picture.
 *
 * - In files: `mov_text` in mp4/mov, WebVTT in webm, SRT (or ASS) in mkv; mpegts carries no
 *   text subtitles, so only burning is offered there.
 * - In HLS: a WebVTT rendition (EXT-X-MEDIA TYPE=SUBTITLES) cut into `vtt_segment_duration`
 *   segments; in DASH: a text adaptation set; CMAF outputs get both.
 *
 * `extract yes` (no `source`) takes the source's own CEA-608 captions (H.264 SEI or MPEG-2 user
 * data, field 1) as the track's cues instead of a file. `extract srt|vtt|scc|dfxp` (encoding.com's
 * values) makes a sidecar file instead of a track: the captions of `source`, or the source's own
 * CEA-608 without one, delivered beside the output and named after it. A block of its own with
 * `copy` yes|no keeps or drops them in the video itself (libx264 passes them on from the decoded
 * frames).
 */
import { iso6392, iso6392TTo2B } from 'iso-639-2';
import type { FieldMap, FieldValue } from './fields.ts';
import { FormatProblem, Fields, lowerKeys, parseDecimal } from './format/fields.ts';

export type CaptionMode = 'embed' | 'burn';
/** The subtitle codec a file output carries a track in. */
export type SubtitleCodec = 'mov_text' | 'webvtt' | 'srt' | 'ass';
/** The format of a caption sidecar file (`extract`), which is also its extension. */
export type SidecarFormat = 'srt' | 'vtt' | 'scc' | 'dfxp';

export interface CaptionTrack {
  /** URL of an SRT, WebVTT, SCC or TTML/DFXP file; null: the source's embedded CEA-608 captions (`extract`). */
  source: string | null;
  /** Not a track but a file delivered beside the output, in this format (`extract srt` …); null: a track. */
  sidecar: SidecarFormat | null;
  /** BCP 47 / ISO 639 code as given (`en`, `eng`, `pt-BR`), for HLS and DASH. @default 'und' */
  language: string;
  /** Its ISO 639-2/B code (`eng`, `fre`), which MP4 and Matroska files carry. */
  containerLanguage: string;
  /** The name players show; null: the language's code. */
  label: string | null;
  /** Seconds added to every cue (may be negative). @default 0 */
  timeOffset: number;
  mode: CaptionMode;
  /** File outputs: the codec of the track; null = the container's usual one. */
  codec: SubtitleCodec | null;
  /** HLS DEFAULT / the track's default disposition. @default false (true for the first track when none says) */
  isDefault: boolean;
  /** HLS AUTOSELECT. @default true */
  autoselect: boolean;
  /** HLS WebVTT segment length in seconds; null = the output's segment_duration. */
  segmentSeconds: number | null;
  /** Burned tracks: a TrueType/OpenType font URL; null = the system's Sans. */
  fontSource: string | null;
}

export interface Captions {
  /** Tracks of the output (subtitle streams or renditions) and its sidecar files (`sidecar` set). */
  tracks: CaptionTrack[];
  /** Tracks drawn on the picture. */
  burned: CaptionTrack[];
  /** `copy`: keep (true) or drop (false) the source's CEA-608/708 in the video; null: not asked. */
  keepEmbedded: boolean | null;
}

/** What `copy` asks of the video encoders; null = not asked (libx264 keeps them, as FFmpeg does by default). */
export type EmbeddedCaptions = 'keep' | 'drop' | null;

const MAX_TRACKS = 16;
const SCHEMES = ['http:', 'https:', 'ftp:', 'sftp:', 'file:', 's3:'];
const CAPTION_EXTENSIONS = ['srt', 'vtt', 'webvtt', 'scc', 'txt', 'ttml', 'dfxp', 'xml'];
const LANGUAGE = /^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$/;
/** `extract` values that ask for a sidecar file: encoding.com's srt, scc and dfxp, and WebVTT. */
const SIDECAR_VALUES: Record<string, SidecarFormat> = { srt: 'srt', vtt: 'vtt', webvtt: 'vtt', scc: 'scc', dfxp: 'dfxp', ttml: 'dfxp' };

/** Which subtitle codecs each file output can carry, the first its default. */
export const SUBTITLE_CODECS_FOR: Record<string, readonly SubtitleCodec[]> = {
  mp4: ['mov_text'],
  mov: ['mov_text'],
  webm: ['webvtt'],
  mkv: ['srt', 'ass', 'webvtt'],
  mpegts: [],
};

/** The closed_captions blocks of a format whose output is `output`. */
export function readCaptions(f: Fields, output: string): Captions {
  const raw = f.raw('closed_captions');
  const items = blockItems(raw);
  if (items.length > MAX_TRACKS) throw new FormatProblem(`closed_captions is given ${items.length} times; use at most ${MAX_TRACKS}.`);
  let keepEmbedded: boolean | null = null;
  const all = items.flatMap((item, i) => {
    const where = items.length > 1 ? `closed_captions ${i + 1}: ` : 'closed_captions: ';
    try {
      const bf = new Fields(lowerKeys(item), f.options);
      if (bf.str('copy') !== null) {
        if (bf.str('source') !== null || bf.str('extract') !== null) throw new FormatProblem('copy is a block of its own: <closed_captions><copy>yes</copy></closed_captions>, beside the tracks.');
        if (keepEmbedded !== null) throw new FormatProblem('copy is given twice.');
        keepEmbedded = bf.flag('copy', true);
        return [];
      }
      return [readTrack(bf, output)];
    } catch (err) {
      if (err instanceof FormatProblem) throw new FormatProblem(where + err.message);
      throw err;
    }
  });
  const tracks = all.filter((t) => t.mode === 'embed');
  const first = tracks.findIndex((t) => t.sidecar === null);
  if (first >= 0 && !tracks.some((t) => t.isDefault)) tracks[first] = { ...tracks[first]!, isDefault: true };
  if (tracks.filter((t) => t.isDefault).length > 1) throw new FormatProblem('closed_captions: default is yes for more than one track; one track can be the default.');
  const burned = all.filter((t) => t.mode === 'burn');
  return { tracks, burned, keepEmbedded };
}

function blockItems(raw: FieldValue | undefined): FieldMap[] {
  if (raw === undefined) return [];
  const list = Array.isArray(raw) ? raw : [raw];
  return list.flatMap((item, i): FieldMap[] => {
    if (typeof item === 'string') {
      if (item.trim() === '' || item.trim().toLowerCase() === 'no') return [];
      throw new FormatProblem(`closed_captions ${i + 1} must be a set of fields (source, language, …), not a plain value.`);
    }
    if (Array.isArray(item)) throw new FormatProblem(`closed_captions ${i + 1} must be a set of fields, not a list.`);
    return [item];
  });
}

function readTrack(f: Fields, output: string): CaptionTrack {
  const extractRaw = f.str('extract')?.toLowerCase() ?? null;
  const sidecar = extractRaw === null ? null : SIDECAR_VALUES[extractRaw] ?? null;
  if (extractRaw !== null && sidecar === null && !['yes', 'no', 'true', 'false', '1', '0'].includes(extractRaw)) {
    throw new FormatProblem(`extract "${f.str('extract')}" is not yes, no, or a sidecar format: srt, vtt, scc or dfxp.`);
  }
  const extract = extractRaw !== null && sidecar === null && !['no', 'false', '0'].includes(extractRaw);
  const source = f.str('source');
  if (extract && source !== null) throw new FormatProblem('source and extract both name the captions; give a caption file in source, or extract yes for the source\'s own CEA-608 captions.');
  if (source === null && !extract && sidecar === null) throw new FormatProblem('source is missing: give the URL of an SRT, WebVTT, SCC or TTML/DFXP file (or extract yes for the source\'s own CEA-608 captions).');
  if (source !== null) checkCaptionUrl(source);
  if (sidecar === 'scc' && source !== null) {
    throw new FormatProblem('extract scc writes the source video\'s own CEA-608 captions; a caption file cannot become SCC (FFmpeg has no CEA-608 encoder). Use srt, vtt or dfxp with source.');
  }
  const languageRaw = f.str('language') ?? 'und';
  const containerLanguage = containerLanguageOf(languageRaw);
  if (containerLanguage === null) throw new FormatProblem(`language "${languageRaw.slice(0, 40)}" is not a language code like en, eng or pt-BR.`);
  const label = f.str('label');
  if (label !== null && (label.length > 100 || /["\u0000-\u001f\u007f]/.test(label))) {
    throw new FormatProblem('label must be at most 100 characters, without quotes or control characters.');
  }
  const offsetRaw = f.str('time_offset');
  let timeOffset = 0;
  if (offsetRaw !== null) {
    const negative = offsetRaw.startsWith('-');
    const n = parseDecimal(negative ? offsetRaw.slice(1) : offsetRaw.replace(/^\+/, ''));
    if (n === null || n > 86_400) throw new FormatProblem(`time_offset "${offsetRaw}" is not a number of seconds like 1.5 or -2.`);
    timeOffset = negative ? -n : n;
  }
  const mux = (f.str('mux_type') ?? '').toLowerCase();
  const burnFlag = f.flag('burn', false) || f.flag('burnin', false);
  const burn = burnFlag || mux === 'burn' || mux === 'burnin' || mux === 'burn_in';
  if (sidecar !== null) {
    const trackOnly = ['mux_type', 'burn', 'burnin', 'font_source', 'vtt_segment_duration', 'default', 'autoselect', 'label'].filter((k) => f.str(k) !== null);
    if (trackOnly.length > 0) throw new FormatProblem(`extract ${extractRaw} makes a sidecar file, which has no ${trackOnly.join(', ')}; ask for a track in a closed_captions block of its own.`);
  }
  let codec: SubtitleCodec | null = null;
  if (!burn && sidecar === null) {
    if (mux === 'sidecar') throw new FormatProblem('mux_type sidecar: a sidecar file is asked for with extract srt, vtt, scc or dfxp (from source, or else from the source\'s CEA-608).');
    if (mux !== '' && mux !== 'embed' && mux !== 'track') {
      const asked = ({ mov_text: 'mov_text', webvtt: 'webvtt', vtt: 'webvtt', srt: 'srt', subrip: 'srt', ass: 'ass', ssa: 'ass' } as const)[mux];
      if (!asked) throw new FormatProblem(`mux_type "${mux}" is not embed, burn, mov_text, webvtt, srt or ass.`);
      codec = asked;
    }
    const allowed = SUBTITLE_CODECS_FOR[output];
    if (allowed !== undefined && allowed.length === 0) {
      throw new FormatProblem(`${output} cannot carry text subtitles; burn them into the picture (burn yes) or use mp4, mkv, webm or an HLS/DASH output.`);
    }
    if (codec !== null) {
      if (allowed === undefined) throw new FormatProblem(`mux_type ${mux} is for mp4, mov, webm and mkv files; ${output} carries WebVTT subtitles.`);
      if (!allowed.includes(codec)) throw new FormatProblem(`${output} cannot carry ${codec} subtitles; use ${allowed.join(' or ')}.`);
    }
  }
  const fontSource = f.str('font_source');
  if (fontSource !== null) {
    if (!burn) throw new FormatProblem('font_source is for burned captions (burn yes); a track is drawn by the player in its own font.');
    checkFontUrl(fontSource);
  }
  const segmentSeconds = f.parse('vtt_segment_duration', 'a number of seconds like 6', parseDecimal);
  if (segmentSeconds !== null && (segmentSeconds < 1 || segmentSeconds > 60)) {
    throw new FormatProblem(`vtt_segment_duration "${f.str('vtt_segment_duration')}" is out of range; use 1 to 60 seconds.`);
  }
  return {
    source, sidecar, language: languageRaw, containerLanguage, label, timeOffset, mode: burn ? 'burn' : 'embed', codec,
    isDefault: f.flag('default', false), autoselect: f.flag('autoselect', true), segmentSeconds, fontSource,
  };
}

/** A request's language code (`en`, `eng`, `pt-BR`) → the ISO 639-2/B code files carry; null when it is not one. */
export function containerLanguageOf(code: string): string | null {
  return LANGUAGE.test(code) && code.length <= 35 ? iso639B(code.split('-')[0]!.toLowerCase()) : null;
}

/** ISO 639-1 or 639-2 (B or T) → 639-2/B; null when it is none of them. */
function iso639B(code: string): string | null {
  if (code.length === 2) return iso6392.find((l) => l.iso6391 === code)?.iso6392B ?? null;
  if (iso6392TTo2B[code]) return iso6392TTo2B[code]!;
  return iso6392.some((l) => l.iso6392B === code) ? code : null;
}

function checkFontUrl(url: string): void {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new FormatProblem(`font_source "${url.slice(0, 200)}" is not a URL; give the URL of a TrueType or OpenType font (.ttf, .otf).`);
  }
  if (!SCHEMES.includes(parsed.protocol)) throw new FormatProblem(`font_source must be an http(s), ftp, sftp, s3 or file URL, not ${parsed.protocol.replace(/:$/, '')}.`);
  const ext = /\.([A-Za-z0-9]{1,6})$/.exec(parsed.pathname)?.[1]?.toLowerCase();
  if (ext !== undefined && !['ttf', 'otf', 'ttc'].includes(ext)) throw new FormatProblem(`font_source names a .${ext} file; it must be a TrueType or OpenType font (.ttf, .otf).`);
}

function checkCaptionUrl(url: string): void {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new FormatProblem(`source "${url.slice(0, 200)}" is not a URL; give the http(s), ftp, sftp, s3 or file URL of an SRT, WebVTT, SCC or TTML/DFXP file.`);
  }
  if (!SCHEMES.includes(parsed.protocol)) throw new FormatProblem(`source must be an http(s), ftp, sftp, s3 or file URL, not ${parsed.protocol.replace(/:$/, '')}.`);
  const ext = /\.([A-Za-z0-9]{1,6})$/.exec(parsed.pathname)?.[1]?.toLowerCase();
  if (ext !== undefined && !CAPTION_EXTENSIONS.includes(ext)) {
    throw new FormatProblem(`source names a .${ext} file; it must be an SRT, WebVTT, SCC or TTML/DFXP caption file (.srt, .vtt, .scc, .ttml, .dfxp, .xml).`);
  }
}

/** The `copy` of a spec's closed_captions. */
export function embeddedCaptionsOf(spec: object): EmbeddedCaptions {
  const v = 'embeddedCaptions' in spec ? spec.embeddedCaptions : null;
  return v === 'keep' || v === 'drop' ? v : null;
}

/** `copy` from what readCaptions found. */
export function embeddedCaptions(c: Captions): EmbeddedCaptions {
  return c.keepEmbedded === null ? null : c.keepEmbedded ? 'keep' : 'drop';
}

/** The caption tracks a spec carries (not the burned ones, which are part of its editing). */
export function captionsOf(spec: object): CaptionTrack[] {
  return 'captions' in spec && Array.isArray(spec.captions) ? (spec.captions as CaptionTrack[]) : [];
}

const SIDECAR_STEM = 'closed_captions';
const SIDECAR_FILE = /^closed_captions((?:_\d+)?\.(?:srt|vtt|scc|dfxp))$/;

/**
 * The file name of each sidecar among `tracks` (null for a track): `closed_captions.srt`, and
 * `closed_captions_2.srt` for a second one of the same format. What follows the stem is what a
 * delivered sidecar's name adds to the output's (sidecarTail).
 */
export function sidecarFileNames(tracks: readonly CaptionTrack[]): (string | null)[] {
  const seen = new Map<SidecarFormat, number>();
  return tracks.map((t) => {
    if (t.sidecar === null) return null;
    const n = (seen.get(t.sidecar) ?? 0) + 1;
    seen.set(t.sidecar, n);
    return `${SIDECAR_STEM}${n > 1 ? `_${n}` : ''}.${t.sidecar}`;
  });
}

/** For a task's file (its path below the task's folder), the end of a sidecar's delivered name (`.srt`, `_2.srt`); null for any other file. */
export function sidecarTail(relative: string): string | null {
  return SIDECAR_FILE.exec(relative)?.[1] ?? null;
}
