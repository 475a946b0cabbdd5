/**
 * A burned track's own font (closed_captions `font_source`): libass finds fonts by family name, so
 * the ASS file FFmpeg wrote names the fetched font's family in its styles, and the `ass` filter
 * gets the font's folder (fontsdir).
 */
import fs from 'node:fs/promises';

/**
 * The family name (name ID 1) of a TrueType/OpenType font, from its `name` table: the Windows
 * Unicode record (UTF-16BE) if there is one, else the Macintosh Roman one; null when there is none.
 */
export function fontFamily(font: Buffer): string | null {
  if (font.length < 12) return null;
  const tables = font.readUInt16BE(4);
  for (let t = 0; t < tables && 12 + t * 16 + 16 <= font.length; t++) {
    const record = 12 + t * 16;
    if (font.toString('latin1', record, record + 4) !== 'name') continue;
    const at = font.readUInt32BE(record + 8);
    if (at + 6 > font.length) return null;
    const count = font.readUInt16BE(at + 2);
    const strings = at + font.readUInt16BE(at + 4);
    let mac: string | null = null;
    for (let i = 0; i < count && at + 6 + i * 12 + 12 <= font.length; i++) {
      const r = at + 6 + i * 12;
      const [platform, , , nameId, length, offset] = [0, 2, 4, 6, 8, 10].map((o) => font.readUInt16BE(r + o)) as [number, number, number, number, number, number];
      if (nameId !== 1 || strings + offset + length > font.length) continue;
      const bytes = font.subarray(strings + offset, strings + offset + length);
      if (platform === 3 || platform === 0) return Buffer.from(bytes).swap16().toString('utf16le').trim() || null;
      if (platform === 1) mac ??= bytes.toString('latin1').trim() || null;
    }
    return mac;
  }
  return null;
}

/** The styles of an ASS file made to use `family` (the second field of each Style line). */
export async function useFontFamily(assFile: string, family: string): Promise<void> {
  // A comma would end the field; the family is the font's own, not the user's words, but still.
  const name = family.replace(/[,\r\n]/g, ' ');
  const text = await fs.readFile(assFile, 'utf8');
  await fs.writeFile(assFile, text.split('\n').map((l) => (l.startsWith('Style:') ? l.replace(/^(Style:[^,]*,)[^,]*/, `$1${name}`) : l)).join('\n'));
}
