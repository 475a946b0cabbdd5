/** Split-and-stitch (multijob_workflow=yes): keyframe-aligned chunks encoded apart, audio whole, joined without re-encoding. */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { asList, exec, startTestServer, untilFinal, type TestServer } from './helpers.ts';

const FPS = 25;

async function frameTimes(file: string): Promise<{ pts: number[]; keys: number[] }> {
  const { stdout } = await exec('ffprobe', ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'packet=pts_time,flags', '-of', 'csv=p=0', file]);
  const rows = stdout.trim().split('\n').filter((l) => l.trim() !== '').map((l) => l.split(',')).map(([t, f]) => ({ t: Number(t), key: (f ?? '').includes('K') }));
  rows.sort((a, b) => a.t - b.t);
  return { pts: rows.map((r) => r.t), keys: rows.filter((r) => r.key).map((r) => r.t) };
}

async function streamDuration(file: string, stream: 'v' | 'a'): Promise<number> {
  const { stdout } = await exec('ffprobe', ['-v', 'error', '-select_streams', `${stream}:0`, '-show_entries', 'stream=duration', '-of', 'csv=p=0', file]);
  return Number(stdout.trim());
}

/** Average and worst-frame PSNR of `file` against `reference`: a chunk shifted by one frame would sink the worst. */
async function psnr(file: string, reference: string): Promise<{ average: number; min: number }> {
  const { stderr } = await exec('ffmpeg', ['-hide_banner', '-i', file, '-i', reference, '-lavfi', '[0:v][1:v]psnr', '-f', 'null', '-']);
  const m = /average:([\d.inf]+) min:([\d.inf]+)/.exec(stderr);
  assert.ok(m, stderr.slice(-500));
  return { average: Number(m[1]), min: Number(m[2]) };
}

function taskLog(format: any): string[] {
  return asList(format.task_status?.state).map((s: { message: string }) => s.message);
}

describe('split-and-stitch', () => {
  let t: TestServer;
  let clip: string;
  let out: string;

  before(async () => {
    t = await startTestServer({ ENCODERY_SPLIT_CHUNK_SECONDS: '5', ENCODERY_SPLIT_CONCURRENCY: '2' });
    await fs.mkdir(t.filesDir, { recursive: true });
    out = path.join(t.filesDir, 'out');
    clip = path.join(t.filesDir, 'clip.mp4');
    // 24 s, a keyframe every 2 s exactly (no scene-cut keyframes), audio beside it.
    await exec('ffmpeg', [
      '-hide_banner', '-loglevel', 'error', '-y',
      '-f', 'lavfi', '-i', `testsrc2=size=320x180:rate=${FPS}:duration=24`,
      '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000:duration=24',
      '-c:v', 'libx264', '-preset', 'ultrafast', '-g', String(2 * FPS), '-keyint_min', String(2 * FPS), '-sc_threshold', '0', '-pix_fmt', 'yuv420p',
      '-c:a', 'aac', '-ac', '2', clip,
    ]);
  });
  after(async () => {
    await t.close();
  });

  test('an mp4 with multijob_workflow=yes is cut at keyframes and matches a one-piece encode frame for frame', async () => {
    const format = (name: string) => ({ output: 'mp4', video_codec: 'libx264', bitrate: '400k', destination: `file://${out}/${name}` });
    const split = await t.call('json', { action: 'AddMedia', source: `file://${clip}`, multijob_workflow: 'yes', format: format('split.mp4') });
    const whole = await t.call('json', { action: 'AddMedia', source: `file://${clip}`, format: format('whole.mp4') });
    assert.equal(split.message, 'Added', JSON.stringify(split));
    const done = await untilFinal(t, split.MediaID as string);
    const plain = await untilFinal(t, whole.MediaID as string);
    assert.equal(done.final.status, 'Finished', JSON.stringify(done.final));
    assert.equal(plain.final.status, 'Finished', JSON.stringify(plain.final));

    const status = await t.call('json', { action: 'GetStatus', mediaid: split.MediaID, extended: 'yes', include_task_status: 'yes' });
    const log = taskLog(asList(status.job.format)[0]);
    const said = log.find((m) => /Split into \d+ chunks of ~5 s at keyframes; .*joined without re-encoding/.test(m));
    assert.ok(said, log.join('\n'));
    const starts = log.map((m) => /Encoded chunk \d+ of \d+ \(([\d.]+)–/.exec(m)).filter((m) => m !== null).map((m) => Number(m[1])).sort((a, b) => a - b);
    assert.ok(starts.length >= 4, `chunks: ${starts.join(', ')}`);
    const wholeLog = taskLog(asList((await t.call('json', { action: 'GetStatus', mediaid: whole.MediaID, extended: 'yes', include_task_status: 'yes' })).job.format)[0]);
    assert.ok(!wholeLog.some((m) => m.startsWith('Split into')), 'the media without multijob_workflow is not split');

    const source = await frameTimes(clip);
    const a = await frameTimes(path.join(out, 'split.mp4'));
    const b = await frameTimes(path.join(out, 'whole.mp4'));
    assert.ok(Math.abs(a.pts.length - source.pts.length) <= 1, `split ${a.pts.length} frames, source ${source.pts.length}`);
    assert.ok(Math.abs(a.pts.length - b.pts.length) <= 1, `split ${a.pts.length} frames, one piece ${b.pts.length}`);
    // Timestamps start at 0 and run on one frame at a time across every seam.
    assert.ok(Math.abs(a.pts[0]!) < 0.5 / FPS, `first frame at ${a.pts[0]}`);
    for (let i = 1; i < a.pts.length; i++) assert.ok(Math.abs(a.pts[i]! - a.pts[i - 1]! - 1 / FPS) < 0.002, `gap before frame ${i}: ${a.pts[i - 1]} → ${a.pts[i]}`);
    // Each chunk began with its own keyframe.
    for (const s of starts) assert.ok(a.keys.some((k) => Math.abs(k - s) < 0.5 / FPS), `no keyframe at chunk start ${s}: ${a.keys.join(', ')}\n${log.join('\n')}`);

    const splitFile = path.join(out, 'split.mp4');
    const vDur = await streamDuration(splitFile, 'v');
    assert.ok(Math.abs(vDur - (await streamDuration(path.join(out, 'whole.mp4'), 'v'))) <= 1 / FPS + 0.001, `video ${vDur} s`);
    const aDur = await streamDuration(splitFile, 'a');
    assert.ok(Math.abs(aDur - vDur) < 0.1, `audio ${aDur} s, video ${vDur} s`);

    const q = await psnr(splitFile, clip);
    assert.ok(q.average > 30 && q.min > 22, `PSNR ${JSON.stringify(q)}`);
  });

  test('an MPEG-TS source (its timeline starts at 1.4 s) is cut where its keyframes are: every frame, none shifted', async () => {
    const ts = path.join(t.filesDir, 'clip.ts');
    await exec('ffmpeg', [
      '-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', `testsrc2=size=160x120:rate=${FPS}:duration=16`,
      '-c:v', 'libx264', '-preset', 'ultrafast', '-g', String(2 * FPS), '-keyint_min', String(2 * FPS), '-sc_threshold', '0', '-pix_fmt', 'yuv420p', '-f', 'mpegts', ts,
    ]);
    const source = await frameTimes(ts);
    assert.ok(source.pts[0]! > 1, `the source starts at ${source.pts[0]} s`);
    const added = await t.call('json', { action: 'AddMedia', source: `file://${ts}`, multijob_workflow: 'yes', format: { output: 'mp4', bitrate: '300k', destination: `file://${out}/from-ts.mp4` } });
    const { final } = await untilFinal(t, added.MediaID as string);
    assert.equal(final.status, 'Finished', JSON.stringify(final));
    const status = await t.call('json', { action: 'GetStatus', mediaid: added.MediaID, extended: 'yes', include_task_status: 'yes' });
    const log = taskLog(asList(status.job.format)[0]);
    assert.ok(log.some((m) => /^Split into [2-9] chunks/.test(m)), log.join('\n'));
    const split = await frameTimes(path.join(out, 'from-ts.mp4'));
    assert.equal(split.pts.length, source.pts.length);
    const q = await psnr(path.join(out, 'from-ts.mp4'), ts);
    assert.ok(q.min > 22, `PSNR ${JSON.stringify(q)}`);
  });

  test('a chunk whose FFmpeg fails ends the task in Error naming the chunk', async () => {
    // An ffmpeg that refuses the third chunk and runs everything else for real.
    const wrapper = path.join(t.dataDir, 'ffmpeg-failing-chunk');
    await fs.writeFile(wrapper, '#!/bin/sh\nfor a in "$@"; do case "$a" in *chunk-0002*) echo "chunk-0002: Invalid data found when processing input" >&2; exit 1;; esac; done\nexec ffmpeg "$@"\n', { mode: 0o755 });
    const failing = await startTestServer({ ENCODERY_SPLIT_CHUNK_SECONDS: '5', ENCODERY_FFMPEG: wrapper });
    try {
      await fs.mkdir(failing.filesDir, { recursive: true });
      const src = path.join(failing.filesDir, 'clip.mp4');
      await fs.copyFile(clip, src);
      const added = await failing.call('json', {
        action: 'AddMedia', source: `file://${src}`, multijob_workflow: 'yes',
        format: { output: 'mp4', destination: `file://${failing.filesDir}/out.mp4` },
      });
      const { final } = await untilFinal(failing, added.MediaID as string);
      assert.equal(final.status, 'Error');
      const task = asList(final.format)[0];
      assert.equal(task!.status, 'Error');
      assert.match(String(task!.description), /Encoding chunk 3 of \d+ \([\d.]+–[\d.]+ s, \d+ frames\) failed: FFmpeg exited with code 1/);
      await assert.rejects(fs.stat(`${failing.filesDir}/out.mp4`));
    } finally {
      await failing.close();
    }
  });
});
