import fs from 'node:fs/promises';
import type { Logger } from 'pino';
import type { Config } from '../../config.ts';
import type { Db } from '../../store/db.ts';
import { isStoreUnavailable } from '../../store/faults.ts';
import * as repo from '../../store/repo.ts';
import type { MediaStatus, TaskStatus } from '../../domain/status.ts';
import { transferContext } from '../../transfer/index.ts';
import type { TransferContext, TransferReport } from '../../transfer/types.ts';
import type { FileRootsOf } from '../../domain/file-roots.ts';
import type { MediaProbe } from '../ffmpeg/probe.ts';
import { ProgressTracker } from '../progress.ts';
import type { EncoderSlots } from '../encoder-slots.ts';
import { describeError } from '../../domain/errors.ts';
import { mediaDirs } from '../../domain/layout.ts';
import type { DeliveredOutput } from '../../domain/delivered-output.ts';
import type { SharedStorage } from '../../storage/shared-storage.ts';
import type { UnitExecutor } from '../../domain/split-unit.ts';
import type { Lifecycle } from '../../store/lifecycle.ts';
import type { SplitPieces } from '../split/pieces.ts';
import type { OutputCache } from '../cache/index.ts';
import { RunTimings } from './timings.ts';
import type { GrowingSource } from '../growing-source.ts';

/** What the pipeline tells the rest of the system besides status changes (those notify through the lifecycle's outbox). */
export interface PipelineEvents {
  /** An encode ended: `ok` with an output made, `error` when FFmpeg or its output failed. */
  taskEncoded(seconds: number, output: string, outcome: 'ok' | 'error'): void;
  /** A source download or destination upload ended. */
  transferred(report: TransferReport): void;
}

/** The lifecycle the pipeline writes every status through; a delivered output's facts go to notify_upload. */
export type PipelineLifecycle = Lifecycle<DeliveredOutput>;

export interface PipelineDeps {
  db: Db;
  lifecycle: PipelineLifecycle;
  config: Config;
  log: Logger;
  events: PipelineEvents;
  /** ENCODERY_STORAGE_URL; null or absent: outputs stay in the data dir only. */
  storage?: SharedStorage | null;
  /** ENCODERY_WORKERS encoders shared by the media this process runs; absent: no limit here. */
  encoderSlots?: EncoderSlots;
  /** Cluster mode: split-and-stitch chunks become queue jobs any worker takes (queue/bull-chunks.ts). */
  chunkExecutor?: (mediaId: number, pieces: SplitPieces | null, priority: number) => UnitExecutor;
  /** Each user's file:// folders (domain/file-roots.ts). */
  fileRoots: FileRootsOf;
  /** ENCODERY_CACHE_MAX_BYTES; null: no output cache. Absent: made from the config (createMediaProcessor). */
  outputCache?: OutputCache | null;
}

/**
 * One run of one media: what its phases (fetch.ts, encode.ts, deliver.ts, ...) share, and the
 * status writes they all make (every one through the lifecycle).
 */
export class MediaRunContext {
  readonly db: Db;
  readonly log: Logger;
  readonly lifecycle: PipelineLifecycle;
  progress: ProgressTracker;
  /** Destinations of each task, for the delivery estimate. */
  readonly destinations = new Map<number, number>();
  /** The media's owner, whose file:// folders its transfers may use; none until the media is read. */
  userId: string | null = null;
  taskIds: number[] = [];
  /** The first source as fetched in this run, the reference for QC; null on a delivery-only run. */
  source: { path: string; probe: MediaProbe } | null = null;
  /** Instant mode: the source still downloading while the encode reads it (instant.ts); null once fetched whole. */
  instant: GrowingSource | null = null;
  /** Stops source downloads this run left going (one an instant encode no longer needs). */
  readonly downloads = new AbortController();
  /** Deliveries of finished tasks started while later ones encode (deliver.ts), awaited by the delivery phase. */
  readonly earlyDeliveries: Promise<void>[] = [];
  /** HLS segments still going out after their encode ended (segment-uploads.ts), by task: the task's delivery waits for them. */
  readonly segmentDrains = new Map<number, Promise<void>>();
  /** Files uploaded while the encode ran, by {@link sentEarlyKey}: their size then, so the delivery phase skips them. */
  readonly sentEarly = new Map<string, number>();
  /** Uploads while encoding (deliveries and HLS segments): on unless `instant=no`. */
  uploadsWhileEncoding = false;
  /** The media's priority (our scale), which its split chunks take in the queue. */
  priority = 0;
  /** Where a split task's progress goes; set once the encode phase has planned its processes. */
  splitProgress: (taskId: number, fraction: number) => void = () => {};
  /** Where this run's time goes, phase by phase; the task log gets it as one line (timings.ts). */
  readonly timings = new RunTimings();

  constructor(
    readonly deps: PipelineDeps,
    readonly mediaId: number,
    readonly signal: AbortSignal,
  ) {
    // The run's own handle on the store: its queries are counted and timed.
    this.db = this.timings.store.meter(deps.db);
    this.lifecycle = deps.lifecycle;
    this.log = deps.log.child({ mediaId });
    this.progress = new ProgressTracker(deps.db, mediaId, []);
  }

  get config(): Config {
    return this.deps.config;
  }

  get storage(): SharedStorage | null {
    return this.deps.storage ?? null;
  }

  get outputCache(): OutputCache | null {
    return this.deps.outputCache ?? null;
  }

  get transfer(): TransferContext {
    const roots = this.userId === null ? undefined : this.deps.fileRoots(this.userId);
    return transferContext(this.deps.config, { ...(roots ? { roots } : {}), signal: this.signal, debug: (message) => this.log.debug(message), report: (t) => this.deps.events.transferred(t) });
  }

  /** An empty folder for a task's outputs (what an earlier or failed run left is removed). */
  async freshTaskDir(taskId: number): Promise<string> {
    const dir = mediaDirs(this.deps.config.dataDir, this.mediaId).task(taskId);
    await fs.rm(dir, { recursive: true, force: true });
    await fs.mkdir(dir, { recursive: true });
    return dir;
  }

  async failTask(taskId: number, err: unknown): Promise<void> {
    // An unreachable store is no fault of the task: the whole run is tried again later.
    if (isStoreUnavailable(err)) throw err;
    this.progress.taskFailed(taskId);
    await this.timings.store.time(() => this.lifecycle.failTask(taskId, describeError(err, this.log)));
  }

  setStatus(status: MediaStatus, patch: repo.MediaPatch = {}): Promise<void> {
    return this.timings.store.time(() => this.lifecycle.media(this.mediaId, status, { patch }));
  }

  setTaskStatus(taskId: number, status: TaskStatus, patch: repo.TaskPatch = {}): Promise<void> {
    return this.timings.store.time(() => this.lifecycle.task(taskId, status, { patch }));
  }

  /** Every upload started while encoding has ended, well or not (before the media's end is written). */
  async uploadsSettled(): Promise<void> {
    await Promise.allSettled([...this.earlyDeliveries, ...this.segmentDrains.values()]);
  }

  logAll(message: string): Promise<void> {
    return repo.appendLog(this.db, this.taskIds, message);
  }
}

export const FIGURES_DONE = { progress: 100, progress_current: 100, time_left: 0, time_left_current: 0 } as const;

/** One file's upload to one destination URL. */
export const sentEarlyKey = (destinationId: number, url: string): string => `${destinationId} ${url}`;

export const sum = (xs: number[]): number => xs.reduce((a, b) => a + b, 0);

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  return `${(n / 1024 ** 3).toFixed(2)} GiB`;
}
