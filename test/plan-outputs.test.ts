/** The audio containers (ogg, wav, flac), the video containers (mov, mkv, mpegts) and AV1, checked on the files they write. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { parseFormat } from '../src/domain/format.ts';
import type { MediaProbe } from '../src/pipeline/ffmpeg/probe.ts';
import { ffmpeg, near, planFixture, probe, run } from './plan-fixture.ts';

let avProbe: MediaProbe;

const { src, plan, encodeOne } = planFixture('encodery-plan-outputs-', {
  setup: async ({ src }) => {
    await ffmpeg('-f', 'lavfi', '-i', 'testsrc2=size=160x120:rate=25', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=44100',
      '-t', '2', '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-ac', '2', src('av.mp4'));
    avProbe = await probe(src('av.mp4'));
  },
});

/** The codec tag of the first video stream as ffprobe reports it (`hvc1`, `hev1`, `[0][0][0][0]`…). */
async function videoTag(file: string): Promise<string> {
  const { stdout } = await run('ffprobe', ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'stream=codec_tag_string', '-of', 'csv=p=0', file]);
  return stdout.trim();
}

test('ogg – Vorbis by default; libopus gives Opus in Ogg at 48000', async () => {
  const vorbis = await encodeOne({ output: 'ogg', audio_sample_rate: '22050', audio_channels_number: '1' }, [src('av.mp4')], 'v', 'v.ogg');
  assert.equal(vorbis.result.formatName, 'ogg');
  assert.equal(vorbis.result.video, null);
  assert.equal(vorbis.result.audio[0]?.codec, 'vorbis');
  assert.equal(vorbis.result.audio[0]?.sampleRate, 22050);
  assert.equal(vorbis.result.audio[0]?.channels, 1);
  near(vorbis.result.durationSec, 2, 0.1, 'duration');
  const opus = await encodeOne({ output: 'ogg', audio_codec: 'libopus', audio_bitrate: '64k', duration: '1' }, [src('av.mp4')], 'o', 'o.ogg');
  assert.equal(opus.result.formatName, 'ogg');
  assert.equal(opus.result.audio[0]?.codec, 'opus');
  assert.equal(opus.result.audio[0]?.channels, 2);
  near(opus.result.durationSec, 1, 0.1, 'trimmed');
});

test('wav – PCM s16le by default, pcm_s24le on request; flac – FLAC', async () => {
  const s16 = await encodeOne({ output: 'wav', start: '0.5' }, [src('av.mp4')], 'w16', 'w16.wav');
  assert.equal(s16.result.formatName, 'wav');
  assert.equal(s16.result.audio[0]?.codec, 'pcm_s16le');
  assert.equal(s16.result.audio[0]?.sampleRate, 44100);
  near(s16.result.durationSec, 1.5, 0.1, 'from start');
  const s24 = await encodeOne({ output: 'wav', audio_codec: 'pcm_s24le', audio_sample_rate: '48000', audio_volume: '50' }, [src('av.mp4')], 'w24', 'w24.wav');
  assert.equal(s24.result.audio[0]?.codec, 'pcm_s24le');
  assert.equal(s24.result.audio[0]?.sampleRate, 48000);
  const flac = await encodeOne({ output: 'flac', audio_bitrate: '128k', audio_channels_number: '1' }, [src('av.mp4')], 'f', 'f.flac');
  assert.equal(flac.result.formatName, 'flac');
  assert.equal(flac.result.audio[0]?.codec, 'flac');
  assert.equal(flac.result.audio[0]?.channels, 1);
});

test('mov, mkv and mpegts – H.264/AAC by default at the source size', async () => {
  for (const [output, ext, format] of [['mov', 'mov', 'mov,mp4,m4a,3gp,3g2,mj2'], ['mkv', 'mkv', 'matroska,webm'], ['mpegts', 'ts', 'mpegts']] as const) {
    const { result } = await encodeOne({ output, duration: '1' }, [src('av.mp4')], output, `${output}.${ext}`);
    assert.equal(result.formatName, format, output);
    assert.equal(result.video?.codec, 'h264', output);
    assert.deepEqual([result.video?.width, result.video?.height], [160, 120], output);
    assert.equal(result.audio[0]?.codec, 'aac', output);
    near(result.durationSec, 1, 0.15, `${output} duration`);
  }
});

test('HEVC: tagged hvc1 in mov, not in mkv; allowed in mpegts', async () => {
  const mov = await encodeOne({ output: 'mov', video_codec: 'libx265', duration: '0.5', turbo: 'yes' }, [src('av.mp4')], 'hevc', 'hevc.mov');
  assert.equal(mov.result.video?.codec, 'hevc');
  assert.equal(await videoTag(mov.file), 'hvc1');
  const mkv = await encodeOne({ output: 'mkv', video_codec: 'hevc', duration: '0.5', turbo: 'yes' }, [src('av.mp4')], 'hevc', 'hevc.mkv');
  assert.equal(mkv.result.video?.codec, 'hevc');
  const ts = await encodeOne({ output: 'mpegts', video_codec: 'hevc', duration: '0.5', turbo: 'yes' }, [src('av.mp4')], 'hevc', 'hevc.ts');
  assert.equal(ts.result.video?.codec, 'hevc');
});

test('AV1 – libsvtav1 in mp4 and mkv, libaom-av1 in webm', async () => {
  const mp4 = await encodeOne({ output: 'mp4', video_codec: 'libsvtav1', duration: '1' }, [src('av.mp4')], 'svt', 'svt.mp4');
  assert.equal(mp4.result.video?.codec, 'av1');
  assert.equal(mp4.result.audio[0]?.codec, 'aac');
  assert.deepEqual([mp4.result.video?.width, mp4.result.video?.height], [160, 120]);
  const mkv = await encodeOne({ output: 'mkv', video_codec: 'av1', duration: '0.5', size: '0x96' }, [src('av.mp4')], 'svt', 'svt.mkv');
  assert.equal(mkv.result.video?.codec, 'av1');
  assert.equal(mkv.result.audio[0]?.codec, 'opus');
  assert.deepEqual([mkv.result.video?.width, mkv.result.video?.height], [128, 96]);
  assert.throws(() => plan({ output: 'mp4', video_codec: 'libsvtav1', size: '0x60' }, [src('av.mp4')], [avProbe], 'x'), /libsvtav1 cannot encode a 80x60 picture/);
  const webm = await encodeOne({ output: 'webm', video_codec: 'libaom-av1', duration: '0.5', bitrate: '200k' }, [src('av.mp4')], 'aom', 'aom.webm');
  assert.equal(webm.result.formatName, 'matroska,webm');
  assert.equal(webm.result.video?.codec, 'av1');
  assert.equal(webm.result.audio[0]?.codec, 'opus');
});

test('parseFormat – readable errors naming the field for the new outputs', () => {
  const error = (fields: Record<string, string>): string => {
    const r = parseFormat(fields);
    assert.equal(r.ok, false, JSON.stringify(fields));
    return r.ok ? '' : r.error;
  };
  assert.match(error({ output: 'mpegts', video_codec: 'libsvtav1' }), /^video_codec "libsvtav1" cannot be used with output mpegts: MPEG-TS cannot carry AV1/);
  assert.match(error({ output: 'mov', video_codec: 'libvpx-vp9' }), /^video_codec "libvpx-vp9" cannot be used with output mov/);
  assert.match(error({ output: 'advanced_hls', stream: { video_codec: 'libaom-av1' } as never }), /video_codec "libaom-av1" cannot be used/);
  assert.match(error({ output: 'wav', audio_codec: 'libmp3lame' }), /^audio_codec "libmp3lame" cannot be used with output wav\. Use pcm_s16le, pcm_s24le\./);
  assert.match(error({ output: 'flac', audio_codec: 'aac' }), /^audio_codec "aac" cannot be used with output flac/);
  assert.match(error({ output: 'ogg', audio_codec: 'libopus', audio_sample_rate: '44100' }), /^audio_sample_rate "44100" cannot be used with libopus/);
  const wav = parseFormat({ output: 'wav', audio_bitrate: '128k' });
  assert.ok(wav.ok && wav.spec.kind === 'audio' && wav.spec.audioBitrate === null, 'PCM has no bitrate');
  const aom = parseFormat({ output: 'mp4', video_codec: 'libaom-av1', two_pass: 'yes', profile: 'high', level: '41' });
  assert.ok(aom.ok && aom.spec.kind === 'video' && aom.spec.profile === null && aom.spec.level === null);
});

/** Frames ffprobe decodes from the first video stream. */
async function frameCount(file: string): Promise<number> {
  const { stdout } = await run('ffprobe', ['-v', 'error', '-count_frames', '-select_streams', 'v:0', '-show_entries', 'stream=nb_read_frames', '-of', 'csv=p=0', file]);
  return Number(stdout.trim());
}

/** The GIF's NETSCAPE loop count, or null when the file has no loop extension (plays once). */
async function gifLoop(file: string): Promise<number | null> {
  const bytes = await readFile(file);
  const at = bytes.indexOf('NETSCAPE2.0', 0, 'latin1');
  return at < 0 ? null : bytes.readUInt16LE(at + 13);
}

test('gif – 10 fps by default, plays once, at the source size; interval, loop, colors, dither and size', async () => {
  const once = await encodeOne({ output: 'gif' }, [src('av.mp4')], 'once', 'once.gif');
  assert.equal(once.result.formatName, 'gif');
  assert.equal(once.result.video?.codec, 'gif');
  assert.deepEqual([once.result.video?.width, once.result.video?.height], [160, 120]);
  near(await frameCount(once.file), 20, 1, 'frames of 2 s at 10 fps');
  assert.equal(await gifLoop(once.file), null, 'loop 0 = no loop extension');
  const forever = await encodeOne(
    { output: 'gif', interval: '20', loop: '-1', colors: '16', dither: 'bayer', size: '80x0', start: '0.5', duration: '1' },
    [src('av.mp4')], 'forever', 'forever.gif',
  );
  assert.deepEqual([forever.result.video?.width, forever.result.video?.height], [80, 60]);
  near(await frameCount(forever.file), 5, 1, 'frames of 1 s at 5 fps');
  assert.equal(await gifLoop(forever.file), 0, 'loop -1 = NETSCAPE loop count 0 (forever)');
  const thrice = await encodeOne({ output: 'gif', loop: '3', duration: '0.5' }, [src('av.mp4')], 'thrice', 'thrice.gif');
  assert.equal(await gifLoop(thrice.file), 3);
});

test('image – jpg by default; png, gif and webp; resize, crop and combine', async () => {
  const jpg = await encodeOne({ output: 'image', time: '1' }, [src('av.mp4')], 'still', 'still.jpg');
  assert.equal(jpg.result.video?.codec, 'mjpeg');
  assert.deepEqual([jpg.result.video?.width, jpg.result.video?.height], [160, 120]);
  const cases = [
    [{ image_format: 'png', size: '100x100' }, 'png', 'png', [100, 76]],
    [{ image_format: 'png', size: '100x100', resize_method: 'crop' }, 'png', 'png', [100, 100]],
    [{ image_format: 'webp', size: '100x100', resize_method: 'combine', quality: '60' }, 'webp', 'webp', [100, 100]],
    [{ image_format: 'gif', size: '0x60', time: '50%' }, 'gif', 'gif', [80, 60]],
    [{ image_format: 'jpg', size: '100x100', keep_aspect_ratio: 'no' }, 'jpg', 'mjpeg', [100, 100]],
  ] as const;
  for (const [i, [fields, ext, codec, size]] of cases.entries()) {
    const { result } = await encodeOne({ output: 'image', ...fields }, [src('av.mp4')], `img${i}`, `img${i}.${ext}`);
    assert.equal(result.video?.codec, codec, JSON.stringify(fields));
    assert.deepEqual([result.video?.width, result.video?.height], size, JSON.stringify(fields));
  }
});

test('parseFormat – gif and image fields', () => {
  const error = (fields: Record<string, string>): string => {
    const r = parseFormat(fields);
    assert.equal(r.ok, false, JSON.stringify(fields));
    return r.ok ? '' : r.error;
  };
  const gif = parseFormat({ output: 'gif' });
  assert.ok(gif.ok && gif.spec.kind === 'gif');
  assert.deepEqual([gif.spec.interval, gif.spec.loop, gif.spec.colors, gif.spec.dither], [10, 0, 128, 'sierra2_4a']);
  assert.match(error({ output: 'gif', colors: '300' }), /^colors "300" is out of range; use 4 to 255\./);
  assert.match(error({ output: 'gif', dither: 'random' }), /^dither "random" is not one of bayer, heckbert/);
  assert.match(error({ output: 'gif', loop: '-2' }), /^loop "-2" is not -1/);
  assert.match(error({ output: 'gif', interval: 'fast' }), /^interval "fast" is not/);
  assert.match(error({ output: 'image', image_format: 'bmp' }), /^image_format "bmp" is not one of jpg, png, gif, webp\./);
  assert.match(error({ output: 'image', resize_method: 'zoom' }), /^resize_method "zoom" is not one of resize, crop, combine\./);
  assert.match(error({ output: 'image', quality: '0' }), /^quality "0" is out of range/);
  assert.match(error({ output: 'image', time: '2!' }), /^time "2!" asks for a picture every few seconds/);
});
