/**
 * Split-and-stitch: which formats may be cut into chunks, and where the cuts go.
 *
 * A chunk is the source from one keyframe up to (not including) a later keyframe, encoded alone,
 * video only; the audio is encoded once, whole; the pieces are joined without re-encoding.
 * Only a plain single-file video qualifies, where cutting the picture cannot change the result
 * beyond the encoder's own choices: a splittable output (outputs.ts) from one source, one pass, no trim, no
 * logo/overlay/text/fade (fades and overlays are timed on the whole output), the source's own
 * frame rate (a rate change per chunk could drop or repeat a frame at each seam), no rotation
 * metadata to write, no copied audio or file tags, and no smart pass-through that would remux it. Everything else
 * keeps the normal path.
 */
import { hasEditing, type OutputSpec, type VideoSpec } from '../../domain/format.ts';
import type { MediaProbe } from '../ffmpeg/probe.ts';
import { rotationToWrite } from '../plan/edits.ts';
import { passthroughDecision } from '../plan/passthrough.ts';
import type { FieldMap } from '../../domain/fields.ts';
import type { FrameTimes } from './keyframes.ts';
import { OUTPUTS, SPLITTABLE_OUTPUTS } from '../../domain/outputs.ts';


export interface SplitSettings {
  /** Sources at least this long are split without being asked; 0 = only when asked. */
  aboveSeconds: number;
  chunkSeconds: number;
}

/** `multijob_workflow=yes` among the media's top-level options. */
export function splitAsked(options: FieldMap): boolean {
  const v = options['multijob_workflow'];
  return typeof v === 'string' && ['yes', 'true', '1'].includes(v.trim().toLowerCase());
}

/** Why a format cannot be split (null: it can). */
export function whyNotSplit(spec: OutputSpec, probes: MediaProbe[]): string | null {
  if (spec.kind !== 'video' || !OUTPUTS[spec.output].splittable) return `output ${spec.output} is not one of ${SPLITTABLE_OUTPUTS.join(', ')}`;
  if (probes.length !== 1) return 'several sources are joined';
  const probe = probes[0]!;
  if (!probe.video) return 'the source has no video';
  if (spec.twoPass) return 'it is a two-pass encode';
  if (spec.start || spec.duration !== null || spec.finish) return 'it is trimmed (start/duration/finish)';
  if (hasEditing(spec.editing)) return 'it has a logo, overlay, text, fade or burned-in captions';
  if (spec.captions.length > 0) return 'it carries caption tracks, which are added to the whole file';
  if (spec.burninTimecode) return 'it burns in a timecode, which each chunk would count from its own start';
  if (spec.noiseReduction && spec.noiseReduction.lumaTemporal > 0) return 'its noise_reduction works across frames, which a chunk seam would cut';
  if (spec.constantBitrate) return `${spec.constantBitrate === 'hard' ? 'hard_cbr' : 'cbr'} holds a buffer model that runs through the whole stream`;
  if (typeof spec.framerate === 'number' && Math.abs(spec.framerate - probe.video.fps) > 0.001) return 'it changes the frame rate';
  if (rotationToWrite(spec, probe) !== 0) return 'it writes rotation metadata';
  if (spec.audioCodec === 'copy') return 'its audio is copied';
  if (spec.audioStreams.length > 0 || spec.downmix !== 'default') return 'it picks audio tracks (audio_stream) or a downmix_mode';
  if (spec.copyMetadata) return 'it copies the source\'s tags';
  const pass = passthroughDecision(spec, probes);
  if (pass.ok || (!pass.ok && pass.needsPackets === true)) return 'the source may be passed through without an encode (smart_passthrough)';
  return null;
}

/** Whether this media's video formats should be split at all. */
export function wantsSplit(options: FieldMap, probes: MediaProbe[], settings: SplitSettings): boolean {
  if (splitAsked(options)) return true;
  const length = probes[0]?.video?.durationSec ?? probes[0]?.durationSec ?? 0;
  return settings.aboveSeconds > 0 && probes.length === 1 && length > settings.aboveSeconds;
}

export interface Chunk {
  index: number;
  /** Presentation time of the chunk's first frame (a keyframe). */
  startSec: number;
  /** Half a frame past the chunk's last frame, so an output `-t` keeps exactly its frames; null for the last chunk (to the end). */
  lengthSec: number | null;
  /** Frames in the chunk. */
  frames: number;
}

/**
 * Cuts at the keyframe nearest each multiple of `chunkSeconds` (never two cuts at one keyframe);
 * a trailing piece shorter than half a chunk is merged into the one before.
 */
export function chooseChunks(frames: FrameTimes, chunkSeconds: number): Chunk[] {
  const { pts, keyframes } = frames;
  if (pts.length === 0) return [];
  const t0 = pts[0]!;
  const end = pts.at(-1)!;
  const starts: number[] = [0];
  const candidates = keyframes.filter((i) => i > 0);
  for (let target = t0 + chunkSeconds; target < end - chunkSeconds / 2; target += chunkSeconds) {
    let best = -1;
    for (const k of candidates) {
      if (k <= starts.at(-1)!) continue;
      if (best < 0 || Math.abs(pts[k]! - target) < Math.abs(pts[best]! - target)) best = k;
    }
    if (best < 0) break;
    if (pts[best]! - pts[starts.at(-1)!]! < chunkSeconds / 2) continue;
    if (end - pts[best]! < chunkSeconds / 2) break;
    starts.push(best);
  }
  return starts.map((first, index) => {
    const next = starts[index + 1] ?? pts.length;
    const last = next - 1;
    const lengthSec = next < pts.length ? (pts[last]! + pts[next]!) / 2 - pts[first]! : null;
    return { index, startSec: pts[first]!, lengthSec, frames: next - first };
  });
}

/**
 * The format as one chunk encodes it: the chunk's own part of the source. The seek lands a
 * microsecond before the keyframe, since ffprobe prints times rounded to the microsecond and a
 * seek just past a frame would drop it. FFmpeg's `-ss` counts from the file's start time
 * (`originSec`; 1.4 s in a typical MPEG-TS), while packet times are absolute.
 */
export function chunkSpec(spec: VideoSpec, chunk: Chunk, originSec = 0): VideoSpec {
  const seek = Math.max(0, Math.floor((chunk.startSec - originSec) * 1e6 - 1) / 1e6);
  return {
    ...spec,
    start: seek > 0 ? { seconds: seek, timecode: null } : null,
    duration: chunk.lengthSec,
    finish: null,
  };
}
