/**
 * Protection System Specific Header boxes (ISO/IEC 23001-7 8.1), one per DRM system, listing the
 * key ids a licence is needed for:
 * - W3C common (ClearKey): a version 1 box, key ids only (W3C "cenc" initData format);
 * - Widevine: a version 0 box whose data is a WidevinePsshData protobuf (field 2: key ids);
 * - PlayReady: a version 0 box whose data is a PlayReady Object holding a WRMHEADER (4.0 for one
 *   key, 4.3 for several), with each key id in PlayReady's little-endian GUID form.
 */
import type { DrmSystem } from '../../domain/drm.ts';
import { DRM_SYSTEMS } from '../../domain/drm.ts';
import { fullBox, serializeBox, type Box } from './boxes.ts';

export function psshBox(system: DrmSystem, keyIds: readonly Buffer[]): Box {
  const systemId = Buffer.from(DRM_SYSTEMS[system].systemId.replaceAll('-', ''), 'hex');
  const sizeOf = (data: Buffer): Buffer => {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(data.length);
    return b;
  };
  if (system === 'clearkey') {
    const count = Buffer.alloc(4);
    count.writeUInt32BE(keyIds.length);
    return fullBox('pssh', 1, 0, Buffer.concat([systemId, count, ...keyIds, sizeOf(Buffer.alloc(0))]));
  }
  const data = system === 'widevine' ? widevineData(keyIds) : playReadyObject(keyIds);
  return fullBox('pssh', 0, 0, Buffer.concat([systemId, sizeOf(data), data]));
}

/** The whole box, base64: what `<cenc:pssh>` carries. */
export function psshBase64(system: DrmSystem, keyIds: readonly Buffer[]): string {
  return serializeBox(psshBox(system, keyIds)).toString('base64');
}

/** WidevinePsshData: `algorithm = AESCTR` (field 1) and each key id (field 2, bytes). */
function widevineData(keyIds: readonly Buffer[]): Buffer {
  return Buffer.concat([Buffer.from([0x08, 0x01]), ...keyIds.map((k) => Buffer.concat([Buffer.from([0x12, k.length]), k]))]);
}

/** A key id as PlayReady writes it: the GUID's first three fields little-endian, base64. */
export function playReadyKid(keyId: Buffer): string {
  const b = Buffer.from(keyId);
  b.subarray(0, 4).reverse();
  b.subarray(4, 6).reverse();
  b.subarray(6, 8).reverse();
  return b.toString('base64');
}

export function playReadyHeader(keyIds: readonly Buffer[]): string {
  const ns = 'http://schemas.microsoft.com/DRM/2007/03/PlayReadyHeader';
  if (keyIds.length === 1) {
    return `<WRMHEADER xmlns="${ns}" version="4.0.0.0"><DATA><PROTECTINFO><KEYLEN>16</KEYLEN><ALGID>AESCTR</ALGID></PROTECTINFO><KID>${playReadyKid(keyIds[0]!)}</KID></DATA></WRMHEADER>`;
  }
  const kids = keyIds.map((k) => `<KID ALGID="AESCTR" VALUE="${playReadyKid(k)}"></KID>`).join('');
  return `<WRMHEADER xmlns="${ns}" version="4.3.0.0"><DATA><PROTECTINFO><KIDS>${kids}</KIDS></PROTECTINFO></DATA></WRMHEADER>`;
}

/** PlayReady Object: total length, record count, then one record (type 1: the header, UTF-16LE). */
function playReadyObject(keyIds: readonly Buffer[]): Buffer {
  const header = Buffer.from(playReadyHeader(keyIds), 'utf16le');
  const out = Buffer.alloc(10 + header.length);
  out.writeUInt32LE(out.length, 0);
  out.writeUInt16LE(1, 4);
  out.writeUInt16LE(1, 6);
  out.writeUInt16LE(header.length, 8);
  header.copy(out, 10);
  return out;
}
