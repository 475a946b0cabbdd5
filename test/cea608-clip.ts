/**
 * A test clip with CEA-608 captions in its H.264 SEI (ATSC A/53 `GA94` user data), as broadcast
 * encoders write them. FFmpeg 5.1 cannot put captions into SEI from a caption file, so x264's
 * Annex B stream (one access unit per AUD) gets one SEI per frame here, carrying that frame's
 * field-1 byte pair, and is then remuxed into MP4 untouched.
 */
import fs from 'node:fs/promises';
import { exec } from './helpers.ts';

/** The byte pairs of "HELLO" shown pop-on (as in an SCC file), then cleared: [frame, pair] at 25 fps. */
export function helloPairs(showAtFrame: number, clearAtFrame: number): Map<number, [number, number]> {
  const words = ['9420', '9420', '94ae', '94ae', '9452', '9452', '97a1', '97a1', 'c845', '4c4c', '4f80', '942c', '942c', '942f', '942f'];
  const pairs = new Map<number, [number, number]>();
  // The pop-on caption is built off screen first; 942f (end of caption) shows it at showAtFrame.
  const first = showAtFrame - words.length + 1;
  words.forEach((w, i) => pairs.set(first + i, [parseInt(w.slice(0, 2), 16), parseInt(w.slice(2), 16)]));
  pairs.set(clearAtFrame, [0x94, 0x2c]);
  pairs.set(clearAtFrame + 1, [0x94, 0x2c]);
  return pairs;
}

function seiNal(pair: [number, number]): Buffer {
  const payload = Buffer.from([
    0xb5, 0x00, 0x31, 0x47, 0x41, 0x39, 0x34, 0x03,
    0x40 | 1, 0xff, // process_cc_data_flag, cc_count 1; em_data
    0xfc, pair[0], pair[1], // cc_valid, field 1
    0xff,
  ]);
  const rbsp = Buffer.concat([Buffer.from([0x04, payload.length]), payload, Buffer.from([0x80])]);
  // Emulation prevention: 00 00 followed by 00-03 gets a 03 in between.
  const out: number[] = [];
  let zeros = 0;
  for (const b of rbsp) {
    if (zeros >= 2 && b <= 3) {
      out.push(3);
      zeros = 0;
    }
    out.push(b);
    zeros = b === 0 ? zeros + 1 : 0;
  }
  return Buffer.concat([Buffer.from([0, 0, 0, 1, 0x06]), Buffer.from(out)]);
}

/** A 25 fps gray clip of `seconds` with `pairs` in its SEI, written to `file` (MP4). */
export async function makeCea608Clip(file: string, seconds: number, pairs: Map<number, [number, number]>, size = '320x180'): Promise<void> {
  const raw = `${file}.h264`;
  await exec('ffmpeg', [
    '-v', 'error', '-y', '-f', 'lavfi', '-i', `color=c=0x808080:s=${size}:r=25:d=${seconds}`,
    '-c:v', 'libx264', '-preset', 'ultrafast', '-bf', '0', '-x264-params', 'aud=1', '-pix_fmt', 'yuv420p', '-f', 'h264', raw,
  ]);
  const stream = await fs.readFile(raw);
  const aud = Buffer.from([0, 0, 0, 1, 0x09]);
  const parts: Buffer[] = [];
  let frame = 0;
  let from = 0;
  for (let at = stream.indexOf(aud); at >= 0; at = stream.indexOf(aud, at + 1)) {
    // Right after the AUD (start code, NAL header, primary_pic_type), before the frame's slices.
    const after = at + aud.length + 1;
    parts.push(stream.subarray(from, after), seiNal(pairs.get(frame) ?? [0x80, 0x80]));
    frame++;
    from = after;
  }
  parts.push(stream.subarray(from));
  await fs.writeFile(raw, Buffer.concat(parts));
  await exec('ffmpeg', ['-v', 'error', '-y', '-f', 'h264', '-r', '25', '-i', raw, '-c', 'copy', file]);
  await fs.rm(raw, { force: true });
}

/**
 * A 25 fps gray HEVC clip of `seconds` with the same A/53 caption bytes (one field-1 pair, a
 * caption clear) in a prefix SEI before every picture, as broadcast HEVC encoders write them;
 * x265 in FFmpeg 5.1 writes none itself. MP4, tagged hvc1.
 */
export async function makeCea608HevcClip(file: string, seconds: number): Promise<void> {
  const raw = `${file}.hevc`;
  await exec('ffmpeg', [
    '-v', 'error', '-y', '-f', 'lavfi', '-i', `color=c=0x808080:s=320x180:r=25:d=${seconds}`,
    '-c:v', 'libx265', '-preset', 'ultrafast', '-x265-params', 'log-level=error:aud=1', '-pix_fmt', 'yuv420p', '-f', 'hevc', raw,
  ]);
  const stream = await fs.readFile(raw);
  const payload = [0xb5, 0x00, 0x31, 0x47, 0x41, 0x39, 0x34, 0x03, 0x40 | 1, 0xff, 0xfc, 0x94, 0x2c, 0xff];
  // NAL header: prefix SEI (39), layer 0, temporal id 1; then user_data_registered_itu_t_t35 (4).
  const sei = Buffer.from([0, 0, 0, 1, 39 << 1, 0x01, 0x04, payload.length, ...payload, 0x80]);
  const aud = Buffer.from([0, 0, 0, 1, 35 << 1, 0x01]);
  const parts: Buffer[] = [];
  let from = 0;
  for (let at = stream.indexOf(aud); at >= 0; at = stream.indexOf(aud, at + 1)) {
    const after = at + aud.length + 1; // the AUD's one byte: pic_type and its stop bit
    parts.push(stream.subarray(from, after), sei);
    from = after;
  }
  parts.push(stream.subarray(from));
  await fs.writeFile(raw, Buffer.concat(parts));
  await exec('ffmpeg', ['-v', 'error', '-y', '-f', 'hevc', '-r', '25', '-i', raw, '-c', 'copy', '-tag:v', 'hvc1', file]);
  await fs.rm(raw, { force: true });
}
