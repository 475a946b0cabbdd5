import path from 'node:path';
import type { FieldMap } from '../../domain/fields.ts';
import { TaskStatus, isFinalMedia } from '../../domain/status.ts';
import * as repo from '../../store/repo.ts';
import { mediaVersion } from '../../store/changes.ts';
import { redactFields, redactText, redactUrl } from '../../transfer/redact.ts';
import { mediaDirs } from '../../domain/layout.ts';
import { destinationForLayout, keepsLayout, layoutMain, sidecarDestinations } from '../../domain/destinations.ts';
import { sidecarTail } from '../../domain/captions.ts';
import { storyboardListing, storyboardOf } from '../../domain/storyboard.ts';
import { ApiError, ErrorText } from '../errors.ts';
import { idFilter, mediaIdFrom, mediaIdOf, positiveInt, required, scalar, taskIdOf, yesNo } from '../query.ts';
import { alwaysList, interleave, qcReportWire, settle, warningsWire, wireDate, wirePercent, wireQuality, type Wire, type WireObject } from '../wire/render.ts';
import { WARNING_PREFIX } from './media.ts';
import type { QcReport } from '../../domain/qc.ts';
import { parseQuality } from '../../domain/quality.ts';
import { shortKey } from '../../domain/output-cache.ts';
import type { Action, ActionContext } from './context.ts';
import { LIST_DATE_FORMS, PER_PAGE, listDate } from '../../domain/media-list.ts';

/** Keys a status reply sets itself; a format field with the same name is not echoed over them. */
const RESERVED_TASK_KEYS = new Set(['id', 'status', 'created', 'started', 'finished', 'destination', 'destination_status', 's3_destination', 'task_status', 'convertedsize', 'description', 'qc_media', 'qc_report', 'quality_report', 'cache']);

interface StatusOptions {
  extended: boolean;
  includeLog: boolean;
  /** include_qc_task_status: each QC child's state log beside its link. */
  includeQc: boolean;
}

export const getStatus: Action = async (ctx) => {
  const q = ctx.query;
  const extended = yesNo(q, 'extended');
  const opts: StatusOptions = { extended, includeLog: yesNo(q, 'include_task_status'), includeQc: yesNo(q, 'include_qc_task_status') };
  const text = required(q, 'mediaid', ErrorText.noMediaId);
  const ids = text.split(',').map((s) => s.trim()).filter(Boolean).map(mediaIdFrom);
  if (ids.length === 0) throw new ApiError(ErrorText.noMediaId);
  if (!extended) {
    // Simple mode answers for the first id only, directly under <response> (7.8 rule 10).
    return statusOf(ctx, ids[0]!, opts);
  }
  if (ids.length > 100) throw new ApiError(ErrorText.badValue('mediaid', 'may list at most 100 ids.'));
  if (ids.length === 1) return oneJob(await statusOf(ctx, ids[0]!, opts));
  const jobs: WireObject[] = [];
  for (const id of ids) jobs.push(await statusOf(ctx, id, opts));
  return { job: jobs };
};

/** Extended replies of one media, each kept with the status it wraps, so a cached status is rendered once here too. */
const singleJobs = new WeakMap<WireObject, WireObject>();
function oneJob(status: WireObject): WireObject {
  let reply = singleJobs.get(status);
  if (!reply) singleJobs.set(status, (reply = settle({ job: [status] })));
  return reply;
}

/** One media's status, from the cache while the media's version in the change feed is the one it was built at. */
async function statusOf(ctx: ActionContext, id: number, opts: StatusOptions): Promise<WireObject> {
  // Notifications are still being delivered after a media ends, and their attempts are not in
  // the change feed, so a reply that lists them (include_task_status) is never cached.
  const version = opts.includeLog ? undefined : await mediaVersion(ctx.db, ctx.user.id, id);
  const key = `${id}:${opts.extended ? 1 : 0}${opts.includeQc ? 1 : 0}`;
  if (version) {
    const cached = ctx.statusCache.get(key, version, ctx.user.id);
    if (cached) return cached;
  }
  const media = await repo.findMedia(ctx.db, ctx.user.id, id);
  if (!media) throw new ApiError(ErrorText.mediaNotFound(id));
  const { value, showsOtherMedia } = await buildStatus(ctx, media, opts);
  // A QC child's changes are its own in the feed, not its parent's: a reply showing one is built afresh.
  if (version && !showsOtherMedia) ctx.statusCache.set(key, version, media.user_id, value);
  return value;
}

async function buildStatus(ctx: ActionContext, found: repo.MediaRow, opts: StatusOptions): Promise<{ value: WireObject; showsOtherMedia: boolean }> {
  // A running media's progress is read with its tasks' from one snapshot, so they agree.
  const running = opts.extended && !isFinalMedia(found.status) ? await repo.mediaWithTasks(ctx.db, found.id) : null;
  const m = running?.media ?? found;
  const tasks = running ? running.tasks : await repo.getTasks(ctx.db, m.id);
  const taskIds = tasks.map((t) => t.id);
  const destinations = await repo.getDestinations(ctx.db, taskIds);
  const logs = opts.includeLog ? await repo.getTaskLogs(ctx.db, taskIds) : null;
  // With the task logs read already, the warnings that start them come from there, not from another query.
  const warningLines = !opts.extended ? [] : logs ? [...logs.values()].flat().map((l) => l.message) : await repo.getLogLinesStartingWith(ctx.db, taskIds, WARNING_PREFIX);
  const warnings = fieldWarnings(warningLines);
  const notifications = opts.includeLog ? await notificationsOf(ctx, m.id, destinations) : undefined;
  const qc = await qcChildren(ctx, m, opts.includeQc);
  const value: WireObject = {
    id: String(m.id),
    userid: m.user_id,
    version: m.version,
    sourcefile: sourcesOf(m),
    status: m.status,
    prevstatus: m.prev_status ?? '',
    notifyurl: m.notify_url ? redactUrl(m.notify_url) : '',
    created: wireDate(m.created_at),
    started: wireDate(m.started_at),
    finished: wireDate(m.finished_at),
    downloaded: wireDate(m.downloaded_at),
    uploaded: wireDate(m.uploaded_at),
    filesize: opts.extended && m.source_bytes !== null ? String(m.source_bytes) : undefined,
    time_left: String(m.time_left),
    progress: wirePercent(m.progress),
    time_left_current: String(m.time_left_current),
    progress_current: wirePercent(m.progress_current),
    description: m.description ? redactText(m.description) : undefined,
    // A QC child names the media and task whose output it checks.
    parent_mediaid: m.parent_media_id !== null ? String(m.parent_media_id) : undefined,
    parent_taskid: m.parent_task_id !== null ? String(m.parent_task_id) : undefined,
    format: tasks.map((t) => ({ ...taskOf(ctx, t, destinations.get(t.id) ?? [], logs?.get(t.id), opts), ...qcOfTask(t, qc) })),
    notifications,
    warnings: warningsWire(warnings),
  };
  return { value, showsOtherMedia: qc.size > 0 };
}

/** The field warnings AddMedia gave (they start the task logs), each once. */
function fieldWarnings(lines: string[]): string[] {
  return [...new Set(lines.filter((l) => l.startsWith(WARNING_PREFIX)).map((l) => l.slice(WARNING_PREFIX.length)))];
}

/** A media's QC children (the user's own only) with their task logs when asked, by parent task. */
async function qcChildren(ctx: ActionContext, m: repo.MediaRow, withLogs: boolean): Promise<Map<number, WireObject[]>> {
  const byTask = new Map<number, WireObject[]>();
  // A QC child has no children of its own: no query for it.
  if (m.parent_media_id !== null) return byTask;
  const children = await repo.qcChildrenOf(ctx.db, ctx.user.id, m.id);
  for (const c of children) {
    const list = byTask.get(c.parent_task_id ?? 0) ?? [];
    list.push(await qcLink(ctx, c, withLogs));
    byTask.set(c.parent_task_id ?? 0, list);
  }
  return byTask;
}

/** One QC child as its parent shows it: id, status, why it failed, and its log when asked. */
async function qcLink(ctx: ActionContext, c: repo.MediaRow, withLogs: boolean): Promise<WireObject> {
  let state: WireObject[] | undefined;
  if (withLogs) {
    const tasks = await repo.getTasks(ctx.db, c.id);
    const logs = await repo.getTaskLogs(ctx.db, tasks.map((t) => t.id));
    state = tasks.flatMap((t) => (logs.get(t.id) ?? []).map((s) => ({ time: wireDate(s.at), message: redactText(s.message) })));
  }
  return {
    mediaid: String(c.id),
    status: c.status,
    description: c.status === 'Error' ? redactText(c.description ?? 'error') : undefined,
    task_status: state ? { state } : undefined,
  };
}

/** The QC fields of one format: its children's links (a parent) or its report (a QC child). */
function qcOfTask(t: repo.TaskRow, qc: Map<number, WireObject[]>): WireObject {
  return {
    qc_media: qc.get(t.id),
    qc_report: t.qc_report ? qcReportWire(JSON.parse(t.qc_report) as QcReport) : undefined,
  };
}

/**
 * Every notification of the media with every delivery attempt (an Encodery addition, shown with
 * include_task_status). Names differ from the status fields clients read (`status`, `progress`,
 * `destination`, `state`), so a client that reads those anywhere in the document is not misled.
 */
async function notificationsOf(ctx: ActionContext, mediaId: number, destinations: Map<number, repo.DestinationRow[]>): Promise<WireObject | undefined> {
  const rows = await repo.notificationsOf(ctx.db, mediaId);
  if (rows.length === 0) return undefined;
  const attempts = await repo.notificationAttemptsOf(ctx.db, mediaId);
  const destUrl = new Map([...destinations.values()].flat().map((d) => [d.id, d.url]));
  return {
    notification: rows.map((n) => {
      const forDest = n.destination_id !== null ? destUrl.get(n.destination_id) : undefined;
      return {
        kind: n.kind,
        url: redactUrl(n.url),
        taskid: n.task_id !== null ? String(n.task_id) : undefined,
        destination_url: forDest !== undefined ? redactUrl(forDest) : undefined,
        delivery: n.state,
        attempt: (attempts.get(n.id) ?? []).map((a) => ({
          time: wireDate(a.at),
          http_status: a.http_status !== null ? String(a.http_status) : undefined,
          error: a.error ?? undefined,
          duration_ms: String(a.duration_ms),
        })),
      };
    }),
  };
}

function taskOf(ctx: ActionContext, t: repo.TaskRow, dests: repo.DestinationRow[], log: repo.TaskLogRow[] | undefined, opts: StatusOptions): WireObject {
  const echoed: WireObject = {};
  for (const [key, value] of Object.entries(redactFields(JSON.parse(t.format) as FieldMap))) if (!RESERVED_TASK_KEYS.has(key)) echoed[key] = value;
  // go-encodingcom decodes a format's `stream` into a slice: one stream must still be a JSON array.
  if (echoed.stream !== undefined) echoed.stream = alwaysList(Array.isArray(echoed.stream) ? echoed.stream : [echoed.stream]);
  return {
    id: String(t.id),
    status: t.status,
    created: wireDate(t.created_at),
    started: wireDate(t.started_at),
    finished: wireDate(t.finished_at),
    ...echoed,
    output: t.output,
    description: t.status === TaskStatus.Error ? redactText(t.description ?? 'error') : undefined,
    s3_destination: keptLinks(ctx, t),
    destinations: interleave(['destination', 'destination_status'], destinationRows(t, dests)),
    convertedsize: t.converted_size !== null ? String(t.converted_size) : undefined,
    ...(opts.extended ? extendedTask(t) : {}),
    task_status: log ? { state: log.map((s) => ({ time: wireDate(s.at), message: redactText(s.message) })) } : undefined,
  };
}

/**
 * Per-task progress appears only in extended mode (7.8 rule 14): the task's whole run and its
 * current status step, as the worker's tracker last wrote them (pipeline/progress.ts).
 */
function extendedTask(t: repo.TaskRow): WireObject {
  return {
    time_left: String(t.time_left),
    progress: wirePercent(t.progress),
    time_left_current: String(t.time_left_current),
    progress_current: wirePercent(t.progress_current),
    converttime: t.started_at && t.finished_at ? String(Math.round((t.finished_at - t.started_at) / 1000)) : '0',
    command: t.command ? redactText(t.command) : undefined,
    cpu_time: t.cpu_sec !== null ? t.cpu_sec.toFixed(2) : undefined,
    speed: t.speed !== null ? t.speed.toFixed(2) : undefined,
    // Stored when the output was encoded (pipeline/quality/): nothing is measured on this path.
    // Not `quality`: that is a thumbnail and image format field, echoed above.
    quality_report: wireQuality(parseQuality(t.quality)),
    // Delivered from the output cache (pipeline/cache/): nothing was encoded for this media.
    cache: t.cache_state === 'hit' && t.cache_key ? `cache hit ${shortKey(t.cache_key)}` : undefined,
  };
}

/**
 * The destination list. A multi-file output (HLS) names, per destination, its media playlists
 * and then the master (reference 4.6), each with that destination's status; before the encode
 * has listed its files, and for every other output, just the destination. Caption sidecars
 * follow, beside the main file.
 */
function destinationRows(t: repo.TaskRow, dests: repo.DestinationRow[]): [string, string][] {
  const files = layoutFiles(t);
  const board = storyboardOf(t.output, t.format);
  if (board && t.outputs) {
    // A storyboard's VTT is named beside the sheets or at vtt_destination (its own row).
    const vtt = path.basename((JSON.parse(t.outputs) as string[]).at(-1) ?? '');
    const listed = storyboardListing(board, dests.map((d) => d.url), vtt);
    return dests.flatMap((d, i) => (listed[i] ?? [d.url]).map((u): [string, string] => [redactUrl(u), d.status]));
  }
  // Caption sidecars (closed_captions extract) are listed after the output, beside it.
  // Most tasks have none: their file lists are not walked again for them.
  const relative = t.outputs?.includes('closed_captions') ? (files ?? taskRelative(t)) : [];
  const sidecars = (d: repo.DestinationRow): [string, string][] => sidecarDestinations(t.output, relative, d.url).map((s) => [redactUrl(s.url), d.status]);
  if (!files) return dests.flatMap((d): [string, string][] => [[redactUrl(d.url), d.status], ...sidecars(d)]);
  const own = relative.length > 0 ? files.filter((f) => sidecarTail(f) === null) : files;
  return dests.flatMap((d) => {
    const main = own[layoutMain(t.output, own, d.url)]!;
    const manifests = own.filter((f) => f !== main && MANIFEST.test(f));
    return [...[...manifests, main].map((f): [string, string] => [redactUrl(destinationForLayout(d.url, f, main)), d.status]), ...sidecars(d)];
  });
}

/** HLS playlists, DASH MPDs, and the archives of a packed output (pack_each_stream). */
const MANIFEST = /\.(m3u8|mpd|tar|zip)$/i;

/** A layout-keeping task's files relative to its folder, main file last; null for other tasks. */
function layoutFiles(t: repo.TaskRow): string[] | null {
  if (!keepsLayout(t.output) || !t.outputs) return null;
  const files = taskRelative(t);
  return files.length > 0 ? files : null;
}

/** A task's recorded output files, relative to its own folder, with `/` separators. */
function taskRelative(t: repo.TaskRow): string[] {
  const folder = mediaDirs('', t.media_id).task(t.id);
  return (JSON.parse(t.outputs ?? '[]') as string[]).map((f) => path.relative(folder, f).split(path.sep).join('/'));
}

/** Links to outputs kept on this server; for a multi-file output, to its main file only. */
function keptLinks(ctx: ActionContext, t: repo.TaskRow): Wire[] | undefined {
  if (!t.download_token || !t.outputs) return undefined;
  const files = taskRelative(t);
  // A layout's top-level manifests (CMAF has an HLS master and an MPD), main last.
  const top = files.filter((f) => !f.includes('/') && MANIFEST.test(f));
  const shown = keepsLayout(t.output) ? (top.length > 0 ? top : files.slice(-1)) : files;
  return shown.map((f) => `${ctx.publicUrl()}/download/${t.download_token}/${f.split('/').map(encodeURIComponent).join('/')}`);
}

function sourcesOf(m: repo.MediaRow): string[] {
  return (JSON.parse(m.sources) as string[]).map(redactUrl);
}

export const getTaskStatus: Action = async (ctx) => {
  const mediaId = mediaIdOf(ctx.query);
  const taskId = taskIdOf(ctx.query);
  const includeQc = yesNo(ctx.query, 'include_qc');
  const media = await repo.findMedia(ctx.db, ctx.user.id, mediaId);
  if (!media) throw new ApiError(ErrorText.mediaNotFound(mediaId));
  const task = await repo.getTask(ctx.db, taskId);
  if (!task || task.media_id !== media.id) throw new ApiError(ErrorText.taskNotFound(taskId));
  const log = (await repo.getTaskLogs(ctx.db, [taskId])).get(taskId) ?? [];
  return {
    list: {
      mediaid: String(media.id),
      taskid: String(task.id),
      status: task.status,
      progress: wirePercent(task.progress),
      state: log.map((s) => ({ time: wireDate(s.at), message: redactText(s.message) })),
      qc_media: includeQc ? nonEmpty(await Promise.all((await repo.qcChildrenOf(ctx.db, ctx.user.id, media.id, task.id)).map((c) => qcLink(ctx, c, true)))) : undefined,
    },
  };
};

const SORTS: Record<string, repo.MediaListFilter['sort']> = {
  media_id: 'id',
  user: 'user_id',
  source: 'sources',
  status: 'status',
  queue_time: 'created_at',
  created: 'created_at',
  started: 'started_at',
  finished: 'finished_at',
};

export const getMediaList: Action = async (ctx) => {
  const q = ctx.query;
  const version = scalar(q, 'version') || '1';
  if (!['1', '2', '3'].includes(version)) throw new ApiError(ErrorText.badValue('version', 'must be 1, 2 or 3.'));
  if (version !== '3') {
    const { rows } = await repo.listMedia(ctx.db, { userId: ctx.user.id, sort: 'id', order: 'asc' });
    return {
      media: alwaysList(
        rows.map((m) => ({
          mediafile: sourcesOf(m)[0] ?? '',
          mediaid: String(m.id),
          mediastatus: m.status,
          createdate: wireDate(m.created_at),
          startdate: wireDate(m.started_at),
          finishdate: wireDate(m.finished_at),
          closeddate: version === '2' ? wireDate(m.finished_at) : undefined,
        })),
      ),
    };
  }
  const page = positiveInt(scalar(q, 'page') || '1', 'page');
  const perPage = positiveInt(scalar(q, 'per_page') || String(PER_PAGE.default), 'per_page');
  if (perPage < PER_PAGE.min || perPage > PER_PAGE.max) throw new ApiError(ErrorText.badValue('per_page', `must be between ${PER_PAGE.min} and ${PER_PAGE.max}.`));
  const sortName = scalar(q, 'sort') || 'media_id';
  const sort = SORTS[sortName];
  if (!sort) throw new ApiError(ErrorText.badValue('sort', `must be one of ${Object.keys(SORTS).join(', ')}.`));
  const order = (scalar(q, 'order') || 'asc').toLowerCase();
  if (order !== 'asc' && order !== 'desc') throw new ApiError(ErrorText.badValue('order', 'must be asc or desc.'));
  const mediaId = scalar(q, 'mediaid');
  const taskId = scalar(q, 'taskid');
  const filter: repo.MediaListFilter = {
    userId: ctx.user.id,
    sort,
    order,
    limit: perPage,
    offset: (page - 1) * perPage,
    mediaId: mediaId ? idFilter(mediaId, 'mediaid') : undefined,
    taskId: taskId ? idFilter(taskId, 'taskid') : undefined,
    output: scalar(q, 'output') || undefined,
    status: scalar(q, 'status') || undefined,
    source: scalar(q, 'source')?.slice(0, 200) || undefined,
    dateFrom: parseDate(scalar(q, 'date_from'), 'date_from', false),
    dateTo: parseDate(scalar(q, 'date_to'), 'date_to', true),
  };
  const params = (scalar(q, 'format_params') || '').split(',').map((s) => s.trim()).filter(Boolean);
  const { rows, total } = await repo.listMedia(ctx.db, filter);
  const media: WireObject[] = [];
  for (const m of rows) {
    const item: WireObject = {
      id: String(m.id),
      userid: m.user_id,
      sourcefile: sourcesOf(m),
      status: m.status,
      created: wireDate(m.created_at),
      started: wireDate(m.started_at),
      finished: wireDate(m.finished_at),
      progress: wirePercent(m.progress),
    };
    if (params.length > 0) {
      const tasks = await repo.getTasks(ctx.db, m.id);
      item.format = tasks.map((t) => {
        const fields = redactFields(JSON.parse(t.format) as FieldMap);
        const out: WireObject = { id: String(t.id), output: t.output, status: t.status };
        for (const p of params) if (fields[p] !== undefined && !(p in out)) out[p] = fields[p];
        return out;
      });
    }
    media.push(item);
  }
  return {
    pagination: { per_page: String(perPage), page: String(page), count: String(rows.length), total: String(total), pages: String(Math.ceil(total / perPage)) },
    media: alwaysList(media),
  };
};

/** `YYYY-MM-DD` or `YYYY-MM-DD HH:MM:SS`, UTC. A bare date_to covers the whole day. */
function parseDate(text: string | undefined, field: string, endOfDay: boolean): number | undefined {
  if (!text) return undefined;
  const ms = listDate(text, endOfDay);
  if (ms === null) throw new ApiError(ErrorText.badValue(field, `must be a date like ${LIST_DATE_FORMS}.`));
  return ms;
}

/** An empty list renders as `[]` in JSON, which clients read as a value: leave it out instead. */
const nonEmpty = <T>(list: T[]): T[] | undefined => (list.length > 0 ? list : undefined);
