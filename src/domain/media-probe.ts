import type { VideoColor } from './video-color.ts';

/** The stored shape of a probed source: what the planner plans from and GetMediaInfo shows (media.probe is a JSON array of these). */

export interface VideoStreamInfo {
  codec: string;
  profile: string | null;
  bitrate: number | null;
  /** Stored (coded-for-display) size, before any rotation. */
  width: number;
  height: number;
  fps: number;
  /** `1:1` when unknown. */
  pixelAspectRatio: string;
  /** Reduced, e.g. `16:9`; computed from size and pixel aspect when the file does not say. */
  displayAspectRatio: string;
  /** Clockwise degrees a player turns the picture: 0, 90, 180 or 270. */
  rotation: 0 | 90 | 180 | 270;
  durationSec: number | null;
  pixFmt: string | null;
  fieldOrder: string | null;
  /**
   * As ffprobe reports it: H.264 `31` for 3.1, HEVC 30 times the level (`93` for 3.1). Optional:
   * probes stored before it was read lack it.
   */
  level?: number | null;
  /** The stream's sample entry or FourCC, e.g. `avc1`, `hvc1`, `hev1`. */
  codecTag?: string | null;
  /** Colour tags and dynamic range (video-color.ts); probes stored before it was read lack it (SDR). */
  color?: VideoColor;
  /**
   * CEA-608/708 captions in the video (A/53 in H.264/HEVC SEI or MPEG-2 user data), as FFmpeg's
   * decoder finds them in the first pictures; null (or absent, in probes stored before) when not looked for.
   */
  closedCaptions?: boolean | null;
}

export interface AudioStreamInfo {
  codec: string;
  /** e.g. AAC `LC` or `HE-AAC`; optional like VideoStreamInfo.level. */
  profile?: string | null;
  bitrate: number | null;
  sampleRate: number;
  channels: number;
  durationSec: number | null;
  language: string | null;
}

export interface MediaProbe {
  formatName: string;
  /** 0 when the file does not tell. */
  durationSec: number;
  bitrate: number | null;
  sizeBytes: number;
  video: VideoStreamInfo | null;
  audio: AudioStreamInfo[];
  /** The parsed ffprobe JSON, for extended media info. */
  raw: FfprobeJson;
}

/** The part of ffprobe's JSON we read; everything else is kept in `raw` untyped. */
export interface FfprobeJson {
  format?: Record<string, unknown> & { tags?: Record<string, string> };
  streams?: Array<Record<string, unknown> & { tags?: Record<string, string> }>;
}
