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
