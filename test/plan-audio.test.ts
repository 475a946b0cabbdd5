import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { FieldMap } from '../src/domain/fields.ts';
import { ffmpeg, near, planFixture, probe, run } from './plan-fixture.ts';

const { src, plan, encodeOne } = planFixture('encodery-plan-audio-', {
  setup: async ({ src }) => {
    await Promise.all([
      ffmpeg('-f', 'lavfi', '-i', 'testsrc2=size=160x120:rate=25', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=32000',
        '-t', '2', '-c:v', 'libx264', '-preset', 'ultrafast', '-c:a', 'aac', '-ac', '2', src('av32k.mp4')),
      ffmpeg('-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000', '-t', '3', '-c:a', 'aac', src('tone.m4a')),
      ffmpeg('-f', 'lavfi', '-i', 'testsrc2=size=160x120:rate=25', '-t', '1', '-c:v', 'libx264', '-preset', 'ultrafast', src('silent.mp4')),
    ]);
  },
});

/** One output, named exactly `baseName.output`. */
const encode = (fields: FieldMap, sources: string[], baseName: string) =>
  encodeOne(fields, sources, baseName, `${baseName}.${fields['output'] as string}`);

async function meanVolume(file: string): Promise<number> {
  const { stderr } = await run('ffmpeg', ['-hide_banner', '-i', file, '-af', 'volumedetect', '-f', 'null', '-']);
  const m = /mean_volume: (-?[\d.]+) dB/.exec(stderr);
  assert.ok(m, 'volumedetect output');
  return Number(m[1]);
}

test('mp3 – audio only, MP3 at 192k, an odd source rate becomes 48000', async () => {
  const { result, plan: p } = await encode({ output: 'mp3' }, [src('av32k.mp4')], 'song');
  assert.equal(result.video, null);
  assert.equal(result.audio.length, 1);
  assert.equal(result.audio[0]?.codec, 'mp3');
  assert.equal(result.audio[0]?.sampleRate, 48000);
  assert.equal(result.audio[0]?.channels, 2);
  near(result.audio[0]?.bitrate ?? 0, 192_000, 2000, 'bitrate');
  near(result.durationSec, 2, 0.1, 'duration');
  near(p.durationSec, 2, 0.05, 'planned');
});

test('m4a – AAC keeping a 48000 source, trimmed with start and duration', async () => {
  const { result, plan: p } = await encode({ output: 'm4a', start: '1', duration: '1.5', audio_channels_number: '1' }, [src('tone.m4a')], 'clip');
  assert.equal(p.durationSec, 1.5);
  assert.equal(result.audio[0]?.codec, 'aac');
  assert.equal(result.audio[0]?.sampleRate, 48000);
  assert.equal(result.audio[0]?.channels, 1);
  near(result.durationSec, 1.5, 0.1, 'duration');
});

test('audio_volume scales the level (50 % is about -6 dB)', async () => {
  const full = await encode({ output: 'm4a' }, [src('tone.m4a')], 'full');
  const half = await encode({ output: 'm4a', audio_volume: '50' }, [src('tone.m4a')], 'half');
  near((await meanVolume(half.file)) - (await meanVolume(full.file)), -6.02, 0.5, 'level change');
});

test('joined sources: a source without audio adds silence of its length', async () => {
  const { result, plan: p } = await encode({ output: 'mp3' }, [src('tone.m4a'), src('silent.mp4'), src('av32k.mp4')], 'joined');
  near(p.durationSec, 6, 0.1, 'planned');
  near(result.durationSec, 6, 0.15, 'joined duration');
});

test('a source without any audio cannot make an mp3 or m4a', async () => {
  const silent = await probe(src('silent.mp4'));
  assert.throws(() => plan({ output: 'mp3' }, [src('silent.mp4')], [silent], 'x'), {
    message: 'The source has no audio stream, so an mp3 cannot be made.',
  });
  const tone = await probe(src('tone.m4a'));
  assert.throws(() => plan({ output: 'mp3', audio_codec: 'copy' }, [src('tone.m4a')], [tone], 'x'), /cannot put the source's aac audio into mp3/);
});
