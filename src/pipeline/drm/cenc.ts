/**
 * Common Encryption, scheme `cenc` (ISO/IEC 23001-7: AES-128 in counter mode), of the fMP4 init
 * and media segments FFmpeg's dash muxer writes.
 *
 * Why not FFmpeg's own `encryption_scheme cenc-aes-ctr`: in FFmpeg 5.1 the mov muxer writes the
 * sample auxiliary information (senc/saiz/saio) only into the moov, never into a fragment, so the
 * IVs of fragmented media are lost and no player can decrypt it. We therefore let FFmpeg write
 * clear segments and encrypt them here, as a packager does:
 * - init segment: the sample entry becomes `encv`/`enca` with a `sinf` (frma, schm `cenc`, tenc
 *   with the default KID), and a `pssh` box per DRM system is added to the moov;
 * - media segment: each sample is encrypted with its own random 8-byte IV; H.264/HEVC samples
 *   use subsamples (the NAL length, NAL header and non-VCL NAL units stay clear, the protected
 *   part of a slice is a whole number of AES blocks, as Shaka Packager and Bento4 do), audio
 *   samples are encrypted whole; the traf gains `saiz`, `saio` and `senc`, and the trun data
 *   offset and the sidx reference size grow by what the moof grew.
 */
import crypto from 'node:crypto';
import {
  boxSize, child, childrenOf, container, descend, fullBox, leaf, parseBoxes, serializeBoxes, type Box,
} from './boxes.ts';

/** A content key: 16-byte key id and key. */
export interface ContentKey {
  keyId: Buffer;
  key: Buffer;
}

/** What an init segment says about its track, needed to encrypt its media segments. */
export interface TrackCrypto {
  kind: 'video' | 'audio';
  /** Bytes of each NAL unit's length prefix; null for a codec encrypted whole (audio). */
  nalLengthSize: number | null;
  /** 1 for H.264, 2 for HEVC. */
  nalHeaderSize: number;
  /** trex's default sample size, for fragments that give none. */
  defaultSampleSize: number;
}

const VIDEO_ENTRIES: Record<string, { config: string; nalHeaderSize: number; lengthByte: number }> = {
  avc1: { config: 'avcC', nalHeaderSize: 1, lengthByte: 4 },
  avc3: { config: 'avcC', nalHeaderSize: 1, lengthByte: 4 },
  hvc1: { config: 'hvcC', nalHeaderSize: 2, lengthByte: 21 },
  hev1: { config: 'hvcC', nalHeaderSize: 2, lengthByte: 21 },
};
const AUDIO_ENTRIES = new Set(['mp4a', 'ac-3', 'ec-3', 'Opus', 'fLaC']);

/**
 * The init segment with its one track marked as protected by `keyId` and the `pssh` boxes
 * added; and what its media segments need.
 */
export function protectInit(init: Buffer, keyId: Buffer, psshBoxes: readonly Box[]): { init: Buffer; track: TrackCrypto } {
  const boxes = parseBoxes(init);
  const moov = boxes.find((b) => b.type === 'moov');
  if (!moov) throw new Error('the init segment has no moov');
  const traks = childrenOf(moov, 'trak');
  if (traks.length !== 1) throw new Error(`the init segment has ${traks.length} tracks; one is expected`);
  const stsd = descend(traks[0]!, 'mdia', 'minf', 'stbl', 'stsd');
  const entry = stsd.children?.[0];
  if (!entry || stsd.children!.length !== 1) throw new Error('the init segment must have exactly one sample entry');
  const original = entry.type;
  let track: TrackCrypto;
  const video = VIDEO_ENTRIES[original];
  if (video) {
    const config = child(entry, video.config);
    if (!config || config.data.length <= video.lengthByte) throw new Error(`the ${original} sample entry has no ${video.config}`);
    track = { kind: 'video', nalLengthSize: (config.data[video.lengthByte]! & 3) + 1, nalHeaderSize: video.nalHeaderSize, defaultSampleSize: 0 };
    entry.type = 'encv';
  } else if (AUDIO_ENTRIES.has(original)) {
    track = { kind: 'audio', nalLengthSize: null, nalHeaderSize: 0, defaultSampleSize: 0 };
    entry.type = 'enca';
  } else {
    throw new Error(`Common Encryption of ${original} tracks is not supported (H.264, HEVC and audio are)`);
  }
  entry.children!.push(sinf(original, keyId));
  const trex = moov.children!.find((b) => b.type === 'mvex')?.children?.find((b) => b.type === 'trex');
  // trex: version/flags, track_ID, default description index, duration, size, flags.
  if (trex && trex.data.length >= 24) track.defaultSampleSize = trex.data.readUInt32BE(16);
  moov.children!.push(...psshBoxes);
  return { init: serializeBoxes(boxes), track };
}

function sinf(originalFormat: string, keyId: Buffer): Box {
  const scheme = Buffer.alloc(8);
  scheme.write('cenc', 0, 'latin1');
  scheme.writeUInt32BE(0x00010000, 4);
  // tenc version 0: two reserved bytes, isProtected, Per_Sample_IV_Size, KID.
  const tenc = Buffer.concat([Buffer.from([0, 0, 1, 8]), keyId]);
  return container('sinf', [
    leaf('frma', Buffer.from(originalFormat, 'latin1')),
    fullBox('schm', 0, 0, scheme),
    container('schi', [fullBox('tenc', 0, 0, tenc)]),
  ]);
}

interface Trun {
  box: Box;
  dataOffset: number;
  sizes: number[];
}

/** A media segment with every sample of every fragment encrypted (see the module comment). */
export function protectSegment(segment: Buffer, track: TrackCrypto, key: ContentKey): Buffer {
  // A copy: the samples are encrypted, and trun and sidx corrected, in place in it.
  const data = Buffer.from(segment);
  const boxes = parseBoxes(data);
  const growth: number[] = [];
  let at = 0;
  for (const box of boxes) {
    const size = boxSize(box);
    if (box.type === 'moof') growth.push(protectFragment(box, at, data, track, key));
    at += size;
  }
  const sidx = boxes.filter((b) => b.type === 'sidx');
  if (sidx.length > 1) throw new Error('a media segment with several sidx boxes is not supported');
  if (sidx[0]) growSidx(sidx[0], growth);
  return serializeBoxes(boxes);
}

/** Encrypts one fragment's samples in `data`; returns how many bytes its moof grew. */
function protectFragment(moof: Box, moofAt: number, data: Buffer, track: TrackCrypto, key: ContentKey): number {
  const trafs = childrenOf(moof, 'traf');
  if (trafs.length !== 1) throw new Error(`a fragment with ${trafs.length} track fragments is not supported`);
  const traf = trafs[0]!;
  const tfhd = descend(traf, 'tfhd');
  const flags = tfhd.data.readUInt32BE(0) & 0xffffff;
  if (flags & 0x1) throw new Error('a track fragment with an explicit base data offset is not supported');
  let pos = 8;
  if (flags & 0x2) pos += 4;
  if (flags & 0x8) pos += 4;
  const defaultSize = flags & 0x10 ? tfhd.data.readUInt32BE(pos) : track.defaultSampleSize;
  const truns = childrenOf(traf, 'trun').map((b) => readTrun(b, defaultSize));
  if (truns.length === 0) throw new Error('a track fragment has no trun');

  const ivs: Buffer[] = [];
  const subsamples: { clear: number; protect: number }[][] = [];
  for (const trun of truns) {
    let sampleAt = moofAt + trun.dataOffset;
    for (const size of trun.sizes) {
      if (sampleAt + size > data.length) throw new Error('a sample lies past the end of the media segment');
      const sample = data.subarray(sampleAt, sampleAt + size);
      const iv = crypto.randomBytes(8);
      const parts = track.nalLengthSize === null ? [{ clear: 0, protect: size }] : nalSubsamples(sample, track.nalLengthSize, track.nalHeaderSize);
      encryptSample(sample, parts, key.key, iv);
      ivs.push(iv);
      subsamples.push(parts);
      sampleAt += size;
    }
  }

  const useSubsamples = track.nalLengthSize !== null;
  const infos = ivs.map((iv, i) => (useSubsamples ? Buffer.concat([iv, subsampleTable(subsamples[i]!)]) : iv));
  const count = Buffer.alloc(4);
  count.writeUInt32BE(infos.length);
  const senc = fullBox('senc', 0, useSubsamples ? 0x2 : 0, Buffer.concat([count, ...infos]));
  const sizes = infos.map((b) => b.length);
  const same = sizes.every((s) => s === sizes[0]);
  const saizFields = Buffer.alloc(5 + (same ? 0 : sizes.length));
  saizFields.writeUInt8(same ? sizes[0] ?? 0 : 0, 0);
  saizFields.writeUInt32BE(sizes.length, 1);
  if (!same) sizes.forEach((s, i) => saizFields.writeUInt8(s, 5 + i));
  const saiz = fullBox('saiz', 0, 0, saizFields);
  const saio = fullBox('saio', 0, 0, Buffer.alloc(8));
  const before = boxSize(moof);
  traf.children!.push(saiz, saio, senc);
  const grew = boxSize(moof) - before;

  // saio: where the first IV is, from the moof's first byte (tfhd default-base-is-moof or the first traf).
  let offset = 8;
  for (const c of moof.children!) {
    if (c === traf) break;
    offset += boxSize(c);
  }
  offset += 8;
  for (const c of traf.children!) {
    if (c === senc) break;
    offset += boxSize(c);
  }
  saio.data.writeUInt32BE(1, 4);
  saio.data.writeUInt32BE(offset + 16, 8);
  for (const trun of truns) trun.box.data.writeInt32BE(trun.dataOffset + grew, 8);
  return grew;
}

function readTrun(box: Box, defaultSize: number): Trun {
  const d = box.data;
  const flags = d.readUInt32BE(0) & 0xffffff;
  if (!(flags & 0x1)) throw new Error('a trun without a data offset is not supported');
  const count = d.readUInt32BE(4);
  const dataOffset = d.readInt32BE(8);
  let pos = 12;
  if (flags & 0x4) pos += 4;
  const perSample = [0x100, 0x200, 0x400, 0x800].filter((f) => flags & f).length * 4;
  const sizes: number[] = [];
  for (let i = 0; i < count; i++) {
    let field = pos;
    if (flags & 0x100) field += 4;
    sizes.push(flags & 0x200 ? d.readUInt32BE(field) : defaultSize);
    pos += perSample;
  }
  if (sizes.some((s) => s === 0)) throw new Error('a fragment gives no sample sizes');
  return { box, dataOffset, sizes };
}

/**
 * Clear and protected ranges of one H.264/HEVC sample: slices (VCL NAL units) are protected
 * after their header, leaving the remainder modulo 16 clear so the protected part is whole AES
 * blocks; parameter sets, SEI and the like stay clear.
 */
export function nalSubsamples(sample: Buffer, lengthSize: number, headerSize: number): { clear: number; protect: number }[] {
  const parts: { clear: number; protect: number }[] = [];
  let clear = 0;
  let at = 0;
  while (at < sample.length) {
    if (at + lengthSize > sample.length) throw new Error('a video sample ends inside a NAL unit length');
    const length = sample.readUIntBE(at, lengthSize);
    if (length < headerSize || at + lengthSize + length > sample.length) throw new Error('a video sample has a NAL unit past its end');
    const first = sample[at + lengthSize]!;
    const vcl = headerSize === 1 ? (first & 0x1f) >= 1 && (first & 0x1f) <= 5 : ((first >> 1) & 0x3f) <= 31;
    const body = length - headerSize;
    const protect = vcl ? body - (body % 16) : 0;
    clear += lengthSize + length - protect;
    if (protect > 0) {
      parts.push(...clearRuns(clear, protect));
      clear = 0;
    }
    at += lengthSize + length;
  }
  if (clear > 0 || parts.length === 0) parts.push(...clearRuns(clear, 0));
  return parts;
}

/** senc stores a clear count in 16 bits: longer clear runs become entries with nothing protected. */
function clearRuns(clear: number, protect: number): { clear: number; protect: number }[] {
  const out: { clear: number; protect: number }[] = [];
  let left = clear;
  while (left > 0xffff) {
    out.push({ clear: 0xffff, protect: 0 });
    left -= 0xffff;
  }
  out.push({ clear: left, protect });
  return out;
}

function subsampleTable(parts: readonly { clear: number; protect: number }[]): Buffer {
  const b = Buffer.alloc(2 + parts.length * 6);
  b.writeUInt16BE(parts.length, 0);
  parts.forEach((p, i) => {
    b.writeUInt16BE(p.clear, 2 + i * 6);
    b.writeUInt32BE(p.protect, 4 + i * 6);
  });
  return b;
}

/** AES-CTR over the protected ranges in order, one counter for the sample (23001-7 9.1). */
function encryptSample(sample: Buffer, parts: readonly { clear: number; protect: number }[], key: Buffer, iv: Buffer): void {
  const cipher = crypto.createCipheriv('aes-128-ctr', key, Buffer.concat([iv, Buffer.alloc(8)]));
  let at = 0;
  for (const p of parts) {
    at += p.clear;
    if (p.protect > 0) {
      cipher.update(sample.subarray(at, at + p.protect)).copy(sample, at);
      at += p.protect;
    }
  }
  cipher.final();
}

/** Each sidx reference covers one moof and its mdat: it grows with its moof. */
function growSidx(sidx: Box, growth: readonly number[]): void {
  const d = sidx.data;
  const version = d[0]!;
  let pos = 4 + 4 + 4 + (version === 0 ? 8 : 16) + 2;
  const count = d.readUInt16BE(pos);
  pos += 2;
  if (count !== growth.length) throw new Error(`the sidx has ${count} references for ${growth.length} fragments`);
  for (let i = 0; i < count; i++) {
    const word = d.readUInt32BE(pos);
    const size = (word & 0x7fffffff) + growth[i]!;
    d.writeUInt32BE(((word & 0x80000000) | size) >>> 0, pos);
    pos += 12;
  }
}
