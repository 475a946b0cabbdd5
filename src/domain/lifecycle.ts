import { DestinationStatus, FINAL_MEDIA_STATUSES, MediaStatus, TaskStatus, isDestinationError } from './status.ts';
import { EncoderyError } from './errors.ts';

/**
 * The allowed moves of media, task and destination statuses: the one table every status writer
 * goes through (store/lifecycle.ts applies them). Staying in a status that is not final is
 * allowed everywhere: a run resumed after a crash re-enters the status it was killed in.
 */
const M = MediaStatus;
const UNFINISHED_MEDIA = [M.New, M.Downloading, M.ReadyToProcess, M.WaitingForEncoder, M.Processing, M.Saving] as const;
const ENDINGS = FINAL_MEDIA_STATUSES;

export const MEDIA_TRANSITIONS = {
  // A media resumed after a crash starts over from whatever its sources and outputs allow.
  [M.New]: [M.Downloading, M.ReadyToProcess, M.WaitingForEncoder, M.Processing, M.Saving, ...ENDINGS],
  // Downloading → Saving: every output came from the output cache (pipeline/cache/), nothing to encode.
  [M.Downloading]: [M.ReadyToProcess, M.WaitingForEncoder, M.Saving, ...ENDINGS, M.New],
  [M.ReadyToProcess]: [M.WaitingForEncoder, ...ENDINGS, M.New],
  [M.WaitingForEncoder]: [M.Downloading, M.Processing, M.Saving, ...ENDINGS, M.New],
  [M.Processing]: [M.Downloading, M.WaitingForEncoder, M.Saving, ...ENDINGS, M.New],
  [M.Saving]: [M.Downloading, M.WaitingForEncoder, M.Processing, ...ENDINGS, M.New],
  // An ended media moves again only when restarted.
  [M.Finished]: [M.New],
  [M.Error]: [M.New],
  [M.Stopped]: [M.New],
} as const satisfies Record<MediaStatus, readonly MediaStatus[]>;

const T = TaskStatus;
export const TASK_TRANSITIONS = {
  // New or WaitingForEncoder → Saving: the output came from the output cache, with nothing to encode.
  [T.New]: [T.WaitingForEncoder, T.Processing, T.Saving, T.Error],
  [T.WaitingForEncoder]: [T.Processing, T.Saving, T.Error, T.New],
  // Processing → Finished: a QC child's check task has nothing to save.
  [T.Processing]: [T.WaitingForEncoder, T.Saving, T.Finished, T.Error, T.New],
  // Saving → New: the encoded output is gone (shared-storage.ts), so the task is encoded again.
  [T.Saving]: [T.WaitingForEncoder, T.Finished, T.Error, T.New],
  // Finished → Error: a fatal QC with qc_fail_parent; → Saving: re-delivery to failed destinations.
  [T.Finished]: [T.Error, T.Saving, T.New],
  [T.Error]: [T.Saving, T.New],
} as const satisfies Record<TaskStatus, readonly TaskStatus[]>;

type DestinationKind = 'Open' | 'Saved' | 'Error';
export const DESTINATION_TRANSITIONS = {
  Open: ['Saved', 'Error', 'Open'],
  // A destination that failed is tried again when its media resumes in Saving.
  Error: ['Saved', 'Error', 'Open'],
  // Sent once: only a restart opens it again.
  Saved: ['Open'],
} as const satisfies Record<DestinationKind, readonly DestinationKind[]>;

const destinationKind = (s: string): DestinationKind => (isDestinationError(s) ? 'Error' : s === DestinationStatus.Saved ? 'Saved' : 'Open');

export type Entity = 'media' | 'task' | 'destination';

/** A status change the table does not allow; nothing of it was written. */
export class IllegalTransitionError extends EncoderyError {
  override name = 'IllegalTransitionError';
  readonly code = 'ENCODERY_ILLEGAL_TRANSITION';
  constructor(
    readonly entity: Entity,
    readonly id: number,
    readonly from: string,
    readonly to: string,
  ) {
    super(`${entity} ${id} cannot go from ${from} to ${to}`);
  }
}

const allows = (table: Record<string, readonly string[]>, from: string, to: string): boolean => (table[from] ?? []).includes(to);

export function mediaMoveAllowed(from: MediaStatus, to: MediaStatus): boolean {
  return from === to ? (UNFINISHED_MEDIA as readonly string[]).includes(from) : allows(MEDIA_TRANSITIONS, from, to);
}

export function taskMoveAllowed(from: TaskStatus, to: TaskStatus): boolean {
  return from === to ? from !== T.Finished && from !== T.Error : allows(TASK_TRANSITIONS, from, to);
}

export function destinationMoveAllowed(from: DestinationStatus, to: DestinationStatus): boolean {
  return allows(DESTINATION_TRANSITIONS, destinationKind(from), destinationKind(to));
}

/**
 * Where a test may have the process kill itself right after a status change commits
 * (ENCODERY_TEST_CRASH_AT): `<entity>-<status>`, e.g. `destination-saved`, `media-finished`.
 */
const slug = (s: string): string => s.toLowerCase().replaceAll(' ', '-');
export const CRASH_POINTS: [string, ...string[]] = [
  'destination-saved',
  'destination-error',
  ...Object.values(MediaStatus).map((s) => `media-${slug(s)}`),
  ...Object.values(TaskStatus).map((s) => `task-${slug(s)}`),
];
export type CrashPoint = string;

/** The crash point a committed change passes, for ENCODERY_TEST_CRASH_AT. */
export function crashPointOf(entity: Entity, to: string): CrashPoint {
  return entity === 'destination' ? `destination-${slug(destinationKind(to))}` : `${entity}-${slug(to)}`;
}
