/**
 * The content keys of each protected DASH/CMAF task, fetched before its encode so a key source
 * that fails costs no encoding: from the query, a CPIX document (any source URL scheme, through
 * the transfer layer's guards and limits), or a SPEKE v2 server (a POST through the same guarded
 * HTTP agents). Keys live in memory only; a fetched CPIX file is removed as soon as it is read.
 */
import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import type { OutputSpec } from '../../domain/format.ts';
import type { Protection } from '../../domain/drm.ts';
import { DRM_SYSTEMS, uuidOf } from '../../domain/drm.ts';
import { describeError } from '../../domain/errors.ts';
import { download, redactUrl } from '../../transfer/index.ts';
import { postForText } from '../../transfer/exchange.ts';
import type { TransferContext } from '../../transfer/types.ts';
import { readCpix, spekeRequest, type CpixKey } from './cpix.ts';

export type { CpixKey } from './cpix.ts';

/** Which key protects each representation (by FFmpeg's representation number). */
export type KeyAssignment = Map<number, CpixKey>;

export interface KeyContext {
  scratch: string;
  transfer: TransferContext;
  signal: AbortSignal;
  /** SPEKE's content id when the format gives none. */
  mediaId: number;
}

/** The track type of each representation kind the output has, as SPEKE is asked for them. */
export function wantedTrackTypes(p: Protection, streams: readonly { audioOnly: boolean }[]): string[] {
  const video = streams.flatMap((s, i) => (s.audioOnly ? [] : [p.trackTypes[i] ?? 'VIDEO']));
  return [...new Set([...video, 'AUDIO'])];
}

/** Fetches the keys of every protected task; a task whose key source fails is reported, not thrown. */
export async function resolveContentKeys(
  tasks: readonly { taskId: number; spec: OutputSpec }[], ctx: KeyContext,
): Promise<{ keys: Map<number, CpixKey[]>; failed: { taskId: number; error: Error }[]; notes: { taskId: number; message: string }[] }> {
  const result = { keys: new Map<number, CpixKey[]>(), failed: [] as { taskId: number; error: Error }[], notes: [] as { taskId: number; message: string }[] };
  for (const { taskId, spec } of tasks) {
    if (spec.kind !== 'dash' || !spec.protection) continue;
    try {
      const keys = await keysOf(spec.protection, spec.streams, ctx, taskId);
      result.notes.push({ taskId, message: describeKeyUse(spec.protection, spec.streams, keys) });
      result.keys.set(taskId, keys);
    } catch (err) {
      if (ctx.signal.aborted) throw err;
      result.failed.push({ taskId, error: new Error(`The content keys could not be had: ${describeError(err)}`) });
    }
  }
  return result;
}

async function keysOf(p: Protection, streams: readonly { audioOnly: boolean }[], ctx: KeyContext, taskId: number): Promise<CpixKey[]> {
  const source = p.source;
  switch (source.kind) {
    case 'query':
      return [{ keyId: source.keyId, key: source.key, trackType: null }];
    case 'cpix': {
      await fs.mkdir(ctx.scratch, { recursive: true });
      const file = path.join(ctx.scratch, `cpix-${taskId}.xml`);
      try {
        await download(source.url, file, { ...ctx.transfer, maxSourceBytes: 1024 * 1024, signal: ctx.signal });
        return checked(readCpix(await fs.readFile(file, 'utf8')), `cpix_url ${redactUrl(source.url)}`);
      } finally {
        await fs.rm(file, { force: true });
      }
    }
    case 'speke': {
      const wanted = wantedTrackTypes(p, streams).map((trackType) => ({ keyId: crypto.randomBytes(16).toString('hex'), trackType }));
      const contentId = p.contentId ?? `encodery-media-${ctx.mediaId}`;
      const answer = await postForText(source.url, spekeRequest(contentId, wanted, p.systems), {
        'content-type': 'application/xml', 'x-speke-version': '2.0',
      }, { ...ctx.transfer, signal: ctx.signal });
      const keys = checked(readCpix(answer), `speke_url ${redactUrl(source.url)}`);
      // The server answers for the key ids asked; its own usage rules may be absent.
      return wanted.map((w) => {
        const got = keys.find((k) => k.keyId === w.keyId);
        if (!got) throw new Error(`the SPEKE server did not return a key for ${uuidOf(w.keyId)} (${w.trackType})`);
        return { keyId: got.keyId, key: got.key, trackType: w.trackType };
      });
    }
    default: {
      const never: never = source;
      throw new Error(`unhandled key source ${JSON.stringify(never)}`);
    }
  }
}

/**
 * The task log's line (shown by extended GetStatus with include_task_status): which track is
 * encrypted with which key id, and the systems signalled. Key ids only: they are public (every
 * MPD carries them); the keys never appear.
 */
export function describeKeyUse(p: Protection, streams: readonly { audioOnly: boolean; subPath: string }[], keys: readonly CpixKey[]): string {
  const tracks = streams.flatMap((s, i) => (s.audioOnly ? [] : [`${s.subPath} (video${p.trackTypes[i] ? ` ${p.trackTypes[i]}` : ''}) with key id ${uuidOf(keyFor(keys, 'video', p.trackTypes[i] ?? null).keyId)}`]));
  // Whether the source has sound is known only when planning: a missing audio key fails there.
  const audio = (() => {
    try {
      return keyFor(keys, 'audio', null);
    } catch {
      return null;
    }
  })();
  if (audio) tracks.push(`audio with key id ${uuidOf(audio.keyId)}`);
  const systems = p.systems.length > 0 ? p.systems.map((s) => DRM_SYSTEMS[s].name).join(', ') : 'no DRM system (default_KID only)';
  return `Encrypted (cenc, AES-128-CTR): ${tracks.join('; ')}. Signalled for ${systems}; keys from ${SOURCE_NAMES[p.source.kind]}.`;
}

const SOURCE_NAMES = { query: 'the query', cpix: 'cpix_url', speke: 'speke_url' } as const;

function checked(keys: CpixKey[], from: string): CpixKey[] {
  if (keys.length === 0) throw new Error(`${from} gave no keys`);
  return keys;
}

/**
 * The key of one track: the key for its track type when it has one; otherwise the key meant for
 * its kind (AUDIO, VIDEO), or for any track, or the only key there is.
 */
export function keyFor(keys: readonly CpixKey[], kind: 'video' | 'audio', trackType: string | null): CpixKey {
  if (trackType !== null) {
    const exact = keys.find((k) => k.trackType === trackType);
    if (!exact) throw new Error(`no content key is meant for track_type ${trackType} (the key source has ${describeTypes(keys)})`);
    return exact;
  }
  const own = keys.find((k) => k.trackType === (kind === 'audio' ? 'AUDIO' : 'VIDEO'));
  const any = keys.filter((k) => k.trackType === null);
  const found = own ?? (any.length === 1 ? any[0] : undefined) ?? (keys.length === 1 ? keys[0] : undefined);
  if (!found) throw new Error(`no content key is meant for the ${kind} track (the key source has ${describeTypes(keys)}); give each stream a track_type`);
  return found;
}

function describeTypes(keys: readonly CpixKey[]): string {
  return keys.map((k) => `${uuidOf(k.keyId)} for ${k.trackType ?? 'any track'}`).join(', ');
}
