/**
 * HLS segments uploaded while FFmpeg still writes the rest (uploads while encoding, issue 15 §1).
 * FFmpeg's hls muxer writes each variant's segments one after another into the variant's folder
 * (`seg_00001.ts`, `seg_00002.ts`…) and closes one before it opens the next, so every segment
 * but the newest in a folder is final. Those go to each destination at the place the delivery
 * phase would send them (destinationForLayout); that phase then skips them (deliver.ts) and sends
 * the newest segments, the playlists and the master last, as always. An upload that fails here
 * is only retried there, where a destination's failure is handled as it always is.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import * as repo from '../../store/repo.ts';
import { DestinationStatus } from '../../domain/status.ts';
import { destinationForLayout } from '../../domain/destinations.ts';
import { mediaDirs } from '../../domain/layout.ts';
import { upload } from '../../transfer/index.ts';
import { sentEarlyKey, type MediaRunContext } from './context.ts';

const POLL_MS = 250;
const SEGMENT = /^seg_(\d+)\.(?:ts|m4s)$/;

export class SegmentUploads {
  #stopped = false;
  #failedDestinations = new Set<number>();
  /** What this encode sent, forgotten if it fails (a new encode writes new segments under the same names). */
  #sent: string[] = [];
  readonly #loop: Promise<void>;

  private constructor(
    private readonly run: MediaRunContext,
    private readonly targets: { taskId: number; dir: string; destinations: repo.DestinationRow[] }[],
  ) {
    this.#loop = this.#watch();
  }

  /** Starts watching the tasks' folders; null when none of them has a destination to send to. */
  static async start(run: MediaRunContext, taskIds: number[]): Promise<SegmentUploads | null> {
    if (taskIds.length === 0) return null;
    const all = await repo.getDestinations(run.db, taskIds);
    const targets = taskIds
      .map((taskId) => ({ taskId, dir: mediaDirs(run.config.dataDir, run.mediaId).task(taskId), destinations: (all.get(taskId) ?? []).filter((d) => d.status !== DestinationStatus.Saved) }))
      .filter((t) => t.destinations.length > 0);
    return targets.length > 0 ? new SegmentUploads(run, targets) : null;
  }

  /** The encode ended: the uploads under way finish; when it failed, what was sent is forgotten. */
  async stop(encoded: boolean): Promise<void> {
    this.#stopped = true;
    await this.#loop;
    if (!encoded) for (const key of this.#sent) this.run.sentEarly.delete(key);
  }

  async #watch(): Promise<void> {
    const done = new Set<string>();
    while (!this.#stopped && !this.run.signal.aborted) {
      for (const target of this.targets) {
        for (const file of await closedSegments(target.dir)) {
          if (done.has(file)) continue;
          done.add(file);
          await this.#send(target, file);
        }
      }
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
  }

  async #send(target: { dir: string; destinations: repo.DestinationRow[] }, file: string): Promise<void> {
    const relative = path.relative(target.dir, file).split(path.sep).join('/');
    // Gone: the encode failed and its folder was emptied; nothing to send.
    const size = (await fs.stat(file).catch(() => null))?.size;
    if (size === undefined) return;
    for (const dest of target.destinations) {
      if (this.#failedDestinations.has(dest.id) || this.run.signal.aborted) continue;
      const url = destinationForLayout(dest.url, relative, '');
      try {
        await upload(file, url, { ...this.run.transfer, retryDelaysMs: [] });
      } catch (err) {
        // The delivery phase sends it again and handles the destination's failure as usual.
        this.#failedDestinations.add(dest.id);
        this.run.log.debug({ err, destination: dest.id }, 'uploading a segment while encoding failed; left to the delivery phase');
        continue;
      }
      const key = sentEarlyKey(dest.id, url);
      this.run.sentEarly.set(key, size);
      this.#sent.push(key);
    }
  }
}

/** Every segment in the folder's variant folders that FFmpeg has closed: all but the newest of each folder. */
async function closedSegments(dir: string): Promise<string[]> {
  const closed: string[] = [];
  const folders = [dir, ...(await fs.readdir(dir, { withFileTypes: true }).catch(() => [])).filter((e) => e.isDirectory()).map((e) => path.join(dir, e.name))];
  for (const folder of folders) {
    const numbered = (await fs.readdir(folder).catch(() => [] as string[]))
      .map((name) => ({ name, n: Number(SEGMENT.exec(name)?.[1] ?? NaN) }))
      .filter((s) => !Number.isNaN(s.n))
      .sort((a, b) => a.n - b.n);
    for (const s of numbered.slice(0, -1)) closed.push(path.join(folder, s.name));
  }
  return closed;
}
