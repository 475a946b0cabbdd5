// Issue 13 §3: with several users, file:// sources, destinations, logos and dashboard uploads
// reach only the user's own folder (<root>/<userid>), shared folders are read-only, and nothing
// in the data dir (kept outputs, scratch) is reachable through file://.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileRootsFor, permittedPath } from '../src/domain/file-roots.ts';
import { loadConfig } from '../src/config.ts';
import { OTHER, USER, exec, ffprobe, makeClip, startTestServer, tempDir, untilFinal, type TestServer } from './helpers.ts';

async function signIn(t: TestServer, user: { id: string; key: string }): Promise<{ cookie: string; csrf: string }> {
  const res = await fetch(`${t.server.url}/dashboard/login`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', origin: t.server.url },
    body: new URLSearchParams({ userid: user.id, userkey: user.key }).toString(),
  });
  const cookie = (res.headers.get('set-cookie') ?? '').split(';')[0]!;
  const page = await (await fetch(`${t.server.url}/dashboard`, { headers: { cookie } })).text();
  return { cookie, csrf: /name="csrf-token" content="([^"]+)"/.exec(page)![1]! };
}

const errorOf = (reply: any): string => JSON.stringify(reply.errors ?? reply);

describe('file:// with two users: each user has a folder of their own', () => {
  let t: TestServer;
  let shared: string;
  let aDir: string;
  let bDir: string;
  let aClip: string;
  let aLogo: string;

  before(async () => {
    shared = await tempDir('encodery-shared-');
    t = await startTestServer({ ENCODERY_SHARED_FILE_ROOTS: shared });
    aDir = t.filesOf(USER);
    bDir = t.filesOf(OTHER);
    for (const dir of [aDir, bDir]) await fs.mkdir(dir, { recursive: true });
    aClip = await makeClip(path.join(aDir, 'a.mp4'), { seconds: 1, size: '160x90' });
    await fs.copyFile(aClip, path.join(bDir, 'b.mp4'));
    await fs.copyFile(aClip, path.join(shared, 'shared.mp4'));
    aLogo = path.join(aDir, 'logo.png');
    await exec('ffmpeg', ['-v', 'error', '-f', 'lavfi', '-i', 'color=red:size=16x16', '-frames:v', '1', aLogo]);
  });
  after(async () => {
    await t.close();
    await fs.rm(shared, { recursive: true, force: true });
  });

  test('B cannot read A\'s source, naming the rule and B\'s own folder', async () => {
    const r = await t.call('json', { action: 'AddMedia', source: `file://${aClip}`, format: { output: 'mp4', destination: `file://${bDir}/x.mp4` } }, OTHER);
    const text = errorOf(r);
    assert.match(text, /source file:\/\/ path is outside the allowed file roots/);
    assert.ok(text.includes(`user ${OTHER.id}`) && text.includes(bDir), text);
  });

  test('B cannot overwrite A\'s file as a destination, nor write into A\'s dashboard upload folder', async () => {
    const before = await fs.readFile(aClip);
    const over = await t.call('json', { action: 'AddMedia', source: `file://${bDir}/b.mp4`, format: { output: 'mp4', destination: `file://${aClip}` } }, OTHER);
    assert.match(errorOf(over), /destination file:\/\/ path is outside the allowed file roots: user 2002 may write only below/);
    const upload = path.join(aDir, 'dashboard-uploads', USER.id, 'x.mp4');
    const into = await t.call('json', { action: 'AddMedia', source: `file://${bDir}/b.mp4`, format: { output: 'mp4', destination: `file://${upload}` } }, OTHER);
    assert.match(errorOf(into), /outside the allowed file roots/);
    assert.deepEqual(await fs.readFile(aClip), before);
  });

  test('B cannot use A\'s image as a logo', async () => {
    const r = await t.call('json', { action: 'AddMedia', source: `file://${bDir}/b.mp4`, format: { output: 'mp4', logo: { logo_source: `file://${aLogo}` } } }, OTHER);
    assert.match(errorOf(r), /logo_source: The source file:\/\/ path is outside the allowed file roots/);
  });

  test('at transfer time a symlink in B\'s folder does not lead to A\'s files, for reading or writing', async () => {
    await fs.symlink(aClip, path.join(bDir, 'link.mp4'));
    await fs.symlink(aDir, path.join(bDir, 'alink'));
    const read = await t.call('json', { action: 'AddMedia', source: `file://${bDir}/link.mp4`, format: { output: 'mp4', destination: `file://${bDir}/y.mp4` } }, OTHER);
    const { final: readFinal } = await untilFinal(t, read.MediaID, 60_000, OTHER);
    assert.equal(readFinal.status, 'Error');
    assert.match(readFinal.description!, /outside the allowed file roots/);

    const write = await t.call('json', { action: 'AddMedia', source: `file://${bDir}/b.mp4`, format: { output: 'mp4', size: '160x90', destination: `file://${bDir}/alink/stolen.mp4` } }, OTHER);
    const { final: writeFinal } = await untilFinal(t, write.MediaID, 120_000, OTHER);
    assert.match(JSON.stringify(writeFinal.format), /outside the allowed file roots/);
    await assert.rejects(fs.stat(path.join(aDir, 'stolen.mp4')));
  });

  test('B\'s dashboard upload lands in B\'s own folder, where only B may read it', async () => {
    const { cookie, csrf } = await signIn(t, OTHER);
    const res = await fetch(`${t.server.url}/dashboard/upload?name=up.mp4`, {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream', origin: t.server.url, cookie, 'x-csrf-token': csrf },
      body: await fs.readFile(aClip),
    });
    assert.equal(res.status, 200);
    const file = new URL(((await res.json()) as { source: string }).source).pathname;
    assert.ok(file.startsWith(bDir + path.sep), file);
    const byA = await t.call('json', { action: 'AddMedia', source: `file://${file}`, format: { output: 'mp4' } });
    assert.match(errorOf(byA), /outside the allowed file roots/);
  });

  test('A and B each encode from and into their own folder; a shared folder is read by both and written by none', async () => {
    const a = await t.call('json', { action: 'AddMedia', source: `file://${aClip}`, format: { output: 'mp4', size: '160x90', destination: `file://${aDir}/out/a-out.mp4` } });
    const b = await t.call('json', { action: 'AddMedia', source: `file://${shared}/shared.mp4`, format: { output: 'mp4', size: '160x90', destination: `file://${bDir}/b-out.mp4` } }, OTHER);
    assert.equal((await untilFinal(t, a.MediaID)).final.status, 'Finished');
    assert.equal((await untilFinal(t, b.MediaID, 120_000, OTHER)).final.status, 'Finished');
    for (const out of [path.join(aDir, 'out', 'a-out.mp4'), path.join(bDir, 'b-out.mp4')]) {
      const probe = await ffprobe(out);
      assert.equal(probe.streams.find((s) => s.codec_type === 'video')?.width, 160, out);
    }
    const toShared = await t.call('json', { action: 'AddMedia', source: `file://${bDir}/b.mp4`, format: { output: 'mp4', destination: `file://${shared}/w.mp4` } }, OTHER);
    assert.match(errorOf(toShared), /destination file:\/\/ path is outside the allowed file roots/);
  });
});

describe('file:// never reaches the data dir, even from a root that contains it', () => {
  let root: string;
  let t: TestServer;
  let kept: string;

  before(async () => {
    root = await tempDir('encodery-root-');
    const dataDir = path.join(root, 'data');
    t = await startTestServer({ ENCODERY_DATA_DIR: dataDir, ENCODERY_FILE_ROOTS: root, ENCODERY_USERS: `${USER.id}:${USER.key}` });
    // What a kept output of another media looks like on disk.
    await fs.mkdir(path.join(dataDir, 'outputs', '1', '1'), { recursive: true });
    kept = await makeClip(path.join(dataDir, 'outputs', '1', '1', 'small.mp4'), { seconds: 1, size: '160x90' });
    await fs.copyFile(kept, path.join(root, 'mine.mp4'));
  });
  after(async () => {
    await t.close();
    await fs.rm(root, { recursive: true, force: true });
  });

  test('a kept output is refused at AddMedia, and through a symlink at transfer time', async () => {
    const direct = await t.call('json', { action: 'AddMedia', source: `file://${kept}`, format: { output: 'mp4' } });
    assert.match(errorOf(direct), /source file:\/\/ path is outside the allowed file roots/);
    await fs.symlink(path.dirname(kept), path.join(root, 'outputs-link'));
    const linked = await t.call('json', { action: 'AddMedia', source: `file://${root}/outputs-link/small.mp4`, format: { output: 'mp4' } });
    const { final } = await untilFinal(t, linked.MediaID, 60_000);
    assert.equal(final.status, 'Error');
    assert.match(final.description!, /outside the allowed file roots/);
  });

  test('a destination inside the data dir is refused; the root\'s own files still work for a one-user install', async () => {
    const into = await t.call('json', { action: 'AddMedia', source: `file://${root}/mine.mp4`, format: { output: 'mp4', destination: `file://${t.config.dataDir}/outputs/1/1/small.mp4` } });
    assert.match(errorOf(into), /destination file:\/\/ path is outside the allowed file roots: user 1001 may write only below/);
    const ok = await t.call('json', { action: 'AddMedia', source: `file://${root}/mine.mp4`, format: { output: 'mp4', size: '160x90', destination: `file://${root}/out.mp4` } });
    assert.equal((await untilFinal(t, ok.MediaID)).final.status, 'Finished');
    assert.equal((await ffprobe(path.join(root, 'out.mp4'))).streams[0]?.width, 160);
  });
});

describe('the file root rule (domain/file-roots.ts)', () => {
  const settings = { fileRoots: ['/srv/files'], sharedFileRoots: ['/srv/common'], dataDir: '/srv/data', storageUrl: 'file:///srv/files/encodery-storage/' };

  test('one user keeps the roots themselves; several users get <root>/<userid>; the data dir and a file:// storage are denied', () => {
    const single = fileRootsFor(settings, ['7'])('7');
    assert.deepEqual(single.own, ['/srv/files']);
    const two = fileRootsFor(settings, ['7', '8']);
    assert.deepEqual(two('8').own, ['/srv/files/8']);
    assert.deepEqual(two('8').shared, ['/srv/common']);
    assert.deepEqual(two('8').denied, ['/srv/data', '/srv/files/encodery-storage']);
    // A one-user root holding the shared storage still never reaches into it.
    assert.equal(permittedPath(single.own, single.denied, '/srv/files/encodery-storage/media/1/task/1/a.mp4'), false);
    assert.equal(permittedPath(single.own, single.denied, '/srv/files/mine.mp4'), true);
  });

  test('a root inside the data dir grants what lies below it, and only that', () => {
    const roots = ['/srv/data/files/8'];
    assert.equal(permittedPath(roots, ['/srv/data'], '/srv/data/files/8/a.mp4'), true);
    assert.equal(permittedPath(roots, ['/srv/data'], '/srv/data/files/7/a.mp4'), false);
    assert.equal(permittedPath(['/srv/data'], ['/srv/data'], '/srv/data/outputs/1/1/a.mp4'), false);
  });

  test('a shared folder that overlaps a file root, or a root that is the data dir, is refused at start, naming the setting', () => {
    assert.throws(
      () => loadConfig({ ENCODERY_DATA_DIR: '/srv/data', ENCODERY_FILE_ROOTS: '/srv/files', ENCODERY_SHARED_FILE_ROOTS: '/srv' }),
      /ENCODERY_SHARED_FILE_ROOTS \(--shared-file-roots\): \/srv overlaps a file root/,
    );
    assert.throws(() => loadConfig({ ENCODERY_DATA_DIR: '/srv/data', ENCODERY_FILE_ROOTS: '/srv/data' }), /ENCODERY_FILE_ROOTS \(--file-roots\): \/srv\/data is the data dir/);
  });
});
