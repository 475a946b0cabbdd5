import { test } from 'node:test';
import assert from 'node:assert/strict';
import { open, readdir } from 'node:fs/promises';
import { ffmpeg, near, planFixture, probe, run } from './plan-fixture.ts';

const { src, out, plan, encodeOne: encode } = planFixture('encodery-plan-video-', {
  setup: async ({ src }) => {
    const x264 = ['-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p'];
    await Promise.all([
      ffmpeg('-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=25', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=44100',
        '-t', '2', ...x264, '-c:a', 'aac', '-ac', '6', src('av.mp4')),
      ffmpeg('-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=30', '-t', '2', ...x264, src('silent169.mp4')),
      ffmpeg('-f', 'lavfi', '-i', 'sine=frequency=440', '-t', '2', '-c:a', 'aac', src('audio.m4a')),
      // Left half red, right half blue: shows which way the picture was turned.
      ffmpeg('-f', 'lavfi', '-i', 'color=c=red:size=320x240:rate=25,drawbox=x=160:y=0:w=160:h=240:color=blue:t=fill',
        '-t', '1', ...x264, src('halves.mp4')),
    ]);
    // FFmpeg 5.1 only writes the rotate tag (as a display matrix) when stream copying.
    await ffmpeg('-i', src('halves.mp4'), '-c', 'copy', '-metadata:s:v:0', 'rotate=90', src('rotated.mp4'));
  },
});

/** RGB of the pixel at x,y of the first frame. */
async function pixel(file: string, x: number, y: number): Promise<[number, number, number]> {
  const { stdout } = await run('ffmpeg', ['-v', 'error', '-i', file, '-frames:v', '1', '-vf', `crop=2:2:${x}:${y},format=rgb24`, '-f', 'rawvideo', '-'], {
    encoding: 'buffer',
  });
  return [stdout[0]!, stdout[1]!, stdout[2]!];
}

/** Top-level MP4 box types in file order. */
async function topLevelBoxes(file: string): Promise<string[]> {
  const fh = await open(file, 'r');
  try {
    const types: string[] = [];
    const { size } = await fh.stat();
    const header = Buffer.alloc(16);
    for (let pos = 0; pos < size; ) {
      await fh.read(header, 0, 16, pos);
      let boxSize = header.readUInt32BE(0);
      types.push(header.toString('latin1', 4, 8));
      if (boxSize === 1) boxSize = Number(header.readBigUInt64BE(8));
      if (boxSize < 8) break;
      pos += boxSize;
    }
    return types;
  } finally {
    await fh.close();
  }
}

test('mp4 defaults – H.264 High yuv420p, stereo AAC at the source 44100, faststart, same size and length', async () => {
  const { result, file, plan: p } = await encode({ output: 'mp4' }, [src('av.mp4')], 'default');
  assert.equal(p.passes.length, 1);
  near(p.durationSec, 2, 0.05, 'planned duration');
  assert.equal(result.video?.codec, 'h264');
  assert.equal(result.video?.profile, 'High');
  assert.equal(result.video?.pixFmt, 'yuv420p');
  assert.equal(result.video?.width, 320);
  assert.equal(result.video?.height, 240);
  assert.equal(result.audio[0]?.codec, 'aac');
  assert.equal(result.audio[0]?.channels, 2, 'at most stereo unless asked');
  assert.equal(result.audio[0]?.sampleRate, 44100);
  near(result.durationSec, 2, 0.1, 'duration');
  const boxes = await topLevelBoxes(file);
  assert.ok(boxes.indexOf('moov') < boxes.indexOf('mdat'), `moov before mdat: ${boxes.join(',')}`);
});

test('size – one side 0 keeps the aspect; both sides letterbox with keep_aspect_ratio, stretch without', async () => {
  const half = await encode({ output: 'mp4', size: '0x120' }, [src('av.mp4')], 'size-h');
  assert.deepEqual([half.result.video?.width, half.result.video?.height], [160, 120]);
  const w = await encode({ output: 'mp4', size: '250x0' }, [src('av.mp4')], 'size-w');
  assert.deepEqual([w.result.video?.width, w.result.video?.height], [250, 188]);
  const boxed = await encode({ output: 'mp4', size: '320x180', keep_aspect_ratio: 'yes' }, [src('av.mp4')], 'size-box');
  assert.deepEqual([boxed.result.video?.width, boxed.result.video?.height], [320, 180]);
  const [r, g, b] = await pixel(boxed.file, 0, 90);
  assert.ok(r < 30 && g < 30 && b < 30, `pillarbox is black: ${r},${g},${b}`);
  const stretched = await encode({ output: 'mp4', size: '320x180', keep_aspect_ratio: 'no' }, [src('av.mp4')], 'size-stretch');
  assert.deepEqual([stretched.result.video?.width, stretched.result.video?.height], [320, 180]);
  assert.equal(stretched.result.video?.displayAspectRatio, '16:9');
});

test('audio_codec copy keeps the source audio untouched', async () => {
  const { result } = await encode({ output: 'mp4', size: '0x120', audio_codec: 'copy' }, [src('av.mp4')], 'copy');
  assert.equal(result.audio[0]?.channels, 6);
});

test('webm – VP9 with Opus by default, VP8 with Vorbis for libvpx', async () => {
  const vp9 = await encode({ output: 'webm', size: '0x120' }, [src('av.mp4')], 'vp9');
  assert.match(vp9.result.formatName, /webm/);
  assert.equal(vp9.result.video?.codec, 'vp9');
  assert.equal(vp9.result.audio[0]?.codec, 'opus');
  assert.equal(vp9.result.audio[0]?.sampleRate, 48000);
  near(vp9.result.durationSec, 2, 0.1, 'vp9 duration');
  const vp8 = await encode({ output: 'webm', video_codec: 'libvpx', size: '0x120' }, [src('av.mp4')], 'vp8');
  assert.equal(vp8.result.video?.codec, 'vp8');
  assert.equal(vp8.result.audio[0]?.codec, 'vorbis');
});

test('libx265 – HEVC tagged hvc1 so Apple players accept it', async () => {
  const { result } = await encode({ output: 'mp4', video_codec: 'libx265', size: '0x120', turbo: 'yes' }, [src('av.mp4')], 'hevc');
  assert.equal(result.video?.codec, 'hevc');
  const stream = result.raw.streams?.find((s) => s['codec_type'] === 'video');
  assert.equal(stream?.['codec_tag_string'], 'hvc1');
});

test('profile, level, frame rate and audio settings are honoured', async () => {
  const { result } = await encode(
    { output: 'mp4', profile: 'baseline', level: '30', framerate: '15', audio_channels_number: '1', audio_sample_rate: '22050', audio_bitrate: '64k' },
    [src('av.mp4')],
    'settings',
  );
  assert.match(result.video?.profile ?? '', /Baseline/);
  assert.equal(result.raw.streams?.find((s) => s['codec_type'] === 'video')?.['level'], 30);
  assert.equal(result.video?.fps, 15);
  assert.equal(result.audio[0]?.channels, 1);
  assert.equal(result.audio[0]?.sampleRate, 22050);
});

test('start, duration and finish trim the output; the plan expects the trimmed length', async () => {
  const a = await encode({ output: 'mp4', start: '0.5', duration: '1', size: '0x120' }, [src('av.mp4')], 'trim-a');
  assert.equal(a.plan.durationSec, 1);
  near(a.result.durationSec, 1, 0.1, 'start+duration');
  const b = await encode({ output: 'mp4', start: '00:00:00:12', finish: '1.5', size: '0x120' }, [src('av.mp4')], 'trim-b');
  near(b.plan.durationSec, 1.02, 0.001, 'timecode start at 25 fps');
  near(b.result.durationSec, 1.02, 0.1, 'start+finish');
  const c = await encode({ output: 'mp4', start: '1.5', size: '0x120' }, [src('av.mp4')], 'trim-c');
  near(c.result.durationSec, 0.5, 0.1, 'start to the end');
});

test('several sources join in order, normalised to the first one, with silence for a source without audio', async () => {
  const { result, plan: p } = await encode({ output: 'mp4' }, [src('av.mp4'), src('silent169.mp4')], 'joined');
  near(p.durationSec, 4, 0.05, 'planned');
  assert.deepEqual([result.video?.width, result.video?.height], [320, 240]);
  assert.equal(result.video?.fps, 25);
  near(result.durationSec, 4, 0.15, 'joined duration');
  near(result.audio[0]?.durationSec ?? 0, 4, 0.15, 'audio runs through the silent part');
  // The 16:9 second part is letterboxed into 4:3: the top rows are black at 3 s.
  const { stdout } = await run('ffmpeg', ['-v', 'error', '-ss', '3', '-i', result.raw.format?.['filename'] as string, '-frames:v', '1',
    '-vf', 'crop=2:2:160:4,format=rgb24', '-f', 'rawvideo', '-'], { encoding: 'buffer' });
  assert.ok(stdout[0]! < 30 && stdout[1]! < 30 && stdout[2]! < 30, 'letterbox bar');
});

test('sources that cannot make the output are refused with a readable reason', async () => {
  const audio = await probe(src('audio.m4a'));
  const video = await probe(src('av.mp4'));
  assert.throws(() => plan({ output: 'mp4' }, [src('audio.m4a')], [audio], 'x'),
    { message: 'The source has no video stream, so an mp4 cannot be made from it. Use output mp3 or m4a for audio-only sources.' });
  assert.throws(() => plan({ output: 'webm' }, [src('av.mp4'), src('audio.m4a')], [video, audio], 'x'), /^Error: Source 2 of 2 has no video stream/);
  assert.throws(() => plan({ output: 'mp4', start: '5' }, [src('av.mp4')], [video], 'x'), /start \(5 s\) is at or after the end of the source \(2 s\)/);
  assert.throws(() => plan({ output: 'mp4', crop_left: '200', crop_right: '200' }, [src('av.mp4')], [video], 'x'), /removes the whole 320x240 picture/);
  assert.throws(() => plan({ output: 'webm', audio_codec: 'copy' }, [src('av.mp4')], [video], 'x'), /cannot put the source's aac audio into webm/);
});

test('crop cuts the picture before scaling', async () => {
  const { result } = await encode({ output: 'mp4', crop_left: '40', crop_right: '40', crop_top: '20', crop_bottom: '20' }, [src('av.mp4')], 'crop');
  assert.deepEqual([result.video?.width, result.video?.height], [240, 200]);
});

test('rotate – def follows the source flag, 0 ignores it, 90 turns the stored picture clockwise; no flag is left', async () => {
  const isRed = ([r, , b]: [number, number, number]): boolean => r > 180 && b < 80;
  const isBlue = ([r, , b]: [number, number, number]): boolean => b > 180 && r < 80;

  const def = await encode({ output: 'mp4' }, [src('rotated.mp4')], 'rot-def');
  assert.deepEqual([def.result.video?.width, def.result.video?.height], [240, 320]);
  assert.equal(def.result.video?.rotation, 0);
  // The flag turns the picture counter-clockwise: the right (blue) half ends on top.
  assert.ok(isBlue(await pixel(def.file, 120, 10)) && isRed(await pixel(def.file, 120, 300)));

  const none = await encode({ output: 'mp4', rotate: '0' }, [src('rotated.mp4')], 'rot-0');
  assert.deepEqual([none.result.video?.width, none.result.video?.height], [320, 240]);
  assert.equal(none.result.video?.rotation, 0);
  assert.ok(isRed(await pixel(none.file, 10, 120)) && isBlue(await pixel(none.file, 300, 120)));

  const cw = await encode({ output: 'mp4', rotate: '90' }, [src('rotated.mp4')], 'rot-90');
  assert.deepEqual([cw.result.video?.width, cw.result.video?.height], [240, 320]);
  assert.equal(cw.result.video?.rotation, 0);
  assert.ok(isRed(await pixel(cw.file, 120, 10)) && isBlue(await pixel(cw.file, 120, 300)));
});

test('two_pass with a bitrate runs two FFmpeg passes, keeping the pass log in the output folder', async () => {
  const { plan: p, result } = await encode({ output: 'mp4', two_pass: 'yes', bitrate: '200k', size: '0x120' }, [src('av.mp4')], 'twopass');
  assert.equal(p.passes.length, 2);
  assert.equal(p.passes[0]?.at(-1), '/dev/null');
  assert.equal(result.video?.codec, 'h264');
  const names = await readdir(out());
  assert.ok(names.some((n) => n.startsWith('twopass.passlog')), `pass log in ${names.join(', ')}`);
  const crf = plan({ output: 'mp4', two_pass: 'yes' }, [src('av.mp4')], [await probe(src('av.mp4'))], 'x');
  assert.equal(crf.passes.length, 1, 'x264 has no two-pass constant-quality mode');
});
