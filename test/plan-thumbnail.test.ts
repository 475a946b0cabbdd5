import { test } from 'node:test';
import assert from 'node:assert/strict';
import { stat } from 'node:fs/promises';
import { ffmpeg, near, planFixture, probe, run } from './plan-fixture.ts';

const x264 = ['-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p'];
const { src, out, plan, encodeAll: thumbnails } = planFixture('encodery-plan-thumb-', {
  defaults: { output: 'thumbnail' },
  setup: async ({ src }) => {
    const solid = (c: string): string => `color=c=${c}:size=320x240:rate=25:duration=1`;
    await Promise.all([
      // One second each of red, lime and blue: the colour tells which moment a thumbnail shows.
      ffmpeg('-filter_complex', `${solid('red')}[r];${solid('lime')}[g];${solid('blue')}[b];[r][g][b]concat=n=3:v=1:a=0`, ...x264, src('colours.mp4')),
      ffmpeg('-f', 'lavfi', '-i', solid('yellow'), ...x264, src('yellow.mp4')),
      ffmpeg('-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=25', '-t', '1', ...x264, src('pattern.mp4')),
      ffmpeg('-f', 'lavfi', '-i', 'sine=frequency=440', '-t', '1', '-c:a', 'aac', src('audio.m4a')),
    ]);
    await ffmpeg('-i', src('yellow.mp4'), '-c', 'copy', '-metadata:s:v:0', 'rotate=90', src('rotated.mp4'));
  },
});

async function size(file: string): Promise<[number, number]> {
  const p = await probe(file);
  assert.equal(p.video?.codec, 'mjpeg');
  return [p.video?.width ?? 0, p.video?.height ?? 0];
}

async function colourAt(file: string, x: number, y: number): Promise<string> {
  const { stdout } = await run('ffmpeg', ['-v', 'error', '-i', file, '-vf', `crop=2:2:${x}:${y},format=rgb24`, '-f', 'rawvideo', '-'], { encoding: 'buffer' });
  const [r, g, b] = [stdout[0]!, stdout[1]!, stdout[2]!];
  const hi = (v: number): boolean => v > 180;
  const lo = (v: number): boolean => v < 80;
  if (hi(r) && hi(g) && lo(b)) return 'yellow';
  if (hi(r) && lo(g) && lo(b)) return 'red';
  if (lo(r) && hi(g) && lo(b)) return 'lime';
  if (lo(r) && lo(g) && hi(b)) return 'blue';
  if (r < 30 && g < 30 && b < 30) return 'black';
  return `rgb(${r},${g},${b})`;
}

test('one thumbnail at seconds, a timestamp or a percentage shows that moment', async () => {
  const seconds = await thumbnails({ time: '0.4' }, [src('colours.mp4')], 'at-seconds');
  assert.deepEqual(seconds.files, [out('at-seconds.jpg')]);
  assert.deepEqual(await size(seconds.files[0]!), [320, 240]);
  assert.equal(await colourAt(seconds.files[0]!, 160, 120), 'red');
  const clock = await thumbnails({ time: '00:00:02.5' }, [src('colours.mp4')], 'at-clock');
  assert.equal(await colourAt(clock.files[0]!, 160, 120), 'blue');
  const pct = await thumbnails({ time: '50%', width: '160' }, [src('colours.mp4')], 'at-percent');
  assert.deepEqual(await size(pct.files[0]!), [160, 120]);
  assert.equal(await colourAt(pct.files[0]!, 80, 60), 'lime');
  near(pct.plan.durationSec, 3, 0.05);
});

test('the default time (5 s) on a shorter source is clamped inside it', async () => {
  const { files } = await thumbnails({}, [src('colours.mp4')], 'default');
  assert.equal(files.length, 1);
  assert.equal(await colourAt(files[0]!, 160, 120), 'blue');
});

test('both width and height with another aspect letterbox with black bars; height alone keeps the aspect', async () => {
  const boxed = await thumbnails({ time: '0.5', width: '320', height: '320' }, [src('colours.mp4')], 'boxed');
  assert.deepEqual(await size(boxed.files[0]!), [320, 320]);
  assert.equal(await colourAt(boxed.files[0]!, 160, 4), 'black');
  assert.equal(await colourAt(boxed.files[0]!, 160, 160), 'red');
  const tall = await thumbnails({ time: '0.5', height: '60' }, [src('colours.mp4')], 'tall');
  assert.deepEqual(await size(tall.files[0]!), [80, 60]);
});

test('N! takes one thumbnail every N seconds, numbered from _0001', async () => {
  const { files } = await thumbnails({ time: '1!', width: '160' }, [src('colours.mp4')], 'every');
  assert.deepEqual(files, ['every_0001.jpg', 'every_0002.jpg', 'every_0003.jpg'].map((n) => out(n)));
  assert.deepEqual(await Promise.all(files.map((f) => colourAt(f, 80, 60))), ['red', 'lime', 'blue']);
  assert.deepEqual(await size(files[2]!), [160, 120]);
  const bang = await thumbnails({ time: '!2' }, [src('colours.mp4'), src('yellow.mp4')], 'every-joined');
  assert.equal(bang.files.length, 2, '0 s and 2 s of the 4 s joined sources');
  assert.deepEqual(await Promise.all(bang.files.map((f) => colourAt(f, 160, 120))), ['red', 'blue']);
});

test('a time past the first source is taken from the next one', async () => {
  const { files } = await thumbnails({ time: '3.5' }, [src('colours.mp4'), src('yellow.mp4')], 'second');
  assert.equal(await colourAt(files[0]!, 160, 120), 'yellow');
});

test('a rotated source gives an upright thumbnail', async () => {
  const { files } = await thumbnails({ time: '0.5' }, [src('rotated.mp4')], 'upright');
  assert.deepEqual(await size(files[0]!), [240, 320]);
});

test('quality trades size for fidelity', async () => {
  const low = await thumbnails({ time: '0.5', quality: '5' }, [src('pattern.mp4')], 'q-low');
  const high = await thumbnails({ time: '0.5', quality: '100' }, [src('pattern.mp4')], 'q-high');
  assert.ok((await stat(low.files[0]!)).size < (await stat(high.files[0]!)).size);
});

test('a source without video has no thumbnail', async () => {
  const audio = await probe(src('audio.m4a'));
  assert.throws(() => plan({}, [src('audio.m4a')], [audio], 'x'), { message: 'The source has no video stream, so no thumbnail can be taken from it.' });
});
