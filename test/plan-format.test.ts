import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseFormat, timeToSeconds, type OutputSpec } from '../src/domain/format.ts';
import type { FieldMap } from '../src/domain/fields.ts';

function ok(raw: FieldMap): OutputSpec {
  const r = parseFormat(raw);
  if (!r.ok) assert.fail(`expected ok, got: ${r.error}`);
  return r.spec;
}

function error(raw: FieldMap): string {
  const r = parseFormat(raw);
  if (r.ok) assert.fail(`expected an error for ${JSON.stringify(raw)}`);
  return r.error;
}

test('parseFormat – a missing output says so the way encoding.com does', () => {
  assert.equal(error({}), 'Output format is not indicated!');
  assert.equal(error({ output: '  ' }), 'Output format is not indicated!');
});

test('parseFormat – an unknown output lists the supported ones', () => {
  assert.equal(error({ output: 'xyz' }), 'Unknown output "xyz". Supported: mp4, webm, mov, mov_prores, mkv, mpegts, mp3, m4a, ogg, wav, flac, thumbnail, image, gif, advanced_hls, iphone_stream, ipad_stream, roku_hls, mpeg_dash, advanced_dash, fmp4_hls, advanced_fmp4');
});

test('parseFormat – mp4 defaults play everywhere: H.264 High, AAC 128k, CRF, keep aspect, def rotation', () => {
  const spec = ok({ output: 'MP4', some_unknown_field: 'kept by the caller' });
  assert.equal(spec.kind, 'video');
  if (spec.kind !== 'video') return;
  assert.equal(spec.videoCodec, 'libx264');
  assert.equal(spec.profile, 'high');
  assert.equal(spec.bitrate, null);
  assert.equal(spec.audioCodec, 'aac');
  assert.equal(spec.audioBitrate, 128_000);
  assert.equal(spec.audioSampleRate, null);
  assert.equal(spec.audioChannels, null);
  assert.equal(spec.audioVolume, 100);
  assert.equal(spec.keepAspectRatio, true);
  assert.equal(spec.rotate, 'def');
  assert.equal(spec.deinterlacing, 'auto');
  assert.equal(spec.twoPass, false);
  assert.deepEqual(spec.crop, { left: 0, top: 0, right: 0, bottom: 0 });
});

test('parseFormat – webm defaults to VP9 + Opus, libvpx (VP8) to Vorbis', () => {
  const vp9 = ok({ output: 'webm' });
  assert.ok(vp9.kind === 'video' && vp9.videoCodec === 'libvpx-vp9' && vp9.audioCodec === 'libopus' && vp9.profile === null);
  const vp8 = ok({ output: 'webm', video_codec: 'libvpx' });
  assert.ok(vp8.kind === 'video' && vp8.videoCodec === 'libvpx' && vp8.audioCodec === 'libvorbis');
});

test('parseFormat – bitrates accept 900k, 1.5M and bare bits per second', () => {
  const spec = ok({ output: 'mp4', bitrate: '1.5M', maxrate: '3500k', bufsize: '7M', audio_bitrate: '12.2k' });
  assert.ok(spec.kind === 'video');
  assert.equal(spec.bitrate, 1_500_000);
  assert.equal(spec.maxrate, 3_500_000);
  assert.equal(spec.bufsize, 7_000_000);
  assert.equal(spec.audioBitrate, 12_200);
  const bare = ok({ output: 'mp4', bitrate: '300000' });
  assert.ok(bare.kind === 'video' && bare.bitrate === 300_000);
});

test('parseFormat – bad values name the field, the value and the expected form', () => {
  assert.equal(error({ output: 'mp4', bitrate: 'abc' }), 'bitrate "abc" is not a bitrate like 900k.');
  assert.equal(error({ output: 'mp4', bitrate: '900' }), 'bitrate "900" is not a bitrate like 900k.');
  assert.equal(error({ output: 'mp4', size: '-2x480' }), 'size "-2x480" is not a size like 640x360 (0 keeps the aspect ratio).');
  assert.equal(error({ output: 'mp4', audio_channels_number: '9' }), 'audio_channels_number "9" is out of range; use 1 to 8.');
  assert.equal(error({ output: 'mp4', framerate: '500' }), 'framerate "500" is out of range; use 1 to 240 or copy.');
  assert.equal(error({ output: 'mp4', keyframe: '0' }), 'keyframe "0" is out of range; use 1 to 1000 frames.');
  assert.equal(error({ output: 'mp4', two_pass: 'maybe' }), 'two_pass "maybe" must be yes or no.');
  assert.equal(error({ output: 'mp4', rotate: '45' }), 'rotate "45" is not one of def, 0, 90, 180, 270.');
  assert.equal(error({ output: 'mp4', crop_left: '3' }), 'crop_left "3" is not an even number of pixels.');
  assert.match(error({ output: 'mp4', video_codec: 'libvpx-vp9' }), /^video_codec "libvpx-vp9" cannot be used with output mp4\. Use libx264, libx265, libsvtav1 or libaom-av1\.$/);
  assert.match(error({ output: 'webm', audio_codec: 'libfaac' }), /^audio_codec "libfaac" cannot be used with output webm\. Use libopus, libvorbis, copy\.$/);
  assert.match(error({ output: 'mp4', profile: 'extreme' }), /^profile "extreme" cannot be used with libx264; use baseline, main, high\.$/);
  assert.match(error({ output: 'webm', audio_sample_rate: '44100' }), /audio_sample_rate "44100" cannot be used with libopus/);
  assert.match(error({ output: 'mp4', bitrate: '2000k', maxrate: '1000k', bufsize: '2000k' }), /maxrate \(1000k\) is lower than bitrate \(2000k\)/);
});

test('parseFormat – a known field given as a list or a nested element is refused; a one-item list is its item', () => {
  const one = parseFormat({ output: ['mp4'], bitrate: ['900k'] });
  assert.ok(one.ok && one.spec.kind === 'video' && one.spec.output === 'mp4' && one.spec.bitrate === 900_000);
  assert.equal(error({ output: 'mp4', bitrate: ['900k', '1000k'] }), 'bitrate must be given once as a plain value, not a list.');
  assert.equal(error({ output: 'mp4', size: { width: '2' } }), 'size must be given once as a plain value, not a nested element.');
  assert.equal(error({ output: ['mp4', 'webm'] }), 'output must be given once as a plain value, not a list.');
});

test('parseFormat – unknown fields and fields of other outputs are ignored', () => {
  const spec = ok({ output: 'mp3', size: { nested: 'x' }, logo: { logo_source: 'http://x' }, destination: ['a', 'b'] });
  assert.equal(spec.kind, 'audio');
});

test('parseFormat – levels are read without or with the dot', () => {
  const level = (l: string): string | null => {
    const s = ok({ output: 'mp4', level: l });
    return s.kind === 'video' ? s.level : null;
  };
  assert.equal(level('30'), '3.0');
  assert.equal(level('31'), '3.1');
  assert.equal(level('3.1'), '3.1');
  assert.equal(level('4'), '4.0');
  assert.equal(level('51'), '5.1');
  assert.match(error({ output: 'mp4', level: '77' }), /^level "77" is not an H\.264\/H\.265 level/);
});

test('parseFormat – audio codec names of encoding.com map onto FFmpeg encoders', () => {
  for (const name of ['libfaac', 'dolby_aac', 'aac']) {
    const s = ok({ output: 'mp4', audio_codec: name });
    assert.ok(s.kind === 'video' && s.audioCodec === 'aac' && s.heAacAsLc === null, name);
  }
  // No HE-AAC encoder in this FFmpeg: refused by name, unless the operator lets AAC-LC stand in.
  for (const name of ['dolby_heaac', 'dolby_heaacv2']) {
    assert.match(error({ output: 'mp4', audio_codec: name }), new RegExp(`^audio_codec "${name}" is not supported yet: .*HE-AAC.*Use dolby_aac`));
    const lc = parseFormat({ output: 'mp4', audio_codec: name, audio_bitrate: '48k' }, { heAac: 'lc' });
    assert.ok(lc.ok && lc.spec.kind === 'video' && lc.spec.audioCodec === 'aac' && lc.spec.heAacAsLc === name && lc.spec.audioBitrate === 48_000, name);
  }
  const mp3 = ok({ output: 'mp3' });
  assert.ok(mp3.kind === 'audio' && mp3.audioCodec === 'libmp3lame' && mp3.audioBitrate === 192_000);
  const m4a = ok({ output: 'm4a', audio_bitrate: '96k', audio_channels_number: '1', audio_sample_rate: '22050' });
  assert.ok(m4a.kind === 'audio' && m4a.audioCodec === 'aac' && m4a.audioBitrate === 96_000);
  assert.equal(m4a.audioChannels, 1);
  assert.equal(m4a.audioSampleRate, 22050);
  assert.match(error({ output: 'mp3', audio_channels_number: '6' }), /MP3 holds 1 or 2 channels/);
});

test('parseFormat – start, duration and finish; duration wins over finish', () => {
  const s = ok({ output: 'mp4', start: '1.5', duration: '7.5', finish: '3' });
  assert.ok(s.kind === 'video');
  assert.deepEqual(s.start, { seconds: 1.5, timecode: null });
  assert.equal(s.duration, 7.5);
  assert.equal(s.finish, null);
  const clock = ok({ output: 'm4a', start: '00:01:02.500', finish: '00:01:04' });
  assert.ok(clock.kind === 'audio');
  assert.equal(clock.start?.seconds, 62.5);
  assert.equal(clock.finish?.seconds, 64);
  assert.match(error({ output: 'mp4', start: '5', finish: '4' }), /^finish "4" must be later than start "5"\.$/);
  assert.match(error({ output: 'mp4', start: 'soon' }), /^start "soon" is not a time in seconds/);
  assert.match(error({ output: 'mp4', duration: '0' }), /^duration "0" must be more than 0 seconds\.$/);
});

test('timeToSeconds – timecodes count frames at the source rate, drop-frame skips numbers', () => {
  const s = ok({ output: 'mp4', start: '00:00:01:12' });
  assert.ok(s.kind === 'video' && s.start);
  assert.equal(timeToSeconds(s.start, 25), 1.48);
  // 00:01:00;02 is the first frame number after the drop at the minute: frame 1800 at 29.97.
  const df = ok({ output: 'mp4', start: '00:01:00;02' });
  assert.ok(df.kind === 'video' && df.start);
  assert.ok(Math.abs(timeToSeconds(df.start, 30000 / 1001) - 1800 * 1001 / 30000) < 1e-9);
});

test('parseFormat – thumbnail times in all four forms, plus !N', () => {
  const time = (t: string): unknown => {
    const s = ok({ output: 'thumbnail', time: t });
    return s.kind === 'thumbnail' ? s.time : null;
  };
  assert.deepEqual(time('00:00:05.5'), { kind: 'at', seconds: 5.5 });
  assert.deepEqual(time('25%'), { kind: 'percent', percent: 25 });
  assert.deepEqual(time('12'), { kind: 'at', seconds: 12 });
  assert.deepEqual(time('2!'), { kind: 'every', seconds: 2 });
  assert.deepEqual(time('!5'), { kind: 'every', seconds: 5 });
  const d = ok({ output: 'thumbnail' });
  assert.ok(d.kind === 'thumbnail');
  assert.deepEqual(d.time, { kind: 'at', seconds: 5 });
  assert.equal(d.quality, 90);
  assert.equal(d.width, null);
  assert.equal(error({ output: 'thumbnail', time: '-3' }), 'time "-3" must not be negative.');
  assert.equal(error({ output: 'thumbnail', time: '120%' }), 'time "120%" is out of range; use 0% to 100%.');
  assert.match(error({ output: 'thumbnail', time: '0.5!' }), /too often/);
  assert.match(error({ output: 'thumbnail', time: 'noon' }), /^time "noon" is not a thumbnail time like 5, 00:00:05\.5, 10% or 2!/);
  assert.equal(error({ output: 'thumbnail', quality: '0' }), 'quality "0" is out of range; use 1 to 100.');
  assert.equal(error({ output: 'thumbnail', width: 'wide' }), 'width "wide" is not a width in pixels like 320.');
});

test('parseFormat – values are trimmed and yes/no is case-insensitive', () => {
  const s = ok({ output: ' webm ', two_pass: 'YES', turbo: 'true', rotate: ' 90 ', size: '640X0' });
  assert.ok(s.kind === 'video');
  assert.equal(s.twoPass, true);
  assert.equal(s.turbo, true);
  assert.equal(s.rotate, 90);
  assert.deepEqual(s.size, { width: 640, height: 0 });
});
