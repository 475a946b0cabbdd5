/**
 * A source's audio and subtitle tracks as GetMediaInfo lists them and audio_stream picks them:
 * numbered from 0 within their kind, in the file's order (FFmpeg's `0:a:N`, `0:s:N`).
 */
import type { FfprobeJson } from './media-probe.ts';

export interface TrackInfo {
  /** 0-based among the tracks of its kind. */
  number: number;
  /** ffprobe's index among all the file's streams. */
  streamIndex: number;
  codec: string;
  /** ISO 639-2 as the file says it; null when untagged or `und`. */
  language: string | null;
  title: string | null;
  isDefault: boolean;
  /** Audio only. */
  channels: number | null;
}

type Stream = Record<string, unknown> & { tags?: Record<string, string> };

export function audioTracksOf(raw: FfprobeJson): TrackInfo[] {
  return tracksOf(raw, 'audio');
}

export function subtitleTracksOf(raw: FfprobeJson): TrackInfo[] {
  return tracksOf(raw, 'subtitle');
}

function tracksOf(raw: FfprobeJson, kind: 'audio' | 'subtitle'): TrackInfo[] {
  const streams = (raw.streams ?? []) as Stream[];
  return streams.filter((s) => s['codec_type'] === kind).map((s, number) => {
    const tags = lowerKeys(s.tags);
    const language = tags['language'];
    const disposition = s['disposition'] as Record<string, unknown> | undefined;
    return {
      number,
      streamIndex: typeof s['index'] === 'number' ? s['index'] : number,
      codec: typeof s['codec_name'] === 'string' ? s['codec_name'] : 'unknown',
      language: language && language !== 'und' ? language.toLowerCase() : null,
      title: tags['title'] || null,
      isDefault: disposition?.['default'] === 1,
      channels: typeof s['channels'] === 'number' ? s['channels'] : null,
    };
  });
}

/** Matroska writes tags in capitals (`LANGUAGE`), MP4 in lower case. */
function lowerKeys(tags: Record<string, string> | undefined): Record<string, string> {
  return Object.fromEntries(Object.entries(tags ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
}

/**
 * ISO 639-1 codes (`en`) of the languages streaming manifests name most, with the 639-2/B forms
 * files carry (`eng`): audio_stream and main_source may say either, and a request's `en` must
 * find a file's `eng`.
 */
const TWO_TO_THREE: Record<string, string[]> = {
  en: ['eng'], fr: ['fra', 'fre'], de: ['deu', 'ger'], es: ['spa'], it: ['ita'], pt: ['por'], nl: ['nld', 'dut'], sv: ['swe'],
  da: ['dan'], no: ['nor'], nb: ['nob'], fi: ['fin'], pl: ['pol'], cs: ['ces', 'cze'], ru: ['rus'], uk: ['ukr'], el: ['ell', 'gre'],
  tr: ['tur'], ar: ['ara'], he: ['heb'], hi: ['hin'], ja: ['jpn'], ko: ['kor'], zh: ['zho', 'chi'], th: ['tha'], vi: ['vie'],
  id: ['ind'], hu: ['hun'], ro: ['ron', 'rum'], bg: ['bul'], hr: ['hrv'], sr: ['srp'], sk: ['slk', 'slo'], sl: ['slv'], ca: ['cat'],
  eu: ['eus', 'baq'], gl: ['glg'], fa: ['fas', 'per'], ms: ['msa', 'may'], ta: ['tam'], te: ['tel'], bn: ['ben'], ur: ['urd'],
};

/** Whether a language code from a request and one from a file name the same language. */
export function sameLanguage(asked: string, tagged: string | null): boolean {
  if (tagged === null) return false;
  const a = asked.toLowerCase();
  const t = tagged.toLowerCase();
  return a === t || (TWO_TO_THREE[a]?.includes(t) ?? false) || (TWO_TO_THREE[t]?.includes(a) ?? false)
    || Object.values(TWO_TO_THREE).some((forms) => forms.includes(a) && forms.includes(t));
}

/** The two-letter code (RFC 5646, what HLS LANGUAGE and DASH lang prefer) of a file's tag, or the tag itself. */
export function manifestLanguage(tagged: string): string {
  const t = tagged.toLowerCase();
  const two = Object.entries(TWO_TO_THREE).find(([, forms]) => forms.includes(t));
  return two ? two[0] : t;
}
