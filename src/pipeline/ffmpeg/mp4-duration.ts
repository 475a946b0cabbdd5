/**
 * The duration an MP4/MOV file's own header states (its `moov/mvhd` box), read in process: the
 * figure ffprobe reports as the format's duration for such a file, without starting ffprobe,
 * whose start alone (loading every FFmpeg library) is most of a probe's cost. Only box headers
 * and the `mvhd` box are read, a few bytes each.
 */
import fs from 'node:fs/promises';

/** Boxes nested deeper than this, or more boxes than this at one level, are not ours to walk. */
const MAX_BOXES = 4096;

interface Box {
  type: string;
  /** Where its payload starts and the box ends, in bytes from the start of the file. */
  start: number;
  end: number;
}

/**
 * Seconds of the movie as its `mvhd` box states them, rounded to the microsecond as FFmpeg does
 * (av_rescale to AV_TIME_BASE); null for anything this cannot vouch for: not an ISO-BMFF file
 * (no leading `ftyp`), a fragmented one (`mvex`/`moof`, whose `mvhd` does not count the
 * fragments), no or an unset duration, a malformed box. The caller then asks ffprobe.
 */
export async function mp4HeaderDuration(file: string): Promise<number | null> {
  const handle = await fs.open(file, 'r');
  try {
    const size = (await handle.stat()).size;
    const read = async (at: number, length: number): Promise<Buffer | null> => {
      if (at < 0 || at + length > size) return null;
      const buf = Buffer.alloc(length);
      const { bytesRead } = await handle.read(buf, 0, length, at);
      return bytesRead === length ? buf : null;
    };
    const children = async (from: number, to: number): Promise<Box[] | null> => {
      const boxes: Box[] = [];
      for (let at = from; at < to; ) {
        if (boxes.length >= MAX_BOXES) return null;
        const head = await read(at, 8);
        if (!head) return null;
        let length = head.readUInt32BE(0);
        let start = at + 8;
        if (length === 1) {
          const large = await read(at + 8, 8);
          if (!large) return null;
          length = Number(large.readBigUInt64BE(0));
          start += 8;
        } else if (length === 0) {
          length = to - at;
        }
        const end = at + length;
        if (end < start || end > to) return null;
        boxes.push({ type: head.toString('latin1', 4, 8), start, end });
        at = end;
      }
      return boxes;
    };
    const top = await children(0, size);
    if (!top || top[0]?.type !== 'ftyp' || top.some((b) => b.type === 'moof')) return null;
    const moov = top.find((b) => b.type === 'moov');
    const inMoov = moov ? await children(moov.start, moov.end) : null;
    const mvhd = inMoov?.find((b) => b.type === 'mvhd');
    if (!inMoov || !mvhd || inMoov.some((b) => b.type === 'mvex')) return null;
    const payload = await read(mvhd.start, Math.min(32, mvhd.end - mvhd.start));
    if (!payload) return null;
    const version = payload[0];
    let timescale: number;
    let duration: number;
    if (version === 1 && payload.length >= 32) {
      timescale = payload.readUInt32BE(20);
      const d = payload.readBigUInt64BE(24);
      if (d === 0xffffffffffffffffn) return null;
      duration = Number(d);
    } else if (version === 0 && payload.length >= 20) {
      timescale = payload.readUInt32BE(12);
      duration = payload.readUInt32BE(16);
      if (duration === 0xffffffff) return null;
    } else {
      return null;
    }
    if (timescale === 0 || duration === 0) return null;
    return Math.round((duration * 1e6) / timescale) / 1e6;
  } finally {
    await handle.close();
  }
}
