/**
 * The encoders of one process (ENCODERY_WORKERS of them). The queue runs more media than that at
 * once (ENCODERY_DOWNLOADS more) so that fetching a slow source never keeps another media's
 * encode from starting; a media takes a slot only for its encode, and while it waits its
 * status is "Waiting for encoder".
 */
interface Waiter {
  priority: number;
  grant: (release: () => void) => void;
}

export class EncoderSlots {
  /** Kept sorted: the highest priority first and, within one priority, the first come. */
  readonly #waiting: Waiter[] = [];
  #free: number;

  constructor(readonly size: number) {
    this.#free = size;
  }

  /** Media waiting for a slot now. */
  get waiting(): number {
    return this.#waiting.length;
  }

  /**
   * Resolves with the function that gives the slot back (once; later calls do nothing). Rejects
   * with the signal's reason if it aborts first, having taken no slot.
   */
  acquire(priority: number, signal: AbortSignal): Promise<() => void> {
    signal.throwIfAborted();
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        priority,
        grant: (release) => {
          signal.removeEventListener('abort', onAbort);
          resolve(release);
        },
      };
      const onAbort = () => {
        const at = this.#waiting.indexOf(waiter);
        if (at >= 0) this.#waiting.splice(at, 1);
        reject(signal.reason);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      const at = this.#waiting.findIndex((w) => w.priority < priority);
      this.#waiting.splice(at < 0 ? this.#waiting.length : at, 0, waiter);
      this.#grant();
    });
  }

  #grant(): void {
    while (this.#free > 0 && this.#waiting.length > 0) {
      this.#free--;
      let held = true;
      this.#waiting.shift()!.grant(() => {
        if (!held) return;
        held = false;
        this.#free++;
        this.#grant();
      });
    }
  }
}
