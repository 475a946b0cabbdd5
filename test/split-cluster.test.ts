/** Split-and-stitch across worker processes: chunks are jobs any worker takes; a killed worker costs only its chunk. */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { REDIS_URL, clearQueueKeys, spawnEncodery, stopProcesses, type Proc } from './cluster-processes.ts';
import { KEYFRAMES_EVERY_2S, USER, asList, frameCount, makeClip, tempDir, waitFor } from './helpers.ts';
import { redisMissing } from './needs.ts';

/** FFmpeg processes encoding a chunk of this media (their arguments name its split folder), with their parent's pid. */
async function chunkFfmpegs(dataDir: string, mediaId: string): Promise<{ pid: number; ppid: number }[]> {
  const marker = path.join(dataDir, 'scratch', mediaId) + path.sep;
  const found: { pid: number; ppid: number }[] = [];
  for (const entry of await fs.readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const argv = (await fs.readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '')).split('\0');
    if (!argv[0]?.endsWith('ffmpeg') || !argv.some((a) => /chunk-\d+\./.test(a) && a.replace(/^file:/, '').startsWith(marker))) continue;
    const stat = await fs.readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
    found.push({ pid: Number(entry), ppid: Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) });
  }
  return found;
}

const skip = await redisMissing();

describe('split-and-stitch in a cluster (api and two worker processes)', { timeout: 150_000, skip }, async () => {
  const prefix = `encodery-test-${crypto.randomBytes(4).toString('hex')}`;
  let dataDir = '';
  let clip = '';
  let heavyClip = '';
  let api: Proc;
  let apiUrl = '';
  const workers: Proc[] = [];
  let env: Record<string, string> = {};
  const spawnWorker = () => spawnEncodery(['--role', 'worker'], env, /worker taking media/);
  /** Two workers running: a test that killed one has it replaced by the next test that needs two, not at its own end. */
  const twoWorkers = async () => {
    for (const [i, w] of workers.entries()) if (w.child.exitCode !== null || w.child.signalCode !== null) workers[i] = await spawnWorker();
  };

  const call = async (query: Record<string, unknown>): Promise<any> => {
    const body = 'json=' + encodeURIComponent(JSON.stringify({ query: { userid: USER.id, userkey: USER.key, ...query } }));
    const res = await fetch(apiUrl + '/', { method: 'POST', body, headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    return ((await res.json()) as { response: any }).response;
  };
  const untilFinal = (mediaId: string) =>
    waitFor(async () => {
      const job = (await call({ action: 'GetStatus', mediaid: mediaId, extended: 'yes', include_task_status: 'yes' })).job;
      return ['Finished', 'Error', 'Stopped'].includes(job.status) ? job : undefined;
    }, 90_000, 100);
  /** The quality summary's PSNR and SSIM, which the chunks' own statistics make (carried back from whichever worker ran each). */
  const chunkStats = (job: any): { psnr: number; ssim: number; method: string } => {
    const q = asList(job.format)[0].quality_report;
    assert.ok(q, `no quality summary: ${JSON.stringify(asList(job.format)[0])}`);
    return { psnr: Number(q.psnr), ssim: Number(q.ssim), method: String(q.psnr_method) };
  };
  const logOf = (job: any): string[] => asList(asList(job.format)[0].task_status?.state).map((s: { message: string }) => s.message);

  before(async () => {
    dataDir = await tempDir('encodery-split-cluster-');
    const files = path.join(dataDir, 'files');
    await fs.mkdir(files, { recursive: true });
    clip = path.join(files, 'clip.mp4');
    await makeClip(clip, { seconds: 24, size: '480x270', extra: KEYFRAMES_EVERY_2S });
    // Chunks that take seconds each even on an idle machine, so that a cancel lands mid-chunk.
    heavyClip = path.join(files, 'heavy.mp4');
    await makeClip(heavyClip, { seconds: 16, size: '1280x720', audio: false, extra: KEYFRAMES_EVERY_2S });
    env = {
      ENCODERY_DATA_DIR: dataDir, ENCODERY_USERS: `${USER.id}:${USER.key}`, ENCODERY_ALLOW_PRIVATE_NETWORK: 'true',
      ENCODERY_REDIS_URL: REDIS_URL, ENCODERY_QUEUE_PREFIX: prefix, ENCODERY_QUEUE_LOCK_SECONDS: '2',
      ENCODERY_WORKERS: '1', ENCODERY_SPLIT_CONCURRENCY: '1', ENCODERY_SPLIT_CHUNK_SECONDS: '4', ENCODERY_FFMPEG_THREADS: '1', ENCODERY_LOG_LEVEL: 'info',
    };
    api = await spawnEncodery(['--role', 'api', '--port', '0'], { ...env, ENCODERY_LOG_LEVEL: 'warn' }, /listening on/);
    apiUrl = /listening on (http:\/\/\S+)/.exec(api.lines.find((l) => l.includes('listening on'))!)![1]!;
    workers.push(...(await Promise.all([spawnWorker(), spawnWorker()])));
  });

  after(async () => {
    await stopProcesses([api, ...workers]);
    await clearQueueKeys(prefix);
    if (dataDir) await fs.rm(dataDir, { recursive: true, force: true });
  });

  test('both workers encode chunks of one media; the joined file has every frame', async () => {
    await twoWorkers();
    const out = path.join(dataDir, 'files', 'both.mp4');
    const r = await call({ action: 'AddMedia', source: `file://${clip}`, multijob_workflow: 'yes', format: { output: 'mp4', bitrate: '600k', destination: `file://${out}` } });
    assert.ok(r.MediaID, JSON.stringify(r));
    const final = await untilFinal(r.MediaID);
    assert.equal(final.status, 'Finished', JSON.stringify(final));
    const log = logOf(final);
    const ranOn = new Set(log.map((m) => /^Encoded chunk \d+ of \d+ .* on (\S+)$/.exec(m)?.[1]).filter(Boolean));
    const pids = workers.map((w) => `:${w.child.pid}`);
    assert.equal(ranOn.size, 2, `chunks ran on ${[...ranOn].join(', ')}\n${log.join('\n')}`);
    for (const pid of pids) assert.ok([...ranOn].some((w) => w!.endsWith(pid)), `worker ${pid} encoded a chunk`);
    assert.ok(log.some((m) => /Split into \d+ chunks of ~4 s at keyframes; encoded on 2 workers; joined without re-encoding/.test(m)), log.join('\n'));
    assert.equal(await frameCount(out), await frameCount(clip));
    const q = chunkStats(final);
    assert.ok(q.psnr > 25 && q.psnr < 70 && q.ssim > 0.5 && q.ssim <= 1, JSON.stringify(q));
    assert.match(q.method, /frame-weighted mean of the \d+ chunks' own means/);
  });

  test('CancelMedia on a split media stops the chunk FFmpeg running on the other worker within two seconds', { timeout: 60_000 }, async () => {
    await twoWorkers();
    const r = await call({ action: 'AddMedia', source: `file://${heavyClip}`, multijob_workflow: 'yes', format: { output: 'mp4', bitrate: '2000k', destination: `file://${dataDir}/files/cancelled.mp4` } });
    const coordinator = await waitFor(async () => workers.find((w) => w.lines.some((l) => l.includes('media taken from the queue') && l.includes(`"mediaId":${r.MediaID}`))), 30_000, 20);
    const other = workers.find((w) => w !== coordinator)!;
    await waitFor(async () => (await chunkFfmpegs(dataDir, r.MediaID)).some((f) => f.ppid === other.child.pid) || undefined, 30_000, 20);
    const started = Date.now();
    const reply = await call({ action: 'CancelMedia', mediaid: r.MediaID });
    assert.equal(reply.message, 'Deleted', JSON.stringify(reply));
    await waitFor(async () => (await chunkFfmpegs(dataDir, r.MediaID)).length === 0 || undefined, 5000, 20);
    const stoppedMs = Date.now() - started;
    assert.ok(stoppedMs <= 2000, `the chunk FFmpeg stopped ${stoppedMs} ms after CancelMedia`);
    // Stopped, not run to its end: the worker holding the chunk was told to drop it.
    await waitFor(async () => other.lines.some((l) => l.includes('chunk abandoned by its media')) || undefined, 2000, 20);
    // And no chunk of it is taken afterwards.
    await new Promise((res) => setTimeout(res, 1000));
    assert.deepEqual(await chunkFfmpegs(dataDir, r.MediaID), []);
    await assert.rejects(fs.stat(path.join(dataDir, 'files', 'cancelled.mp4')));
  });

  test('a worker SIGKILLed in the middle of a chunk: the chunk goes to the other worker and the media finishes whole', { timeout: 90_000 }, async () => {
    await twoWorkers();
    const out = path.join(dataDir, 'files', 'killed.mp4');
    const r = await call({ action: 'AddMedia', source: `file://${clip}`, multijob_workflow: 'yes', format: { output: 'mp4', bitrate: '600k', destination: `file://${out}` } });
    const coordinator = await waitFor(async () => workers.find((w) => w.lines.some((l) => l.includes('media taken from the queue') && l.includes(`"mediaId":${r.MediaID}`))), 30_000, 20);
    // Kill the other worker while it runs a chunk of this media.
    const other = workers.find((w) => w !== coordinator)!;
    await waitFor(async () => (await chunkFfmpegs(dataDir, r.MediaID)).some((f) => f.ppid === other.child.pid), 30_000, 20);
    other.child.kill('SIGKILL');
    await new Promise((res) => other.child.once('exit', res));
    const final = await untilFinal(r.MediaID);
    assert.equal(final.status, 'Finished', JSON.stringify(final));
    const log = logOf(final);
    const chunks = Number(/Split into (\d+) chunks/.exec(log.find((m) => m.startsWith('Split into'))!)![1]);
    const encoded = log.filter((m) => m.startsWith('Encoded chunk'));
    assert.equal(encoded.length, chunks, log.join('\n'));
    assert.equal(await frameCount(out), await frameCount(clip));
  });

  test('the worker running the media SIGKILLed after some chunks: the other worker resumes it and keeps the finished chunks', { timeout: 120_000 }, async () => {
    await twoWorkers();
    const out = path.join(dataDir, 'files', 'resumed.mp4');
    const r = await call({ action: 'AddMedia', source: `file://${clip}`, multijob_workflow: 'yes', format: { output: 'mp4', bitrate: '600k', destination: `file://${out}` } });
    const coordinator = await waitFor(async () => workers.find((w) => w.lines.some((l) => l.includes('media taken from the queue') && l.includes(`"mediaId":${r.MediaID}`))), 30_000, 20);
    // Some pieces are done (their markers written) before the kill.
    await waitFor(async () => {
      const dirs = (await fs.readdir(path.join(dataDir, 'scratch', r.MediaID)).catch(() => [])).filter((d) => d.startsWith('split-'));
      const marks = dirs.length ? (await fs.readdir(path.join(dataDir, 'scratch', r.MediaID, dirs[0]!))).filter((f) => /^chunk-.*\.done$/.test(f)) : [];
      return marks.length >= 2;
    }, 30_000, 20);
    coordinator.child.kill('SIGKILL');
    await new Promise((res) => coordinator.child.once('exit', res));
    const final = await untilFinal(r.MediaID);
    assert.equal(final.status, 'Finished', JSON.stringify(final));
    const log = logOf(final);
    assert.ok(log.some((m) => /^Kept chunk \d+ of \d+ .* from the interrupted run$/.test(m)), log.join('\n'));
    assert.equal(await frameCount(out), await frameCount(clip));
    // A kept piece's marker recorded what its run measured: the resumed task still has every chunk's figures.
    const q = chunkStats(final);
    assert.ok(q.psnr > 25 && q.psnr < 70, JSON.stringify(q));
  });
});
