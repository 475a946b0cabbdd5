/**
 * Picture editing (reference 4.5): `logo`, `overlay`, `text_overlay`, `fade_in`, `fade_out`.
 * Read once per video or HLS format; the planner draws them on the prepared picture before it
 * is split among outputs, so an HLS ladder gets one logo, scaled with each variant.
 */
import { audioLanguagesOf } from '../audio-languages.ts';
import type { FieldMap, FieldValue } from '../fields.ts';
import { captionsOf, type CaptionTrack } from '../captions.ts';
import { FormatProblem, Fields, lowerKeys, parseDecimal, parseNonNegativeInt, type Size } from './fields.ts';

/** A position along one side: pixels from that side, a percentage of the picture, or centred. */
export type Offset = { px: number } | { percent: number } | 'center';

export interface LogoSpec {
  /** URL of a GIF, JPEG or PNG. */
  source: string;
  /** Pixels from the left edge of the picture. @default 10 */
  x: number;
  /** Pixels from the top edge. @default 10 */
  y: number;
  /** 0 = blend (the image's own transparency counts), 1 = opaque. @default 0 */
  mode: 0 | 1;
  /** `rrggbb`: this colour of the image is made transparent. */
  transparent: string | null;
}

export interface OverlaySpec {
  /** URL of an image or a video. */
  source: string;
  /** Exactly one of left/right is set (left 0 when neither is given), one of top/bottom likewise. */
  horizontal: { from: 'left' | 'right'; offset: Offset };
  vertical: { from: 'top' | 'bottom'; offset: Offset };
  /** null = the overlay's own size. */
  size: Size | null;
  /** Seconds into the output. @default 0 */
  start: number;
  /** Seconds; null = to the end (or, for a video, until it ends). */
  duration: number | null;
}

export interface TextOverlaySpec {
  text: string;
  /** URL of a TrueType/OpenType font; null = FFmpeg's default font (fontconfig `Sans`). */
  fontSource: string | null;
  /** Pixels. @default 24 */
  fontSize: number;
  /** `rrggbb`. @default 000000 */
  fontColor: string;
  /** Centre the text horizontally (overlay_x is then ignored). */
  alignCenter: boolean;
  x: number;
  y: number;
  start: number;
  duration: number | null;
}

export interface Fade {
  start: number;
  duration: number;
}

export interface Editing {
  logo: LogoSpec | null;
  overlays: OverlaySpec[];
  texts: TextOverlaySpec[];
  fadeIn: Fade | null;
  fadeOut: Fade | null;
  /** closed_captions burned into the picture (domain/captions.ts); the format's reader sets them. */
  captions: CaptionTrack[];
}

export const NO_EDITING: Editing = { logo: null, overlays: [], texts: [], fadeIn: null, fadeOut: null, captions: [] };

export const EDITING_FIELDS = ['logo', 'overlay', 'text_overlay', 'fade_in', 'fade_out'] as const;

const MAX_OVERLAYS = 8;
const MAX_TEXT_CHARS = 1000;
const ASSET_SCHEMES = ['http:', 'https:', 'ftp:', 'sftp:', 'file:'];
const IMAGE_EXTENSIONS = ['gif', 'jpg', 'jpeg', 'png'];
const FONT_EXTENSIONS = ['ttf', 'otf', 'ttc'];
/** What an overlay may be: a picture or a video (never a playlist: FFmpeg would open what it names). */
const OVERLAY_EXTENSIONS = ['mp4', 'm4v', 'mov', 'webm', 'mkv', 'avi', 'ts', 'mpg', 'mpeg', 'flv', 'wmv', 'gif', 'png', 'jpg', 'jpeg'];

export function hasEditing(e: Editing): boolean {
  return e.logo !== null || e.overlays.length > 0 || e.texts.length > 0 || e.fadeIn !== null || e.fadeOut !== null || e.captions.length > 0;
}

/** The editing fields of a video or HLS format. */
export function readEditing(f: Fields): Editing {
  const logoRaw = f.raw('logo');
  const logo = logoRaw === undefined || logoRaw === '' ? null : readLogo(block(logoRaw, 'logo'));
  const overlays = blocks(f.raw('overlay'), 'overlay').map((b, i, all) => within('overlay', i, all.length, () => readOverlay(f.within(lowerKeys(b), all.length > 1 ? `overlay ${i + 1}: ` : 'overlay '))));
  const texts = blocks(f.raw('text_overlay'), 'text_overlay').map((b, i, all) => within('text_overlay', i, all.length, () => readText(b)));
  if (overlays.length > MAX_OVERLAYS) throw new FormatProblem(`overlay is given ${overlays.length} times; use at most ${MAX_OVERLAYS}.`);
  if (texts.length > MAX_OVERLAYS) throw new FormatProblem(`text_overlay is given ${texts.length} times; use at most ${MAX_OVERLAYS}.`);
  const fadeIn = f.parse('fade_in', 'Start:Duration in seconds like 0:1.5', parseFade);
  const fadeOut = f.parse('fade_out', 'Start:Duration in seconds like 8:2', parseFade);
  const audioCodec = f.str('audio_codec');
  if ((fadeIn || fadeOut) && audioCodec?.toLowerCase() === 'copy') {
    throw new FormatProblem(`${fadeIn ? 'fade_in' : 'fade_out'} fades the audio too, which audio_codec copy cannot do; choose an audio_codec to re-encode or remove the fade.`);
  }
  return { logo, overlays, texts, fadeIn, fadeOut, captions: [] };
}

/** An image output refuses the editing fields (reference 4.5) rather than ignoring them. */
export function refuseEditing(f: Fields, output: string): void {
  for (const name of EDITING_FIELDS) {
    const v = f.raw(name);
    if (v !== undefined && v !== '') {
      throw new FormatProblem(`${name} cannot be used with output ${output}; it applies to video outputs (mp4, webm, mov, mkv, mpegts, advanced_hls).`);
    }
  }
}

function readLogo(map: FieldMap): LogoSpec {
  const f = new Fields(lowerKeys(map));
  const source = f.str('logo_source');
  if (source === null) throw new FormatProblem('logo_source is missing: logo needs the URL of a GIF, JPG or PNG image.');
  checkAssetUrl(source, 'logo_source', 'a GIF, JPG or PNG image', IMAGE_EXTENSIONS);
  const x = f.parse('logo_x', 'a number of pixels like 10', parseNonNegativeInt) ?? 10;
  const y = f.parse('logo_y', 'a number of pixels like 10', parseNonNegativeInt) ?? 10;
  if (x > 8192 || y > 8192) throw new FormatProblem(`${x > 8192 ? 'logo_x' : 'logo_y'} is out of range; use 0 to 8192 pixels.`);
  const modeRaw = f.str('logo_mode');
  if (modeRaw !== null && modeRaw !== '0' && modeRaw !== '1') throw new FormatProblem(`logo_mode "${modeRaw}" is not 0 (blend) or 1 (opaque).`);
  const threshold = f.parse('logo_threshold', 'a 6-digit hex colour like 000000', parseHexColour);
  const transparent = f.parse('logo_transparent', 'a 6-digit hex colour like 000000', parseHexColour);
  if (threshold !== null && transparent !== null && threshold !== transparent) {
    throw new FormatProblem('logo_threshold and logo_transparent name two different colours; give one of them.');
  }
  return { source, x, y, mode: modeRaw === '1' ? 1 : 0, transparent: transparent ?? threshold };
}

function readOverlay(f: Fields): OverlaySpec {
  const source = f.str('overlay_source');
  if (source === null) throw new FormatProblem('overlay_source is missing: overlay needs the URL of an image or a video.');
  checkAssetUrl(source, 'overlay_source', 'an image or a video', OVERLAY_EXTENSIONS);
  if (f.flag('keep_audio', false)) {
    throw new FormatProblem('keep_audio 1 is not supported: the overlay\'s sound cannot be mixed in yet; set keep_audio to 0 or remove it.');
  }
  const left = f.parse('overlay_left', 'pixels, a percentage like 10% or center', parseOffset);
  const right = f.parse('overlay_right', 'pixels, a percentage like 10% or center', parseOffset);
  const top = f.parse('overlay_top', 'pixels, a percentage like 10% or center', parseOffset);
  const bottom = f.parse('overlay_bottom', 'pixels, a percentage like 10% or center', parseOffset);
  const x = f.parse('overlay_x', 'pixels, a percentage like 10% or center', parseOffset);
  const y = f.parse('overlay_y', 'pixels, a percentage like 10% or center', parseOffset);
  const horizontals = [['overlay_left', left], ['overlay_right', right], ['overlay_x', x]].filter(([, v]) => v !== null);
  const verticals = [['overlay_top', top], ['overlay_bottom', bottom], ['overlay_y', y]].filter(([, v]) => v !== null);
  if (horizontals.length > 1) throw new FormatProblem(`${horizontals.map(([n]) => n).join(' and ')} both place the overlay across; give one of them.`);
  if (verticals.length > 1) throw new FormatProblem(`${verticals.map(([n]) => n).join(' and ')} both place the overlay down; give one of them.`);
  const size = f.evenSize('size', 'a size like 160x90 (0 keeps the aspect ratio)', 'the overlay is laid on 4:2:0 video, which needs even sides');
  const { start, duration } = readWindow(f);
  return {
    source,
    horizontal: right !== null ? { from: 'right', offset: right } : { from: 'left', offset: left ?? x ?? { px: 0 } },
    vertical: bottom !== null ? { from: 'bottom', offset: bottom } : { from: 'top', offset: top ?? y ?? { px: 0 } },
    size,
    start,
    duration,
  };
}

function readText(map: FieldMap): TextOverlaySpec {
  const f = new Fields(lowerKeys(map));
  // The text is kept as given (inner spaces and all); only an empty one is missing.
  const raw = f.raw('text');
  if (raw !== undefined && typeof raw !== 'string') throw new FormatProblem('text must be given once as a plain value.');
  const text = raw ?? '';
  if (text.trim() === '') throw new FormatProblem('text is missing: text_overlay needs the text to draw.');
  if (text.length > MAX_TEXT_CHARS) throw new FormatProblem(`text is ${text.length} characters long; use at most ${MAX_TEXT_CHARS}.`);
  if (/[\u0000-\u0008\u000b-\u001f\u007f]/.test(text)) throw new FormatProblem('text contains control characters; send plain text (line breaks are allowed).');
  const fontSource = f.str('font_source');
  if (fontSource !== null) checkAssetUrl(fontSource, 'font_source', 'a TrueType or OpenType font (.ttf, .otf)', FONT_EXTENSIONS);
  const fontSize = f.parse('font_size', 'a size in pixels like 24', parseNonNegativeInt) ?? 0;
  if (fontSize > 1000) throw new FormatProblem(`font_size "${fontSize}" is out of range; use 1 to 1000 pixels.`);
  const rotate = f.parse('font_rotate', 'a number of degrees', parseDecimal) ?? 0;
  if (rotate !== 0) throw new FormatProblem('font_rotate is not supported: text is drawn level; set font_rotate to 0 or remove it.');
  const fontColor = f.parse('font_color', 'a 6-digit hex colour like ffffff', parseHexColour) ?? '000000';
  if (f.str('size') !== null) throw new FormatProblem('size is not supported in text_overlay; set the text\'s size with font_size.');
  const x = f.parse('overlay_x', 'a number of pixels like 10', parseNonNegativeInt) ?? 0;
  const y = f.parse('overlay_y', 'a number of pixels like 10', parseNonNegativeInt) ?? 0;
  const { start, duration } = readWindow(f);
  return { text, fontSource, fontSize: fontSize === 0 ? 24 : fontSize, fontColor, alignCenter: f.flag('align_center', false), x, y, start, duration };
}

function readWindow(f: Fields): { start: number; duration: number | null } {
  const start = f.parse('overlay_start', 'a time in seconds like 1.5', parseDecimal) ?? 0;
  const duration = f.parse('overlay_duration', 'a duration in seconds like 5', parseDecimal);
  if (duration !== null && duration <= 0) throw new FormatProblem(`overlay_duration "${f.str('overlay_duration')}" must be more than 0 seconds.`);
  return { start, duration };
}

/**
 * URL checks that need no configuration: the scheme, and an extension that plainly names
 * something else (a logo ending in .mp4). Host and file-root rules are the AddMedia's, as for sources.
 */
function checkAssetUrl(url: string, field: string, what: string, extensions: readonly string[]): void {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new FormatProblem(`${field} "${url.slice(0, 200)}" is not a URL; give the http(s), ftp, sftp or file URL of ${what}.`);
  }
  if (!ASSET_SCHEMES.includes(parsed.protocol)) {
    throw new FormatProblem(`${field} must be an http(s), ftp, sftp or file URL of ${what}, not ${parsed.protocol.replace(/:$/, '')}.`);
  }
  const ext = /\.([A-Za-z0-9]{1,5})$/.exec(parsed.pathname)?.[1]?.toLowerCase();
  if (ext !== undefined && !extensions.includes(ext)) {
    throw new FormatProblem(`${field} names a .${ext} file; it must be ${what} (${extensions.map((e) => `.${e}`).join(', ')}).`);
  }
}

function parseFade(v: string): Fade | null {
  const m = /^([^:]+):([^:]+)$/.exec(v);
  if (!m) return null;
  const start = parseDecimal(m[1]!);
  const duration = parseDecimal(m[2]!);
  if (start === null || duration === null || duration <= 0 || start > 86_400 || duration > 86_400) return null;
  return { start, duration };
}

function parseHexColour(v: string): string | null {
  const m = /^(?:#|0x)?([0-9a-fA-F]{6})$/.exec(v);
  return m ? m[1]!.toLowerCase() : null;
}

function parseOffset(v: string): Offset | null {
  if (v.toLowerCase() === 'center') return 'center';
  const pct = /^(\d{1,3}(?:\.\d+)?)%$/.exec(v);
  if (pct) {
    const percent = Number(pct[1]);
    return percent <= 100 ? { percent } : null;
  }
  const px = parseNonNegativeInt(v);
  return px !== null && px <= 8192 ? { px } : null;
}

function block(v: FieldValue, name: string): FieldMap {
  if (typeof v === 'string') throw new FormatProblem(`${name} must be a set of fields (like <${name}><${name}_source>…), not a plain value.`);
  if (Array.isArray(v)) throw new FormatProblem(`${name} can be given once.`);
  return v;
}

function blocks(v: FieldValue | undefined, name: string): FieldMap[] {
  if (v === undefined || v === '') return [];
  return (Array.isArray(v) ? v : [v]).map((item) => {
    if (typeof item === 'string') throw new FormatProblem(`${name} must be a set of fields, not a plain value.`);
    if (Array.isArray(item)) throw new FormatProblem(`${name} must be a set of fields, not a list.`);
    return item;
  });
}

function within<T>(name: string, i: number, count: number, read: () => T): T {
  try {
    return read();
  } catch (err) {
    if (err instanceof FormatProblem && count > 1) throw new FormatProblem(`${name} ${i + 1}: ${err.message}`);
    throw err;
  }
}

/** Every URL a format fetches besides its sources (editing, captions, alternate audio), with the field that names it (for AddMedia's URL checks). */
export function editingUrls(spec: object): { field: string; url: string }[] {
  const e = editingOf(spec);
  if (!e) return [];
  return [
    ...(e.logo ? [{ field: 'logo_source', url: e.logo.source }] : []),
    ...e.overlays.map((o) => ({ field: 'overlay_source', url: o.source })),
    ...e.texts.flatMap((t) => (t.fontSource ? [{ field: 'font_source', url: t.fontSource }] : [])),
    ...[...e.captions, ...captionsOf(spec)].flatMap((c) => (c.source !== null ? [{ field: 'closed_captions source', url: c.source }] : [])),
    ...e.captions.flatMap((c) => (c.fontSource !== null ? [{ field: 'closed_captions font_source', url: c.fontSource }] : [])),
    ...audioLanguagesOf(spec).alternates.map((a) => ({ field: 'alternate_source source', url: a.source })),
  ];
}

/** The editing of a spec that has one (video and HLS), else null. */
export function editingOf(spec: object): Editing | null {
  return 'editing' in spec ? (spec.editing as Editing) : null;
}
