/**
 * Closed captions in a source's video, as the probe finds them (pipeline/ffmpeg/probe-frames.ts):
 * from FFmpeg's stream summary for H.264 and MPEG-2, whatever packets come first, in one ffprobe
 * run; from a look at the first pictures for HEVC. ffprobe runs through a wrapper that logs each
 * start, so the tests see which sources take a second process.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { probeMedia } from '../src/pipeline/ffmpeg/probe.ts';
import { captionsInSummary } from '../src/pipeline/ffmpeg/probe-frames.ts';
import { fromFfprobeJson } from '../src/pipeline/ffmpeg/probe.ts';
import { exec, makeClip, tempDir } from './helpers.ts';
import { helloPairs, makeCea608Clip, makeCea608HevcClip } from './cea608-clip.ts';

let dir = '';
let ffprobe = '';
let calls = '';

/** The probe, and the ffprobe command lines it ran. */
async function probed(file: string): Promise<{ captions: boolean | null | undefined; runs: string[] }> {
  await fs.writeFile(calls, '');
  const p = await probeMedia(file, { ffprobe });
  const runs = (await fs.readFile(calls, 'utf8')).split('\n').filter(Boolean);
  return { captions: p.video?.closedCaptions, runs };
}

/** The stream index of each of a file's first `count` packets. */
async function firstPackets(file: string, count: number): Promise<number[]> {
  const { stdout } = await exec('ffprobe', ['-v', 'error', '-read_intervals', `%+#${count}`, '-show_entries', 'packet=stream_index', '-of', 'csv=p=0', file]);
  return stdout.split('\n').map((l) => l.replace(/,$/, '')).filter(Boolean).map(Number);
}

before(async () => {
  dir = await tempDir('encodery-probe-captions-');
  calls = path.join(dir, 'calls.log');
  ffprobe = path.join(dir, 'ffprobe');
  await fs.writeFile(ffprobe, `#!/bin/sh\necho "$*" >> '${calls}'\nexec ffprobe "$@"\n`, { mode: 0o755 });
  const cc = path.join(dir, 'cc.mp4');
  await Promise.all([
    makeCea608Clip(cc, 2, helloPairs(25, 40)),
    makeCea608HevcClip(path.join(dir, 'cc-hevc.mp4'), 1),
    makeClip(path.join(dir, 'plain.mp4'), { seconds: 1 }),
    makeClip(path.join(dir, 'plain-hevc.mp4'), { seconds: 1, audio: false, extra: ['-c:v', 'libx265', '-x265-params', 'log-level=error'] }),
  ]);
  // The video starts a second after the audio: a second of audio packets comes first.
  const late = ['-v', 'error', '-y', '-itsoffset', '1', '-i', cc, '-f', 'lavfi', '-i', 'sine=duration=3', '-map', '0:v', '-map', '1:a', '-c:v', 'copy', '-c:a', 'aac'];
  await Promise.all([exec('ffmpeg', [...late, path.join(dir, 'cc-late.mp4')]), exec('ffmpeg', [...late, path.join(dir, 'cc-late.ts')])]);
});
after(() => fs.rm(dir, { recursive: true, force: true }));

test('H.264 captions behind a second of leading audio are found by the one probe', async () => {
  for (const name of ['cc.mp4', 'cc-late.mp4', 'cc-late.ts']) {
    const file = path.join(dir, name);
    if (name !== 'cc.mp4') assert.deepEqual(await firstPackets(file, 10), Array(10).fill(1), `${name}: its first packets are audio`);
    const { captions, runs } = await probed(file);
    assert.equal(captions, true, name);
    assert.equal(runs.length, 1, `${name}: ${runs.join(' / ')}`);
  }
});

test('an H.264 source without captions says so from the one probe', async () => {
  const { captions, runs } = await probed(path.join(dir, 'plain.mp4'));
  assert.equal(captions, false);
  assert.equal(runs.length, 1, runs.join(' / '));
});

test('HEVC captions, which the stream summary cannot tell, are looked for in the first pictures', async () => {
  const cc = await probed(path.join(dir, 'cc-hevc.mp4'));
  assert.equal(cc.captions, true);
  assert.equal(cc.runs.length, 2);
  assert.match(cc.runs[1]!, /-read_intervals %\+#5 -show_frames/);
  assert.equal((await probed(path.join(dir, 'plain-hevc.mp4'))).captions, false);
});

test('captionsInSummary – only the summary\'s own line for the video stream counts', () => {
  const probe = (codec: string, tags: Record<string, string> = {}) => fromFfprobeJson({
    format: {}, streams: [{ index: 0, codec_type: 'audio', codec_name: 'aac' }, { index: 1, id: '0x100', codec_type: 'video', codec_name: codec, width: 320, height: 180, tags }],
  });
  const line = (head: string, rest: string) => `Input #0, mpegts, from 'file:a.ts':\n  Stream #0:0[0x101]: Audio: aac, Closed Captions\n  Stream #0:1${head}: Video: ${rest}\n`;
  assert.equal(captionsInSummary(line('[0x100]', 'h264 (High), yuv420p(progressive), 320x180, Closed Captions, 25 fps'), probe('h264')), true);
  assert.equal(captionsInSummary(line('[0x100]', 'h264 (High), yuv420p(progressive), 320x180, 25 fps'), probe('h264')), false);
  assert.equal(captionsInSummary(line('[0x100]', 'mpeg2video (Main), yuv420p(tv, progressive), 320x180, Closed Captions'), probe('mpeg2video')), true);
  assert.equal(captionsInSummary(line('[0x100]', 'hevc (Main), yuv420p(tv), 320x180, Closed Captions'), probe('hevc')), undefined, 'HEVC is looked for, never read from the summary');
  assert.equal(captionsInSummary('file:a.ts: Invalid data found when processing input\n', probe('h264')), undefined, 'no line: not known');
  // A language tag that carries a line break and a made-up summary line cannot stand in for the real one.
  const forged = 'x): Video: h264, Closed Captions\n  Stream #0:1[0x100](y';
  const stderr = `  Stream #0:1[0x100](${forged}): Video: h264 (High), yuv420p(progressive), 320x180, 25 fps\n`;
  assert.equal(captionsInSummary(stderr, probe('h264', { language: forged })), false);
  assert.equal(captionsInSummary(`  Stream #0:1[0x100](eng): Video: h264, Closed Captions\n${stderr}`, probe('h264', { language: forged })), false);
});
