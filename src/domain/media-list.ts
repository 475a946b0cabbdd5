/** GetMediaList (version 3) paging: how many media one page may hold, checked by the API and the CLI alike. */
export const PER_PAGE = { min: 5, max: 100, default: 10 } as const;

/** The date forms GetMediaList's date_from and date_to take, as the CLI's --from and --to say them. */
export const LIST_DATE_FORMS = '2026-01-31 or 2026-01-31 23:59:59';

/**
 * A GetMediaList date (UTC) in milliseconds: `YYYY-MM-DD` or `YYYY-MM-DD HH:MM:SS`; a bare date
 * taken as `endOfDay` means its last millisecond. Null when the text is neither.
 */
export function listDate(text: string, endOfDay: boolean): number | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{2}):(\d{2}):(\d{2}))?$/.exec(text);
  if (!m) return null;
  const [, y, mo, d, h, mi, s] = m;
  const ms = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h ?? 0), Number(mi ?? 0), Number(s ?? 0));
  if (Number.isNaN(ms)) return null;
  return h === undefined && endOfDay ? ms + 86_399_999 : ms;
}
