/** Media and task statuses, spelled exactly as encoding.com clients compare them (reference 3.1, 3.2). */
export const MediaStatus = {
  New: 'New',
  Downloading: 'Downloading',
  ReadyToProcess: 'Ready to process',
  WaitingForEncoder: 'Waiting for encoder',
  Processing: 'Processing',
  Saving: 'Saving',
  Finished: 'Finished',
  Error: 'Error',
  Stopped: 'Stopped',
} as const;
export type MediaStatus = (typeof MediaStatus)[keyof typeof MediaStatus];

export const TaskStatus = {
  New: 'New',
  WaitingForEncoder: 'Waiting for encoder',
  Processing: 'Processing',
  Saving: 'Saving',
  Finished: 'Finished',
  Error: 'Error',
} as const;
export type TaskStatus = (typeof TaskStatus)[keyof typeof TaskStatus];

export const DestinationStatus = { Open: 'Open', Saved: 'Saved' } as const;
/** `Open`, `Saved`, or `Error (why)`: the reason is part of the status clients read. */
export type DestinationStatus = (typeof DestinationStatus)[keyof typeof DestinationStatus] | `Error (${string})`;
export const destinationError = (reason: string): DestinationStatus => `Error (${reason})`;
export const isDestinationError = (s: string): s is `Error (${string})` => s.startsWith('Error (');

/** Statuses a media never leaves by itself: the one list of them (issue 18). */
export const FINAL_MEDIA_STATUSES = [MediaStatus.Finished, MediaStatus.Error, MediaStatus.Stopped] as const;
export type FinalMediaStatus = (typeof FINAL_MEDIA_STATUSES)[number];
export const isFinalMedia = (s: string): s is FinalMediaStatus => (FINAL_MEDIA_STATUSES as readonly string[]).includes(s);
/** Tasks that ended, well or not; the cascades (stop, give up) leave them as they are. */
export const FINAL_TASK_STATUSES = [TaskStatus.Finished, TaskStatus.Error] as const;
export type FinalTaskStatus = (typeof FINAL_TASK_STATUSES)[number];
export const isFinalTask = (s: string): s is FinalTaskStatus => (FINAL_TASK_STATUSES as readonly string[]).includes(s);

/** Statuses in which a worker owns the media; after a crash these are picked up again. */
export const ACTIVE_MEDIA_STATUSES: readonly MediaStatus[] = [
  MediaStatus.New,
  MediaStatus.Downloading,
  MediaStatus.WaitingForEncoder,
  MediaStatus.Processing,
  MediaStatus.Saving,
];

/**
 * Share of each task's whole run that each phase stands for (domain/progress-model.ts): a task's
 * progress is its share of the download, of its encode and of its delivery; the media's is its
 * tasks' weighted by their work. Encoding dominates; transfers are measured in bytes.
 */
export const PHASE_WEIGHTS = { download: 0.05, encode: 0.9, save: 0.05 } as const;
