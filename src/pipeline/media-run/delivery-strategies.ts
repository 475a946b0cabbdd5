import path from 'node:path';
import type * as repo from '../../store/repo.ts';
import { destinationFor, destinationForLayout, keepsLayout, layoutMain, sidecarDestinations } from '../../domain/destinations.ts';
import { sidecarTail } from '../../domain/captions.ts';
import { mediaDirs } from '../../domain/layout.ts';
import { mapLimit } from '../../map-limit.ts';
import { storyboardOf, storyboardSends } from '../storyboard-delivery.ts';
import type { StoryboardSpec } from '../../domain/format.ts';

/** Files of one multi-file output (HLS segments) sent at once to one destination. */
const LAYOUT_FILE_CONCURRENCY = 4;

/** Sends one of a task's files (its index among them) to one URL. */
export type SendFile = (file: string, index: number, url: string) => Promise<void>;

export interface OutputDelivery {
  dataDir: string;
  mediaId: number;
  task: repo.TaskRow;
  dest: repo.DestinationRow;
  /** Every destination of the task (a storyboard's VTT names the sheets as its own destination will). */
  taskDestinations: repo.DestinationRow[];
  files: string[];
  send: SendFile;
}

/**
 * How a task's output goes to a destination, as its kind needs: a multi-file layout (HLS, DASH)
 * keeps its folders, master playlist last; a storyboard's sheets and VTT are named for the
 * destination; any other output's files go one after another.
 */
export function deliveryOf(task: repo.TaskRow): (d: OutputDelivery) => Promise<void> {
  return withSidecars(outputDeliveryOf(task));
}

function outputDeliveryOf(task: repo.TaskRow): (d: OutputDelivery) => Promise<void> {
  if (keepsLayout(task.output)) return deliverLayout;
  const board = storyboardOf(task.output, task.format);
  if (board) return (d) => deliverStoryboard(d, board);
  return deliverFiles;
}

/** The task's files but its caption sidecars, which go beside its main file (sidecarDestinations). */
export function withoutSidecars(files: string[]): string[] {
  return files.filter((f) => sidecarTail(path.basename(f)) === null);
}

/** A delivery that sends the output as `deliver` does, then its caption sidecars beside its main file. */
function withSidecars(deliver: (d: OutputDelivery) => Promise<void>): (d: OutputDelivery) => Promise<void> {
  return async (d) => {
    const taskDir = mediaDirs(d.dataDir, d.mediaId).task(d.task.id);
    const relative = d.files.map((f) => path.relative(taskDir, f).split(path.sep).join('/'));
    const sidecars = sidecarDestinations(d.task.output, relative, d.dest.url);
    if (sidecars.length === 0) return deliver(d);
    const outputs = d.files.filter((_, i) => !sidecars.some((s) => s.index === i));
    // Each file keeps its index among all the task's files, which progress counts by.
    await deliver({ ...d, files: outputs, send: (file, _i, url) => d.send(file, d.files.indexOf(file), url) });
    for (const s of sidecars) await d.send(d.files[s.index]!, s.index, s.url);
  };
}

async function deliverLayout({ dataDir, mediaId, task, dest, files, send }: OutputDelivery): Promise<void> {
  // Master playlist last: whoever reads it finds every variant and segment in place.
  const taskDir = mediaDirs(dataDir, mediaId).task(task.id);
  const relative = files.map((f) => path.relative(taskDir, f).split(path.sep).join('/'));
  const m = layoutMain(task.output, relative, dest.url);
  const urlOf = (i: number): string => destinationForLayout(dest.url, relative[i]!, relative[m]!);
  await mapLimit(files.map((f, i) => i).filter((i) => i !== m), LAYOUT_FILE_CONCURRENCY, (i) => send(files[i]!, i, urlOf(i)));
  await send(files[m]!, m, urlOf(m));
}

async function deliverStoryboard({ dest, taskDestinations, files, send }: OutputDelivery, board: StoryboardSpec): Promise<void> {
  // Sprite sheets and their VTT (use_vtt): the VTT names the sheets as this destination will.
  const sends = await storyboardSends(board, taskDestinations.map((d) => d.url), taskDestinations.findIndex((d) => d.id === dest.id), files);
  for (const [i, [file, url]] of sends.entries()) await send(file, i, url);
}

async function deliverFiles({ dest, files, send }: OutputDelivery): Promise<void> {
  for (const [i, file] of files.entries()) await send(file, i, destinationFor(dest.url, file, i, files.length));
}
