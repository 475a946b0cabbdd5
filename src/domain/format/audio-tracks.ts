/**
 * audio_stream and downmix_mode (reference 4.4): which of the source's audio tracks an output
 * carries, and how more channels than the output has are folded down.
 *
 * audio_stream is a comma list of picks, each a track number counted from 0 among the source's
 * audio tracks (FFmpeg's `0:a:N`, GetMediaInfoEx's `audio_track/number`), a language code (`eng`
 * or `en`: the first track tagged with it) or `all`. Absent, the output carries the first track.
 * Several tracks go into MP4, MOV, MKV and MPEG-TS files as several audio streams, and into HLS
 * and DASH as one audio rendition each; an audio file (mp3, m4a…) holds one.
 */
import { FormatProblem, type Fields } from './fields.ts';

export type AudioPick = { kind: 'number'; number: number } | { kind: 'language'; language: string } | { kind: 'all' };

/**
 * - `default`: FFmpeg's standard ITU downmix;
 * - `pl2`: Dolby Pro Logic II matrix encoding (surround recoverable by a PLII decoder);
 * - `dpl`: Dolby Surround (Pro Logic) matrix encoding.
 */
export const DOWNMIX_MODES = ['default', 'pl2', 'dpl'] as const;
export type DownmixMode = (typeof DOWNMIX_MODES)[number];

export interface AudioTrackFields {
  /** The picks in the order asked; empty = the source's first audio track. */
  audioStreams: AudioPick[];
  /** @default 'default' */
  downmix: DownmixMode;
}

/** Outputs that carry one audio track (segmented outputs take several as renditions). */
const ONE_TRACK_FILES = ['webm', 'mp3', 'm4a', 'ogg', 'wav', 'flac'];
const MAX_PICKS = 8;

/** `target`: the output (or the segmented output a stream belongs to). */
export function readAudioTracks(f: Fields, target: string): AudioTrackFields {
  const raw = f.str('audio_stream');
  const audioStreams = raw === null ? [] : parsePicks(raw);
  const several = audioStreams.length > 1 || audioStreams.some((p) => p.kind === 'all');
  if (several && ONE_TRACK_FILES.includes(target)) {
    throw new FormatProblem(`audio_stream "${raw}" asks for several audio tracks, but ${target} holds one; pick one track, or use mp4, mov, mkv or mpegts.`);
  }
  const modeRaw = f.str('downmix_mode');
  const mode = modeRaw === null ? 'default' : modeRaw.toLowerCase() === 'dplii' ? 'pl2' : modeRaw.toLowerCase();
  if (!(DOWNMIX_MODES as readonly string[]).includes(mode)) {
    throw new FormatProblem(`downmix_mode "${modeRaw}" is not one of ${DOWNMIX_MODES.join(', ')}.`);
  }
  return { audioStreams, downmix: mode as DownmixMode };
}

function parsePicks(raw: string): AudioPick[] {
  const items = raw.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (items.length === 0) return [];
  if (items.length > MAX_PICKS) throw new FormatProblem(`audio_stream "${raw}" names ${items.length} tracks; an output takes at most ${MAX_PICKS}.`);
  const picks = items.map((item): AudioPick => {
    if (/^\d{1,2}$/.test(item)) return { kind: 'number', number: Number(item) };
    if (item.toLowerCase() === 'all') return { kind: 'all' };
    if (/^[A-Za-z]{2,3}$/.test(item)) return { kind: 'language', language: item.toLowerCase() };
    throw new FormatProblem(
      `audio_stream "${raw}": "${item}" is not a track number counted from 0, a language code like eng or en, or all.`,
    );
  });
  if (picks.some((p) => p.kind === 'all') && picks.length > 1) throw new FormatProblem(`audio_stream "${raw}": all already takes every track; give it alone.`);
  const seen = new Set(picks.map((p) => JSON.stringify(p)));
  if (seen.size !== picks.length) throw new FormatProblem(`audio_stream "${raw}" names a track twice.`);
  return picks;
}
