import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { REDIS_URL, clearQueueKeys, spawnEncodery, stopProcesses, type Proc } from './cluster-processes.ts';
import { USER, asList, ffprobe, makeClip, startReceiver, tempDir, waitFor } from './helpers.ts';
import { redisMissing } from './needs.ts';

/**
 * Cluster mode with real processes: one `--role api` and two `--role worker` sharing a data dir
 * (the SQLite store, in WAL mode) and the Redis on 127.0.0.1:6379 under a prefix of their own.
 * Worker A has the `hevc` tag, worker B none.
 */
const LOCK_SECONDS = 3;
/**
 * The clip the workers are stopped, killed and cancelled in the middle of: its encode (640x360,
 * x264 medium) lasts seconds on two idle cores, where finding its FFmpeg takes a poll of 50 ms.
 */
const LONG_SECONDS = 10;

/** The worker (by index) whose log says it took this media from the queue, with the queue's name. */
function takenBy(workers: Proc[], mediaId: string): { worker: number; queue: string }[] {
  const found: { worker: number; queue: string }[] = [];
  workers.forEach((w, i) => {
    for (const line of w.lines) {
      if (!line.includes('media taken from the queue')) continue;
      const entry = JSON.parse(line) as { mediaId: number; queue: string };
      if (String(entry.mediaId) === mediaId) found.push({ worker: i, queue: entry.queue });
    }
  });
  return found;
}

/** FFmpeg processes writing into this media's output folder (`file:<path>` arguments), with their parent's pid. */
async function ffmpegsOf(dataDir: string, mediaId: string): Promise<{ pid: number; ppid: number }[]> {
  const marker = path.join(dataDir, 'outputs', mediaId) + path.sep;
  const found: { pid: number; ppid: number }[] = [];
  for (const entry of await fs.readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const cmdline = await fs.readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
    const argv = cmdline.split('\0');
    if (!argv[0]?.endsWith('ffmpeg') || !argv.some((a) => a.replace(/^file:/, '').startsWith(marker))) continue;
    const stat = await fs.readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    found.push({ pid: Number(entry), ppid });
  }
  return found;
}

const skip = await redisMissing();

describe('cluster mode (BullMQ on Redis, api and worker processes)', { timeout: 120_000, skip }, async () => {
  const prefix = `encodery-test-${crypto.randomBytes(4).toString('hex')}`;
  let dataDir = '';
  let files = '';
  let api: Proc;
  let apiUrl = '';
  const workers: Proc[] = [];
  let longClip = '';
  let shortClip = '';
  let env: Record<string, string> = {};
  const spawnWorker = (tags: string) => spawnEncodery(['--role', 'worker'], { ...env, ENCODERY_WORKER_TAGS: tags }, /worker taking media/);

  const call = async (query: Record<string, unknown>): Promise<any> => {
    const body = 'json=' + encodeURIComponent(JSON.stringify({ query: { userid: USER.id, userkey: USER.key, ...query } }));
    const res = await fetch(apiUrl + '/', { method: 'POST', body, headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    return ((await res.json()) as { response: any }).response;
  };
  const untilFinal = (mediaId: string, seen: string[] = [], progress: number[] = []) =>
    waitFor(async () => {
      const job = (await call({ action: 'GetStatus', mediaid: mediaId, extended: 'yes' })).job;
      if (seen.at(-1) !== job.status) seen.push(job.status);
      progress.push(Number(job.progress));
      return ['Finished', 'Error', 'Stopped'].includes(job.status) ? job : undefined;
    }, 60_000, 50);

  before(async () => {
    dataDir = await tempDir('encodery-cluster-');
    files = path.join(dataDir, 'files');
    await fs.mkdir(files, { recursive: true });
    [shortClip, longClip] = await Promise.all([
      makeClip(path.join(files, 'short.mp4'), { seconds: 2, size: '320x180' }),
      makeClip(path.join(files, 'long.mp4'), { seconds: LONG_SECONDS, size: '640x360' }),
    ]);
    env = {
      ENCODERY_DATA_DIR: dataDir,
      ENCODERY_USERS: `${USER.id}:${USER.key}`,
      ENCODERY_ALLOW_PRIVATE_NETWORK: 'true',
      ENCODERY_REDIS_URL: REDIS_URL,
      ENCODERY_QUEUE_PREFIX: prefix,
      ENCODERY_QUEUE_LOCK_SECONDS: String(LOCK_SECONDS),
      ENCODERY_WORKERS: '1',
      ENCODERY_LOG_LEVEL: 'info',
    };
    api = await spawnEncodery(['--role', 'api', '--port', '0'], { ...env, ENCODERY_LOG_LEVEL: 'warn' }, /listening on/);
    apiUrl = /listening on (http:\/\/\S+)/.exec(api.lines.find((l) => l.includes('listening on'))!)![1]!;
    workers.push(
      ...(await Promise.all([spawnWorker('hevc'), spawnWorker('')])),
    );
  });

  after(async () => {
    await stopProcesses([api, ...workers]);
    await clearQueueKeys(prefix);
    if (dataDir) await fs.rm(dataDir, { recursive: true, force: true });
  });

  test('AddMedia on the API process is encoded by a worker; GetStatus on the API follows it to Finished', async () => {
    const out = path.join(files, 'one.mp4');
    const r = await call({ action: 'AddMedia', source: `file://${shortClip}`, format: { output: 'mp4', size: '160x90', destination: `file://${out}` } });
    assert.ok(r.MediaID, JSON.stringify(r));
    const seen: string[] = [];
    const progress: number[] = [];
    const final = await untilFinal(r.MediaID, seen, progress);
    assert.equal(final.status, 'Finished', JSON.stringify(final));
    assert.equal(Number(final.progress), 100);
    // Statuses only the worker writes reached the API through the shared store.
    assert.ok(seen.some((s) => ['Downloading', 'Waiting for encoder', 'Processing', 'Saving'].includes(s)), seen.join(' → '));
    assert.deepEqual([...progress].sort((a, b) => a - b), progress, 'progress never goes down');
    const probe = await ffprobe(out);
    const video = probe.streams.find((s) => s.codec_type === 'video')!;
    assert.equal(`${video.width}x${video.height}`, '160x90');
    assert.equal(takenBy(workers, r.MediaID).length, 1, 'taken by exactly one worker, once');
  });

  test('a format needing hevc is only taken by the worker with the hevc tag', async () => {
    const hevc: string[] = [];
    const plain: string[] = [];
    for (let i = 0; i < 3; i++) {
      const h = await call({ action: 'AddMedia', source: `file://${shortClip}`, format: { output: 'mp4', video_codec: 'libx265', size: '160x90', destination: `file://${files}/hevc-${i}.mp4` } });
      hevc.push(h.MediaID);
      const p = await call({ action: 'AddMedia', source: `file://${shortClip}`, format: { output: 'mp4', size: '160x90', destination: `file://${files}/plain-${i}.mp4` } });
      plain.push(p.MediaID);
    }
    for (const id of [...hevc, ...plain]) assert.equal((await untilFinal(id)).status, 'Finished', `media ${id}`);
    for (const [i, id] of hevc.entries()) {
      // Only the hevc worker ever takes it. A job BullMQ hands out again (a lock renewed late on a
      // loaded machine) may be taken twice by that worker; its store lease lets only one run encode.
      const taken = takenBy(workers, id);
      assert.ok(taken.length >= 1, `hevc media ${id} taken`);
      for (const t of taken) assert.deepEqual(t, { worker: 0, queue: 'media-hevc' }, `hevc media ${id}`);
      const probe = await ffprobe(path.join(files, `hevc-${i}.mp4`));
      assert.equal(probe.streams.find((s) => s.codec_type === 'video')!.codec_name, 'hevc');
    }
    for (const id of plain) assert.equal(takenBy(workers, id)[0]?.queue, 'media', `plain media ${id}`);
  });

  test('CancelMedia reaches the worker: its FFmpeg is gone within two seconds and the media is deleted', async () => {
    const r = await call({ action: 'AddMedia', source: `file://${longClip}`, format: { output: 'mp4', destination: `file://${files}/cancelled.mp4` } });
    const running = await waitFor(async () => {
      const found = await ffmpegsOf(dataDir, r.MediaID);
      return found.length > 0 ? found : undefined;
    }, 30_000, 50);
    assert.ok(workers.some((w) => w.child.pid === running[0]!.ppid), 'the FFmpeg belongs to a worker process');
    const started = Date.now();
    const reply = await call({ action: 'CancelMedia', mediaid: r.MediaID });
    assert.equal(reply.message, 'Deleted', JSON.stringify(reply));
    await waitFor(async () => (await ffmpegsOf(dataDir, r.MediaID)).length === 0 || undefined, 2000, 20);
    assert.ok(Date.now() - started <= 2000, `FFmpeg stopped ${Date.now() - started} ms after CancelMedia`);
    const status = await call({ action: 'GetStatus', mediaid: r.MediaID });
    assert.ok(status.errors, 'a cancelled media is gone from GetStatus');
    await assert.rejects(fs.stat(path.join(files, 'cancelled.mp4')));
  });

  test('SIGTERM on a worker mid-encode hands its media back: the other worker finishes it at once', { timeout: 60_000 }, async () => {
    const r = await call({ action: 'AddMedia', source: `file://${longClip}`, format: { output: 'mp4', destination: `file://${files}/handed-back.mp4` } });
    const running = await waitFor(async () => {
      const found = await ffmpegsOf(dataDir, r.MediaID);
      return found.length > 0 ? found : undefined;
    }, 30_000, 50);
    const index = workers.findIndex((w) => w.child.pid === running[0]!.ppid);
    assert.ok(index >= 0, 'the FFmpeg belongs to a worker process');
    const stopping = workers[index]!;
    stopping.child.kill('SIGTERM');
    const code = await new Promise<number | null>((res) => stopping.child.once('exit', (c) => res(c)));
    assert.equal(code, 0, 'the worker stopped cleanly');
    // Handed back, not left to the stalled-job check: the other worker starts well within the lock time.
    const other = 1 - index;
    await waitFor(async () => takenBy([workers[other]!], r.MediaID).length > 0 || undefined, (LOCK_SECONDS - 0.5) * 1000, 50);
    const final = await untilFinal(r.MediaID);
    assert.equal(final.status, 'Finished', JSON.stringify(final));
    const duration = Number((await ffprobe(path.join(files, 'handed-back.mp4'))).format.duration);
    assert.ok(Math.abs(duration - LONG_SECONDS) < 0.5, `the output is the whole encode (${duration} s)`);
    // A replacement with the same tags, for the next test.
    workers[index] = await spawnWorker(index === 0 ? 'hevc' : '');
  });

  test('a worker killed with SIGKILL mid-encode: the other worker finishes the media, delivered exactly once', { timeout: 60_000 }, async () => {
    const receiver = await startReceiver();
    try {
      const r = await call({ action: 'AddMedia', source: `file://${longClip}`, format: { output: 'mp4', destination: `${receiver.url}/out/killed.mp4` } });
      const running = await waitFor(async () => {
        const found = await ffmpegsOf(dataDir, r.MediaID);
        return found.length > 0 ? found : undefined;
      }, 30_000, 50);
      const victim = workers.find((w) => w.child.pid === running[0]!.ppid);
      assert.ok(victim, 'the FFmpeg belongs to a worker process');
      victim.child.kill('SIGKILL');
      await new Promise((res) => victim.child.once('exit', res));
      const final = await untilFinal(r.MediaID);
      assert.equal(final.status, 'Finished', JSON.stringify(final));
      for (const task of asList(final.format)) assert.equal((task as { status: string }).status, 'Finished');
      const survivor = workers.indexOf(workers.find((w) => w !== victim)!);
      assert.ok(takenBy(workers, r.MediaID).some((t) => t.worker === survivor), 'the surviving worker took it over');
      const puts = receiver.received.filter((x) => x.method === 'PUT' && x.url === '/out/killed.mp4');
      assert.equal(puts.length, 1, 'delivered exactly once');
      const copy = path.join(dataDir, 'received.mp4');
      await fs.writeFile(copy, puts[0]!.body);
      const duration = Number((await ffprobe(copy)).format.duration);
      assert.ok(Math.abs(duration - LONG_SECONDS) < 0.5, `the delivered file is the whole encode (${duration} s)`);
    } finally {
      await receiver.close();
    }
  });
});
