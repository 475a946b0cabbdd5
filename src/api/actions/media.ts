import fs from 'node:fs/promises';
import path from 'node:path';
import { single, type FieldMap, type FieldValue } from '../../domain/fields.ts';
import { editingUrls, parseFormat, withoutEmptyBlocks, type OutputSpec } from '../../domain/format.ts';
import { sourceClipProblem } from '../../domain/source-clip.ts';
import { builtInPreset, mergeUnder, presetFields, PRESET_NAME, type Preset } from '../../domain/presets.ts';
import { DestinationStatus, MediaStatus, TaskStatus, isDestinationError, isFinalMedia, isFinalTask } from '../../domain/status.ts';
import type { RestartPlan } from '../../store/lifecycle.ts';
import { checkUrl, lexicallyInside } from '../../transfer/index.ts';
import { parseSplitScreen } from '../../domain/split-screen.ts';
import * as repo from '../../store/repo.ts';
import { mediaDirs } from '../../domain/layout.ts';
import { ApiError, ErrorText } from '../errors.ts';
import { many, mediaIdOf, scalar, taskIdOf, yesNo } from '../query.ts';
import { isXmlName, warningsWire, type WireObject } from '../wire/render.ts';
import { checkFormat, checkQuery, unknownRefusal, unknownWarnings, type FieldReport } from '../../domain/field-check.ts';
import type { Action, ActionContext } from './context.ts';
import { VERSION } from '../../version.ts';
import { parsePriority } from '../../domain/priority.ts';
import { parseQc } from '../../domain/qc.ts';

/** Top-level fields that are not options of the media itself. */
const NOT_OPTIONS = new Set(['userid', 'userkey', 'action', 'source', 'format', 'mediaid']);
const NOTIFY_FIELDS = ['notify', 'notify_encoding_errors', 'notify_upload', 'qc_notify', 'qc_start_notify'];
const MAX_SOURCES = 50;
export const MAX_FORMATS = 100;
/** Presets one user may keep (SavePreset and save_preset), so that GetPresetsList stays small. */
const MAX_PRESETS_PER_USER = 1000;

export const addMedia: Action = (ctx) => createMedia(ctx, false);
export const addMediaBenchmark: Action = (ctx) => createMedia(ctx, true);

/**
 * Every check AddMedia makes, and nothing stored or queued: the dashboard's form asks it before
 * adding, so its errors are the API's own, word for word.
 */
export const checkAddMedia: Action = async (ctx) => {
  const plan = await planMedia(ctx, false);
  return { message: 'Valid', warnings: warningsWire(unknownWarnings(plan.unknown)) };
};

interface MediaPlan {
  sources: string[];
  tasks: repo.NewTask[];
  options: FieldMap;
  presets: repo.NewPreset[];
  unknown: FieldReport;
}

/** AddMedia's query, checked whole before anything is stored. */
async function planMedia(ctx: ActionContext, benchmark: boolean): Promise<MediaPlan> {
  const { query } = ctx;
  const unknown = checkFields(ctx);
  const sources = many(query, 'source').map((s) => {
    if (typeof s !== 'string') throw new ApiError(ErrorText.wrongShape('source', 'a URL'));
    return s.trim();
  });
  if (sources.length === 0 || sources.some((s) => s === '')) throw new ApiError(ErrorText.noSource);
  for (const s of sources) checkLocation(ctx, s, 'source');
  for (const [i, s] of sources.entries()) {
    const clip = sourceClipProblem(s, i, sources.length);
    if (clip) throw new ApiError(clip);
  }
  const formats = many(query, 'format');
  if (formats.length === 0 && !benchmark) throw new ApiError(ErrorText.noFormat);
  if (sources.length > MAX_SOURCES) throw new ApiError(ErrorText.badValue('source', `may be given at most ${MAX_SOURCES} times.`));
  const split = parseSplitScreen(query['split_screen'], sources.length);
  if (!split.ok) throw new ApiError(split.error);
  if (formats.length > MAX_FORMATS) throw new ApiError(ErrorText.badValue('format', `may be given at most ${MAX_FORMATS} times.`));
  const mediaQc = parseQc({}, query);
  if (!mediaQc.ok) throw new ApiError(mediaQc.error);
  const validated = await validateFormats(ctx, formats);
  const tasks = withWarnings(validated.map((v) => v.task), unknown);
  const options = validateOptions(query);
  for (const name of NOTIFY_FIELDS) {
    const url = scalar(query, name);
    if (url) checkLocation(ctx, url, 'notify', '', name);
  }
  // save_preset: checked with everything else, then saved in the media's own transaction, so
  // the media and its presets are created together or not at all.
  const presets = await presetsToSave(ctx, validated);
  return { sources, tasks, options, presets, unknown };
}

async function createMedia(ctx: ActionContext, benchmark: boolean): Promise<WireObject> {
  const { query } = ctx;
  const { sources, tasks, options, presets, unknown } = await planMedia(ctx, benchmark);
  const names = presets.map((p) => p.name);
  const id = await repo.insertMedia(ctx.db, {
    userId: ctx.user.id,
    sources,
    options: JSON.stringify(options),
    notifyUrl: scalar(query, 'notify') || null,
    benchmark,
    version: VERSION,
    status: MediaStatus.New,
    tasks,
    presets,
  });
  try {
    await ctx.queue.enqueue(id);
  } catch (err) {
    // Not queued means not added: the client is told so and may send it again.
    await repo.updateMedia(ctx.db, id, { deleted: 1 });
    throw err;
  }
  ctx.log.info({ mediaId: id, tasks: tasks.length, benchmark, savedPresets: names.length, unknownFields: unknown.unknown.length + unknown.moreUnknown }, 'media added');
  return { message: 'Added', MediaID: String(id), mediaid: String(id), SavedPreset: savedPresetWire(presets), warnings: warningsWire(unknownWarnings(unknown)) };
}

export const processMedia: Action = async (ctx) => {
  const media = await mediaOf(ctx);
  if (media.status !== MediaStatus.ReadyToProcess) {
    // A benchmark media still fetching its source will be ready soon: say what to wait for.
    if (media.benchmark && !isFinalMedia(media.status)) {
      throw new ApiError(`Media ${media.id} is not ready to process yet (status: ${media.status}); wait until GetStatus shows "${MediaStatus.ReadyToProcess}", then send ProcessMedia again.`);
    }
    throw new ApiError(`Media ${media.id} is not ready to process (status: ${media.status}); ProcessMedia is for media added with AddMediaBenchmark.`);
  }
  const unknown = checkFields(ctx);
  const formats = many(ctx.query, 'format');
  const validated = await validateFormats(ctx, formats);
  const tasks = withWarnings(validated.map((v) => v.task), unknown);
  if (tasks.length === 0 && (await repo.getTasks(ctx.db, media.id)).length === 0) throw new ApiError(ErrorText.noFormat);
  const presets = await presetsToSave(ctx, validated);
  await ctx.lifecycle.batch(async (tx) => {
    if (tasks.length > 0) await repo.replaceTasks(tx.trx, media.id, tasks, { userId: ctx.user.id, items: presets });
    await tx.media(media.id, MediaStatus.WaitingForEncoder, { patch: { benchmark: 0 } });
  });
  await ctx.queue.enqueue(media.id);
  return { message: 'Started', SavedPreset: savedPresetWire(presets), warnings: warningsWire(unknownWarnings(unknown)) };
};

export const updateMedia: Action = async (ctx) => {
  const media = await mediaOf(ctx);
  const unknown = checkFields(ctx);
  const formats = many(ctx.query, 'format');
  if (formats.length === 0) throw new ApiError(ErrorText.noFormat);
  const validated = await validateFormats(ctx, formats);
  const tasks = withWarnings(validated.map((v) => v.task), unknown);
  const notify = scalar(ctx.query, 'notify');
  if (notify) checkLocation(ctx, notify, 'notify');
  const presets = await presetsToSave(ctx, validated);
  await ctx.queue.abort(media.id, 'update');
  await fs.rm(mediaDirs(ctx.config.dataDir, media.id).outputs, { recursive: true, force: true });
  await ctx.storage?.removeMedia(media.id, ctx.log);
  // A media waiting for ProcessMedia keeps waiting, with its new formats.
  const waiting = media.status === MediaStatus.ReadyToProcess;
  await ctx.lifecycle.batch(async (tx) => {
    await repo.replaceTasks(tx.trx, media.id, tasks, { userId: ctx.user.id, items: presets });
    await tx.media(media.id, waiting ? MediaStatus.ReadyToProcess : MediaStatus.New, { patch: { ...RESTARTED, ...(notify ? { notify_url: notify } : {}) } });
  });
  if (!waiting) await ctx.queue.enqueue(media.id);
  return { message: 'Updated', SavedPreset: savedPresetWire(presets), warnings: warningsWire(unknownWarnings(unknown)) };
};

export const cancelMedia: Action = async (ctx) => {
  const media = await mediaOf(ctx);
  await ctx.queue.abort(media.id, 'cancel');
  await repo.updateMedia(ctx.db, media.id, { deleted: 1 });
  // Its QC children only describe its outputs: they go with it.
  await repo.deleteQcChildren(ctx.db, media.id);
  const dirs = mediaDirs(ctx.config.dataDir, media.id);
  await Promise.all([dirs.scratch, dirs.outputs].map((d) => fs.rm(d, { recursive: true, force: true })));
  await ctx.storage?.removeMedia(media.id, ctx.log);
  return { message: 'Deleted' };
};

export const stopMedia: Action = async (ctx) => {
  const media = await mediaOf(ctx);
  if (isFinalMedia(media.status)) throw new ApiError(`Media ${media.id} has already ended (${media.status}); there is nothing to stop.`);
  await ctx.queue.abort(media.id, 'stop');
  // The run may have ended the media while it was being stopped: then there is nothing to stop.
  const ended = await ctx.lifecycle.stop(media.id);
  if (ended === null) {
    const now = await repo.getMedia(ctx.db, media.id);
    throw new ApiError(`Media ${media.id} has already ended (${now?.status ?? 'gone'}); there is nothing to stop.`);
  }
  return { message: 'Stopped' };
};

export const restartMedia: Action = async (ctx) => {
  const media = await mediaOf(ctx);
  await ctx.queue.abort(media.id, 'restart');
  const plan = await resetPlan(ctx, await repo.getTasks(ctx.db, media.id), false);
  await fs.rm(mediaDirs(ctx.config.dataDir, media.id).outputs, { recursive: true, force: true });
  await ctx.storage?.removeMedia(media.id, ctx.log);
  await restart(ctx, media, plan, 'RestartMedia');
  return { message: 'Restarted' };
};

export const restartMediaErrors: Action = async (ctx) => {
  const media = await mediaOf(ctx);
  await ctx.queue.abort(media.id, 'restart');
  const tasks = await repo.getTasks(ctx.db, media.id);
  const destinations = await repo.getDestinations(ctx.db, tasks.map((t) => t.id));
  const failed = tasks.filter((t) => t.status === TaskStatus.Error || (destinations.get(t.id) ?? []).some((d) => isDestinationError(d.status)));
  if (failed.length === 0 && media.status !== MediaStatus.Error) {
    if (!isFinalMedia(media.status)) await ctx.queue.enqueue(media.id);
    throw new ApiError(`Media ${media.id} has no failed tasks to restart.`);
  }
  await restart(ctx, media, await resetPlan(ctx, failed, true), 'RestartMediaErrors');
  return { message: 'Restarted' };
};

export const restartMediaTask: Action = async (ctx) => {
  const media = await mediaOf(ctx);
  const taskId = taskIdOf(ctx.query);
  const task = await repo.getTask(ctx.db, taskId);
  if (!task || task.media_id !== media.id) throw new ApiError(ErrorText.taskNotFound(taskId));
  await ctx.queue.abort(media.id, 'restart');
  await restart(ctx, media, await resetPlan(ctx, [task], true), `RestartMediaTask ${taskId}`);
  return { message: 'Task restarted' };
};

// --- shared pieces ------------------------------------------------------------------------

/**
 * The field registry's verdict on the whole query (domain/field-check.ts), before anything is
 * stored: a refused field is an error, and so is an unknown one in strict mode
 * (ENCODERY_STRICT_FIELDS, or `strict=yes`); otherwise the unknown fields are returned, to warn about.
 */
export function checkFields(ctx: ActionContext): FieldReport {
  const report = checkQuery(ctx.query);
  if (report.refused.length > 0) throw new ApiError(report.refused.join(' '));
  if (report.unknown.length > 0 && (ctx.config.strictFields || yesNo(ctx.query, 'strict'))) {
    const more = report.moreUnknown > 0 ? ` (and ${report.moreUnknown} more)` : '';
    throw new ApiError(`Fields Encodery would ignore are refused (strict mode): ${report.unknown.map(unknownRefusal).join('. ')}${more}. Remove or correct them.`);
  }
  return report;
}

/** Each task's log starts with the warnings about its format and about the query's top level. */
function withWarnings(tasks: repo.NewTask[], report: FieldReport): repo.NewTask[] {
  return tasks.map((t, i) => {
    const own = report.unknown.filter((u) => u.format === null || u.format === i);
    const lines = unknownWarnings({ unknown: own, moreUnknown: i === 0 ? report.moreUnknown : 0 }).map((w) => `${WARNING_PREFIX}${w}`);
    return lines.length > 0 ? { ...t, log: lines } : t;
  });
}

/** How a field warning starts in a task log, where extended GetStatus finds it again. */
export const WARNING_PREFIX = 'Warning: ';

async function mediaOf(ctx: ActionContext): Promise<repo.MediaRow> {
  const id = mediaIdOf(ctx.query);
  const media = await repo.findMedia(ctx.db, ctx.user.id, id);
  if (!media) throw new ApiError(ErrorText.mediaNotFound(id));
  return media;
}

/** What UpdateMedia clears besides the tasks, as a restart does. */
const RESTARTED = {
  description: null, started_at: null, finished_at: null, uploaded_at: null, progress: 0, progress_current: 0, time_left: 0, time_left_current: 0,
} satisfies repo.MediaPatch;

/** The restart cascade: the planned tasks and the media back to New in one transaction, then queued. */
async function restart(ctx: ActionContext, media: repo.MediaRow, plan: Omit<RestartPlan, 'log'>, why: string): Promise<void> {
  await ctx.lifecycle.restart(media.id, { ...plan, log: `${why}: media status New` });
  await ctx.queue.enqueue(media.id);
}

/**
 * How each task goes back to work. A task whose encode finished but which is missing from a
 * destination (Finished with some destinations failed, or Error because none was saved) only
 * re-delivers to those, from the output kept on disk; anything else is encoded again (its
 * copy in the shared storage is removed first).
 */
async function resetPlan(ctx: ActionContext, tasks: repo.TaskRow[], keepEncodedOutput: boolean): Promise<Omit<RestartPlan, 'log'>> {
  const plan: Omit<RestartPlan, 'log'> = { redeliver: [], reencode: [] };
  const destinations = await repo.getDestinations(ctx.db, tasks.map((t) => t.id));
  for (const t of tasks) {
    const unsaved = isFinalTask(t.status) && keepEncodedOutput && t.outputs !== null && (destinations.get(t.id) ?? []).some((d) => d.status !== DestinationStatus.Saved);
    if (unsaved && (await outputsExist(ctx, t))) {
      plan.redeliver.push(t.id);
      continue;
    }
    await ctx.storage?.removeTask(t.media_id, t.id, ctx.log);
    plan.reencode.push(t.id);
  }
  return plan;
}

async function outputsExist(ctx: ActionContext, t: repo.TaskRow): Promise<boolean> {
  const files = JSON.parse(t.outputs ?? '[]') as string[];
  if (files.length === 0) return false;
  let local = true;
  for (const f of files) if (!(await fs.stat(path.join(ctx.config.dataDir, f)).catch(() => null))) local = false;
  // In a cluster the worker that re-delivers fetches them from the shared storage.
  return local || ((await ctx.storage?.hasOutputs(t).catch(() => false)) ?? false);
}

interface ValidatedFormat {
  task: repo.NewTask;
  /** The user preset to save from this format (`save_preset`), or null. */
  preset: repo.NewPreset | null;
}

/** Formats in order; the first bad one is the error (preset lookups make this async). */
async function validateFormats(ctx: ActionContext, formats: FieldValue[]): Promise<ValidatedFormat[]> {
  const validated: ValidatedFormat[] = [];
  for (const [i, f] of formats.entries()) validated.push(await validateFormat(ctx, f, i, formats.length));
  return validated;
}

async function validateFormat(ctx: ActionContext, raw: FieldValue, index: number, count: number): Promise<ValidatedFormat> {
  const where = count > 1 ? `Format ${index + 1}: ` : '';
  const map = formatMap(raw, where);
  const destinations = many(map, 'destination').map((d) => {
    if (typeof d !== 'string' || d.trim() === '') throw new ApiError(where + ErrorText.wrongShape('destination', 'a URL'));
    return d.trim();
  });
  for (const d of destinations) checkLocation(ctx, d, 'destination', where);
  const { destination: _omit, ...own } = map;
  // The merged fields are what is stored: the pipeline encodes them and GetStatus echoes them,
  // so a later change to the preset does not change this media.
  const { fields, spec } = await resolveFormat(ctx, own, where);
  const vtt = spec.kind === 'thumbnail' ? spec.storyboard?.destination ?? null : null;
  if (vtt !== null) {
    // The storyboard's VTT is delivered, tracked and listed as one more destination, always the last.
    if (destinations.length === 0) throw new ApiError(`${where}vtt_destination needs a destination for the sprite sheets; add one, or leave vtt_destination out to keep both here.`);
    try {
      checkLocation(ctx, vtt, 'destination');
    } catch (err) {
      if (err instanceof ApiError) throw new ApiError(`${where}vtt_destination: ${err.message}`);
      throw err;
    }
    destinations.push(vtt);
  }
  // QC (domain/qc.ts): the format's own fields, else the media's; original_source is fetched like a source.
  const qc = parseQc(fields, ctx.query);
  if (!qc.ok) throw new ApiError(where + qc.error);
  if (qc.spec?.originalSource) checkLocation(ctx, qc.spec.originalSource, 'source', `${where}qc.qc_video_metrics.original_source: `);
  // Logos, overlays and fonts are fetched like sources, so they pass the same URL rules.
  for (const a of editingUrls(spec)) checkLocation(ctx, a.url, 'source', `${where}${a.field}: `);
  const saveAs = presetNameIn(fields, 'save_preset', where);
  return {
    task: { output: spec.output, format: JSON.stringify(fields), destinations },
    preset: saveAs === null ? null : { name: saveAs, output: spec.output, format: JSON.stringify(presetFields(fields, spec.output)) },
  };
}

/** A `<format>` element as a map whose field names can be echoed as XML elements. */
export function formatMap(raw: FieldValue, where: string): FieldMap {
  const given: FieldMap = raw === '' ? {} : (raw as FieldMap);
  if (typeof given !== 'object' || Array.isArray(given)) throw new ApiError(where + ErrorText.wrongShape('format', 'a set of fields'));
  checkFieldNames(given, where);
  return withoutEmptyBlocks(given);
}

// --- presets inside formats (reference 2.13): output_preset, save_preset ---------------------

/**
 * A format's own fields with the preset it names in `output_preset` merged under them (the
 * format's fields win; `output_preset` itself stays, for the echo), validated by parseFormat.
 */
export async function resolveFormat(ctx: ActionContext, own: FieldMap, where: string): Promise<{ fields: FieldMap; spec: OutputSpec }> {
  const name = presetNameIn(own, 'output_preset', where);
  let fields = own;
  if (name !== null) {
    const preset = await findPreset(ctx, name, 'all');
    if (!preset) throw new ApiError(where + ErrorText.presetNotFound(name));
    // A preset saved before a field was refused must not bring it back.
    const refused = checkFormat(preset.format, 0, `preset "${name}"`).refused;
    if (refused.length > 0) throw new ApiError(where + refused.join(' '));
    fields = mergeUnder(preset.format, own);
  }
  const parsed = parseFormat(fields, { heAac: ctx.config.heAac });
  if (!parsed.ok) throw new ApiError(where + parsed.error);
  return { fields, spec: parsed.spec };
}

export type PresetScope = 'all' | 'user' | 'ui';

/** The user's own preset of that name first, then the built-in one; another user's never. */
export async function findPreset(ctx: ActionContext, name: string, scope: PresetScope): Promise<Preset | undefined> {
  if (scope !== 'ui') {
    const row = await repo.getPreset(ctx.db, ctx.user.id, name);
    if (row) return presetOfRow(row);
  }
  return scope === 'user' ? undefined : builtInPreset(name);
}

export function presetOfRow(row: repo.PresetRow): Preset {
  return { name: row.name, type: 'user', output: row.output, format: JSON.parse(row.format) as FieldMap };
}

/** A preset name in `field` of `map`: null when absent or empty, an error when malformed. */
export function presetNameIn(map: FieldMap, field: string, where = ''): string | null {
  const value = map[field];
  if (value === undefined) return null;
  const one = single(value);
  if (typeof one !== 'string') throw new ApiError(where + ErrorText.wrongShape(field, 'a single preset name'));
  const name = one.trim();
  if (name === '') return null;
  if (!PRESET_NAME.test(name)) throw new ApiError(where + ErrorText.badPresetName(field, name));
  return name;
}

/** The presets a request's formats save with `save_preset`, each name at most once, within the limit. */
async function presetsToSave(ctx: ActionContext, validated: ValidatedFormat[]): Promise<repo.NewPreset[]> {
  const presets = validated.flatMap((v) => (v.preset ? [v.preset] : []));
  const names = presets.map((p) => p.name);
  const twice = names.find((n, i) => names.indexOf(n) !== i);
  if (twice !== undefined) throw new ApiError(ErrorText.badValue('save_preset', `"${twice}" is given by more than one format; give each its own name.`));
  if (presets.length > 0) await checkPresetRoom(ctx, names);
  return presets;
}

/** `SavedPreset`: absent without one; one name a string (go-encodingcom needs one), several a repeated element / JSON array. */
function savedPresetWire(presets: repo.NewPreset[]): string[] | undefined {
  return presets.length > 0 ? presets.map((p) => p.name) : undefined;
}

/** Refuses a save that would take the user over the preset limit (overwrites do not count). */
export async function checkPresetRoom(ctx: ActionContext, names: string[]): Promise<void> {
  const existing = new Set(await repo.listPresetNames(ctx.db, ctx.user.id));
  const added = new Set(names.filter((n) => !existing.has(n)));
  if (existing.size + added.size > MAX_PRESETS_PER_USER) throw new ApiError(ErrorText.tooManyPresets(MAX_PRESETS_PER_USER));
}

/** Format fields are echoed back as XML elements, so their names must be valid ones. */
function checkFieldNames(map: FieldMap, where: string): void {
  for (const [key, value] of Object.entries(map)) {
    if (!isXmlName(key)) throw new ApiError(`${where}Field name ${JSON.stringify(key.slice(0, 40))} is not allowed.`);
    for (const item of Array.isArray(value) ? value : [value]) {
      if (typeof item === 'object' && !Array.isArray(item)) checkFieldNames(item, where);
      if (Array.isArray(item)) throw new ApiError(where + ErrorText.wrongShape(key, 'a value or a list of values'));
    }
  }
}

function validateOptions(query: FieldMap): FieldMap {
  const options: FieldMap = {};
  for (const [key, value] of Object.entries(query)) if (!NOT_OPTIONS.has(key)) options[key] = value;
  checkFieldNames(options, '');
  const notifyFormat = scalar(query, 'notify_format');
  if (notifyFormat && !['xml', 'json'].includes(notifyFormat.toLowerCase())) throw new ApiError(ErrorText.badValue('notify_format', 'must be xml or json.'));
  const bodyFormat = scalar(query, 'notify_body_format');
  if (bodyFormat && !['form', 'form_urlencoded', 'raw'].includes(bodyFormat.toLowerCase())) {
    throw new ApiError(ErrorText.badValue('notify_body_format', 'must be form_urlencoded or raw.'));
  }
  yesNo(query, 'notify_upload_extended');
  const priority = parsePriority(query['priority']);
  if (!priority.ok) throw new ApiError(priority.error);
  return options;
}

function checkLocation(ctx: ActionContext, url: string, role: 'source' | 'destination' | 'notify', where = '', field: string = role): void {
  const allowPrivateNetwork = ctx.config.allowPrivateNetwork;
  if (role === 'notify') {
    if (!/^https?:\/\//i.test(url)) throw new ApiError(ErrorText.badValue(field, 'must be an http:// or https:// URL.'));
    const problem = checkUrl(url, 'destination', { allowPrivateNetwork });
    if (problem) throw new ApiError(ErrorText.badValue(field, problem.replace(/^The destination host/, 'names host') + '.'));
    return;
  }
  const problem = checkUrl(url, role, { allowPrivateNetwork, s3Endpoint: ctx.config.s3Endpoint, s3Region: ctx.config.s3Region });
  if (problem) throw new ApiError(where + problem);
  if (/^file:/i.test(url)) {
    let file: string;
    try {
      file = path.resolve(decodeURIComponent(new URL(url).pathname));
    } catch {
      throw new ApiError(`${where}The ${role} ${url.slice(0, 200)} is not a valid file:// URL.`);
    }
    const roots = ctx.fileRoots(ctx.user.id);
    const usable = role === 'source' ? [...roots.own, ...roots.shared] : roots.own;
    if (!lexicallyInside(usable, file, roots.denied)) {
      const rule = role === 'source' && roots.shared.length > 0
        ? `may read below ${[...roots.own, ...roots.shared].join(', ')} (ENCODERY_FILE_ROOTS, ENCODERY_SHARED_FILE_ROOTS)`
        : `may ${role === 'source' ? 'read' : 'write'} only below ${roots.own.join(', ') || '(no folder)'} (ENCODERY_FILE_ROOTS)`;
      throw new ApiError(`${where}The ${role} file:// path is outside the allowed file roots: user ${ctx.user.id} ${rule}.`);
    }
  }
}
