import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { OTHER, USER, asList, exec, createTestDatabase, ffprobe, makeClip, serveFiles, startTestServer, tempDir, untilFinal, TEST_STORE, type TestDatabase, type TestServer } from './helpers.ts';
import { listCacheEntries } from '../src/store/output-cache.ts';

/**
 * The output cache (ENCODERY_CACHE_MAX_BYTES): a job repeated with the same source bytes, format
 * and user is delivered from the cache with no FFmpeg process at all. FFmpeg runs through a
 * wrapper that records every process it starts (but `-version`, the build check), so "nothing was
 * encoded" is counted, not inferred from timings or from what the task log claims.
 */

interface CountingFfmpeg {
  path: string;
  /** FFmpeg processes started so far, `-version` left out. */
  runs(): Promise<number>;
}

async function countingFfmpeg(dir: string): Promise<CountingFfmpeg> {
  const record = path.join(dir, 'ffmpeg-runs.txt');
  const script = path.join(dir, 'ffmpeg');
  await fs.writeFile(record, '');
  await fs.writeFile(script, `#!/bin/sh\ncase " $* " in *" -version "*) ;; *) echo run >> '${record}' ;; esac\nexec ffmpeg "$@"\n`, { mode: 0o755 });
  return { path: script, runs: async () => (await fs.readFile(record, 'utf8')).split('\n').filter(Boolean).length };
}

async function addAndWait(t: TestServer, source: string, format: Record<string, unknown>, user = USER) {
  const added = await t.call('json', { action: 'AddMedia', source, format }, user);
  assert.equal(added.message, 'Added', JSON.stringify(added));
  const { final, seen } = await untilFinal(t, added.MediaID!, 120_000, user);
  assert.equal(final.status, 'Finished', JSON.stringify(final));
  const status = await t.call('json', { action: 'GetStatus', mediaid: added.MediaID, extended: 'yes', include_task_status: 'yes' }, user);
  const job = status.job as any;
  const format0 = asList(job.format)[0] as any;
  const log = asList(format0.task_status?.state).map((s: any) => String(s.message));
  return { id: added.MediaID!, seen, format: format0, log };
}

const hit = (log: string[]) => log.some((m) => /Cache hit \(key [0-9a-f]{12}\)/.test(m));
const ran = (log: string[]) => log.some((m) => m.includes('Running: '));

describe('output cache', () => {
  let t: TestServer;
  let ffmpeg: CountingFfmpeg;
  let source: string;
  const mp4 = (dest: string, extra: Record<string, unknown> = {}) => ({ output: 'mp4', size: '160x120', bitrate: '300k', destination: `file://${t.filesDir}/${dest}`, ...extra });

  before(async () => {
    const dir = await tempDir();
    ffmpeg = await countingFfmpeg(dir);
    t = await startTestServer({ ENCODERY_CACHE_MAX_BYTES: String(100 * 1024 ** 2), ENCODERY_FFMPEG: ffmpeg.path });
    await fs.mkdir(t.filesDir, { recursive: true });
    source = await makeClip(path.join(t.filesDir, 'clip.mp4'), { seconds: 2 });
  });
  after(async () => {
    await t?.close();
  });

  test('a repeated file:// job is a cache hit: no FFmpeg process, the same bytes delivered, extended GetStatus says so', async () => {
    const first = await addAndWait(t, `file://${source}`, mp4('first.mp4'));
    assert.ok(ran(first.log), first.log.join(' | '));
    assert.ok(first.log.some((m) => /Output cache: kept as key [0-9a-f]{12}/.test(m)), first.log.join(' | '));
    assert.equal(first.format.cache, undefined);

    const before = await ffmpeg.runs();
    assert.ok(before > 0);
    const second = await addAndWait(t, `file://${source}`, mp4('second.mp4'));
    assert.equal(await ffmpeg.runs(), before, 'no FFmpeg process for the repeated job');
    assert.ok(hit(second.log), second.log.join(' | '));
    assert.ok(!ran(second.log), second.log.join(' | '));
    assert.match(String(second.format.cache), /^cache hit [0-9a-f]{12}$/);
    assert.equal(second.format.cpu_time, '0.00');
    assert.ok(!second.seen.includes('Processing'), second.seen.join(' > '));

    const [a, b] = await Promise.all([fs.readFile(path.join(t.filesDir, 'first.mp4')), fs.readFile(path.join(t.filesDir, 'second.mp4'))]);
    assert.ok(a.equals(b), 'the delivered outputs are byte-identical');
    const probe = await ffprobe(path.join(t.filesDir, 'second.mp4'));
    const video = probe.streams.find((s) => s.codec_type === 'video');
    assert.equal(video?.codec_name, 'h264');
    assert.equal(`${video?.width}x${video?.height}`, '160x120');
    assert.ok(Math.abs(Number(probe.format.duration) - 2) < 0.2, probe.format.duration);
    // The destination and GetMediaInfo facts are those of an encode.
    assert.equal(second.format.convertedsize, first.format.convertedsize);
    const info = await t.call('json', { action: 'GetMediaInfo', mediaid: second.id });
    assert.equal(info.video_codec, 'h264');
  });

  test('an http:// source: the digest taken while it downloads makes the key, and the repeat is a hit', async () => {
    const origin = await serveFiles(t.filesDir);
    try {
      const url = `${origin.url}/clip.mp4`;
      const first = await addAndWait(t, url, mp4('http-1.mp4', { bitrate: '250k' }));
      assert.ok(ran(first.log) && !hit(first.log), first.log.join(' | '));
      const before = await ffmpeg.runs();
      const second = await addAndWait(t, url, mp4('http-2.mp4', { bitrate: '250k' }));
      assert.equal(await ffmpeg.runs(), before);
      assert.ok(hit(second.log), second.log.join(' | '));
      const [a, b] = await Promise.all([fs.readFile(path.join(t.filesDir, 'http-1.mp4')), fs.readFile(path.join(t.filesDir, 'http-2.mp4'))]);
      assert.ok(a.equals(b));
    } finally {
      await origin.close();
    }
  });

  test('another format, or other source bytes behind the same name, is a miss', async () => {
    const other = await addAndWait(t, `file://${source}`, mp4('other-format.mp4', { bitrate: '200k' }));
    assert.ok(ran(other.log) && !hit(other.log), other.log.join(' | '));
    // Same path, same format as the first test, but the file now holds other bytes.
    const changed = path.join(t.filesDir, 'changing.mp4');
    await makeClip(changed, { seconds: 2 });
    await addAndWait(t, `file://${changed}`, mp4('changing-1.mp4'));
    await makeClip(changed, { seconds: 2, size: '352x288' });
    const again = await addAndWait(t, `file://${changed}`, mp4('changing-2.mp4'));
    assert.ok(ran(again.log) && !hit(again.log), again.log.join(' | '));
  });

  test('another user with the same file and format is a miss: a hit never tells one user what another encoded', async () => {
    const theirs = t.filesOf(OTHER);
    await fs.mkdir(theirs, { recursive: true });
    await fs.copyFile(source, path.join(theirs, 'clip.mp4'));
    const before = await ffmpeg.runs();
    const r = await addAndWait(t, `file://${theirs}/clip.mp4`, { ...mp4('x'), destination: `file://${theirs}/theirs.mp4` }, OTHER);
    assert.ok(ran(r.log) && !hit(r.log), r.log.join(' | '));
    assert.ok((await ffmpeg.runs()) > before);
  });

  test('in one media, a cached format comes from the cache while the others encode; a logo fetched by URL is never cached', async () => {
    const logo = path.join(t.filesDir, 'logo.png');
    await exec('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', 'color=red:size=32x32', '-frames:v', '1', logo]);
    const added = await t.call('json', { action: 'AddMedia', source: `file://${source}`, format: [mp4('mixed-cached.mp4'), mp4('mixed-logo.mp4', { logo: { logo_source: `file://${logo}` } })] });
    assert.equal(added.message, 'Added', JSON.stringify(added));
    const { final } = await untilFinal(t, added.MediaID!);
    assert.equal(final.status, 'Finished', JSON.stringify(final));
    const status = await t.call('json', { action: 'GetStatus', mediaid: added.MediaID, extended: 'yes', include_task_status: 'yes' });
    const [cached, logoed] = asList((status.job as any).format).map((f: any) => asList(f.task_status?.state).map((s: any) => String(s.message)));
    assert.ok(hit(cached!) && !ran(cached!), cached!.join(' | '));
    assert.ok(ran(logoed!) && !hit(logoed!), logoed!.join(' | '));
    assert.ok(logoed!.some((m) => m.startsWith('Output cache: not used (logo_source')), logoed!.join(' | '));
    for (const f of ['mixed-cached.mp4', 'mixed-logo.mp4']) assert.equal((await ffprobe(path.join(t.filesDir, f))).streams.find((s) => s.codec_type === 'video')?.width, 160);
  });

  test('a restarted media is encoded afresh, and its fresh output replaces the entry', async () => {
    const r = await addAndWait(t, `file://${source}`, mp4('restart-1.mp4'));
    assert.ok(hit(r.log), r.log.join(' | '));
    const entriesBefore = await listCacheEntries(t.server.db);
    const restarted = await t.call('json', { action: 'RestartMedia', mediaid: r.id });
    assert.ok(!restarted.errors, JSON.stringify(restarted));
    const { final } = await untilFinal(t, r.id);
    assert.equal(final.status, 'Finished');
    const status = await t.call('json', { action: 'GetStatus', mediaid: r.id, include_task_status: 'yes' });
    const log = asList((asList((status as any).format)[0] as any).task_status.state).map((s: any) => String(s.message));
    const restartedAt = log.map((m) => m.includes('Restarted')).lastIndexOf(true);
    assert.ok(restartedAt >= 0, log.join(' | '));
    const sinceRestart = log.slice(restartedAt);
    assert.ok(sinceRestart.some((m) => m.includes('restarted, encoding afresh')), sinceRestart.join(' | '));
    assert.ok(ran(sinceRestart) && !hit(sinceRestart), sinceRestart.join(' | '));
    const entriesAfter = await listCacheEntries(t.server.db);
    const key = entriesAfter.find((e) => !entriesBefore.some((b) => b.folder === e.folder));
    assert.ok(key, 'a new entry was published for the fresh output');
    assert.ok(!entriesAfter.some((e) => e.key === key.key && e.folder !== key.folder));
  });

  test('an entry whose files are gone is dropped and the format encoded, never delivered broken', async () => {
    const r = await addAndWait(t, `file://${source}`, mp4('broken-0.mp4'));
    const prefix = /^cache hit ([0-9a-f]{12})$/.exec(String(r.format.cache))?.[1];
    assert.ok(prefix, JSON.stringify(r.format));
    const entry = (await listCacheEntries(t.server.db)).find((e) => e.key.startsWith(prefix));
    assert.ok(entry);
    await fs.rm(path.join(t.dataDir, 'cache', ...entry.folder.split('/')), { recursive: true });
    const again = await addAndWait(t, `file://${source}`, mp4('broken-1.mp4'));
    assert.ok(again.log.some((m) => m.includes('could not be read')), again.log.join(' | '));
    assert.ok(ran(again.log) && !hit(again.log), again.log.join(' | '));
    assert.equal((await ffprobe(path.join(t.filesDir, 'broken-1.mp4'))).streams.find((s) => s.codec_type === 'video')?.width, 160);
    const now = (await listCacheEntries(t.server.db)).find((e) => e.key === entry.key);
    assert.ok(now && now.folder !== entry.folder, 'the fresh output is the entry now');
    assert.ok(hit((await addAndWait(t, `file://${source}`, mp4('broken-2.mp4'))).log));
  });
});

describe('output cache bounds', () => {
  const mp3 = (t: TestServer, dest: string) => ({ output: 'mp3', audio_bitrate: '128k', destination: `file://${t.filesDir}/${dest}` });

  test('over ENCODERY_CACHE_MAX_BYTES the least recently used entry is evicted, files and all', async () => {
    // Equal-length CBR MP3s are equal in size: the bound is set to hold two of them, not three.
    const probe = await startTestServer({ ENCODERY_CACHE_MAX_BYTES: String(1024 ** 3) });
    let entryBytes: number;
    try {
      await fs.mkdir(probe.filesDir, { recursive: true });
      const clip = await makeClip(path.join(probe.filesDir, 'a.mp4'), { seconds: 2 });
      await addAndWait(probe, `file://${clip}`, mp3(probe, 'a.mp3'));
      entryBytes = (await listCacheEntries(probe.server.db))[0]!.bytes;
    } finally {
      await probe.close();
    }
    const t = await startTestServer({ ENCODERY_CACHE_MAX_BYTES: String(Math.floor(entryBytes * 2.5)) });
    try {
      await fs.mkdir(t.filesDir, { recursive: true });
      const clips: Record<string, string> = {};
      for (const [name, size] of [['a', '320x240'], ['b', '352x288'], ['c', '256x144']] as const) clips[name] = await makeClip(path.join(t.filesDir, `${name}.mp4`), { seconds: 2, size });
      await addAndWait(t, `file://${clips.a}`, mp3(t, 'a1.mp3'));
      await addAndWait(t, `file://${clips.b}`, mp3(t, 'b1.mp3'));
      // a is used again, so b is now the least recently used.
      assert.ok(hit((await addAndWait(t, `file://${clips.a}`, mp3(t, 'a2.mp3'))).log));
      const beforeC = await listCacheEntries(t.server.db);
      assert.equal(beforeC.length, 2);
      const bFolder = beforeC[0]!.folder;
      await addAndWait(t, `file://${clips.c}`, mp3(t, 'c1.mp3'));
      const entries = await listCacheEntries(t.server.db);
      assert.equal(entries.length, 2);
      assert.ok(!entries.some((e) => e.folder === bFolder), 'b was evicted');
      assert.ok(entries.reduce((n, e) => n + e.bytes, 0) <= entryBytes * 2.5);
      assert.equal(await fs.stat(path.join(t.dataDir, 'cache', ...bFolder.split('/'))).catch(() => null), null, "b's files are gone");
      assert.ok(!hit((await addAndWait(t, `file://${clips.b}`, mp3(t, 'b2.mp3'))).log), 'b is a miss again');
      assert.ok(hit((await addAndWait(t, `file://${clips.c}`, mp3(t, 'c2.mp3'))).log), 'c is still there');
    } finally {
      await t.close();
    }
  });

  test('0 (the default) is off: a repeated job is encoded again and nothing is stored', async () => {
    const t = await startTestServer();
    try {
      await fs.mkdir(t.filesDir, { recursive: true });
      const clip = await makeClip(path.join(t.filesDir, 'a.mp4'), { seconds: 1 });
      for (const dest of ['1.mp3', '2.mp3']) {
        const r = await addAndWait(t, `file://${clip}`, mp3(t, dest));
        assert.ok(ran(r.log) && !hit(r.log) && !r.log.some((m) => m.startsWith('Output cache')), r.log.join(' | '));
      }
      assert.deepEqual(await listCacheEntries(t.server.db), []);
      assert.equal(await fs.stat(path.join(t.dataDir, 'cache')).catch(() => null), null);
    } finally {
      await t.close();
    }
  });
});

describe('output cache in a cluster', { skip: TEST_STORE === 'postgres' ? false : 'needs two nodes on one PostgreSQL store: runs in the PostgreSQL pass' }, () => {
  let database: TestDatabase;
  const nodes: TestServer[] = [];

  before(async () => {
    database = await createTestDatabase();
  });
  after(async () => {
    for (const n of nodes) await n.close();
    await database?.drop();
  });

  test('an output one node encoded is a hit on another node sharing the store and ENCODERY_STORAGE_URL', async () => {
    const shared = await tempDir();
    const sources = path.join(shared, 'sources');
    const storage = path.join(shared, 'storage');
    await fs.mkdir(sources, { recursive: true });
    const clip = await makeClip(path.join(sources, 'clip.mp4'), { seconds: 2 });
    const env = {
      ENCODERY_DATABASE_URL: database.url, ENCODERY_CACHE_MAX_BYTES: String(100 * 1024 ** 2),
      ENCODERY_STORAGE_URL: `file://${storage}/`, ENCODERY_SHARED_FILE_ROOTS: sources,
    };
    const one = await startTestServer(env);
    nodes.push(one);
    const ffmpeg = await countingFfmpeg(shared);
    const two = await startTestServer({ ...env, ENCODERY_FFMPEG: ffmpeg.path });
    nodes.push(two);
    for (const n of nodes) await fs.mkdir(n.filesDir, { recursive: true });
    const format = (n: TestServer, dest: string) => ({ output: 'mp4', size: '160x120', destination: `file://${n.filesDir}/${dest}` });
    const first = await addAndWait(one, `file://${clip}`, format(one, 'one.mp4'));
    assert.ok(ran(first.log), first.log.join(' | '));
    const entries = await listCacheEntries(one.server.db);
    assert.equal(entries.length, 1);
    // The entry is in the shared storage, not in either node's data dir.
    assert.ok((await fs.readdir(path.join(storage, 'cache', ...entries[0]!.folder.split('/')))).length > 0);
    const before = await ffmpeg.runs();
    const second = await addAndWait(two, `file://${clip}`, format(two, 'two.mp4'));
    assert.ok(hit(second.log), second.log.join(' | '));
    assert.equal(await ffmpeg.runs(), before);
    const [a, b] = await Promise.all([fs.readFile(path.join(one.filesDir, 'one.mp4')), fs.readFile(path.join(two.filesDir, 'two.mp4'))]);
    assert.ok(a.equals(b));
  });
});
