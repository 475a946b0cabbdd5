import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { mp4HeaderDuration } from '../src/pipeline/ffmpeg/mp4-duration.ts';
import { durationOf } from '../src/pipeline/quality/report.ts';

const run = promisify(execFile);
const ffmpeg = (...args: string[]) => run('ffmpeg', ['-v', 'error', '-y', ...args]);
let dir = '';

/** What ffprobe reports as the format's duration: the figure the header reader must equal. */
async function ffprobeDuration(file: string): Promise<number> {
  const { stdout } = await run('ffprobe', ['-v', 'error', '-print_format', 'json', '-show_format', file]);
  return Number((JSON.parse(stdout) as { format: { duration: string } }).format.duration);
}

const av = ['-f', 'lavfi', '-i', 'testsrc2=size=320x180:rate=30', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000'];
const x264 = ['-c:v', 'libx264', '-preset', 'ultrafast'];

// Files FFmpeg writes as Encodery's outputs do, with durations that are not whole frames of both streams.
const HEADER_CASES: Record<string, string[]> = {
  'faststart.mp4': [...av, '-t', '3.3', ...x264, '-c:a', 'aac', '-movflags', '+faststart'],
  'moov-last.mp4': [...av, '-t', '2.71', ...x264, '-c:a', 'aac'],
  'audio.m4a': ['-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=44100', '-t', '1.9', '-c:a', 'aac'],
  'video-24fps.mov': ['-f', 'lavfi', '-i', 'testsrc2=size=320x180:rate=24', '-t', '2.05', ...x264],
  'mp3-audio.mp4': [...av, '-t', '2.5', ...x264, '-c:a', 'libmp3lame'],
  'trimmed.mp4': ['-f', 'lavfi', '-i', 'testsrc2=size=320x180:rate=25:duration=6', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000:duration=6', '-ss', '1.3', '-t', '3', ...x264, '-c:a', 'aac', '-movflags', '+faststart'],
};

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'encodery-mp4-duration-'));
  await Promise.all([
    ...Object.entries(HEADER_CASES).map(([name, args]) => ffmpeg(...args, join(dir, name))),
    ffmpeg(...av, '-t', '2', ...x264, '-c:a', 'aac', '-movflags', '+frag_keyframe+empty_moov', join(dir, 'fragmented.mp4')),
    ffmpeg(...av, '-t', '2', '-c:v', 'libvpx', '-deadline', 'realtime', '-c:a', 'libopus', join(dir, 'video.webm')),
    ffmpeg(...av, '-t', '2', ...x264, '-c:a', 'aac', join(dir, 'video.ts')),
  ]);
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

test('mp4HeaderDuration – the duration ffprobe reports, for every MP4/MOV/M4A kind Encodery writes', async () => {
  for (const name of Object.keys(HEADER_CASES)) {
    const file = join(dir, name);
    const stated = await mp4HeaderDuration(file);
    assert.notEqual(stated, null, `${name}: no duration read`);
    assert.equal(stated, await ffprobeDuration(file), `${name}: header against ffprobe`);
  }
});

test('mp4HeaderDuration – null (ask ffprobe) for fragmented MP4, other containers, and cut or forged files', async () => {
  assert.equal(await mp4HeaderDuration(join(dir, 'fragmented.mp4')), null, 'fragmented: mvhd does not count the fragments');
  assert.equal(await mp4HeaderDuration(join(dir, 'video.webm')), null);
  assert.equal(await mp4HeaderDuration(join(dir, 'video.ts')), null);
  const whole = await readFile(join(dir, 'moov-last.mp4'));
  // Cut before the moov at the end: nothing to read, no throw.
  await writeFile(join(dir, 'cut.mp4'), whole.subarray(0, Math.floor(whole.length / 2)));
  assert.equal(await mp4HeaderDuration(join(dir, 'cut.mp4')), null);
  // A box claiming to reach past the end of the file, and one claiming to be 3 bytes long.
  const forged = Buffer.from(whole);
  forged.writeUInt32BE(0x7fffffff, 0);
  await writeFile(join(dir, 'forged.mp4'), forged);
  assert.equal(await mp4HeaderDuration(join(dir, 'forged.mp4')), null);
  forged.writeUInt32BE(3, 0);
  await writeFile(join(dir, 'tiny-box.mp4'), forged);
  assert.equal(await mp4HeaderDuration(join(dir, 'tiny-box.mp4')), null);
  await writeFile(join(dir, 'empty.mp4'), Buffer.alloc(0));
  assert.equal(await mp4HeaderDuration(join(dir, 'empty.mp4')), null);
});

test('mp4HeaderDuration – an unset mvhd duration is not taken for one', async () => {
  const file = join(dir, 'unset.mp4');
  const bytes = await readFile(join(dir, 'faststart.mp4'));
  const at = bytes.indexOf('mvhd', 0, 'latin1');
  assert.ok(at > 0);
  assert.equal(bytes[at + 4], 0, 'FFmpeg writes a version 0 mvhd for a short file');
  bytes.writeUInt32BE(0, at + 4 + 16); // version/flags 4, creation 4, modification 4, timescale 4, then the duration
  await writeFile(file, bytes);
  assert.equal(await mp4HeaderDuration(file), null);
});

test('durationOf – an MP4 output says its figure comes from the header; any other output is measured by ffprobe', async () => {
  const mp4 = await durationOf(join(dir, 'faststart.mp4'), 3, { ffprobe: 'ffprobe' });
  assert.equal(mp4.value, Math.round((await ffprobeDuration(join(dir, 'faststart.mp4')) - 3) * 1000) / 1000);
  assert.match(mp4.method, /MP4 header \(mvhd\)/);
  const webm = await durationOf(join(dir, 'video.webm'), 2, { ffprobe: 'ffprobe' });
  assert.ok(webm.value !== null && Math.abs(webm.value) < 0.1, `webm difference ${webm.value}`);
  assert.match(webm.method, /^ffprobe duration/);
  const fragmented = await durationOf(join(dir, 'fragmented.mp4'), 2, { ffprobe: 'ffprobe' });
  assert.match(fragmented.method, /^ffprobe duration/);
});
