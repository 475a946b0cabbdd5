/**
 * Decode once, encode many, through the real server: formats that can share a decode run as one
 * FFmpeg process, the others on their own, and a failing shared process does not sink its
 * healthy formats.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { asList, ffprobe, makeClip, startTestServer, untilFinal, type TestServer } from './helpers.ts';
import { readM3u8 } from './hls-helpers.ts';

describe('decode once, encode many', () => {
  let t: TestServer;
  let clip: string;

  before(async () => {
    t = await startTestServer();
    await fs.mkdir(t.filesDir, { recursive: true });
    clip = await makeClip(path.join(t.filesDir, 'clip.mp4'), { seconds: 2, size: '320x240' });
  });
  after(() => t.close());

  const logOf = async (id: string, taskId: string): Promise<string[]> =>
    asList((await t.call('json', { action: 'GetTaskStatus', mediaid: id, taskid: taskId })).list!.state).map((s: { message: string }) => s.message);

  test('mp4 + webm + advanced_hls + m4a of one source come from one FFmpeg process; a format with another start runs on its own', async () => {
    const out = path.join(t.filesDir, 'once');
    const { MediaID: id } = await t.call('json', {
      action: 'AddMedia',
      source: `file://${clip}`,
      format: [
        { output: 'mp4', size: '0x120', destination: `file://${out}/a.mp4` },
        { output: 'webm', size: '160x120', turbo: 'yes', destination: `file://${out}/a.webm` },
        { output: 'advanced_hls', segment_duration: '1', stream: [{ size: '0x240', bitrate: '400k' }, { size: '0x120', bitrate: '150k' }], destination: `file://${out}/hls/video.m3u8` },
        // 96k: the source's 128k AAC would otherwise be remuxed (smart pass-through) on its own.
        { output: 'm4a', audio_bitrate: '96k', destination: `file://${out}/a.m4a` },
        { output: 'mp4', start: '1', size: '0x120', destination: `file://${out}/late.mp4` },
      ],
    });
    const { final } = await untilFinal(t, id);
    assert.equal(final.status, 'Finished', JSON.stringify(final));
    const [mp4, webm, hls, m4a, late] = asList(final.format);
    for (const f of asList(final.format)) assert.equal(f.status, 'Finished', `${f.output}: ${f.description}`);

    // One process: the same command line on the four tasks, each told who it shared it with.
    for (const f of [webm, hls, m4a]) assert.equal(f!.command, mp4!.command);
    assert.equal((mp4!.command!.match(/ -i /g) ?? []).length, 1, 'one input, decoded once');
    assert.notEqual(late!.command, mp4!.command, 'another start cannot share the decode');
    assert.equal(late!.cpu_time !== undefined && late!.speed !== undefined, true);
    for (const f of [mp4, webm, hls, m4a]) {
      const others = [mp4, webm, hls, m4a].filter((x) => x !== f).map((x) => x!.id);
      const log = await logOf(id, f!.id);
      assert.ok(log.some((m) => m.includes(`shared with tasks ${others.join(', ')}`)), `${f!.id}: ${log.join(' | ')}`);
      assert.equal(f!.cpu_time, mp4!.cpu_time, 'the process CPU time is recorded on each of its tasks');
      assert.equal(f!.speed, mp4!.speed);
    }
    assert.ok(!(await logOf(id, late!.id)).some((m) => m.includes('shared with')));

    // Each output is what it should be.
    const a = await ffprobe(path.join(out, 'a.mp4'));
    assert.deepEqual(a.streams.map((s) => s.codec_name), ['h264', 'aac']);
    assert.equal(a.streams[0]!.height, 120);
    const w = await ffprobe(path.join(out, 'a.webm'));
    assert.deepEqual(w.streams.map((s) => s.codec_name).sort(), ['opus', 'vp9']);
    assert.deepEqual([w.streams.find((s) => s.codec_type === 'video')!.width, w.streams.find((s) => s.codec_type === 'video')!.height], [160, 120]);
    const m = await ffprobe(path.join(out, 'a.m4a'));
    assert.deepEqual(m.streams.map((s) => s.codec_name), ['aac']);
    for (const f of ['a.mp4', 'a.webm', 'a.m4a']) {
      const d = Number((await ffprobe(path.join(out, f))).format.duration);
      assert.ok(Math.abs(d - 2) < 0.15, `${f}: ${d} s`);
    }
    const l = await ffprobe(path.join(out, 'late.mp4'));
    assert.ok(Math.abs(Number(l.format.duration) - 1) < 0.15, `late.mp4: ${l.format.duration} s`);
    const master = await readM3u8(path.join(out, 'hls', 'video.m3u8'));
    assert.deepEqual(master.playlists?.map((p) => p.attributes.RESOLUTION), [{ width: 320, height: 240 }, { width: 160, height: 120 }]);
    for (const p of master.playlists ?? []) {
      const media = await readM3u8(path.join(out, 'hls', p.uri));
      assert.equal(media.segments.length, 2);
      const seg = await ffprobe(path.join(out, 'hls', path.dirname(p.uri), media.segments[0]!.uri));
      assert.equal(seg.streams[0]!.codec_name, 'h264');
    }
  });

  test('a shared process that fails is re-run task by task: the bad format fails alone, the others finish', async () => {
    const out = path.join(t.filesDir, 'bad');
    const { MediaID: id } = await t.call('json', {
      action: 'AddMedia',
      source: `file://${clip}`,
      format: [
        { output: 'mp4', destination: `file://${out}/good.mp4` },
        // HEVC level 1 cannot hold 320x240: x265 refuses to open, which ends the whole process.
        { output: 'mp4', video_codec: 'libx265', level: '10', destination: `file://${out}/bad.mp4` },
        { output: 'mp3', destination: `file://${out}/good.mp3` },
      ],
    });
    const { final } = await untilFinal(t, id);
    assert.equal(final.status, 'Error', 'a failed format makes the media end in Error');
    const [good, bad, mp3] = asList(final.format);
    assert.equal(good!.status, 'Finished', good!.description);
    assert.equal(mp3!.status, 'Finished', mp3!.description);
    assert.equal(bad!.status, 'Error');
    assert.match(bad!.description!, /FFmpeg exited with code/);
    assert.match(final.description!, /1 of 3 output\(s\) failed/);
    for (const f of [good, bad, mp3]) {
      const log = await logOf(id, f!.id);
      assert.ok(log.some((m) => /The shared FFmpeg process failed .*one by one/.test(m)), `${f!.id}: ${log.join(' | ')}`);
    }
    assert.notEqual(good!.command, mp3!.command, 'after the failure each ran its own process');
    assert.deepEqual((await ffprobe(path.join(out, 'good.mp4'))).streams.map((s) => s.codec_name), ['h264', 'aac']);
    assert.equal((await ffprobe(path.join(out, 'good.mp3'))).streams[0]!.codec_name, 'mp3');
    await assert.rejects(fs.stat(path.join(out, 'bad.mp4')));
  });
});
