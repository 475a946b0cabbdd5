/**
 * I-frame-only playlists (RFC 8216 4.3.3.6, `add_iframe_stream`) for MPEG-TS variants, which
 * FFmpeg 5.1's hls muxer cannot write: every keyframe becomes a byte range of a segment already
 * written, so no media is stored twice.
 *
 * The ranges come from the TS packets themselves: FFmpeg's TS muxer sets the
 * random_access_indicator on the packet that starts a keyframe's PES, and a keyframe's bytes run
 * to the start of the next video PES. Our video segments carry no audio (it is a rendition of its
 * own), so nothing else is interleaved there. PAT and PMT lead every segment, before its first
 * video packet; an EXT-X-MAP names them so that the range of a keyframe in the middle of a
 * segment decodes on its own.
 */
import { open, writeFile } from 'node:fs/promises';
import path from 'node:path';

export const HLS_IFRAME_PLAYLIST = 'iframes.m3u8';

const PACKET = 188;
const PTS_HZ = 90_000;

interface VideoPes {
  offset: number;
  key: boolean;
  /** 90 kHz ticks; null when the PES header has none. */
  pts: number | null;
}

/**
 * Writes `iframes.m3u8` beside the media playlist `uri` (relative to `dir`) from its segments,
 * and returns its URI (relative to `dir`), its target duration and its entries' sizes, from
 * which the master's EXT-X-I-FRAME-STREAM-INF gets its rates.
 */
export async function writeIframePlaylist(
  dir: string,
  uri: string,
  segments: { file: string; seconds: number }[],
): Promise<{ uri: string; target: number; entries: { seconds: number; bits: number }[] }> {
  const folder = path.posix.dirname(uri);
  const entries: { file: string; offset: number; length: number; time: number; seconds: number }[] = [];
  let map: { file: string; length: number } | null = null;
  let start = 0;
  for (const seg of segments) {
    const { pes, size } = await scanSegment(path.join(dir, seg.file));
    const base = pes[0]?.pts ?? null;
    if (map === null && pes[0] && pes[0].offset > 0) map = { file: seg.file, length: pes[0].offset };
    for (const [i, p] of pes.entries()) {
      if (!p.key) continue;
      const end = pes[i + 1]?.offset ?? size;
      const time = start + (p.pts !== null && base !== null ? (p.pts - base) / PTS_HZ : 0);
      entries.push({ file: seg.file, offset: p.offset, length: end - p.offset, time, seconds: 0 });
    }
    start += seg.seconds;
  }
  if (entries.length === 0) throw new Error(`The HLS variant ${uri} has no keyframe to list in an I-frame playlist.`);
  for (const [i, e] of entries.entries()) e.seconds = (entries[i + 1]?.time ?? start) - e.time;
  const listed = entries.filter((e) => e.seconds > 0.0005);

  const name = (file: string): string => path.posix.relative(folder, file);
  const target = Math.max(1, Math.ceil(Math.max(...listed.map((e) => e.seconds)) - 0.001));
  const lines = [
    '#EXTM3U',
    // EXT-X-MAP in an I-frames-only playlist needs version 5 (RFC 8216 7).
    '#EXT-X-VERSION:5',
    `#EXT-X-TARGETDURATION:${target}`,
    '#EXT-X-MEDIA-SEQUENCE:0',
    '#EXT-X-PLAYLIST-TYPE:VOD',
    '#EXT-X-I-FRAMES-ONLY',
    ...(map ? [`#EXT-X-MAP:URI="${name(map.file)}",BYTERANGE="${map.length}@0"`] : []),
  ];
  for (const e of listed) lines.push(`#EXTINF:${e.seconds.toFixed(6)},`, `#EXT-X-BYTERANGE:${e.length}@${e.offset}`, name(e.file));
  lines.push('#EXT-X-ENDLIST', '');
  const playlist = path.posix.join(folder, HLS_IFRAME_PLAYLIST);
  await writeFile(path.join(dir, playlist), lines.join('\n'));
  return { uri: playlist, target, entries: listed.map((e) => ({ seconds: e.seconds, bits: e.length * 8 })) };
}

/** The video PES starts of one TS file (of its first video PID), read a few hundred packets at a time. */
async function scanSegment(file: string): Promise<{ pes: VideoPes[]; size: number }> {
  const handle = await open(file, 'r');
  try {
    const size = (await handle.stat()).size;
    const buf = Buffer.alloc(PACKET * 512);
    const pes: VideoPes[] = [];
    let videoPid: number | null = null;
    for (let pos = 0; pos + PACKET <= size;) {
      const { bytesRead } = await handle.read(buf, 0, buf.length, pos);
      const packets = Math.floor(bytesRead / PACKET);
      if (packets === 0) break;
      for (let k = 0; k < packets; k++) {
        const o = k * PACKET;
        if (buf[o] !== 0x47) throw new Error(`${path.basename(file)} is not MPEG-TS (no sync byte at ${pos + o}).`);
        const found = videoPesStart(buf, o);
        if (!found) continue;
        if (videoPid === null) videoPid = found.pid;
        if (found.pid === videoPid) pes.push({ offset: pos + o, key: found.key, pts: found.pts });
      }
      pos += packets * PACKET;
    }
    return { pes, size };
  } finally {
    await handle.close();
  }
}

/** The packet at `o`, if it starts a video PES (stream id 0xE0-0xEF): its PID, keyframe flag and PTS. */
function videoPesStart(buf: Buffer, o: number): { pid: number; key: boolean; pts: number | null } | null {
  const b1 = buf[o + 1]!;
  if ((b1 & 0x40) === 0) return null; // payload_unit_start_indicator
  const control = (buf[o + 3]! >> 4) & 3;
  let p = o + 4;
  let key = false;
  if (control & 2) {
    const length = buf[p]!;
    if (length > 0) key = (buf[p + 1]! & 0x40) !== 0; // random_access_indicator
    p += 1 + length;
  }
  if ((control & 1) === 0 || p + 14 > o + PACKET) return null;
  if (buf[p] !== 0 || buf[p + 1] !== 0 || buf[p + 2] !== 1 || (buf[p + 3]! & 0xf0) !== 0xe0) return null;
  let pts: number | null = null;
  if (buf[p + 7]! & 0x80) {
    const high = (buf[p + 9]! >> 1) & 7;
    const mid = (buf[p + 10]! << 7) | (buf[p + 11]! >> 1);
    const low = (buf[p + 12]! << 7) | (buf[p + 13]! >> 1);
    pts = high * 2 ** 30 + mid * 2 ** 15 + low;
  }
  return { pid: ((b1 & 0x1f) << 8) | buf[o + 2]!, key, pts };
}
