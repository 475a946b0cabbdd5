/**
 * What an output's own boxes say of its protection, read without any key: per track (each folder
 * with an init segment) the scheme (`schm`), the key id (`tenc` default_KID), the DRM systems of
 * its `pssh` boxes, and how many of its media segments carry sample encryption (`senc`). QC
 * reports it (pipeline/qc/run.ts), so a clear segment in a protected output cannot pass unseen.
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { DRM_SYSTEMS, DRM_SYSTEM_NAMES, uuidOf } from '../../domain/drm.ts';
import type { TrackEncryption } from '../../domain/qc.ts';
import { child, childrenOf, parseBoxes, type Box } from './boxes.ts';

const INIT = /^init[^/]*\.(m4s|mp4)$/i;
const MEDIA_SEGMENT = /\.(m4s|m4v|m4a)$/i;

/** The protection of each track of an output's files; empty when no init segment is protected. */
export async function readOutputEncryption(files: readonly string[]): Promise<TrackEncryption[]> {
  const byDir = new Map<string, { init: string | null; segments: string[] }>();
  for (const f of files) {
    const dir = path.dirname(f);
    const entry = byDir.get(dir) ?? { init: null, segments: [] };
    if (INIT.test(path.basename(f))) entry.init = f;
    else if (MEDIA_SEGMENT.test(f)) entry.segments.push(f);
    byDir.set(dir, entry);
  }
  const tracks: TrackEncryption[] = [];
  for (const [dir, { init, segments }] of [...byDir].sort(([a], [b]) => a.localeCompare(b))) {
    if (!init) continue;
    const found = initProtection(await fs.readFile(init));
    let encrypted = 0;
    for (const s of segments) if (segmentHasSampleEncryption(await fs.readFile(s))) encrypted++;
    tracks.push({ track: path.basename(dir), ...found, segments: segments.length, encryptedSegments: encrypted });
  }
  return tracks.some((t) => t.scheme !== null) ? tracks : [];
}

type InitProtection = Pick<TrackEncryption, 'kind' | 'scheme' | 'keyId' | 'systems'>;

/** An init segment's track kind, scheme, default key id and DRM systems (null scheme: clear). */
export function initProtection(bytes: Buffer): InitProtection {
  const top = parseBoxes(bytes);
  const moov = top.find((b) => b.type === 'moov');
  const trak = moov ? child(moov, 'trak') : undefined;
  const entry = trak ? sampleEntry(trak) : undefined;
  const kind = entry?.type === 'encv' ? 'video' : entry?.type === 'enca' ? 'audio' : handlerKind(trak);
  const sinf = entry ? child(entry, 'sinf') : undefined;
  const schm = sinf ? child(sinf, 'schm') : undefined;
  const tenc = sinf ? child(sinf, 'schi') && child(child(sinf, 'schi')!, 'tenc') : undefined;
  // schm: version/flags, then the four-character scheme type; tenc v0: 4 + 2 reserved + isProtected + IV size + KID.
  const scheme = schm && schm.data.length >= 8 ? schm.data.toString('latin1', 4, 8) : null;
  const keyId = tenc && tenc.data.length >= 24 && tenc.data[6] === 1 ? uuidOf(tenc.data.subarray(8, 24).toString('hex')) : null;
  const systems = (moov ? childrenOf(moov, 'pssh') : []).map((p) => systemName(p.data.subarray(4, 20).toString('hex')));
  return { kind, scheme, keyId, systems };
}

function sampleEntry(trak: Box): Box | undefined {
  let at: Box | undefined = trak;
  for (const t of ['mdia', 'minf', 'stbl', 'stsd']) at = at ? child(at, t) : undefined;
  return at?.children?.[0];
}

function handlerKind(trak: Box | undefined): TrackEncryption['kind'] {
  const hdlr = trak && child(trak, 'mdia') ? child(child(trak, 'mdia')!, 'hdlr') : undefined;
  const type = hdlr && hdlr.data.length >= 12 ? hdlr.data.toString('latin1', 8, 12) : '';
  return type === 'vide' ? 'video' : type === 'soun' ? 'audio' : 'other';
}

function systemName(hex: string): string {
  const known = DRM_SYSTEM_NAMES.find((s) => DRM_SYSTEMS[s].systemId.replaceAll('-', '') === hex);
  return known ? DRM_SYSTEMS[known].name : uuidOf(hex);
}

/** Whether every fragment of a media segment carries its samples' IVs (`senc`). */
export function segmentHasSampleEncryption(bytes: Buffer): boolean {
  let boxes: Box[];
  try {
    boxes = parseBoxes(bytes);
  } catch {
    return false;
  }
  const trafs = boxes.filter((b) => b.type === 'moof').flatMap((m) => childrenOf(m, 'traf'));
  return trafs.length > 0 && trafs.every((t) => child(t, 'senc') !== undefined);
}
