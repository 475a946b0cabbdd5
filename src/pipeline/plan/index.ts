/**
 * Format → FFmpeg runs. One module per output family; this file only dispatches, so a new family
 * fails to compile here until it is handled.
 */
import type { OutputSpec } from '../../domain/format.ts';
import { planAudio } from './audio.ts';
import { checkInput, type EncodePlan, type PlanInput, type PlanOut } from './common.ts';
import { planThumbnail } from './thumbnail.ts';
import { planVideo } from './video.ts';

export type { EncodePlan, PlanInput, PlanOut } from './common.ts';

/**
 * Plans one output from one or more sources (joined in order). Throws an Error with a message
 * for the user when the sources cannot make this output (no video for an mp4, a start past the end…).
 */
export function planEncode(spec: OutputSpec, input: PlanInput, out: PlanOut): EncodePlan {
  checkInput(input);
  switch (spec.kind) {
    case 'video':
      return planVideo(spec, input, out);
    case 'audio':
      return planAudio(spec, input, out);
    case 'thumbnail':
      return planThumbnail(spec, input, out);
    default: {
      const never: never = spec;
      throw new Error(`unhandled output kind ${JSON.stringify(never)}`);
    }
  }
}
