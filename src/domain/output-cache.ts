import { createHash } from 'node:crypto';
import type { FieldMap } from './fields.ts';
import type { OutputSpec } from './format.ts';
import { editingUrls } from './format/editing.ts';
import { protectionUrls } from './drm.ts';
import { parseQc } from './qc.ts';

/**
 * The output cache's rules: which outputs may be served from it, and what their key is made of.
 * A key names one output exactly: everything that changes its bytes is in it, nothing else.
 */

/**
 * Bump whenever the plan builder or an FFmpeg argument changes what a format encodes to: every
 * entry made before no longer names its output and is never hit again (LRU eviction clears it).
 */
export const ENCODER_GENERATION = 1;

/**
 * Media-level fields that do not change an output's bytes: notifications, queue order. Every
 * other media field is in the key, so one Encodery does not know to matter still makes a miss.
 */
const NOT_IN_KEY = new Set([
  'notify', 'notify_format', 'notify_upload', 'notify_upload_extended', 'notify_encoding_errors', 'notify_live_start',
  'notify_body_format', 'extended_notify', 'qc_notify', 'qc_start_notify', 'priority', 'instant',
]);

export type Cacheability = { cacheable: true } | { cacheable: false; reason: string };

/**
 * Whether a format's output may come from, and go to, the cache. Not when the output depends on
 * bytes outside the key (logos, overlays, fonts and caption files fetched from URLs: they can
 * change behind the same URL), embeds keys (DRM, HLS AES-128 with a generated key or IV), or
 * is checked by QC (QC checks a fresh encode).
 */
export function cacheabilityOf(spec: OutputSpec, format: FieldMap, options: FieldMap): Cacheability {
  const fetched = editingUrls(spec);
  if (fetched.length > 0) return { cacheable: false, reason: `${fetched[0]!.field} is fetched from a URL whose bytes may change` };
  if ('protection' in spec && spec.protection) return { cacheable: false, reason: 'DRM outputs embed their content keys' };
  if (protectionUrls(spec).length > 0) return { cacheable: false, reason: 'DRM outputs embed their content keys' };
  if (spec.kind === 'hls' && spec.encryption) return { cacheable: false, reason: 'HLS encryption uses a key of its own for each output' };
  const qc = parseQc(format, options);
  if (!qc.ok || qc.spec) return { cacheable: false, reason: 'QC checks a fresh encode' };
  return { cacheable: true };
}

/** Everything a cached output's bytes depend on. */
export interface CacheKeyParts {
  /** The owner: a hit must never tell one user that another encoded the same file. */
  userId: string;
  /** sha256 (hex) of each source's bytes, in order. */
  sources: string[];
  /** The output files' base name (from the first source's name): playlists name their segments by it. */
  baseName: string;
  /** The parsed format, after its defaults: two spellings of one format are one key. */
  spec: OutputSpec;
  /** The media's fields (split_screen, multijob_workflow…), notifications and priority left out. */
  options: FieldMap;
  /** A digest of `ffmpeg -version`, which names the build, its libraries and its configuration. */
  ffmpegBuild: string;
  /** The settings that change encoded bytes (threads, split-and-stitch chunks, AAC-LC for HE-AAC, the quality report). */
  settings: Record<string, string | number | boolean>;
}

/** The key: sha256 (hex) of the parts in a canonical form (object keys sorted, undefined left out). */
export function outputCacheKey(parts: CacheKeyParts): string {
  const options = Object.fromEntries(Object.entries(parts.options).filter(([name]) => !NOT_IN_KEY.has(name.toLowerCase())));
  const material = { generation: ENCODER_GENERATION, ...parts, options };
  return createHash('sha256').update(canonicalJson(material)).digest('hex');
}

/** The first characters of a key, enough to tell entries apart in a log line. */
export function shortKey(key: string): string {
  return key.slice(0, 12);
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? 'null' : canonicalJson(v))).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value).filter(([, v]) => v !== undefined).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}
