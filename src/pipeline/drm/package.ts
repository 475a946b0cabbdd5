/**
 * A protected DASH/CMAF output: its segments encrypted (cenc.ts) while they still lie where
 * FFmpeg wrote them, before dash-manifest.ts measures and moves them; then, after the manifests
 * are final, the MPD's ContentProtection elements and the CMAF playlists' keys (signal.ts).
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { DrmSystem, Protection } from '../../domain/drm.ts';
import { DASH_MANIFEST } from '../../domain/format.ts';
import { finalizeDash, FFMPEG_INIT_NAME, FFMPEG_SEGMENT_NAME, type DashLayout } from '../plan/dash-manifest.ts';
import { HLS_MEDIA_PLAYLIST } from '../plan/hls-master.ts';
import { signalMpd, signalPlaylists } from './signal.ts';
import { keyFor, type CpixKey, type KeyAssignment } from './keys.ts';
import { protectInit, protectSegment } from './cenc.ts';
import { psshBox } from './pssh.ts';

/** One FFmpeg representation as the packager sees it. */
export interface ProtectedTrack {
  kind: 'video' | 'audio';
  /** The stream's `track_type`; null for none (audio renditions are AUDIO). */
  trackType: string | null;
}


/** Chooses each representation's key; throws before anything is written when one has none. */
export function assignKeys(tracks: readonly ProtectedTrack[], keys: readonly CpixKey[]): KeyAssignment {
  return new Map(tracks.map((t, i) => [i, keyFor(keys, t.kind, t.trackType)]));
}

/**
 * Encrypts every init and media segment FFmpeg wrote in `dir` (named by `initName` and
 * `segmentName`, which take the representation number and the segment number).
 */
export async function encryptRepresentations(
  dir: string, assigned: KeyAssignment, systems: readonly DrmSystem[], names: { init: (rep: number) => string; segment: RegExp },
): Promise<void> {
  const files = await fs.readdir(dir);
  for (const [rep, key] of assigned) {
    const keyId = Buffer.from(key.keyId, 'hex');
    const initPath = path.join(dir, names.init(rep));
    const clearInit = await fs.readFile(initPath).catch(() => null);
    if (!clearInit) throw new Error(`FFmpeg did not write the init segment of representation ${rep}.`);
    const { init, track } = protectInit(clearInit, keyId, systems.map((s) => psshBox(s, [keyId])));
    const contentKey = { keyId, key: Buffer.from(key.key, 'hex') };
    for (const name of files) {
      const m = names.segment.exec(name);
      if (!m || Number(m[1]) !== rep) continue;
      const file = path.join(dir, name);
      await replace(file, protectSegment(await fs.readFile(file), track, contentKey));
    }
    await replace(initPath, init);
  }
}

async function replace(file: string, bytes: Buffer): Promise<void> {
  await fs.writeFile(`${file}.tmp`, bytes);
  await fs.rename(`${file}.tmp`, file);
}

/** What a protected output's packaging needs, decided when it is planned. */
export interface DashProtectionPlan {
  assigned: KeyAssignment;
  systems: readonly DrmSystem[];
}

export function planProtection(p: Protection, keys: readonly CpixKey[] | undefined, tracks: readonly ProtectedTrack[]): DashProtectionPlan {
  if (!keys) throw new Error('internal: the content keys of this format were not fetched');
  return { assigned: assignKeys(tracks, keys), systems: p.systems };
}

/**
 * finalizeDash for an output that may be protected: segments encrypted before it measures and
 * moves them, manifests signalled after.
 */
export async function packageDash(dir: string, layout: DashLayout, protection: DashProtectionPlan | null): Promise<string[]> {
  if (!protection) return finalizeDash(dir, layout);
  await encryptRepresentations(dir, protection.assigned, protection.systems, {
    init: (rep) => expandFfmpegName(FFMPEG_INIT_NAME, rep),
    segment: new RegExp(`^${escapeRegExp(FFMPEG_SEGMENT_NAME).replace(escapeRegExp('$RepresentationID$'), '(\\d+)').replace(escapeRegExp('$Number%05d$'), '\\d+').replace(escapeRegExp('$ext$'), 'm4s')}$`),
  });
  const files = await finalizeDash(dir, layout);
  await signalMpd(path.join(dir, DASH_MANIFEST), protection.assigned, protection.systems);
  if (layout.hls) {
    const reps = [...new Set([...layout.hls.variants.map((v) => v.rep), ...layout.hls.audio])];
    const playlists = new Map(reps.map((rep) => [rep, path.join(dir, ...layout.representations[rep]!.folder.split('/'), HLS_MEDIA_PLAYLIST)]));
    await signalPlaylists(playlists, protection.assigned, protection.systems);
  }
  return files;
}

function expandFfmpegName(template: string, rep: number): string {
  return template.replaceAll('$RepresentationID$', String(rep)).replaceAll('$ext$', 'm4s');
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
