/**
 * Bad format fields are answered at parse time (so AddMedia refuses them and stores nothing),
 * each message naming the field and what to send instead.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseFormat, withoutEmptyBlocks, type OutputSpec } from '../src/domain/format.ts';
import { BUILT_IN_PRESETS } from '../src/domain/presets.ts';
import type { FieldMap } from '../src/domain/fields.ts';
import { startTestServer, type TestServer } from './helpers.ts';

function error(raw: FieldMap): string {
  const r = parseFormat(raw);
  if (r.ok) assert.fail(`expected an error for ${JSON.stringify(raw)}`);
  return r.error;
}

function ok(raw: FieldMap): OutputSpec {
  const r = parseFormat(raw);
  if (!r.ok) assert.fail(`expected ok, got: ${r.error}`);
  return r.spec;
}

const stream = (fields: FieldMap = {}): FieldMap => ({ size: '0x120', bitrate: '200k', ...fields });

test('bufsize – required with maxrate or minrate, on files and on HLS streams', () => {
  assert.equal(
    error({ output: 'mp4', bitrate: '1000k', maxrate: '1500k' }),
    'bufsize is missing: it is required when maxrate is set. Add the rate-control buffer size, e.g. bufsize 3000k (twice maxrate).',
  );
  assert.match(error({ output: 'webm', minrate: '500k' }), /^bufsize is missing: it is required when minrate is set\. .* bufsize 1000k/);
  // Inherited from the format by every stream.
  assert.match(error({ output: 'advanced_hls', maxrate: '900k', stream: [stream()] }), /^stream 1: bufsize is missing: it is required when maxrate is set/);
  assert.match(error({ output: 'advanced_hls', stream: [stream(), stream({ maxrate: '300k' })] }), /^stream 2: bufsize is missing/);
  const spec = ok({ output: 'mp4', maxrate: '1500k', bufsize: '3000k' });
  assert.ok(spec.kind === 'video' && spec.bufsize === 3_000_000);
  assert.match(error({ output: 'mp4', maxrate: '1500k', bufsize: 'big' }), /^bufsize "big" is not a buffer size like 7000k\.$/);
});

test('bufsize – every built-in preset with a maxrate gives its bufsize', () => {
  for (const p of BUILT_IN_PRESETS) {
    const r = parseFormat(p.format);
    assert.ok(r.ok, `${p.name}: ${r.ok ? '' : r.error}`);
  }
});

test('size – an odd side is rounded down to even for 4:2:0 video, with a note naming size; a malformed one is refused', () => {
  for (const [size, even] of [['641x480', '640x480'], ['640x361', '640x360'], ['321x0', '320x0'], ['1x1', '2x2']] as const) {
    const r = parseFormat({ output: 'mp4', size });
    assert.ok(r.ok && r.spec.kind === 'video', size);
    assert.deepEqual(r.spec.size, { width: Number(even.split('x')[0]), height: Number(even.split('x')[1]) });
    assert.deepEqual(r.notes, [`size ${size} rounded to ${even}: 4:2:0 video needs even sides`]);
  }
  const hls = parseFormat({ output: 'advanced_hls', stream: [stream(), stream({ size: '0x121', sub_path: 'b' })] });
  assert.ok(hls.ok && hls.spec.kind === 'hls');
  assert.deepEqual(hls.spec.streams[1]!.size, { width: 0, height: 120 });
  assert.deepEqual(hls.notes, ['stream 2: size 0x121 rounded to 0x120: 4:2:0 video needs even sides']);
  const even = parseFormat({ output: 'mp4', size: '640x360' });
  assert.ok(even.ok);
  assert.deepEqual(even.notes, []);
  assert.equal(error({ output: 'mp4', size: '8193x480' }), 'size "8193x480" is not a size like 640x360 (0 keeps the aspect ratio).');
});

test('advanced_hls – 16 streams are refused, naming stream and the limit of 15', () => {
  assert.equal(
    error({ output: 'advanced_hls', stream: Array.from({ length: 16 }, () => stream()) }),
    'stream is given 16 times; advanced_hls takes 1 to 15 streams.',
  );
  const fifteen = ok({ output: 'advanced_hls', stream: Array.from({ length: 15 }, (_, i) => stream({ sub_path: `s${i}` })) });
  assert.ok(fifteen.kind === 'hls' && fifteen.streams.length === 15);
});

test('AV1 – refused in mpegts and HLS, naming video_codec and what to use', () => {
  assert.equal(
    error({ output: 'mpegts', video_codec: 'libsvtav1' }),
    'video_codec "libsvtav1" cannot be used with output mpegts: MPEG-TS cannot carry AV1. Use libx264 or libx265, or output mp4, webm or mkv for AV1.',
  );
  assert.match(error({ output: 'advanced_hls', stream: [stream({ video_codec: 'av1' })] }), /^stream 1: video_codec "av1" cannot be used with output advanced_hls: MPEG-TS cannot carry AV1/);
});

test('set_rotate – values, and containers without rotation metadata', () => {
  assert.equal(error({ output: 'mp4', set_rotate: '45' }), 'set_rotate "45" is not one of 0, 90, 180, 270, source.');
  assert.match(error({ output: 'webm', set_rotate: '90' }), /^set_rotate "90" cannot be written into webm, which has no rotation metadata; use output mp4, mov or mov_prores,/);
  assert.match(error({ output: 'mkv', set_rotate: 'source' }), /^set_rotate "source" cannot be written into mkv/);
  assert.match(error({ output: 'advanced_hls', set_rotate: '90', stream: [stream()] }), /^stream 1: set_rotate "90" cannot be written into advanced_hls/);
  const mov = ok({ output: 'mov', set_rotate: '270' });
  assert.ok(mov.kind === 'video' && mov.setRotate === 270 && mov.rotate === 'def');
  ok({ output: 'webm', set_rotate: '0' });
  // Keeping the source's flag keeps its stored picture: rotate def becomes 0.
  const src = ok({ output: 'mp4', set_rotate: 'SOURCE' });
  assert.ok(src.kind === 'video' && src.setRotate === 'source' && src.rotate === 0);
});

test('metadata – tags, copy, and what is refused', () => {
  const tags = ok({ output: 'mp4', metadata: { title: ' T ', author: 'A', copyright: 'C', description: 'line 1\nline 2', album: 'B' } });
  assert.ok(tags.kind === 'video');
  assert.deepEqual(tags.tags, { title: 'T', author: 'A', copyright: 'C', description: 'line 1\nline 2', album: 'B' });
  assert.equal(tags.copyMetadata, false);
  const copies: FieldMap[] = [{ metadata: { copy: '' } }, { metadata: { copy: 'yes' } }, { metadata: 'copy' }, { metadata_copy: 'yes' }];
  for (const copy of copies) {
    const s = ok({ output: 'm4a', ...copy });
    assert.ok(s.kind === 'audio' && s.copyMetadata, JSON.stringify(copy));
  }
  assert.equal(error({ output: 'mp4', metadata: { genre: 'x' } }), 'metadata genre is not a tag Encodery writes; use title, copyright, author, description, album or copy.');
  assert.match(error({ output: 'mp4', metadata: { title: 'a\u0000b' } }), /^metadata title contains control characters/);
  assert.match(error({ output: 'mp4', metadata: { title: 'x'.repeat(1001) } }), /^metadata title is too long; use at most 1000 characters\.$/);
  assert.match(error({ output: 'mp4', metadata: { title: ['a', 'b'] } }), /^metadata title must be a plain value/);
  assert.match(error({ output: 'mp4', metadata: 'everything' }), /^metadata "everything" is not copy/);
  assert.equal(error({ output: 'mp4', metadata_copy: 'maybe' }), 'metadata_copy "maybe" must be yes or no.');
  assert.equal(error({ output: 'mp4', strip_chapters: 'all' }), 'strip_chapters "all" must be yes or no.');
  assert.equal(error({ output: 'mp4', smart_passthrough: 'auto' }), 'smart_passthrough "auto" must be yes or no.');
  const d = ok({ output: 'mp3' });
  assert.ok(d.kind === 'audio' && !d.stripChapters && d.smartPassthrough && !d.copyMetadata);
});

test('loudnorm and audio_normalization – targets, ranges and conflicts', () => {
  const yes = ok({ output: 'm4a', loudnorm: 'yes' });
  assert.ok(yes.kind === 'audio');
  assert.deepEqual(yes.loudness, { integrated: -23, range: 7, truePeak: -1 });
  const own = ok({ output: 'mp4', loudnorm: '-16', loudnorm_range: '11', loudnorm_peak: '-1.5' });
  assert.ok(own.kind === 'video');
  assert.deepEqual(own.loudness, { integrated: -16, range: 11, truePeak: -1.5 });
  const no = ok({ output: 'mp4', loudnorm: 'no' });
  assert.ok(no.kind === 'video' && no.loudness === null);
  // audio_normalization N: EBU R128 with the true peak under N % of full scale (at least -9 dBTP).
  const peak = ok({ output: 'mp3', audio_normalization: '90' });
  assert.ok(peak.kind === 'audio');
  assert.deepEqual(peak.loudness, { integrated: -23, range: 7, truePeak: -0.9 });
  const low = ok({ output: 'mp3', audio_normalization: '10' });
  assert.ok(low.kind === 'audio' && low.loudness?.truePeak === -9);
  const off = ok({ output: 'mp3', audio_normalization: '0' });
  assert.ok(off.kind === 'audio' && off.loudness === null);
  const hls = ok({ output: 'advanced_hls', loudnorm: '-16', stream: [stream()] });
  assert.ok(hls.kind === 'hls' && hls.streams[0]!.loudness?.integrated === -16, 'streams inherit loudnorm');

  assert.match(error({ output: 'mp4', loudnorm: 'loud' }), /^loudnorm "loud" is not yes, no or a loudness target in LUFS like -23 or -16\.$/);
  assert.match(error({ output: 'mp4', loudnorm: '-80' }), /^loudnorm "-80" is out of range; use a target from -70 to -5 LUFS/);
  assert.match(error({ output: 'mp4', loudnorm: '16' }), /^loudnorm "16" is out of range/);
  assert.equal(error({ output: 'mp4', loudnorm: 'yes', loudnorm_range: '60' }), 'loudnorm_range "60" is out of range; use 1 to 50 LU.');
  assert.match(error({ output: 'mp4', loudnorm: 'yes', loudnorm_peak: '3' }), /^loudnorm_peak "3" is not a true peak from -9 to 0 dBTP/);
  assert.match(error({ output: 'mp4', loudnorm_range: '7' }), /^loudnorm_range needs loudnorm: add loudnorm yes/);
  assert.match(error({ output: 'mp4', loudnorm_peak: '-1' }), /^loudnorm_peak needs loudnorm/);
  assert.match(error({ output: 'mp4', audio_normalization: '120' }), /^audio_normalization "120" is out of range; use 0 to 100/);
  assert.match(error({ output: 'mp4', audio_normalization: 'max' }), /^audio_normalization "max" is not a percentage from 0 to 100\.$/);
  assert.match(error({ output: 'mp4', audio_normalization: '50', loudnorm: 'yes' }), /^audio_normalization and loudnorm cannot be used together/);
  assert.match(error({ output: 'mp4', loudnorm: 'yes', audio_volume: '150' }), /^audio_volume cannot be used with loudnorm/);
  assert.match(error({ output: 'mp4', loudnorm: 'yes', audio_codec: 'copy' }), /^loudnorm cannot change the audio when audio_codec is copy/);
  assert.match(error({ output: 'mp4', audio_normalization: '80', audio_volume: '50' }), /^audio_volume cannot be used with audio_normalization/);
});

describe('AddMedia answers bad fields with an error and stores nothing', () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer();
  });
  after(() => t.close());

  test('maxrate without bufsize', async () => {
    const r = await t.call('json', { action: 'AddMedia', source: 'http://127.0.0.1:9/clip.mp4', format: { output: 'mp4', maxrate: '2000k' } });
    assert.equal(r.MediaID, undefined, JSON.stringify(r));
    assert.match(JSON.stringify(r.errors), /bufsize is missing: it is required when maxrate is set/);
    const list = await t.call('json', { action: 'GetMediaList' });
    assert.deepEqual(list.media, [], 'nothing stored');
  });
});

test('video_codec_parameters – empty, {} or no asks for nothing and is dropped, also in streams; a filled block is kept for its reader', () => {
  const given = {
    output: 'advanced_hls', video_codec_parameters: 'No',
    stream: [{ size: '0x120', init_video_codec_parameters: '' }, { size: '0x240', init_video_codec_parameters: { sc_threshold: '0' } }],
  };
  assert.deepEqual(withoutEmptyBlocks(given), { output: 'advanced_hls', stream: [{ size: '0x120' }, { size: '0x240', init_video_codec_parameters: { sc_threshold: '0' } }] });
  assert.deepEqual(withoutEmptyBlocks({ output: 'mp4', VIDEO_CODEC_PARAMETERS: {} }), { output: 'mp4' });
  assert.deepEqual(withoutEmptyBlocks({ output: 'mp4', video_codec_parameters: { me_range: '16' } }), { output: 'mp4', video_codec_parameters: { me_range: '16' } });
});
