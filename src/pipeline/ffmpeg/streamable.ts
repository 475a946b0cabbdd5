/**
 * Whether a source can be read front to back, as FFmpeg reads a pipe: told from its first bytes
 * while they arrive. An MP4/MOV needs its index (moov) before its media data (mdat), i.e. a
 * "faststart" file; Matroska/WebM needs its duration in the header, as the plan needs the
 * duration before the encode. Anything else is fetched whole first.
 */

/** Reads `length` bytes at `position`, waiting for them; fewer only where the file ends. */
export type ReadAt = (position: number, length: number) => Promise<Buffer>;

export type FrontToBack = { ok: true; headBytes: number } | { ok: false; why: string };

/** How much of a Matroska file is read for its header (EBML, Segment Info, Tracks). */
const MATROSKA_HEAD_BYTES = 1024 * 1024;
const MAX_TOP_LEVEL_BOXES = 64;
const MP4_TOP_LEVEL = new Set(['ftyp', 'styp', 'free', 'skip', 'wide', 'pdin', 'uuid', 'moov', 'mdat', 'moof', 'sidx', 'meta']);
const EBML_MAGIC = Buffer.from([0x1a, 0x45, 0xdf, 0xa3]);
const MATROSKA_DURATION_ID = Buffer.from([0x44, 0x89]);
const MATROSKA_CLUSTER_ID = Buffer.from([0x1f, 0x43, 0xb6, 0x75]);

/**
 * Whether the source reads front to back, and how many of its first bytes hold what a probe
 * needs (the whole moov, or the Matroska header).
 */
export async function frontToBack(read: ReadAt): Promise<FrontToBack> {
  const first = await read(0, 16);
  if (first.length < 12) return { ok: false, why: 'the source is too short to tell its format' };
  if (first.subarray(0, 4).equals(EBML_MAGIC)) return matroska(await matroskaHeader(read));
  if (MP4_TOP_LEVEL.has(first.toString('latin1', 4, 8))) return mp4(read);
  return { ok: false, why: 'only faststart MP4/MOV and Matroska/WebM sources are read while they download' };
}

async function mp4(read: ReadAt): Promise<FrontToBack> {
  let position = 0;
  for (let n = 0; n < MAX_TOP_LEVEL_BOXES; n++) {
    const header = await read(position, 16);
    if (header.length < 8) return { ok: false, why: 'the MP4 ends before its index (moov)' };
    const type = header.toString('latin1', 4, 8);
    let size = header.readUInt32BE(0);
    if (size === 1) size = header.length < 16 ? 0 : Number(header.readBigUInt64BE(8));
    if (type === 'mdat') return { ok: false, why: 'its index (moov) comes after the media data: not a faststart MP4' };
    if (size < 8) return { ok: false, why: `its ${JSON.stringify(type)} box has no usable size` };
    if (type === 'moov') return { ok: true, headBytes: position + size };
    position += size;
  }
  return { ok: false, why: `no index (moov) among its first ${MAX_TOP_LEVEL_BOXES} boxes` };
}

/** The file's first bytes up to its first Cluster (the header), read in growing steps; at most MATROSKA_HEAD_BYTES. */
async function matroskaHeader(read: ReadAt): Promise<Buffer> {
  for (let size = 64 * 1024; ; size *= 2) {
    const head = await read(0, size);
    if (head.indexOf(MATROSKA_CLUSTER_ID) >= 0 || head.length < size || size >= MATROSKA_HEAD_BYTES) return head;
  }
}

function matroska(head: Buffer): FrontToBack {
  const cluster = head.indexOf(MATROSKA_CLUSTER_ID);
  const header = cluster < 0 ? head : head.subarray(0, cluster);
  if (header.indexOf(MATROSKA_DURATION_ID) < 0) return { ok: false, why: 'its Matroska header states no duration' };
  return { ok: true, headBytes: cluster < 0 ? head.length : cluster };
}
