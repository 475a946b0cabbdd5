import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { download, TransferError, upload } from '../src/transfer/index.ts';
import type { TransferContext } from '../src/transfer/types.ts';

const base = await fs.realpath(await fs.mkdtemp(path.join(os.tmpdir(), 'encodery-file-')));
const root = path.join(base, 'root');
const outside = path.join(base, 'outside');
const work = path.join(base, 'work');
for (const d of [root, outside, work]) await fs.mkdir(d);
await fs.writeFile(path.join(root, 'in.mp4'), 'inside bytes');
await fs.writeFile(path.join(outside, 'secret.txt'), 'outside bytes');
await fs.symlink(path.join(outside, 'secret.txt'), path.join(root, 'link.mp4'));
await fs.symlink(outside, path.join(root, 'linkdir'));
await fs.symlink(path.join(root, 'in.mp4'), path.join(root, 'alias.mp4'));

const ctx: TransferContext = { fileRoots: [root], allowPrivateNetwork: false };
const url = (p: string) => pathToFileURL(p).href;
const refused = (err: unknown) => {
  assert.ok(err instanceof TransferError);
  assert.match(err.message, /^(Download|Upload) error: the path is outside the allowed file roots$/);
  return true;
};

test('copies a file from inside the roots, symlinks within the roots included', async () => {
  const to = path.join(work, 'copy.mp4');
  const calls: number[] = [];
  assert.deepEqual(await download(url(path.join(root, 'in.mp4')), to, ctx, (d) => calls.push(d)), { bytes: 12 });
  assert.equal(await fs.readFile(to, 'utf8'), 'inside bytes');
  assert.equal(calls.at(-1), 12);
  assert.equal((await download(url(path.join(root, 'alias.mp4')), to, ctx)).bytes, 12);
});

test('a missing file inside the roots is "file not found"', async () => {
  await assert.rejects(download(url(path.join(root, 'nope.mp4')), path.join(work, 'x'), ctx), {
    message: 'Download error: file not found',
  });
});

test('.. escapes are refused, however they are spelled', async () => {
  const to = path.join(work, 'esc.txt');
  for (const u of [
    `file://${root}/../outside/secret.txt`,
    `file://${root}/%2e%2e/outside/secret.txt`,
    url(path.join(outside, 'secret.txt')),
    'file:///etc/passwd',
  ]) {
    await assert.rejects(download(u, to, ctx), refused);
  }
  assert.equal(existsSync(to), false);
  await assert.rejects(download(url(path.join(root, 'in.mp4')), to, { ...ctx, fileRoots: [] }), refused);
});

test('a symlink pointing outside the roots is refused for reading and writing', async () => {
  await assert.rejects(download(url(path.join(root, 'link.mp4')), path.join(work, 'l'), ctx), refused);
  await assert.rejects(download(url(path.join(root, 'linkdir', 'secret.txt')), path.join(work, 'l'), ctx), refused);
  const src = path.join(work, 'payload.bin');
  await fs.writeFile(src, 'overwrite attempt');
  await assert.rejects(upload(src, url(path.join(root, 'linkdir', 'secret.txt')), ctx), refused);
  await assert.rejects(upload(src, url(path.join(root, 'linkdir', 'new', 'deeper.txt')), ctx), refused);
  // Writing over the link itself replaces the link, never its target.
  await upload(src, url(path.join(root, 'link.mp4')), ctx);
  assert.equal(await fs.readFile(path.join(root, 'link.mp4'), 'utf8'), 'overwrite attempt');
  assert.equal(await fs.readFile(path.join(outside, 'secret.txt'), 'utf8'), 'outside bytes');
  assert.equal(existsSync(path.join(outside, 'new')), false);
});

test('uploads inside the roots, creating directories and leaving no temp files', async () => {
  const src = path.join(work, 'out.mp4');
  await fs.writeFile(src, Buffer.alloc(300_000, 1));
  const target = path.join(root, 'out', 'a', 'b', 'final.mp4');
  let last = 0;
  await upload(src, url(target), ctx, (d) => (last = d));
  assert.deepEqual(await fs.readFile(target), Buffer.alloc(300_000, 1));
  assert.equal(last, 300_000);
  assert.deepEqual(await fs.readdir(path.dirname(target)), ['final.mp4']);
  await upload(src, url(target), ctx); // replacing an existing file is fine
  await assert.rejects(upload(src, `file://${root}/../escape.mp4`, ctx), refused);
  assert.equal(existsSync(path.join(base, 'escape.mp4')), false);
});
