import type { Logger } from 'pino';
import { errorRef, internalErrorText, isUserFacing, withoutServerPaths } from '../domain/errors.ts';
import { redactText } from '../transfer/redact.ts';
import type { MediaProbe } from './ffmpeg/probe.ts';

/**
 * One line a user may see: a user-facing error's message without server paths or credentials,
 * or for anything else (a store error, a failed system call, a bug) "Internal error (ref …)",
 * with the whole error logged under that reference when `log` is given.
 */
export function describeError(err: unknown, log?: Logger): string {
  if (!isUserFacing(err)) {
    log?.error({ err, ref: errorRef(err) }, 'internal error, shown to the user by its reference');
    return internalErrorText(err);
  }
  const message = redactText(withoutServerPaths(err.message));
  return message.replace(/\s+/g, ' ').trim().slice(0, 1000) || 'unknown error';
}

export async function mapLimit<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const errors: unknown[] = [];
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++]!;
      await fn(item).catch((err) => errors.push(err));
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (errors.length > 0) throw errors[0];
}

export function describeProbe(p: MediaProbe): string {
  const parts = [`${p.formatName}, ${p.durationSec.toFixed(2)} s`];
  if (p.video) parts.push(`video ${p.video.codec} ${p.video.width}x${p.video.height} ${p.video.fps.toFixed(2)} fps${p.video.rotation ? ` rotated ${p.video.rotation}` : ''}`);
  for (const a of p.audio) parts.push(`audio ${a.codec} ${a.sampleRate} Hz ${a.channels} ch`);
  return parts.join(', ');
}
