/**
 * The source's embedded CEA-608 captions (`extract`), read without FFmpeg's lavfi `movie=…[out+subcc]`
 * (lavfi and movie open files past every allow-list, inputs.ts):
 *
 * 1. ffprobe lists the video packets' presentation times, and FFmpeg copies the same packets'
 *    bytes out (`-c copy -f data`), both through the source's usual guard;
 * 2. each packet's SEI NAL units are read here: ATSC A/53 `GA94` user data (ITU-T T.35, payload
 *    type 4) carries cc_data triplets; the valid field-1 byte pairs are kept with their times;
 * 3. the pairs become an SCC file, which FFmpeg's scc demuxer (forced) and its CEA-608 decoder
 *    turn into text, as for an SCC sidecar.
 * H.264 only; MPEG-2 user data and CEA-708 services are not read.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import { CaptionError } from '../../domain/caption-cues.ts';
import { inputArgs, probeArgs } from '../ffmpeg/inputs.ts';

export interface SourceVideo {
  path: string;
  /** ffprobe's codec name of its first video stream, or null without one. */
  codec: string | null;
}

const MAX_PACKET_LIST = 64 * 1024 * 1024;
/** A larger video packet is not a picture FFmpeg wrote: the list and the bytes have parted. */
const MAX_PACKET_BYTES = 64 * 1024 * 1024;

/** The SCC text of the source's field-1 CEA-608 captions, or null when it carries none. */
export async function extractCea608(source: SourceVideo, scratchFile: string, tools: { ffmpeg: string; ffprobe: string; signal: AbortSignal }): Promise<string | null> {
  if (source.codec !== 'h264') {
    throw new CaptionError(`extract reads CEA-608 captions from H.264 video; the source's video is ${source.codec ?? 'missing'}.`);
  }
  const list = await run(tools.ffprobe, probeArgs(source.path, 'media', ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'packet=pts_time,size', '-of', 'csv=p=0']), tools.signal);
  const packets = list.split('\n').filter((l) => l.trim() !== '').map((l) => {
    const [pts, size] = l.split(',');
    return { pts: Number(pts), size: Number(size) };
  });
  await run(tools.ffmpeg, ['-v', 'error', '-nostdin', '-y', ...inputArgs({ path: source.path }), '-map', '0:v:0', '-c', 'copy', '-f', 'data', `file:${scratchFile}`], tools.signal);
  const timed: { pts: number; pairs: [number, number][] }[] = [];
  // Packet by packet: the video stream is as large as the source's, never held whole in memory.
  const handle = await fs.open(scratchFile, 'r');
  try {
    let at = 0;
    for (const p of packets) {
      if (!Number.isInteger(p.size) || p.size <= 0 || p.size > MAX_PACKET_BYTES) break;
      const { buffer, bytesRead } = await handle.read(Buffer.alloc(p.size), 0, p.size, at);
      if (bytesRead < p.size) break;
      at += p.size;
      const pairs = seiCaptionPairs(buffer);
      if (pairs.length > 0 && Number.isFinite(p.pts)) timed.push({ pts: p.pts, pairs });
    }
  } finally {
    await handle.close();
    await fs.rm(scratchFile, { force: true });
  }
  if (timed.length === 0) return null;
  // SEI come in decode order; captions play in presentation order.
  timed.sort((a, b) => a.pts - b.pts);
  return toScc(timed);
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
      if (!(body[8]! & 0x40)) continue;
      const count = body[8]! & 0x1f;
      for (let k = 0; k < count; k++) {
        const at = 10 + k * 3;
        if (at + 2 >= body.length) break;
        const marker = body[at]!;
        const valid = (marker & 0x04) !== 0;
        const type608 = marker & 0x03;
        const a = body[at + 1]!;
        const b = body[at + 2]!;
        if (valid && type608 === 0 && ((a & 0x7f) !== 0 || (b & 0x7f) !== 0)) pairs.push([a, b]);
      }
    }
  }
  return pairs;
}

/** SCC lines at 30 frames a second (as FFmpeg's scc demuxer counts them), one per frame with data. */
function toScc(timed: { pts: number; pairs: [number, number][] }[]): string {
  const lines: { frame: number; words: string[] }[] = [];
  for (const t of timed) {
    const frame = Math.max(0, Math.round(t.pts * 30));
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
