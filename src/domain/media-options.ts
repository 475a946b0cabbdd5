/**
 * A media's top-level request fields (notify URLs, priority, split_screen, multijob_workflow, meta…),
 * which AddMedia stores as JSON in the media's `options` column. Read here, in one place.
 */
import type { FieldMap } from './fields.ts';

/**
 * The options of a media row (`media.options`). AddMedia writes them, so they are a JSON object; anything else (a row
 * written by hand, or none) asks for nothing rather than failing the media.
 */
export function mediaOptions(json: string | null | undefined): FieldMap {
  if (!json) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch {
    return {};
  }
  return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? (parsed as FieldMap) : {};
}

/**
 * `instant` (reference 2.1): encoding starts while the source downloads. Encodery does so by
 * default wherever it is safe; `instant=no` fetches the whole source first.
 */
export function instantAsked(options: FieldMap): boolean {
  const v = options['instant'];
  return !(typeof v === 'string' && ['no', 'false', '0'].includes(v.trim().toLowerCase()));
}
