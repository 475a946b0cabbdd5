/**
 * What passes between a split task and whoever runs its pieces (this process, or the chunk
 * workers of a cluster through queue/bull-chunks.ts): plain data and the two seams, so that the
 * queue carries chunks without knowing FFmpeg.
 */
import { z } from 'zod';

/** What to read from one split unit's stderr. */
export const UnitMeasure = z.object({
  /** A chunk whose encoder was asked for its closing statistics. */
  stats: z.boolean(),
  /** The audio unit's ebur128 filter, by its index in the rendered graph (`Parsed_ebur128_N`). */
  loudnessFilter: z.number().int().nonnegative().nullable(),
});
export type UnitMeasure = z.infer<typeof UnitMeasure>;

const figure = z.number().finite().nullable();

/** What one unit's run measured: its encoder's statistics (null: not printed, or not one encoder's), its loudness. */
export const UnitFigures = z.object({
  encoder: z.object({ encoder: z.enum(['libx264', 'libx265']), psnr: figure, ssim: figure }).nullable(),
  /** undefined: no ebur128 summary was printed. */
  loudness: figure.optional(),
});
export type UnitFigures = z.infer<typeof UnitFigures>;

/** What a chunk job carries besides its command: the two arguments to point at the worker's own files. */
export const ChunkPlace = z.object({
  source: z.object({ url: z.string(), size: z.number().int().nonnegative(), arg: z.string() }),
  piece: z.object({ url: z.string(), arg: z.string() }),
});
export type ChunkPlace = z.infer<typeof ChunkPlace>;

/** One FFmpeg run of a split task: a video chunk, or the audio. */
export interface SplitUnit {
  kind: 'chunk' | 'audio';
  /** Chunk index; -1 for the audio. */
  index: number;
  args: string[];
  /** Expected length, for progress and weights. */
  durationSec: number;
  /** The source file this run reads. */
  source: string;
  /** The file this run writes. */
  file: string;
  describe: string;
  /** What its run measures for the quality report; absent when the report is off. */
  measure?: UnitMeasure;
}

export interface UnitResult {
  wallSec: number;
  cpuSec: number;
  /** Which process ran it (host:pid), for the task log. */
  worker: string;
  /** What its run measured, when the unit asked (`measure`). */
  figures?: UnitFigures;
}

/**
 * Runs split units somewhere: FFmpeg processes of this worker (embedded), or jobs any worker of
 * the cluster takes (queue/bull-chunks.ts). The planner and the stitch do not care which.
 */
export interface UnitExecutor {
  /** Units handed out at once. */
  lanes: number;
  /** When it resolves, `unit.file` is in this process's data dir. */
  run(unit: SplitUnit, signal: AbortSignal, onProgress: (fraction: number) => void): Promise<UnitResult>;
  /**
   * A resumed run: brings a piece an earlier run left where this executor keeps them, with what
   * its run measured when that was recorded (null: not); null when there is no piece.
   */
  kept?(unit: SplitUnit, signal: AbortSignal): Promise<{ figures: UnitFigures | null } | null>;
}

/** One chunk as the queue carries it to a worker: its command and, through the shared storage, where its files are. */
export const ChunkJob = z.object({
  mediaId: z.number().int().positive(),
  args: z.array(z.string()),
  durationSec: z.number().nonnegative(),
  /** Set when the piece goes through the shared storage: where the source and the piece are. */
  place: ChunkPlace.optional(),
  /** Set when the quality report is on: what to read from the chunk's stderr, to carry back. */
  measure: UnitMeasure.optional(),
});
export type ChunkJob = z.infer<typeof ChunkJob>;

/** A chunk worker's FFmpeg side (pipeline/split/chunk-processor.ts), injected into queue/bull-chunks.ts. */
export interface ChunkProcessor {
  run(job: ChunkJob, signal: AbortSignal, onProgress: (fraction: number) => void): Promise<Omit<UnitResult, 'worker'>>;
  close(): Promise<void>;
}

/** Where a split task's pieces live when other workers run its chunks (pipeline/split/pieces.ts: the shared storage). */
export interface PieceStore {
  /** The chunk's command and where its files are, for a worker with its own data dir. */
  prepare(unit: SplitUnit, signal: AbortSignal): Promise<{ args: string[]; place: ChunkPlace }>;
  /** Brings a finished chunk's piece to where the join reads it. */
  fetch(unit: SplitUnit, signal: AbortSignal): Promise<void>;
  /** A piece an earlier run left, fetched, with what its run measured (null: not recorded); null when there is none. */
  kept(unit: SplitUnit, signal: AbortSignal): Promise<{ figures: UnitFigures | null } | null>;
}
