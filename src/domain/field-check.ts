/**
 * A request's fields against the field registry: refused fields (an error, nothing stored) and
 * fields the registry does not know (a warning each, or an error in strict mode), each named with
 * its place: `query`, `format 1`, `format 1 stream 2`, `format 1 logo`, `format 1 overlay 2`.
 */
import type { FieldMap, FieldValue } from './fields.ts';
import { describeOutputs, fieldAt, fieldsAt, placesOf, type FieldDef, type Place } from './field-registry.ts';

/** A field that is ignored: unknown to the registry, or known but not used by the format's output. */
export interface UnknownField {
  /** Where it is: `query`, `format 1 stream 2`, … */
  place: string;
  /** The 0-based format it is in; null at the top level. */
  format: number | null;
  /** As sent. */
  field: string;
  /** `; did you mean "size"?`, `; it belongs in a stream`, or empty. */
  hint: string;
  /** Set when the field is known, but for other outputs than this one. */
  notFor?: { output: string; outputs: readonly string[] };
}

export interface FieldReport {
  /** One sentence per refused field. */
  refused: string[];
  /** The first MAX_UNKNOWN_NAMED unknown fields. */
  unknown: UnknownField[];
  /** Unknown fields beyond those, counted only: a hostile query may send thousands. */
  moreUnknown: number;
}

export const MAX_UNKNOWN_NAMED = 20;

/** The warnings of a report: one per named unknown field, and a count of the rest. */
export function unknownWarnings(report: Pick<FieldReport, 'unknown' | 'moreUnknown'>): string[] {
  const lines = report.unknown.map(unknownWarning);
  if (report.moreUnknown > 0) lines.push(`${report.moreUnknown} more unknown fields ignored`);
  return lines;
}

/** The warning a field the registry does not know gets: `format 1: unknown field "sise" ignored; did you mean "size"?` */
export function unknownWarning(u: UnknownField): string {
  if (u.notFor) return `${u.place}: field "${u.field}" ignored: output ${u.notFor.output} does not use it (${describeOutputs(u.notFor.outputs)} do)`;
  return `${u.place}: unknown field "${u.field}" ignored${u.hint}`;
}

/** The same field refused in strict mode. */
export function unknownRefusal(u: UnknownField): string {
  if (u.notFor) return `${u.place}: field "${u.field}" is not used by output ${u.notFor.output} (${describeOutputs(u.notFor.outputs)} use it)`;
  return `${u.place}: unknown field "${u.field}"${u.hint}`;
}

/** The top level of an AddMedia-like query, its formats included. */
export function checkQuery(query: FieldMap): FieldReport {
  const report: FieldReport = { refused: [], unknown: [], moreUnknown: 0 };
  walk(query, 'query', 'query', { format: null, output: null }, report, (name, value) => {
    if (name !== 'format') return false;
    listOf(value).forEach((f, i) => {
      if (isMap(f)) checkFormatInto(f, i, report);
    });
    return true;
  });
  return report;
}

/** One format (its streams and blocks included), the `index`-th (0-based) of its request, named `label`. */
export function checkFormat(format: FieldMap, index: number, label = `format ${index + 1}`): FieldReport {
  const report: FieldReport = { refused: [], unknown: [], moreUnknown: 0 };
  checkFormatInto(format, index, report, label);
  return report;
}

function checkFormatInto(format: FieldMap, index: number, report: FieldReport, label = `format ${index + 1}`): void {
  const at = { format: index, output: outputOf(format) };
  walk(format, 'format', label, at, report, (name, value) => {
    if (name !== 'stream') return false;
    const items = listOf(value);
    items.forEach((s, i) => {
      if (isMap(s)) walk(s, 'stream', `${label} stream ${i + 1}`, at, report);
    });
    return true;
  });
}

/** The output a format names itself (lower case), or null (none, or from its output_preset). */
function outputOf(format: FieldMap): string | null {
  const entry = Object.entries(format).find(([k]) => k.toLowerCase() === 'output');
  const value = Array.isArray(entry?.[1]) && entry[1].length === 1 ? entry[1][0] : entry?.[1];
  return typeof value === 'string' && value.trim() !== '' ? value.trim().toLowerCase() : null;
}

/** `nested` handles a field itself (format, stream) and says so by returning true. */
function walk(
  map: FieldMap, place: Place, label: string, at: { format: number | null; output: string | null }, report: FieldReport,
  nested?: (name: string, value: FieldValue) => boolean,
): void {
  const ignored = (u: Omit<UnknownField, 'place' | 'format'>): void => {
    if (report.unknown.length >= MAX_UNKNOWN_NAMED) report.moreUnknown++;
    else report.unknown.push({ place: label, format: at.format, ...u });
  };
  for (const [key, value] of Object.entries(map)) {
    const name = key.toLowerCase();
    const def = fieldAt(place, name);
    if (!def) {
      ignored({ field: key.slice(0, 64), hint: report.unknown.length < MAX_UNKNOWN_NAMED ? hint(name, place) : '' });
      continue;
    }
    const { output } = at;
    if (output !== null && def.outputs && !def.outputs.includes(output) && def.state !== 'refused' && isAsked(value) && (place === 'format' || place === 'stream')) {
      ignored({ field: key, hint: '', notFor: { output, outputs: def.outputs } });
      continue;
    }
    if (nested?.(name, value)) continue;
    const before = report.refused.length;
    if (def.block === 'fields') {
      const items = listOf(value).filter(isMap);
      items.forEach((item, i) => walk(item, def.name as Place, items.length > 1 ? `${label} ${def.name} ${i + 1}` : `${label} ${def.name}`, at, report));
    }
    // A refused block's own refused fields say more than the block does.
    if (def.state === 'refused' && report.refused.length === before && isAsked(value)) {
      report.refused.push(refusal(def, label));
    }
  }
}

function refusal(def: FieldDef, label: string): string {
  return `${label}: ${def.name} is not supported yet (${def.reason ?? 'not built'}); remove it or set it to no.`;
}

/**
 * Whether a value asks for anything: an empty element, `no`/`none`/`false`/`0`, `{}` and lists of
 * those do not (go-encodingcom always sends `"video_codec_parameters":{}`).
 */
export function isAsked(value: FieldValue): boolean {
  if (typeof value === 'string') return !['', 'no', 'none', 'false', '0'].includes(value.trim().toLowerCase());
  if (Array.isArray(value)) return value.some(isAsked);
  return Object.keys(value).length > 0;
}

const PLACE_WORDS: Record<string, string> = { query: 'the top level of the query', format: 'a format', stream: 'a stream' };

/** `; did you mean "size"?`, or where a field known elsewhere belongs; empty when nothing is close. */
function hint(name: string, place: Place): string {
  const elsewhere = placesOf(name).filter((p) => p !== place);
  if (elsewhere.length > 0) return `; it belongs in ${[...new Set(elsewhere)].map((p) => PLACE_WORDS[p] ?? `${/^[aeiou]/.test(p) ? 'an' : 'a'} ${p} block`).join(' or ')}`;
  const limit = name.length <= 4 ? 1 : 2;
  let best: { name: string; distance: number } | null = null;
  for (const def of fieldsAt(place)) {
    const distance = editDistance(name, def.name, limit);
    if (distance <= limit && (best === null || distance < best.distance)) best = { name: def.name, distance };
  }
  return best ? `; did you mean "${best.name}"?` : '';
}

/** Optimal string alignment distance (a swap of two neighbours counts once), capped at limit + 1. */
export function editDistance(a: string, b: string, limit = Infinity): number {
  if (Math.abs(a.length - b.length) > limit) return limit + 1;
  const rows: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) rows[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min(rows[i - 1]![j]! + 1, rows[i]![j - 1]! + 1, rows[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, rows[i - 2]![j - 2]! + 1);
      rows[i]![j] = d;
    }
  }
  return rows[a.length]![b.length]!;
}

function listOf(value: FieldValue): FieldValue[] {
  return Array.isArray(value) ? value : [value];
}

function isMap(value: FieldValue): value is FieldMap {
  return typeof value === 'object' && !Array.isArray(value);
}
