import type { WireObject } from '../wire/render.ts';

/**
 * Status replies of media in a final status, which only change through an action that first
 * moves the media out of it (restart, update, stop) and later gives it a new `finished` time.
 * A hit is checked against the media row read for the request, so it holds across processes.
 */
export class FinalStatusCache {
  readonly #entries = new Map<string, { finishedAt: number; status: string; value: WireObject }>();

  constructor(private readonly capacity = 20_000) {}

  get(key: string, status: string, finishedAt: number | null): WireObject | undefined {
    const hit = this.#entries.get(key);
    if (!hit || hit.status !== status || hit.finishedAt !== finishedAt) return undefined;
    // Refresh its place: Map iteration order is insertion order, so the oldest go first.
    this.#entries.delete(key);
    this.#entries.set(key, hit);
    return hit.value;
  }

  set(key: string, status: string, finishedAt: number, value: WireObject): void {
    if (this.#entries.size >= this.capacity) this.#entries.delete(this.#entries.keys().next().value!);
    this.#entries.set(key, { finishedAt, status, value });
  }
}
