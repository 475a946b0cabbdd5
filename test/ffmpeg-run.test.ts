import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FfmpegError, runFfmpeg, type FfmpegProgress } from '../src/pipeline/ffmpeg/run.ts';

let dir = '';

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'encodery-run-'));
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Processes whose command line mentions `marker`, from /proc. */
async function processesWith(marker: string): Promise<number[]> {
  const pids: number[] = [];
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const cmdline = await readFile(`/proc/${name}/cmdline`, 'utf8').catch(() => '');
    if (cmdline.includes(marker)) pids.push(Number(name));
  }
  return pids;
}

test('runFfmpeg – reports rising progress ending at 1, wall and CPU time', async () => {
  const out = join(dir, 'progress.mp4');
  const seen: FfmpegProgress[] = [];
  const result = await runFfmpeg(
    ['-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=25', '-t', '3', '-c:v', 'libx264', '-preset', 'veryfast', '-stats_period', '0.1', out],
    { ffmpeg: 'ffmpeg', durationSec: 3, onProgress: (p) => seen.push(p) },
  );
  assert.ok(seen.length >= 2, `progress events: ${seen.length}`);
  for (let i = 1; i < seen.length; i++) assert.ok(seen[i]!.fraction >= seen[i - 1]!.fraction);
  assert.equal(seen.at(-1)?.fraction, 1);
  assert.ok(Math.abs((seen.at(-1)?.outTimeSec ?? 0) - 3) < 0.2);
  assert.ok(result.wallSec > 0);
  assert.ok(result.cpuSec > 0, `cpu ${result.cpuSec}`);
  assert.ok(result.speed !== null && result.speed > 0);
  assert.ok((await stat(out)).size > 0);
});

test('runFfmpeg – a failure carries the exit code, a readable message and a bounded stderr tail', async () => {
  const err = await runFfmpeg(
    ['-v', 'debug', '-f', 'lavfi', '-i', 'testsrc2=size=64x64:rate=5', '-t', '1', '-c:v', 'libx264', join(dir, 'no-such-dir', 'x.mp4')],
    { ffmpeg: 'ffmpeg' },
  ).then(
    () => assert.fail('should have failed'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof FfmpegError);
  assert.equal(err.exitCode, 1);
  assert.match(err.message, /^FFmpeg exited with code 1: .*No such file or directory/);
  const lines = err.stderrTail.split('\n');
  assert.ok(lines.length <= 20 && lines.length > 1, `tail lines ${lines.length}`);
});

test('runFfmpeg – a binary that cannot start is an FfmpegError without exit code', async () => {
  await assert.rejects(runFfmpeg(['-version'], { ffmpeg: join(dir, 'no-ffmpeg') }), (err: unknown) => {
    assert.ok(err instanceof FfmpegError);
    assert.equal(err.exitCode, null);
    assert.match(err.message, /^FFmpeg could not be started/);
    return true;
  });
});

test('runFfmpeg – abort stops FFmpeg within a second and rejects with the reason', async () => {
  const marker = join(dir, `abort-${process.pid}-${Date.now()}.mkv`);
  const reason = new Error('StopMedia');
  const controller = new AbortController();
  const running = runFfmpeg(
    ['-re', '-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=25', '-t', '600', '-c:v', 'libx264', '-preset', 'medium', marker],
    { ffmpeg: 'ffmpeg', durationSec: 600, signal: controller.signal },
  );
  await new Promise((r) => setTimeout(r, 300));
  assert.equal((await processesWith(marker)).length, 1, 'ffmpeg is running');
  const abortedAt = performance.now();
  controller.abort(reason);
  await assert.rejects(running, (e: unknown) => e === reason);
  const took = performance.now() - abortedAt;
  assert.ok(took < 1000, `took ${took} ms`);
  assert.deepEqual(await processesWith(marker), [], 'no ffmpeg left behind');
});

test('runFfmpeg – an already aborted signal rejects without starting FFmpeg', async () => {
  const controller = new AbortController();
  controller.abort();
  await assert.rejects(runFfmpeg(['-version'], { ffmpeg: 'ffmpeg', signal: controller.signal }), { name: 'AbortError' });
});

test('runFfmpeg – a throwing progress callback stops FFmpeg and is what rejects', async () => {
  const boom = new Error('store is gone');
  const running = runFfmpeg(['-re', '-f', 'lavfi', '-i', 'testsrc2=size=160x120:rate=25', '-t', '30', '-stats_period', '0.1', '-f', 'null', '-'], {
    ffmpeg: 'ffmpeg',
    durationSec: 30,
    onProgress: () => {
      throw boom;
    },
  });
  await assert.rejects(running, (e: unknown) => e === boom);
});
