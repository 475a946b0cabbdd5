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

test('widevine, DRM and encryption are refused, naming the field, rather than making clear content', () => {
  refused({ output: 'mpeg_dash', widevine: 'yes', widevine_key_server_url: 'https://license.example/' }, /^widevine is not supported/);
  refused({ output: 'mpeg_dash', widevine: 'maybe' }, /^widevine "maybe" must be yes or no/);
  refused({ output: 'advanced_dash', stream: { widevine: 'yes' } }, /^widevine in a stream is not supported/);
  refused({ output: 'advanced_fmp4', encryption: 'yes', stream: {} }, /^encryption is not supported for advanced_fmp4/);
  refused({ output: 'advanced_dash', playready_drm: 'yes', stream: {} }, /^playready_drm is not supported/);
  refused({ output: 'advanced_dash', stream: { drm: 'yes' } }, /^drm in a stream is not supported/);
  // widevine=no (and its other fields left over) is plain content.
  assert.equal(ok({ output: 'mpeg_dash', widevine: 'no', widevine_content_id: 'x' }).streams.length, 1);
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
