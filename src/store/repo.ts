import { sql, type Selectable, type Updateable } from 'kysely';
import type { Db } from './db.ts';
import { DestinationStatus, FINAL_MEDIA_STATUSES, FINAL_TASK_STATUSES, MediaStatus, TaskStatus } from '../domain/status.ts';
import type { DestinationTable, MediaTable, NotificationAttemptTable, NotificationTable, PresetTable, TaskLogTable, TaskTable } from './schema.ts';

export type MediaRow = Selectable<MediaTable>;
export type TaskRow = Selectable<TaskTable>;
export type DestinationRow = Selectable<DestinationTable>;
export type TaskLogRow = Selectable<TaskLogTable>;
export type NotificationRow = Selectable<NotificationTable>;
/** Everything but the status, which only store/lifecycle.ts writes. */
export type MediaPatch = Omit<Updateable<MediaTable>, 'status' | 'prev_status'>;
export type TaskPatch = Omit<Updateable<TaskTable>, 'status'>;

export interface NewTask {
  output: string;
  format: string;
  destinations: string[];
  /** Lines the task's log starts with (AddMedia's warnings about its fields). */
  log?: string[];
}

export interface NewMedia {
  userId: string;
  sources: string[];
  options: string;
  notifyUrl: string | null;
  benchmark: boolean;
  version: string;
  /** New, except for fixtures that start a media elsewhere. */
  status: MediaStatus;
  tasks: NewTask[];
  /** User presets saved with the media (`save_preset`), in the same transaction. */
  presets?: NewPreset[];
  /** AddMedia's idempotency_key, claimed in the same transaction; keys older than `since` are free again. */
  idempotency?: { key: string; requestHash: string; since: number };
}

/** Another request claimed the idempotency key first: the media was not added. */
export class IdempotencyKeyTaken extends Error {
  constructor(readonly key: string) {
    super(`idempotency key ${JSON.stringify(key)} is already taken`);
  }
}

/** Repository functions: plain functions over `db`, one SQL statement or transaction each. */

export async function insertMedia(db: Db, m: NewMedia, now = Date.now()): Promise<number> {
  return db.transaction().execute(async (trx) => {
    const { id } = await trx
      .insertInto('media')
      .values({
        user_id: m.userId,
        status: m.status,
        prev_status: null,
        sources: JSON.stringify(m.sources),
        options: m.options,
        notify_url: m.notifyUrl,
        benchmark: m.benchmark ? 1 : 0,
        deleted: 0,
        description: null,
        version: m.version,
        created_at: now,
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    await insertTasks(trx, id, m.tasks, now);
    if (m.presets && m.presets.length > 0) await upsertPresets(trx, m.userId, m.presets, now);
    if (m.idempotency) await claimIdempotencyKey(trx, m.userId, id, m.idempotency, now);
    return id;
  });
}

async function claimIdempotencyKey(trx: Db, userId: string, mediaId: number, claim: NonNullable<NewMedia['idempotency']>, now: number): Promise<void> {
  await trx.deleteFrom('idempotency_key').where('user_id', '=', userId).where('key', '=', claim.key).where('created_at', '<', claim.since).execute();
  // On PostgreSQL a concurrent claim of the same key waits here for the other transaction and
  // then does nothing; SQLite runs one transaction at a time. Either way one media wins.
  const claimed = await trx
    .insertInto('idempotency_key')
    .values({ user_id: userId, key: claim.key, request_hash: claim.requestHash, media_id: mediaId, created_at: now })
    .onConflict((oc) => oc.columns(['user_id', 'key']).doNothing())
    .returning('media_id')
    .executeTakeFirst();
  if (!claimed) throw new IdempotencyKeyTaken(claim.key);
}

/** The media a user's idempotency key added since `since`, with the hash of the request that added it. */
export function findIdempotencyKey(db: Db, userId: string, key: string, since: number): Promise<{ media_id: number; request_hash: string } | undefined> {
  return db
    .selectFrom('idempotency_key')
    .select(['media_id', 'request_hash'])
    .where('user_id', '=', userId)
    .where('key', '=', key)
    .where('created_at', '>=', since)
    .executeTakeFirst();
}

/** Frees a key whose media was not added after all (the queue refused it), so that a retry adds it. */
export async function releaseIdempotencyKey(db: Db, userId: string, mediaId: number): Promise<void> {
  await db.deleteFrom('idempotency_key').where('user_id', '=', userId).where('media_id', '=', mediaId).execute();
}

async function insertTasks(trx: Db, mediaId: number, tasks: NewTask[], now: number): Promise<void> {
  for (const [position, t] of tasks.entries()) {
    const { id: taskId } = await trx
      .insertInto('task')
      .values({ media_id: mediaId, position, output: t.output, format: t.format, status: TaskStatus.New, created_at: now })
      .returning('id')
      .executeTakeFirstOrThrow();
    if (t.destinations.length > 0) {
      await trx
        .insertInto('destination')
        .values(t.destinations.map((url, i) => ({ task_id: taskId, position: i, url, status: DestinationStatus.Open })))
        .execute();
    }
    for (const line of t.log ?? []) await appendLog(trx, [taskId], line, now);
  }
}

/**
 * UpdateMedia and ProcessMedia: all old tasks go, the new ones come (with the user presets saved
 * by `save_preset`); run it inside the lifecycle's transaction that moves the media.
 */
export async function replaceTasks(
  trx: Db,
  mediaId: number,
  tasks: NewTask[],
  presets: { userId: string; items: NewPreset[] } | null = null,
  now = Date.now(),
): Promise<void> {
  await trx.deleteFrom('task').where('media_id', '=', mediaId).execute();
  await insertTasks(trx, mediaId, tasks, now);
  if (presets && presets.items.length > 0) await upsertPresets(trx, presets.userId, presets.items, now);
}

export function findMedia(db: Db, userId: string, id: number): Promise<MediaRow | undefined> {
  return db.selectFrom('media').selectAll().where('id', '=', id).where('user_id', '=', userId).where('deleted', '=', 0).executeTakeFirst();
}

export function getMedia(db: Db, id: number): Promise<MediaRow | undefined> {
  return db.selectFrom('media').selectAll().where('id', '=', id).executeTakeFirst();
}

export function getTasks(db: Db, mediaId: number): Promise<TaskRow[]> {
  return db.selectFrom('task').selectAll().where('media_id', '=', mediaId).orderBy('position').execute();
}

export function getTask(db: Db, taskId: number): Promise<TaskRow | undefined> {
  return db.selectFrom('task').selectAll().where('id', '=', taskId).executeTakeFirst();
}

export async function getDestinations(db: Db, taskIds: number[]): Promise<Map<number, DestinationRow[]>> {
  const byTask = new Map<number, DestinationRow[]>(taskIds.map((id) => [id, []]));
  if (taskIds.length === 0) return byTask;
  const rows = await db.selectFrom('destination').selectAll().where('task_id', 'in', taskIds).orderBy('task_id').orderBy('position').execute();
  for (const row of rows) byTask.get(row.task_id)?.push(row);
  return byTask;
}

export function getDestination(db: Db, id: number): Promise<DestinationRow | undefined> {
  return db.selectFrom('destination').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function getTaskLogs(db: Db, taskIds: number[]): Promise<Map<number, TaskLogRow[]>> {
  const byTask = new Map<number, TaskLogRow[]>(taskIds.map((id) => [id, []]));
  if (taskIds.length === 0) return byTask;
  const rows = await db.selectFrom('task_log').selectAll().where('task_id', 'in', taskIds).orderBy('id').execute();
  for (const row of rows) byTask.get(row.task_id)?.push(row);
  return byTask;
}

/** The log lines of these tasks that start with `prefix` (no LIKE wildcards in it), oldest first. */
export async function getLogLinesStartingWith(db: Db, taskIds: number[], prefix: string): Promise<string[]> {
  if (taskIds.length === 0) return [];
  const rows = await db.selectFrom('task_log').select('message').where('task_id', 'in', taskIds).where('message', 'like', `${prefix}%`).orderBy('id').execute();
  return rows.map((r) => r.message);
}

export async function updateMedia(db: Db, id: number, patch: MediaPatch): Promise<void> {
  await db.updateTable('media').set(patch).where('id', '=', id).execute();
}

export async function updateTask(db: Db, id: number, patch: TaskPatch): Promise<void> {
  await db.updateTable('task').set(patch).where('id', '=', id).execute();
}

export type ProgressFigures = Pick<MediaPatch, 'progress' | 'progress_current' | 'time_left' | 'time_left_current'>;

/**
 * A running media's figures and its tasks' in one transaction, so a GetStatus never reads the
 * media ahead of its tasks. Rows that already ended keep the figures their ending wrote.
 */
export async function writeProgress(db: Db, mediaId: number, media: ProgressFigures, tasks: (ProgressFigures & { id: number })[]): Promise<void> {
  await db.transaction().execute(async (trx) => {
    await trx.updateTable('media').set(media).where('id', '=', mediaId).where('status', 'not in', [...FINAL_MEDIA_STATUSES]).execute();
    for (const { id, ...figures } of tasks) {
      await trx.updateTable('task').set(figures).where('id', '=', id).where('status', 'not in', [...FINAL_TASK_STATUSES]).execute();
    }
  });
}

/**
 * A media row and its tasks as one moment left them (one snapshot): a running media's figures
 * and its tasks' are written together (writeProgress) and read together here.
 */
export async function mediaWithTasks(db: Db, mediaId: number): Promise<{ media: MediaRow | undefined; tasks: TaskRow[] }> {
  return db.transaction().setIsolationLevel('repeatable read').execute(async (trx) => ({
    media: await getMedia(trx, mediaId),
    tasks: await getTasks(trx, mediaId),
  }));
}

/** Status writes: only store/lifecycle.ts calls these, inside its transaction. */
export async function setMediaStatus(trx: Db, id: number, patch: MediaPatch & { status: MediaStatus; prev_status: MediaStatus }): Promise<void> {
  await trx.updateTable('media').set(patch).where('id', '=', id).execute();
}

export async function setTaskStatus(trx: Db, id: number, patch: TaskPatch & { status: TaskStatus }): Promise<void> {
  await trx.updateTable('task').set(patch).where('id', '=', id).execute();
}

export async function setDestinationStatus(trx: Db, id: number, status: DestinationStatus): Promise<void> {
  await trx.updateTable('destination').set({ status }).where('id', '=', id).execute();
}

export async function resetDestinations(trx: Db, taskId: number, onlyFailed: boolean): Promise<void> {
  let q = trx.updateTable('destination').set({ status: DestinationStatus.Open }).where('task_id', '=', taskId);
  if (onlyFailed) q = q.where('status', '!=', DestinationStatus.Saved);
  await q.execute();
}

export async function appendLog(db: Db, taskIds: number[], message: string, at = Date.now()): Promise<void> {
  if (taskIds.length === 0) return;
  await db.insertInto('task_log').values(taskIds.map((task_id) => ({ task_id, at, message }))).execute();
}

export function findTaskByToken(db: Db, token: string): Promise<TaskRow | undefined> {
  return db.selectFrom('task').selectAll().where('download_token', '=', token).executeTakeFirst();
}

/** Media a worker owns but that no worker is running: what a crash left behind. */
export function listUnfinished(db: Db, statuses: readonly MediaStatus[]): Promise<Pick<MediaRow, 'id' | 'status'>[]> {
  return db.selectFrom('media').select(['id', 'status']).where('status', 'in', statuses).where('deleted', '=', 0).orderBy('id').execute();
}

export interface MediaListFilter {
  userId: string;
  mediaId?: number;
  taskId?: number;
  output?: string;
  status?: string;
  dateFrom?: number;
  dateTo?: number;
  /** Text the media's source URLs contain, any letter case (an Encodery addition). */
  source?: string;
  sort: 'id' | 'sources' | 'status' | 'created_at' | 'started_at' | 'finished_at' | 'user_id';
  order: 'asc' | 'desc';
  limit?: number;
  offset?: number;
}

function filtered(db: Db, f: MediaListFilter) {
  let q = db.selectFrom('media').where('user_id', '=', f.userId).where('deleted', '=', 0);
  if (f.mediaId !== undefined) q = q.where('id', '=', f.mediaId);
  // Any text the user asked for: one that is no status matches nothing.
  if (f.status !== undefined) q = q.where('status', '=', f.status as MediaStatus);
  if (f.dateFrom !== undefined) q = q.where('created_at', '>=', f.dateFrom);
  if (f.dateTo !== undefined) q = q.where('created_at', '<=', f.dateTo);
  if (f.source !== undefined) {
    // `!` escapes LIKE's wildcards the same way in SQLite and PostgreSQL.
    const pattern = `%${f.source.toLowerCase().replace(/[!%_]/g, (c) => `!${c}`)}%`;
    q = q.where(sql<boolean>`lower(sources) like ${pattern} escape '!'`);
  }
  if (f.taskId !== undefined) {
    const taskId = f.taskId;
    q = q.where('id', 'in', (sub) => sub.selectFrom('task').select('media_id').where('id', '=', taskId));
  }
  if (f.output !== undefined) {
    const output = f.output;
    q = q.where('id', 'in', (sub) => sub.selectFrom('task').select('media_id').where('output', '=', output));
  }
  return q;
}

export async function listMedia(db: Db, f: MediaListFilter): Promise<{ rows: MediaRow[]; total: number }> {
  // SQLite puts NULLs (a media not yet started or finished) first in ascending order, PostgreSQL
  // last: said explicitly, both stores page through the same list.
  let q = filtered(db, f)
    .selectAll()
    .orderBy(f.sort, (ob) => (f.order === 'asc' ? ob.asc().nullsFirst() : ob.desc().nullsLast()))
    .orderBy('id', f.order);
  if (f.limit !== undefined) q = q.limit(f.limit).offset(f.offset ?? 0);
  const rows = await q.execute();
  const total =
    f.limit === undefined
      ? rows.length
      : Number((await filtered(db, f).select(sql<number>`count(*)`.as('n')).executeTakeFirstOrThrow()).n);
  return { rows, total };
}

export async function countMediaByStatus(db: Db, userId?: string): Promise<{ status: string; n: number }[]> {
  let q = db.selectFrom('media').select(['status', sql<number>`count(*)`.as('n')]).where('deleted', '=', 0);
  if (userId !== undefined) q = q.where('user_id', '=', userId);
  return q.groupBy('status').execute();
}

/** When the media that has waited longest for a worker was added (epoch ms), or null when none waits. */
export async function oldestWaitingMedia(db: Db): Promise<number | null> {
  const row = await db
    .selectFrom('media')
    .select(sql<number | null>`min(created_at)`.as('since'))
    .where('status', '=', MediaStatus.New)
    .where('started_at', 'is', null)
    .where('deleted', '=', 0)
    .executeTakeFirst();
  return row?.since === null || row?.since === undefined ? null : Number(row.since);
}

// --- notifications --------------------------------------------------------------------------

export type NotificationAttemptRow = Selectable<NotificationAttemptTable>;
export type NewNotification = Omit<NotificationTable, 'id' | 'state' | 'next_at' | 'task_id' | 'destination_id' | 'claimed_by' | 'claimed_until'> &
  Partial<Pick<NotificationTable, 'task_id' | 'destination_id'>>;

export async function insertNotification(db: Db, n: NewNotification): Promise<number> {
  const { id } = await db
    .insertInto('notification')
    .values({ task_id: null, destination_id: null, ...n, state: 'pending', next_at: Date.now() })
    .returning('id')
    .executeTakeFirstOrThrow();
  return id;
}

export function pendingNotifications(db: Db): Promise<NotificationRow[]> {
  return db.selectFrom('notification').selectAll().where('state', '=', 'pending').orderBy('id').execute();
}

/** Pending notifications due by `now` that no node holds a live claim on, oldest first. */
export async function claimableNotifications(db: Db, now: number, limit: number): Promise<number[]> {
  const rows = await db
    .selectFrom('notification')
    .select('id')
    .where('state', '=', 'pending')
    .where('next_at', '<=', now)
    .where((eb) => eb.or([eb('claimed_until', 'is', null), eb('claimed_until', '<', now)]))
    .orderBy('next_at')
    .orderBy('id')
    .limit(limit)
    .execute();
  return rows.map((r) => r.id);
}

/**
 * Claims a due notification for `node` until `until`, unless another claim still holds (one
 * conditional UPDATE: of several nodes trying at once, exactly one changes the row). True when
 * this node got it and must send it.
 */
export async function claimNotification(db: Db, id: number, node: string, now: number, until: number): Promise<boolean> {
  const result = await db
    .updateTable('notification')
    .set({ claimed_by: node, claimed_until: until })
    .where('id', '=', id)
    .where('state', '=', 'pending')
    .where('next_at', '<=', now)
    .where((eb) => eb.or([eb('claimed_until', 'is', null), eb('claimed_until', '<', now)]))
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

export function getNotification(db: Db, id: number): Promise<NotificationRow | undefined> {
  return db.selectFrom('notification').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function countNotificationAttempts(db: Db, notificationId: number): Promise<number> {
  const row = await db
    .selectFrom('notification_attempt')
    .select(sql<number>`count(*)`.as('n'))
    .where('notification_id', '=', notificationId)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/**
 * The attempt and the state it leads to, together: a crash between them cannot lose either.
 * The sender's claim ends with it; the next attempt, if any, is claimed afresh when due.
 */
export async function recordNotificationAttempt(
  db: Db,
  attempt: Omit<NotificationAttemptTable, 'id'>,
  next: { state: string; next_at: number },
): Promise<void> {
  await db.transaction().execute(async (trx) => {
    await trx.insertInto('notification_attempt').values(attempt).execute();
    await trx.updateTable('notification').set({ ...next, claimed_by: null, claimed_until: null }).where('id', '=', attempt.notification_id).execute();
  });
}

export function notificationsOf(db: Db, mediaId: number): Promise<NotificationRow[]> {
  return db.selectFrom('notification').selectAll().where('media_id', '=', mediaId).orderBy('id').execute();
}

/** Every attempt of a media's notifications, by notification id, oldest first. */
export async function notificationAttemptsOf(db: Db, mediaId: number): Promise<Map<number, NotificationAttemptRow[]>> {
  const rows = await db
    .selectFrom('notification_attempt')
    .innerJoin('notification', 'notification.id', 'notification_attempt.notification_id')
    .selectAll('notification_attempt')
    .where('notification.media_id', '=', mediaId)
    .orderBy('notification_attempt.id')
    .execute();
  const byNotification = new Map<number, NotificationAttemptRow[]>();
  for (const row of rows) {
    const list = byNotification.get(row.notification_id) ?? [];
    list.push(row);
    byNotification.set(row.notification_id, list);
  }
  return byNotification;
}

// --- presets --------------------------------------------------------------------------------

export type PresetRow = Selectable<PresetTable>;

export interface NewPreset {
  name: string;
  output: string;
  /** JSON FieldMap */
  format: string;
}

export function getPreset(db: Db, userId: string, name: string): Promise<PresetRow | undefined> {
  return db.selectFrom('preset').selectAll().where('user_id', '=', userId).where('name', '=', name).executeTakeFirst();
}

export function listPresets(db: Db, userId: string): Promise<PresetRow[]> {
  return db.selectFrom('preset').selectAll().where('user_id', '=', userId).orderBy('name').execute();
}

export async function listPresetNames(db: Db, userId: string): Promise<string[]> {
  const rows = await db.selectFrom('preset').select('name').where('user_id', '=', userId).execute();
  return rows.map((r) => r.name);
}

/** Creates or replaces (by name) each of a user's presets, all or none. */
export async function savePresets(db: Db, userId: string, presets: NewPreset[], now = Date.now()): Promise<void> {
  await db.transaction().execute((trx) => upsertPresets(trx, userId, presets, now));
}

async function upsertPresets(trx: Db, userId: string, presets: NewPreset[], now: number): Promise<void> {
  for (const p of presets) {
    await trx
      .insertInto('preset')
      .values({ user_id: userId, name: p.name, output: p.output, format: p.format, created_at: now, updated_at: now })
      .onConflict((oc) => oc.columns(['user_id', 'name']).doUpdateSet({ output: p.output, format: p.format, updated_at: now }))
      .execute();
  }
}

/** Whether a preset of that name was there to delete. */
export async function deletePreset(db: Db, userId: string, name: string): Promise<boolean> {
  const result = await db.deleteFrom('preset').where('user_id', '=', userId).where('name', '=', name).executeTakeFirst();
  return Number(result.numDeletedRows) > 0;
}

// --- QC child media ---------------------------------------------------------------------------

export interface NewQcChild {
  userId: string;
  parentMediaId: number;
  parentTaskId: number;
  /** What the child checks: the parent's source URLs, shown as its own sources. */
  sources: string[];
  options: string;
  version: string;
  /** The child's one task: output `qc_check`, its format the QC fields. */
  format: string;
}

/** A QC child media with its one task, both New, in one transaction: returns their ids. */
export async function insertQcChild(db: Db, c: NewQcChild, now = Date.now()): Promise<{ mediaId: number; taskId: number }> {
  return db.transaction().execute(async (trx) => {
    const { id: mediaId } = await trx
      .insertInto('media')
      .values({
        user_id: c.userId, status: MediaStatus.New, prev_status: null, sources: JSON.stringify(c.sources), options: c.options, notify_url: null,
        benchmark: 0, deleted: 0, description: null, version: c.version, created_at: now,
        parent_media_id: c.parentMediaId, parent_task_id: c.parentTaskId,
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    const { id: taskId } = await trx
      .insertInto('task')
      .values({ media_id: mediaId, position: 0, output: 'qc_check', format: c.format, status: TaskStatus.New, created_at: now })
      .returning('id')
      .executeTakeFirstOrThrow();
    return { mediaId, taskId };
  });
}

/** A media's QC children the user owns, oldest first; optionally of one parent task only. */
export function qcChildrenOf(db: Db, userId: string, parentMediaId: number, parentTaskId?: number): Promise<MediaRow[]> {
  let q = db.selectFrom('media').selectAll().where('parent_media_id', '=', parentMediaId).where('user_id', '=', userId).where('deleted', '=', 0);
  if (parentTaskId !== undefined) q = q.where('parent_task_id', '=', parentTaskId);
  return q.orderBy('id').execute();
}

/** Marks a media's QC children deleted (CancelMedia of the parent). */
export async function deleteQcChildren(db: Db, parentMediaId: number): Promise<void> {
  await db.updateTable('media').set({ deleted: 1 }).where('parent_media_id', '=', parentMediaId).execute();
}
