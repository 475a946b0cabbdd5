/**
 * CPIX 2.x (DASH-IF Content Protection Information Exchange) as far as an encryptor needs it:
 * reading the clear content keys of a document, with the track type each is meant for; and
 * writing the request a SPEKE v2 key server answers with such a document.
 *
 * Keys wrapped with a DocumentKey (encrypted CPIX) are refused: Encodery holds no delivery key.
 */
import { XMLParser } from 'fast-xml-parser';
import { hex128, uuidOf, type DrmSystem } from '../../domain/drm.ts';
import { DRM_SYSTEMS } from '../../domain/drm.ts';

export interface CpixKey {
  /** 32 hex digits. */
  keyId: string;
  key: string;
  /** The usage rule's intendedTrackType (upper case), or a video/audio filter's kind; null = any track. */
  trackType: string | null;
}

// No entities, no DTD: the document comes from outside.
const parser = new XMLParser({
  ignoreAttributes: false, attributeNamePrefix: '', removeNSPrefix: true, processEntities: false, parseTagValue: false, parseAttributeValue: false,
  isArray: (name) => ['ContentKey', 'ContentKeyUsageRule', 'DRMSystem', 'VideoFilter', 'AudioFilter'].includes(name),
});

type Node = Record<string, unknown>;

/** The content keys of a CPIX document; throws a sentence a user can act on. */
export function readCpix(xml: string): CpixKey[] {
  let doc: Node;
  try {
    doc = parser.parse(xml) as Node;
  } catch {
    throw new Error('the key document is not well-formed XML');
  }
  const cpix = doc['CPIX'] as Node | undefined;
  if (!cpix || typeof cpix !== 'object') throw new Error('the key document is not CPIX (no CPIX element)');
  if (cpix['DeliveryDataList']) throw new Error('the CPIX document has encrypted keys (DeliveryDataList); Encodery reads clear keys only');
  const list = (cpix['ContentKeyList'] as Node | undefined)?.['ContentKey'] as Node[] | undefined;
  if (!list || list.length === 0) throw new Error('the CPIX document has no ContentKey');
  const rules = ((cpix['ContentKeyUsageRuleList'] as Node | undefined)?.['ContentKeyUsageRule'] as Node[] | undefined) ?? [];
  return list.map((k, i) => {
    const keyId = typeof k['kid'] === 'string' ? hex128(k['kid']) : null;
    if (!keyId) throw new Error(`ContentKey ${i + 1} of the CPIX document has no valid kid`);
    const secret = ((k['Data'] as Node | undefined)?.['Secret'] as Node | undefined);
    if (secret?.['EncryptedValue']) throw new Error('the CPIX document has encrypted keys; Encodery reads clear keys only');
    const plain = secret?.['PlainValue'];
    const key = typeof plain === 'string' ? Buffer.from(plain.trim(), 'base64') : null;
    if (!key || key.length !== 16) throw new Error(`ContentKey ${uuidOf(keyId)} of the CPIX document has no 128-bit PlainValue`);
    const rule = rules.find((r) => typeof r['kid'] === 'string' && hex128(r['kid']) === keyId);
    return { keyId, key: key.toString('hex'), trackType: rule ? trackTypeOf(rule) : null };
  });
}

function trackTypeOf(rule: Node): string | null {
  const intended = rule['intendedTrackType'];
  if (typeof intended === 'string' && intended.trim() !== '') return intended.trim().toUpperCase();
  if (rule['AudioFilter']) return 'AUDIO';
  if (rule['VideoFilter']) return 'VIDEO';
  return null;
}

/** A SPEKE v2 request for one new key per track type, each key id chosen here (as SPEKE v2 wants). */
export function spekeRequest(contentId: string, keys: readonly { keyId: string; trackType: string }[], systems: readonly DrmSystem[]): string {
  const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/"/g, '&quot;');
  const lines = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<cpix:CPIX xmlns:cpix="urn:dashif:org:cpix" xmlns:pskc="urn:ietf:params:xml:ns:keyprov:pskc" contentId="${esc(contentId)}" version="2.3">`,
    '  <cpix:ContentKeyList>',
    ...keys.map((k) => `    <cpix:ContentKey kid="${uuidOf(k.keyId)}" commonEncryptionScheme="cenc"></cpix:ContentKey>`),
    '  </cpix:ContentKeyList>',
    '  <cpix:DRMSystemList>',
    ...keys.flatMap((k) => systems.map((s) => `    <cpix:DRMSystem kid="${uuidOf(k.keyId)}" systemId="${DRM_SYSTEMS[s].systemId}"><cpix:PSSH/></cpix:DRMSystem>`)),
    '  </cpix:DRMSystemList>',
    '  <cpix:ContentKeyUsageRuleList>',
    ...keys.map((k) => {
      const filter = k.trackType === 'AUDIO' ? '<cpix:AudioFilter/>' : '<cpix:VideoFilter/>';
      return `    <cpix:ContentKeyUsageRule kid="${uuidOf(k.keyId)}" intendedTrackType="${esc(k.trackType)}">${filter}</cpix:ContentKeyUsageRule>`;
    }),
    '  </cpix:ContentKeyUsageRuleList>',
    '</cpix:CPIX>',
    '',
  ];
  return lines.join('\n');
}
