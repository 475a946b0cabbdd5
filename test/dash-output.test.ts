/**
 * DASH and CMAF outputs through the real server: the MPD read with mpd-parser, the CMAF HLS
 * playlists with m3u8-parser, each rendition's init and media segments joined and decoded with
 * FFmpeg (frame count, keyframes on the segment grid, PSNR against the source).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parse as parseMpd } from 'mpd-parser';
import { USER, asList, exec, makeClip, parseXml, startReceiver, startTestServer, toXml, untilFinal, type TestServer, one } from './helpers.ts';
import { parseM3u8, readM3u8 } from './hls-helpers.ts';

const SECONDS = 3;
const FPS = 25;
const SOURCE_FRAMES = SECONDS * FPS;

describe('DASH and CMAF through the API', () => {
  let t: TestServer;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let clip: string;

  before(async () => {
    t = await startTestServer();
    receiver = await startReceiver();
    await fs.mkdir(t.filesDir, { recursive: true });
    clip = await makeClip(path.join(t.filesDir, 'clip.mp4'), { seconds: SECONDS, size: '320x180', rate: FPS });
  });
  after(async () => {
    await t.close();
    await receiver.close();
  });

  test('advanced_dash ladder: MPD at the destination, variants in their sub_path folders, aligned segments, every frame kept; a plain mpeg_dash shares the decode', async () => {
    const out = path.join(t.filesDir, 'dash');
    const { MediaID: id } = await t.call('json', {
      action: 'AddMedia',
      source: `file://${clip}`,
      format: [
        {
          output: 'advanced_dash', segment_duration: '1', turbo: 'yes',
          stream: [{ size: '0x180', bitrate: '300k', sub_path: 'hd' }, { size: '0x90', bitrate: '100k' }],
          destination: `file://${out}/video.mpd`,
        },
        { output: 'mpeg_dash', segment_duration: '2', size: '0x90', bitrate: '120k', turbo: 'yes' },
      ],
    });
    const { final } = await untilFinal(t, id);
    assert.equal(final.status, 'Finished', JSON.stringify(final));
    const [ladder, plain] = asList(final.format);
    assert.equal(ladder!.command, plain!.command, 'one FFmpeg process makes both');
    assert.equal(ladder!.destination, `file://${out}/video.mpd`, 'GetStatus lists the MPD at its destination');
    assert.equal(ladder!.destination_status, 'Saved');

    await assert.rejects(fs.stat(path.join(out, 'manifest.mpd')), 'the MPD goes to the destination name');
    const mpdFile = path.join(out, 'video.mpd');
    const mpdText = await fs.readFile(mpdFile, 'utf8');
    const mpd = parseMpd(mpdText, { manifestUri: pathToFileURL(mpdFile).href });
    const variants = [...mpd.playlists].sort((a, b) => b.attributes.BANDWIDTH! - a.attributes.BANDWIDTH!);
    assert.equal(variants.length, 2);
    const [hd, low] = variants as [MpdPlaylist, MpdPlaylist];
    assert.deepEqual(hd.attributes.RESOLUTION, { width: 320, height: 180 });
    assert.deepEqual(low.attributes.RESOLUTION, { width: 160, height: 90 });
    for (const v of variants) assert.match(v.attributes.CODECS!, /^avc1\.64[0-9a-f]{4}$/);
    assert.match(hd.segments[0]!.uri, /^hd\//);
    assert.match(low.segments[0]!.uri, /^stream_1\//);
    const audio = Object.values(mpd.mediaGroups.AUDIO ?? {}).flatMap((g) => Object.values(g)).flatMap((g) => g.playlists);
    assert.equal(audio.length, 1, 'the two variants share one audio representation');
    assert.equal(audio[0]!.attributes.CODECS, 'mp4a.40.2');
    assert.match(audio[0]!.segments[0]!.uri, /^audio\//);

    const minBuffer = Number(/minBufferTime="PT([\d.]+)S"/.exec(mpdText)![1]);
    for (const [v, folder, width] of [[hd, 'hd', 320], [low, 'stream_1', 160]] as const) {
      assert.equal(v.segments.length, SECONDS, `${folder}: ${SECONDS} s in 1 s segments`);
      for (const s of v.segments) assert.ok(s.duration <= 1 + 1e-6, `${folder}/${s.uri}: ${s.duration} s`);
      near(v.segments.reduce((sum, s) => sum + s.duration, 0), SECONDS, 0.01, `${folder}: total duration`);
      assert.equal(v.segments[0]!.map?.uri, `${folder}/init.m4s`);

      // @bandwidth is measured: the whole run must fit behind minBufferTime, and it is no more than all of it at once.
      const bits = (await sizes(v.segments.map((s) => fileURLToPath(s.resolvedUri)))) * 8;
      const bandwidth = v.attributes.BANDWIDTH!;
      assert.ok(bandwidth >= bits / (minBuffer + SECONDS) && bandwidth <= bits / minBuffer, `${folder}: @bandwidth ${bandwidth} for ${bits} bits`);

      const joined = await joinRendition(v, path.join(t.dataDir, `${folder}.mp4`));
      const facts = await decode(joined);
      assert.equal(facts.frames, SOURCE_FRAMES, `${folder}: every source frame`);
      assert.deepEqual(facts.size, [width, width === 320 ? 180 : 90]);
      assert.deepEqual(facts.keyTimes, [0, 1, 2], `${folder}: a keyframe opens each segment, and only there`);
    }
    assert.ok(hd.attributes.BANDWIDTH! > low.attributes.BANDWIDTH!);
    const audioJoined = await joinRendition(audio[0]!, path.join(t.dataDir, 'audio.mp4'));
    near(await duration(audioJoined), SECONDS, 0.05, 'audio length');

    // The small rung still looks like the source scaled down.
    const quality = await psnr(path.join(t.dataDir, 'stream_1.mp4'), clip, '160:90');
    assert.ok(quality > 32, `PSNR ${quality} dB`);

    // The plain mpeg_dash is kept on the server: its link is the MPD, and what it lists is served.
    const link: string = one(plain!.s3_destination!);
    assert.match(link, /\/download\/[A-Za-z0-9_-]{20,}\/manifest\.mpd$/);
    const res = await fetch(link);
    assert.equal(res.headers.get('content-type'), 'application/dash+xml');
    const kept = parseMpd(await res.text(), { manifestUri: link });
    assert.equal(kept.playlists.length, 1);
    assert.deepEqual(kept.playlists[0]!.attributes.RESOLUTION, { width: 160, height: 90 });
    assert.deepEqual(kept.playlists[0]!.segments.map((s) => Math.round(s.duration)), [2, 1]);
    const segment = await fetch(kept.playlists[0]!.segments[1]!.resolvedUri);
    assert.equal(segment.status, 200);
    assert.equal(segment.headers.get('content-type'), 'video/iso.segment');
  });

  test('advanced_fmp4: one set of segments behind an HLS master and an MPD; the destination extension picks the main manifest', async () => {
    const byMpd = path.join(t.filesDir, 'cmaf-mpd');
    const byM3u8 = path.join(t.filesDir, 'cmaf-m3u8');
    const { MediaID: id } = await t.call('xml', {
      action: 'AddMedia',
      source: `file://${clip}`,
      format: {
        output: 'advanced_fmp4', segment_duration: '1', turbo: 'yes',
        stream: [{ size: '0x180', bitrate: '300k', sub_path: 'avc' }, { size: '0x90', bitrate: '100k', video_codec: 'libx265', sub_path: 'hevc/low' }],
        destination: [`file://${byMpd}/video.mpd`, `file://${byM3u8}/video.m3u8`, `${receiver.url}/put/cmaf/video.mpd?sig=abc`],
      },
    });
    const { final } = await untilFinal(t, id);
    assert.equal(final.status, 'Finished', JSON.stringify(final));

    // Each destination has both manifests: its main one under the destination's name, the other beside it.
    assert.deepEqual(await fs.readFile(path.join(byMpd, 'video.mpd')), await fs.readFile(path.join(byM3u8, 'manifest.mpd')));
    assert.deepEqual(await fs.readFile(path.join(byMpd, 'master.m3u8')), await fs.readFile(path.join(byM3u8, 'video.m3u8')));
    await assert.rejects(fs.stat(path.join(byMpd, 'manifest.mpd')));
    await assert.rejects(fs.stat(path.join(byM3u8, 'master.m3u8')));
    const puts = receiver.received.filter((r) => r.method === 'PUT' && r.url.startsWith('/put/cmaf/'));
    assert.equal(puts.at(-1)!.url, '/put/cmaf/video.mpd?sig=abc', 'the main manifest is uploaded last');

    const lists = ['avc/index.m3u8', 'hevc/low/index.m3u8', 'audio/index.m3u8'];
    const task = final.format;
    assert.deepEqual(asList(one(task).destination), [
      ...[...lists, 'master.m3u8'].map((l) => `file://${byMpd}/${l}`), `file://${byMpd}/video.mpd`,
      ...[...lists, 'manifest.mpd'].map((l) => `file://${byM3u8}/${l}`), `file://${byM3u8}/video.m3u8`,
      ...[...lists, 'master.m3u8'].map((l) => `${receiver.url}/put/cmaf/${l}?sig=***`), `${receiver.url}/put/cmaf/video.mpd?sig=***`,
    ]);

    const masterFile = path.join(byM3u8, 'video.m3u8');
    const master = await readM3u8(masterFile);
    assert.deepEqual(master.playlists?.map((p) => p.uri), lists.slice(0, 2));
    const [avc, hevc] = master.playlists!;
    assert.deepEqual(avc!.attributes.RESOLUTION, { width: 320, height: 180 });
    assert.deepEqual(hevc!.attributes.RESOLUTION, { width: 160, height: 90 });
    assert.match(avc!.attributes.CODECS!, /^avc1\.64[0-9a-f]{4},mp4a\.40\.2$/);
    assert.match(hevc!.attributes.CODECS!, /^hvc1\.1\.6\.L\d+\.[0-9A-F]+(\.[0-9A-F]+)*,mp4a\.40\.2$/);
    assert.equal(avc!.attributes.AUDIO, hevc!.attributes.AUDIO);
    assert.equal(Object.values(master.mediaGroups!.AUDIO![avc!.attributes.AUDIO!]!)[0]!.uri, 'audio/index.m3u8');
    for (const v of [avc!, hevc!]) assert.ok(v.attributes.BANDWIDTH! >= Number(v.attributes['AVERAGE-BANDWIDTH']), v.uri);

    // The MPD names the same codecs and the same files as the HLS playlists.
    const mpdFile = path.join(byM3u8, 'manifest.mpd');
    const mpd = parseMpd(await fs.readFile(mpdFile, 'utf8'), { manifestUri: pathToFileURL(mpdFile).href });
    const mpdCodecs = mpd.playlists.map((p) => p.attributes.CODECS).sort();
    assert.deepEqual(mpdCodecs, [avc!.attributes.CODECS!.split(',')[0], hevc!.attributes.CODECS!.split(',')[0]].sort());
    const mpdAudio = Object.values(mpd.mediaGroups.AUDIO ?? {}).flatMap((g) => Object.values(g)).flatMap((g) => g.playlists);
    const fromMpd = new Set<string>();
    for (const p of [...mpd.playlists, ...mpdAudio]) {
      for (const s of p.segments) fromMpd.add(fileURLToPath(s.resolvedUri)).add(fileURLToPath(s.map!.resolvedUri));
    }
    const fromHls = new Set<string>();
    for (const list of lists) {
      const file = path.join(byM3u8, list);
      const media = await readM3u8(file);
      assert.equal(media.playlistType, 'VOD', list);
      assert.equal(media.endList, true, list);
      assert.equal(media.targetDuration, 1, list);
      near(media.segments.reduce((sum, s) => sum + s.duration, 0), SECONDS, 0.05, `${list}: total duration`);
      if (!list.startsWith('audio')) assert.deepEqual(media.segments.map((s) => s.duration), [1, 1, 1], list);
      for (const s of media.segments) {
        const map = (s as { map?: { uri: string } }).map;
        assert.equal(map?.uri, 'init.m4s', list);
        fromHls.add(path.join(path.dirname(file), s.uri)).add(path.join(path.dirname(file), map!.uri));
      }
    }
    assert.deepEqual([...fromHls].sort(), [...fromMpd].sort(), 'one set of segments for both manifests');

    const hevcPlaylist = mpd.playlists.find((p) => p.attributes.CODECS!.startsWith('hvc1'))!;
    const joined = await joinRendition(hevcPlaylist, path.join(t.dataDir, 'hevc.mp4'));
    const facts = await decode(joined);
    assert.equal(facts.codec, 'hevc/hvc1');
    assert.equal(facts.frames, SOURCE_FRAMES);
    assert.deepEqual(facts.keyTimes, [0, 1, 2]);
    // The PUT copies are the files written.
    const puttedMaster = puts.find((r) => r.url === '/put/cmaf/master.m3u8?sig=abc')!;
    assert.equal(parseM3u8(puttedMaster.body.toString()).playlists?.length, 2);
  });

  test('advanced_dash with VP9 + Opus and AV1 rungs: fMP4 segments with their codecs strings, keyframes on the grid', async () => {
    const out = path.join(t.filesDir, 'dash-open');
    const added = await t.call('json', {
      action: 'AddMedia',
      source: `file://${clip}`,
      format: {
        output: 'advanced_dash', segment_duration: '1', turbo: 'yes', audio_codec: 'libopus', audio_bitrate: '48k',
        stream: [{ size: '0x90', bitrate: '100k', video_codec: 'vp9', sub_path: 'vp9' }, { size: '0x90', bitrate: '100k', video_codec: 'av1', sub_path: 'av1' }],
        destination: `file://${out}/manifest.mpd`,
      },
    });
    const id = added.MediaID;
    assert.match(id, /^\d+$/, JSON.stringify(added));
    const { final } = await untilFinal(t, id);
    assert.equal(final.status, 'Finished', JSON.stringify(final));
    const mpdFile = path.join(out, 'manifest.mpd');
    const mpd = parseMpd(await fs.readFile(mpdFile, 'utf8'), { manifestUri: pathToFileURL(mpdFile).href });
    const codecs = new Map(mpd.playlists.map((p) => [p.segments[0]!.uri.split('/')[0], p]));
    assert.match(codecs.get('vp9')!.attributes.CODECS!, /^vp09\.00\.\d\d\.08$/);
    assert.match(codecs.get('av1')!.attributes.CODECS!, /^av01\.0\.\d\dM\.08$/);
    const audio = Object.values(mpd.mediaGroups.AUDIO ?? {}).flatMap((g) => Object.values(g)).flatMap((g) => g.playlists);
    assert.deepEqual(audio.map((p) => p.attributes.CODECS), ['opus']);
    for (const [name, p] of codecs) {
      const facts = await decode(await joinRendition(p, path.join(t.dataDir, `${name}-open.mp4`)));
      assert.equal(facts.codec.split('/')[0], name === 'vp9' ? 'vp9' : 'av1');
      assert.equal(facts.frames, SOURCE_FRAMES, name);
      assert.deepEqual(facts.keyTimes, [0, 1, 2], name);
    }
  });

  test('GetPreset cmaf_ladder: its streams as repeated <stream> elements; output_preset dash_ladder is accepted by AddMedia', async () => {
    const xml = parseXml((await t.raw('xml=' + encodeURIComponent(toXml('query', { userid: USER.id, userkey: USER.key, action: 'GetPreset', name: 'cmaf_ladder' })))).text);
    const streams = asList(xml.response.format.stream);
    assert.deepEqual(streams.map((s: { sub_path: string }) => s.sub_path), ['1080p', '720p', '480p', '360p']);
    assert.equal(xml.response.format.output, 'advanced_fmp4');
    const added = await t.call('json', { action: 'AddMedia', source: `file://${clip}`, format: { output_preset: 'dash_ladder' } });
    assert.match(added.MediaID, /^\d+$/, JSON.stringify(added));
    await t.call('json', { action: 'CancelMedia', mediaid: added.MediaID });
  });

  test('widevine with Widevine\'s own key server, or without keys, is refused at AddMedia, naming the field; nothing is stored', async () => {
    const before = (await t.call('json', { action: 'GetMediaList' })).media;
    const r = await t.call('json', {
      action: 'AddMedia', source: `file://${clip}`,
      format: { output: 'mpeg_dash', widevine: 'yes', widevine_content_id: 'abc' },
    });
    assert.match(one(r.errors!.error), /widevine_content_id is not supported/);
    const keyless = await t.call('json', { action: 'AddMedia', source: `file://${clip}`, format: { output: 'mpeg_dash', widevine: 'yes' } });
    assert.match(one(keyless.errors!.error), /protection needs its keys/);
    assert.deepEqual((await t.call('json', { action: 'GetMediaList' })).media, before);
  });
});

function near(actual: number, expected: number, tolerance: number, what: string): void {
  assert.ok(Math.abs(actual - expected) <= tolerance, `${what}: ${actual}, expected ${expected} ± ${tolerance}`);
}

async function sizes(files: string[]): Promise<number> {
  let total = 0;
  for (const f of files) total += (await fs.stat(f)).size;
  return total;
}

/** A representation's init segment and its media segments in order, as one playable file. */
async function joinRendition(p: MpdPlaylist, file: string): Promise<string> {
  const parts = [p.segments[0]!.map!.resolvedUri, ...p.segments.map((s) => s.resolvedUri)];
  await fs.writeFile(file, Buffer.concat(await Promise.all(parts.map((u) => fs.readFile(fileURLToPath(u))))));
  return file;
}

async function decode(file: string): Promise<{ frames: number; size: [number, number]; codec: string; keyTimes: number[] }> {
  const { stdout } = await exec('ffprobe', ['-v', 'error', '-select_streams', 'v:0', '-count_frames', '-show_streams', '-of', 'json', file]);
  const s = (JSON.parse(stdout) as { streams: Record<string, string>[] }).streams[0]!;
  const packets = await exec('ffprobe', ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'packet=pts_time,flags', '-of', 'csv=p=0', file]);
  const keyTimes = packets.stdout.trim().split('\n').map((l) => l.split(',')).filter(([, flags]) => flags?.startsWith('K')).map(([pts]) => Number(pts));
  return { frames: Number(s['nb_read_frames']), size: [Number(s['width']), Number(s['height'])], codec: `${s['codec_name']}/${s['codec_tag_string']}`, keyTimes };
}

async function duration(file: string): Promise<number> {
  const { stdout } = await exec('ffprobe', ['-v', 'error', '-show_entries', 'format=duration', '-of', 'csv=p=0', file]);
  return Number(stdout.trim());
}

/** Average PSNR (dB) of `file` against `reference` scaled to `size` (`W:H`). */
async function psnr(file: string, reference: string, size: string): Promise<number> {
  const { stderr } = await exec('ffmpeg', [
    '-hide_banner', '-i', file, '-i', reference, '-lavfi', `[1:v]scale=${size}[ref];[0:v][ref]psnr`, '-f', 'null', '-',
  ]);
  const m = /PSNR .*average:([\d.]+|inf)/.exec(stderr);
  if (!m) throw new Error(`no PSNR in: ${stderr.slice(-500)}`);
  return m[1] === 'inf' ? Infinity : Number(m[1]);
}
