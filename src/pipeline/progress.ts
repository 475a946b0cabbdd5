import type { Db } from '../store/db.ts';
import { updateMedia, updateTask } from '../store/repo.ts';
import { PHASE_WEIGHTS } from '../domain/status.ts';

export type Phase = keyof typeof PHASE_WEIGHTS;
const PHASE_ORDER: Phase[] = ['download', 'encode', 'save'];

/**
 * Measured progress of one media run, kept in memory and written to the store at most once a
 * second (and at every phase change), so GetStatus reads it without touching the workers.
 */
export class ProgressTracker {
  #phase: Phase = 'download';
  #phaseStartedAt = Date.now();
  readonly #runStartedAt = Date.now();
  #fraction = 0;
  /** Weighted progress of each task in the encode phase (weight = expected seconds). */
  readonly #tasks = new Map<number, { weight: number; fraction: number; dirty: boolean }>();
  #timer: NodeJS.Timeout | null = null;
  #dirty = false;
  #writing: Promise<void> = Promise.resolve();

  constructor(
    private readonly db: Db,
    private readonly mediaId: number,
  ) {}

  start(): void {
    this.#timer = setInterval(() => void this.flush(), 1000);
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    await this.#writing;
  }

  async enterPhase(phase: Phase): Promise<void> {
    this.#phase = phase;
    this.#phaseStartedAt = Date.now();
    this.#fraction = 0;
    this.#dirty = true;
    await this.flush();
  }

  /** Progress of the current phase as a whole, 0..1 (downloads and deliveries by bytes). */
  setPhaseFraction(fraction: number): void {
    this.#fraction = clamp(fraction);
    this.#dirty = true;
  }

  addTask(taskId: number, expectedSec: number): void {
    this.#tasks.set(taskId, { weight: Math.max(expectedSec, 0.1), fraction: 0, dirty: false });
  }

  setTaskFraction(taskId: number, fraction: number): void {
    const t = this.#tasks.get(taskId);
    if (!t) return;
    t.fraction = clamp(fraction);
    t.dirty = true;
    let total = 0;
    let done = 0;
    for (const x of this.#tasks.values()) {
      total += x.weight;
      done += x.weight * x.fraction;
    }
    this.setPhaseFraction(total > 0 ? done / total : 0);
  }

  /** Seconds since the current task or phase began, for time-left estimates. */
  #estimateLeft(startedAt: number, fraction: number): number {
    if (fraction <= 0) return 0;
    const elapsed = (Date.now() - startedAt) / 1000;
    return Math.max(0, Math.round((elapsed * (1 - fraction)) / fraction));
  }

  overall(): number {
    let sum = 0;
    for (const phase of PHASE_ORDER) {
      if (phase === this.#phase) return sum + PHASE_WEIGHTS[phase] * this.#fraction;
      sum += PHASE_WEIGHTS[phase];
    }
    return sum;
  }

  flush(): Promise<void> {
    if (!this.#dirty) return this.#writing;
    this.#dirty = false;
    const overall = this.overall();
    const patch = {
      progress: overall * 100,
      progress_current: this.#fraction * 100,
      time_left: this.#estimateLeft(this.#runStartedAt, overall),
      time_left_current: this.#estimateLeft(this.#phaseStartedAt, this.#fraction),
    };
    const taskWrites = [...this.#tasks.entries()]
      .filter(([, t]) => t.dirty)
      .map(([id, t]) => {
        t.dirty = false;
        return { id, progress: t.fraction * 100 };
      });
    this.#writing = this.#writing
      .then(async () => {
        await updateMedia(this.db, this.mediaId, patch);
        for (const t of taskWrites) await updateTask(this.db, t.id, { progress: t.progress });
      })
      .catch(() => {
        // A failed progress write is not worth failing the media for; the next one may succeed.
      });
    return this.#writing;
  }
}

const clamp = (x: number): number => (Number.isFinite(x) ? Math.min(1, Math.max(0, x)) : 0);
