import type { Queue } from 'bullmq';

/**
 * The cross-queue scheduler of a cluster worker. BullMQ orders each queue by priority, but not
 * across queues: a worker that serves several capability queues (`media`, `media-hevc`, ...) asks
 * here which of them holds the media that should start next, and runs only that queue's Worker.
 * The choice is pure; only {@link nextUp} reads Redis.
 */

/** The media a queue gives out next: BullMQ's priority number (lower first), then age. */
export interface Head {
  priority: number;
  timestamp: number;
  /** Media ids come from one sequence: they order media added in the same millisecond. */
  mediaId: number;
}

/** Whether `a` starts before `b`. */
export function before(a: Head, b: Head): boolean {
  if (a.priority !== b.priority) return a.priority < b.priority;
  if (a.timestamp !== b.timestamp) return a.timestamp < b.timestamp;
  return a.mediaId < b.mediaId;
}

/** The index of the head that starts first, or -1 when every queue is empty. */
export function firstHead(heads: readonly (Head | null)[]): number {
  let best = -1;
  heads.forEach((h, i) => {
    if (h && (best < 0 || before(h, heads[best]!))) best = i;
  });
  return best;
}

/**
 * The queues (by name, in the order of `heads`) whose Workers should run while a slot is free:
 * the one holding the next media, or every one when nothing waits, so a new media is taken at once.
 */
export function queuesToRun(names: readonly string[], heads: readonly (Head | null)[]): Set<string> {
  const best = firstHead(heads);
  return new Set(best < 0 ? names : [names[best]!]);
}

/** The job fields a head is made of; `mediaIdOf` reads the media id from the job's data. */
interface QueuedJob {
  priority: number;
  timestamp: number;
  data: unknown;
}

/** The first of these jobs, or null for none. A job whose data names no media goes last among its equals. */
export function headOf(jobs: readonly QueuedJob[], mediaIdOf: (data: unknown) => number | undefined): Head | null {
  let head: Head | null = null;
  for (const job of jobs) {
    const h = { priority: job.priority, timestamp: job.timestamp, mediaId: mediaIdOf(job.data) ?? Number.MAX_SAFE_INTEGER };
    if (!head || before(h, head)) head = h;
  }
  return head;
}

/**
 * What a queue gives out next, or null when nothing waits there. A job back from a stalled worker
 * sits in the plain wait list, which BullMQ empties before the prioritized set.
 */
export async function nextUp<T>(queue: Queue<T>, mediaIdOf: (data: unknown) => number | undefined): Promise<Head | null> {
  const waiting = await queue.getJobs(['wait'], 0, 9, true);
  const candidates = waiting.length > 0 ? waiting : await queue.getJobs(['prioritized'], 0, 0, true);
  return headOf(candidates, mediaIdOf);
}
