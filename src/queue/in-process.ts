import type { AbortReason, MediaProcessor, MediaQueue } from './types.ts';

interface Running {
  controller: AbortController;
  done: Promise<void>;
}

interface Waiting {
  mediaId: number;
  /** Our scale: 50 runs first, -50 last. */
  priority: number;
}

/**
 * The embedded queue: media ids worked by `concurrency` in-process workers, the highest
 * `priority` first and, within one priority, in the order they were queued.
 */
export class InProcessQueue implements MediaQueue {
  /** Kept sorted, the next media to run at the front; a newcomer goes behind its equals (FIFO). */
  readonly #waiting: Waiting[] = [];
  readonly #running = new Map<number, Running>();
  #closed = false;

  constructor(
    private readonly process: MediaProcessor,
    private readonly concurrency: number,
    private readonly onError: (mediaId: number, err: unknown) => void,
    /** The media's priority, read when it is queued; a media that is gone is not queued. */
    private readonly priorityOf: (mediaId: number) => Promise<number | null>,
  ) {}

  get waiting(): number {
    return this.#waiting.length;
  }

  get running(): number {
    return this.#running.size;
  }

  async enqueue(mediaId: number): Promise<void> {
    if (this.#closed || this.#isWaiting(mediaId)) return;
    const priority = await this.priorityOf(mediaId);
    // Checked again: the same media may have been queued while its priority was read.
    if (priority === null || this.#closed || this.#isWaiting(mediaId)) return;
    const entry = { mediaId, priority };
    const at = this.#waiting.findIndex((w) => w.priority < priority);
    this.#waiting.splice(at < 0 ? this.#waiting.length : at, 0, entry);
    this.#pump();
  }

  #isWaiting(mediaId: number): boolean {
    return this.#waiting.some((w) => w.mediaId === mediaId);
  }

  async abort(mediaId: number, reason: AbortReason): Promise<void> {
    const i = this.#waiting.findIndex((w) => w.mediaId === mediaId);
    if (i >= 0) this.#waiting.splice(i, 1);
    const running = this.#running.get(mediaId);
    if (!running) return;
    running.controller.abort(reason);
    await running.done;
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#waiting.length = 0;
    await Promise.all([...this.#running.keys()].map((id) => this.abort(id, 'shutdown')));
  }

  #pump(): void {
    while (!this.#closed && this.#running.size < this.concurrency && this.#waiting.length > 0) {
      const { mediaId } = this.#waiting.shift()!;
      if (this.#running.has(mediaId)) {
        // Re-queued while running (a restart raced the worker): run it again afterwards.
        void this.#running.get(mediaId)!.done.then(() => void this.enqueue(mediaId));
        continue;
      }
      const controller = new AbortController();
      const done = this.process(mediaId, controller.signal)
        .catch((err) => this.onError(mediaId, err))
        .finally(() => {
          this.#running.delete(mediaId);
          this.#pump();
        });
      this.#running.set(mediaId, { controller, done });
    }
  }
}
