import { Transform } from 'node:stream';
import { TransferError, type PaceLimits, type Progress } from './types.ts';

const REPORT_EVERY_MS = 250;

export function tooLargeMessage(limit: number): string {
  return `Download error: the source is larger than the limit of ${limit} bytes`;
}

/**
 * Pass-through that counts bytes, reports progress at most every REPORT_EVERY_MS (plus the
 * first and last figure), and fails the stream once `limit` is exceeded.
 */
export class ByteMeter extends Transform {
  bytes = 0;
  private lastReport = 0;
  private reportedBytes = -1;

  constructor(
    private readonly total: number | null,
    private readonly onProgress?: Progress,
    private readonly limit?: { bytes: number; message: string },
  ) {
    super();
    this.report();
  }

  // Progress is advisory: a failing (or async, rejecting) callback must not fail the transfer.
  private report(): void {
    if (!this.onProgress || this.reportedBytes === this.bytes) return;
    this.reportedBytes = this.bytes;
    try {
      const r: unknown = this.onProgress(this.bytes, this.total);
      if (r instanceof Promise) r.catch(() => undefined);
    } catch {
      // ignored, see above
    }
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: (err?: Error | null, data?: Buffer) => void): void {
    this.bytes += chunk.length;
    if (this.limit && this.bytes > this.limit.bytes) {
      done(new TransferError(this.limit.message));
      return;
    }
    const now = Date.now();
    // The last chunk is reported as it passes: a consumer (an upload) may finish before _flush runs.
    if (now - this.lastReport >= REPORT_EVERY_MS || this.bytes === this.total) {
      this.lastReport = now;
      this.report();
    }
    done(null, chunk);
  }

  override _flush(done: () => void): void {
    this.report();
    done();
  }
}

/**
 * Watches one transfer's byte count and aborts it, through a signal every scheme honours, when
 * a window passes with less than the minimum rate or the deadline passes. Works from progress
 * reports, so it holds for every scheme alike, connecting and waiting for an answer included.
 */
export class TransferPace {
  readonly #controller = new AbortController();
  readonly signal: AbortSignal;
  readonly #timers: NodeJS.Timeout[] = [];
  #window: NodeJS.Timeout | null = null;
  #bytes = 0;
  #windowStartBytes = 0;

  constructor(
    private readonly verb: string,
    private readonly limits: PaceLimits,
    parent?: AbortSignal,
  ) {
    this.signal = parent ? AbortSignal.any([parent, this.#controller.signal]) : this.#controller.signal;
    if (limits.deadlineSeconds > 0) {
      const deadline = setTimeout(
        () => this.#fail(`${verb} error: the transfer took longer than the limit of ${limits.deadlineSeconds} s`),
        limits.deadlineSeconds * 1000,
      );
      this.#timers.push(deadline);
    }
    if (limits.minBytesPerSecond > 0 && limits.windowSeconds > 0) {
      this.#window = setInterval(() => this.#checkWindow(), limits.windowSeconds * 1000);
      this.#timers.push(this.#window);
    }
    for (const timer of this.#timers) timer.unref();
  }

  /** Why the pace stopped the transfer, or null while it has not. */
  get failure(): Error | null {
    return this.#controller.signal.aborted ? (this.#controller.signal.reason as Error) : null;
  }

  /** The bytes moved so far by the current attempt. */
  count(bytes: number): void {
    this.#bytes = bytes;
  }

  /** A new attempt starts from zero bytes, in a window of its own. */
  restart(): void {
    this.#bytes = 0;
    this.#windowStartBytes = 0;
    this.#window?.refresh();
  }

  stop(): void {
    for (const timer of this.#timers) clearTimeout(timer);
  }

  #checkWindow(): void {
    const { minBytesPerSecond, windowSeconds } = this.limits;
    const rate = (this.#bytes - this.#windowStartBytes) / windowSeconds;
    this.#windowStartBytes = this.#bytes;
    if (rate >= minBytesPerSecond) return;
    const shown = rate < 10 ? rate.toFixed(1) : String(Math.round(rate));
    this.#fail(`${this.verb} error: the transfer averaged ${shown} bytes/s over ${windowSeconds} s, below the minimum of ${minBytesPerSecond} bytes/s`);
  }

  #fail(message: string): void {
    this.stop();
    this.#controller.abort(new TransferError(message));
  }
}
