import type { MediaProbe } from '../../domain/media-probe.ts';
import * as repo from '../../store/repo.ts';
import { redactUrl } from '../../transfer/redact.ts';
import { ApiError, ErrorText } from '../errors.ts';
import { mediaIdOf } from '../query.ts';
import { wireDate, wireDecimal, type WireObject } from '../wire/render.ts';
import type { Action, ActionContext } from './context.ts';
import { trackDetailOf, trackSummaryOf } from './media-tracks-info.ts';

async function probedMedia(ctx: ActionContext): Promise<{ media: repo.MediaRow; probes: MediaProbe[] }> {
  const id = mediaIdOf(ctx.query);
  const media = await repo.findMedia(ctx.db, ctx.user.id, id);
  if (!media) throw new ApiError(ErrorText.mediaNotFound(id));
  if (!media.probe) throw new ApiError(`Media ${id} has no media info yet: its source has not been downloaded and probed (status: ${media.status}).`);
  return { media, probes: JSON.parse(media.probe) as MediaProbe[] };
}

/** GetMediaInfo: the first source's probe as flat elements, unknown values omitted (7.8 rules 17-19). */
export const getMediaInfo: Action = async (ctx) => {
  const { probes } = await probedMedia(ctx);
  return mediaInfoOf(probes[0]!);
};

/** GetMediaInfoEx: GetMediaInfo, plus the job basics and every source with per-stream detail. */
export const getMediaInfoEx: Action = async (ctx) => {
  const { media, probes } = await probedMedia(ctx);
  const urls = (JSON.parse(media.sources) as string[]).map(redactUrl);
  return {
    ...mediaInfoOf(probes[0]!),
    id: String(media.id),
    status: media.status,
    sourcefile: urls,
    created: wireDate(media.created_at),
    downloaded: wireDate(media.downloaded_at),
    filesize: media.source_bytes !== null ? String(media.source_bytes) : undefined,
    source: probes.map((p, i) => ({
      url: urls[i] ?? '',
      format: p.formatName,
      filesize: String(p.sizeBytes),
      ...mediaInfoOf(p),
      ...trackDetailOf(p),
      stream: streamsOf(p),
    })),
  };
};

export function mediaInfoOf(p: MediaProbe): WireObject {
  const v = p.video;
  const a = p.audio[0];
  return {
    bitrate: kbps(p.bitrate),
    duration: wireDecimal(p.durationSec),
    duration_timestamp: timestamp(p.durationSec),
    duration_hms: timestamp(p.durationSec).slice(0, 8),
    video_codec: v?.codec,
    video_bitrate: kbps(v?.bitrate),
    video_duration: v?.durationSec != null ? wireDecimal(v.durationSec) : undefined,
    frame_rate: v ? wireDecimal(v.fps) : undefined,
    size: v ? `${v.width}x${v.height}` : undefined,
    pixel_aspect_ratio: v?.pixelAspectRatio,
    display_aspect_ratio: v?.displayAspectRatio,
    rotation: v ? String(v.rotation) : undefined,
    audio_codec: a?.codec,
    audio_bitrate: kbps(a?.bitrate),
    audio_sample_rate: a ? String(a.sampleRate) : undefined,
    audio_channels: a ? String(a.channels) : undefined,
    audio_duration: a?.durationSec != null ? wireDecimal(a.durationSec) : undefined,
    ...trackSummaryOf(p),
  };
}

function streamsOf(p: MediaProbe): WireObject[] {
  const streams = ((p.raw as { streams?: Record<string, unknown>[] }).streams ?? []);
  return streams.map((s) => {
    const out: WireObject = {};
    for (const key of ['index', 'codec_type', 'codec_name', 'profile', 'width', 'height', 'pix_fmt', 'avg_frame_rate', 'sample_rate', 'channels', 'channel_layout', 'bit_rate', 'duration', 'color_primaries', 'color_transfer', 'color_space']) {
      const value = s[key];
      if (typeof value === 'string' || typeof value === 'number') out[key] = String(value);
    }
    const language = (s.tags as Record<string, unknown> | undefined)?.language;
    if (typeof language === 'string') out.language = language;
    return out;
  });
}

const kbps = (bits: number | null | undefined): string | undefined => (bits ? `${Math.round(bits / 1000)}k` : undefined);

function timestamp(sec: number): string {
  const h = Math.floor(sec / 3600);
  const m = Math.floor((sec % 3600) / 60);
  const s = sec % 60;
  return `${String(h).padStart(2, '0')}:${String(m).padStart(2, '0')}:${s.toFixed(2).padStart(5, '0')}`;
}
