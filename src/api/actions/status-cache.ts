import { settle, type WireObject } from '../wire/render.ts';
import { CHANGE_KEEP_MS, type MediaVersion } from '../../store/changes.ts';

/**
 * A version no change is kept for (all pruned) says nothing about changes made after the reply
 * was built once those may have been pruned too, so such a reply is trusted for a part of the
 * feed's keep time only: the rest is room for the clocks of the pruning node and the database.
 */
const UNVERSIONED_TRUST_MS = CHANGE_KEEP_MS / 3;

/**
 * Status replies by media and reply options, each with the media's version in the change feed
 * when it was built (store/changes.ts mediaVersion). Every change a reply shows appends to the
 * feed, whichever process makes it, so a reply whose version is still the media's holds: one
 * indexed read per request, never a stale answer, in one process or a cluster. Replies are
 * `settle`d: their text is rendered once per format.
 */
export class StatusCache {
  readonly #entries = new Map<string, { version: string | null; builtAt: number; value: WireObject }>();

  constructor(private readonly capacity = 20_000) {}

  get(key: string, current: MediaVersion): WireObject | undefined {
    const hit = this.#entries.get(key);
    if (!hit) return undefined;
    if (hit.version !== current.version || (hit.version === null && Date.now() - hit.builtAt > UNVERSIONED_TRUST_MS)) {
      this.#entries.delete(key);
      return undefined;
    }
    // Refresh its place: Map iteration order is insertion order, so the oldest go first.
    this.#entries.delete(key);
    this.#entries.set(key, hit);
    return hit.value;
  }

  set(key: string, builtAt: MediaVersion, value: WireObject): void {
    this.#entries.delete(key);
    if (this.#entries.size >= this.capacity) this.#entries.delete(this.#entries.keys().next().value!);
    this.#entries.set(key, { version: builtAt.version, builtAt: Date.now(), value: settle(value) });
  }
}
