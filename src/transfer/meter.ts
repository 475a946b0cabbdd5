import { Transform } from 'node:stream';
import { TransferError, type Progress } from './types.ts';

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
