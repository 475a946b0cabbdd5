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
 * feed, whichever process makes it, so a reply whose version is still the media's holds: never
 * a stale answer, in one process or a cluster. Each reply keeps whose media it shows, and answers
 * nobody else (a version on SQLite is read without the owner check). Replies are `settle`d: their
 * bytes are rendered once per format.
 */
export class StatusCache {
  readonly #entries = new Map<string, { version: string | null; owner: string; builtAt: number; value: WireObject }>();

  constructor(private readonly capacity = 20_000) {}

  get(key: string, current: MediaVersion, userId: string): WireObject | undefined {
    const hit = this.#entries.get(key);
    if (!hit || hit.owner !== userId) return undefined;
    if (hit.version !== current.version || (hit.version === null && Date.now() - hit.builtAt > UNVERSIONED_TRUST_MS)) {
      this.#entries.delete(key);
      return undefined;
    }
    // Refresh its place: Map iteration order is insertion order, so the oldest go first.
    this.#entries.delete(key);
    this.#entries.set(key, hit);
    return hit.value;
  }

  set(key: string, builtAt: MediaVersion, owner: string, value: WireObject): void {
    this.#entries.delete(key);
    if (this.#entries.size >= this.capacity) this.#entries.delete(this.#entries.keys().next().value!);
    this.#entries.set(key, { version: builtAt.version, owner, builtAt: Date.now(), value: settle(value) });
  }
}
