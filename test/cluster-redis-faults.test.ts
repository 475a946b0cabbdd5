import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { openStore, type Db } from '../src/store/db.ts';
import { getTaskLogs, getTasks } from '../src/store/repo.ts';
import { spawnEncodery, stopProcesses, type Proc } from './cluster-processes.ts';
import { startOwnRedis, type OwnRedis } from './redis-server.ts';
import { postgresMissing, redisServerMissing } from './needs.ts';
import { USER, createTestDatabase, makeClip, startReceiver, tempDir, waitFor, type TestDatabase } from './helpers.ts';

/**
 * A cluster (one `--role api`, two `--role worker`, PostgreSQL) on a Redis of the test's own that
 * the test freezes, restarts empty and freezes longer than the queue's lock. Each scenario ends
 * with every media Finished, each encoded once, one notification per media, every process up.
 */
const LOCK_SECONDS = 2;
const SWEEP_SECONDS = 2;
/**
 * Sizes other than the long clip's own, so that it is encoded (not remuxed), with one FFmpeg
 * thread: for well longer than a freeze even on an idle machine (the 30 s clip at 960x540 takes
 * about 14 s of one idle core here, the freeze 6 s). A cancelled encode can be slower.
 */
const LONG_SECONDS = 30;
const LONG_ENCODE_SIZE = '960x540';
const CANCELLED_ENCODE_SIZE = '1280x720';

const skip = (await redisServerMissing()) || (await postgresMissing());

describe('cluster mode through Redis faults', { timeout: 360_000, skip }, () => {
  let redis: OwnRedis;
  let database: TestDatabase;
  let db: Db;
  let dataDir = '';
  let files = '';
  let api: Proc;
  let apiUrl = '';
  const workers: Proc[] = [];
  const workerHealth: string[] = [];
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let shortClip = '';
  let longClip = '';
  let added = 0;
  /** The notify path of each media, by id. */
  const notifyPath = new Map<string, string>();

  const call = async (query: Record<string, unknown>): Promise<any> => {
    const body = 'json=' + encodeURIComponent(JSON.stringify({ query: { userid: USER.id, userkey: USER.key, ...query } }));
    const res = await fetch(apiUrl + '/', { method: 'POST', body, headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    return ((await res.json()) as { response: any }).response;
  };
  const addMedia = async (clip: string, name: string, size = '160x90'): Promise<{ id: string; ms: number }> => {
    const started = Date.now();
    const r = await call({ action: 'AddMedia', source: `file://${clip}`, notify: `${receiver.url}/${name}`, format: { output: 'mp4', size, destination: `file://${files}/${name}.mp4` } });
    const ms = Date.now() - started;
    assert.ok(r.MediaID, JSON.stringify(r));
    added++;
    notifyPath.set(String(r.MediaID), `/${name}`);
    return { id: String(r.MediaID), ms };
  };
  const status = async (id: string): Promise<string> => (await call({ action: 'GetStatus', mediaid: id, extended: 'yes' })).job?.status ?? '';
  const untilFinished = (ids: string[], timeoutMs = 90_000) =>
    waitFor(async () => {
      const statuses = await Promise.all(ids.map(status));
      for (const [i, s] of statuses.entries()) if (s === 'Error' || s === 'Stopped') throw new Error(`media ${ids[i]} ended ${s}`);
      return statuses.every((s) => s === 'Finished');
    }, timeoutMs, 200);
  const health = async (url: string): Promise<number> => {
    const res = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(5000) }).catch(() => null);
    return res?.status ?? 0;
  };
  /** The FFmpeg runs of a media: "Running:" lines in its task log. */
  const encodes = async (id: string): Promise<number> => {
    const tasks = await getTasks(db, Number(id));
    const logs = await getTaskLogs(db, tasks.map((t) => t.id));
    return [...logs.values()].flat().filter((l) => l.message.startsWith('Running:')).length;
  };
  /** Every scenario's ending: Finished, encoded once, one notification, every process running. */
  const assertClean = async (ids: string[]) => {
    for (const id of ids) assert.equal(await encodes(id), 1, `media ${id} encoded once`);
    // A duplicate notification would be on its way within a moment.
    await new Promise((r) => setTimeout(r, 1000));
    for (const id of ids) {
      const sent = receiver.received.filter((r) => r.url === notifyPath.get(id));
      assert.equal(sent.length, 1, `one notification for media ${id}`);
    }
    for (const p of [api, ...workers]) assert.equal(p.child.exitCode, null, 'every process still running');
    const rows = await db.selectFrom('media').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    assert.equal(Number(rows.n), added, 'no media added twice');
  };
  const logLines = (procs: Proc[], text: string) => procs.flatMap((p) => p.lines).filter((l) => l.includes(text));
  /** FFmpeg processes writing into this media's output folder. */
  const ffmpegsOf = async (id: string): Promise<number[]> => {
    const marker = path.join(dataDir, 'outputs', id) + path.sep;
    const found: number[] = [];
    for (const entry of await fs.readdir('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      const argv = (await fs.readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '')).split('\0');
      if (argv[0]?.endsWith('ffmpeg') && argv.some((a) => a.replace(/^file:/, '').startsWith(marker))) found.push(Number(entry));
    }
    return found;
  };

  before(async () => {
    redis = await startOwnRedis();
    database = await createTestDatabase();
    dataDir = await tempDir('encodery-redisfaults-');
    files = path.join(dataDir, 'files');
    await fs.mkdir(files, { recursive: true });
    receiver = await startReceiver();
    [shortClip, longClip] = await Promise.all([
      makeClip(path.join(files, 'short.mp4'), { seconds: 2, size: '320x180' }),
      makeClip(path.join(files, 'long.mp4'), { seconds: LONG_SECONDS, size: '640x360' }),
    ]);
    const env = {
      ENCODERY_DATA_DIR: dataDir,
      ENCODERY_DATABASE_URL: database.url,
      ENCODERY_USERS: `${USER.id}:${USER.key}`,
      ENCODERY_ALLOW_PRIVATE_NETWORK: 'true',
      ENCODERY_REDIS_URL: redis.url,
      ENCODERY_QUEUE_PREFIX: `encodery-test-${crypto.randomBytes(4).toString('hex')}`,
      ENCODERY_QUEUE_LOCK_SECONDS: String(LOCK_SECONDS),
      ENCODERY_SWEEP_SECONDS: String(SWEEP_SECONDS),
      ENCODERY_WORKERS: '1',
      // One media per worker at a time, none fetched ahead: the media beyond two wait in Redis.
      ENCODERY_DOWNLOADS: '0',
      ENCODERY_FFMPEG_THREADS: '1',
      ENCODERY_LOG_LEVEL: 'info',
    };
    api = await spawnEncodery(['--role', 'api', '--port', '0'], env, /listening on/);
    apiUrl = /listening on (http:\/\/\S+)/.exec(api.lines.find((l) => l.includes('listening on'))!)![1]!;
    workers.push(...(await Promise.all([0, 1].map(() => spawnEncodery(['--role', 'worker'], { ...env, ENCODERY_HEALTH_PORT: '0' }, /worker taking media/)))));
    for (const w of workers) workerHealth.push(/health on (http:\/\/\S+)/.exec(w.lines.find((l) => l.includes('health on'))!)![1]!);
    db = await openStore({ dataDir, databaseUrl: database.url });
  });

  after(async () => {
    // DEBUG_LOGS=<dir>: each process's log lines are kept there, and the PostgreSQL schema is not dropped.
    if (process.env.DEBUG_LOGS) for (const [i, p] of [api, ...workers].entries()) await fs.writeFile(`${process.env.DEBUG_LOGS}/p${i}.log`, p.lines.join('\n'));
    redis?.thaw();
    await stopProcesses([api, ...workers]);
    await db?.destroy();
    await receiver?.close();
    await redis?.stop();
    if (!process.env.DEBUG_LOGS) await database?.drop();
    if (dataDir) await fs.rm(dataDir, { recursive: true, force: true });
  });

  test('Redis frozen during AddMedia: each answers within a second, /healthz says 503 until Redis is back, every media is encoded once', async () => {
    assert.equal(await health(apiUrl), 200);
    for (const url of workerHealth) assert.equal(await health(url), 200, 'worker health port answers');
    redis.freeze();
    const frozenAt = Date.now();
    let ids: string[];
    let gone: { id: string };
    try {
      const answers = [];
      for (let i = 0; i < 4; i++) answers.push(await addMedia(shortClip, `frozen-${i}`));
      for (const a of answers) assert.ok(a.ms < 1000, `AddMedia answered in ${a.ms} ms while Redis was frozen`);
      ids = answers.map((a) => a.id);
      // A media not yet taken by a worker can be cancelled without Redis; the queue catches up later.
      gone = await addMedia(shortClip, 'cancelled');
      const started = Date.now();
      const cancelled = await call({ action: 'CancelMedia', mediaid: gone.id });
      assert.equal(cancelled.message, 'Deleted', JSON.stringify(cancelled));
      assert.ok(Date.now() - started < 1000, `CancelMedia answered in ${Date.now() - started} ms`);
      assert.equal(await health(apiUrl), 503, '/healthz on the API while Redis is frozen');
      for (const url of workerHealth) assert.equal(await health(url), 503, 'worker /healthz while Redis is frozen');
      const metrics = await (await fetch(`${workerHealth[0]}/metrics`)).text();
      assert.match(metrics, /^encodery_queue_up 0$/m);
      await new Promise((r) => setTimeout(r, Math.max(0, 10_000 - (Date.now() - frozenAt))));
    } finally {
      redis.thaw();
    }
    await untilFinished(ids);
    assert.equal(await health(apiUrl), 200, '/healthz on the API once Redis is back');
    for (const url of workerHealth) assert.equal(await waitFor(async () => (await health(url)) === 200 && 200, 10_000), 200);
    assert.equal(await encodes(gone.id), 0, 'the cancelled media never ran');
    assert.equal(receiver.received.filter((r) => r.url === '/cancelled').length, 0);
    await assertClean(ids);
  });

  test('Redis restarted empty with media queued: the sweep re-queues them and every media is encoded once', async () => {
    const before = logLines([api, ...workers], 're-queued a media').length;
    const ids: string[] = [];
    // Two workers, one media each: two run, the others wait in Redis.
    for (let i = 0; i < 4; i++) ids.push((await addMedia(shortClip, `empty-${i}`, '320x180')).id);
    await redis.restartEmpty();
    await untilFinished(ids);
    const requeued = logLines([api, ...workers], 're-queued a media').slice(before);
    assert.ok(requeued.length >= 1, 'the sweep re-queued what Redis lost');
    for (const line of requeued) assert.ok(ids.includes(String((JSON.parse(line) as { mediaId: number }).mediaId)), line);
    const metrics = await Promise.all([apiUrl, ...workerHealth].map(async (u) => (await fetch(`${u}/metrics`)).text()));
    const counted = metrics.flatMap((m) => [...m.matchAll(/^encodery_reconcile_requeued_total\{reason="\w+"\} (\d+)$/gm)].map((x) => Number(x[1])));
    assert.ok(counted.reduce((a, b) => a + b, 0) >= requeued.length, 'counted in the metrics');
    assert.ok(metrics.some((m) => /^encodery_reconcile_last_sweep_timestamp_seconds [1-9]/m.test(m)), 'a sweep time in the metrics');
    await assertClean(ids);
  });

  test('Redis frozen longer than the lock during an encode: the encode carries on, is not restarted nor counted as a stall', async (t) => {
    const { id } = await addMedia(longClip, 'long-out', LONG_ENCODE_SIZE);
    await waitFor(async () => (await encodes(id)) === 1, 60_000, 100);
    const lockLostBefore = logLines(workers, 'lost its lock').length;
    redis.freeze();
    try {
      // The worker running it cannot be told to stop while Redis is frozen: refused, nothing changed.
      const started = Date.now();
      const stop = await call({ action: 'StopMedia', mediaid: id });
      assert.ok(Date.now() - started < 1500, `StopMedia answered in ${Date.now() - started} ms`);
      assert.match(JSON.stringify(stop.errors), /queue cannot be reached/, JSON.stringify(stop));
      await new Promise((r) => setTimeout(r, 3 * LOCK_SECONDS * 1000));
      assert.equal(await status(id), 'Processing', 'still encoding when Redis comes back (make the clip longer if not)');
    } finally {
      redis.thaw();
    }
    const thawedAt = Date.now();
    await untilFinished([id], 180_000);
    t.diagnostic(`the encode went on for ${((Date.now() - thawedAt) / 1000).toFixed(1)} s after Redis came back`);
    await assertClean([id]);
    assert.equal(logLines(workers, 'queue gave up').length, 0, 'no stall held against the media');
    assert.ok(logLines(workers, 'lost its lock').length > lockLostBefore, 'the queue did lose its lock meanwhile');
  });

  test('CancelMedia after Redis lost the lock of a running encode still reaches its worker: FFmpeg stops, nothing is delivered', async () => {
    const { id } = await addMedia(longClip, 'cancel-after-lock-loss', CANCELLED_ENCODE_SIZE);
    await waitFor(async () => (await ffmpegsOf(id)).length > 0, 60_000, 100);
    const leftBefore = logLines(workers, 'left to it').length;
    redis.freeze();
    await new Promise((r) => setTimeout(r, 3 * LOCK_SECONDS * 1000));
    redis.thaw();
    // The job came back from the queue's stall check and the other worker left it to the holder:
    // the queue holds no job for the media now, only the store lease says who runs it.
    await waitFor(async () => logLines(workers, 'left to it').length > leftBefore, 30_000, 100);
    assert.equal(await status(id), 'Processing', 'still encoding (make the clip longer if not)');
    const cancelled = await call({ action: 'CancelMedia', mediaid: id });
    assert.equal(cancelled.message, 'Deleted', JSON.stringify(cancelled));
    assert.deepEqual(await ffmpegsOf(id), [], 'FFmpeg stopped before CancelMedia answered');
    await new Promise((r) => setTimeout(r, 2000));
    await assert.rejects(fs.stat(path.join(files, 'cancel-after-lock-loss.mp4')), 'nothing delivered');
    assert.equal(receiver.received.filter((r) => r.url === '/cancel-after-lock-loss').length, 0, 'no notification');
    for (const p of [api, ...workers]) assert.equal(p.child.exitCode, null, 'every process still running');
  });
});
