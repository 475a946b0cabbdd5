import { MediaStatus, isFinalMedia } from '../../../domain/status.ts';
import { sourceClipProblem } from '../../../domain/source-clip.ts';
import { parseSplitScreen } from '../../../domain/split-screen.ts';
import { parseQc } from '../../../domain/qc.ts';
import { unknownWarnings, type FieldReport } from '../../../domain/field-check.ts';
import type { FieldMap } from '../../../domain/fields.ts';
import * as repo from '../../../store/repo.ts';
import { VERSION } from '../../../version.ts';
import { ApiError, ErrorText } from '../../errors.ts';
import { many, scalar } from '../../query.ts';
import { warningsWire, type WireObject } from '../../wire/render.ts';
import type { Action, ActionContext } from '../context.ts';
import { checkLocation } from './locations.ts';
import { earlierMedia, idempotencyOf } from '../idempotency.ts';
import { mediaOf } from './lifecycle.ts';
import { MAX_FORMATS, checkFields, presetsToSave, savedPresetWire, validateFormats, validateOptions, withWarnings } from './validate.ts';

/** AddMedia, AddMediaBenchmark and ProcessMedia: a media checked whole, then stored and queued. */

const NOTIFY_FIELDS = ['notify', 'notify_encoding_errors', 'notify_upload', 'qc_notify', 'qc_start_notify'];
const MAX_SOURCES = 50;

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
  const options = validateOptions(query, ctx);
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
  const idempotency = idempotencyOf(query);
  if (idempotency) {
    const earlier = await earlierMedia(ctx, idempotency);
    if (earlier) return addedReply(earlier, [], checkFields(ctx));
  }
  const { sources, tasks, options, presets, unknown } = await planMedia(ctx, benchmark);
  const names = presets.map((p) => p.name);
  let id: number;
  try {
    id = await repo.insertMedia(ctx.db, {
      userId: ctx.user.id,
      sources,
      options: JSON.stringify(options),
      notifyUrl: scalar(query, 'notify') || null,
      benchmark,
      version: VERSION,
      status: MediaStatus.New,
      tasks,
      presets,
      idempotency: idempotency ?? undefined,
    });
  } catch (err) {
    // A concurrent retry with the same key added the media first: answer that one.
    const first = err instanceof repo.IdempotencyKeyTaken && idempotency ? await earlierMedia(ctx, idempotency) : null;
    if (first) return addedReply(first, [], unknown);
    throw err;
  }
  try {
    await ctx.queue.enqueue(id);
  } catch (err) {
    // Not queued means not added: the client is told so and may send it again, with the same key.
    await repo.updateMedia(ctx.db, id, { deleted: 1 });
    if (idempotency) await repo.releaseIdempotencyKey(ctx.db, ctx.user.id, id);
    throw err;
  }
  ctx.log.info({ mediaId: id, tasks: tasks.length, benchmark, savedPresets: names.length, unknownFields: unknown.unknown.length + unknown.moreUnknown }, 'media added');
  return addedReply(id, presets, unknown);
}

function addedReply(id: number, presets: repo.NewPreset[], unknown: FieldReport): WireObject {
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
