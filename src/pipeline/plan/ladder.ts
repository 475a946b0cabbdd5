/**
 * Sizes against the source's: a ladder rung marked `upscale no` (every rung of the built-in
 * ladders) that would be larger than the source is left out, keeping at least one variant, made
 * at the source's size; a file marked so is made at the source's size; a larger size the user
 * asked for is made, and said so.
 */
import type { HlsStreamSpec, OutputSpec, Picture } from '../../domain/format.ts';
import type { PlanInput } from './common.ts';
import { displayBox, targetBox, type Box } from './geometry.ts';
import { preparedFrame } from './graph.ts';

export interface FittedSpec {
  spec: OutputSpec;
  /** Lines for the task log: rungs left out, sizes made larger than the source. */
  notes: string[];
}

export function fitToSource(spec: OutputSpec, input: PlanInput, picture: Picture | null): FittedSpec {
  const video = input.probes[0]?.video;
  if (!video || !picture || input.splitScreen) return { spec, notes: [] };
  const source = targetBox(displayBox(preparedFrame(picture, video)), null);
  const larger = (box: Box): boolean => box.width > source.width || box.height > source.height;
  const sourceText = `${source.width}x${source.height}`;

  if (spec.kind === 'video') {
    if (!spec.size) return { spec, notes: [] };
    const box = targetBox(source, spec.size);
    if (!larger(box)) return { spec, notes: [] };
    if (spec.upscale) return { spec, notes: [`size ${box.width}x${box.height} is larger than the source's ${sourceText}: upscaled as asked`] };
    return { spec: { ...spec, size: null }, notes: [`size ${box.width}x${box.height} is larger than the source's ${sourceText}: made at the source's size (upscale no)`] };
  }
  if (spec.kind !== 'hls' && spec.kind !== 'dash') return { spec, notes: [] };

  const notes: string[] = [];
  const dropped: HlsStreamSpec[] = [];
  const kept: HlsStreamSpec[] = [];
  for (const s of spec.streams) {
    const box = s.audioOnly ? null : targetBox(source, s.size);
    if (!box || !larger(box)) kept.push(s);
    else if (s.upscale) {
      kept.push(s);
      notes.push(`stream ${s.subPath}: ${box.width}x${box.height} is larger than the source's ${sourceText}: upscaled as asked`);
    } else {
      dropped.push(s);
      notes.push(`stream ${s.subPath}: ${box.width}x${box.height} is larger than the source's ${sourceText}: left out (upscale no)`);
    }
  }
  if (dropped.length === 0) return { spec, notes };
  if (!kept.some((s) => !s.audioOnly)) {
    // Nothing left to watch: the smallest rung left out is made at the source's own size.
    const area = (s: HlsStreamSpec): number => {
      const b = targetBox(source, s.size);
      return b.width * b.height;
    };
    const smallest = dropped.reduce((a, b) => (area(b) < area(a) ? b : a));
    kept.splice(spec.streams.filter((s) => kept.includes(s) || s === smallest).indexOf(smallest), 0, { ...smallest, size: null });
    notes.push(`stream ${smallest.subPath}: made at the source's ${sourceText} instead, so the output keeps a picture`);
  }
  return { spec: { ...spec, streams: kept }, notes };
}
