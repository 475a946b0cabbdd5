/**
 * audio_stream resolved against the sources (domain/format/audio-tracks.ts): which audio track
 * of each source makes each of an output's audio streams, and the language, title and default
 * flag that output stream is tagged with.
 */
import type { AudioFields } from '../../domain/format.ts';
import type { AudioPick } from '../../domain/format/audio-tracks.ts';
import { audioTracksOf, sameLanguage, type TrackInfo } from '../../domain/media-tracks.ts';
import type { AudioStreamInfo, MediaProbe } from '../ffmpeg/probe.ts';
import { filter, type Filter } from '../ffmpeg/args.ts';
import type { PlanInput } from './input.ts';

export interface PickedTrack {
  /** The track of each source (by source index) that plays it; null for a source without audio (silence). */
  perSource: (number | null)[];
  /** The first source with audio: its track's format (which sets the output's) and tags. */
  stream: AudioStreamInfo;
  info: TrackInfo;
}

/** The tracks an output's audio is made of, in the order asked; empty when no source has audio (and none was asked). */
export function pickTracks(audio: Pick<AudioFields, 'audioStreams'>, input: PlanInput): PickedTrack[] {
  const perSource = input.probes.map((p, i) => (p.audio.length > 0 ? resolvePicks(audio.audioStreams, p, input.probes.length > 1 ? i : null) : null));
  const first = perSource.findIndex((n) => n !== null);
  if (first < 0 && audio.audioStreams.length > 0) {
    throw new Error(`audio_stream picks audio tracks, but ${input.probes.length > 1 ? 'none of the sources has' : 'the source has no'} audio; remove audio_stream or use a source with sound.`);
  }
  if (first < 0) return [];
  const count = perSource[first]!.length;
  const other = perSource.findIndex((n) => n !== null && n.length !== count);
  if (other >= 0) {
    throw new Error(`audio_stream picks ${count} tracks of source ${first + 1} but ${perSource[other]!.length} of source ${other + 1}; joined sources must give the same number of tracks.`);
  }
  const probe = input.probes[first]!;
  const infos = tracksWithFallback(probe);
  return perSource[first]!.map((n, k) => ({
    perSource: perSource.map((list) => (list ? list[k]! : null)),
    stream: probe.audio[n]!,
    info: infos[n]!,
  }));
}

/** Audio track numbers of one source for the picks; [0] when none are given. */
function resolvePicks(picks: AudioPick[], probe: MediaProbe, sourceNumber: number | null): number[] {
  const tracks = tracksWithFallback(probe);
  const which = sourceNumber === null ? 'The source' : `Source ${sourceNumber + 1}`;
  if (picks.length === 0) return [0];
  return picks.flatMap((pick) => {
    switch (pick.kind) {
      case 'all':
        return tracks.map((t) => t.number);
      case 'number':
        if (pick.number >= tracks.length) {
          throw new Error(`audio_stream ${pick.number}: ${which} has ${tracks.length} audio track${tracks.length === 1 ? '' : 's'} (numbered from 0 to ${tracks.length - 1}).`);
        }
        return [pick.number];
      case 'language': {
        const found = tracks.find((t) => sameLanguage(pick.language, t.language));
        if (!found) {
          const have = tracks.map((t) => t.language ?? 'und').join(', ');
          throw new Error(`audio_stream ${pick.language}: ${which} has no audio track in that language (its tracks: ${have}).`);
        }
        return [found.number];
      }
      default: {
        const never: never = pick;
        throw new Error(`unhandled audio pick ${JSON.stringify(never)}`);
      }
    }
  });
}

/** The ffprobe report's tracks; a probe that has none in `raw` (a composite view) gets plain ones from `audio`. */
function tracksWithFallback(probe: MediaProbe): TrackInfo[] {
  const tracks = audioTracksOf(probe.raw);
  if (tracks.length === probe.audio.length) return tracks;
  return probe.audio.map((a, number) => ({ number, streamIndex: number, codec: a.codec, language: a.language, title: null, isDefault: number === 0, channels: a.channels }));
}

/**
 * Folding more channels into fewer with a matrix encoding (downmix_mode), before the output's
 * aformat. Nothing when the track is not downmixed or the plain downmix is asked.
 */
export function downmixFilters(mode: AudioFields['downmix'], sourceChannels: number, layout: string, targetChannels: number): Filter[] {
  if (mode === 'default' || sourceChannels <= targetChannels) return [];
  return [filter('aresample', { matrix_encoding: mode === 'pl2' ? 'dplii' : 'dolby', out_chlayout: layout })];
}

/** `-metadata`/`-disposition` for an output's audio streams: each track's language and title, the first one default. */
export function trackTagOptions(tracks: PickedTrack[]): string[] {
  return tracks.flatMap((t, k) => [
    ...(t.info.language ? [`-metadata:s:a:${k}`, `language=${t.info.language}`] : []),
    ...(t.info.title ? [`-metadata:s:a:${k}`, `title=${t.info.title}`] : []),
    ...(tracks.length > 1 ? [`-disposition:a:${k}`, k === 0 ? 'default' : '0'] : []),
  ]);
}
