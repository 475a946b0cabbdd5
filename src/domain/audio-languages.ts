/**
 * `main_source{language}` and `alternate_source{source, language, alternate_default,
 * alternate_autoselect}` (reference 4.6, advanced_hls format level; the DASH and CMAF outputs
 * share the stream model): the languages of a segmented output's audio renditions.
 *
 * - main_source names the language of the main source's audio rendition, whatever its file says.
 * - Each alternate_source is one more audio file (dubbed or described audio), fetched like a
 *   source, that becomes one more rendition of every video variant's audio group: encoded once
 *   per group with the group's audio settings, listed as `EXT-X-MEDIA TYPE=AUDIO` with its
 *   LANGUAGE, DEFAULT and AUTOSELECT, and as one more DASH audio adaptation set.
 *
 * encoding.com documents the block's names only; the URL of the file is `source`, as in
 * closed_captions. The main rendition is the default unless an alternate says alternate_default.
 */
import type { FieldMap, FieldValue } from './fields.ts';
import { containerLanguageOf } from './captions.ts';
import { FormatProblem, Fields, lowerKeys } from './format/fields.ts';
import type { AudioPick } from './format/audio-tracks.ts';

export interface AlternateAudio {
  /** URL of the audio file (its first audio track is used). */
  source: string;
  /** As given (`fr`, `fra`, `pt-BR`): the manifests' LANGUAGE and lang. */
  language: string;
  /** ISO 639-2/B (`fre`), which the rendition's segments are tagged with. */
  containerLanguage: string;
  isDefault: boolean;
  autoselect: boolean;
}

export interface AudioLanguages {
  /** main_source's language for the main rendition; null: the source track's own tag. */
  main: { language: string; containerLanguage: string } | null;
  alternates: AlternateAudio[];
}

export const NO_AUDIO_LANGUAGES: AudioLanguages = { main: null, alternates: [] };

/** More renditions than this in one group is not a real programme; it bounds the downloads. */
const MAX_ALTERNATES = 8;
const SCHEMES = ['http:', 'https:', 'ftp:', 'sftp:', 'file:', 's3:'];

/** The format's main_source and alternate_source blocks, checked against its streams. */
/** What of a stream main_source and alternate_source depend on. */
interface StreamSound {
  audioOnly: boolean;
  videoOnly: boolean;
  audioStreams: readonly AudioPick[];
}

export function readAudioLanguages(f: Fields, output: string, streams: readonly StreamSound[]): AudioLanguages {
  const mainItems = blockItems(f.raw('main_source'), 'main_source');
  if (mainItems.length > 1) throw new FormatProblem('main_source is given more than once; the main source has one language.');
  const main = mainItems[0] ? readMain(new Fields(lowerKeys(mainItems[0]), f.options)) : null;
  const altItems = blockItems(f.raw('alternate_source'), 'alternate_source');
  if (altItems.length > MAX_ALTERNATES) throw new FormatProblem(`alternate_source is given ${altItems.length} times; use at most ${MAX_ALTERNATES}.`);
  const alternates = altItems.map((item, i) => {
    const where = altItems.length > 1 ? `alternate_source ${i + 1}: ` : 'alternate_source: ';
    try {
      return readAlternate(new Fields(lowerKeys(item), f.options));
    } catch (err) {
      if (err instanceof FormatProblem) throw new FormatProblem(where + err.message);
      throw err;
    }
  });
  if (alternates.filter((a) => a.isDefault).length > 1) {
    throw new FormatProblem('alternate_source: alternate_default is yes for more than one; one audio rendition can be the default.');
  }
  if (main === null && alternates.length === 0) return NO_AUDIO_LANGUAGES;
  const withSound = streams.filter((s) => !s.audioOnly && !s.videoOnly);
  if (withSound.length === 0) {
    const field = main ? 'main_source' : 'alternate_source';
    throw new FormatProblem(`${field} labels the audio renditions of the video streams, but no stream of this ${output} has video with sound; add a stream without audio_only or video_only.`);
  }
  if (main) {
    const several = withSound.findIndex((s) => s.audioStreams.length > 1 || s.audioStreams.some((p) => p.kind === 'all'));
    if (several >= 0) {
      throw new FormatProblem('main_source names the language of the main source\'s one audio rendition, but audio_stream picks several tracks (each keeps its own language); pick one track or remove main_source.');
    }
  }
  return { main, alternates };
}

function readMain(f: Fields): { language: string; containerLanguage: string } {
  const language = f.str('language');
  if (language === null) throw new FormatProblem('main_source: language is missing; give the main source\'s audio language, like en or eng.');
  return { language, containerLanguage: checkedLanguage(language, 'main_source') };
}

function readAlternate(f: Fields): AlternateAudio {
  const source = f.str('source');
  if (source === null) throw new FormatProblem('source is missing: give the URL of the audio file (http(s), ftp, sftp, s3 or file).');
  checkAudioUrl(source);
  const language = f.str('language');
  if (language === null) throw new FormatProblem('language is missing; give the language of this audio, like fr or fra.');
  const containerLanguage = checkedLanguage(language, 'language');
  const isDefault = f.flag('alternate_default', false);
  const autoselect = f.flag('alternate_autoselect', true);
  // RFC 8216 4.3.4.1: a rendition with DEFAULT=YES must have AUTOSELECT=YES.
  if (isDefault && !autoselect) throw new FormatProblem('alternate_default yes needs alternate_autoselect yes (HLS requires a default rendition to be autoselectable).');
  return { source, language, containerLanguage, isDefault, autoselect };
}

function checkedLanguage(language: string, field: string): string {
  const code = containerLanguageOf(language);
  if (code === null) throw new FormatProblem(`${field} "${language.slice(0, 40)}" is not a language code like en, eng or pt-BR.`);
  return code;
}

function checkAudioUrl(url: string): void {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new FormatProblem(`source "${url.slice(0, 200)}" is not a URL; give the http(s), ftp, sftp, s3 or file URL of an audio (or video) file.`);
  }
  if (!SCHEMES.includes(parsed.protocol)) throw new FormatProblem(`source must be an http(s), ftp, sftp, s3 or file URL, not ${parsed.protocol.replace(/:$/, '')}.`);
}

function blockItems(raw: FieldValue | undefined, field: string): FieldMap[] {
  if (raw === undefined) return [];
  const list = Array.isArray(raw) ? raw : [raw];
  return list.flatMap((item, i): FieldMap[] => {
    if (typeof item === 'string') {
      if (item.trim() === '' || item.trim().toLowerCase() === 'no') return [];
      throw new FormatProblem(`${field}${list.length > 1 ? ` ${i + 1}` : ''} must be a set of fields (${field === 'main_source' ? 'language' : 'source, language, …'}), not a plain value.`);
    }
    if (Array.isArray(item)) throw new FormatProblem(`${field} ${i + 1} must be a set of fields, not a list.`);
    return [item];
  });
}

/** The languages a spec's audio renditions are given; none for outputs without renditions. */
export function audioLanguagesOf(spec: object): AudioLanguages {
  return 'audioLanguages' in spec ? (spec.audioLanguages as AudioLanguages) : NO_AUDIO_LANGUAGES;
}
