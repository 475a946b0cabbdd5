/**
 * Caption text: SRT and WebVTT read into cues (a file that does not parse is refused with the line
 * it failed on), cues moved in time, and written back as WebVTT, whole or cut into HLS segments.
 *
 * WebVTT is read by webvtt-parser (the W3C validator), which reports each error with its line.
 * SRT has no maintained reader that does (they skip what they do not understand), so the few
 * rules of its grammar are checked here.
 */
import webvtt from 'webvtt-parser';
import { UserFacingError } from './errors.ts';

export interface Cue {
  /** Seconds. */
  start: number;
  end: number;
  /** WebVTT cue text (SRT's `<i>`, `<b>`, `<u>` are WebVTT's too); lines joined with `\n`. */
  text: string;
}

/** Captions that cannot be made as asked: a user's to fix, told as written. */
export class CaptionError extends UserFacingError {
  override name = 'CaptionError';
  readonly code = 'ENCODERY_CAPTIONS_INVALID';
}

/** A caption file that does not parse; `line` is 1-based. */
export class CaptionParseError extends CaptionError {
  override name = 'CaptionParseError';
  constructor(readonly line: number, readonly reason: string) {
    super(`line ${line}: ${reason}`);
  }
}

export type CaptionTextFormat = 'srt' | 'vtt';

/** The text formats read here; SCC is CEA-608 bytes, decoded by FFmpeg (pipeline/captions). */
export function parseCaptionText(text: string, format: CaptionTextFormat): Cue[] {
  const clean = text.replace(/^\uFEFF/, '').replace(/\r\n?/g, '\n');
  return format === 'vtt' ? parseVtt(clean) : parseSrt(clean);
}

function parseVtt(text: string): Cue[] {
  const tree = new webvtt.WebVTTParser().parse(text, 'subtitles');
  const first = tree.errors[0];
  if (first) throw new CaptionParseError(first.line, first.message);
  return tree.cues.map((c) => ({ start: c.startTime, end: c.endTime, text: c.text }));
}

const SRT_TIME = /^(\d{1,3}):([0-5]\d):([0-5]\d)[,.](\d{1,3})$/;

function srtSeconds(v: string): number | null {
  const m = SRT_TIME.exec(v.trim());
  if (!m) return null;
  return Number(m[1]) * 3600 + Number(m[2]) * 60 + Number(m[3]) + Number(m[4]!.padEnd(3, '0')) / 1000;
}

/**
 * SubRip: blocks separated by blank lines, each a counter line (optional, as many writers leave
 * it out), a timing line `00:00:01,000 --> 00:00:02,500` and one or more text lines.
 */
function parseSrt(text: string): Cue[] {
  const lines = text.split('\n');
  const cues: Cue[] = [];
  let i = 0;
  while (i < lines.length) {
    if (lines[i]!.trim() === '') {
      i++;
      continue;
    }
    // The counter, when there is one: a block's first line is its timing line or, before it, a number.
    if (/^\d+\s*$/.test(lines[i]!) && (lines[i + 1] ?? '').trim() !== '') i++;
    const timing = lines[i]!;
    const m = /^\s*(\S+)\s+-->\s+(\S+)(?:\s+.*)?$/.exec(timing);
    if (!m) throw new CaptionParseError(i + 1, `expected a timing line like 00:00:01,000 --> 00:00:02,500, found "${timing.slice(0, 80)}"`);
    const start = srtSeconds(m[1]!);
    const end = srtSeconds(m[2]!);
    if (start === null || end === null) throw new CaptionParseError(i + 1, `"${timing.trim().slice(0, 80)}" is not a valid time range (hh:mm:ss,mmm --> hh:mm:ss,mmm)`);
    if (end < start) throw new CaptionParseError(i + 1, `the cue ends (${m[2]}) before it starts (${m[1]})`);
    const body: string[] = [];
    i++;
    while (i < lines.length && lines[i]!.trim() !== '') {
      if (lines[i]!.includes('-->')) throw new CaptionParseError(i + 1, 'a timing line inside a cue\'s text; separate cues with a blank line');
      body.push(lines[i]!);
      i++;
    }
    cues.push({ start, end, text: body.join('\n') });
  }
  if (cues.length === 0) throw new CaptionParseError(1, 'the file holds no cue');
  return cues;
}

/**
 * Cues moved by `offset` seconds and cut to [0, `length`] (null: no end); a cue that ends up
 * wholly outside is dropped. Used for `time_offset` and for an output's trim.
 */
export function shiftCues(cues: readonly Cue[], offset: number, length: number | null = null): Cue[] {
  const out: Cue[] = [];
  for (const c of cues) {
    const start = Math.max(0, c.start + offset);
    const end = length === null ? c.end + offset : Math.min(length, c.end + offset);
    if (end > start) out.push({ start, end, text: c.text });
  }
  return out;
}

function vttTime(seconds: number): string {
  const ms = Math.round(seconds * 1000);
  const h = Math.floor(ms / 3_600_000);
  const m = Math.floor(ms / 60_000) % 60;
  const s = Math.floor(ms / 1000) % 60;
  return `${String(h).padStart(2, '0')}:${String(m).padStart(2, '0')}:${String(s).padStart(2, '0')}.${String(ms % 1000).padStart(3, '0')}`;
}

/** Cue text as WebVTT allows it: no blank line inside, and `-->` cannot appear. */
function cueBody(text: string): string {
  return text.split('\n').filter((l) => l.trim() !== '').join('\n').replaceAll('-->', '--&gt;');
}

/** A whole WebVTT file; `header` lines go after `WEBVTT` (e.g. HLS's X-TIMESTAMP-MAP). */
export function writeVtt(cues: readonly Cue[], header: readonly string[] = []): string {
  const blocks = cues.map((c) => `${vttTime(c.start)} --> ${vttTime(c.end)}\n${cueBody(c.text)}`);
  return [['WEBVTT', ...header].join('\n'), ...blocks].join('\n\n') + '\n';
}

/**
 * Cues cut into HLS WebVTT segments of `seconds` over `total` seconds: each cue is in every
 * segment it overlaps (RFC 8216 3.1.4: a player may start at any segment), and times stay on the
 * whole presentation's clock. Every segment is written, empty ones too, so the subtitle playlist
 * covers the whole presentation.
 */
export function segmentCues(cues: readonly Cue[], seconds: number, total: number): { start: number; duration: number; cues: Cue[] }[] {
  const count = Math.max(1, Math.ceil(total / seconds - 1e-6));
  return Array.from({ length: count }, (_, k) => {
    const start = k * seconds;
    const end = Math.min(total, start + seconds);
    return { start, duration: Math.max(0.001, end - start), cues: cues.filter((c) => c.end > start && c.start < end) };
  });
}

const VTT_ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', nbsp: '\u00a0', lrm: '\u200e', rlm: '\u200f' };

/** WebVTT cue text as plain text, keeping the tags in `keep` (`i`, `b`, `u`). */
function plainCueText(text: string, keep: readonly string[]): string {
  return text
    .replace(/<\/?([A-Za-z]*)[^>]*>/g, (tag, name: string) => (keep.includes(name) ? tag.replace(/^(<\/?[a-z]+)[^>]*>$/i, '$1>') : ''))
    .replace(/&(amp|lt|gt|nbsp|lrm|rlm);/g, (_, e: string) => VTT_ENTITIES[e]!);
}

function srtTime(seconds: number): string {
  return vttTime(seconds).replace('.', ',');
}

/** A SubRip file of the cues (its italic, bold and underline kept, as SubRip has them too). */
export function writeSrt(cues: readonly Cue[]): string {
  return cues.map((c, i) => `${i + 1}\n${srtTime(c.start)} --> ${srtTime(c.end)}\n${plainCueText(cueBody(c.text), ['i', 'b', 'u']).replaceAll('-->', '->')}\n`).join('\n');
}

function xmlText(v: string): string {
  return v.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** A TTML (DFXP) document of the cues: one `<p>` each, lines split by `<br/>`, no styling. */
export function writeTtml(cues: readonly Cue[], language: string): string {
  const paragraphs = cues.map((c) => {
    const lines = plainCueText(cueBody(c.text), []).split('\n').map(xmlText);
    return `      <p begin="${vttTime(c.start)}" end="${vttTime(c.end)}">${lines.join('<br/>')}</p>`;
  });
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<tt xmlns="http://www.w3.org/ns/ttml" xml:lang="${xmlText(language)}">`,
    '  <body>',
    '    <div>',
    ...paragraphs,
    '    </div>',
    '  </body>',
    '</tt>',
    '',
  ].join('\n');
}
