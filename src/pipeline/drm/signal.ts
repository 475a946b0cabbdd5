/**
 * Tells players that a DASH/CMAF output is protected, after dash-manifest.ts has made its
 * manifests final:
 * - MPD: `ContentProtection` for `urn:mpeg:dash:mp4protection:2011` with `cenc:default_KID`, and
 *   one per DRM system with its `cenc:pssh` (DASH-IF IOP 7.7.2), on the AdaptationSet when all
 *   its representations share a key, else on each Representation;
 * - CMAF HLS media playlists: an `EXT-X-KEY` with METHOD=SAMPLE-AES-CTR per system, its pssh as a
 *   data URI (with no system asked, the W3C common one, so players still know the key id).
 */
import { readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { attrs, children, readMpd, tagOf, writeMpd, type XmlNode } from '../plan/mpd-tree.ts';
import { DRM_SYSTEMS, uuidOf, type DrmSystem } from '../../domain/drm.ts';
import { psshBase64 } from './pssh.ts';
import type { KeyAssignment } from './keys.ts';

const SYSTEM_VALUES: Record<DrmSystem, string> = { widevine: 'Widevine', playready: 'MSPR 2.0', clearkey: 'ClearKey1.0' };

export async function signalMpd(mpdPath: string, assigned: KeyAssignment, systems: readonly DrmSystem[]): Promise<void> {
  const { doc, mpd } = await readMpd(mpdPath, 'The DASH manifest has no MPD element.');
  attrs(mpd)['xmlns:cenc'] = 'urn:mpeg:cenc:2013';
  for (const period of children(mpd, 'Period')) {
    for (const set of children(period, 'AdaptationSet')) {
      const reps = children(set, 'Representation');
      const keyIds = reps.map((r) => {
        const key = assigned.get(Number(attrs(r).id));
        if (!key) throw new Error(`internal: representation ${attrs(r).id} has no content key`);
        return key.keyId;
      });
      if (new Set(keyIds).size === 1) prepend(set, protectionElements(keyIds[0]!, systems));
      else reps.forEach((r, i) => prepend(r, protectionElements(keyIds[i]!, systems), ['AudioChannelConfiguration', 'FramePacking']));
    }
  }
  await writeMpd(mpdPath, doc);
}

function protectionElements(keyId: string, systems: readonly DrmSystem[]): XmlNode[] {
  const kid = Buffer.from(keyId, 'hex');
  return [
    { ContentProtection: [], ':@': { schemeIdUri: 'urn:mpeg:dash:mp4protection:2011', value: 'cenc', 'cenc:default_KID': uuidOf(keyId) } },
    ...systems.map((s): XmlNode => ({
      ContentProtection: [{ 'cenc:pssh': [{ '#text': psshBase64(s, [kid]) }] }],
      ':@': { schemeIdUri: `urn:uuid:${DRM_SYSTEMS[s].systemId}`, value: SYSTEM_VALUES[s] },
    })),
  ];
}

/** Inserts `nodes` as the first children of `parent`, after any of the `after` elements the schema orders first. */
function prepend(parent: XmlNode, nodes: XmlNode[], after: readonly string[] = []): void {
  const list = parent[tagOf(parent)!] as XmlNode[];
  let at = 0;
  while (at < list.length && after.includes(tagOf(list[at]!) ?? '')) at++;
  list.splice(at, 0, ...nodes);
}

/** Adds the key tags to each CMAF media playlist (`playlists`: representation number → file). */
export async function signalPlaylists(playlists: Map<number, string>, assigned: KeyAssignment, systems: readonly DrmSystem[]): Promise<void> {
  const signalled: readonly DrmSystem[] = systems.length > 0 ? systems : ['clearkey'];
  for (const [rep, file] of playlists) {
    const key = assigned.get(rep);
    if (!key) throw new Error(`internal: representation ${rep} has no content key`);
    const kid = Buffer.from(key.keyId, 'hex');
    const tags = signalled.map((s) => {
      const uri = `data:text/plain;base64,${psshBase64(s, [kid])}`;
      return `#EXT-X-KEY:METHOD=SAMPLE-AES-CTR,URI="${uri}",KEYID=0x${key.keyId},KEYFORMAT="urn:uuid:${DRM_SYSTEMS[s].systemId}",KEYFORMATVERSIONS="1"`;
    });
    const lines = (await readFile(file, 'utf8')).split('\n');
    const map = lines.findIndex((l) => l.startsWith('#EXT-X-MAP:'));
    if (map < 0) throw new Error(`The playlist ${path.basename(file)} has no EXT-X-MAP.`);
    lines.splice(map, 0, ...tags);
    await writeFile(`${file}.tmp`, lines.join('\n'));
    await rename(`${file}.tmp`, file);
  }
}
