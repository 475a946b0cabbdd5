/** Pictures made from a video (reference 4.9): thumbnails, animated GIFs and single images. */
import { FormatProblem, type Fields, type Size, parseDecimal, parseNonNegativeInt, parseSize, parseTime } from './fields.ts';
import { readTrim, type TrimFields } from './video.ts';

export type ThumbnailTime =
  | { kind: 'at'; seconds: number }
  | { kind: 'percent'; percent: number }
  | { kind: 'every'; seconds: number };

export interface ThumbnailSpec {
  kind: 'thumbnail';
  output: 'thumbnail';
  /** @default { kind: 'at', seconds: 5 } */
  time: ThumbnailTime;
  /** null = from the other side, or the source size when both are null. */
  width: number | null;
  height: number | null;
  /** 1 (smallest file) to 100 (best). @default 90 */
  quality: number;
  /** Sprite sheets with a WebVTT storyboard instead of separate pictures (`use_vtt`); null = no. */
  storyboard: StoryboardSpec | null;
  /** `remove_metadata`: nothing but the picture in the file (no encoder comment). @default false */
  removeMetadata: boolean;
}

/** `use_vtt=yes` (reference 4.8): thumbnails tiled into JPEG sprite sheets, one WebVTT cue each. */
export interface StoryboardSpec {
  /** Tiles in one row of a sheet (`vtt_line_size`), 1 to 50. @default 5 */
  perRow: number;
  /** Rows in one sheet (`vtt_max_lines`), 1 to 50; more thumbnails start another sheet. @default 5 */
  rows: number;
  /** Where the .vtt goes (`vtt_destination`); null = beside the sheets at each destination. */
  destination: string | null;
  /** The public address of the (first) destination (`public_url`), used in the cues when the .vtt goes elsewhere. */
  publicUrl: string | null;
}

/** The interval of a storyboard without a `time` field: the documented default time, 5, read as every 5 s. */
export const STORYBOARD_DEFAULT_EVERY = 5;
/** Tile width of a storyboard without width or height: small enough for a scrub preview. */
export const STORYBOARD_DEFAULT_WIDTH = 160;
/** Sprite sheets larger than this on a side are refused: decoders and browsers struggle with them. */
export const MAX_SHEET_SIDE = 8192;

export const GIF_DITHERS = ['bayer', 'heckbert', 'floyd_steinberg', 'sierra2', 'sierra2_4a'] as const;
export type GifDither = (typeof GIF_DITHERS)[number];

/** An animated GIF (reference 4.9), made with a palette computed from its own frames. */
export interface GifSpec extends TrimFields {
  kind: 'gif';
  output: 'gif';
  /** Frame delay in 1/100 s; the frame rate is 100/interval. @default 10 */
  interval: number;
  /** encoding.com's meaning: -1 loops forever, 0 plays once, N > 0 repeats N times. @default 0 */
  loop: number;
  /** Palette size, 4 to 255. @default 128 */
  colors: number;
  /** @default 'sierra2_4a' */
  dither: GifDither;
  /** null = the source's display size. */
  size: Size | null;
  /** @default true */
  keepAspectRatio: boolean;
}

export type ImageFormat = 'jpg' | 'png' | 'gif' | 'webp';
/**
 * How a picture is brought to `size` when both sides are given: `resize` fits it inside keeping
 * the aspect (one side may come out smaller; with keep_aspect_ratio no it is stretched), `crop`
 * fills the size and cuts what overflows, `combine` fits it inside and pads to the size.
 */
export type ResizeMethod = 'resize' | 'crop' | 'combine';

/** One still picture (reference 4.9). */
export interface ImageSpec {
  kind: 'image';
  output: 'image';
  /** @default 'jpg' */
  imageFormat: ImageFormat;
  /** @default 'resize' */
  resizeMethod: ResizeMethod;
  /** null = the source's display size. */
  size: Size | null;
  keepAspectRatio: boolean;
  /** 1 to 100; JPEG and WebP only. @default 90 */
  quality: number;
  /** Like a thumbnail's, without the every-N-seconds form. @default { kind: 'at', seconds: 5 } */
  time: Exclude<ThumbnailTime, { kind: 'every' }>;
  /** `sharpen_radius`/`sharpen_sigma`; null = no sharpening. */
  sharpen: Sharpen | null;
  /** `remove_metadata`: nothing but the picture in the file (no encoder comment). @default false */
  removeMetadata: boolean;
}

/**
 * An unsharp mask over the luma, in ImageMagick's terms (`-sharpen RADIUSxSIGMA`): the radius
 * sets the matrix (2 × radius + 1 pixels square), sigma the strength.
 */
export interface Sharpen {
  /** Matrix side in pixels, odd, 3 to 23 (FFmpeg's unsharp range). */
  matrix: number;
  /** unsharp's luma amount, 0.1 to 5. */
  amount: number;
}

export function readThumbnail(f: Fields): ThumbnailSpec {
  const useVtt = f.flag('use_vtt', false);
  const timeRaw = f.str('time');
  let time: ThumbnailTime = useVtt ? { kind: 'every', seconds: STORYBOARD_DEFAULT_EVERY } : { kind: 'at', seconds: 5 };
  if (timeRaw !== null) {
    const parsed = parseThumbnailTime(timeRaw);
    if (typeof parsed === 'string') throw new FormatProblem(parsed);
    // A storyboard covers the whole timeline; one moment cannot fill it.
    if (useVtt && parsed.kind !== 'every') {
      throw new FormatProblem(`time "${timeRaw}" is one moment, but use_vtt=yes makes a storyboard of the whole video: use an interval like 5! (a thumbnail every 5 seconds), or leave time out for every ${STORYBOARD_DEFAULT_EVERY} seconds.`);
    }
    time = parsed;
  }
  let width = f.parse('width', 'a width in pixels like 320', parseNonNegativeInt);
  let height = f.parse('height', 'a height in pixels like 180', parseNonNegativeInt);
  // Some clients send `size` for thumbnails too; width/height win when both are present.
  const size = f.parse('size', 'a size like 320x180', parseSize);
  if (width === null && height === null && size) ({ width, height } = size);
  for (const [name, v] of [['width', width], ['height', height]] as const) {
    if (v !== null && v > 8192) throw new FormatProblem(`${name} "${v}" is too large; use at most 8192 pixels.`);
  }
  // Tiles side by side in one 4:2:0 JPEG must start on even pixels, or colours bleed across tiles;
  // a single 4:2:0 JPEG cannot be letterboxed to an odd side.
  const why = useVtt ? 'sprite sheet tiles (use_vtt=yes) need even sides in a 4:2:0 JPEG' : '4:2:0 JPEG pictures need even sides';
  width = f.evenSide('width', width, why);
  height = f.evenSide('height', height, why);
  const quality = f.parse('quality', 'a quality from 1 to 100', parseNonNegativeInt) ?? 90;
  if (quality < 1 || quality > 100) throw new FormatProblem(`quality "${quality}" is out of range; use 1 to 100.`);
  if (!width && !height && useVtt) width = STORYBOARD_DEFAULT_WIDTH;
  const storyboard = readStoryboard(f, useVtt, width || null, height || null);
  return {
    kind: 'thumbnail', output: 'thumbnail', time, width: width || null, height: height || null, quality, storyboard,
    removeMetadata: f.flag('remove_metadata', false),
  };
}

function readStoryboard(f: Fields, useVtt: boolean, width: number | null, height: number | null): StoryboardSpec | null {
  const count = (name: string): number => {
    const n = f.parse(name, 'a whole number from 1 to 50', parseNonNegativeInt) ?? 5;
    if (n < 1 || n > 50) throw new FormatProblem(`${name} "${n}" is out of range; use 1 to 50.`);
    return n;
  };
  const perRow = count('vtt_line_size');
  const rows = count('vtt_max_lines');
  const destination = f.str('vtt_destination');
  const publicUrl = f.str('public_url');
  if (!useVtt) {
    if (destination !== null) throw new FormatProblem('vtt_destination is only used with use_vtt=yes (sprite sheets with a WebVTT storyboard); add use_vtt=yes or remove vtt_destination.');
    return null;
  }
  if (publicUrl !== null && !/^https?:\/\/[^/?#\s]+/i.test(publicUrl)) {
    throw new FormatProblem(`public_url "${publicUrl.slice(0, 200)}" is not an http:// or https:// URL; give the public address of the destination, like https://cdn.example.com/thumbs/.`);
  }
  // Sides the request fixes already; a side computed from the source's aspect is checked by the planner.
  for (const [side, n, tile, field] of [['wide', perRow, width, 'vtt_line_size'], ['high', rows, height, 'vtt_max_lines']] as const) {
    if (tile !== null && n * tile > MAX_SHEET_SIDE) {
      throw new FormatProblem(`${field} "${n}" with ${tile}-pixel tiles makes sprite sheets ${n * tile} pixels ${side}; use at most ${MAX_SHEET_SIDE} (fewer tiles or smaller ones).`);
    }
  }
  return { perRow, rows, destination, publicUrl };
}

/**
 * `size` (WxH, one side 0 keeps the aspect), or `width`/`height` as thumbnails take them.
 * `evenWhy`: the picture is 4:2:0 (JPEG, WebP), so odd sides are rounded to even with a note
 * giving this reason; null: made at any size (GIF, PNG).
 */
export function readStillSize(f: Fields, evenWhy: string | null): Size | null {
  const expected = 'a size like 320x180 (0 keeps the aspect ratio)';
  const size = evenWhy ? f.evenSize('size', expected, evenWhy) : f.parse('size', expected, parseSize);
  if (size) return size;
  const width = f.parse('width', 'a width in pixels like 320', parseNonNegativeInt) ?? 0;
  const height = f.parse('height', 'a height in pixels like 180', parseNonNegativeInt) ?? 0;
  for (const [name, v] of [['width', width], ['height', height]] as const) {
    if (v > 8192) throw new FormatProblem(`${name} "${v}" is too large; use at most 8192 pixels.`);
  }
  if (!width && !height) return null;
  return evenWhy ? { width: f.evenSide('width', width, evenWhy)!, height: f.evenSide('height', height, evenWhy)! } : { width, height };
}

export function readGif(f: Fields): GifSpec {
  const interval = f.parse('interval', 'a frame delay in hundredths of a second like 10', parseNonNegativeInt) ?? 10;
  if (interval < 2 || interval > 1000) {
    throw new FormatProblem(`interval "${interval}" is out of range; use 2 to 1000 hundredths of a second (10 = 10 frames a second).`);
  }
  const loopRaw = f.str('loop');
  let loop = 0;
  if (loopRaw !== null) {
    if (!/^(-1|\d{1,5})$/.test(loopRaw)) throw new FormatProblem(`loop "${loopRaw}" is not -1 (loop forever), 0 (play once) or a number of repeats.`);
    loop = Number(loopRaw);
  }
  const colors = f.parse('colors', 'a number of colours from 4 to 255', parseNonNegativeInt) ?? 128;
  if (colors < 4 || colors > 255) throw new FormatProblem(`colors "${colors}" is out of range; use 4 to 255.`);
  const ditherRaw = f.str('dither');
  let dither: GifDither = 'sierra2_4a';
  if (ditherRaw !== null) {
    const found = GIF_DITHERS.find((d) => d === ditherRaw.toLowerCase());
    if (!found) throw new FormatProblem(`dither "${ditherRaw}" is not one of ${GIF_DITHERS.join(', ')}.`);
    dither = found;
  }
  return {
    kind: 'gif', output: 'gif', interval, loop, colors, dither, size: readStillSize(f, null),
    keepAspectRatio: f.flag('keep_aspect_ratio', true), ...readTrim(f),
  };
}

export const IMAGE_FORMATS: Record<string, ImageFormat> = { jpg: 'jpg', jpeg: 'jpg', png: 'png', gif: 'gif', webp: 'webp' };

export function readImage(f: Fields): ImageSpec {
  const formatRaw = f.str('image_format');
  let imageFormat: ImageFormat = 'jpg';
  if (formatRaw !== null) {
    const found = IMAGE_FORMATS[formatRaw.toLowerCase()];
    if (!found) throw new FormatProblem(`image_format "${formatRaw}" is not one of jpg, png, gif, webp.`);
    imageFormat = found;
  }
  const methodRaw = f.str('resize_method');
  let resizeMethod: ResizeMethod = 'resize';
  if (methodRaw !== null) {
    const m = methodRaw.toLowerCase();
    if (m !== 'resize' && m !== 'crop' && m !== 'combine') throw new FormatProblem(`resize_method "${methodRaw}" is not one of resize, crop, combine.`);
    resizeMethod = m;
  }
  const quality = f.parse('quality', 'a quality from 1 to 100', parseNonNegativeInt) ?? 90;
  if (quality < 1 || quality > 100) throw new FormatProblem(`quality "${quality}" is out of range; use 1 to 100.`);
  const timeRaw = f.str('time');
  let time: ImageSpec['time'] = { kind: 'at', seconds: 5 };
  if (timeRaw !== null) {
    const parsed = parseThumbnailTime(timeRaw);
    if (typeof parsed === 'string') throw new FormatProblem(parsed);
    if (parsed.kind === 'every') throw new FormatProblem(`time "${timeRaw}" asks for a picture every few seconds; an image is one picture: use a time like 5 or 10%, or output thumbnail.`);
    time = parsed;
  }
  return {
    kind: 'image', output: 'image', imageFormat, resizeMethod, size: readStillSize(f, imageFormat === 'jpg' || imageFormat === 'webp' ? `4:2:0 ${imageFormat === 'jpg' ? 'JPEG' : 'WebP'} pictures need even sides` : null),
    keepAspectRatio: f.flag('keep_aspect_ratio', true),
    quality, time, sharpen: readSharpen(f), removeMetadata: f.flag('remove_metadata', false),
  };
}

/**
 * ImageMagick's `-sharpen RADIUSxSIGMA` mapped onto FFmpeg's unsharp: radius 1 to 11 pixels
 * (0 = from sigma, as ImageMagick does) and sigma 0.1 to 5 as the strength. Radius alone sharpens
 * with sigma 1.
 */
function readSharpen(f: Fields): Sharpen | null {
  const radius = f.parse('sharpen_radius', 'a radius in pixels from 0 to 11', parseDecimal);
  const sigma = f.parse('sharpen_sigma', 'a strength from 0.1 to 5', parseDecimal);
  if (radius === null && sigma === null) return null;
  if (radius !== null && radius > 11) throw new FormatProblem(`sharpen_radius "${radius}" is out of range; use 0 (chosen from sharpen_sigma) to 11 pixels.`);
  if (sigma !== null && (sigma < 0.1 || sigma > 5)) throw new FormatProblem(`sharpen_sigma "${sigma}" is out of range; use 0.1 (slight) to 5 (strong).`);
  const amount = sigma ?? 1;
  // ImageMagick picks about two sigmas of radius when none is given.
  const r = radius !== null && radius >= 0.5 ? Math.round(radius) : Math.ceil(2 * amount);
  return { matrix: Math.min(23, Math.max(3, 2 * r + 1)), amount };
}

export function parseThumbnailTime(raw: string): ThumbnailTime | string {
  const bad = `time "${raw}" is not a thumbnail time like 5, 00:00:05.5, 10% or 2! (every 2 seconds).`;
  const every = /^!\s*(.+)$/.exec(raw) ?? /^(.+?)\s*!$/.exec(raw);
  if (every) {
    const n = parseDecimal(every[1] ?? '');
    if (n === null) return bad;
    if (n < 1) return `time "${raw}" takes a thumbnail too often; use every 1 second (1!) or more.`;
    return { kind: 'every', seconds: n };
  }
  const pct = /^(.+?)\s*%$/.exec(raw);
  if (pct) {
    const n = parseDecimal(pct[1] ?? '');
    if (n === null) return bad;
    if (n > 100) return `time "${raw}" is out of range; use 0% to 100%.`;
    return { kind: 'percent', percent: n };
  }
  if (raw.startsWith('-')) return `time "${raw}" must not be negative.`;
  const t = parseTime(raw);
  if (t === null || t.timecode) return bad;
  return { kind: 'at', seconds: t.seconds };
}
