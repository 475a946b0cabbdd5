/**
 * What the quality report adds to an output's part of the FFmpeg command, so that the figures
 * come out of the encode itself: the decode, scaling and encoding are already being done.
 */
import type { VideoCodec } from '../../domain/format.ts';
import { filter, type Filter, type FilterChain } from '../ffmpeg/args.ts';
import type { GraphBuilder } from '../plan/graph.ts';

/**
 * How the task's part of the FFmpeg process was planned to be measured (plan/video.ts, plan/media.ts).
 * `encoded`: the video encoder was asked for its statistics when it can give them; `remuxed`:
 * the streams were copied, so there is no encoder to ask.
 */
export type QualityPlan =
  | {
      kind: 'encoded';
      /** The output's video encoders in stream order: one for a file, one per variant for HLS and DASH. */
      encoders: PlannedEncoder[];
      /** Index of this output's ebur128 filter in the rendered graph (`Parsed_ebur128_N`); null: audio not measured. */
      loudnessFilter: number | null;
      audio: 'measured' | 'copied' | 'none';
      /** Length of the source part the output is made from, seconds. */
      durationSec: number;
    }
  | { kind: 'remuxed'; durationSec: number };

export interface PlannedEncoder {
  codec: string;
  /** The variant's name (its sub_path) in a multi-variant output; null for a single file. */
  variant: string | null;
  /** Position among the encoders of this process that print statistics, in output-stream order; null: this codec cannot. */
  slot: number | null;
}

/** Encoders that compute PSNR and SSIM of what they encode against their own input, when asked. */
export function reportsStatistics(codec: VideoCodec): codec is 'libx264' | 'libx265' {
  return codec === 'libx264' || codec === 'libx265';
}

/**
 * Options asking libx264 for its closing statistics. x264 computes them on the reconstructed
 * frames it already has, so the encode itself is unchanged (its warning that psy optimisation
 * makes "results invalid" means PSNR then undersells what viewers see, not a different file).
 * libx265 is asked through its x265-params instead (plan/codecs.ts).
 */
export const X264_STATS_OPTIONS = ['-flags:v', '+psnr', '-ssim:v', '1'] as const;

/** The x265-params that make libx265 print its closing line with PSNR and SSIM. */
export const X265_STATS_PARAMS = ['log-level=info', 'psnr=1', 'ssim=1'] as const;

/**
 * Hands a copy of an output's final audio (the label fed to its encoder) to an ebur128 filter
 * that only measures and prints its summary at the end. Returns the label the encoder reads
 * now and the filter, whose position in the rendered graph names it in FFmpeg's log.
 */
export function loudnessBranch(graph: GraphBuilder, audio: string): { audio: string; meter: Filter } {
  const toEncoder = graph.label('qa');
  const toMeter = graph.label('qm');
  // framelog=verbose: without it ebur128 logs ten lines a second of audio at info level.
  const meter = filter('ebur128', { framelog: 'verbose', peak: 'none' });
  graph.add(
    { inputs: [audio], filters: [filter('asplit', [2])], outputs: [toEncoder, toMeter] },
    { inputs: [toMeter], filters: [meter, filter('anullsink')], outputs: [] },
  );
  return { audio: toEncoder, meter };
}

/** One output's measuring, as planned by its part (plan/video.ts), before the whole graph is known. */
export interface PartQuality {
  /** The output's video encoders in stream order; `stats`: asked for its statistics. */
  encoders: { codec: VideoCodec; variant: string | null; stats: boolean }[];
  /** The output's ebur128 filter; null when its audio is not measured. */
  meter: Filter | null;
  audio: 'measured' | 'copied' | 'none';
}

/**
 * Where each part's figures will appear in FFmpeg's log: its encoders' places among the encoders
 * that print statistics (outputs are written in part order, each output's video streams in
 * order), and its
 * meter's index in the rendered graph (FFmpeg names parsed filters `Parsed_<name>_<index>`,
 * counting every filter of the graph string in order).
 */
export function resolveQuality(parts: { quality?: PartQuality; durationSec: number }[], chains: FilterChain[]): (QualityPlan | null)[] {
  const index = new Map<Filter, number>();
  let n = 0;
  for (const c of chains) for (const f of c.filters) index.set(f, n++);
  let slot = 0;
  return parts.map(({ quality: p, durationSec }) => {
    if (!p) return null;
    return {
      durationSec,
      kind: 'encoded',
      encoders: p.encoders.map((e) => ({ codec: e.codec, variant: e.variant, slot: e.stats ? slot++ : null })),
      loudnessFilter: p.meter ? (index.get(p.meter) ?? null) : null,
      audio: p.audio,
    };
  });
}
