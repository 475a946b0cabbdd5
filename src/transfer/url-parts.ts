/** Percent-decoding of URL parts (user, password, path), shared by every scheme module. */

/** The decoded part, or null when its escapes are malformed (`%zz`). */
export function decodePart(part: string): string | null {
  try {
    return decodeURIComponent(part);
  } catch {
    return null;
  }
}

/** The decoded part, or the part as written when its escapes are malformed. */
export function decodeOrKeep(part: string): string {
  return decodePart(part) ?? part;
}
