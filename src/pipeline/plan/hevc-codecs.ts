/**
 * The RFC 6381 codecs string of an HEVC track (`hvc1.1.6.L93.B0`), read from the hvcC box of an
 * fMP4 init segment: FFmpeg 5.1's dash muxer writes only the bare `hvc1`.
 */
import { open } from 'node:fs/promises';

/** The init segment is small; its first 64 KiB hold the moov box. */
export async function readHead(file: string): Promise<Buffer> {
  const fh = await open(file, 'r');
  try {
    const buf = Buffer.alloc(65536);
    const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
    return buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

/**
 * `hvc1.1.6.L93.B0`: profile space and profile, the compatibility flags in reverse bit order, tier
 * and level, then the constraint bytes without trailing zeros (ISO/IEC 14496-15 E.3). Falls back
 * to the bare tag when the init segment has no hvcC box.
 */
export function hevcCodecs(tag: string, init: Buffer): string {
  const entry = findBox(init, ['moov', 'trak', 'mdia', 'minf', 'stbl', 'stsd']);
  if (!entry) return tag;
  // stsd: version/flags and entry count, then sample entries; a visual sample entry's own fields take 78 bytes.
  const sample = boxAt(init, entry.start + 8, entry.end);
  // encv: the same entry once Common Encryption (pipeline/drm/cenc.ts) has marked it protected.
  if (!sample || (sample.type !== 'hvc1' && sample.type !== 'hev1' && sample.type !== 'encv')) return tag;
  const hvcc = findBox(init, ['hvcC'], sample.start + 78, sample.end);
  if (!hvcc || hvcc.end - hvcc.start < 13) return tag;
  const c = init.subarray(hvcc.start, hvcc.end);
  const space = ['', 'A', 'B', 'C'][c[1]! >> 6]!;
  const tier = (c[1]! >> 5) & 1 ? 'H' : 'L';
  const profile = c[1]! & 0x1f;
  let compat = c.readUInt32BE(2);
  let reversed = 0;
  for (let b = 0; b < 32; b++) {
    reversed = (reversed << 1) | (compat & 1);
    compat >>>= 1;
  }
  const constraints = [...c.subarray(6, 12)];
  while (constraints.length > 0 && constraints.at(-1) === 0) constraints.pop();
  // A protected entry's codecs string is still that of its original format (the tag FFmpeg wrote).
  return [sample.type === 'encv' ? tag : sample.type, `${space}${profile}`, (reversed >>> 0).toString(16).toUpperCase(), `${tier}${c[12]}`,
    ...constraints.map((b) => b.toString(16).toUpperCase())].join('.');
}

interface Box {
  type: string;
  /** Payload start (after the header) and end. */
  start: number;
  end: number;
}

function boxAt(buf: Buffer, at: number, limit: number): Box | null {
  if (at + 8 > limit) return null;
  let size = buf.readUInt32BE(at);
  let header = 8;
  if (size === 1) {
    if (at + 16 > limit) return null;
    size = Number(buf.readBigUInt64BE(at + 8));
    header = 16;
  } else if (size === 0) size = limit - at;
  if (size < header || at + size > limit) return null;
  return { type: buf.toString('latin1', at + 4, at + 8), start: at + header, end: at + size };
}

function findBox(buf: Buffer, pathOf: string[], from = 0, to = buf.length): Box | null {
  let start = from;
  let end = to;
  let found: Box | null = null;
  for (const type of pathOf) {
    found = null;
    for (let at = start; at < end;) {
      const box = boxAt(buf, at, end);
      if (!box) return null;
      if (box.type === type) {
        found = box;
        break;
      }
      at = box.end;
    }
    if (!found) return null;
    start = found.start;
    end = found.end;
  }
  return found;
}
