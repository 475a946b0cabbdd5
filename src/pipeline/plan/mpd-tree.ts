/**
 * An MPD as fast-xml-parser's ordered tree: read, changed in place and written back whole, with
 * every attribute kept as the text FFmpeg wrote (nothing parsed into numbers, no entity rewritten),
 * so only what a caller changes differs.
 */
import { readFile, rename, writeFile } from 'node:fs/promises';
import { XMLBuilder, XMLParser } from 'fast-xml-parser';

export type XmlNode = Record<string, unknown>;

const XML_OPTIONS = {
  preserveOrder: true, ignoreAttributes: false, attributeNamePrefix: '', parseAttributeValue: false, parseTagValue: false, processEntities: false,
} as const;

/** The file's tree and its MPD element; `missing` is the error text when the file has none. */
export async function readMpd(mpdPath: string, missing: string): Promise<{ doc: XmlNode[]; mpd: XmlNode }> {
  const doc = new XMLParser(XML_OPTIONS).parse(await readFile(mpdPath, 'utf8')) as XmlNode[];
  const mpd = doc.find((n) => tagOf(n) === 'MPD');
  if (!mpd) throw new Error(missing);
  return { doc, mpd };
}

/** Writes the tree back through a temporary file, so a reader never sees half a manifest. */
export async function writeMpd(mpdPath: string, doc: XmlNode[]): Promise<void> {
  const xml = new XMLBuilder({ ...XML_OPTIONS, format: true, indentBy: '\t', suppressEmptyNode: true }).build(doc) as string;
  await writeFile(`${mpdPath}.tmp`, xml);
  await rename(`${mpdPath}.tmp`, mpdPath);
}

export function tagOf(n: XmlNode): string | undefined {
  return Object.keys(n).find((k) => k !== ':@');
}

export function children(n: XmlNode, tag: string): XmlNode[] {
  const own = tagOf(n);
  const list = own ? n[own] : undefined;
  return Array.isArray(list) ? (list as XmlNode[]).filter((c) => tagOf(c) === tag) : [];
}

export function attrs(n: XmlNode): Record<string, string | undefined> {
  if (typeof n[':@'] !== 'object' || n[':@'] === null) n[':@'] = {};
  return n[':@'] as Record<string, string | undefined>;
}
