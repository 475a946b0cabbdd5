/**
 * GetMediaInfo's audio, subtitle, closed caption and HDR lines. GetMediaInfo stays flat, each element once
 * (reference 7.8 rule 17): the tracks are counted and their languages listed in order, `und` for
 * an untagged one. GetMediaInfoEx gives each track and the HDR metadata in full.
 */
import { audioTracksOf, subtitleTracksOf, type TrackInfo } from '../../domain/media-tracks.ts';
import type { MediaProbe } from '../../domain/media-probe.ts';
import { masteringText } from '../../domain/video-color.ts';
import type { WireObject } from '../wire/render.ts';

export function trackSummaryOf(p: MediaProbe): WireObject {
  const audio = audioTracksOf(p.raw);
  const subtitles = subtitleTracksOf(p.raw);
  const color = p.video?.color;
  return {
    audio_tracks: audio.length > 0 ? String(audio.length) : undefined,
    audio_languages: languages(audio),
    subtitle_tracks: subtitles.length > 0 ? String(subtitles.length) : undefined,
    subtitle_languages: languages(subtitles),
    // CEA-608/708 in the video itself; left out when it was not looked for (rules 17-19).
    closed_captions: p.video?.closedCaptions == null ? undefined : p.video.closedCaptions ? 'yes' : 'no',
    hdr: p.video ? (color?.dynamicRange ?? 'sdr') : undefined,
    color_primaries: color?.primaries ?? undefined,
    color_transfer: color?.transfer ?? undefined,
    color_space: color?.matrix ?? undefined,
  };
}

/** One source's tracks and HDR metadata in full, for GetMediaInfoEx. */
export function trackDetailOf(p: MediaProbe): WireObject {
  const color = p.video?.color;
  return {
    audio_track: audioTracksOf(p.raw).map(trackOf),
    subtitle_track: subtitleTracksOf(p.raw).map(trackOf),
    mastering_display: color?.mastering ? masteringText(color.mastering) : undefined,
    content_light_level: color?.contentLight ? `${color.contentLight.maxContent},${color.contentLight.maxAverage}` : undefined,
    dolby_vision_profile: color?.dolbyVisionProfile ?? undefined,
  };
}

function trackOf(t: TrackInfo): WireObject {
  return {
    number: String(t.number),
    index: String(t.streamIndex),
    codec: t.codec,
    language: t.language ?? undefined,
    title: t.title ?? undefined,
    channels: t.channels !== null ? String(t.channels) : undefined,
    default: t.isDefault ? 'yes' : 'no',
  };
}

function languages(tracks: TrackInfo[]): string | undefined {
  return tracks.some((t) => t.language !== null) ? tracks.map((t) => t.language ?? 'und').join(',') : undefined;
}
