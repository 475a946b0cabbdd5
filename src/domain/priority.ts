/** The media's top-level `priority` field (encoding.com sends `high`): the order the cluster queue runs media in. */

/** `priority`: a word or a whole number from -50 (last) to 50 (first); 0 is normal. */
export const PRIORITY_WORDS = { high: 25, normal: 0, low: -25 } as const;
export const PRIORITY_MIN = -50;
export const PRIORITY_MAX = 50;

/** The media's priority on our scale, or an error text naming the field; absent is normal. */
export function parsePriority(value: unknown): { ok: true; priority: number } | { ok: false; error: string } {
  const raw = Array.isArray(value) && value.length === 1 ? value[0] : value;
  if (raw === undefined || raw === '') return { ok: true, priority: 0 };
  if (typeof raw === 'string') {
    const word = raw.trim().toLowerCase();
    if (word in PRIORITY_WORDS) return { ok: true, priority: PRIORITY_WORDS[word as keyof typeof PRIORITY_WORDS] };
    if (/^[+-]?\d+$/.test(word)) {
      const n = Number(word);
      if (n >= PRIORITY_MIN && n <= PRIORITY_MAX) return { ok: true, priority: n };
    }
  }
  return { ok: false, error: `priority must be high, normal, low or a whole number from ${PRIORITY_MIN} (last) to ${PRIORITY_MAX} (first).` };
}
