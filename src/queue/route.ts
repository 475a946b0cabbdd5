import type { FieldMap } from '../domain/fields.ts';
import { parseFormat } from '../domain/format.ts';
import { PRIORITY_MAX } from '../domain/priority.ts';

/**
 * Where a media waits in the cluster queue and how soon it runs: its `priority` field and the
 * capability tags its formats need. Pure: the BullMQ queue reads the media and asks this.
 */

/** BullMQ runs the lowest priority number first and treats 0 as "none": map 50..-50 onto 1..101. */
export function bullPriority(priority: number): number {
  return PRIORITY_MAX + 1 - priority;
}

/** Tags a worker must have to run a codec; codecs not listed run anywhere. */
const CODEC_TAGS: Record<string, string> = {
  libx265: 'hevc',
  libsvtav1: 'av1',
  'libaom-av1': 'av1',
};

/** Every tag a media's routing can ask for, so that each queue can be named in advance. */
export const ROUTED_TAGS = [...new Set(Object.values(CODEC_TAGS))].sort();

/**
 * The tags the formats need, sorted. Formats are stored validated, so one that no longer parses
 * needs nothing: the worker that takes it fails just that task, as in the embedded mode.
 */
export function requiredTags(formats: FieldMap[]): string[] {
  const tags = new Set<string>();
  for (const f of formats) {
    const parsed = parseFormat(f, { heAac: 'lc' });
    if (parsed.ok) collectCodecTags(parsed.spec, tags, 0);
  }
  return [...tags].sort();
}

// The output families keep their video codecs at different depths (a file's `videoCodec`, each
// HLS/DASH rendition's); walking the spec finds all of them without knowing each shape.
function collectCodecTags(value: unknown, tags: Set<string>, depth: number): void {
  if (depth > 6 || value === null || typeof value !== 'object') return;
  if (Array.isArray(value)) {
    for (const v of value) collectCodecTags(v, tags, depth + 1);
    return;
  }
  for (const [key, v] of Object.entries(value)) {
    if (key === 'videoCodec' && typeof v === 'string' && CODEC_TAGS[v]) tags.add(CODEC_TAGS[v]);
    else collectCodecTags(v, tags, depth + 1);
  }
}

/** BullMQ queue names cannot hold `:`; the plain queue carries media that need no tag. */
export function queueName(tags: readonly string[]): string {
  return tags.length === 0 ? 'media' : `media-${[...tags].sort().join('-')}`;
}

/** Every subset of `tags` (the empty one first): the queues a worker with these tags may take from. */
export function tagSubsets(tags: readonly string[]): string[][] {
  const sorted = [...new Set(tags)].sort();
  const subsets: string[][] = [[]];
  for (const t of sorted) for (const s of [...subsets]) subsets.push([...s, t]);
  return subsets.map((s) => s.sort());
}
