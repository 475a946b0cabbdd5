/** Reading HLS outputs for the tests: playlists through m3u8-parser, segments through ffprobe. */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { Parser } from 'm3u8-parser';
import type { FieldMap } from '../src/domain/fields.ts';
import { parseFormat } from '../src/domain/format.ts';
import { probeMedia } from '../src/pipeline/ffmpeg/probe.ts';
import { runFfmpeg } from '../src/pipeline/ffmpeg/run.ts';
import { planMedia } from '../src/pipeline/plan/index.ts';

const run = promisify(execFile);

export function parseM3u8(text: string): M3u8Manifest {
  const parser = new Parser();
  parser.push(text);
  parser.end();
  return parser.manifest;
}

export async function readM3u8(file: string): Promise<M3u8Manifest> {
  return parseM3u8(await readFile(file, 'utf8'));
}

/** An `EXT-X-MEDIA TYPE=AUDIO` rendition as m3u8-parser reads it. */
export interface AudioRendition { language?: string; default: boolean; autoselect?: boolean; uri?: string; playlists?: unknown[] }

/** A master playlist's audio group, asserted to be its only one: the group's id and its renditions by name, in playlist order. */
export function onlyAudioGroup(master: M3u8Manifest): { groupId: string; renditions: Record<string, AudioRendition> } {
  const groups = Object.entries(master.mediaGroups?.AUDIO ?? {}) as [string, Record<string, AudioRendition>][];
  assert.equal(groups.length, 1, `one audio group: ${JSON.stringify(master.mediaGroups?.AUDIO)}`);
  const [groupId, renditions] = groups[0]!;
  return { groupId, renditions };
}

export interface SegmentFacts {
  /** Video frames in the segment (0 when it has no video). */
  frames: number;
  /** The first video frame: is it a keyframe, and when. */
  firstKey: boolean;
  firstPts: number | null;
  audio: { codec: string; channels: number }[];
  video: { codec: string; width: number; height: number } | null;
}

export async function probeSegment(file: string): Promise<SegmentFacts> {
  const { stdout: streamsJson } = await run('ffprobe', ['-v', 'error', '-count_frames', '-show_streams', '-of', 'json', file]);
  const streams = (JSON.parse(streamsJson) as { streams: Record<string, unknown>[] }).streams;
  const video = streams.find((s) => s['codec_type'] === 'video');
  const audio = streams.filter((s) => s['codec_type'] === 'audio').map((s) => ({ codec: String(s['codec_name']), channels: Number(s['channels']) }));
  let firstKey = false;
  let firstPts: number | null = null;
  if (video) {
    const { stdout } = await run('ffprobe', [
      '-v', 'error', '-select_streams', 'v:0', '-read_intervals', '%+#1', '-show_entries', 'frame=key_frame,pict_type,pts_time', '-of', 'json', file,
    ]);
    const frame = (JSON.parse(stdout) as { frames: { key_frame: number; pict_type: string; pts_time: string }[] }).frames[0];
    firstKey = frame?.key_frame === 1 && frame.pict_type === 'I';
    firstPts = frame ? Number(frame.pts_time) : null;
  }
  return {
    frames: video ? Number(video['nb_read_frames']) : 0,
    firstKey,
    firstPts,
    audio,
    video: video ? { codec: String(video['codec_name']), width: Number(video['width']), height: Number(video['height']) } : null,
  };
}

/** Average bits per second of a media playlist's segments, from the files. */
export async function measuredRate(playlistFile: string): Promise<number> {
  const m = await readM3u8(playlistFile);
  let bits = 0;
  let seconds = 0;
  for (const s of m.segments) {
    bits += (await stat(path.join(path.dirname(playlistFile), s.uri))).size * 8;
    seconds += s.duration;
  }
  return bits / seconds;
}

/** Plans one advanced_hls of `src` alone into a new folder `out`, runs it, and returns its files. */
export async function encodeHls(src: string, out: string, fields: FieldMap): Promise<{ out: string; files: string[] }> {
  const parsed = parseFormat({ output: 'advanced_hls', ...fields });
  if (!parsed.ok) assert.fail(parsed.error);
  await mkdir(out);
  const plan = planMedia([{ taskId: 1, spec: parsed.spec, out: { dir: out, baseName: 'src' } }], { paths: [src], probes: [await probeMedia(src, { ffprobe: 'ffprobe' })] });
  assert.deepEqual(plan.failed, []);
  const [group] = plan.groups;
  for (const args of group!.passes) await runFfmpeg(args, { ffmpeg: 'ffmpeg', durationSec: group!.durationSec });
  return { out, files: await group!.listOutputs(1) };
}
