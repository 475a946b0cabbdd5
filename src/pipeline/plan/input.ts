/**
 * The sources a plan reads and the part of them it encodes. Apart from common.ts so that the
 * filter graph (graph.ts), which common.ts's contexts carry, reads them without a cycle.
 */
import type { MediaProbe, PacketInfo } from '../ffmpeg/probe.ts';
import type { SplitScreen } from '../../domain/split-screen.ts';

export interface PlanInput {
  paths: string[];
  probes: MediaProbe[];
  /** The first source's video packets, read only when a pass-through must be checked against a maxrate. */
  videoPackets?: PacketInfo[];
  /** Show the sources side by side in video outputs instead of one after another (plan/stage.ts). */
  splitScreen?: SplitScreen;
}

export function probeAt(input: PlanInput, i: number): MediaProbe {
  const p = input.probes[i];
  if (!p) throw new Error(`no probe for source ${i + 1}`);
  return p;
}

export interface Trim {
  start: number;
  /** null = to the end. */
  length: number | null;
}
