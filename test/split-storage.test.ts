/**
 * Split-and-stitch across worker processes that share no data dir: the chunks take the source
 * from ENCODERY_STORAGE_URL (file:// here) and put their pieces there; the worker holding the
 * media fetches them and joins them.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { REDIS_URL, clearQueueKeys, spawnEncodery, stopProcesses, type Proc } from './cluster-processes.ts';
import { KEYFRAMES_EVERY_2S, USER, asList, createTestDatabase, exec, frameCount, makeClip, tempDir, waitFor, type TestDatabase } from './helpers.ts';
import { postgresMissing, redisMissing } from './needs.ts';

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await fs.readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries.filter((e) => e.isFile()).map((e) => path.join(e.parentPath, e.name));
}

const skip = (await redisMissing()) || (await postgresMissing());

describe('split-and-stitch through the shared storage, workers with data dirs of their own', { timeout: 150_000, skip }, async () => {
  const prefix = `encodery-test-${crypto.randomBytes(4).toString('hex')}`;
  let root = '';
  let files = '';
  let storage = '';
  let clip = '';
  let longClip = '';
  let database: TestDatabase | undefined;
  const procs: Proc[] = [];
  const workers: Proc[] = [];
  let apiUrl = '';

  const call = async (query: Record<string, unknown>): Promise<any> => {
    const body = 'json=' + encodeURIComponent(JSON.stringify({ query: { userid: USER.id, userkey: USER.key, ...query } }));
    const res = await fetch(apiUrl + '/', { method: 'POST', body, headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    return ((await res.json()) as { response: any }).response;
  };

  before(async () => {
    root = await tempDir('encodery-split-storage-');
    files = path.join(root, 'files');
    storage = path.join(root, 'storage');
    await fs.mkdir(files, { recursive: true });
    clip = path.join(files, 'clip.mp4');
    await makeClip(clip, { seconds: 12, size: '320x240', extra: KEYFRAMES_EVERY_2S });
    longClip = path.join(files, 'long.mp4');
    await makeClip(longClip, { seconds: 24, size: '480x270', audio: false, extra: KEYFRAMES_EVERY_2S });
    database = await createTestDatabase();
    const env = (name: string): Record<string, string> => ({
      ENCODERY_DATA_DIR: path.join(root, name), ENCODERY_USERS: `${USER.id}:${USER.key}`, ENCODERY_ALLOW_PRIVATE_NETWORK: 'true',
      ENCODERY_DATABASE_URL: database!.url, ENCODERY_STORAGE_URL: pathToFileURL(storage).href + '/', ENCODERY_FILE_ROOTS: files,
      ENCODERY_REDIS_URL: REDIS_URL, ENCODERY_QUEUE_PREFIX: prefix, ENCODERY_QUEUE_LOCK_SECONDS: '2',
      ENCODERY_WORKERS: '1', ENCODERY_SPLIT_CONCURRENCY: '1', ENCODERY_SPLIT_CHUNK_SECONDS: '2', ENCODERY_FFMPEG_THREADS: '1', ENCODERY_LOG_LEVEL: 'info',
    });
    const api = await spawnEncodery(['--role', 'api', '--port', '0'], { ...env('api'), ENCODERY_LOG_LEVEL: 'warn' }, /listening on/);
    procs.push(api);
    apiUrl = /listening on (http:\/\/\S+)/.exec(api.lines.find((l) => l.includes('listening on'))!)![1]!;
    workers.push(...(await Promise.all(['worker-a', 'worker-b'].map((name) => spawnEncodery(['--role', 'worker'], env(name), /worker taking media/)))));
    procs.push(...workers);
  });

  after(async () => {
    await stopProcesses(procs);
    await clearQueueKeys(prefix);
    await database?.drop();
    if (root) await fs.rm(root, { recursive: true, force: true });
  });

  test('each worker fetches the source from the storage and puts its pieces there; the join has every frame; the storage is left clean', async () => {
    const out = path.join(files, 'joined.mp4');
    const r = await call({ action: 'AddMedia', source: `file://${clip}`, multijob_workflow: 'yes', format: { output: 'mp4', bitrate: '400k', destination: `file://${out}` } });
    assert.ok(r.MediaID, JSON.stringify(r));
    const final = await waitFor(async () => {
      const job = (await call({ action: 'GetStatus', mediaid: r.MediaID, extended: 'yes', include_task_status: 'yes' })).job;
      return ['Finished', 'Error', 'Stopped'].includes(job.status) ? job : undefined;
    }, 90_000, 100);
    assert.equal(final.status, 'Finished', JSON.stringify(final));
    const log: string[] = asList(asList(final.format)[0].task_status?.state).map((s: { message: string }) => s.message);
    assert.ok(log.some((m) => m.startsWith('Split into') && m.includes('through the shared storage file://')), log.join('\n'));
    const ranOn = new Set(log.map((m) => /^Encoded chunk \d+ of \d+ .* on (\S+)$/.exec(m)?.[1]).filter(Boolean));
    for (const w of workers) assert.ok([...ranOn].some((x) => x!.endsWith(`:${w.child.pid}`)), `worker ${w.child.pid} encoded a chunk:\n${log.join('\n')}`);
    // The source came to each worker from the storage, not from another worker's disk.
    for (const w of workers) assert.ok(w.lines.some((l) => l.includes('chunk source fetched from the shared storage')), `worker ${w.child.pid} fetched the source`);
    assert.equal(await frameCount(out), await frameCount(clip));
    const duration = async (f: string) => Number((await exec('ffprobe', ['-v', 'error', '-show_entries', 'format=duration', '-of', 'csv=p=0', f])).stdout);
    assert.ok(Math.abs((await duration(out)) - (await duration(clip))) < 0.05, 'same duration as the source');
    // Pieces and the source copy are gone from the storage once joined.
    assert.deepEqual((await filesUnder(path.join(storage, 'media', r.MediaID))).filter((f) => f.includes(`${path.sep}split${path.sep}`)), []);
  });

  test('the worker holding the media SIGKILLed after some pieces reached the storage: the other worker, with its own data dir, keeps them', { timeout: 120_000 }, async () => {
    const out = path.join(files, 'resumed.mp4');
    const r = await call({ action: 'AddMedia', source: `file://${longClip}`, multijob_workflow: 'yes', format: { output: 'mp4', bitrate: '400k', destination: `file://${out}` } });
    const coordinator = await waitFor(async () => workers.find((w) => w.lines.some((l) => l.includes('media taken from the queue') && l.includes(`"mediaId":${r.MediaID}`))), 30_000, 20);
    await waitFor(async () => (await filesUnder(path.join(storage, 'media', r.MediaID, 'split'))).filter((f) => /chunk-\d+\.mp4$/.test(f)).length >= 2 || undefined, 60_000, 20);
    coordinator.child.kill('SIGKILL');
    await new Promise((res) => coordinator.child.once('exit', res));
    const final = await waitFor(async () => {
      const job = (await call({ action: 'GetStatus', mediaid: r.MediaID, extended: 'yes', include_task_status: 'yes' })).job;
      return ['Finished', 'Error', 'Stopped'].includes(job.status) ? job : undefined;
    }, 90_000, 100);
    assert.equal(final.status, 'Finished', JSON.stringify(final));
    const log: string[] = asList(asList(final.format)[0].task_status?.state).map((s: { message: string }) => s.message);
    assert.ok(log.some((m) => /^Kept chunk \d+ of \d+ .* from the interrupted run$/.test(m)), log.join('\n'));
    assert.equal(await frameCount(out), await frameCount(longClip));
    // Each piece's figures were put beside it in the storage: the summary still covers the kept chunks.
    const q = asList(final.format)[0].quality_report;
    assert.ok(q && Number(q.psnr) > 25 && Number(q.psnr) < 70, JSON.stringify(q));
    assert.match(q.psnr_method, /frame-weighted mean of the \d+ chunks' own means/);
  });
});
