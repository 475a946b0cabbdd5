import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { fromFfprobeJson, probeMedia, UnreadableSourceError } from '../src/pipeline/ffmpeg/probe.ts';

const run = promisify(execFile);
const ffmpeg = (...args: string[]) => run('ffmpeg', ['-v', 'error', '-y', ...args]);
const opts = { ffprobe: 'ffprobe' };
let dir = '';

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'encodery-probe-'));
  const lavfiAv = ['-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=25', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=44100', '-t', '2'];
  await Promise.all([
    ffmpeg(...lavfiAv, '-c:v', 'libx264', '-preset', 'ultrafast', '-c:a', 'aac', '-ac', '2', join(dir, 'av.mp4')),
    ffmpeg('-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000', '-t', '2', '-metadata:s:a', 'language=fra', '-c:a', 'aac', join(dir, 'audio.m4a')),
    ffmpeg('-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=30000/1001', '-t', '2', '-c:v', 'libx264', '-preset', 'ultrafast', join(dir, 'silent.mp4')),
    writeFile(join(dir, 'garbage.mp4'), Buffer.from('this is not a video at all, just text pretending to be one\n'.repeat(50))),
  ]);
  // FFmpeg 5.1 writes the rotate tag as a display matrix only when stream copying.
  await ffmpeg('-i', join(dir, 'silent.mp4'), '-c', 'copy', '-metadata:s:v:0', 'rotate=90', join(dir, 'rotated.mp4'));
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

test('probeMedia – video with audio: sizes, rates, codecs, durations', async () => {
  const p = await probeMedia(join(dir, 'av.mp4'), opts);
  assert.match(p.formatName, /mp4/);
  assert.ok(Math.abs(p.durationSec - 2) < 0.1, `duration ${p.durationSec}`);
  assert.ok(p.bitrate !== null && p.bitrate > 0);
  assert.ok(p.sizeBytes > 1000);
  assert.ok(p.video);
  assert.equal(p.video.codec, 'h264');
  assert.equal(p.video.width, 320);
  assert.equal(p.video.height, 240);
  assert.equal(p.video.fps, 25);
  assert.equal(p.video.pixelAspectRatio, '1:1');
  assert.equal(p.video.displayAspectRatio, '4:3');
  assert.equal(p.video.rotation, 0);
  assert.equal(p.video.pixFmt, 'yuv420p');
  assert.equal(p.video.fieldOrder, 'progressive');
  assert.equal(p.audio.length, 1);
  assert.equal(p.audio[0]?.codec, 'aac');
  assert.equal(p.audio[0]?.sampleRate, 44100);
  assert.equal(p.audio[0]?.channels, 2);
  assert.equal(p.audio[0]?.language, null);
  assert.ok(Array.isArray(p.raw.streams));
});

test('probeMedia – a rotation flag is reported clockwise', async () => {
  const p = await probeMedia(join(dir, 'rotated.mp4'), opts);
  // rotate=90 written by FFmpeg 5.1 ends up as a display matrix turning the picture a quarter
  // turn counter-clockwise, which players show as 270° clockwise.
  assert.equal(p.video?.rotation, 270);
  assert.equal(p.video?.width, 320);
  assert.ok(Math.abs((p.video?.fps ?? 0) - 29.97) < 0.01);
});

test('probeMedia – audio-only and silent sources', async () => {
  const a = await probeMedia(join(dir, 'audio.m4a'), opts);
  assert.equal(a.video, null);
  assert.equal(a.audio[0]?.sampleRate, 48000);
  assert.equal(a.audio[0]?.language, 'fra');
  const s = await probeMedia(join(dir, 'silent.mp4'), opts);
  assert.deepEqual(s.audio, []);
  assert.ok(s.video);
});

test('probeMedia – garbage is an UnreadableSourceError a person can act on', async () => {
  await assert.rejects(probeMedia(join(dir, 'garbage.mp4'), opts), (err: unknown) => {
    assert.ok(err instanceof UnreadableSourceError);
    assert.equal(
      err.message,
      'The source could not be read as a media file (ffprobe: Invalid data found when processing input). Check that the URL points to a video or audio file and that it is not truncated.',
    );
    return true;
  });
  await assert.rejects(probeMedia(join(dir, 'missing.mp4'), opts), /No such file or directory/);
});

test('probeMedia – a missing ffprobe is not blamed on the source', async () => {
  await assert.rejects(probeMedia(join(dir, 'av.mp4'), { ffprobe: '/nonexistent/ffprobe' }), (err: unknown) => {
    assert.ok(err instanceof Error && !(err instanceof UnreadableSourceError));
    assert.match(err.message, /ffprobe could not be started/);
    return true;
  });
});

test('probeMedia – an aborted signal rejects with its reason', async () => {
  const reason = new Error('stop now');
  await assert.rejects(probeMedia(join(dir, 'av.mp4'), { ...opts, signal: AbortSignal.abort(reason) }), reason);
});

test('fromFfprobeJson – fallbacks: r_frame_rate, computed aspect, rotate tag, cover art, stream-less file', () => {
  const p = fromFfprobeJson({
    format: { format_name: 'mov', duration: '10.5', size: '1234' },
    streams: [
      { codec_type: 'video', codec_name: 'mjpeg', width: 600, height: 600, disposition: { attached_pic: 1 } },
      {
        codec_type: 'video', codec_name: 'mpeg2video', width: 720, height: 480, avg_frame_rate: '0/0', r_frame_rate: '30000/1001',
        sample_aspect_ratio: '32:27', tags: { rotate: '-90' },
      },
    ],
  });
  assert.equal(p.video?.codec, 'mpeg2video');
  assert.ok(Math.abs((p.video?.fps ?? 0) - 29.97) < 0.01);
  assert.equal(p.video?.pixelAspectRatio, '32:27');
  assert.equal(p.video?.displayAspectRatio, '16:9');
  assert.equal(p.video?.rotation, 270);
  assert.equal(p.bitrate, null);
  assert.equal(p.sizeBytes, 1234);
  const mkv = fromFfprobeJson({ format: {}, streams: [{ codec_type: 'audio', codec_name: 'opus', tags: { DURATION: '00:00:02.500000000' } }] });
  assert.equal(mkv.audio[0]?.durationSec, 2.5);
  assert.equal(mkv.durationSec, 2.5);
});
