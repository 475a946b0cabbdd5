/**
 * Instant mode's two decisions on real files and real argument lists: whether a source reads
 * front to back (pipeline/ffmpeg/streamable.ts), and how an FFmpeg process reads it through a
 * pipe (pipedSource in pipeline/ffmpeg/inputs.ts), checked by running FFmpeg on the result.
 */
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { frontToBack } from '../src/pipeline/ffmpeg/streamable.ts';
import { inputArgs, pipedSource } from '../src/pipeline/ffmpeg/inputs.ts';
import { ffprobe, makeClip, STORE_INDEPENDENT, tempDir } from './helpers.ts';

let dir: string;
const files: Record<string, Buffer> = {};

before(async () => {
  dir = await tempDir();
  const make = async (name: string, extra: string[]) => (files[name] = await fs.readFile(await makeClip(path.join(dir, name), { seconds: 2, size: '160x120', extra })));
  await make('fast.mp4', ['-movflags', '+faststart']);
  await make('late.mp4', []);
  await make('clip.mkv', []);
  await make('clip.ts', []);
});
after(() => fs.rm(dir, { recursive: true, force: true }));

const reader = (data: Buffer) => async (position: number, length: number) => data.subarray(position, position + length);

test('front to back: a faststart MP4 up to its moov, Matroska with a duration; an MP4 indexed at its end and MPEG-TS are not', { skip: STORE_INDEPENDENT }, async () => {
  const fast = await frontToBack(reader(files['fast.mp4']!));
  assert.ok(fast.ok, JSON.stringify(fast));
  // The head it names ends where the moov box does.
  const data = files['fast.mp4']!;
  const moov = data.indexOf('moov') - 4;
  assert.equal(fast.headBytes, moov + data.readUInt32BE(moov));
  assert.deepEqual(await frontToBack(reader(files['late.mp4']!)), { ok: false, why: 'its index (moov) comes after the media data: not a faststart MP4' });
  assert.ok((await frontToBack(reader(files['clip.mkv']!))).ok);
  assert.equal((await frontToBack(reader(files['clip.ts']!))).ok, false);
  assert.equal((await frontToBack(reader(Buffer.from('hello')))).ok, false);
  // A file that ends before its moov box begins is not read as it grows.
  assert.deepEqual(await frontToBack(reader(data.subarray(0, moov + 4))), { ok: false, why: 'the MP4 ends before its index (moov)' });
});

test('a piped source: the allow-list names only the pipe, and FFmpeg encodes what it reads from standard input', { skip: STORE_INDEPENDENT }, async () => {
  const source = path.join(dir, 'fast.mp4');
  const out = path.join(dir, 'piped.mp4');
  const args = [...inputArgs({ path: source }), '-c:v', 'libx264', '-preset', 'ultrafast', '-c:a', 'aac', '-y', out];
  const piped = pipedSource(args, source);
  assert.ok('args' in piped, JSON.stringify(piped));
  assert.equal(piped.args[piped.args.indexOf('-protocol_whitelist') + 1], 'pipe');
  assert.equal(piped.args[piped.args.indexOf('-i') + 1], 'pipe:0');
  assert.ok(!piped.args.some((a) => a.includes(source)));
  const ffmpeg = spawn('ffmpeg', ['-hide_banner', '-loglevel', 'error', ...piped.args], { stdio: ['pipe', 'ignore', 'inherit'] });
  ffmpeg.stdin.end(files['fast.mp4']);
  assert.equal(await new Promise((r) => ffmpeg.on('close', r)), 0);
  assert.ok(Math.abs(Number((await ffprobe(out)).format.duration) - 2) < 0.2);

  assert.deepEqual(pipedSource([...inputArgs({ path: source, options: ['-ss', '1'] }), out], source), { why: 'the FFmpeg process seeks in the source' });
  assert.deepEqual(pipedSource([...inputArgs({ path: source }), ...inputArgs({ path: source }), out], source), { why: 'the FFmpeg process opens the source more than once' });
  // Another input seeking is no reason: only the source's own options count.
  const logo = path.join(dir, 'logo.png');
  assert.ok('args' in pipedSource([...inputArgs({ path: logo, options: ['-ss', '1'] }), ...inputArgs({ path: source }), out], source));
});
