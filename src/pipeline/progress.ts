import type { Db } from '../store/db.ts';
import { writeProgress, type ProgressFigures } from '../store/repo.ts';
import {
  Monotonic, encodeLeft, groupLeft, measuredPace, paceFrom, taskProgress, transferLeft, untilStart, weightedProgress,
  type GroupState, type GroupWork, type Report,
} from '../domain/progress-model.ts';

export type Phase = 'download' | 'encode' | 'save';

/** Bytes per second assumed for a delivery before any transfer of this run was measured. */
const ASSUMED_TRANSFER_RATE = 50e6;
/** A transfer must move this much before its rate is believed. */
const MIN_MEASURED_BYTES = 1e6;
const MIN_MEASURED_SEC = 0.5;

/**
 * Wall seconds per model second of the last media this process encoded: the next media's first
 * estimate, before its own encodes have run long enough to measure.
 */
let lastPace = 1;

interface Group extends GroupState {
  taskIds: number[];
  startedAt: number | null;
  /** Its progress reports, one a second at most, for paceFrom. */
  reports: Report[];
}

interface TaskState {
  group: Group | null;
  /** Model seconds of this task's share of its FFmpeg process. */
  work: number;
  /** Bytes its delivery moves (output size × destinations), expected until it is encoded. */
  bytes: number;
  sent: number;
  /** Encoded in an earlier run: only its delivery is left. */
  encodedBefore: boolean;
  failed: boolean;
  shown: Monotonic;
}

/** One FFmpeg process as media-run/encode-group.ts reports it. */
export interface GroupHandle {
  started(): void;
  /** 0..1 of the process; a lower figure than before is ignored. */
  progress(fraction: number): void;
  /** Ran to the end, or failed after doing part of its work (its tasks are then made again). */
  ended(ok: boolean): void;
}

/**
 * Measured progress of one media run, kept in memory and written to the store at most once a
 * second (and at every phase change), so GetStatus reads it without touching the workers. The
 * model (domain/progress-model.ts) turns it into the seed's four figures for the media and for
 * each task.
 */
export class ProgressTracker {
  #phase: Phase = 'download';
  readonly #media = new Monotonic();
  #current = new Monotonic(1);
  readonly #download = { done: 0, total: 0, timedBytes: 0, startedAt: Date.now(), endedAt: null as number | null };
  #save = { startedAt: 0 };
  /** In the order they run. */
  readonly #groups: Group[] = [];
  readonly #handles = new WeakMap<GroupHandle, Group>();
  readonly #tasks = new Map<number, TaskState>();
  #timer: NodeJS.Timeout | null = null;
  #dirty = false;
  #stopped = false;
  #writing: Promise<void> = Promise.resolve();

  constructor(
    private readonly db: Db,
    private readonly mediaId: number,
    taskIds: number[],
  ) {
    for (const id of taskIds) this.#tasks.set(id, { group: null, work: 0, bytes: 0, sent: 0, encodedBefore: false, failed: false, shown: new Monotonic() });
  }

  start(): void {
    this.#timer = setInterval(() => void this.flush(), 1000);
    this.#timer.unref();
  }

  /** No more writes: called before the media's final status, which writes the final figures itself. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    const done = this.#groups.filter((g) => g.state === 'done');
    if (done.length > 0) lastPace = measuredPace(done, lastPace);
    await this.#writing;
  }

  async enterPhase(phase: Phase): Promise<void> {
    if (this.#phase === 'download' && phase !== 'download') this.#download.endedAt = Date.now();
    this.#phase = phase;
    if (phase === 'download') this.#download.startedAt = Date.now();
    if (phase === 'save') this.#save = { startedAt: Date.now() };
    this.#current = new Monotonic(1);
    this.#dirty = true;
    await this.flush();
  }

  /** `timed`: these bytes came over the network, so their pace foretells the delivery's. */
  downloadProgress(doneBytes: number, totalBytes: number, timed: boolean): void {
    this.#download.done = doneBytes;
    this.#download.total = totalBytes;
    if (timed) this.#download.timedBytes = doneBytes;
    this.#dirty = true;
  }

  /** Tasks whose output an earlier run made: this run only delivers it. */
  encodedBefore(taskIds: number[]): void {
    for (const id of taskIds) {
      const t = this.#tasks.get(id);
      if (t) t.encodedBefore = true;
    }
  }

  /**
   * One FFmpeg process of the encode phase, in the order they run (`after`: right behind that
   * one, for the tasks of a failed shared process made again one by one). `bytes` is what each
   * task's delivery is expected to move.
   */
  addGroup(taskIds: number[], work: GroupWork, bytes: number[], after?: GroupHandle): GroupHandle {
    const group: Group = { taskIds, work: work.total, fraction: 0, elapsedSec: 0, state: 'waiting', startedAt: null, paceFrom: null, reports: [] };
    const at = after ? this.#groups.indexOf(this.#handles.get(after)!) + 1 : this.#groups.length;
    this.#groups.splice(at > 0 ? at : this.#groups.length, 0, group);
    taskIds.forEach((id, i) => {
      const t = this.#tasks.get(id);
      if (!t) return;
      t.group = group;
      t.work = work.shares[i] ?? 0;
      t.bytes = bytes[i] ?? 0;
    });
    this.#dirty = true;
    const handle: GroupHandle = {
      started: () => {
        group.state = 'running';
        group.startedAt = Date.now();
        this.#dirty = true;
      },
      progress: (fraction) => {
        if (group.state === 'waiting') handle.started();
        group.fraction = Math.max(group.fraction, clamp(fraction));
        this.#tick(group);
        const last = group.reports.at(-1);
        if (group.fraction > 0 && (!last || group.elapsedSec - last.elapsedSec >= 1)) group.reports.push({ elapsedSec: group.elapsedSec, fraction: group.fraction });
        group.paceFrom = paceFrom(group.reports, group.elapsedSec);
      },
      ended: (ok) => {
        this.#tick(group);
        // What a failed process did still tells the pace: count the work it got through.
        if (!ok) group.work *= group.fraction;
        group.fraction = 1;
        group.state = 'done';
      },
    };
    this.#handles.set(handle, group);
    return handle;
  }

  /** The real size of an encoded task's delivery (output bytes × destinations). */
  taskEncoded(taskId: number, deliveryBytes: number): void {
    const t = this.#tasks.get(taskId);
    if (t) t.bytes = deliveryBytes;
    this.#dirty = true;
  }

  taskFailed(taskId: number): void {
    const t = this.#tasks.get(taskId);
    if (t) t.failed = true;
    this.#dirty = true;
  }

  /** The save phase's real sizes, once it knows them. */
  planSave(bytesByTask: Map<number, number>): void {
    for (const [id, bytes] of bytesByTask) {
      const t = this.#tasks.get(id);
      if (t) t.bytes = bytes;
    }
    this.#dirty = true;
  }

  /** Bytes of one task's outputs sent so far, all its destinations together. */
  taskSent(taskId: number, bytes: number): void {
    const t = this.#tasks.get(taskId);
    if (t) t.sent = Math.max(t.sent, bytes);
    this.#dirty = true;
  }

  #tick(group: Group): void {
    if (group.startedAt !== null) group.elapsedSec = (Date.now() - group.startedAt) / 1000;
    this.#dirty = true;
  }

  // --- the figures ---------------------------------------------------------------------------

  #pace(): number {
    for (const g of this.#groups) if (g.state === 'running') this.#tick(g);
    return measuredPace(this.#groups, lastPace);
  }

  /** Bytes per second of this run's transfers: the delivery as it goes, else the download. */
  #rate(): number {
    const now = Date.now();
    if (this.#phase === 'save') {
      const sent = this.#sentBytes();
      const sec = (now - this.#save.startedAt) / 1000;
      if (sent >= MIN_MEASURED_BYTES && sec >= MIN_MEASURED_SEC) return sent / sec;
    }
    const d = this.#download;
    const sec = ((d.endedAt ?? now) - d.startedAt) / 1000;
    if (d.timedBytes >= MIN_MEASURED_BYTES && sec >= MIN_MEASURED_SEC) return d.timedBytes / sec;
    return ASSUMED_TRANSFER_RATE;
  }

  #sentBytes(): number {
    let sent = 0;
    for (const t of this.#tasks.values()) sent += Math.min(t.sent, t.bytes);
    return sent;
  }

  #encoded(t: TaskState): number {
    if (this.#phase === 'save' || t.encodedBefore) return 1;
    return t.group ? t.group.fraction : 0;
  }

  /** The seed's four figures for the media and each live task, as fractions and seconds. */
  figures(): { media: Figures; tasks: Map<number, Figures> } {
    const pace = this.#pace();
    const rate = this.#rate();
    const live = [...this.#tasks.values()].filter((t) => !t.failed);
    const saveLeft = transferLeft(live.reduce((a, t) => a + Math.max(0, t.bytes - t.sent), 0), rate);
    const encLeft = this.#phase === 'encode' ? encodeLeft(this.#groups, pace) : 0;
    const d = this.#download;
    const downloaded = this.#phase === 'download' ? (d.total > 0 ? d.done / d.total : 0) : 1;
    const downloadLeft = this.#phase === 'download' && d.total > 0 ? transferLeft(d.total - d.done, rate) : 0;
    const totalLeft = this.#phase === 'download' ? downloadLeft : encLeft + saveLeft;

    const tasks = new Map<number, Figures>();
    const weighted: { weight: number; progress: number }[] = [];
    for (const [id, t] of this.#tasks) {
      const sentShare = t.bytes > 0 ? Math.min(1, t.sent / t.bytes) : this.#phase === 'save' ? 1 : 0;
      const progress = t.failed ? 1 : t.shown.offer(taskProgress(downloaded, this.#encoded(t), this.#phase === 'save' ? sentShare : 0));
      weighted.push({ weight: t.work * pace + transferLeft(t.bytes, rate), progress });
      if (t.failed) continue;
      const g = t.group;
      const step = this.#taskStep(t);
      tasks.set(id, {
        progress,
        progressCurrent: step === 'encoding' ? g!.fraction : step === 'saving' && this.#phase === 'save' ? sentShare : 0,
        timeLeft: totalLeft,
        timeLeftCurrent: step === 'waiting' ? (g ? untilStart(this.#groups, this.#groups.indexOf(g), pace) : encLeft)
          : step === 'encoding' ? groupLeft(g!, pace) : totalLeft,
      });
    }

    const share = (done: number, total: number): number => (total > 0 ? done / total : 0);
    const phaseFraction = this.#phase === 'download' ? downloaded
      : this.#phase === 'encode' ? share(this.#groups.reduce((a, g) => a + g.work * g.fraction, 0), this.#groups.reduce((a, g) => a + g.work, 0))
      : share(this.#sentBytes(), live.reduce((a, t) => a + t.bytes, 0));
    return {
      media: {
        progress: this.#media.offer(weightedProgress(weighted)),
        progressCurrent: this.#current.offer(phaseFraction),
        timeLeft: totalLeft,
        timeLeftCurrent: this.#phase === 'download' ? downloadLeft : this.#phase === 'encode' ? encLeft : saveLeft,
      },
      tasks,
    };
  }

  /** Which of its statuses a task is in, as far as progress goes. */
  #taskStep(t: TaskState): 'waiting' | 'encoding' | 'saving' {
    if (this.#phase === 'save' || t.encodedBefore) return 'saving';
    if (!t.group || t.group.state === 'waiting') return 'waiting';
    return t.group.state === 'running' ? 'encoding' : 'saving';
  }

  flush(): Promise<void> {
    if (!this.#dirty || this.#stopped) return this.#writing;
    this.#dirty = false;
    const { media, tasks } = this.figures();
    const taskRows = [...tasks].map(([id, f]) => ({ id, ...wire(f) }));
    this.#writing = this.#writing
      .then(() => writeProgress(this.db, this.mediaId, wire(media), taskRows))
      .catch(() => {
        // A failed progress write is not worth failing the media for; the next one may succeed.
      });
    return this.#writing;
  }
}

export interface Figures {
  /** 0..1 */
  progress: number;
  progressCurrent: number;
  /** Seconds. */
  timeLeft: number;
  timeLeftCurrent: number;
}

function wire(f: Figures): ProgressFigures {
  return {
    progress: f.progress * 100,
    progress_current: f.progressCurrent * 100,
    time_left: Math.round(f.timeLeft),
    time_left_current: Math.round(f.timeLeftCurrent),
  };
}

const clamp = (x: number): number => (Number.isFinite(x) ? Math.min(1, Math.max(0, x)) : 0);
