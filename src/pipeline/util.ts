import type { MediaProbe } from '../domain/media-probe.ts';

export function describeProbe(p: MediaProbe): string {
  const parts = [`${p.formatName}, ${p.durationSec.toFixed(2)} s`];
  if (p.video) parts.push(`video ${p.video.codec} ${p.video.width}x${p.video.height} ${p.video.fps.toFixed(2)} fps${p.video.rotation ? ` rotated ${p.video.rotation}` : ''}${p.video.closedCaptions ? ' with CEA-608/708 captions' : ''}`);
  for (const a of p.audio) parts.push(`audio ${a.codec} ${a.sampleRate} Hz ${a.channels} ch`);
  return parts.join(', ');
}
