/**
 * advanced_hls as produced: the master and media playlists read with m3u8-parser, every segment
 * probed with ffprobe.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { FieldMap } from '../src/domain/fields.ts';
import { ffmpeg } from './plan-fixture.ts';
import { measuredRate, probeSegment, readM3u8, encodeHls as encodeHlsOf } from './hls-helpers.ts';

let dir = '';
const SOURCE_FRAMES = 100; // 4 s at 25 fps

before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'encodery-hls-'));
  await ffmpeg(
    '-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=25:duration=4', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000:duration=4',
    '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-ac', '2', path.join(dir, 'src.mp4'),
  );
});
after(() => rm(dir, { recursive: true, force: true }));

/** One advanced_hls of the test source, alone, into its own folder. */
const encodeHls = (fields: FieldMap, name: string) => encodeHlsOf(path.join(dir, 'src.mp4'), path.join(dir, name), fields);

test('advanced_hls ladder: variants with BANDWIDTH, RESOLUTION and CODECS; shared audio; aligned keyframe segments; every frame kept', async () => {
  const { out, files } = await encodeHls({
    segment_duration: '2',
    stream: [
      { size: '0x360', bitrate: '600k' },
      { size: '0x180', bitrate: '200k', sub_path: 'low/180p' },
      { size: '0x240', video_only: 'yes' },
      { audio_only: 'yes', audio_bitrate: '64k', audio_channels_number: '1', sub_path: 'audio_mono' },
    ],
  }, 'ladder');

  assert.equal(files.at(-1), path.join(out, 'master.m3u8'), 'the master comes last');
  const master = await readM3u8(path.join(out, 'master.m3u8'));
  const variants = master.playlists ?? [];
  assert.deepEqual(variants.map((v) => v.uri), ['stream_0/index.m3u8', 'low/180p/index.m3u8', 'stream_2/index.m3u8', 'audio_mono/index.m3u8']);
  const [hd, low, silent, mono] = variants;

  // The streams with the same audio settings share one rendition, which is not a variant itself.
  const groups = master.mediaGroups?.AUDIO ?? {};
  assert.equal(Object.keys(groups).length, 2, JSON.stringify(groups));
  assert.equal(hd!.attributes.AUDIO, low!.attributes.AUDIO);
  assert.equal(silent!.attributes.AUDIO, undefined, 'video_only has no audio');
  const shared = Object.values(groups[hd!.attributes.AUDIO!]!)[0]!;
  assert.equal(shared.uri, 'audio/index.m3u8');
  assert.ok(!variants.some((v) => v.uri === 'audio/index.m3u8'));

  assert.deepEqual(hd!.attributes.RESOLUTION, { width: 640, height: 360 });
  assert.deepEqual(low!.attributes.RESOLUTION, { width: 320, height: 180 });
  assert.deepEqual(silent!.attributes.RESOLUTION, { width: 426, height: 240 });
  assert.equal(mono!.attributes.RESOLUTION, undefined);
  assert.match(hd!.attributes.CODECS!, /^avc1\.64[0-9a-f]{4},mp4a\.40\.2$/);
  assert.match(low!.attributes.CODECS!, /^avc1\.64[0-9a-f]{4},mp4a\.40\.2$/);
  assert.match(silent!.attributes.CODECS!, /^avc1\.64[0-9a-f]{4}$/);
  assert.equal(mono!.attributes.CODECS, 'mp4a.40.2');

  // BANDWIDTH is what the segments take: at least the variant's average plus its audio's.
  const audioRate = await measuredRate(path.join(out, 'audio/index.m3u8'));
  for (const v of variants) {
    const own = await measuredRate(path.join(out, v.uri));
    const withAudio = own + (v.attributes.AUDIO && v !== mono ? audioRate : 0);
    const bandwidth = v.attributes.BANDWIDTH!;
    const average = Number(v.attributes['AVERAGE-BANDWIDTH']);
    assert.ok(Math.abs(average - withAudio) <= withAudio * 0.01 + 1, `${v.uri}: AVERAGE-BANDWIDTH ${average}, measured ${withAudio}`);
    assert.ok(bandwidth >= average, `${v.uri}: BANDWIDTH ${bandwidth} < AVERAGE-BANDWIDTH ${average}`);
    assert.ok(bandwidth < average * 2, `${v.uri}: BANDWIDTH ${bandwidth} far above ${average}`);
  }
  assert.ok(hd!.attributes.BANDWIDTH! > low!.attributes.BANDWIDTH!, 'the ladder is ordered by its rates');

  // Every media playlist: VOD, complete, segments no longer than segment_duration.
  const videoFolders = ['stream_0', 'low/180p', 'stream_2'];
  const firstPts = new Map<number, number[]>();
  for (const folder of [...videoFolders, 'audio', 'audio_mono']) {
    const m = await readM3u8(path.join(out, folder, 'index.m3u8'));
    assert.equal(m.playlistType, 'VOD', folder);
    assert.equal(m.endList, true, folder);
    assert.ok(m.targetDuration! <= 2, `${folder}: target duration ${m.targetDuration}`);
    const total = m.segments.reduce((s, x) => s + x.duration, 0);
    assert.ok(Math.abs(total - 4) < 0.1, `${folder}: ${total} s in all`);
    for (const s of m.segments) assert.ok(s.duration <= 2 + 0.05, `${folder}/${s.uri}: ${s.duration} s`);
    const video = videoFolders.includes(folder);
    if (video) assert.equal(m.segments.length, 2, `${folder}: 4 s in 2 s segments`);

    let frames = 0;
    for (const [k, s] of m.segments.entries()) {
      const file = path.join(out, folder, s.uri);
      assert.ok(files.includes(file), `${file} is listed`);
      const facts = await probeSegment(file);
      if (video) {
        assert.ok(facts.firstKey, `${folder}/${s.uri} starts with a keyframe`);
        assert.deepEqual(facts.audio, [], `${folder}: the audio is in its own rendition`);
        firstPts.set(k, [...(firstPts.get(k) ?? []), facts.firstPts!]);
        frames += facts.frames;
      } else {
        assert.equal(facts.video, null);
        assert.deepEqual(facts.audio, [{ codec: 'aac', channels: folder === 'audio_mono' ? 1 : 2 }], `${folder}/${s.uri}`);
      }
    }
    if (video) assert.ok(Math.abs(frames - SOURCE_FRAMES) <= 1, `${folder}: ${frames} frames, the source has ${SOURCE_FRAMES}`);
  }
  // Segment k of every variant starts at the same time.
  for (const [k, times] of firstPts) {
    assert.ok(Math.max(...times) - Math.min(...times) < 0.001, `segment ${k + 1} starts at ${times.join(', ')}`);
  }
  // (HEVC makes the whole output fMP4: test/hls-hevc.test.ts.)
});

test('advanced_hls: segment_duration defaults to 6 s; a stream with framerate keeps keyframes on the segment grid', async () => {
  const { out } = await encodeHls({ turbo: 'yes', stream: [{ size: '0x180', framerate: '15' }, { size: '0x360' }] }, 'defaults');
  const master = await readM3u8(path.join(out, 'master.m3u8'));
  assert.equal(master.playlists?.length, 2);
  for (const [folder, fps] of [['stream_0', 15], ['stream_1', 25]] as const) {
    const m = await readM3u8(path.join(out, folder, 'index.m3u8'));
    assert.equal(m.segments.length, 1, '4 s fit in one 6 s segment');
    const facts = await probeSegment(path.join(out, folder, m.segments[0]!.uri));
    assert.ok(facts.firstKey);
    assert.ok(Math.abs(facts.frames - 4 * fps) <= 1, `${folder}: ${facts.frames} frames at ${fps} fps`);
  }
});
