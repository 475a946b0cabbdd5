/**
 * The quality report's HLS duration read from the playlists (quality/hls-duration.ts) instead of an
 * ffprobe process after the encode: it must be the very figure ffprobe reports for the same
 * master playlist, and anything that is not a finished playlist of our own folder is left to ffprobe.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { exec } from './helpers.ts';
import { hlsPlaylistDuration } from '../src/pipeline/quality/hls-duration.ts';
import { durationOf } from '../src/pipeline/quality/report.ts';
import { probeMedia } from '../src/pipeline/ffmpeg/probe.ts';

describe('HLS duration from the playlists', () => {
  let dir: string;
  let master: string;

  before(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'encodery-hls-duration-'));
    master = path.join(dir, 'master.m3u8');
    // 3.3 s at 25 fps in segments of about 1.3 s: fractional EXTINF values, a short last segment,
    // and an audio rendition that ends later than the video.
    await exec('ffmpeg', [
      '-hide_banner', '-loglevel', 'error', '-y',
      '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=25:duration=3.3',
      '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000:duration=3.5',
      '-filter_complex', '[0:v]split=2[a][b];[b]scale=160:120[c]',
      '-map', '[a]', '-map', '[c]', '-map', '1:a',
      '-c:v', 'libx264', '-preset', 'ultrafast', '-g', '10', '-c:a', 'aac',
      '-f', 'hls', '-hls_time', '1.3', '-hls_playlist_type', 'vod', '-master_pl_name', 'master.m3u8',
      '-var_stream_map', 'v:0,agroup:aud v:1,agroup:aud a:0,agroup:aud',
      '-hls_segment_filename', path.join(dir, 'v%v', 'seg_%03d.ts'), path.join(dir, 'v%v', 'index.m3u8'),
    ]);
  });
  after(() => fs.rm(dir, { recursive: true, force: true }));

  test('a master playlist and a media playlist measure what ffprobe measures for them', async () => {
    for (const playlist of [master, path.join(dir, 'v1', 'index.m3u8')]) {
      const listed = await hlsPlaylistDuration(playlist);
      const probed = (await probeMedia(playlist, { ffprobe: 'ffprobe', role: 'ownOutput' })).durationSec;
      assert.ok(listed !== null, `${playlist}: not read`);
      assert.ok(Math.abs(listed - probed) < 0.0005, `${playlist}: ${listed} s from the playlists, ffprobe ${probed} s`);
    }
    assert.ok(Math.abs((await hlsPlaylistDuration(master))! - 3.3) < 0.1);
    const figure = await durationOf(master, 3, { ffprobe: 'ffprobe' });
    assert.match(figure.method, /#EXTINF durations of the first variant's media playlist/);
    assert.ok(Math.abs(figure.value! - 0.3) < 0.1, `duration difference ${figure.value}`);
  });

  test('an unfinished playlist, a variant outside the folder or a URL, and other files are left to ffprobe', async () => {
    const text = await fs.readFile(path.join(dir, 'v0', 'index.m3u8'), 'utf8');
    const growing = path.join(dir, 'v0', 'growing.m3u8');
    await fs.writeFile(growing, text.replace('#EXT-X-ENDLIST', ''));
    assert.equal(await hlsPlaylistDuration(growing), null);
    const outside = path.join(dir, 'v0', 'outside.m3u8');
    await fs.writeFile(outside, '#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1000\n../../elsewhere/index.m3u8\n');
    assert.equal(await hlsPlaylistDuration(outside), null);
    const remote = path.join(dir, 'remote.m3u8');
    await fs.writeFile(remote, '#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1000\nhttp://127.0.0.1:9/index.m3u8\n');
    assert.equal(await hlsPlaylistDuration(remote), null);
    assert.equal(await hlsPlaylistDuration(path.join(dir, 'v0', 'seg_000.ts')), null);
    assert.equal(await hlsPlaylistDuration(path.join(dir, 'missing.m3u8')), null);
    // ffprobe is asked what the playlists cannot say; for a playlist without ENDLIST (live) it finds no duration either.
    const figure = await durationOf(growing, 3, { ffprobe: 'ffprobe' });
    assert.deepEqual(figure, { value: null, method: 'not measured: ffprobe found no duration in the output' });
  });
});
