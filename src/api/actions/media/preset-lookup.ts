import { single, type FieldMap } from '../../../domain/fields.ts';
import { parseFormat, type OutputSpec } from '../../../domain/format.ts';
import { builtInPreset, mergeUnder, PRESET_NAME, type Preset } from '../../../domain/presets.ts';
import { checkFormat } from '../../../domain/field-check.ts';
import { SecretUnsealableError, openSecrets, sealingKeyOf } from '../../../domain/sealed.ts';
import * as repo from '../../../store/repo.ts';
import { ApiError, ErrorText } from '../../errors.ts';
import type { ActionContext } from '../context.ts';

/** Presets inside formats (reference 2.13): `output_preset` looked up, `save_preset` given room. */

/** Presets one user may keep (SavePreset and save_preset), so that GetPresetsList stays small. */
const MAX_PRESETS_PER_USER = 1000;

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
    fields = mergeUnder(openedPreset(ctx, preset), own);
  }
  const parsed = parseFormat(fields, { heAac: ctx.config.heAac });
  if (!parsed.ok) throw new ApiError(where + parsed.error);
  return { fields, spec: parsed.spec };
}

/** A preset's stored fields with its sealed secrets opened, for the format that names it. */
function openedPreset(ctx: ActionContext, preset: Preset): FieldMap {
  try {
    return openSecrets(preset.format, sealingKeyOf(ctx.config));
  } catch (err) {
    if (err instanceof SecretUnsealableError) throw new ApiError(`preset "${preset.name}": ${err.message.replace(/send the media again\.$/, 'save the preset again.')}`);
    throw err;
  }
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

/** Refuses a save that would take the user over the preset limit (overwrites do not count). */
export async function checkPresetRoom(ctx: ActionContext, names: string[]): Promise<void> {
  const existing = new Set(await repo.listPresetNames(ctx.db, ctx.user.id));
  const added = new Set(names.filter((n) => !existing.has(n)));
  if (existing.size + added.size > MAX_PRESETS_PER_USER) throw new ApiError(ErrorText.tooManyPresets(MAX_PRESETS_PER_USER));
}
