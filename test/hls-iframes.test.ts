/**
 * add_iframe_stream (I-frame-only playlists) and HEVC variants (fMP4 segments, hvc1), as
 * produced: playlists read with m3u8-parser, byte ranges cut from the segments and decoded with
 * ffprobe.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseFormat } from '../src/domain/format.ts';
import type { FieldMap } from '../src/domain/fields.ts';
import { ffmpeg, run } from './plan-fixture.ts';
import { parseM3u8, readM3u8, encodeHls as encodeHlsOf } from './hls-helpers.ts';

let dir = '';

before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'encodery-hls-iframes-'));
  await ffmpeg(
    '-f', 'lavfi', '-i', 'testsrc2=size=320x180:rate=25:duration=4', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000:duration=4',
    '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-ac', '2', path.join(dir, 'src.mp4'),
  );
});
after(() => rm(dir, { recursive: true, force: true }));

/** One advanced_hls of the test source, alone, into its own folder. */
const encodeHls = (fields: FieldMap, name: string) => encodeHlsOf(path.join(dir, 'src.mp4'), path.join(dir, name), fields);

interface IframePlaylist {
  iFramesOnly?: boolean;
  segments: { uri: string; duration: number; byterange?: { length: number; offset: number }; map?: { uri: string; byterange?: { length: number; offset: number } } }[];
}

interface IframeMaster {
  iFramePlaylists?: { uri: string; attributes: { BANDWIDTH?: number; RESOLUTION?: { width: number; height: number }; CODECS?: string } }[];
}

/** Frames ffprobe decodes from a file: key flag and picture type. */
async function frames(file: string): Promise<{ key_frame: number; pict_type: string }[]> {
  const { stdout } = await run('ffprobe', ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'frame=key_frame,pict_type', '-of', 'json', file]);
  return (JSON.parse(stdout) as { frames: { key_frame: number; pict_type: string }[] }).frames.map((f) => ({ key_frame: f.key_frame, pict_type: f.pict_type }));
}

test('add_iframe_stream: an I-frame playlist of byte ranges into the TS segments, each range one decodable keyframe; listed in the master', async () => {
  // 1 s GOPs in 2 s segments: the second keyframe of each segment is in its middle.
  const { out, files } = await encodeHls({
    segment_duration: '2', turbo: 'yes',
    stream: [{ size: '0x180', bitrate: '300k', keyframe: '25', add_iframe_stream: 'yes' }, { size: '0x90', bitrate: '100k' }],
  }, 'iframes');
  const master = await readM3u8(path.join(out, 'master.m3u8'));
  const iframeLists = (master as unknown as IframeMaster).iFramePlaylists ?? [];
  assert.equal(iframeLists.length, 1, 'only the stream that asked for it');
  const entry = iframeLists[0]!;
  assert.equal(entry.uri, 'stream_0/iframes.m3u8');
  assert.deepEqual(entry.attributes.RESOLUTION, { width: 320, height: 180 });
  assert.match(entry.attributes.CODECS!, /^avc1\.[0-9a-f]{6}$/, 'the video codec only');
  assert.ok(files.includes(path.join(out, 'stream_0/iframes.m3u8')), 'the I-frame playlist is delivered');
  assert.ok(files.indexOf(path.join(out, 'stream_0/iframes.m3u8')) < files.length - 1, 'before the master');
  assert.equal(master.playlists?.length, 2, 'the variants are unchanged');

  const text = await readFile(path.join(out, entry.uri), 'utf8');
  const iframes = parseM3u8(text) as unknown as IframePlaylist;
  assert.equal(iframes.iFramesOnly, true);
  const media = await readM3u8(path.join(out, 'stream_0/index.m3u8'));
  // Every keyframe of every segment, in order.
  let expected = 0;
  for (const s of media.segments) expected += (await frames(path.join(out, 'stream_0', s.uri))).filter((f) => f.key_frame === 1).length;
  assert.equal(expected, 4, '4 s of 1 s GOPs');
  assert.equal(iframes.segments.length, expected);
  const total = iframes.segments.reduce((sum, s) => sum + s.duration, 0);
  assert.ok(Math.abs(total - 4) < 0.05, `the I-frames cover ${total} s`);
  for (const s of iframes.segments) assert.ok(Math.abs(s.duration - 1) < 0.05, `${s.duration} s`);
  assert.ok(iframes.segments.some((s) => s.byterange!.offset > 376 * 2), 'ranges in the middle of segments too');

  for (const [i, s] of iframes.segments.entries()) {
    const segment = await readFile(path.join(out, 'stream_0', s.uri));
    const { offset, length } = s.byterange!;
    assert.ok(offset + length <= segment.length);
    const map = s.map!;
    assert.equal(map.byterange!.offset, 0);
    const head = (await readFile(path.join(out, 'stream_0', map.uri))).subarray(0, map.byterange!.length);
    const file = path.join(dir, `range-${i}.ts`);
    await writeFile(file, Buffer.concat([head, segment.subarray(offset, offset + length)]));
    const decoded = await frames(file);
    assert.deepEqual(decoded, [{ key_frame: 1, pict_type: 'I' }], `range ${i + 1} (${length}@${offset} of ${s.uri}) is one keyframe`);
  }
  const bits = iframes.segments.reduce((sum, s) => sum + s.byterange!.length * 8, 0);
  assert.ok(entry.attributes.BANDWIDTH! >= bits / total - 1, 'BANDWIDTH is at least the I-frames\' average rate');
});

test('an HEVC stream makes the output fMP4: init sections and segments listed, tagged hvc1, CODECS hvc1 in the master', async () => {
  const { out, files } = await encodeHls({
    segment_duration: '2', turbo: 'yes',
    stream: [{ size: '0x180', bitrate: '300k' }, { size: '0x90', bitrate: '80k', video_codec: 'libx265', sub_path: 'hevc' }],
  }, 'hevc');
  const master = await readM3u8(path.join(out, 'master.m3u8'));
  const [avc, hevc] = master.playlists ?? [];
  // x265 Main: compatible with Main and Main 10 (flags 0x60000000 reversed = 6), progressive and
  // frame-only (constraint byte 0x90), at the level ffprobe reads, as ISO/IEC 14496-15 Annex E spells it.
  const hevcInit = /#EXT-X-MAP:URI="([^"]+)"/.exec(await readFile(path.join(out, 'hevc/index.m3u8'), 'utf8'))![1]!;
  const { stdout: levelJson } = await run('ffprobe', ['-v', 'error', '-show_entries', 'stream=profile,level', '-of', 'json', path.join(out, 'hevc', hevcInit)]);
  const [{ profile, level }] = (JSON.parse(levelJson) as { streams: [{ profile: string; level: number }] }).streams;
  assert.equal(profile, 'Main');
  assert.equal(hevc!.attributes.CODECS, `hvc1.1.6.L${level}.90,mp4a.40.2`);
  assert.match(avc!.attributes.CODECS!, /^avc1\./);
  for (const [folder, codec, tag] of [['hevc', 'hevc', 'hvc1'], ['stream_0', 'h264', 'avc1'], ['audio', 'aac', 'mp4a']] as const) {
    const text = await readFile(path.join(out, folder, 'index.m3u8'), 'utf8');
    const init = /#EXT-X-MAP:URI="([^"]+)"/.exec(text)?.[1];
    assert.ok(init, `${folder}: an init section`);
    assert.ok(files.includes(path.join(out, folder, init)), `${folder}: the init section is delivered`);
    const media = parseM3u8(text);
    // Video cut exactly every 2 s; AAC frames do not fall on that grid, so its last segment may be a sliver.
    if (folder === 'audio') assert.ok(media.segments.length >= 2, text);
    else assert.equal(media.segments.length, 2, `${folder}: ${text}`);
    // An fMP4 segment plays after its init section.
    const joined = path.join(dir, `${folder.replace('/', '_')}-joined.mp4`);
    await writeFile(joined, Buffer.concat([await readFile(path.join(out, folder, init)), await readFile(path.join(out, folder, media.segments[1]!.uri))]));
    const { stdout } = await run('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_name,codec_tag_string', '-of', 'json', joined]);
    const [stream] = (JSON.parse(stdout) as { streams: { codec_name: string; codec_tag_string: string }[] }).streams;
    assert.deepEqual(stream, { codec_name: codec, codec_tag_string: tag }, folder);
    assert.ok(media.segments.every((s) => s.uri.endsWith('.m4s')));
  }
});

test('add_iframe_stream on the format applies to every video stream that does not say otherwise', () => {
  const r = parseFormat({
    output: 'advanced_hls', add_iframe_stream: 'yes',
    stream: [{ size: '0x90' }, { size: '0x60', add_iframe_stream: 'no' }, { audio_only: 'yes' }],
  });
  assert.ok(r.ok && r.spec.kind === 'hls', JSON.stringify(r));
  assert.deepEqual(r.spec.streams.map((s) => s.iframeStream), [true, false, false]);
});

test('add_iframe_stream with an HEVC (fMP4) output is refused, naming the field', () => {
  const r = parseFormat({ output: 'advanced_hls', stream: [{ size: '0x90', video_codec: 'libx265' }, { size: '0x60', add_iframe_stream: 'yes' }] });
  assert.ok(!r.ok && /^stream 2: add_iframe_stream needs MPEG-TS segments/.test(r.error), JSON.stringify(r));
  const audio = parseFormat({ output: 'advanced_hls', stream: { audio_only: 'yes', add_iframe_stream: 'yes' } });
  assert.ok(!audio.ok && /^stream 1: add_iframe_stream needs a picture/.test(audio.error));
});
