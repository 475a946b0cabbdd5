/** Reading format fields: one accessor that insists on single values, and the value parsers. */
import { single, type FieldMap, type FieldValue } from '../fields.ts';
import { UserFacingError } from '../errors.ts';
import { isAsked } from '../field-check.ts';

/** Thrown inside the parser only; parseFormat turns it into `{ ok: false }`. */
export class FormatProblem extends UserFacingError {
  override name = 'FormatProblem';
  readonly code = 'ENCODERY_FORMAT_INVALID';
}

export interface Size {
  /** 0 = computed from the other side, keeping the aspect ratio. */
  width: number;
  height: number;
}

export interface Crop {
  left: number;
  top: number;
  right: number;
  bottom: number;
}

/**
 * A point in time as written in the request. A timecode (`HH:MM:SS:FF`, `;` = drop-frame) counts
 * frames, so its real time is only known with the source frame rate: see {@link timeToSeconds}.
 */
export interface TimeValue {
  /** Exact seconds for plain forms; for a timecode, the value at the nominal rate (an estimate). */
  seconds: number;
  timecode: { hours: number; minutes: number; seconds: number; frames: number; dropFrame: boolean } | null;
}

/** What the server's settings decide about reading a format. */
export interface ReadOptions {
  /**
   * audio_codec dolby_heaac/dolby_heaacv2: refused (this FFmpeg has no HE-AAC encoder), or read as
   * AAC-LC (ENCODERY_HE_AAC=lc). @default 'refuse'
   */
  heAac?: 'refuse' | 'lc';
}

/**
 * Reads fields by lower-cased name and insists that a known field is a single string. Values it
 * adjusts rather than refuses (an odd size a 4:2:0 encoder cannot make) are recorded in `notes`,
 * which the task log shows (pipeline/media-run/encode.ts).
 */
export class Fields {
  readonly #values = new Map<string, FieldValue>();
  readonly #notes: string[];
  readonly #notePrefix: string;

  constructor(raw: FieldMap, readonly options: ReadOptions = {}, shared?: { notes: string[]; prefix: string }) {
    for (const [k, v] of Object.entries(raw)) this.#values.set(k.toLowerCase(), v);
    this.#notes = shared?.notes ?? [];
    this.#notePrefix = shared?.prefix ?? '';
  }

  /** The fields of a nested element (an HLS stream), whose notes join this one's under `prefix`. */
  within(raw: FieldMap, prefix: string): Fields {
    return new Fields(raw, this.options, { notes: this.#notes, prefix: this.#notePrefix + prefix });
  }

  get notes(): readonly string[] {
    return this.#notes;
  }

  note(message: string): void {
    const line = this.#notePrefix + message;
    if (!this.#notes.includes(line)) this.#notes.push(line);
  }

  /**
   * A `WxH` size for a 4:2:0 picture (H.264, VP9, JPEG sprite tiles), whose sides must be even: an
   * odd side is made one pixel smaller (2 for 1), and a note says so. 0 keeps the aspect ratio.
   */
  evenSize(name: string, expected: string, why: string): Size | null {
    const size = this.parse(name, expected, parseSize);
    if (size === null) return null;
    const even = { width: evenPixels(size.width), height: evenPixels(size.height) };
    if (even.width !== size.width || even.height !== size.height) {
      this.note(`${name} ${size.width}x${size.height} rounded to ${even.width}x${even.height}: ${why}`);
    }
    return even;
  }

  /** A width or height for a 4:2:0 picture, rounded like {@link evenSize}. */
  evenSide(name: string, value: number | null, why: string): number | null {
    if (value === null || value % 2 === 0) return value;
    const even = evenPixels(value);
    this.note(`${name} ${value} rounded to ${even}: ${why}`);
    return even;
  }

  /** The value as given, of any shape. */
  raw(name: string): FieldValue | undefined {
    return this.#values.get(name);
  }

  /** Trimmed value; an empty element counts as absent. */
  str(name: string): string | null {
    const given = this.#values.get(name);
    if (given === undefined) return null;
    const v = single(given);
    if (typeof v !== 'string') {
      const shape = Array.isArray(v) ? 'a list' : 'a nested element';
      throw new FormatProblem(`${name} must be given once as a plain value, not ${shape}.`);
    }
    const t = v.trim();
    return t === '' ? null : t;
  }

  parse<T>(name: string, expected: string, parser: (v: string) => T | null): T | null {
    const v = this.str(name);
    if (v === null) return null;
    const parsed = parser(v);
    if (parsed === null) throw new FormatProblem(`${name} "${v}" is not ${expected}.`);
    return parsed;
  }

  /** The names given a value that asks for something (see isAsked). */
  asked(): string[] {
    return [...this.#values].filter(([, v]) => isAsked(v)).map(([k]) => k);
  }

  flag(name: string, fallback: boolean): boolean {
    const v = this.str(name);
    if (v === null) return fallback;
    const l = v.toLowerCase();
    if (l === 'yes' || l === 'true' || l === '1') return true;
    if (l === 'no' || l === 'false' || l === '0') return false;
    throw new FormatProblem(`${name} "${v}" must be yes or no.`);
  }
}

export function parseDecimal(v: string): number | null {
  if (!/^\d+(\.\d+)?$|^\.\d+$/.test(v.trim())) return null;
  return Number(v);
}

export function parseNonNegativeInt(v: string): number | null {
  return /^\d{1,9}$/.test(v) ? Number(v) : null;
}

export function parseNonNegativeNumber(v: string): number | null {
  return parseDecimal(v);
}

/** The even side nearest below an odd one (2 for 1); 0 (from the aspect ratio) stays 0. */
export function evenPixels(n: number): number {
  return n % 2 === 0 ? n : Math.max(2, n - 1);
}

export function parseEvenPixels(v: string): number | null {
  const n = parseNonNegativeInt(v);
  return n !== null && n % 2 === 0 ? n : null;
}

/** `900k`, `1.5M`, `128K`, or bare bits/s. `min` rejects "900" meant as kilobits. */
export function parseBitrate(v: string, min: number): number | null {
  const m = /^(\d+(?:\.\d+)?)\s*([kKmM]?)(?:bps|b)?$/.exec(v);
  if (!m) return null;
  const mult = m[2] === '' ? 1 : m[2]?.toLowerCase() === 'k' ? 1000 : 1_000_000;
  const bits = Math.round(Number(m[1]) * mult);
  return bits >= min && bits <= 500_000_000 ? bits : null;
}

export function parseSize(v: string): Size | null {
  const m = /^(\d{1,5})\s*[xX]\s*(\d{1,5})$/.exec(v);
  if (!m) return null;
  const width = Number(m[1]);
  const height = Number(m[2]);
  if (width > 8192 || height > 8192) return null;
  return width === 0 && height === 0 ? null : { width, height };
}

export function parseFrameRate(v: string): number | null {
  const ratio = /^(\d+(?:\.\d+)?)\/(\d+(?:\.\d+)?)$/.exec(v);
  if (ratio) {
    const den = Number(ratio[2]);
    return den > 0 ? Number(ratio[1]) / den : null;
  }
  return parseDecimal(v);
}

const H264_LEVELS = ['1.0', '1b', '1.1', '1.2', '1.3', '2.0', '2.1', '2.2', '3.0', '3.1', '3.2', '4.0', '4.1', '4.2', '5.0', '5.1', '5.2', '6.0', '6.1', '6.2'];

/** `30` → 3.0 and `31` → 3.1 (encoding.com writes levels without the dot), `3.1`, `4`, `1b`. */
export function normaliseLevel(v: string): string | null {
  const l = v.toLowerCase();
  let dotted = l;
  if (/^\d\d$/.test(l)) dotted = `${l[0]}.${l[1]}`;
  else if (/^\d$/.test(l)) dotted = `${l}.0`;
  return H264_LEVELS.includes(dotted) ? dotted : null;
}

/** Seconds (`7.5`), `HH:MM:SS(.ms)`, `MM:SS(.ms)`, or a timecode `HH:MM:SS:FF` (`;` = drop-frame). */
export function parseTime(v: string): TimeValue | null {
  const plain = parseDecimal(v);
  if (plain !== null) return { seconds: plain, timecode: null };
  const tc = /^(\d{1,3})[:;](\d{1,2})[:;](\d{1,2})([:;])(\d{1,2})$/.exec(v);
  if (tc) {
    const [hours, minutes, seconds, frames] = [tc[1], tc[2], tc[3], tc[5]].map(Number) as [number, number, number, number];
    if (minutes > 59 || seconds > 59 || frames > 59) return null;
    const timecode = { hours, minutes, seconds, frames, dropFrame: v.includes(';') };
    return { seconds: hours * 3600 + minutes * 60 + seconds + frames / 30, timecode };
  }
  const clock = /^(?:(\d{1,3}):)?(\d{1,2}):(\d{1,2}(?:\.\d+)?)$/.exec(v);
  if (clock) {
    const hours = Number(clock[1] ?? 0);
    const minutes = Number(clock[2]);
    const seconds = Number(clock[3]);
    if (minutes > 59 || seconds >= 60) return null;
    return { seconds: hours * 3600 + minutes * 60 + seconds, timecode: null };
  }
  return null;
}

export function lowerKeys(map: FieldMap): FieldMap {
  const out: FieldMap = {};
  for (const [k, v] of Object.entries(map)) out[k.toLowerCase()] = v;
  return out;
}

/** Nested blocks a client may send empty, or as the word `no`, to mean "none". */
const OPTIONAL_BLOCKS = ['video_codec_parameters', 'init_video_codec_parameters'];

/**
 * A format's fields without the blocks that ask for nothing: go-encodingcom sends
 * `"video_codec_parameters":{}` in every format, and vendor samples write the block as `no`
 * (reference 4.3). They count as absent, like any empty field, also inside each `stream`.
 */
export function withoutEmptyBlocks(map: FieldMap): FieldMap {
  const out: FieldMap = {};
  for (const [key, value] of Object.entries(map)) {
    const name = key.toLowerCase();
    if (OPTIONAL_BLOCKS.includes(name) && isEmptyBlock(value)) continue;
    out[key] = name === 'stream' ? mapItems(value, withoutEmptyBlocks) : value;
  }
  return out;
}

function isEmptyBlock(value: FieldValue): boolean {
  if (typeof value === 'string') return value.trim() === '' || value.trim().toLowerCase() === 'no';
  return !Array.isArray(value) && Object.keys(value).length === 0;
}

function mapItems(value: FieldValue, fn: (m: FieldMap) => FieldMap): FieldValue {
  if (Array.isArray(value)) return value.map((v) => mapItems(v, fn));
  return typeof value === 'object' ? fn(value) : value;
}
