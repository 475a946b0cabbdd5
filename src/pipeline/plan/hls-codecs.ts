/**
 * The HEVC entry of a master playlist's CODECS (RFC 8216 4.3.4.2), written from the stream's own
 * decoder configuration. FFmpeg 5.1 writes `hvc1.<profile>.4.L<level>.B01` whatever the stream:
 * compatibility flags of Main 10 and a constraint byte x265 does not set, so a Main stream is
 * announced as something else. ISO/IEC 14496-15 Annex E defines the string from the `hvcC` box.
 */
import { readFile } from 'node:fs/promises';

/** `hvc1.1.6.L93.90` from the `hvcC` box in an fMP4 init section; null when it has none. */
export async function hevcCodecString(initFile: string): Promise<string | null> {
  const data = await readFile(initFile);
  // An init section holds the moov only (a few KB): searching for the box type is enough, the
  // parameter sets inside it never spell out 'hvcC'.
  const at = data.indexOf('hvcC', 0, 'latin1');
  if (at < 4 || at + 4 + 13 > data.length) return null;
  const c = data.subarray(at + 4);
  const space = ['', 'A', 'B', 'C'][c[1]! >> 6]!;
  const tier = (c[1]! >> 5) & 1 ? 'H' : 'L';
  const profile = c[1]! & 0x1f;
  // The 32 compatibility flags in reverse bit order, in hex without leading zeros.
  let flags = c.readUInt32BE(2);
  let reversed = 0;
  for (let i = 0; i < 32; i++) {
    reversed = ((reversed << 1) | (flags & 1)) >>> 0;
    flags >>>= 1;
  }
  const constraints = [...c.subarray(6, 12)];
  while (constraints.length > 0 && constraints.at(-1) === 0) constraints.pop();
  const level = c[12]!;
  return ['hvc1', `${space}${profile}`, reversed.toString(16).toUpperCase(), `${tier}${level}`, ...constraints.map((b) => b.toString(16).toUpperCase())].join('.');
}
