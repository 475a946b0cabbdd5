/**
 * A source URL's `?start=S&end=E` (reference 5.1): encoding.com reads only that segment of the
 * source. Encodery does not cut sources yet, and encoding the whole file instead would change the
 * output's content, so such a source is refused; the format's own start/duration/finish cut the
 * same part of a single source.
 */

/** Why a source URL cannot be used as given, or null. The message never repeats the URL (it may carry keys). */
export function sourceClipProblem(url: string, index: number, count: number): string | null {
  const query = url.indexOf('?');
  if (query < 0) return null;
  const params = new URLSearchParams(url.slice(query + 1).split('#')[0]);
  const asked = ['start', 'end'].filter((k) => params.has(k));
  if (asked.length === 0) return null;
  const which = count > 1 ? `source ${index + 1}` : 'source';
  return `${which}: ?${asked.join('=…&')}=… (a segment of the source) is not supported yet: the whole file would be encoded. Remove it from the URL and give each format start and duration (or finish) instead.`;
}
