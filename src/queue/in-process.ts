import { RetryLater, resumeNoteOf, retryDelayMs, type AbortReason, type MediaProcessor, type MediaQueue } from './types.ts';

interface Running {
  controller: AbortController;
  done: Promise<void>;
}

interface Waiting {
  mediaId: number;
  /** Our scale: 50 runs first, -50 last. */
  priority: number;
  /** Runs in a row that hit an infrastructure fault (RetryLater), and the last one's reason. */
  retry?: { failures: number; reason: string };
}

/**
 * The embedded queue: media ids worked by `concurrency` in-process workers, the highest
 * `priority` first and, within one priority, in the order they were queued.
 */
export class InProcessQueue implements MediaQueue {
  /** Kept sorted, the next media to run at the front; a newcomer goes behind its equals (FIFO). */
  readonly #waiting: Waiting[] = [];
  readonly #running = new Map<number, Running>();
  /** Media waiting out the delay after an infrastructure fault, before they queue again. */
  readonly #delayed = new Map<number, NodeJS.Timeout>();
  /**
   * Runs in a row that hit an infrastructure fault, and until when no media starts because of
   * them: while the store is down the next media would only fail too.
   */
  #faults = 0;
  #holdUntil = 0;
  #holdTimer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(
    private readonly process: MediaProcessor,
    private readonly concurrency: number,
    private readonly onError: (mediaId: number, err: unknown) => void,
    /** The media's priority, read when it is queued; a media that is gone is not queued. */
    private readonly priorityOf: (mediaId: number) => Promise<number | null>,
    /** A run hit an infrastructure fault: the media queues again after `delayMs`. */
    private readonly onRetryLater: (mediaId: number, failures: number, delayMs: number, reason: string) => void = () => {},
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
    this.#insert({ mediaId, priority });
  }

  #insert(entry: Waiting): void {
    const at = this.#waiting.findIndex((w) => w.priority < entry.priority);
    this.#waiting.splice(at < 0 ? this.#waiting.length : at, 0, entry);
    this.#pump();
  }

  /** Queues the media again after a growing delay, at the priority it had (its store may still be down). */
  #retryLater(entry: Waiting, reason: string): void {
    const failures = (entry.retry?.failures ?? 0) + 1;
    const delayMs = retryDelayMs(failures);
    this.onRetryLater(entry.mediaId, failures, delayMs, reason);
    clearTimeout(this.#delayed.get(entry.mediaId));
    const timer = setTimeout(() => {
      this.#delayed.delete(entry.mediaId);
      // Queued again meanwhile (RestartMedia, a resume at start): that run does the work.
      if (this.#closed || this.#isWaiting(entry.mediaId) || this.#running.has(entry.mediaId)) return;
      this.#insert({ mediaId: entry.mediaId, priority: entry.priority, retry: { failures, reason } });
    }, delayMs);
    this.#delayed.set(entry.mediaId, timer);
  }

  #hold(ms: number): void {
    this.#holdUntil = Date.now() + ms;
    clearTimeout(this.#holdTimer);
    this.#holdTimer = setTimeout(() => this.#pump(), ms);
  }

  #isWaiting(mediaId: number): boolean {
    return this.#waiting.some((w) => w.mediaId === mediaId);
  }

  async abort(mediaId: number, reason: AbortReason): Promise<void> {
    const i = this.#waiting.findIndex((w) => w.mediaId === mediaId);
    if (i >= 0) this.#waiting.splice(i, 1);
    clearTimeout(this.#delayed.get(mediaId));
    this.#delayed.delete(mediaId);
    const running = this.#running.get(mediaId);
    if (!running) return;
    running.controller.abort(reason);
    await running.done;
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#waiting.length = 0;
    for (const timer of this.#delayed.values()) clearTimeout(timer);
    this.#delayed.clear();
    clearTimeout(this.#holdTimer);
    await Promise.all([...this.#running.keys()].map((id) => this.abort(id, 'shutdown')));
  }

  #pump(): void {
    while (!this.#closed && this.#running.size < this.concurrency && this.#waiting.length > 0 && Date.now() >= this.#holdUntil) {
      const entry = this.#waiting.shift()!;
      const { mediaId, retry } = entry;
      if (this.#running.has(mediaId)) {
        // Re-queued while running (a restart raced the worker): run it again afterwards.
        void this.#running.get(mediaId)!.done.then(() => this.enqueue(mediaId)).catch((err: unknown) => this.onError(mediaId, err));
        continue;
      }
      const controller = new AbortController();
      const done = this.process(mediaId, controller.signal, retry ? resumeNoteOf(retry.reason, retry.failures) : undefined)
        .then(() => {
          this.#faults = 0;
        })
        .catch((err) => {
          if (err instanceof RetryLater && !controller.signal.aborted) {
            this.#hold(retryDelayMs(++this.#faults));
            this.#retryLater(entry, err.message);
          } else this.onError(mediaId, err);
        })
        .finally(() => {
          this.#running.delete(mediaId);
          this.#pump();
        });
      this.#running.set(mediaId, { controller, done });
    }
  }
}
