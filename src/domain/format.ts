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
import { readDash, type DashSpec } from './format/dash.ts';
import { OUTPUT_NAMES, OUTPUTS, isOutputName, type OutputKind, type OutputName, type OutputOfKind } from './outputs.ts';
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

/** Every output, from the output table (outputs.ts). */
export const SUPPORTED_OUTPUTS: readonly OutputName[] = OUTPUT_NAMES;
export type { OutputName } from './outputs.ts';

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

/** The reader of each kind of output, typed over every kind so a new kind needs its reader. */
const READERS: { [K in OutputKind]: (f: Fields, output: OutputOfKind<K>) => OutputSpec } = {
  video: readVideo,
  audio: (f, output) => ({ kind: 'audio', output, ...readAudio(f, output), ...readTrim(f), ...readContainerEdits(f, output) }),
  thumbnail: (f) => readThumbnail(f),
  gif: (f) => readGif(f),
  // The reference names image as the output a logo is not for; other outputs ignore fields they do not use.
  image: (f, output) => {
    refuseEditing(f, output);
    return readImage(f);
  },
  hls: (f) => readHls(f),
  legacy_hls: readLegacyHls,
  dash: readDash,
};

function readSpec(f: Fields): OutputSpec {
  const outputRaw = f.str('output');
  if (outputRaw === null) throw new FormatProblem('Output format is not indicated!');
  const output = outputRaw.toLowerCase();
  if (!isOutputName(output)) {
    throw new FormatProblem(`Unknown output "${outputRaw}". Supported: ${SUPPORTED_OUTPUTS.join(', ')}`);
  }
  const { kind } = OUTPUTS[output];
  // Common Encryption is made for DASH and CMAF segments only; elsewhere a DRM field is refused by name.
  if (kind !== 'dash') refuseDrm(f, output);
  // TypeScript cannot tie the reader's parameter to the row's kind; the table does.
  const read = READERS[kind] as (f: Fields, output: OutputName) => OutputSpec;
  return read(f, output);
}
