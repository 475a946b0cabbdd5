import type { MediaProbe } from '../domain/media-probe.ts';

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
