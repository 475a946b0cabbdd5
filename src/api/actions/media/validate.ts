import { type FieldMap, type FieldValue } from '../../../domain/fields.ts';
import { editingUrls, withoutEmptyBlocks } from '../../../domain/format.ts';
import { protectionUrls } from '../../../domain/drm.ts';
import { presetFields } from '../../../domain/presets.ts';
import { sealSecrets, sealingKeyOf } from '../../../domain/sealed.ts';
import { parsePriority } from '../../../domain/priority.ts';
import { decodingTests, parseQc } from '../../../domain/qc.ts';
import { checkQuery, unknownRefusal, unknownWarnings, type FieldReport } from '../../../domain/field-check.ts';
import type * as repo from '../../../store/repo.ts';
import { ApiError, ErrorText } from '../../errors.ts';
import { many, scalar, yesNo } from '../../query.ts';
import { isXmlName } from '../../wire/render.ts';
import type { ActionContext } from '../context.ts';
import { checkLocation } from './locations.ts';
import { checkPresetRoom, presetNameIn, resolveFormat } from './preset-lookup.ts';

/** The checks a media's query passes before anything is stored: fields, formats, options. */

/** Top-level fields that are not options of the media itself. */
const NOT_OPTIONS = new Set(['userid', 'userkey', 'action', 'source', 'format', 'mediaid', 'idempotency_key']);
export const MAX_FORMATS = 100;

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
export function withWarnings(tasks: repo.NewTask[], report: FieldReport): repo.NewTask[] {
  return tasks.map((t, i) => {
    const own = report.unknown.filter((u) => u.format === null || u.format === i);
    const lines = unknownWarnings({ unknown: own, moreUnknown: i === 0 ? report.moreUnknown : 0 }).map((w) => `${WARNING_PREFIX}${w}`);
    return lines.length > 0 ? { ...t, log: lines } : t;
  });
}

/** How a field warning starts in a task log, where extended GetStatus finds it again. */
export const WARNING_PREFIX = 'Warning: ';

export interface ValidatedFormat {
  task: repo.NewTask;
  /** The user preset to save from this format (`save_preset`), or null. */
  preset: repo.NewPreset | null;
}

/** Formats in order; the first bad one is the error (preset lookups make this async). */
export async function validateFormats(ctx: ActionContext, formats: FieldValue[]): Promise<ValidatedFormat[]> {
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
  // QC holds no content key: on an encrypted output it reads packets and boxes (and reports each
  // track's key id), and the tests that decode pictures or sound would measure noise.
  const decoding = qc.spec && spec.kind === 'dash' && spec.protection ? decodingTests(qc.spec) : [];
  if (decoding.length > 0) {
    throw new ApiError(`${where}qc: ${decoding.join(', ')} cannot check an encrypted ${spec.output}: ${decoding.length > 1 ? 'they decode' : 'it decodes'} the output, and QC holds no content key. Remove ${decoding.length > 1 ? 'them' : 'it'} (qc auto and the packet and segment tests work on encrypted outputs), or check a clear output of the same source.`);
  }
  if (qc.spec?.originalSource) checkLocation(ctx, qc.spec.originalSource, 'source', `${where}qc.qc_video_metrics.original_source: `);
  // Logos, overlays and fonts are fetched like sources, so they pass the same URL rules.
  for (const a of editingUrls(spec)) checkLocation(ctx, a.url, 'source', `${where}${a.field}: `);
  for (const k of protectionUrls(spec)) checkLocation(ctx, k.url, 'source', `${where}${k.field}: `);
  const saveAs = presetNameIn(fields, 'save_preset', where);
  // Secret fields (drm_key, encryption_key, …) are stored sealed; the encoder opens them.
  const sealed = sealSecrets(fields, sealingKeyOf(ctx.config));
  return {
    task: { output: spec.output, format: JSON.stringify(sealed), destinations },
    preset: saveAs === null ? null : { name: saveAs, output: spec.output, format: JSON.stringify(presetFields(sealed, spec.output)) },
  };
}

/** A `<format>` element as a map whose field names can be echoed as XML elements. */
export function formatMap(raw: FieldValue, where: string): FieldMap {
  const given: FieldMap = raw === '' ? {} : (raw as FieldMap);
  if (typeof given !== 'object' || Array.isArray(given)) throw new ApiError(where + ErrorText.wrongShape('format', 'a set of fields'));
  checkFieldNames(given, where);
  return withoutEmptyBlocks(given);
}

/** The presets a request's formats save with `save_preset`, each name at most once, within the limit. */
export async function presetsToSave(ctx: ActionContext, validated: ValidatedFormat[]): Promise<repo.NewPreset[]> {
  const presets = validated.flatMap((v) => (v.preset ? [v.preset] : []));
  const names = presets.map((p) => p.name);
  const twice = names.find((n, i) => names.indexOf(n) !== i);
  if (twice !== undefined) throw new ApiError(ErrorText.badValue('save_preset', `"${twice}" is given by more than one format; give each its own name.`));
  if (presets.length > 0) await checkPresetRoom(ctx, names);
  return presets;
}

/** `SavedPreset`: absent without one; one name a string (go-encodingcom needs one), several a repeated element / JSON array. */
export function savedPresetWire(presets: repo.NewPreset[]): string[] | undefined {
  return presets.length > 0 ? presets.map((p) => p.name) : undefined;
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

/** The media's own fields as stored: secret ones (an inert oidc_refresh_token) sealed. */
export function validateOptions(query: FieldMap, ctx: Pick<ActionContext, 'config'>): FieldMap {
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
  yesNo(query, 'instant');
  const priority = parsePriority(query['priority']);
  if (!priority.ok) throw new ApiError(priority.error);
  return sealSecrets(options, sealingKeyOf(ctx.config));
}
