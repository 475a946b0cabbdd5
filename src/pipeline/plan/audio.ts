/** mp3 and m4a: the audio of the source(s) only. */
import { join } from 'node:path';
import type { AudioSpec } from '../../domain/format.ts';
import { buildArgs, ffmpegUrl, filter, type FilterChain } from '../ffmpeg/args.ts';
import {
  audioEncodeOptions, audioSegments, inputsFor, relabel, resolveTrim, singleOutput, trimArgs, trimmedDuration, volumeFilters,
  type EncodePlan, type PlanInput, type PlanOut,
} from './common.ts';
import { checkAudioCopy, containerOptions } from './codecs.ts';

export function planAudio(spec: AudioSpec, input: PlanInput, out: PlanOut): EncodePlan {
  const count = input.paths.length;
  const joined = count > 1;
  const firstAudio = input.probes.find((p) => p.audio.length > 0)?.audio[0];
  if (!firstAudio) {
    const what = joined ? 'None of the sources has an' : 'The source has no';
    throw new Error(`${what} audio stream, so an ${spec.output} cannot be made.`);
  }

  // Silence stands in for a source without audio, for as long as the file runs.
  const total = input.probes.reduce((sum, p) => sum + p.durationSec, 0);
  const fps = input.probes[0]?.video?.fps ?? 0;
  const trim = resolveTrim(spec, fps, total);
  const trimmed = trimArgs(trim, joined);
  const outputPath = join(out.dir, `${out.baseName}.${spec.output}`);
  const common = ['-vn', ...trimmed.output, ...containerOptions(spec.output)];

  let maps: string[];
  let graph: FilterChain[] = [];
  if (spec.audioCodec === 'copy') {
    if (joined) throw new Error('audio_codec copy cannot be used when several sources are joined; choose an audio_codec to re-encode.');
    if (!input.probes[0]?.audio[0]) throw new Error(`The source has no audio stream, so an ${spec.output} cannot be made.`);
    checkAudioCopy(spec.output, firstAudio.codec);
    maps = ['0:a:0'];
  } else {
    const segments = audioSegments(spec, input) ?? [];
    const volume = volumeFilters(spec);
    const tail = joined
      ? [{ inputs: segments.map((_, i) => `a${i}`), filters: [filter('concat', { n: count, v: 0, a: 1 }), ...volume], outputs: ['a'] }]
      : [relabel('a0', 'a', volume, true)];
    graph = [...segments, ...tail];
    maps = ['[a]'];
  }

  const args = buildArgs({
    inputs: inputsFor(input.paths, trimmed.input),
    filterGraph: graph,
    outputs: [{ url: ffmpegUrl(outputPath), maps, options: [...audioEncodeOptions(spec), ...common] }],
  });
  return { passes: [args], durationSec: trimmedDuration(total, trim), listOutputs: singleOutput(outputPath) };
}
