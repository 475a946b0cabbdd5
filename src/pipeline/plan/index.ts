/**
 * Format(s) → FFmpeg runs. {@link planMedia} plans all formats of a media, sharing one decode
 * where their options allow; {@link planEncode} is its one-format case.
 */
import type { OutputSpec } from '../../domain/format.ts';
import type { EncodePlan, PlanInput, PlanOut } from './common.ts';
import { planMedia } from './media.ts';

export type { EncodePlan, PlanInput, PlanOut } from './common.ts';
export { fittedToSource, planMedia, type EncodeGroup, type MediaPlan, type MediaTask } from './media.ts';
export { resolveAutoCrops } from './auto-crop.ts';

/**
 * Plans one output from one or more sources (joined in order). Throws an Error with a message
 * for the user when the sources cannot make this output (no video for an mp4, a start past the end…).
 */
export function planEncode(spec: OutputSpec, input: PlanInput, out: PlanOut): EncodePlan {
  const plan = planMedia([{ taskId: 0, spec, out }], input);
  if (plan.failed[0]) throw plan.failed[0].error;
  const group = plan.groups[0]!;
  return { passes: group.passes, durationSec: group.durationSec, listOutputs: () => group.listOutputs(0) };
}
