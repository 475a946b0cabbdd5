/**
 * A source file the guarded download (transfer/index.ts) is still writing, front to back, and
 * the readers that follow it as it grows (instant mode). FFmpeg never opens the origin, nor
 * this file while it grows: its own file protocol takes the current end for the end of the
 * source, so it reads the file through a pipe that this module feeds, which ends exactly when
 * the download does and fails when the download fails.
 */
import fs from 'node:fs/promises';
import { Readable } from 'node:stream';
import type { Downloaded } from '../transfer/index.ts';

/** How often a reader that caught up with the download looks again, besides each progress report. */
const POLL_MS = 50;
const CHUNK_BYTES = 256 * 1024;

export class GrowingSource {
  #ended = false;
  #failure: { error: unknown } | null = null;
  #wakers = new Set<() => void>();
  readonly #failed = new AbortController();
  /** Settles when the download does: the file complete, or the transfer's error. */
  readonly whole: Promise<Downloaded>;

  constructor(
    readonly path: string,
    download: Promise<Downloaded>,
  ) {
    this.whole = download.then(
      (result) => {
        this.#ended = true;
        this.#wake();
        return result;
      },
      (error: unknown) => {
        this.#failure = { error };
        this.#ended = true;
        // Whatever reads the pipe stops now, before the pipe's early end could pass for the source's end.
        this.#failed.abort(error);
        this.#wake();
        throw error;
      },
    );
    // Whoever needs the whole file awaits it and sees the error; unobserved it is not a crash.
    this.whole.catch(() => undefined);
  }

  /** Aborted with the transfer's error when the download fails. */
  get failed(): AbortSignal {
    return this.#failed.signal;
  }

  /** Downloaded entirely. */
  get complete(): boolean {
    return this.#ended && !this.#failure;
  }

  /** The download moved on: readers waiting for bytes look again. */
  grew(): void {
    this.#wake();
  }

  /** `length` bytes at `position`, waiting for the download to bring them; fewer only at the file's end. */
  async read(position: number, length: number): Promise<Buffer> {
    const buffer = Buffer.alloc(length);
    let got = 0;
    for (;;) {
      const ended = this.#ended;
      got += await readInto(this.path, buffer, got, position + got);
      if (got === length) return buffer;
      if (this.#failure) throw this.#failure.error;
      if (ended) return buffer.subarray(0, got);
      await this.#changed();
    }
  }

  /** The file from its first byte, following the download to its end; errors when the download fails. */
  follow(): Readable {
    return Readable.from(this.#chunks(), { objectMode: false });
  }

  async *#chunks(): AsyncGenerator<Buffer> {
    let position = 0;
    for (;;) {
      // Sampled before reading: a read that finds nothing after the download ended is the end.
      const ended = this.#ended;
      const buffer = Buffer.allocUnsafe(CHUNK_BYTES);
      const n = await readInto(this.path, buffer, 0, position);
      if (n > 0) {
        position += n;
        yield buffer.subarray(0, n);
        continue;
      }
      if (this.#failure) throw this.#failure.error;
      if (ended) return;
      await this.#changed();
    }
  }

  #changed(): Promise<void> {
    return new Promise((resolve) => {
      const wake = (): void => {
        clearTimeout(timer);
        this.#wakers.delete(wake);
        resolve();
      };
      const timer = setTimeout(wake, POLL_MS);
      this.#wakers.add(wake);
    });
  }

  #wake(): void {
    for (const wake of [...this.#wakers]) wake();
  }
}

/** Bytes read into `buffer` at `offset` from the file at `position`; 0 while the download has not created the file yet. */
async function readInto(path: string, buffer: Buffer, offset: number, position: number): Promise<number> {
  let handle: fs.FileHandle;
  try {
    handle = await fs.open(path, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw err;
  }
  try {
    return (await handle.read(buffer, offset, buffer.length - offset, position)).bytesRead;
  } finally {
    await handle.close();
  }
}
