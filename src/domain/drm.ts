/**
 * Common Encryption (`cenc`) of DASH and CMAF outputs (issue 17; reference 4.5, 4.7): which DRM
 * systems are signalled, where the content keys come from, and which track takes which key.
 *
 * Keys come from exactly one source:
 * - `drm_key` + `drm_key_id` in the query (Encodery's names: the reference gives none);
 * - `cpix_url`: a CPIX 2.x document (DASH-IF) fetched like a source;
 * - `speke_url`: a SPEKE v2 key server, asked with a CPIX request.
 * Every system asked for (`widevine`, `playready_drm`, `clearkey_drm`) gets a `pssh` box and a
 * ContentProtection element; the keys themselves are delivered by that system's licence server,
 * never by Encodery. FairPlay needs the `cbcs` scheme, which is refused (see the registry).
 */
import { FormatProblem, type Fields } from './format/fields.ts';
import type { FieldMap } from './fields.ts';
import { FAIRPLAY_REASON } from './field-registry.ts';

export const DRM_SYSTEMS = {
  widevine: { field: 'widevine', systemId: 'edef8ba9-79d6-4ace-a3c8-27dcd51d21ed', name: 'Widevine' },
  playready: { field: 'playready_drm', systemId: '9a04f079-9840-4286-ab92-e65be0885f95', name: 'PlayReady' },
  clearkey: { field: 'clearkey_drm', systemId: '1077efec-c0b2-4d02-ace3-3c1e52e2fb4b', name: 'ClearKey (W3C common)' },
} as const;
export type DrmSystem = keyof typeof DRM_SYSTEMS;
export const DRM_SYSTEM_NAMES = Object.keys(DRM_SYSTEMS) as DrmSystem[];

export type KeySource =
  | { kind: 'query'; keyId: string; key: string }
  | { kind: 'cpix'; url: string }
  | { kind: 'speke'; url: string };

/** A DASH/CMAF output's protection. */
export interface Protection {
  source: KeySource;
  systems: DrmSystem[];
  /**
   * Each `<stream>`'s CPIX track type (`track_type`), in stream order; null where none is given
   * (the key then comes from a rule for the kind of track, or the one key there is).
   */
  trackTypes: (string | null)[];
  /**
   * For a SPEKE request: the content id (`drm_content_id`, or one made per media).
   * @default null
   */
  contentId: string | null;
}

/** Every field that asks for DRM; outputs that cannot carry it refuse them all. */
export const DRM_FIELDS = [
  'drm', 'widevine', 'playready_drm', 'clearkey_drm', 'fairplay_drm', 'drm_key', 'drm_key_id', 'cpix_url', 'speke_url', 'drm_content_id', 'track_type',
] as const;


const HEX_128 = /^(?:0x)?([0-9a-f]{32})$/i;
const UUID = /^([0-9a-f]{8})-([0-9a-f]{4})-([0-9a-f]{4})-([0-9a-f]{4})-([0-9a-f]{12})$/i;
const TRACK_TYPE = /^[A-Za-z0-9_+-]{1,32}$/;

/** 32 hex digits from a hex or UUID spelling; null when it is neither. */
export function hex128(value: string): string | null {
  const v = value.trim();
  const h = HEX_128.exec(v);
  if (h) return h[1]!.toLowerCase();
  const u = UUID.exec(v);
  return u ? u.slice(1).join('').toLowerCase() : null;
}

/** `00112233-4455-…`: the form MPDs and CPIX documents write key ids in. */
export function uuidOf(hex: string): string {
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

function isOff(v: string): boolean {
  return ['', 'no', 'none', 'false', '0'].includes(v.trim().toLowerCase());
}

function asked(f: Fields, name: string): boolean {
  const v = f.str(name);
  return v !== null && !isOff(v);
}

/**
 * The protection a DASH/CMAF format asks for, or null for a clear output. `streams` are the
 * format's own `<stream>` items (lower-case names), whose `track_type` they may give.
 */
export function readProtection(f: Fields, output: string, streams: readonly FieldMap[]): Protection | null {
  if (asked(f, 'fairplay_drm')) throw new FormatProblem(`fairplay_drm is not supported: ${FAIRPLAY_REASON}. Use widevine, playready_drm or clearkey_drm (cenc) instead.`);
  for (const name of ['widevine_key_server_url', 'widevine_aes_signing_key', 'widevine_aes_signing_iv', 'widevine_signer', 'widevine_content_id']) {
    if (f.str(name) !== null && f.str(name)!.trim() !== '') {
      throw new FormatProblem(`${name} is not supported: Encodery does not speak Widevine's own key-server protocol. Give the keys with drm_key and drm_key_id, cpix_url or speke_url, and widevine yes for the Widevine signalling.`);
    }
  }
  const systems = DRM_SYSTEM_NAMES.filter((s) => asked(f, DRM_SYSTEMS[s].field));
  const source = readKeySource(f);
  const drm = f.str('drm');
  const trackTypes = streams.map((s, i) => {
    const v = s['track_type'];
    if (v === undefined || (typeof v === 'string' && v.trim() === '')) return null;
    if (typeof v !== 'string' || !TRACK_TYPE.test(v.trim())) throw new FormatProblem(`stream ${i + 1}: track_type must be a CPIX track type like SD, HD, UHD1 or AUDIO.`);
    return v.trim().toUpperCase();
  });
  for (const [i, s] of streams.entries()) {
    for (const name of ['drm', 'widevine', 'playready_drm', 'clearkey_drm', 'fairplay_drm', 'drm_key', 'drm_key_id', 'cpix_url', 'speke_url']) {
      const v = s[name];
      if (typeof v === 'string' && !isOff(v)) {
        throw new FormatProblem(`stream ${i + 1}: ${name} must be set on the format: one protection covers the whole ${output} (per-track keys come from cpix_url or speke_url with track_type).`);
      }
    }
  }
  if (source === null) {
    if ((drm !== null && !isOff(drm)) || systems.length > 0 || trackTypes.some((t) => t !== null)) {
      throw new FormatProblem(`${output} protection needs its keys: give drm_key and drm_key_id (32 hex digits each), cpix_url or speke_url.`);
    }
    return null;
  }
  if (drm !== null && isOff(drm)) throw new FormatProblem(`drm is ${drm} but a key source is given; remove the key source for a clear output, or drm.`);
  if (source.kind === 'query' && trackTypes.some((t) => t !== null)) {
    throw new FormatProblem('track_type chooses among the keys of cpix_url or speke_url; drm_key gives one key for every track.');
  }
  const contentId = f.str('drm_content_id');
  if (contentId !== null && !/^[\x21-\x7e]{1,128}$/.test(contentId)) throw new FormatProblem('drm_content_id must be 1 to 128 printable characters without spaces.');
  return { source, systems, trackTypes, contentId };
}

function readKeySource(f: Fields): KeySource | null {
  const given = ['drm_key', 'drm_key_id', 'cpix_url', 'speke_url'].filter((n) => f.str(n) !== null && f.str(n)!.trim() !== '');
  if (given.length === 0) return null;
  const url = (name: 'cpix_url' | 'speke_url'): string => {
    const v = f.str(name)!.trim();
    let parsed: URL | null = null;
    try {
      parsed = new URL(v);
    } catch {
      // said below
    }
    if (!parsed || /[\s\x00-\x1f\x7f]/.test(v)) throw new FormatProblem(`${name} is not a URL.`);
    if (name === 'speke_url' && parsed.protocol !== 'https:' && parsed.protocol !== 'http:') throw new FormatProblem('speke_url must be an http:// or https:// URL of a SPEKE v2 key server.');
    return v;
  };
  if (given.includes('drm_key') || given.includes('drm_key_id')) {
    if (given.includes('cpix_url') || given.includes('speke_url')) throw new FormatProblem('give the keys one way: drm_key and drm_key_id, or cpix_url, or speke_url.');
    // The values are secrets: the messages never repeat them.
    const key = f.str('drm_key') === null ? null : hex128(f.str('drm_key')!);
    const keyId = f.str('drm_key_id') === null ? null : hex128(f.str('drm_key_id')!);
    if (f.str('drm_key') === null || f.str('drm_key_id') === null) throw new FormatProblem('drm_key and drm_key_id go together: give both (32 hex digits each).');
    if (key === null) throw new FormatProblem('drm_key is not 32 hexadecimal digits (128 bits); send it like 00112233445566778899aabbccddeeff.');
    if (keyId === null) throw new FormatProblem('drm_key_id is not 32 hexadecimal digits (128 bits) or a UUID.');
    return { kind: 'query', key, keyId };
  }
  if (given.length > 1) throw new FormatProblem('give the keys one way: drm_key and drm_key_id, or cpix_url, or speke_url.');
  return given[0] === 'cpix_url' ? { kind: 'cpix', url: url('cpix_url') } : { kind: 'speke', url: url('speke_url') };
}

/** Outputs that cannot be encrypted refuse every DRM field, so a protected request never yields clear media. */
export function refuseDrm(f: Fields, output: string): void {
  const streams = f.raw('stream');
  const items = streams === undefined ? [] : Array.isArray(streams) ? streams : [streams];
  for (const name of DRM_FIELDS) {
    const own = f.str(name);
    const inStream = items.some((s) => typeof s === 'object' && !Array.isArray(s) && Object.entries(s).some(([k, v]) => k.toLowerCase() === name && typeof v === 'string' && !isOff(v)));
    if ((own !== null && !isOff(own)) || inStream) {
      throw new FormatProblem(`${name} is not supported for ${output}: Encodery packages DRM (cenc) for mpeg_dash, advanced_dash, fmp4_hls and advanced_fmp4 only. Remove ${name}.`);
    }
  }
}

/** The key source URLs of a format: fetched by the pipeline, so checked at AddMedia like sources. */
export function protectionUrls(spec: { kind: string; protection?: Protection | null }): { field: string; url: string }[] {
  const source = spec.kind === 'dash' ? spec.protection?.source : undefined;
  if (!source || source.kind === 'query') return [];
  return [{ field: source.kind === 'cpix' ? 'cpix_url' : 'speke_url', url: source.url }];
}
