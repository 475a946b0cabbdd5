/**
 * mpeg_dash, advanced_dash, fmp4_hls and advanced_fmp4 at the parser: what they accept, and bad
 * requests refused with a message that names the field.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseFormat, type DashSpec } from '../src/domain/format.ts';
import type { FieldMap } from '../src/domain/fields.ts';
import { layoutMain } from '../src/domain/destinations.ts';
import { dashBandwidth } from '../src/pipeline/plan/dash-manifest.ts';

function ok(fields: FieldMap): DashSpec {
  const r = parseFormat(fields);
  if (!r.ok) assert.fail(r.error);
  assert.equal(r.spec.kind, 'dash');
  return r.spec as DashSpec;
}

function refused(fields: FieldMap, pattern: RegExp): void {
  const r = parseFormat(fields);
  assert.equal(r.ok, false, `accepted ${JSON.stringify(fields)}`);
  if (!r.ok) assert.match(r.error, pattern);
}

test('mpeg_dash without <stream> is one rendition made of the format fields; fmp4_hls too', () => {
  const spec = ok({ output: 'mpeg_dash', size: '640x360', bitrate: '800k', audio_bitrate: '96k', video_codec: 'vp9', audio_codec: 'opus' });
  assert.equal(spec.streams.length, 1);
  const [s] = spec.streams;
  assert.deepEqual(s!.size, { width: 640, height: 360 });
  assert.equal(s!.bitrate, 800_000);
  assert.equal(s!.videoCodec, 'libvpx-vp9');
  assert.equal(s!.audioCodec, 'libopus');
  assert.equal(s!.audioBitrate, 96_000);
  assert.equal(spec.segmentDuration, 6);
  assert.equal(spec.hls, false);
  const audio = ok({ output: 'fmp4_hls', audio_only: 'yes' });
  assert.equal(audio.streams[0]!.audioOnly, true);
  assert.equal(audio.hls, true);
  refused({ output: 'mpeg_dash', video_codec: 'mpeg4' }, /^video_codec "mpeg4" cannot be used with output mpeg_dash/);
});

test('advanced_dash and advanced_fmp4 need 1 to 15 streams, which inherit the format fields', () => {
  refused({ output: 'advanced_dash' }, /^stream is missing: advanced_dash needs 1 to 15/);
  refused({ output: 'advanced_fmp4' }, /^stream is missing: advanced_fmp4/);
  const stream = Array.from({ length: 16 }, (_, i) => ({ size: `0x${120 + i * 2}` }));
  refused({ output: 'advanced_dash', stream }, /^stream is given 16 times; advanced_dash takes 1 to 15/);
  const spec = ok({ output: 'advanced_fmp4', segment_duration: '2.5', bitrate: '500k', stream: [{ size: '0x360', sub_path: 'sd' }, { size: '0x720', bitrate: '2500k' }] });
  assert.deepEqual(spec.streams.map((s) => [s.subPath, s.bitrate]), [['sd', 500_000], ['stream_1', 2_500_000]]);
  assert.equal(spec.segmentDuration, 2.5);
  assert.equal(ok({ output: 'advanced_dash', stream: stream.slice(0, 15) }).streams.length, 15);
});

test('segment_duration must be a number of seconds from 1 to 60', () => {
  for (const bad of ['abc', '-2', '2s']) refused({ output: 'advanced_dash', segment_duration: bad, stream: {} }, /^segment_duration ".*" is not a number of seconds/);
  for (const bad of ['0.5', '61']) refused({ output: 'fmp4_hls', segment_duration: bad }, /^segment_duration ".*" is out of range; use 1 to 60/);
});

test('CMAF outputs keep to what HLS players take: H.264/HEVC with AAC (or AC-3/E-AC-3); DASH also takes VP9, AV1 and Opus', () => {
  refused({ output: 'fmp4_hls', video_codec: 'av1' }, /^video_codec "av1" cannot be used with output fmp4_hls\. Use libx264 or libx265/);
  refused({ output: 'advanced_fmp4', stream: [{}, { video_codec: 'libvpx-vp9' }] }, /^stream 2: video_codec "libvpx-vp9" cannot be used with output advanced_fmp4/);
  refused({ output: 'advanced_fmp4', stream: { audio_codec: 'libopus' } }, /^stream 1: audio_codec "libopus" cannot be used with output advanced_fmp4/);
  refused({ output: 'advanced_dash', stream: { audio_codec: 'libmp3lame' } }, /^stream 1: audio_codec "libmp3lame" cannot be used with output advanced_dash/);
  refused({ output: 'advanced_dash', stream: { video_codec: 'vp8' } }, /^stream 1: video_codec "vp8" cannot be used/);
  const dash = ok({ output: 'advanced_dash', stream: [{ video_codec: 'av1' }, { video_codec: 'vp9', audio_codec: 'opus' }, { video_codec: 'hevc', audio_codec: 'eac3' }] });
  assert.deepEqual(dash.streams.map((s) => [s.videoCodec, s.audioCodec]), [['libsvtav1', 'aac'], ['libvpx-vp9', 'libopus'], ['libx265', 'eac3']]);
  assert.equal(ok({ output: 'fmp4_hls', video_codec: 'libx265' }).streams[0]!.videoCodec, 'libx265');
});

test('DRM fields that cannot be honoured are refused, naming the field, rather than making clear content (issue 17)', () => {
  const KEY = { drm_key: 'a0a1a2a3a4a5a6a7a8a9aaabacadaeaf', drm_key_id: '0123456789abcdef0123456789abcdef' };
  refused({ output: 'mpeg_dash', widevine: 'yes', widevine_key_server_url: 'https://license.example/', ...KEY }, /^widevine_key_server_url is not supported: Encodery does not speak Widevine's own key-server protocol/);
  refused({ output: 'mpeg_dash', widevine: 'yes' }, /^mpeg_dash protection needs its keys: give drm_key and drm_key_id/);
  refused({ output: 'mpeg_dash', fairplay_drm: 'yes', ...KEY }, /^fairplay_drm is not supported: FairPlay needs the cbcs scheme/);
  refused({ output: 'advanced_dash', stream: { widevine: 'yes' }, ...KEY }, /^stream 1: widevine must be set on the format/);
  refused({ output: 'advanced_fmp4', encryption: 'yes', stream: {} }, /^encryption is HLS AES-128; advanced_fmp4 is protected with Common Encryption instead/);
  refused({ output: 'advanced_dash', stream: { drm: 'yes' }, ...KEY }, /^stream 1: drm must be set on the format/);
  refused({ output: 'mpeg_dash', drm_key: 'a0a1', drm_key_id: KEY.drm_key_id }, /^drm_key is not 32 hexadecimal digits/);
  refused({ output: 'mpeg_dash', drm_key: KEY.drm_key }, /^drm_key and drm_key_id go together/);
  refused({ output: 'mpeg_dash', ...KEY, cpix_url: 'https://keys.example/c.xml' }, /^give the keys one way/);
  refused({ output: 'mpeg_dash', drm: 'no', ...KEY }, /^drm is no but a key source is given/);
  refused({ output: 'mpeg_dash', video_codec: 'libvpx-vp9', ...KEY }, /Common Encryption is made for H.264 \(libx264\) and HEVC/);
  refused({ output: 'advanced_dash', ...KEY, stream: { track_type: 'HD' } }, /^track_type chooses among the keys of cpix_url or speke_url/);
  for (const r of [parseFormat({ output: 'mpeg_dash', drm_key: 'zz'.repeat(16), drm_key_id: KEY.drm_key_id })]) assert.ok(!r.ok && !r.error.includes('zzzz'), 'a bad key is not repeated');
  // widevine=no (and its other fields left empty) is plain content.
  assert.equal(ok({ output: 'mpeg_dash', widevine: 'no', widevine_content_id: '' }).protection, null);
});

test('a key source and the DRM systems make the protection: query keys, CPIX by URL, SPEKE v2 with per-stream track types', () => {
  const q = ok({ output: 'mpeg_dash', drm_key: '0xA0A1A2A3A4A5A6A7A8A9AAABACADAEAF', drm_key_id: '01234567-89ab-cdef-0123-456789abcdef', widevine: 'yes', playready_drm: 'yes', clearkey_drm: 'yes' }).protection;
  assert.deepEqual(q, {
    source: { kind: 'query', key: 'a0a1a2a3a4a5a6a7a8a9aaabacadaeaf', keyId: '0123456789abcdef0123456789abcdef' }, systems: ['widevine', 'playready', 'clearkey'], trackTypes: [null], contentId: null,
  });
  const s = ok({ output: 'advanced_dash', speke_url: 'https://keys.example/speke/v2', stream: [{ size: '0x180', track_type: 'hd' }, { size: '0x90', track_type: 'SD' }] }).protection;
  assert.deepEqual(s?.source, { kind: 'speke', url: 'https://keys.example/speke/v2' });
  assert.deepEqual(s?.trackTypes, ['HD', 'SD']);
  assert.deepEqual(ok({ output: 'fmp4_hls', cpix_url: 'file:///keys/doc.xml' }).protection?.source, { kind: 'cpix', url: 'file:///keys/doc.xml' });
});

test('sub_path may not take a manifest name', () => {
  refused({ output: 'advanced_fmp4', stream: { sub_path: 'manifest.mpd' } }, /^stream 1: sub_path "manifest\.mpd" is the name of a manifest/);
  refused({ output: 'advanced_dash', stream: [{ sub_path: 'hd' }, { sub_path: 'HD' }] }, /^stream 2: sub_path "HD" is already used by stream 1/);
});

test('advanced_fmp4 sends its MPD to a .mpd destination and its HLS master anywhere else; the others keep their last file', () => {
  const files = ['hd/init.m4s', 'hd/seg_00001.m4s', 'hd/index.m3u8', 'manifest.mpd', 'master.m3u8'];
  assert.equal(layoutMain('advanced_fmp4', files, 'https://cdn.example/out/video.MPD?sig=1'), 3);
  assert.equal(layoutMain('advanced_fmp4', files, 'https://cdn.example/out/video.m3u8'), 4);
  assert.equal(layoutMain('advanced_fmp4', files, 'https://cdn.example/out/'), 4);
  assert.equal(layoutMain('fmp4_hls', files, 'https://cdn.example/out/video.mpd'), 4);
  assert.equal(layoutMain('advanced_dash', ['a/init.m4s', 'manifest.mpd'], 'https://cdn.example/v.mpd'), 1);
});

test('@bandwidth: the least rate that plays every segment on time after minBufferTime, from any start', () => {
  // A steady 1 Mbit/s in 2 s segments with a 2 s buffer: the whole run needs 8 Mbit by 6 s.
  assert.equal(dashBandwidth(Array(4).fill({ seconds: 2, bits: 2_000_000 }), 2), 1_000_000);
  // One heavy segment: starting there, its 6 Mbit must arrive within the 2 s buffer time.
  assert.equal(dashBandwidth([{ seconds: 2, bits: 1_000_000 }, { seconds: 2, bits: 6_000_000 }, { seconds: 2, bits: 1_000_000 }], 2), 3_000_000);
});
