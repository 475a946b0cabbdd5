import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Readable } from 'node:stream';
import S3rver from 's3rver';
// s3rver's own account registry: the storage URL carries its keys, which must never be shown.
import { DUMMY_ACCOUNT } from 's3rver/lib/models/account.js';
import { DeleteObjectCommand, GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { ConfigError, loadConfig } from '../src/config.ts';
import { SharedStorage } from '../src/storage/shared-storage.ts';
import { removeTree } from '../src/transfer/index.ts';
import * as repo from '../src/store/repo.ts';
import { MediaStatus, TaskStatus } from '../src/domain/status.ts';
import { asList, createTestDatabase, ffprobe, makeClip, serveFiles, startReceiver, startTestServer, tempDir, untilFinal, waitFor, type TestServer, one } from './helpers.ts';

const KEY = 'STORAGEKEY0001';
const SECRET = 'st0rage/Secret:value';
const BUCKET = 'shared';

const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');

async function logOf(t: TestServer, taskId: number): Promise<string[]> {
  return ((await repo.getTaskLogs(t.server.db, [taskId])).get(taskId) ?? []).map((l) => l.message);
}

describe('shared storage (ENCODERY_STORAGE_URL)', () => {
  let dir: string;
  let s3: S3rver;
  let endpoint: string;
  let storageUrl: string;
  let verify: S3Client;
  let clip: string;

  const keys = async (prefix: string): Promise<string[]> =>
    ((await verify.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: prefix }))).Contents ?? []).map((o) => o.Key!).sort();
  const object = async (key: string): Promise<Buffer> => {
    const res = await verify.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
    return Buffer.from(await (res.Body as Readable & { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray());
  };

  before(async () => {
    DUMMY_ACCOUNT.createKeyPair(KEY, SECRET);
    dir = await tempDir('encodery-storage-');
    s3 = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory: path.join(dir, 's3'), configureBuckets: [{ name: BUCKET }] });
    const { port } = await s3.run();
    endpoint = `http://127.0.0.1:${port}`;
    // Keys in the URL, path-style through the configured endpoint.
    storageUrl = `http://${KEY}:${encodeURIComponent(SECRET)}@127.0.0.1:${port}/${BUCKET}/cluster/`;
    verify = new S3Client({ region: 'us-east-1', endpoint, forcePathStyle: true, credentials: { accessKeyId: KEY, secretAccessKey: SECRET } });
    clip = await makeClip(path.join(dir, 'clip.mp4'), { seconds: 1, size: '160x120' });
  });

  after(async () => {
    verify.destroy();
    await s3.close();
    await fs.rm(dir, { recursive: true, force: true });
  });

  test('a kept output lives in S3 only, and an API node that never saw it serves the same bytes', { timeout: 90_000 }, async () => {
    // Two API nodes on one PostgreSQL store, each with a data dir of its own (no shared disk).
    const database = await createTestDatabase();
    const env = { ENCODERY_S3_ENDPOINT: endpoint, ENCODERY_STORAGE_URL: storageUrl, ENCODERY_DATABASE_URL: database.url };
    const a = await startTestServer(env);
    let b: TestServer | undefined;
    try {
      const source = path.join(a.filesDir, 'clip.mp4');
      await fs.copyFile(clip, source);
      const added = await a.call('json', { action: 'AddMedia', source: `file://${source}`, format: { output: 'mp4', size: '160x120' } });
      const { final } = await untilFinal(a, added.MediaID, 60_000);
      assert.equal(final.status, 'Finished', JSON.stringify(final));
      const media = Number(added.MediaID);
      const [task] = await repo.getTasks(a.server.db, media);
      const link: string = one(asList(final.format)[0]!.s3_destination!);
      assert.match(link, /\/download\/[A-Za-z0-9_-]{20,}\/clip\.mp4$/);

      assert.deepEqual(await keys(`cluster/media/${media}/`), [`cluster/media/${media}/task/${task!.id}/clip.mp4`]);
      const stored = await object(`cluster/media/${media}/task/${task!.id}/clip.mp4`);
      assert.ok(stored.length > 1000);
      assert.equal(await fs.stat(path.join(a.dataDir, 'outputs', String(media), String(task!.id))).catch(() => null), null, 'the local copy is gone');

      b = await startTestServer(env);
      const fromB = await fetch(b.server.url + new URL(link).pathname);
      assert.equal(fromB.status, 200);
      assert.equal(fromB.headers.get('content-type'), 'video/mp4');
      assert.equal(sha256(Buffer.from(await fromB.arrayBuffer())), sha256(stored));
      const fromA = await fetch(link);
      assert.equal(sha256(Buffer.from(await fromA.arrayBuffer())), sha256(stored));
      assert.equal((await fetch(link.replace(/clip\.mp4$/, 'other.mp4'))).status, 404);

      const status = JSON.stringify(await b.call('xml', { action: 'GetStatus', mediaid: added.MediaID, extended: 'yes', include_task_status: 'yes' }));
      assert.ok(status.includes('Kept in the shared storage http://***:***@'), status);
      for (const secret of [SECRET, encodeURIComponent(SECRET)]) assert.ok(!status.includes(secret));

      // CancelMedia on the node that did not make it clears the media's prefix.
      assert.equal((await b.call('json', { action: 'CancelMedia', mediaid: added.MediaID })).message, 'Deleted');
      assert.deepEqual(await keys(`cluster/media/${media}/`), []);
      assert.equal((await fetch(link)).status, 404);
    } finally {
      await b?.close();
      await a.close();
      await database.drop();
    }
  });

  /**
   * A media whose worker died while saving: its one task in Saving, its local disk gone with it
   * (the next worker is another machine with its own data dir). `stored` says whether the
   * storage still holds the encoded output. Returns the second node's final status and log.
   */
  async function takeOverSaving(stored: boolean) {
    const database = await createTestDatabase();
    const env = { ENCODERY_S3_ENDPOINT: endpoint, ENCODERY_STORAGE_URL: storageUrl, ENCODERY_DATABASE_URL: database.url };
    let refuse = true;
    const receiver = await startReceiver(() => (refuse ? 403 : 200));
    // Over HTTP: the second node must be able to fetch the source again when it has to encode.
    const files = await serveFiles(dir);
    const a = await startTestServer(env);
    let b: TestServer | undefined;
    try {
      const added = await a.call('json', { action: 'AddMedia', source: `${files.url}/clip.mp4`, format: { output: 'mp4', size: '160x120', destination: `${receiver.url}/out/a.mp4` } });
      const first = await untilFinal(a, added.MediaID, 60_000);
      assert.equal(first.final.status, 'Error', 'the destination refused it the first time');
      const media = Number(added.MediaID);
      const [task] = await repo.getTasks(a.server.db, media);
      const key = `cluster/media/${media}/task/${task!.id}/clip.mp4`;
      assert.deepEqual(await keys(`cluster/media/${media}/`), [key], 'stored before delivery started');
      const copy = await object(key);
      assert.equal((await logOf(a, task!.id)).filter((l) => l.startsWith('Running:')).length, 1);
      if (!stored) await new S3Client({ region: 'us-east-1', endpoint, forcePathStyle: true, credentials: { accessKeyId: KEY, secretAccessKey: SECRET } }).send(new DeleteObjectCommand({ Bucket: BUCKET, Key: key }));

      // The rows as a crash in Saving leaves them, written behind the lifecycle's back on purpose.
      await a.server.db.updateTable('task').set({ status: TaskStatus.Saving, finished_at: null, description: null }).where('id', '=', task!.id).execute();
      await repo.resetDestinations(a.server.db, task!.id, true);
      await a.server.db.updateTable('media').set({ status: MediaStatus.Saving, finished_at: null, description: null }).where('id', '=', media).execute();
      await a.close();
      refuse = false;

      b = await startTestServer(env);
      const { final } = await untilFinal(b, added.MediaID, 60_000);
      assert.equal(final.status, 'Finished', JSON.stringify(final));
      assert.deepEqual(asList(final.format)[0]!.destination_status, 'Saved');
      const put = receiver.received.filter((r) => r.method === 'PUT' && r.url === '/out/a.mp4' && r.body.length > 0).at(-1)!;
      const log = await logOf(b, task!.id);
      // Delivered everywhere: the stored copy is no longer needed.
      await waitFor(async () => (await keys(`cluster/media/${media}/`)).length === 0 || undefined, 5000);
      return { delivered: put.body, copy, log };
    } finally {
      await b?.close();
      await a.close();
      await receiver.close();
      await files.close();
      await database.drop();
    }
  }

  test('a worker taking over a media in Saving delivers the stored output without encoding again', { timeout: 90_000 }, async () => {
    const { delivered, copy, log } = await takeOverSaving(true);
    assert.equal(sha256(delivered), sha256(copy));
    assert.equal(log.filter((l) => l.startsWith('Running:')).length, 1, 'FFmpeg did not run again');
    assert.ok(log.some((l) => l.startsWith('Fetched 1 encoded file(s) from the shared storage http://***:***@')), log.join('\n'));
  });

  test('when the storage lost the output too, the taking-over worker encodes it again', { timeout: 90_000 }, async () => {
    const { delivered, log } = await takeOverSaving(false);
    assert.equal(log.filter((l) => l.startsWith('Running:')).length, 2, log.join('\n'));
    assert.ok(log.includes('The encoded output is neither on this worker nor in the shared storage: encoding it again'));
    const probe = path.join(dir, 'again.mp4');
    await fs.writeFile(probe, delivered);
    const p = await ffprobe(probe);
    assert.deepEqual(p.streams.map((s) => [s.codec_name, s.width]).sort(), [['aac', undefined], ['h264', 160]]);
  });

  test('file:// storage: the kept output is a file under the shared folder, served back and removed with the media', { timeout: 60_000 }, async () => {
    const shared = path.join(dir, 'shared folder');
    const t = await startTestServer({ ENCODERY_STORAGE_URL: pathToFileURL(shared).href + '/' });
    try {
      const source = path.join(t.filesDir, 'clip.mp4');
      await fs.copyFile(clip, source);
      const hls = { output: 'advanced_hls', segment_duration: '1', stream: [{ size: '0x120', bitrate: '150k' }] };
      const added = await t.call('xml', { action: 'AddMedia', source: `file://${source}`, format: [{ output: 'webm', size: '160x120' }, hls] });
      const { final } = await untilFinal(t, added.MediaID, 60_000);
      assert.equal(final.status, 'Finished', JSON.stringify(final));
      const [task, hlsTask] = await repo.getTasks(t.server.db, Number(added.MediaID));

      // A kept HLS output keeps its folders in the storage; its playlists' relative links resolve there.
      const master: string = one(asList(final.format)[1]!.s3_destination!);
      const masterRes = await fetch(master);
      assert.equal(masterRes.headers.get('content-type'), 'application/vnd.apple.mpegurl');
      const masterText = await masterRes.text();
      const variant = masterText.split('\n').find((l) => l.endsWith('.m3u8'))!;
      const variantUrl = new URL(variant, master);
      const variantText = await (await fetch(variantUrl)).text();
      const segment = variantText.split('\n').find((l) => l.trim() !== '' && !l.startsWith('#'))!;
      const segmentRes = await fetch(new URL(segment, variantUrl));
      assert.equal(segmentRes.status, 200);
      assert.equal(segmentRes.headers.get('content-type'), 'video/mp2t');
      const taskFolder = path.join(shared, 'media', added.MediaID, 'task', String(hlsTask!.id));
      const relative = path.relative(new URL('.', master).pathname, new URL(segment, variantUrl).pathname);
      assert.ok(relative.includes('/'), `a segment in a variant folder: ${relative}`);
      assert.equal(sha256(Buffer.from(await segmentRes.arrayBuffer())), sha256(await fs.readFile(path.join(taskFolder, relative))));

      const file = path.join(shared, 'media', added.MediaID, 'task', String(task!.id), 'clip.webm');
      const bytes = await fs.readFile(file);
      assert.equal(await fs.stat(path.join(t.dataDir, 'outputs', added.MediaID, String(task!.id))).catch(() => null), null);
      const res = await fetch(one(asList(final.format)[0]!.s3_destination!));
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('content-length'), String(bytes.length));
      assert.equal(res.headers.get('content-type'), 'video/webm');
      assert.equal(sha256(Buffer.from(await res.arrayBuffer())), sha256(bytes));

      // RestartMedia encodes anew: what was stored for the earlier run goes.
      await t.call('xml', { action: 'CancelMedia', mediaid: added.MediaID });
      assert.equal(await fs.stat(path.join(shared, 'media', added.MediaID)).catch(() => null), null);
      assert.ok((await fs.stat(shared)).isDirectory(), 'the storage folder itself stays');
    } finally {
      await t.close();
    }
  });

  test('removeTree never removes a bucket or a file root itself', async () => {
    const ctx = { fileRoots: [dir], allowPrivateNetwork: true, s3Endpoint: endpoint, s3Region: 'us-east-1' };
    await assert.rejects(removeTree(`${storageUrl.replace(/cluster\/$/, '')}`, ctx), /only a folder \(bucket\/prefix\/\) can be removed from bucket shared/);
    await assert.rejects(removeTree(pathToFileURL(dir).href + '/', ctx), /outside the allowed file roots/);
    await assert.rejects(removeTree(pathToFileURL(path.dirname(dir)).href + '/other/', ctx), /outside the allowed file roots/);
    assert.ok((await fs.stat(dir)).isDirectory());
  });

  test('settings: ENCODERY_STORAGE_URL / --storage-url, checked at start without showing its keys', async () => {
    const base = { ENCODERY_DATA_DIR: path.join(dir, 'cfg') };
    assert.equal(loadConfig(base).storageUrl, null);
    assert.equal(loadConfig(base, ['--storage-url', 's3://bucket/prefix']).storageUrl, 's3://bucket/prefix/');
    assert.equal(loadConfig({ ...base, ENCODERY_STORAGE_URL: 'file:///shared/x/' }).storageUrl, 'file:///shared/x/');
    assert.throws(() => loadConfig({ ...base, ENCODERY_STORAGE_URL: 'not a url' }), /ENCODERY_STORAGE_URL \(--storage-url\): must be a URL/);
    const refused = (url: string): string => {
      try {
        SharedStorage.from(loadConfig({ ...base, ENCODERY_STORAGE_URL: url }));
      } catch (err) {
        assert.ok(err instanceof ConfigError);
        return err.message;
      }
      assert.fail(`${url} was accepted`);
    };
    const ftp = refused('ftp://user:hunter2secret@files.example.com/encodery/');
    assert.match(ftp, /^ENCODERY_STORAGE_URL \(--storage-url\) ftp:\/\/\*\*\*:\*\*\*@files\.example\.com\/encodery\/: .*cannot hold the shared storage/);
    assert.ok(!ftp.includes('hunter2secret'));
    assert.match(refused('s3://Bad_Bucket!/x/'), /not a valid S3 bucket name/);
    assert.match(refused('gopher://x/y/'), /Unsupported URL scheme/);
  });
});
