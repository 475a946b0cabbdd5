import type { AbortReason, MediaProcessor, MediaQueue } from './types.ts';

interface Running {
  controller: AbortController;
  done: Promise<void>;
}

/** The embedded queue: a FIFO of media ids worked by `concurrency` in-process workers. */
export class InProcessQueue implements MediaQueue {
  readonly #waiting: number[] = [];
  readonly #running = new Map<number, Running>();
  #closed = false;

  constructor(
    private readonly process: MediaProcessor,
    private readonly concurrency: number,
    private readonly onError: (mediaId: number, err: unknown) => void,
  ) {}

  get waiting(): number {
    return this.#waiting.length;
  }

  get running(): number {
    return this.#running.size;
  }

  async enqueue(mediaId: number): Promise<void> {
    if (this.#closed || this.#waiting.includes(mediaId)) return;
    this.#waiting.push(mediaId);
    this.#pump();
  }

  async abort(mediaId: number, reason: AbortReason): Promise<void> {
    const i = this.#waiting.indexOf(mediaId);
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
      const mediaId = this.#waiting.shift()!;
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
