import { QueryMeter } from '../../store/query-meter.ts';

/**
 * The phases one media run's wall time is split into, in the order they run. `encode` is
 * FFmpeg's own wall time; `plan` is the rest of the encode phase before it (formats parsed,
 * assets, captions, keys, the plan, the task rows moved to Processing); `post-encode` is the rest
 * after it (outputs listed and measured, the quality report, the task rows moved to Saving).
 */
export const RUN_PHASES = ['queue wait', 'fetch/probe', 'encoder slot', 'plan', 'encode', 'post-encode', 'deliver'] as const;
export type RunPhase = (typeof RUN_PHASES)[number];

/**
 * Points of a run's timeline, which show what waited for what when phases overlap (instant mode:
 * the download, the encode and the uploads run side by side, so their exclusive times above
 * cannot tell where the wall time went).
 */
export const TIMELINE_POINTS = [
  'source first bytes', 'head probed', 'encode started', 'source downloaded', 'source probed', 'encode ended',
  'segments unsent at encode end', 'segment sent while encoding', 'delivery started', 'delivered',
] as const;
export type TimelinePoint = (typeof TIMELINE_POINTS)[number];

/** The task-log line's first word, which the bench and tests look for. */
export const TIMINGS_PREFIX = 'Timings:';
/** What separates the line's phases from its timeline. */
const TIMELINE_LABEL = "; timeline (s from the run's start): ";

/**
 * Where one media run's time goes: each phase's exclusive wall time (a phase timed inside another
 * is taken out of the outer one), and the time its store queries took, which overlaps the phases.
 * The fixed cost of a media is everything here but `encode`; it goes to the task log as one line.
 */
export class RunTimings {
  readonly #spent = new Map<RunPhase, number>();
  readonly #started = performance.now();
  /** When each point of the run's timeline was reached, in seconds from the run's start, and how often. */
  readonly #points = new Map<TimelinePoint, { at: number; count: number }>();
  /** Wall seconds of the phases timed inside the one running now, to take out of it. */
  #nested = 0;
  /** The run's store queries (its handle is metered, its lifecycle calls timed). */
  readonly store = new QueryMeter();

  add(phase: RunPhase, sec: number): void {
    this.#spent.set(phase, (this.#spent.get(phase) ?? 0) + sec);
  }

  /** Times `work` as `phase`, less whatever phases are timed inside it. Not for work run side by side. */
  async time<T>(phase: RunPhase, work: () => Promise<T>): Promise<T> {
    const outer = this.#nested;
    this.#nested = 0;
    const started = performance.now();
    try {
      return await work();
    } finally {
      const sec = (performance.now() - started) / 1000;
      this.add(phase, Math.max(0, sec - this.#nested));
      this.#nested = outer + sec;
    }
  }

  /** A time spent inside the current phase that belongs to `phase` (FFmpeg's wall time inside the encode phase). */
  carve(phase: RunPhase, sec: number): void {
    this.add(phase, sec);
    this.#nested += sec;
  }

  /** The run reached `point` now; a point reached again keeps its first time. */
  mark(point: TimelinePoint): void {
    if (!this.#points.has(point)) this.#points.set(point, { at: this.#now(), count: 1 });
  }

  /** The run reached `point` once more: it keeps its latest time and counts the times (the segments sent while encoding). */
  markEach(point: TimelinePoint): void {
    this.#points.set(point, { at: this.#now(), count: (this.#points.get(point)?.count ?? 0) + 1 });
  }

  /** The run is at `point` now, with `count` of something there (segments still to send); the latest is kept. */
  markCount(point: TimelinePoint, count: number): void {
    this.#points.set(point, { at: this.#now(), count });
  }

  #now(): number {
    return (performance.now() - this.#started) / 1000;
  }

  get(phase: RunPhase): number {
    return this.#spent.get(phase) ?? 0;
  }

  /** The task log's line: `Timings: queue wait 0.004 s, fetch/probe 0.081 s, …; store 0.120 s (12 reads, 30 writes, within the phases)`. */
  describe(): string {
    const phases = RUN_PHASES.filter((p) => this.#spent.has(p)).map((p) => `${p} ${this.get(p).toFixed(3)} s`);
    const fixed = [...this.#spent].filter(([p]) => p !== 'encode').reduce((a, [, s]) => a + s, 0);
    const s = this.store;
    const timeline = [...this.#points].sort(([, a], [, b]) => a.at - b.at).map(([p, { at, count }]) => `${p}${count !== 1 ? ` ×${count}` : ''} ${at.toFixed(2)}`);
    return `${TIMINGS_PREFIX} ${phases.join(', ')}; fixed cost ${fixed.toFixed(3)} s (all but encode); store ${s.seconds.toFixed(3)} s (${s.reads} reads, ${s.writes} writes, within the phases)`
      + (timeline.length > 0 ? `${TIMELINE_LABEL}${timeline.join(', ')}` : '');
  }
}

/** The phases of a {@link RunTimings.describe} line, in seconds by name (the bench reads it back). */
export function parseTimings(line: string): Map<string, number> | null {
  if (!line.startsWith(TIMINGS_PREFIX)) return null;
  const out = new Map<string, number>();
  const phases = line.split(TIMELINE_LABEL)[0]!;
  for (const m of phases.matchAll(/(?:^Timings:|,|;) ([a-z/ -]+?) (\d+\.\d+) s/g)) out.set(m[1]!, Number(m[2]));
  return out;
}

/** The timeline of a {@link RunTimings.describe} line: seconds from the run's start by point, and how often each was reached. */
export function parseTimeline(line: string): Map<string, { at: number; count: number }> | null {
  if (!line.startsWith(TIMINGS_PREFIX)) return null;
  const out = new Map<string, { at: number; count: number }>();
  const timeline = line.split(TIMELINE_LABEL)[1];
  for (const m of (timeline ?? '').matchAll(/(?:^|, )([a-z ]+?)(?: ×(\d+))? (\d+\.\d+)(?=,|$)/g)) out.set(m[1]!, { at: Number(m[3]), count: Number(m[2] ?? 1) });
  return out;
}
