/**
 * The legacy multi-bitrate outputs iphone_stream, ipad_stream and roku_hls (reference 4.6): comma
 * lists in one format become the streams of an HLS output, echoed under the name sent.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { parseFormat, type HlsSpec } from '../src/domain/format.ts';
import type { FieldMap } from '../src/domain/fields.ts';
import { makeClip, startTestServer, untilFinal, type TestServer, one } from './helpers.ts';
import { probeSegment, readM3u8 } from './hls-helpers.ts';

function hls(fields: FieldMap): HlsSpec {
  const r = parseFormat(fields);
  if (!r.ok) assert.fail(r.error);
  assert.equal(r.spec.kind, 'hls');
  return r.spec as HlsSpec;
}

function error(fields: FieldMap): string {
  const r = parseFormat(fields);
  assert.ok(!r.ok, `expected an error for ${JSON.stringify(fields)}`);
  return r.error;
}

describe('legacy HLS fields', () => {
  test('comma lists become one stream per position; a single value applies to all; segment_duration defaults to 9', () => {
    const spec = hls({ output: 'iphone_stream', size: '0x240, 0x360,0x480', bitrates: '200k,400k,800k', framerates: '15', keyframes: '45,60,90', audio_bitrate: '64k' });
    assert.equal(spec.output, 'iphone_stream');
    assert.equal(spec.segmentDuration, 9);
    assert.deepEqual(spec.streams.map((s) => [s.size?.height, s.bitrate, s.framerate, s.keyframe, s.audioBitrate, s.subPath]), [
      [240, 200_000, 15, 45, 64_000, 'stream_0'],
      [360, 400_000, 15, 60, 64_000, 'stream_1'],
      [480, 800_000, 15, 90, 64_000, 'stream_2'],
    ]);
    const roku = hls({ output: 'ROKU_HLS', bitrates: '300k,600k', segment_duration: '4', add_audio_only: 'yes', pack_files: 'yes', encryption: 'yes' });
    assert.equal(roku.output, 'roku_hls');
    assert.equal(roku.segmentDuration, 4);
    assert.deepEqual(roku.streams.map((s) => [s.bitrate, s.audioOnly, s.size]), [[300_000, false, null], [600_000, false, null], [null, true, null]]);
    assert.deepEqual(roku.pack, { type: 'tar', eachStream: false });
    assert.ok(roku.encryption);
    const single = hls({ output: 'ipad_stream', size: '0x720', bitrate: '2000k' });
    assert.deepEqual(single.streams.map((s) => [s.size?.height, s.bitrate]), [[720, 2_000_000]]);
  });

  test('mismatched lists and bad values are refused, naming the field', () => {
    assert.match(error({ output: 'iphone_stream', size: '0x240,0x360', bitrates: '200k,400k,800k' }), /^size has 2 values but bitrates has 3/);
    assert.match(error({ output: 'ipad_stream', bitrates: '200k,400k', keyframes: '1,2,3' }), /^bitrates has 2 values but keyframes has 3/);
    assert.match(error({ output: 'iphone_stream', bitrates: '200k,,400k' }), /^bitrates "200k,,400k" must be a comma list/);
    assert.match(error({ output: 'iphone_stream', size: '0x240,big' }), /^size "0x240,big" must be a comma list like 0x240,0x360; "big" is not a size/);
    assert.match(error({ output: 'roku_hls', framerates: '25,fast' }), /^framerates/);
    assert.match(error({ output: 'roku_hls', stream: { size: '0x240' } }), /^stream is for advanced_hls/);
    assert.match(error({ output: 'iphone_stream', bitrates: Array.from({ length: 16 }, (_, i) => `${100 + i}k`).join(',') }), /make 16 streams; iphone_stream takes 1 to 15/);
    assert.match(error({ output: 'iphone_stream', add_audio_only: 'maybe' }), /^add_audio_only "maybe" must be yes or no/);
  });
});

describe('iphone_stream through the API', () => {
  let t: TestServer;
  let clip: string;

  before(async () => {
    t = await startTestServer();
    await fs.mkdir(t.filesDir, { recursive: true });
    clip = await makeClip(path.join(t.filesDir, 'clip.mp4'), { seconds: 2, size: '160x90' });
  });
  after(() => t.close());

  test('delivered as HLS with the master at the destination, one variant per list position plus the audio-only one; echoed as iphone_stream', async () => {
    const out = path.join(t.filesDir, 'legacy');
    const { MediaID: id } = await t.call('xml', {
      action: 'AddMedia',
      source: `file://${clip}`,
      format: {
        output: 'iphone_stream', size: '0x60,0x90', bitrates: '60k,120k', segment_duration: '1', turbo: 'yes', add_audio_only: 'yes',
        destination: `file://${out}/video.m3u8`,
      },
    });
    const { final } = await untilFinal(t, id);
    assert.equal(final.status, 'Finished', JSON.stringify(final));
    assert.equal(one(final.format).output, 'iphone_stream');
    assert.equal(one(final.format).bitrates, '60k,120k', 'the fields are echoed as sent');
    const master = await readM3u8(path.join(out, 'video.m3u8'));
    assert.deepEqual(master.playlists?.map((p) => [p.uri, p.attributes.RESOLUTION?.height]), [
      ['stream_0/index.m3u8', 60], ['stream_1/index.m3u8', 90], ['audio_only/index.m3u8', undefined],
    ]);
    for (const folder of ['stream_0', 'stream_1']) {
      const media = await readM3u8(path.join(out, folder, 'index.m3u8'));
      assert.equal(media.segments.length, 2, `${folder}: 1 s segments`);
      const facts = await probeSegment(path.join(out, folder, media.segments[0]!.uri));
      assert.equal(facts.video?.codec, 'h264');
      assert.ok(facts.firstKey);
    }
    assert.deepEqual((await probeSegment(path.join(out, 'audio_only/seg_00001.ts'))).audio, [{ codec: 'aac', channels: 2 }]);
    assert.ok([one(final.format).destination].flat().includes(`file://${out}/stream_1/index.m3u8`), 'GetStatus lists the variants');
  });
});
