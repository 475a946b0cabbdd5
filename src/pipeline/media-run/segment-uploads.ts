/**
 * HLS segments uploaded while FFmpeg still writes the rest (uploads while encoding, issue 15 §1).
 * FFmpeg's hls muxer writes each variant's segments one after another into the variant's folder
 * (`seg_00001.ts`, `seg_00002.ts`…) and closes one before it opens the next, so every segment
 * but the newest in a folder is final; once FFmpeg has ended well, the newest are final too.
 * Those go to each destination at the place the delivery phase would send them
 * (destinationForLayout), several at once, so a destination that accepts about as fast as the
 * encode writes is never left idle while segments wait; the delivery phase then skips them
 * (deliver.ts) and sends the playlists and the master last, as always. An upload that fails here
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

/** How often the folders are looked at for newly closed segments (a readdir per variant). */
const POLL_MS = 100;
/** Segment uploads at once, over all destinations, as the delivery phase sends a layout's files. */
export const SEGMENT_UPLOAD_CONCURRENCY = 4;
const SEGMENT = /^seg_(\d+)\.(?:ts|m4s)$/;

interface Target {
  taskId: number;
  dir: string;
  destinations: repo.DestinationRow[];
}

export class SegmentUploads {
  #encoding = true;
  #failedDestinations = new Set<number>();
  /** Segments found and queued, by path: each is sent once. */
  readonly #seen = new Set<string>();
  readonly #queue: { target: Target; file: string }[] = [];
  #senders = 0;
  #idle: (() => void) | null = null;
  /** Ends the watch loop's wait between two looks at once: the encode has ended. */
  #stopWaiting: () => void = () => {};
  /** What this encode sent, forgotten if it fails (a new encode writes new segments under the same names). */
  #sent: string[] = [];
  readonly #loop: Promise<void>;

  private constructor(
    private readonly run: MediaRunContext,
    private readonly targets: Target[],
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

  /**
   * The encode ended well: every segment left (the newest of each folder too, final now) is
   * sent; settles when all are. Meant to run while the post-encode steps do, and to be awaited
   * before the tasks' own delivery (MediaRunContext.segmentDrains).
   */
  async drain(): Promise<void> {
    await this.#stopWatching();
    for (const target of this.targets) for (const file of await segmentsIn(target.dir, { newest: true })) this.#enqueue(target, file);
    // How far the destinations lag behind the encode: each queued segment, and the one each sender is on.
    this.run.timings.markCount('segments unsent at encode end', this.#queue.length + this.#senders);
    await this.#settled();
  }

  /** The encode failed: the uploads under way finish, the rest are dropped, and what was sent is forgotten. */
  async abandon(): Promise<void> {
    await this.#stopWatching();
    this.#queue.length = 0;
    await this.#settled();
    for (const key of this.#sent) this.run.sentEarly.delete(key);
  }

  /** The encode has ended: the watch loop stops at once, without waiting out its pause. */
  async #stopWatching(): Promise<void> {
    this.#encoding = false;
    this.#stopWaiting();
    await this.#loop;
  }

  async #watch(): Promise<void> {
    while (this.#encoding && !this.run.signal.aborted) {
      for (const target of this.targets) for (const file of await segmentsIn(target.dir, { newest: false })) this.#enqueue(target, file);
      await new Promise<void>((resolve) => {
        // Stopped during the look just taken: no wait.
        if (!this.#encoding) return resolve();
        const timer = setTimeout(resolve, POLL_MS);
        this.#stopWaiting = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }

  #enqueue(target: Target, file: string): void {
    if (this.#seen.has(file)) return;
    this.#seen.add(file);
    this.#queue.push({ target, file });
    while (this.#senders < SEGMENT_UPLOAD_CONCURRENCY && this.#queue.length > 0) {
      this.#senders++;
      void this.#sender();
    }
  }

  async #sender(): Promise<void> {
    try {
      for (let next = this.#queue.shift(); next; next = this.#queue.shift()) await this.#send(next.target, next.file);
    } catch (err) {
      // #send handles a failed upload itself; anything else drops the rest to the delivery phase.
      this.run.log.debug({ err }, 'uploading segments while encoding stopped; left to the delivery phase');
      this.#queue.length = 0;
    } finally {
      this.#senders--;
      if (this.#senders === 0) this.#idle?.();
    }
  }

  #settled(): Promise<void> {
    if (this.#senders === 0) return Promise.resolve();
    return new Promise((resolve) => {
      this.#idle = () => {
        this.#idle = null;
        resolve();
      };
    });
  }

  async #send(target: Target, file: string): Promise<void> {
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
      this.run.timings.markEach('segment sent while encoding');
      const key = sentEarlyKey(dest.id, url);
      this.run.sentEarly.set(key, size);
      this.#sent.push(key);
    }
  }
}

/** The segments in the folder's variant folders, in order; all but the newest of each folder unless `newest` (FFmpeg has ended). */
async function segmentsIn(dir: string, { newest }: { newest: boolean }): Promise<string[]> {
  const found: string[] = [];
  const folders = [dir, ...(await fs.readdir(dir, { withFileTypes: true }).catch(() => [])).filter((e) => e.isDirectory()).map((e) => path.join(dir, e.name))];
  for (const folder of folders) {
    const numbered = (await fs.readdir(folder).catch(() => [] as string[]))
      .map((name) => ({ name, n: Number(SEGMENT.exec(name)?.[1] ?? NaN) }))
      .filter((s) => !Number.isNaN(s.n))
      .sort((a, b) => a.n - b.n);
    for (const s of newest ? numbered : numbered.slice(0, -1)) found.push(path.join(folder, s.name));
  }
  return found;
}
