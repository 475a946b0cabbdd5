import type { FieldValue } from '../../domain/fields.ts';
import type { DecodedRequest } from './decode.ts';

/** Longest body kept: a polling query is a few hundred characters; an AddMedia is never kept. */
export const MAX_KEPT_BODY_CHARS = 2048;
/** All kept bodies together, in characters; their decoded queries are of about the same size again. */
export const MAX_KEPT_CHARS = 16 * 1024 * 1024;

/**
 * Decoded queries by the exact body text they came from. A client polls GetStatus with the same
 * bytes every time, and decoding them (form field, XML validation and parse, field checks) costs
 * more than answering from the status cache does. The caller keeps only bodies that decoded,
 * authenticated, and name an action that only reads: every request still authenticates the
 * userid and userkey of its own text, so an entry answers nobody but the sender of those very
 * bytes. Bounded by the length of each body and of all of them; the oldest entry goes first.
 * Queries are frozen: a request served from here cannot change what the next one reads.
 */
export class DecodedBodyCache {
  readonly #entries = new Map<string, DecodedRequest>();
  #chars = 0;

  constructor(
    private readonly maxChars = MAX_KEPT_CHARS,
    private readonly maxBodyChars = MAX_KEPT_BODY_CHARS,
  ) {}

  get(body: string): DecodedRequest | undefined {
    return body.length <= this.maxBodyChars ? this.#entries.get(body) : undefined;
  }

  set(body: string, decoded: DecodedRequest): void {
    if (body.length > this.maxBodyChars || this.#entries.has(body)) return;
    while (this.#chars + body.length > this.maxChars && this.#entries.size > 0) {
      const oldest = this.#entries.keys().next().value!;
      this.#entries.delete(oldest);
      this.#chars -= oldest.length;
    }
    this.#entries.set(body, { format: decoded.format, query: deepFreeze(decoded.query) });
    this.#chars += body.length;
  }

  get size(): number {
    return this.#entries.size;
  }
}

function deepFreeze<T extends FieldValue>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}
