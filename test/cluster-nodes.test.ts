import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import { REDIS_URL, clearQueueKeys, spawnEncodery, stopProcesses, type Proc } from './cluster-processes.ts';
import { USER, asList, createTestDatabase, makeClip, tempDir, waitFor, type TestDatabase } from './helpers.ts';
import { postgresMissing, redisMissing } from './needs.ts';

/**
 * Several API nodes on one PostgreSQL: two `--role api` processes started with an FFmpeg path
 * that does not exist (an API node never runs FFmpeg), and one `--role worker`, all on one Redis.
 */
const ORDER = ['New', 'Downloading', 'Waiting for encoder', 'Processing', 'Saving', 'Finished'];


const skip = (await redisMissing()) || (await postgresMissing());

describe('several API nodes on PostgreSQL with a worker on Redis', { timeout: 180_000, skip }, async () => {
  const prefix = `encodery-test-${crypto.randomBytes(4).toString('hex')}`;
  let dataDir = '';
  let files = '';
  let database: TestDatabase | undefined;
  let client: pg.Client | undefined;
  const apis: { proc: Proc; url: string }[] = [];
  let worker: Proc | undefined;

  const call = async (url: string, query: Record<string, unknown>): Promise<any> => {
    const body = 'json=' + encodeURIComponent(JSON.stringify({ query: { userid: USER.id, userkey: USER.key, ...query } }));
    const res = await fetch(url + '/', { method: 'POST', body, headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    return ((await res.json()) as { response: any }).response;
  };

  before(async () => {
    dataDir = await tempDir('encodery-nodes-');
    files = path.join(dataDir, 'files');
    await fs.mkdir(files, { recursive: true });
    database = await createTestDatabase();
    const env = {
      ENCODERY_DATA_DIR: dataDir,
      ENCODERY_USERS: `${USER.id}:${USER.key}`,
      ENCODERY_ALLOW_PRIVATE_NETWORK: 'true',
      ENCODERY_DATABASE_URL: database.url,
      ENCODERY_REDIS_URL: REDIS_URL,
      ENCODERY_QUEUE_PREFIX: prefix,
      ENCODERY_LOG_LEVEL: 'warn',
    };
    const missing = { ENCODERY_FFMPEG: path.join(dataDir, 'no-such-ffmpeg'), ENCODERY_FFPROBE: path.join(dataDir, 'no-such-ffprobe') };
    const started = await Promise.all([0, 1].map(() => spawnEncodery(['--role', 'api', '--port', '0'], { ...env, ...missing }, /listening on/)));
    for (const proc of started) apis.push({ proc, url: /listening on (http:\/\/\S+)/.exec(proc.lines.find((l) => l.includes('listening on'))!)![1]! });
    // One FFmpeg thread keeps the encode long enough to watch its progress.
    worker = await spawnEncodery(['--role', 'worker'], { ...env, ENCODERY_WORKERS: '1', ENCODERY_FFMPEG_THREADS: '1' }, /worker taking media/);
    client = new pg.Client({ connectionString: database.url });
    await client.connect();
  });

  after(async () => {
    await client?.end();
    await stopProcesses([...apis.map((a) => a.proc), worker]);
    await clearQueueKeys(prefix);
    await database?.drop();
    if (dataDir) await fs.rm(dataDir, { recursive: true, force: true });
  });

  test('--role api starts without FFmpeg, answers GetMediaList and reports healthy', async () => {
    for (const api of apis) {
      const list = await call(api.url, { action: 'GetMediaList' });
      assert.equal(list.errors, undefined, JSON.stringify(list));
      const health = await fetch(api.url + '/healthz');
      const body = (await health.json()) as { status: string; checks: Record<string, boolean> };
      assert.equal(health.status, 200, JSON.stringify(body));
      assert.deepEqual(body.checks, { store: true, queue: true }, 'an API node depends on its store and queue, not on FFmpeg');
    }
  });

  test('progress and status written by the worker are visible to GetStatus on every API node within a second', async () => {
    const clip = await makeClip(path.join(files, 'watched.mp4'), { seconds: 8, size: '640x360' });
    const added = await call(apis[0]!.url, { action: 'AddMedia', source: `file://${clip}`, format: { output: 'mp4', destination: `file://${files}/watched-out.mp4` } });
    assert.ok(added.MediaID, JSON.stringify(added));
    const midway = apis.map(() => new Set<number>());
    const statuses = apis.map(() => new Set<string>());
    // Each round reads what the worker has written (the store), then asks both API nodes: each
    // must already show it (or something later), and the round must fit within a second.
    await waitFor(async () => {
      const t0 = Date.now();
      const { rows } = await client!.query<{ status: string; progress: number }>('select status, progress from media where id = $1', [Number(added.MediaID)]);
      const truth = rows[0]!;
      const seen = await Promise.all(apis.map((a) => call(a.url, { action: 'GetStatus', mediaid: added.MediaID })));
      const elapsed = Date.now() - t0;
      assert.ok(elapsed < 1000, `a round took ${elapsed} ms`);
      seen.forEach((s, i) => {
        const rank = ORDER.indexOf(s.status as string);
        assert.ok(rank >= 0, `node ${i}: unexpected status ${s.status}`);
        const truthRank = ORDER.indexOf(truth.status);
        assert.ok(rank >= truthRank, `node ${i} shows ${s.status} after the worker wrote ${truth.status}`);
        // GetStatus rounds to one decimal.
        if (rank === truthRank) assert.ok(Number(s.progress) >= truth.progress - 0.05, `node ${i} shows ${s.progress} % after the worker wrote ${truth.progress} %`);
        statuses[i]!.add(s.status as string);
        if (s.status === 'Processing' && Number(s.progress) > 0 && Number(s.progress) < 100) midway[i]!.add(Number(s.progress));
      });
      return seen.every((s) => s.status === 'Finished') || undefined;
    }, 120_000, 100);
    for (const [i, values] of midway.entries()) {
      assert.ok(values.size >= 2, `node ${i} saw the progress move while Processing (${[...values].join(', ')})`);
      assert.ok(statuses[i]!.has('Processing'), `node ${i} saw Processing`);
    }
    const final = await call(apis[1]!.url, { action: 'GetStatus', mediaid: added.MediaID, extended: 'yes' });
    for (const task of asList(final.job.format)) assert.equal((task as { status: string }).status, 'Finished');
  });
});
