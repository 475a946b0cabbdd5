/**
 * Output options for the container edits of reference 4.3-4.5: tags, chapters and rotation
 * metadata. They touch no frame, so outputs that differ only here still share one decode.
 */
import type { ContainerEdits, MetadataTag } from '../../domain/format.ts';
import type { MediaProbe } from '../ffmpeg/probe.ts';

/** encoding.com's tag names → the keys FFmpeg's muxers map onto each container's own tags. */
const FFMPEG_KEY: Record<MetadataTag, string> = {
  title: 'title', copyright: 'copyright', author: 'artist', description: 'description', album: 'album',
};

/**
 * File-level tags and chapters. Stream tags that players rely on (language) are left alone;
 * without a copy no tag of the source is written, only the asked ones.
 */
export function tagOptions(edits: ContainerEdits): string[] {
  const args = ['-map_metadata:g', edits.copyMetadata ? '0:g' : '-1'];
  for (const [tag, value] of Object.entries(edits.tags) as [MetadataTag, string][]) args.push('-metadata', `${FFMPEG_KEY[tag]}=${value}`);
  if (edits.stripChapters) args.push('-map_chapters', '-1');
  return args;
}

/** Clockwise degrees to write as rotation metadata, or 0 for none. */
export function rotationToWrite(edits: ContainerEdits, probe: MediaProbe | undefined): 0 | 90 | 180 | 270 {
  if (edits.setRotate === 'source') return probe?.video?.rotation ?? 0;
  return edits.setRotate;
}

/**
 * FFmpeg 5.1 turns a `rotate` stream tag into a display matrix when it copies a stream (not when
 * it encodes one), reading the number counter-clockwise: 90 clockwise is written as 270.
 */
export function rotateOptions(clockwise: 0 | 90 | 180 | 270): string[] {
  return clockwise === 0 ? [] : ['-metadata:s:v:0', `rotate=${(360 - clockwise) % 360}`];
}
