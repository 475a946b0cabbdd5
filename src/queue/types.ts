/** Why a running media is being interrupted; the interrupter finalises its status. */
export type AbortReason = 'cancel' | 'stop' | 'update' | 'restart' | 'shutdown';

export type MediaProcessor = (mediaId: number, signal: AbortSignal) => Promise<void>;

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
