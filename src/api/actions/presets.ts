/**
 * SavePreset, GetPreset, GetPresetsList and DeletePreset (reference 2.11-2.14).
 *
 * A user's presets are theirs alone: every read and write is keyed by the authenticated user, so
 * another user's preset is answered as not found. Built-in `ui` presets are read-only.
 */
import { BUILT_IN_PRESETS, PRESET_NAME, builtInPreset, presetFields, type Preset } from '../../domain/presets.ts';
import * as repo from '../../store/repo.ts';
import { sealSecrets, sealingKeyOf } from '../../domain/sealed.ts';
import { redactFields } from '../../transfer/redact.ts';
import { ApiError, ErrorText } from '../errors.ts';
import { many, scalar } from '../query.ts';
import { alwaysList, warningsWire, type WireObject } from '../wire/render.ts';
import { unknownWarnings } from '../../domain/field-check.ts';
import type { Action, ActionContext } from './context.ts';
import { MAX_FORMATS, checkFields, checkPresetRoom, findPreset, formatMap, presetNameIn, presetOfRow, resolveFormat, type PresetScope } from './media.ts';

/**
 * Each `format` is saved as its own preset. A given `name` creates or replaces that preset
 * (several formats: `name_1`, `name_2`, ...). Without one, the name is the output (`mp4`), or
 * `mp4_1`, `mp4_2`, ... when taken: a derived name never replaces an existing preset.
 */
export const savePreset: Action = async (ctx) => {
  const { unknown, names, prepared } = await planPresets(ctx);
  await repo.savePresets(ctx.db, ctx.user.id, prepared.map((p, i) => ({ ...p, name: names[i]! })));
  ctx.log.info({ presets: names }, 'presets saved');
  // One name is a string (go-encodingcom needs one), several a repeated element / JSON array.
  return { message: 'Saved', SavedPreset: names, warnings: warningsWire(unknownWarnings(unknown)) };
};

/** Every check SavePreset makes, and nothing saved (the dashboard's preset editor asks it). */
export const checkSavePreset: Action = async (ctx) => {
  const { unknown } = await planPresets(ctx);
  return { message: 'Valid', warnings: warningsWire(unknownWarnings(unknown)) };
};

async function planPresets(ctx: ActionContext) {
  const unknown = checkFields(ctx);
  const given = presetNameIn(ctx.query, 'name');
  const formats = many(ctx.query, 'format');
  if (formats.length === 0) throw new ApiError(ErrorText.noFormat);
  if (formats.length > MAX_FORMATS) throw new ApiError(ErrorText.badValue('format', `may be given at most ${MAX_FORMATS} times.`));

  const prepared: { output: string; format: string }[] = [];
  for (const [i, raw] of formats.entries()) {
    const where = formats.length > 1 ? `Format ${i + 1}: ` : '';
    // Destinations belong to a media, not to a preset: dropped without being checked.
    const { destination: _omit, ...own } = formatMap(raw, where);
    const { fields, spec } = await resolveFormat(ctx, own, where);
    // Secret fields are stored sealed, as a media's are; output_preset opens them.
    prepared.push({ output: spec.output, format: JSON.stringify(sealSecrets(presetFields(fields, spec.output), sealingKeyOf(ctx.config))) });
  }

  let names: string[];
  if (given !== null) {
    names = prepared.length === 1 ? [given] : prepared.map((_, i) => `${given}_${i + 1}`);
    const tooLong = names.find((n) => !PRESET_NAME.test(n));
    if (tooLong !== undefined) throw new ApiError(ErrorText.badPresetName('name', tooLong));
  } else {
    const taken = new Set([...(await repo.listPresetNames(ctx.db, ctx.user.id)), ...BUILT_IN_PRESETS.map((p) => p.name)]);
    names = prepared.map((p) => {
      let name = p.output;
      for (let n = 1; taken.has(name); n++) name = `${p.output}_${n}`;
      taken.add(name);
      return name;
    });
  }

  await checkPresetRoom(ctx, names);
  return { unknown, names, prepared };
}

export const getPreset: Action = async (ctx) => {
  const name = nameOf(ctx);
  const preset = await findPreset(ctx, name, scopeOf(ctx));
  if (!preset) throw new ApiError(ErrorText.presetNotFound(name));
  return presetWire(preset);
};

/** `user` and `ui` are always JSON arrays (go-encodingcom decodes them into slices). */
export const getPresetsList: Action = async (ctx) => {
  const scope = scopeOf(ctx);
  const body: WireObject = {};
  if (scope !== 'ui') body.user = alwaysList((await repo.listPresets(ctx.db, ctx.user.id)).map((row) => presetWire(presetOfRow(row))));
  if (scope !== 'user') body.ui = alwaysList(BUILT_IN_PRESETS.map(presetWire));
  return body;
};

export const deletePreset: Action = async (ctx) => {
  const name = nameOf(ctx);
  if (await repo.deletePreset(ctx.db, ctx.user.id, name)) return { message: 'Deleted' };
  if (builtInPreset(name)) throw new ApiError(ErrorText.builtInPreset(name));
  throw new ApiError(ErrorText.presetNotFound(name));
};

/** A saved encryption key stays usable through output_preset but is never read back. */
function presetWire(p: Preset): WireObject {
  return { name: p.name, type: p.type, output: p.output, format: redactFields(p.format) };
}

function nameOf(ctx: ActionContext): string {
  const name = presetNameIn(ctx.query, 'name');
  if (name === null) throw new ApiError(ErrorText.noPresetName);
  return name;
}

function scopeOf(ctx: ActionContext): PresetScope {
  const type = (scalar(ctx.query, 'type') || 'all').toLowerCase();
  if (type === 'all' || type === 'user' || type === 'ui') return type;
  throw new ApiError(ErrorText.badValue('type', `must be all, user or ui, not "${type.slice(0, 40)}".`));
}
