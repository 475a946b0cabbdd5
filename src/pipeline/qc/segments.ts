/**
 * Segment checks of HLS and DASH outputs: every segment starts with a keyframe, and none but the
 * last of its playlist or folder is shorter than the threshold. Each segment is read on its own
 * (an fMP4 media segment behind its init segment), as a player joining there would read it.
 */
import fs from 'node:fs/promises';
import { createReadStream, createWriteStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import path from 'node:path';
import type { QcChecks } from '../../domain/qc.ts';
import { forEachVideoPacket } from '../ffmpeg/probe.ts';
import { outside, round, type CheckResult } from './report.ts';

export interface Segment {
  file: string;
  init: string | null;
  /** `#EXTINF`, when a playlist lists it. */
  declaredSec: number | null;
  /** Last of its playlist or folder: exempt from the short-segment rule. */
  last: boolean;
}

const SEGMENT = /\.(ts|m4s|m4v|m4a|aac|mp4)$/i;
const INIT = /init[^/]*\.(mp4|m4s)$/i;

/** The segments of an output, from its media playlists and, for DASH, its folders. */
export async function listSegments(files: string[]): Promise<Segment[]> {
  const out: Segment[] = [];
  const listed = new Set<string>();
  for (const f of files.filter((x) => x.toLowerCase().endsWith('.m3u8'))) {
    const text = await fs.readFile(f, 'utf8').catch(() => '');
    if (!text.includes('#EXTINF')) continue; // a master playlist
    const dir = path.dirname(f);
    let init: string | null = null;
    let declared: number | null = null;
    const mine: Segment[] = [];
    for (const raw of text.split(/\r?\n/)) {
      const line = raw.trim();
      if (line.startsWith('#EXT-X-MAP:')) {
        const uri = /URI="([^"]+)"/.exec(line)?.[1];
        if (uri) init = path.resolve(dir, uri);
      } else if (line.startsWith('#EXTINF:')) {
        declared = Number.parseFloat(line.slice(8));
      } else if (line && !line.startsWith('#') && !/^[a-z]+:\/\//i.test(line)) {
        const file = path.resolve(dir, line);
        // The I-frame playlists of an output list byte ranges of the same segments: skip them.
        if (listed.has(file)) continue;
        listed.add(file);
        mine.push({ file, init, declaredSec: Number.isFinite(declared) ? declared : null, last: false });
        declared = null;
      }
    }
    if (text.includes('#EXT-X-I-FRAMES-ONLY')) continue;
    if (mine.length > 0) mine[mine.length - 1]!.last = true;
    out.push(...mine);
  }
  // DASH: media segments beside their init segment, in name order.
  const byDir = new Map<string, string[]>();
  for (const f of files) {
    if (listed.has(path.resolve(f)) || !SEGMENT.test(f) || INIT.test(f)) continue;
    if (!/\.m4s$/i.test(f)) continue;
    const list = byDir.get(path.dirname(f)) ?? [];
    list.push(f);
    byDir.set(path.dirname(f), list);
  }
  for (const [dir, list] of byDir) {
    const init = files.find((f) => path.dirname(f) === dir && INIT.test(f)) ?? null;
    list.sort();
    list.forEach((file, i) => out.push({ file, init, declaredSec: null, last: i === list.length - 1 }));
  }
  return out;
}

export async function runSegmentChecks(
  c: QcChecks, files: string[], scratch: string, opts: { ffprobe: string; signal?: AbortSignal },
): Promise<CheckResult[]> {
  if (!c.segmentStartsWithIdr && !c.shortSegment) return [];
  const segments = await listSegments(files);
  const results: CheckResult[] = [];
  if (segments.length === 0) {
    const why = 'the output has no HLS or DASH segments';
    if (c.segmentStartsWithIdr) results.push({ name: 'qc_segment_starts_with_idr', result: 'warning', measured: 'no segments', expected: 'every segment starts with a keyframe', reason: why });
    if (c.shortSegment) results.push({ name: 'qc_short_segment', result: 'warning', measured: 'no segments', expected: `no segment shorter than ${c.shortSegment.min} s`, reason: why });
    return results;
  }
  const noKey: string[] = [];
  const short: string[] = [];
  let videoSegments = 0;
  let shortest = Infinity;
  await fs.mkdir(scratch, { recursive: true });
  const joined = path.join(scratch, 'segment.mp4');
  for (const s of segments) {
    opts.signal?.throwIfAborted();
    let target = s.file;
    if (s.init) {
      // An fMP4 media segment is only readable after its init segment.
      const w = createWriteStream(joined);
      await pipeline(createReadStream(s.init), w, { end: false, signal: opts.signal });
      await pipeline(createReadStream(s.file), w, { signal: opts.signal });
      target = joined;
    }
    let first: boolean | null = null;
    let start = Infinity;
    let end = -Infinity;
    await forEachVideoPacket(target, ['pts_time', 'duration_time', 'flags'], { ...opts, role: 'ownOutput' }, ([pts, dur, flags]) => {
      first ??= flags?.includes('K') ?? false;
      const p = Number(pts);
      if (Number.isFinite(p)) {
        start = Math.min(start, p);
        end = Math.max(end, p + (Number(dur) || 0));
      }
    });
    if (first === null) continue; // an audio-only segment
    videoSegments++;
    const name = path.basename(path.dirname(s.file)) + '/' + path.basename(s.file);
    if (!first) noKey.push(name);
    const seconds = s.declaredSec ?? (Number.isFinite(start) ? end - start : 0);
    if (!s.last) {
      shortest = Math.min(shortest, seconds);
      if (c.shortSegment && seconds < c.shortSegment.min - 1e-3) short.push(`${name} (${round(seconds, 3)} s)`);
    }
  }
  await fs.rm(joined, { force: true });
  if (c.segmentStartsWithIdr) {
    const ok = noKey.length === 0;
    results.push({
      name: 'qc_segment_starts_with_idr',
      result: ok ? 'pass' : outside(c.segmentStartsWithIdr.severity),
      measured: `${videoSegments - noKey.length} of ${videoSegments} segments start with a keyframe`,
      expected: 'every segment starts with a keyframe',
      reason: ok ? undefined : `${noKey.length} segment(s) do not start with a keyframe: ${list(noKey)}`,
    });
  }
  if (c.shortSegment) {
    const ok = short.length === 0;
    results.push({
      name: 'qc_short_segment',
      result: ok ? 'pass' : outside(c.shortSegment.severity),
      measured: Number.isFinite(shortest) ? `shortest ${round(shortest, 3)} s (the last segment not counted)` : 'one segment only',
      expected: `no segment shorter than ${c.shortSegment.min} s`,
      reason: ok ? undefined : `${short.length} segment(s) shorter than ${c.shortSegment.min} s: ${list(short)}`,
    });
  }
  return results;
}

const list = (xs: string[]): string => (xs.length > 5 ? `${xs.slice(0, 5).join(', ')} and ${xs.length - 5} more` : xs.join(', '));
