/**
 * One `<format>` element turned into a typed output specification (reference 4.1-4.5, 4.8, 4.10).
 *
 * Pure: no I/O and no knowledge of the source. Anything that depends on the source (the sample
 * rate to keep, the frame rate behind a timecode, the size when none is asked) stays `null` here
 * and is decided by the planner, which has the probe.
 */
import type { FieldMap } from './fields.ts';
import { Fields, FormatProblem, type ReadOptions } from './format/fields.ts';
import { readAudio, readTrim, readVideo, type AudioSpec, type VideoSpec } from './format/video.ts';
import { readHls, readLegacyHls, type HlsSpec } from './format/hls.ts';
import { readContainerEdits } from './format/container.ts';
import { DASH_OUTPUTS, readDash, type DashSpec } from './format/dash.ts';
import { refuseDrm } from './drm.ts';
import { refuseEditing } from './format/editing.ts';
import { readGif, readImage, readThumbnail, type GifSpec, type ImageSpec, type ThumbnailSpec } from './format/still.ts';

export type { Size, Crop, TimeValue, ReadOptions } from './format/fields.ts';
export { withoutEmptyBlocks } from './format/fields.ts';
export * from './format/encoder-fields.ts';
export * from './format/video.ts';
export * from './format/hls.ts';
export * from './format/dash.ts';
export * from './format/still.ts';
export * from './format/container.ts';
export * from './format/editing.ts';

export const SUPPORTED_OUTPUTS = [
  'mp4', 'webm', 'mov', 'mkv', 'mpegts', 'mp3', 'm4a', 'ogg', 'wav', 'flac', 'thumbnail', 'image', 'gif', 'advanced_hls',
  'iphone_stream', 'ipad_stream', 'roku_hls', 'mpeg_dash', 'advanced_dash', 'fmp4_hls', 'advanced_fmp4',
] as const;
export type OutputName = (typeof SUPPORTED_OUTPUTS)[number];

export type OutputSpec = VideoSpec | AudioSpec | ThumbnailSpec | HlsSpec | GifSpec | ImageSpec | DashSpec;

/** `notes`: values adjusted rather than refused (an odd size rounded), for the task log. */
export type ParseFormatResult = { ok: true; spec: OutputSpec; notes: readonly string[] } | { ok: false; error: string };

export function parseFormat(raw: FieldMap, options: ReadOptions = {}): ParseFormatResult {
  try {
    const fields = new Fields(raw, options);
    const spec = readSpec(fields);
    return { ok: true, spec, notes: fields.notes };
  } catch (err) {
    if (err instanceof FormatProblem) return { ok: false, error: err.message };
    throw err;
  }
}

function readSpec(f: Fields): OutputSpec {
  const outputRaw = f.str('output');
  if (outputRaw === null) throw new FormatProblem('Output format is not indicated!');
  const output = SUPPORTED_OUTPUTS.find((o) => o === outputRaw.toLowerCase());
  if (!output) {
    throw new FormatProblem(`Unknown output "${outputRaw}". Supported: ${SUPPORTED_OUTPUTS.join(', ')}`);
  }
  // The reference names image as the output a logo is not for; other outputs ignore fields they do not use.
  if (output === 'image') refuseEditing(f, output);
  if (!(DASH_OUTPUTS as readonly string[]).includes(output)) refuseDrm(f, output);
  switch (output) {
    case 'mp4':
    case 'webm':
    case 'mov':
    case 'mkv':
    case 'mpegts':
      return readVideo(f, output);
    case 'mp3':
    case 'm4a':
    case 'ogg':
    case 'wav':
    case 'flac':
      return { kind: 'audio', output, ...readAudio(f, output), ...readTrim(f), ...readContainerEdits(f, output) };
    case 'thumbnail':
      return readThumbnail(f);
    case 'gif':
      return readGif(f);
    case 'image':
      return readImage(f);
    case 'advanced_hls':
      return readHls(f);
    case 'mpeg_dash':
    case 'advanced_dash':
    case 'fmp4_hls':
    case 'advanced_fmp4':
      return readDash(f, output);
    case 'iphone_stream':
    case 'ipad_stream':
    case 'roku_hls':
      return readLegacyHls(f, output);
    default: {
      const never: never = output;
      throw new Error(`unhandled output ${String(never)}`);
    }
  }
}
