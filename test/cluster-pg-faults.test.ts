import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import pg from 'pg';
import { REDIS_URL, clearQueueKeys, spawnEncodery, stopProcesses, type Proc } from './cluster-processes.ts';
import { USER, createTestDatabase, ffprobe, makeClip, parseXml, startReceiver, tempDir, toXml, waitFor, type TestDatabase, TEST_PG_URL } from './helpers.ts';
import { startTcpProxy, type TcpProxy } from './tcp-proxy.ts';
import { postgresMissing, redisMissing } from './needs.ts';
import { freePort } from './ports.ts';

/**
 * Issue 19 §1–§2: a cluster that outlives PostgreSQL faults. One `--role api` and one
 * `--role worker` reach PostgreSQL through a TCP proxy the test takes down, brings back and uses
 * to reset connections mid-query. They start while it is down (c), ride out an outage while
 * media are queued and one is encoding (a), and connection resets under load (b). Each ends with
 * every media Finished, each encoded once or its restart explained in the task log, every
 * notification sent once, and both processes still running.
 */
const STORE_DOWN = 'The database cannot be reached right now; try again in a moment.';
const PG_URL = TEST_PG_URL;


const alive = (p: Proc | undefined): boolean => !!p && p.child.exitCode === null && p.child.signalCode === null;

const skip = (await redisMissing()) || (await postgresMissing());

describe('a cluster that outlives PostgreSQL faults (issue 19)', { timeout: 240_000, skip }, async () => {
  const prefix = `encodery-test-${crypto.randomBytes(4).toString('hex')}`;
  let dataDir = '';
  let files = '';
  let database: TestDatabase | undefined;
  let proxy: TcpProxy | undefined;
  let direct: pg.Client | undefined;
  let receiver: Awaited<ReturnType<typeof startReceiver>> | undefined;
  let api: Proc | undefined;
  let worker: Proc | undefined;
  let apiUrl = '';
  let shortClip = '';

  const post = async (format: 'json' | 'xml', query: Record<string, unknown>): Promise<{ status: number; response: any }> => {
    const full = { userid: USER.id, userkey: USER.key, ...query };
    const doc = format === 'json' ? JSON.stringify({ query: full }) : toXml('query', full);
    const res = await fetch(apiUrl + '/', { method: 'POST', body: `${format}=${encodeURIComponent(doc)}`, headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    const text = await res.text();
    return { status: res.status, response: format === 'json' ? (JSON.parse(text) as { response: unknown }).response : parseXml(text).response };
  };
  const call = async (query: Record<string, unknown>): Promise<any> => (await post('json', query)).response;
  const health = async (): Promise<{ status: number; body: { checks: Record<string, boolean> } }> => {
    const res = await fetch(apiUrl + '/healthz');
    return { status: res.status, body: (await res.json()) as { checks: Record<string, boolean> } };
  };

  const addMedia = async (name: string, clip: string): Promise<number> => {
    const r = await call({ action: 'AddMedia', source: `file://${clip}`, notify: `${receiver!.url}/notify/${name}`, format: { output: 'mp4', destination: `file://${files}/${name}.mp4` } });
    assert.ok(r.MediaID, JSON.stringify(r));
    return Number(r.MediaID);
  };

  /** Every media Finished, its output playable, encoded once or its restart explained, notified once. */
  const expectAllDone = async (media: Map<string, number>, clipSeconds: Map<string, number>): Promise<{ finishedAt: number; encodes: Record<string, number> }> => {
    const encodes: Record<string, number> = {};
    const ids = [...media.values()];
    await waitFor(async () => {
      const { rows } = await direct!.query<{ id: number; status: string }>('select id, status from media where id = any($1)', [ids]);
      const bad = rows.find((r) => r.status === 'Error');
      assert.equal(bad, undefined, `media ${bad?.id} ended in Error`);
      return rows.every((r) => r.status === 'Finished') || undefined;
    }, 120_000, 200);
    const finishedAt = Date.now();
    for (const [name, id] of media) {
      const p = await ffprobe(path.join(files, `${name}.mp4`));
      assert.ok(Math.abs(Number(p.format.duration) - clipSeconds.get(name)!) < 0.3, `${name}: duration ${p.format.duration}`);
      const { rows } = await direct!.query<{ message: string }>('select l.message from task_log l join task t on t.id = l.task_id where t.media_id = $1 order by l.id', [id]);
      const messages = rows.map((r) => r.message);
      const runs = messages.flatMap((m, i) => (m.startsWith('Running: ') ? [i] : []));
      assert.ok(runs.length >= 1, `${name}: never encoded`);
      encodes[name] = runs.length;
      // A second encode must be one the task log explains: a run resumed after the store fault.
      for (const at of runs.slice(1)) {
        assert.ok(messages.slice(0, at).some((m) => m.startsWith('Resumed: an earlier run stopped because the database could not be reached')), `${name}: encoded again without a reason in its log:\n${messages.join('\n')}`);
      }
    }
    await waitFor(async () => {
      const { rows } = await direct!.query<{ state: string }>('select state from notification where media_id = any($1)', [ids]);
      return (rows.length === ids.length && rows.every((r) => r.state === 'delivered')) || undefined;
    }, 60_000, 200);
    // A little longer, for a duplicate that would still be on its way.
    await new Promise((r) => setTimeout(r, 1000));
    for (const name of media.keys()) {
      const n = receiver!.received.filter((r) => r.url === `/notify/${name}`).length;
      assert.equal(n, 1, `${name}: notified ${n} times`);
    }
    return { finishedAt, encodes };
  };

  before(async () => {
    dataDir = await tempDir('encodery-pgfaults-');
    files = path.join(dataDir, 'files');
    await fs.mkdir(files, { recursive: true });
    database = await createTestDatabase();
    direct = new pg.Client({ connectionString: database.url });
    await direct.connect();
    receiver = await startReceiver();
    proxy = await startTcpProxy(Number(new URL(PG_URL).port || 5432), new URL(PG_URL).hostname);
    shortClip = await makeClip(path.join(files, 'short.mp4'), { seconds: 2 });
  });

  after(async () => {
    await stopProcesses([api, worker]);
    await proxy?.close();
    await receiver?.close();
    await direct?.end();
    await clearQueueKeys(prefix);
    await database?.drop();
    if (dataDir) await fs.rm(dataDir, { recursive: true, force: true });
  });

  /** The API and the worker, through the proxy; `ready` says which line shows each has started. */
  const startProcesses = async (ready: { api: RegExp; worker: RegExp }): Promise<void> => {
    const url = new URL(database!.url);
    url.port = String(proxy!.port);
    const env = {
      ENCODERY_DATA_DIR: dataDir,
      ENCODERY_USERS: `${USER.id}:${USER.key}`,
      ENCODERY_ALLOW_PRIVATE_NETWORK: 'true',
      ENCODERY_DATABASE_URL: url.toString(),
      ENCODERY_REDIS_URL: REDIS_URL,
      ENCODERY_QUEUE_PREFIX: prefix,
      ENCODERY_LOG_LEVEL: 'warn',
      ENCODERY_NOTIFY_TIMEOUT_SECONDS: '5',
    };
    const port = await freePort();
    apiUrl = `http://127.0.0.1:${port}`;
    await stopProcesses([api, worker]);
    [api, worker] = await Promise.all([
      spawnEncodery(['--role', 'api', '--port', String(port)], env, ready.api),
      spawnEncodery(['--role', 'worker'], { ...env, ENCODERY_WORKERS: '1', ENCODERY_FFMPEG_THREADS: '1' }, ready.worker),
    ]);
  };
  /** Each scenario can run on its own (--test-name-pattern): it starts the processes if (c) did not. */
  const ensureRunning = async (): Promise<void> => {
    await proxy!.up();
    if (!alive(api) || !alive(worker)) await startProcesses({ api: /listening on/, worker: /worker taking media/ });
  };

  test('(c) an API and a worker started while PostgreSQL is unreachable wait for it, answer 503 and a clear error meanwhile, then carry on', async () => {
    await proxy!.down();
    const waiting = /waiting for the store/;
    await startProcesses({ api: waiting, worker: waiting });
    const down = await health();
    assert.equal(down.status, 503);
    assert.equal(down.body.checks.store, false);
    assert.deepEqual((await post('json', { action: 'AddMedia', source: `file://${shortClip}`, format: { output: 'mp4' } })).response, { errors: { error: STORE_DOWN } });
    const xml = await post('xml', { action: 'GetMediaList' });
    assert.equal(xml.status, 200);
    assert.deepEqual(xml.response, { errors: { error: STORE_DOWN } }, 'answered in the request\'s format');

    assert.ok(alive(api) && alive(worker), 'both still running while the store is down');
    await proxy!.up();
    await waitFor(async () => (api!.lines.some((l) => l.includes('listening on')) && worker!.lines.some((l) => l.includes('worker taking media'))) || undefined, 60_000, 100);
    for (const p of [api!, worker!]) assert.ok(p.lines.filter((l) => waiting.test(l)).length >= 1, 'a log line per attempt');
    assert.equal((await health()).status, 200);
    const media = new Map([['c-first', await addMedia('c-first', shortClip)]]);
    await expectAllDone(media, new Map([['c-first', 2]]));
    assert.ok(alive(api) && alive(worker));
  });

  test('(a) a 15 s outage while media are queued and one is encoding: every media finishes once the store is back', async (t) => {
    await ensureRunning();
    const longClip = await makeClip(path.join(files, 'long.mp4'), { seconds: 8, size: '640x360' });
    const media = new Map<string, number>();
    const seconds = new Map<string, number>();
    media.set('a-long', await addMedia('a-long', longClip));
    seconds.set('a-long', 8);
    for (const name of ['a-1', 'a-2']) {
      media.set(name, await addMedia(name, shortClip));
      seconds.set(name, 2);
    }
    await waitFor(async () => {
      const { rows } = await direct!.query<{ status: string }>('select status from media where id = $1', [media.get('a-long')]);
      return rows[0]?.status === 'Processing' || undefined;
    }, 60_000, 50);
    await proxy!.down();
    const outageStart = Date.now();
    assert.equal((await health()).status, 503);
    assert.deepEqual(await call({ action: 'GetStatus', mediaid: String(media.get('a-1')) }), { errors: { error: STORE_DOWN } });
    await new Promise((r) => setTimeout(r, 15_000 - (Date.now() - outageStart)));
    assert.ok(alive(api) && alive(worker), 'both still running after the outage');
    const { rows: during } = await direct!.query<{ status: string }>('select status from media where id = any($1)', [[...media.values()]]);
    assert.ok(during.some((r) => r.status !== 'Finished'), 'the outage caught media unfinished');
    await proxy!.up();
    const backAt = Date.now();
    const done = await expectAllDone(media, seconds);
    const sentBack = worker!.lines.filter((l) => l.includes('media goes back to the queue')).length;
    assert.ok(sentBack >= 1, 'the worker sent media back to the queue during the outage');
    // Held off after each refusal (1 s, 2 s, 4 s, 8 s …): at most about five tries per media in
    // 15 s, however many the worker runs at once, where a queue run through in a loop makes hundreds.
    assert.ok(sentBack <= 5 * media.size, `media sent back ${sentBack} times in a 15 s outage`);
    t.diagnostic(`outage: media sent back ${sentBack} times; all finished ${((done.finishedAt - backAt) / 1000).toFixed(1)} s after the store came back; encodes per media ${JSON.stringify(done.encodes)}`);
    assert.equal(worker!.lines.filter((l) => l.includes('worker crashed on a media')).length, 0);
    assert.equal((await health()).status, 200);
    assert.ok(alive(api) && alive(worker));
  });

  test('(b) connections reset mid-query, again and again: no process dies, every media finishes', async (t) => {
    await ensureRunning();
    const media = new Map<string, number>();
    const seconds = new Map<string, number>();
    for (const name of ['b-1', 'b-2']) {
      media.set(name, await addMedia(name, shortClip));
      seconds.set(name, 2);
    }
    // Requests keep the API's connections busy while they are cut: each is answered, the list
    // or "try again".
    let polling = true;
    const replies: unknown[] = [];
    const poller = (async () => {
      for (let i = 0; polling && i < 2000; i++) {
        const r = await post(i % 2 ? 'xml' : 'json', { action: 'GetMediaList' });
        assert.equal(r.status, 200);
        replies.push(r.response);
      }
    })();
    let reset = 0;
    for (let round = 0; round < 4; round++) {
      reset += await proxy!.holdThenReset(1000);
      await new Promise((r) => setTimeout(r, 800));
    }
    polling = false;
    await poller;
    assert.ok(reset >= 4, `connections were reset (${reset})`);
    for (const r of replies) {
      const errors = (r as { errors?: { error: string } }).errors;
      if (errors) assert.equal(errors.error, STORE_DOWN);
    }
    assert.ok(replies.some((r) => (r as { errors?: unknown }).errors), 'some requests were caught by a reset');
    const done = await expectAllDone(media, seconds);
    const refused = replies.filter((r) => (r as { errors?: unknown }).errors).length;
    t.diagnostic(`resets: ${reset} connections cut; ${refused} of ${replies.length} API requests answered "try again"; encodes per media ${JSON.stringify(done.encodes)}`);
    assert.ok(alive(api) && alive(worker), 'no process died of a reset');
  });
});
