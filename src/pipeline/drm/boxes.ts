/**
 * Just enough ISO BMFF (ISO/IEC 14496-12) to rewrite the fMP4 files FFmpeg's dash muxer writes:
 * a box tree that can be read, changed in place and written back with its sizes recomputed.
 * Leaf payloads stay as the bytes FFmpeg wrote; only the containers we walk are parsed.
 */

export interface Box {
  type: string;
  /** The payload after the header, for a leaf (or the part of a sample entry before its children). */
  data: Buffer;
  /** Child boxes of a container; null for a leaf. */
  children: Box[] | null;
}

/** Containers whose payload is only boxes. */
const CONTAINERS = new Set(['moov', 'trak', 'mdia', 'minf', 'stbl', 'moof', 'traf', 'mvex', 'sinf', 'schi', 'edts', 'dinf', 'udta']);
/** Sample entries: fixed fields, then boxes (ISO/IEC 14496-12 12.1.3, 12.2.3). */
const SAMPLE_ENTRY_HEAD: Record<string, number> = {
  avc1: 78, avc3: 78, hvc1: 78, hev1: 78, av01: 78, vp09: 78, encv: 78, mp4a: 28, 'ac-3': 28, 'ec-3': 28, Opus: 28, fLaC: 28, enca: 28,
};

export function parseBoxes(buf: Buffer, start = 0, end = buf.length): Box[] {
  const out: Box[] = [];
  let at = start;
  while (at < end) {
    if (end - at < 8) throw new Error('an MP4 box is cut short');
    let size = buf.readUInt32BE(at);
    const type = buf.toString('latin1', at + 4, at + 8);
    const header = 8;
    // 64-bit sizes never occur in segments of a few seconds; supporting them would complicate every offset.
    if (size === 1) throw new Error(`the MP4 box ${type} has a 64-bit size, which is not supported here`);
    if (size === 0) size = end - at;
    if (size < header || at + size > end) throw new Error(`the MP4 box ${type} has a size past its parent`);
    const payload = buf.subarray(at + header, at + size);
    out.push(parseBox(type, payload));
    at += size;
  }
  return out;
}

function parseBox(type: string, payload: Buffer): Box {
  if (CONTAINERS.has(type)) return { type, data: Buffer.alloc(0), children: parseBoxes(payload) };
  if (type === 'stsd') {
    // Full box header and entry count, then the sample entries.
    return { type, data: payload.subarray(0, 8), children: parseBoxes(payload, 8) };
  }
  const head = SAMPLE_ENTRY_HEAD[type];
  if (head !== undefined && payload.length >= head) return { type, data: payload.subarray(0, head), children: parseBoxes(payload, head) };
  return { type, data: payload, children: null };
}

export function serializeBoxes(boxes: readonly Box[]): Buffer {
  return Buffer.concat(boxes.map(serializeBox));
}

export function serializeBox(box: Box): Buffer {
  const body = box.children ? Buffer.concat([box.data, serializeBoxes(box.children)]) : box.data;
  const header = Buffer.alloc(8);
  header.writeUInt32BE(body.length + 8);
  header.write(box.type, 4, 'latin1');
  return Buffer.concat([header, body]);
}

export function boxSize(box: Box): number {
  return 8 + box.data.length + (box.children ? box.children.reduce((n, c) => n + boxSize(c), 0) : 0);
}

export function leaf(type: string, data: Buffer): Box {
  return { type, data, children: null };
}

export function container(type: string, children: Box[]): Box {
  return { type, data: Buffer.alloc(0), children };
}

/** A full box's version and flags followed by its fields. */
export function fullBox(type: string, version: number, flags: number, fields: Buffer): Box {
  const vf = Buffer.alloc(4);
  vf.writeUInt32BE(((version & 0xff) << 24) | (flags & 0xffffff));
  return leaf(type, Buffer.concat([vf, fields]));
}

export function child(box: Box, type: string): Box | undefined {
  return box.children?.find((c) => c.type === type);
}

export function childrenOf(box: Box, type: string): Box[] {
  return box.children?.filter((c) => c.type === type) ?? [];
}

/** The box at a path of types below `box`; throws naming the path when it is missing. */
export function descend(box: Box, ...types: string[]): Box {
  let at = box;
  for (const t of types) {
    const next = child(at, t);
    if (!next) throw new Error(`the MP4 box ${box.type} has no ${types.join('/')}`);
    at = next;
  }
  return at;
}
