import type { ChunkJob, ChunkProcessor } from '../../domain/split-unit.ts';
import { unitReader } from '../quality/split.ts';
import type { ChunkSources } from './pieces.ts';
import { runPiece } from './run.ts';

/**
 * A chunk worker's FFmpeg: the chunk's command run here, its source taken from the shared
 * storage and its piece put back there when the job names them (`sources` null: the data dir
 * every worker shares holds both).
 */
export function chunkProcessor(opts: { ffmpeg: string; threads: number; sources: ChunkSources | null }): ChunkProcessor {
  const { sources } = opts;
  return {
    async run(job: ChunkJob, signal, onProgress) {
      if (job.place && !sources) throw new Error('this worker has no ENCODERY_STORAGE_URL to take the chunk\'s source from');
      const local = job.place ? await sources!.take(job.mediaId, job.place, signal) : null;
      try {
        const reader = job.measure ? unitReader(job.measure) : null;
        const r = await runPiece(local ? local.args(job.args) : job.args, {
          ffmpeg: opts.ffmpeg, threads: opts.threads, durationSec: job.durationSec, signal,
          ...(reader ? { onStderrLine: (line: string) => reader.line(line) } : {}),
          onProgress: (p) => onProgress(p.fraction),
        });
        const figures = reader?.figures();
        if (local) await local.putPiece(signal, figures);
        return { wallSec: r.wallSec, cpuSec: r.cpuSec, ...(figures ? { figures } : {}) };
      } finally {
        await local?.release();
      }
    },
    close: async () => {
      await sources?.close();
    },
  };
}
