import type { Db } from './db.ts';
import { isPostgres } from './db.ts';
import * as repo from './repo.ts';
import { DestinationStatus, MediaStatus, TaskStatus, isFinalMedia, isFinalTask } from '../domain/status.ts';
import { IllegalTransitionError, destinationMoveAllowed, mediaMoveAllowed, taskMoveAllowed } from '../domain/lifecycle.ts';

/** One committed status change, as the outbox and the crash points see it. */
export type Change<Facts = unknown> =
  | { entity: 'media'; mediaId: number; from: MediaStatus; to: MediaStatus }
  | { entity: 'task'; mediaId: number; taskId: number; from: TaskStatus; to: TaskStatus }
  | {
      entity: 'destination'; mediaId: number; taskId: number; destinationId: number; from: DestinationStatus; to: DestinationStatus;
      /** What the pipeline learned about the delivered output (notify_upload_extended); null: nothing. */
      facts: Facts | null;
    };

/**
 * The transactional outbox: the notifications a transaction's changes trigger are built from
 * what the transaction itself reads and inserted before it commits, so a crash can lose the
 * change and its notifications together, or neither.
 */
export interface OutboxWriter<Facts = unknown> {
  /** The notification rows these changes trigger; reads only through `trx`. */
  rowsFor(trx: Db, changes: readonly Change<Facts>[]): Promise<repo.NewNotification[]>;
  /** The rows are committed and due now. */
  added(ids: number[]): void;
}

export interface LifecycleOptions<Facts> {
  outbox?: OutboxWriter<Facts> | null;
  /** Called after each commit with its changes (ENCODERY_TEST_CRASH_AT hooks here). */
  afterCommit?: (changes: readonly Change<Facts>[]) => void;
}

export interface MediaMove {
  patch?: repo.MediaPatch;
  /** The line written to every task's log; default `Media status: <to>`; null: none. */
  log?: string | null;
}

export interface TaskMove {
  patch?: repo.TaskPatch;
  /** Default `Status: <to>`; null: none. */
  log?: string | null;
}

/** What a restart does to each task: `redeliver` keeps the encoded output, `reencode` starts it over. */
export interface RestartPlan {
  redeliver: number[];
  reencode: number[];
  /** The line in every task's log, e.g. `RestartMedia: media status New`. */
  log: string;
}

const ENDED = { time_left: 0, time_left_current: 0 } as const;

/**
 * Every status write of media, tasks and destinations: status, prev_status, timestamps, the
 * state-log lines and the notifications it triggers, in one transaction on SQLite and
 * PostgreSQL, checked against domain/lifecycle.ts. A move the table does not allow throws
 * IllegalTransitionError and writes nothing.
 */
export class Lifecycle<Facts = unknown> {
  readonly #db: Db;
  readonly #pg: boolean;
  // Loosely typed on purpose: a Lifecycle<Facts> then serves callers that never pass facts.
  readonly #outbox: OutboxWriter<any> | null;
  readonly #afterCommit: ((changes: readonly Change<any>[]) => void) | null;

  constructor(db: Db, opts: LifecycleOptions<Facts> = {}) {
    this.#db = db;
    this.#pg = isPostgres(db);
    this.#outbox = opts.outbox ?? null;
    this.#afterCommit = opts.afterCommit ?? null;
  }

  /** Moves a media; a move to where it already is only writes the patch. */
  media(mediaId: number, to: MediaStatus, move: MediaMove = {}): Promise<void> {
    return this.#run((tx) => tx.media(mediaId, to, move));
  }

  task(taskId: number, to: TaskStatus, move: TaskMove = {}): Promise<void> {
    return this.#run((tx) => tx.task(taskId, to, move));
  }

  destination(destinationId: number, to: DestinationStatus, opts: { log?: string | null; facts?: Facts | null } = {}): Promise<void> {
    return this.#run((tx) => tx.destination(destinationId, to, opts.log ?? null, opts.facts ?? null));
  }

  /** Cascade "fail a task": Error with its reason, its end time and a log line. */
  failTask(taskId: number, description: string): Promise<void> {
    return this.#run((tx) => tx.task(taskId, TaskStatus.Error, { patch: { description, finished_at: Date.now() }, log: `Error: ${description}` }));
  }

  /**
   * Cascade "stop" (StopMedia): every unfinished task ends in Error, and the media in Finished
   * when something was delivered, else Stopped. Returns the media's new status; null when it
   * had already ended (nothing is written).
   */
  stop(mediaId: number, reason = 'Stopped by StopMedia'): Promise<MediaStatus | null> {
    return this.#run(async (tx) => {
      const media = await repo.getMedia(tx.trx, mediaId);
      if (!media || isFinalMedia(media.status)) return null;
      const tasks = await repo.getTasks(tx.trx, mediaId);
      const destinations = await repo.getDestinations(tx.trx, tasks.map((t) => t.id));
      const now = Date.now();
      const delivered = tasks.some((t) => t.status === TaskStatus.Finished || (destinations.get(t.id) ?? []).some((d) => d.status === DestinationStatus.Saved));
      for (const t of tasks) {
        if (!isFinalTask(t.status)) await tx.task(t.id, TaskStatus.Error, { patch: { description: reason, finished_at: now }, log: reason });
      }
      const status = delivered ? MediaStatus.Finished : MediaStatus.Stopped;
      await tx.media(mediaId, status, { patch: { finished_at: now, ...ENDED } });
      return status;
    });
  }

  /**
   * Cascade "give up": the media ends in Error with `description`, and so does every task that
   * has not ended (a queue that gave up on it, an interrupted QC child). False when the media is
   * gone or had already ended: nothing was written.
   */
  giveUp(mediaId: number, description: string): Promise<boolean> {
    return this.#run(async (tx) => {
      const media = await repo.getMedia(tx.trx, mediaId);
      if (!media || media.deleted || isFinalMedia(media.status)) return false;
      const now = Date.now();
      const tasks = await repo.getTasks(tx.trx, mediaId);
      for (const t of tasks) if (!isFinalTask(t.status)) await tx.task(t.id, TaskStatus.Error, { patch: { description, finished_at: now }, log: null });
      await tx.media(mediaId, MediaStatus.Error, { patch: { description, finished_at: now, ...ENDED }, log: `Error: ${description}` });
      return true;
    });
  }

  /**
   * Cascade "restart" (RestartMedia, RestartMediaErrors, RestartMediaTask): the planned tasks
   * are reset, their destinations opened again, and the media goes back to New.
   */
  restart(mediaId: number, plan: RestartPlan): Promise<void> {
    return this.#run(async (tx) => {
      for (const taskId of plan.redeliver) {
        await tx.openDestinations(taskId, true);
        await tx.task(taskId, TaskStatus.Saving, { patch: { finished_at: null, description: null }, log: 'Restarted: re-delivering to the failed destinations' });
      }
      for (const taskId of plan.reencode) {
        await tx.openDestinations(taskId, false);
        await tx.task(taskId, TaskStatus.New, {
          patch: {
            started_at: null, finished_at: null, progress: 0, time_left: 0, progress_current: 0, time_left_current: 0, converted_size: null, description: null,
            command: null, cpu_sec: null, speed: null, outputs: null, download_token: null, cache_key: null, cache_state: 'restarted',
          },
          log: 'Restarted',
        });
      }
      await tx.media(mediaId, MediaStatus.New, {
        patch: { description: null, started_at: null, finished_at: null, uploaded_at: null, progress: 0, progress_current: 0, time_left: 0, time_left_current: 0 },
        log: plan.log,
      });
    });
  }

  /** Several moves as one transaction, for callers whose change is more than one row. */
  batch<T>(work: (tx: Transition<Facts>) => Promise<T>): Promise<T> {
    return this.#run(work);
  }

  async #run<T>(work: (tx: Transition<Facts>) => Promise<T>): Promise<T> {
    let changes: Change<Facts>[] = [];
    let ids: number[] = [];
    const result = await this.#db.transaction().execute(async (trx) => {
      const tx = new Transition<Facts>(trx, this.#pg);
      const value = await work(tx);
      changes = tx.changes;
      if (this.#outbox && changes.length > 0) {
        ids = [];
        for (const row of await this.#outbox.rowsFor(trx, changes)) ids.push(await repo.insertNotification(trx, row));
      }
      return value;
    });
    this.#afterCommit?.(changes);
    if (ids.length > 0) this.#outbox?.added(ids);
    return result;
  }
}

/**
 * The moves of one transaction; each reads the row it changes and checks the move. On
 * PostgreSQL the row is locked FOR NO KEY UPDATE: two writers of one row take turns, while
 * log and notification rows (whose foreign keys take KEY SHARE locks) never wait on it, so a
 * cascade locking tasks then the media cannot deadlock with a media move that logs to its tasks.
 */
export class Transition<Facts> {
  readonly changes: Change<Facts>[] = [];

  constructor(
    readonly trx: Db,
    private readonly pg: boolean,
  ) {}

  async media(mediaId: number, to: MediaStatus, { patch = {}, log }: MediaMove = {}): Promise<void> {
    let q = this.trx.selectFrom('media').select(['status']).where('id', '=', mediaId);
    if (this.pg) q = q.forNoKeyUpdate();
    const row = await q.executeTakeFirst();
    if (!row) throw new Error(`media ${mediaId} does not exist`);
    const from = row.status as MediaStatus;
    if (!mediaMoveAllowed(from, to)) throw new IllegalTransitionError('media', mediaId, from, to);
    if (from === to) {
      if (Object.keys(patch).length > 0) await repo.updateMedia(this.trx, mediaId, patch);
      return;
    }
    await repo.setMediaStatus(this.trx, mediaId, { ...patch, status: to, prev_status: from });
    const line = log === undefined ? `Media status: ${to}` : log;
    if (line !== null) {
      const tasks = await this.trx.selectFrom('task').select('id').where('media_id', '=', mediaId).orderBy('position').execute();
      await repo.appendLog(this.trx, tasks.map((t) => t.id), line);
    }
    this.changes.push({ entity: 'media', mediaId, from, to });
  }

  async task(taskId: number, to: TaskStatus, { patch = {}, log }: TaskMove = {}): Promise<void> {
    let q = this.trx.selectFrom('task').select(['status', 'media_id']).where('id', '=', taskId);
    if (this.pg) q = q.forNoKeyUpdate();
    const row = await q.executeTakeFirst();
    if (!row) throw new Error(`task ${taskId} does not exist`);
    const from = row.status as TaskStatus;
    if (!taskMoveAllowed(from, to)) throw new IllegalTransitionError('task', taskId, from, to);
    await repo.setTaskStatus(this.trx, taskId, { ...patch, status: to });
    const line = log === undefined ? `Status: ${to}` : log;
    if (line !== null) await repo.appendLog(this.trx, [taskId], line);
    if (from !== to) this.changes.push({ entity: 'task', mediaId: row.media_id, taskId, from, to });
  }

  async destination(destinationId: number, to: DestinationStatus, log: string | null, facts: Facts | null): Promise<void> {
    let q = this.trx
      .selectFrom('destination')
      .innerJoin('task', 'task.id', 'destination.task_id')
      .select(['destination.status', 'destination.task_id', 'task.media_id'])
      .where('destination.id', '=', destinationId);
    if (this.pg) q = q.forNoKeyUpdate();
    const row = await q.executeTakeFirst();
    if (!row) throw new Error(`destination ${destinationId} does not exist`);
    const from = row.status as DestinationStatus;
    if (!destinationMoveAllowed(from, to)) throw new IllegalTransitionError('destination', destinationId, from, to);
    await repo.setDestinationStatus(this.trx, destinationId, to);
    if (log !== null) await repo.appendLog(this.trx, [row.task_id], log);
    this.changes.push({ entity: 'destination', mediaId: row.media_id, taskId: row.task_id, destinationId, from, to, facts });
  }

  /** A restarted task's destinations are sent again: all of them, or only those not Saved. */
  async openDestinations(taskId: number, onlyUnsaved: boolean): Promise<void> {
    await repo.resetDestinations(this.trx, taskId, onlyUnsaved);
  }
}
