import { EncoderyError } from '../domain/errors.ts';

/** Why a running media is being interrupted; the interrupter finalises its status. */
export type AbortReason = 'cancel' | 'stop' | 'update' | 'restart' | 'shutdown';

/**
 * Processes one media. `resumeNote`, when given, says why an earlier run stopped before its end
 * and this one picks up after it; the pipeline writes it to the task log.
 */
export type MediaProcessor = (mediaId: number, signal: AbortSignal, resumeNote?: string) => Promise<void>;

/**
 * Thrown by a processor when the media is not at fault (its store could not be reached): the
 * queue runs it again later, with a growing delay, and never counts it as a failure of the media
 * or a lost worker. The message says what went wrong, for the logs and the next run's task log.
 */
export class RetryLater extends EncoderyError {
  override name = 'RetryLater';
  readonly code = 'ENCODERY_RETRY_LATER';

  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, { ...options, retryable: true });
  }
}

/**
 * Redis did not answer, and going on without it could leave a worker running a media the caller
 * changes: the action is refused (nothing changed) and the client is told to try again.
 */
export class QueueUnavailableError extends EncoderyError {
  override name = 'QueueUnavailableError';
  readonly code = 'ENCODERY_QUEUE_UNAVAILABLE';

  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, { ...options, retryable: true });
  }
}

/** How long a media that hit an infrastructure fault waits before its next run: 1 s, 2 s, 4 s … at most 10 s, with jitter. */
export function retryDelayMs(failures: number): number {
  const base = Math.min(10_000, 1000 * 2 ** Math.min(Math.max(failures - 1, 0), 10));
  // Spread out: media refused together are not all retried in the same instant.
  return Math.round(base * (0.8 + Math.random() * 0.4));
}

/** The task log's line for a run that follows runs stopped by infrastructure faults. */
export function resumeNoteOf(reason: string, failures: number): string {
  const times = failures > 1 ? ` (${failures} runs in a row)` : '';
  return `Resumed: an earlier run stopped because ${reason}${times}; this run picks up after the last step it finished`;
}

/**
 * The seam between the API and the workers: in-process for the embedded mode; the cluster mode
 * puts BullMQ behind the same interface (bullmq.ts).
 */
export interface MediaQueue {
  /**
   * Queue a media for processing; a media already waiting (or, in a cluster, already being
   * processed) is not queued twice. Resolves once the queue has it.
   */
  enqueue(mediaId: number): Promise<void>;
  /**
   * Take the media out of the queue and interrupt its worker, if any. Resolves once no worker
   * holds it any more, so the caller may change its state safely.
   */
  abort(mediaId: number, reason: AbortReason): Promise<void>;
  readonly waiting: number;
  readonly running: number;
  /** Stop taking work, interrupt the running media (they are resumed at the next start). */
  close(): Promise<void>;
}
