/**
 * A format's caption tracks in its FFmpeg process (the planner calls this on each output part):
 * - video files: each track's WebVTT (written by load.ts) is one more input, mapped into the file
 *   as mov_text, WebVTT, SRT or ASS with its language, title and default flag;
 * - HLS, DASH, CMAF: renditions written after the encode (renditions.ts), on the output's clock;
 * - sidecars (`extract srt|vtt|scc|dfxp`): files written beside the output after the encode.
 * - `copy`: libx264 passes the source's CEA-608/708 on from the decoded frames (its a53cc, on by
 *   default); `copy no` turns that off, `copy yes` refuses an encoder that cannot.
 * Burned captions are part of the format's editing (plan/editing.ts).
 */
import { writeFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { embeddedCaptionsOf, sidecarFileNames, SUBTITLE_CODECS_FOR } from '../../domain/captions.ts';
import { shiftCues, writeSrt, writeTtml, writeVtt } from '../../domain/caption-cues.ts';
import { toScc } from './cea608.ts';
import { DASH_MANIFEST, usesFmp4, type OutputSpec } from '../../domain/format.ts';
import type { FfmpegInput } from '../ffmpeg/args.ts';
import type { GroupContext, OutputPart } from '../plan/common.ts';
import { HLS_MASTER } from '../plan/hls-master.ts';
import type { LoadedCaption } from './load.ts';
import { addDashSubtitles, addHlsSubtitles, captionFolders, type OutputCaption } from './renditions.ts';

/**
 * `inputs` collects the extra inputs of the whole process; `firstInput` is the index the first of
 * them gets. `pass` 1 of a two-pass encode writes no file, so it carries no track.
 */
export function withCaptionTracks(
  part: OutputPart, spec: OutputSpec, captions: readonly LoadedCaption[] | undefined, ctx: GroupContext,
  inputs: { firstInput: number; list: FfmpegInput[] }, pass: number,
): OutputPart {
  if (pass === 1) return part;
  part = withEmbeddedCaptions(part, spec);
  part = withSidecars(part, captions ?? [], ctx);
  captions = captions?.filter((c) => c.track.sidecar === null);
  if (!captions || captions.length === 0) return part;
  switch (spec.kind) {
    case 'video': {
      const output = part.outputs[0];
      if (!output || part.outputs.length !== 1) throw new Error('internal: a video part has one output');
      const allowed = SUBTITLE_CODECS_FOR[spec.container] ?? [];
      const maps: string[] = [];
      const options: string[] = [];
      for (const [k, c] of captions.entries()) {
        const codec = c.track.codec ?? allowed[0];
        if (!codec) throw new Error(`${spec.container} cannot carry text subtitles; burn them in (burn yes).`);
        inputs.list.push({ path: trimmedVtt(c, ctx), role: 'captionText' });
        maps.push(`${inputs.firstInput + inputs.list.length - 1}:s:0`);
        options.push(
          `-c:s:${k}`, codec, `-metadata:s:s:${k}`, `language=${c.track.containerLanguage}`,
          // MP4 names a track by its handler, Matroska and WebM by its title.
          ...(c.track.label ? [`-metadata:s:s:${k}`, `${codec === 'mov_text' ? 'handler_name' : 'title'}=${c.track.label}`] : []),
          `-disposition:s:${k}`, c.track.isDefault ? 'default' : '0',
        );
      }
      return { ...part, outputs: [{ ...output, maps: [...(output.maps ?? []), ...maps], options: [...(output.options ?? []), ...options] }] };
    }
    case 'hls':
    case 'dash': {
      const taken = spec.streams.map((s) => s.subPath);
      const folders = captionFolders(captions, taken);
      const length = part.durationSec;
      // The output starts at the trim's start: cues move with it.
      const tracks: OutputCaption[] = captions.map((c, k) => ({ caption: c, cues: shiftCues(c.cues, -ctx.trim.start, length), folder: folders[k]! }));
      const segmentSeconds = spec.segmentDuration;
      return {
        ...part,
        listOutputs: async () => {
          const files = await part.listOutputs();
          const main = files.at(-1)!;
          const dir = path.dirname(main);
          if (spec.kind === 'hls') {
            const added = await addHlsSubtitles(dir, HLS_MASTER, tracks, { segmentSeconds, totalSeconds: length, fmp4: usesFmp4(spec) });
            return [...files.slice(0, -1), ...added, main];
          }
          // The manifests stay last: the MPD, and for CMAF the HLS master after it.
          const mpdAt = files.findIndex((f) => path.basename(f) === DASH_MANIFEST);
          const added = await addDashSubtitles(dir, DASH_MANIFEST, tracks);
          if (spec.hls) added.push(...(await addHlsSubtitles(dir, HLS_MASTER, tracks, { segmentSeconds, totalSeconds: length, fmp4: true })));
          return [...files.slice(0, mpdAt), ...added, ...files.slice(mpdAt)];
        },
      };
    }
    case 'audio':
    case 'thumbnail':
    case 'gif':
    case 'image':
      return part;
    default: {
      const never: never = spec;
      throw new Error(`unhandled output kind ${JSON.stringify(never)}`);
    }
  }
}

/**
 * The format's sidecar files (`extract srt|vtt|scc|dfxp`), written beside its main file once FFmpeg
 * is done and listed before its files (whose main file stays last), on the output's clock: moved
 * to its start and cut at its length, like its tracks.
 */
function withSidecars(part: OutputPart, captions: readonly LoadedCaption[], ctx: GroupContext): OutputPart {
  const names = sidecarFileNames(captions.map((c) => c.track));
  if (names.every((n) => n === null)) return part;
  const { start, length } = ctx.trim;
  return {
    ...part,
    listOutputs: async () => {
      const files = await part.listOutputs();
      const dir = path.dirname(files.at(-1)!);
      const written: string[] = [];
      for (const [k, c] of captions.entries()) {
        const name = names[k];
        if (!name) continue;
        const cues = shiftCues(c.cues, -start, length);
        const text = c.track.sidecar === 'srt' ? writeSrt(cues)
          : c.track.sidecar === 'dfxp' ? writeTtml(cues, c.track.language)
          : c.track.sidecar === 'scc' ? sccOf(c, start, length)
          : writeVtt(cues);
        const file = path.join(dir, name);
        await writeFile(file, text);
        written.push(file);
      }
      return [...written, ...files];
    },
  };
}

/** An SCC sidecar: the source's own CEA-608 pairs, moved like the cues (readCaptions refuses scc from a caption file). */
function sccOf(c: LoadedCaption, start: number, length: number | null): string {
  if (!c.cea608) throw new Error('internal: an SCC sidecar without the source\'s CEA-608 captions');
  return toScc(c.cea608, c.track.timeOffset - start, length);
}

/** closed_captions `copy` as the video encoders' a53cc option (their output streams in order). */
function withEmbeddedCaptions(part: OutputPart, spec: OutputSpec): OutputPart {
  const asked = embeddedCaptionsOf(spec);
  if (asked === null) return part;
  const codecs = spec.kind === 'video' ? [spec.videoCodec] : spec.kind === 'hls' || spec.kind === 'dash' ? spec.streams.filter((s) => !s.audioOnly).map((s) => s.videoCodec) : [];
  if (asked === 'keep') {
    const other = codecs.find((c) => c !== 'libx264');
    if (other) throw new Error(`closed_captions copy keeps CEA-608/708 captions in H.264 (libx264) video only, not in ${other}; use libx264, or extract them into a track (extract yes).`);
    return part;
  }
  const options = codecs.flatMap((c, k) => (c === 'libx264' ? [`-a53cc:v:${k}`, '0'] : []));
  const [first, ...rest] = part.outputs;
  if (!first || options.length === 0) return part;
  return { ...part, outputs: [{ ...first, options: [...(first.options ?? []), ...options] }, ...rest] };
}

/**
 * The track's WebVTT for this output. One source is trimmed by seeking its input, which a subtitle
 * input does not follow: the cues of the output's part are written, moved to its start (like
 * hls.ts's key, written at planning, which comes again before every run). Joined sources are
 * trimmed on the output, which cuts every input alike.
 */
function trimmedVtt(c: LoadedCaption, ctx: GroupContext): string {
  if (ctx.joined || (ctx.trim.start === 0 && ctx.trim.length === null)) return c.vttPath;
  const file = `${c.vttPath.replace(/\.vtt$/, '')}-from-${ctx.trim.start}.vtt`;
  writeFileSync(file, writeVtt(shiftCues(c.cues, -ctx.trim.start, ctx.trim.length)));
  return file;
}
