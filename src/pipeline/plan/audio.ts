/** mp3, m4a, ogg, wav and flac: the audio of the source(s) only. */
import { join } from 'node:path';
import type { AudioSpec } from '../../domain/format.ts';
import { ffmpegUrl } from '../ffmpeg/args.ts';
import {
  audioBranch, audioEncodeOptions, audioTarget, singleOutput, trimmedDuration, volumeFilters,
  type GroupContext, type OutputPart, type PlanOut,
} from './common.ts';
import { checkAudioCopy, containerOptions } from './codecs.ts';
import { concatSources, through } from './graph.ts';
import { tagOptions } from './edits.ts';
import { pickTracks, trackTagOptions } from './audio-tracks.ts';

export function audioPart(spec: AudioSpec, ctx: GroupContext, out: PlanOut): OutputPart {
  const { input, graph } = ctx;
  const track = pickTracks(spec, input)[0];
  if (!track) {
    const what = ctx.joined ? 'None of the sources has an' : 'The source has no';
    throw new Error(`${what} audio stream, so an ${spec.output} cannot be made.`);
  }

  // Silence stands in for a source without audio, for as long as the file runs.
  const total = input.probes.reduce((sum, p) => sum + p.durationSec, 0);
  const outputPath = join(out.dir, `${out.baseName}.${spec.output}`);
  let maps: string[];
  if (spec.audioCodec === 'copy') {
    if (ctx.joined) throw new Error('audio_codec copy cannot be used when several sources are joined; choose an audio_codec to re-encode.');
    if (!input.probes[0]?.audio[0]) throw new Error(`The source has no audio stream, so an ${spec.output} cannot be made.`);
    checkAudioCopy(spec.output, track.stream.codec);
    maps = [`0:a:${track.perSource[0]}`];
  } else {
    const joined = concatSources(graph, input.paths.map((_, i) => ({ video: [], audio: [audioBranch(graph, spec, i, track)] })));
    maps = [`[${through(graph, joined.audio[0]!, volumeFilters(spec), 'vol')}]`];
  }

  return {
    outputs: [{
      url: ffmpegUrl(outputPath),
      maps,
      options: [...audioEncodeOptions(spec, audioTarget(spec, track.stream)), ...trackTagOptions([track]), '-vn', ...ctx.trimmed.output, ...tagOptions(spec), ...containerOptions(spec.output)],
    }],
    durationSec: trimmedDuration(total, ctx.trim),
    listOutputs: singleOutput(outputPath),
  };
}
