/**
 * `pack_files=yes` (reference 4.6): the HLS output delivered as archives instead of its many
 * files. Entries keep their paths below the master (`master.m3u8`, `stream_0/index.m3u8`,
 * `stream_0/seg_00001.ts`), so unpacking gives the same layout as an unpacked delivery.
 *
 * - one archive `<name>.tar|zip` with everything; or, with `pack_each_stream=yes`,
 * - one archive per variant folder (`stream_0.tar` holding `stream_0/…`), then one with the
 *   master (and the key file, if any) last, so delivery keeps "master last".
 *
 * Archives are streamed to disk file by file; the loose files are removed once packed.
 */
import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { HlsPacking } from '../../domain/format.ts';

/** `files` are absolute, the master last (finalizeHls's order); returns the archives, main last. */
export async function packHls(dir: string, files: string[], pack: HlsPacking, baseName: string): Promise<string[]> {
  const relative = files.map((f) => path.relative(dir, f).split(path.sep).join('/'));
  const groups = new Map<string, string[]>();
  const main: string[] = [];
  for (const f of relative) {
    const folder = path.posix.dirname(f);
    if (!pack.eachStream || folder === '.') main.push(f);
    else groups.set(folder, [...(groups.get(folder) ?? []), f]);
  }
  const ext = `.${pack.type}`;
  const used = new Set([...groups.keys()].map((g) => `${g}${ext}`.toLowerCase()));
  let mainName = `${baseName}${ext}`;
  while (used.has(mainName.toLowerCase())) mainName = `${path.basename(mainName, ext)}_master${ext}`;

  const archives: string[] = [];
  for (const [folder, entries] of groups) archives.push(await writeArchive(dir, `${folder}${ext}`, entries, pack.type));
  archives.push(await writeArchive(dir, mainName, main, pack.type));
  for (const f of files) await rm(f, { force: true });
  return archives;
}

async function writeArchive(dir: string, name: string, entries: string[], type: HlsPacking['type']): Promise<string> {
  // Loaded on first use: archiver is large, and every process start (each test file too) would pay for it.
  const { TarArchive, ZipArchive } = await import('archiver');
  // Segments are compressed media already: zip stores them rather than spend CPU for nothing.
  const archive = type === 'zip' ? new ZipArchive({ store: true }) : new TarArchive();
  // A file that went missing is an error, never a quietly incomplete archive.
  archive.on('warning', (err) => archive.destroy(err));
  const target = path.join(dir, name);
  const written = pipeline(archive, createWriteStream(target));
  for (const e of entries) archive.file(path.join(dir, e), { name: e });
  await Promise.all([archive.finalize(), written]);
  return target;
}
