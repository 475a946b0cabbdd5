import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import fs from 'node:fs/promises';
import { execFile } from 'node:child_process';
import { pipeline } from 'node:stream/promises';

/** How many local files' digests this process remembers (a few hundred bytes each). */
const REMEMBERED_FILES = 1000;

/** sha256 (hex) of a local file, read once as a stream. */
export async function sha256OfFile(file: string, signal?: AbortSignal): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(file), hash, signal ? { signal } : {});
  return hash.digest('hex');
}

const remembered = new Map<string, string>();

/**
 * sha256 of a file read in place (a file:// source): remembered per device, inode, size and
 * modification time, so a large local file used again is not read again; a file rewritten in
 * place changes its mtime and is read anew.
 */
export async function sha256OfLocalSource(file: string, signal?: AbortSignal): Promise<string> {
  const before = await fs.stat(file, { bigint: true });
  const id = `${before.dev}:${before.ino}:${before.size}:${before.mtimeNs}:${file}`;
  const known = remembered.get(id);
  if (known) {
    remembered.delete(id);
    remembered.set(id, known);
    return known;
  }
  const digest = await sha256OfFile(file, signal);
  const after = await fs.stat(file, { bigint: true });
  // Written to while read: the digest names no single version of the file; not remembered.
  if (after.mtimeNs !== before.mtimeNs || after.size !== before.size) return digest;
  remembered.set(id, digest);
  if (remembered.size > REMEMBERED_FILES) remembered.delete(remembered.keys().next().value!);
  return digest;
}

const builds = new Map<string, Promise<string>>();

/**
 * A digest of `ffmpeg -version`: the version, the configure line and every library's version.
 * Another build (an upgrade, other libraries) makes other keys. Asked once per binary.
 */
export function ffmpegBuild(ffmpeg: string): Promise<string> {
  let build = builds.get(ffmpeg);
  if (!build) {
    build = new Promise<string>((resolve, reject) => {
      execFile(ffmpeg, ['-hide_banner', '-version'], { timeout: 15_000, maxBuffer: 1024 * 1024, windowsHide: true }, (err, stdout) => {
        if (err) reject(err);
        else resolve(createHash('sha256').update(stdout).digest('hex'));
      });
    });
    builds.set(ffmpeg, build);
    build.catch(() => builds.delete(ffmpeg));
  }
  return build;
}
