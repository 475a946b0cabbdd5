/**
 * `split_screen` (reference 4.5, top level of AddMedia): several sources shown side by side in a
 * grid in every video format, instead of one after another.
 */
import type { FieldValue } from './fields.ts';
import { Fields, FormatProblem, lowerKeys, parseNonNegativeInt } from './format/fields.ts';

export interface SplitScreen {
  columns: number;
  rows: number;
  /** Pixels around every cell (even numbers). */
  padding: { left: number; right: number; top: number; bottom: number };
}

const MAX_SIDE = 8;
const MAX_PADDING = 512;

/** null when the request has no split_screen; an error names the field. */
export function parseSplitScreen(raw: FieldValue | undefined, sources: number): { ok: true; value: SplitScreen | null } | { ok: false; error: string } {
  try {
    return { ok: true, value: readSplitScreen(raw, sources) };
  } catch (err) {
    if (err instanceof FormatProblem) return { ok: false, error: err.message.startsWith('split_screen') ? err.message : `split_screen ${err.message}` };
    throw err;
  }
}

function readSplitScreen(raw: FieldValue | undefined, sources: number): SplitScreen | null {
  if (raw === undefined || raw === '') return null;
  if (typeof raw === 'string' || Array.isArray(raw)) {
    throw new FormatProblem('split_screen must be given once, as a set of fields (columns, rows, padding_left, padding_right, padding_top, padding_bottom).');
  }
  if (sources < 2) throw new FormatProblem(`split_screen needs at least 2 sources to show side by side; this request has ${sources}.`);
  const f = new Fields(lowerKeys(raw));
  const side = (name: string): number | null => {
    const n = f.parse(name, `a whole number from 1 to ${MAX_SIDE}`, parseNonNegativeInt);
    if (n !== null && (n < 1 || n > MAX_SIDE)) throw new FormatProblem(`split_screen ${name} "${n}" is out of range; use 1 to ${MAX_SIDE}.`);
    return n;
  };
  const givenColumns = side('columns');
  const givenRows = side('rows');
  const columns = givenColumns ?? (givenRows !== null ? Math.ceil(sources / givenRows) : sources);
  const rows = givenRows ?? Math.ceil(sources / columns);
  if (columns * rows < sources) {
    throw new FormatProblem(`split_screen has ${columns} columns and ${rows} rows, room for ${columns * rows} sources, but ${sources} are given; raise columns or rows.`);
  }
  if (columns > MAX_SIDE || rows > MAX_SIDE) throw new FormatProblem(`split_screen needs more than ${MAX_SIDE} columns or rows for ${sources} sources; give columns and rows.`);
  const pad = (name: string): number => {
    const n = f.parse(name, 'an even number of pixels', parseNonNegativeInt) ?? 0;
    if (n % 2 !== 0 || n > MAX_PADDING) throw new FormatProblem(`split_screen ${name} "${n}" must be an even number of pixels from 0 to ${MAX_PADDING}.`);
    return n;
  };
  return { columns, rows, padding: { left: pad('padding_left'), right: pad('padding_right'), top: pad('padding_top'), bottom: pad('padding_bottom') } };
}
