/**
 * Instant mode (`instant`, reference 2.1; issue 15 §1): the encode starts while the source still
 * downloads. The guarded download writes the scratch file front to back (growing-source.ts) and
 * FFmpeg reads it through a pipe. Whatever would read the source otherwise (seeking, a second
 * pass, a step that scans the whole file first) waits for the whole file instead, and the task
 * log says why: "instant: off (…)".
 */
import * as repo from '../../store/repo.ts';
import type { Readable } from 'node:stream';
import type { FieldMap } from '../../domain/fields.ts';
import { captionsOf } from '../../domain/captions.ts';
import { editingOf } from '../../domain/format.ts';
import { instantAsked } from '../../domain/media-options.ts';
import { pipedSource } from '../ffmpeg/inputs.ts';
import { needsVideoPackets } from '../plan/passthrough.ts';
import { wantsSplit } from '../split/plan.ts';
import type { MediaTask, PlanInput } from '../plan/index.ts';
import type { MediaRunContext } from './context.ts';

/** Why this media's sources are fetched whole before anything reads them, or null when the first may be read as it downloads. */
export function whyNotInstant(benchmark: boolean, options: FieldMap, sources: number): string | null {
  if (!instantAsked(options)) return 'instant=no';
  if (benchmark) return 'a benchmark media is only probed';
  if (sources !== 1) return 'several sources are joined or shown together';
  return null;
}

/**
 * Before the encode phase reads the source for anything but its FFmpeg processes: the whole file
 * when one of those steps needs it (the task log says which).
 */
export async function wholeSourceFor(run: MediaRunContext, members: MediaTask[], fetched: PlanInput, options: FieldMap): Promise<void> {
  const source = run.instant;
  if (!source || source.complete) return;
  const settings = { aboveSeconds: run.config.splitAboveSeconds, chunkSeconds: run.config.splitChunkSeconds };
  const specs = members.map((m) => m.spec);
  const why = fetched.splitScreen ? 'the sources are shown side by side'
    : wantsSplit(options, fetched.probes, settings) ? 'split-and-stitch cuts the source at its keyframes'
    : specs.some((s) => 'autoCrop' in s && s.autoCrop) ? 'auto_crop looks at frames across the source'
    : specs.some(extractsCaptions) ? 'closed_captions extract reads the captions of the whole source'
    : needsVideoPackets(specs, fetched) ? 'smart passthrough checks every packet of the source against the maxrate'
    : null;
  if (why) await wholeFirst(run, members.map((m) => m.taskId), why);
}

function extractsCaptions(spec: object): boolean {
  return [...captionsOf(spec), ...(editingOf(spec)?.captions ?? [])].some((t) => t.source === null);
}

async function wholeFirst(run: MediaRunContext, taskIds: number[], why: string): Promise<void> {
  await repo.appendLog(run.db, taskIds, `instant: off (${why}); waiting for the whole source`);
  await run.instant!.whole;
}

/** How one FFmpeg process reads the source: its passes, what feeds its standard input, and what stops it. */
export interface SourceFeed {
  passes: string[][];
  stdin: (() => Readable) | null;
  signal: AbortSignal;
}

/**
 * The source through a pipe while it downloads, when this process reads it once front to back;
 * otherwise the whole file, once there. The signal also fires when the download fails, so
 * FFmpeg stops, and its end is the transfer's error (see {@link downloadFailure}).
 */
export async function sourceFeed(run: MediaRunContext, passes: string[][], taskIds: number[]): Promise<SourceFeed> {
  const source = run.instant;
  const plain = { passes, stdin: null, signal: run.signal };
  if (!source || source.complete) return plain;
  const piped = passes.length > 1 ? { why: 'a two-pass encode reads the source twice' } : pipedSource(passes[0]!, source.path);
  if ('why' in piped) {
    await wholeFirst(run, taskIds, piped.why);
    return plain;
  }
  await repo.appendLog(run.db, taskIds, 'instant: on (FFmpeg reads the source while it downloads)');
  return { passes: [piped.args], stdin: () => source.follow(), signal: AbortSignal.any([run.signal, source.failed]) };
}

/** The download's error when it failed under a running encode: that, not FFmpeg's end, is what the media failed of. */
export function downloadFailure(run: MediaRunContext): unknown {
  const failed = run.instant?.failed;
  return failed?.aborted ? failed.reason : null;
}
