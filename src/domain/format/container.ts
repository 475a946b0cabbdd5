/**
 * Container and stream edits (reference 4.3-4.5): rotation metadata, tags, chapters, smart
 * pass-through, and the loudness fields of the audio chain (reference 4.4).
 */
import { FormatProblem, type Fields, parseDecimal } from './fields.ts';
import { ROTATABLE_OUTPUTS, type FileOutput } from '../outputs.ts';

export type { AudioContainer, VideoContainer } from '../outputs.ts';

/** Clockwise degrees a player turns the picture, written as metadata; `source` = the source's. */
export type SetRotate = 0 | 90 | 180 | 270 | 'source';

/** The tags of `<metadata>` (reference 4.5), by encoding.com's names. */
export const METADATA_TAGS = ['title', 'copyright', 'author', 'description', 'album'] as const;
export type MetadataTag = (typeof METADATA_TAGS)[number];

export interface ContainerEdits {
  /** @default 0 (no rotation metadata) */
  setRotate: SetRotate;
  /**
   * Copy the source's file-level tags (`metadata_copy`, or `copy` in `<metadata>`). Otherwise the
   * output carries no tag of the source, only those of {@link tags}. @default false
   */
  copyMetadata: boolean;
  /** Tags to write; over the copied ones when both are asked. */
  tags: Partial<Record<MetadataTag, string>>;
  /** Leave the source's chapters out. @default false (kept where the container holds them) */
  stripChapters: boolean;
  /**
   * Remux instead of encoding when the source already meets every asked setting
   * (plan/passthrough.ts). @default true
   */
  smartPassthrough: boolean;
  /** The format's field names that ask for something, for pass-through to see settings it does not check. */
  asked: readonly string[];
}

/** EBU R128 loudness normalisation with FFmpeg's loudnorm filter (one pass, dynamic mode). */
export interface Loudness {
  /** Integrated loudness target, LUFS (-70 to -5). @default -23 (EBU R128) */
  integrated: number;
  /** Loudness range target, LU (1 to 50). @default 7 (FFmpeg's) */
  range: number;
  /** Maximum true peak, dBTP (-9 to 0). @default -1 (EBU R128) */
  truePeak: number;
}

export interface LevelFields {
  /** From `loudnorm`, or from `audio_normalization` (see {@link readLevels}). */
  loudness: Loudness | null;
}

const MAX_TAG_CHARS = 1000;

export function readContainerEdits(f: Fields, output: FileOutput): ContainerEdits {
  const setRotate = readSetRotate(f, output);
  let copyMetadata = f.flag('metadata_copy', false);
  const tags: Partial<Record<MetadataTag, string>> = {};
  const raw = f.raw('metadata');
  if (typeof raw === 'string') {
    const v = raw.trim().toLowerCase();
    if (v === 'copy') copyMetadata = true;
    else if (v !== '') throw new FormatProblem(`metadata "${raw.trim()}" is not copy; give tags as <metadata><title>…</title></metadata>, or <metadata><copy/></metadata>.`);
  } else if (Array.isArray(raw)) {
    throw new FormatProblem('metadata must be given once, not as a list.');
  } else if (raw !== undefined) {
    for (const [key, value] of Object.entries(raw)) {
      const name = key.toLowerCase();
      if (typeof value !== 'string') throw new FormatProblem(`metadata ${name} must be a plain value, not a list or a nested element.`);
      if (name === 'copy') {
        // `<copy/>` (empty) and `<copy>yes</copy>` both ask for a copy.
        const c = value.trim().toLowerCase();
        if (c === '' || c === 'yes' || c === 'true' || c === '1') copyMetadata = true;
        else if (c !== 'no' && c !== 'false' && c !== '0') throw new FormatProblem(`metadata copy "${value.trim()}" must be yes or no.`);
        continue;
      }
      const tag = METADATA_TAGS.find((t) => t === name);
      if (!tag) throw new FormatProblem(`metadata ${name} is not a tag Encodery writes; use ${METADATA_TAGS.join(', ')} or copy.`);
      const text = value.trim();
      if (text === '') continue;
      if (text.length > MAX_TAG_CHARS) throw new FormatProblem(`metadata ${tag} is too long; use at most ${MAX_TAG_CHARS} characters.`);
      // NUL cannot go through an argument list; other control characters would end up in players' menus.
      if (/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/.test(text)) {
        throw new FormatProblem(`metadata ${tag} contains control characters; use plain text (line breaks and tabs are fine).`);
      }
      tags[tag] = text;
    }
  }
  return {
    setRotate, copyMetadata, tags, stripChapters: f.flag('strip_chapters', false), smartPassthrough: f.flag('smart_passthrough', true),
    asked: f.asked(),
  };
}

function readSetRotate(f: Fields, output: FileOutput): SetRotate {
  const raw = f.str('set_rotate');
  if (raw === null) return 0;
  const v = raw.toLowerCase();
  let value: SetRotate;
  if (v === 'source') value = 'source';
  else if (v === '0' || v === '90' || v === '180' || v === '270') value = Number(v) as 0 | 90 | 180 | 270;
  else throw new FormatProblem(`set_rotate "${raw}" is not one of 0, 90, 180, 270, source.`);
  if (value !== 0 && !ROTATABLE_OUTPUTS.includes(output)) {
    throw new FormatProblem(`set_rotate "${raw}" cannot be written into ${output}, which has no rotation metadata; use output ${ROTATABLE_OUTPUTS.slice(0, -1).join(', ')} or ${ROTATABLE_OUTPUTS.at(-1)}, or set_rotate 0.`);
  }
  return value;
}

/**
 * `loudnorm` yes|no|a target in LUFS (-70 to -5, e.g. -23 or -16), with `loudnorm_range` and
 * `loudnorm_peak`. `audio_normalization` N (0-100, 0 = off) is EBU R128 normalisation too
 * (-23 LUFS) with the true peak kept under N % of full scale: 20·log10(N/100) dBTP, at least
 * -9 dBTP (loudnorm's floor, about 35 %). A peak normalisation in the strict sense would need a
 * measuring pass over the whole source first. One of them at a time, never with `audio_volume`.
 */
export function readLevels(f: Fields): LevelFields {
  const loudRaw = f.str('loudnorm');
  let integrated: number | null = null;
  if (loudRaw !== null) {
    const l = loudRaw.toLowerCase();
    if (l === 'yes' || l === 'true') integrated = -23;
    else if (l !== 'no' && l !== 'false') {
      const m = /^(-?\d+(?:\.\d+)?)\s*(?:lufs|lkfs)?$/i.exec(loudRaw);
      const n = m ? Number(m[1]) : NaN;
      if (!Number.isFinite(n)) throw new FormatProblem(`loudnorm "${loudRaw}" is not yes, no or a loudness target in LUFS like -23 or -16.`);
      if (n < -70 || n > -5) throw new FormatProblem(`loudnorm "${loudRaw}" is out of range; use a target from -70 to -5 LUFS (e.g. -23 for EBU R128, -16 for streaming).`);
      integrated = n;
    }
  }
  const range = f.parse('loudnorm_range', 'a loudness range in LU like 7', parseDecimal);
  if (range !== null && (range < 1 || range > 50)) throw new FormatProblem(`loudnorm_range "${f.str('loudnorm_range')}" is out of range; use 1 to 50 LU.`);
  const peakRaw = f.str('loudnorm_peak');
  let peak: number | null = null;
  if (peakRaw !== null) {
    const m = /^(-?\d+(?:\.\d+)?)\s*(?:dbtp|db)?$/i.exec(peakRaw);
    peak = m ? Number(m[1]) : null;
    if (peak === null || peak < -9 || peak > 0) throw new FormatProblem(`loudnorm_peak "${peakRaw}" is not a true peak from -9 to 0 dBTP like -1.`);
  }
  if (integrated === null && (range !== null || peak !== null)) {
    const which = range !== null ? 'loudnorm_range' : 'loudnorm_peak';
    throw new FormatProblem(`${which} needs loudnorm: add loudnorm yes (-23 LUFS) or a target like loudnorm -16.`);
  }

  const norm = f.parse('audio_normalization', 'a percentage from 0 to 100', parseDecimal);
  if (norm !== null && norm > 100) throw new FormatProblem(`audio_normalization "${f.str('audio_normalization')}" is out of range; use 0 to 100 (percent of full scale, 0 = off).`);
  if (norm !== null && norm > 0) {
    if (integrated !== null) {
      throw new FormatProblem('audio_normalization and loudnorm cannot be used together; use loudnorm with loudnorm_peak for a loudness target and a peak ceiling.');
    }
    const ceiling = Math.round(Math.max(-9, 20 * Math.log10(norm / 100)) * 10) / 10;
    return { loudness: { integrated: -23, range: 7, truePeak: ceiling } };
  }
  return { loudness: integrated === null ? null : { integrated, range: range ?? 7, truePeak: peak ?? -1 } };
}
