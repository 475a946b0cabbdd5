/**
 * The source's embedded CEA-608 captions (`extract`), read without FFmpeg's lavfi `movie=…[out+subcc]`
 * (lavfi and movie open files past every allow-list, inputs.ts):
 *
 * 1. ffprobe lists the video packets' presentation times, and FFmpeg copies the same packets'
 *    bytes out (`-c copy -f data`), both through the source's usual guard;
 * 2. each packet's ATSC A/53 cc_data is read here: in H.264, from SEI NAL units (ITU-T T.35
 *    `GA94` user data, payload type 4); in MPEG-1/2 video, from `GA94` user data (start code
 *    0x1B2). The valid field-1 byte pairs are kept with their times;
 * 3. the pairs become an SCC file, which FFmpeg's scc demuxer (forced) and its CEA-608 decoder
 *    turn into text, as for an SCC sidecar.
 * Field 2, CEA-708 services, SCTE-20 and DVD-style user data are not read.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import { CaptionError } from '../../domain/caption-cues.ts';
import { inputArgs, probeArgs } from '../ffmpeg/inputs.ts';

export interface SourceVideo {
  path: string;
  /** ffprobe's codec name of its first video stream, or null without one. */
  codec: string | null;
  /** Where the source's timeline starts (its format start_time): outputs, and cue times, count from there. */
  startSec: number;
}

/** Field-1 byte pairs of one picture, at its presentation time (seconds from the source's start). */
export interface TimedPairs {
  pts: number;
  pairs: [number, number][];
}

/** Codecs whose A/53 captions are read, and where. */
const READERS: Record<string, (packet: Buffer) => [number, number][]> = {
  h264: (p) => seiCaptionPairs(p),
  mpeg2video: (p) => userDataCaptionPairs(p),
  mpeg1video: (p) => userDataCaptionPairs(p),
};

const MAX_PACKET_LIST = 64 * 1024 * 1024;
/** A larger video packet is not a picture FFmpeg wrote: the list and the bytes have parted. */
const MAX_PACKET_BYTES = 64 * 1024 * 1024;

/** The source's field-1 CEA-608 captions in presentation order, or null when it carries none. */
export async function extractCea608(source: SourceVideo, scratchFile: string, tools: { ffmpeg: string; ffprobe: string; signal: AbortSignal }): Promise<TimedPairs[] | null> {
  const read = source.codec !== null ? READERS[source.codec] : undefined;
  if (!read) {
    throw new CaptionError(`extract reads CEA-608 captions from H.264 or MPEG-2 video; the source's video is ${source.codec ?? 'missing'}.`);
  }
  const list = await run(tools.ffprobe, probeArgs(source.path, 'media', ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'packet=pts_time,size', '-of', 'csv=p=0']), tools.signal);
  const packets = list.split('\n').filter((l) => l.trim() !== '').map((l) => {
    const [pts, size] = l.split(',');
    return { pts: Number(pts), size: Number(size) };
  });
  await run(tools.ffmpeg, ['-v', 'error', '-nostdin', '-y', ...inputArgs({ path: source.path }), '-map', '0:v:0', '-c', 'copy', '-f', 'data', `file:${scratchFile}`], tools.signal);
  const timed: TimedPairs[] = [];
  // Packet by packet: the video stream is as large as the source's, never held whole in memory.
  const handle = await fs.open(scratchFile, 'r');
  try {
    let at = 0;
    for (const p of packets) {
      if (!Number.isInteger(p.size) || p.size <= 0 || p.size > MAX_PACKET_BYTES) break;
      const { buffer, bytesRead } = await handle.read(Buffer.alloc(p.size), 0, p.size, at);
      if (bytesRead < p.size) break;
      at += p.size;
      const pairs = read(buffer);
      if (pairs.length > 0 && Number.isFinite(p.pts)) timed.push({ pts: p.pts - source.startSec, pairs });
    }
  } finally {
    await handle.close();
    await fs.rm(scratchFile, { force: true });
  }
  if (timed.length === 0) return null;
  // SEI come in decode order; captions play in presentation order.
  return timed.sort((a, b) => a.pts - b.pts);
}

/** The NAL units of one packet: Annex B (start codes) or MP4's 4-byte lengths. */
function nalUnits(packet: Buffer): Buffer[] {
  const units: Buffer[] = [];
  if (packet.length >= 4 && packet[0] === 0 && packet[1] === 0 && (packet[2] === 1 || (packet[2] === 0 && packet[3] === 1))) {
    const starts: { at: number; len: number }[] = [];
    for (let i = 0; i + 2 < packet.length; i++) {
      if (packet[i] === 0 && packet[i + 1] === 0 && packet[i + 2] === 1) {
        starts.push({ at: i, len: 3 });
        i += 2;
      }
    }
    starts.forEach((s, k) => units.push(packet.subarray(s.at + s.len, k + 1 < starts.length ? starts[k + 1]!.at : packet.length)));
    return units;
  }
  for (let i = 0; i + 4 <= packet.length;) {
    const len = packet.readUInt32BE(i);
    if (len === 0 || i + 4 + len > packet.length) break;
    units.push(packet.subarray(i + 4, i + 4 + len));
    i += 4 + len;
  }
  return units;
}

/** An RBSP without its emulation prevention bytes (00 00 03 → 00 00). */
function unescape(nal: Buffer): Buffer {
  const out: number[] = [];
  let zeros = 0;
  for (const b of nal) {
    if (zeros >= 2 && b === 3) {
      zeros = 0;
      continue;
    }
    out.push(b);
    zeros = b === 0 ? zeros + 1 : 0;
  }
  return Buffer.from(out);
}

/** The valid field-1 CEA-608 byte pairs (parity bits kept) of a packet's A/53 SEI, nulls left out. */
export function seiCaptionPairs(packet: Buffer): [number, number][] {
  const pairs: [number, number][] = [];
  for (const nal of nalUnits(packet)) {
    if ((nal[0]! & 0x1f) !== 6) continue;
    const sei = unescape(nal.subarray(1));
    let i = 0;
    while (i < sei.length && sei[i] !== 0x80) {
      let type = 0;
      while (sei[i] === 0xff) type += sei[i++]!;
      type += sei[i++] ?? 0;
      let size = 0;
      while (sei[i] === 0xff) size += sei[i++]!;
      size += sei[i++] ?? 0;
      const body = sei.subarray(i, i + size);
      i += size;
      // ITU-T T.35: USA (0xB5), ATSC (0x0031), "GA94", cc_data (3).
      if (type !== 4 || body.length < 10 || body[0] !== 0xb5 || body.readUInt16BE(1) !== 0x31 || body.toString('latin1', 3, 7) !== 'GA94' || body[7] !== 3) continue;
      pairs.push(...ccDataPairs(body, 8));
    }
  }
  return pairs;
}

/** The valid field-1 pairs of an MPEG-1/2 picture's ATSC user data (00 00 01 B2 "GA94" 03 cc_data). */
export function userDataCaptionPairs(packet: Buffer): [number, number][] {
  const pairs: [number, number][] = [];
  for (let at = packet.indexOf(USER_DATA); at >= 0; at = packet.indexOf(USER_DATA, at + 4)) {
    if (packet.toString('latin1', at + 4, at + 8) === 'GA94' && packet[at + 8] === 3) pairs.push(...ccDataPairs(packet, at + 9));
  }
  return pairs;
}

const USER_DATA = Buffer.from([0, 0, 1, 0xb2]);

/**
 * The valid field-1 CEA-608 pairs of an A/53 cc_data() starting at `at` (its flags byte:
 * process_cc_data_flag, cc_count), parity bits kept, null pairs left out.
 */
function ccDataPairs(data: Buffer, at: number): [number, number][] {
  const pairs: [number, number][] = [];
  if (at >= data.length || !(data[at]! & 0x40)) return pairs;
  const count = data[at]! & 0x1f;
  for (let k = 0; k < count; k++) {
    const p = at + 2 + k * 3;
    if (p + 2 >= data.length) break;
    const marker = data[p]!;
    const valid = (marker & 0x04) !== 0;
    const type608 = marker & 0x03;
    const a = data[p + 1]!;
    const b = data[p + 2]!;
    if (valid && type608 === 0 && ((a & 0x7f) !== 0 || (b & 0x7f) !== 0)) pairs.push([a, b]);
  }
  return pairs;
}

/**
 * SCC lines at 30 frames a second (as FFmpeg's scc demuxer counts them), one per frame with data,
 * the pairs moved by `offset` seconds and those after `length` left out. Pairs that fall before
 * 0 are sent at 0, so a caption built or shown before an output's start shows at its start.
 */
export function toScc(timed: readonly TimedPairs[], offset = 0, length: number | null = null): string {
  const lines: { frame: number; words: string[] }[] = [];
  for (const t of timed) {
    if (length !== null && t.pts + offset > length) break;
    const frame = Math.max(0, Math.round((t.pts + offset) * 30));
    const words = t.pairs.map(([a, b]) => `${a.toString(16).padStart(2, '0')}${b.toString(16).padStart(2, '0')}`);
    const last = lines.at(-1);
    // Two frames of a faster source on one SCC frame: their pairs go out together.
    if (last && last.frame >= frame) last.words.push(...words);
    else lines.push({ frame, words });
  }
  const tc = (frame: number): string => {
    const s = Math.floor(frame / 30);
    const two = (n: number): string => String(n).padStart(2, '0');
    return `${two(Math.floor(s / 3600))}:${two(Math.floor(s / 60) % 60)}:${two(s % 60)}:${two(frame % 30)}`;
  };
  return `Scenarist_SCC V1.0\n\n${lines.map((l) => `${tc(l.frame)}\t${l.words.join(' ')}`).join('\n\n')}\n`;
}

function run(tool: string, args: string[], signal: AbortSignal): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(tool, args, { signal, maxBuffer: MAX_PACKET_LIST, windowsHide: true }, (err, stdout, stderr) => {
      if (signal.aborted) return reject(signal.reason);
      if (err) return reject(new CaptionError(`the source's captions could not be read: ${stderr.split('\n').filter(Boolean).slice(0, 2).join(' / ') || `exit ${String(err.code)}`}`));
      resolve(stdout);
    });
  });
}
