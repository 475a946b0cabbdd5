/**
 * The allow-lists every FFmpeg and ffprobe input gets (pipeline/ffmpeg/inputs.ts), checked on the
 * real binaries: the sniff before the probe, and FFmpeg's own refusal behind it for what the
 * sniff does not recognise (issue 13 §1).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { buildArgs, filter, renderFilterGraph } from '../src/pipeline/ffmpeg/args.ts';
import { inputGuard, RefusedInputError, sniffNotMedia } from '../src/pipeline/ffmpeg/inputs.ts';
import { probeMedia } from '../src/pipeline/ffmpeg/probe.ts';
import { FfmpegError, runFfmpeg } from '../src/pipeline/ffmpeg/run.ts';
import { makeClip, tempDir } from './helpers.ts';

describe('FFmpeg input allow-lists', () => {
  let dir: string;
  let clip: string;
  before(async () => {
    dir = await tempDir('encodery-inputs-');
    clip = await makeClip(path.join(dir, 'clip.mp4'), { seconds: 1, size: '64x48', audio: false });
  });
  after(() => fs.rm(dir, { recursive: true, force: true }));

  const write = async (name: string, text: string): Promise<string> => {
    const file = path.join(dir, name);
    await fs.writeFile(file, text);
    return file;
  };

  test('the sniff names playlists and manifests whatever their file name, and passes media', async () => {
    assert.equal(await sniffNotMedia(await write('a', '\uFEFF  \n#EXTM3U\n#EXTINF:1,\nx.ts\n')), 'hls');
    assert.equal(await sniffNotMedia(await write('b.mp4', '<?xml version="1.0"?>\n<!-- x -->\n<dash:MPD xmlns:dash="urn:mpeg:dash:schema:mpd:2011">')), 'dash');
    assert.equal(await sniffNotMedia(await write('c.mov', 'ffconcat version 1.0\nfile /etc/passwd\n')), 'ffconcat');
    assert.equal(await sniffNotMedia(clip), null);
    assert.equal(await sniffNotMedia(await write('empty', '')), null);
  });

  test('a manifest the sniff does not see is refused by ffprobe itself, with the same reason', async () => {
    // FFmpeg's DASH probe looks for "<mpd" anywhere and in any case; the sniff only at the start.
    const file = await write('late.bin', `junk before\n<mpd profiles="urn:mpeg:dash:profile:isoff-live:2011"><BaseURL>file://${clip}</BaseURL></mpd>\n`);
    assert.equal(await sniffNotMedia(file), null);
    await assert.rejects(probeMedia(file, { ffprobe: 'ffprobe' }), (err: unknown) => {
      assert.ok(err instanceof RefusedInputError, String(err));
      assert.equal(err.message, 'The source is a DASH manifest; playlists and manifests are not supported as sources: give the media file itself.');
      return true;
    });
  });

  test('FFmpeg refuses a playlist input of any command built by buildArgs, with a reason', async () => {
    const playlist = await write('list.m3u8', `#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:1,\n${clip}\n#EXT-X-ENDLIST\n`);
    const out = path.join(dir, 'out.mp4');
    const args = buildArgs({ inputs: [{ path: playlist }], outputs: [{ url: `file:${out}`, options: ['-c', 'copy'] }] });
    await assert.rejects(runFfmpeg(args, { ffmpeg: 'ffmpeg' }), (err: unknown) => {
      assert.ok(err instanceof FfmpegError, String(err));
      assert.match(err.message, /^FFmpeg refused an input: it is an HLS playlist; playlists and manifests are not supported/);
      return true;
    });
    await assert.rejects(fs.stat(out), 'nothing written');
  });

  test('a picture named like a sequence is refused, a video with % in its name is read as itself', async () => {
    const pattern = path.join(dir, 'p%d.png');
    await fs.copyFile(clip, path.join(dir, 'p1.png'));
    await fs.writeFile(pattern, 'not read');
    await assert.rejects(probeMedia(pattern, { ffprobe: 'ffprobe' }), /The source is an image-sequence pattern/);
    const video = path.join(dir, '100%done.mp4');
    await fs.copyFile(clip, video);
    assert.equal((await probeMedia(video, { ffprobe: 'ffprobe' })).video?.width, 64);
  });

  test('pictures that image2 claims by their extension (a JPEG FFmpeg wrote) are read, as one file', async () => {
    for (const ext of ['jpg', 'png', 'bmp']) {
      const still = path.join(dir, `still.${ext}`);
      await runFfmpeg(buildArgs({ inputs: [{ path: clip, options: ['-ss', '0.2'] }], global: ['-y'], outputs: [{ url: still, options: ['-frames:v', '1', '-update', '1'] }] }), { ffmpeg: 'ffmpeg', durationSec: 0 });
      assert.equal((await probeMedia(still, { ffprobe: 'ffprobe' })).video?.width, 64, ext);
      // And as an FFmpeg input: the same allow-lists, image2 with pattern matching off.
      await runFfmpeg(buildArgs({ inputs: [{ path: still }], global: ['-y'], outputs: [{ url: path.join(dir, `copy-${ext}.png`), options: ['-frames:v', '1', '-update', '1'] }] }), { ffmpeg: 'ffmpeg', durationSec: 0 });
    }
  });

  test('only the join of split pieces may use the concat demuxer, and nothing may use hls, dash, image2 or lavfi', () => {
    const formats = (role: Parameters<typeof inputGuard>[0]): string[] => {
      const args = inputGuard(role);
      assert.equal(args[args.indexOf('-protocol_whitelist') + 1], 'file', role);
      return args[args.indexOf('-format_whitelist') + 1]!.split(',');
    };
    for (const banned of ['hls', 'dash', 'concat', 'image2', 'lavfi', 'imf', 'webm_dash_manifest', 'sdp', 'rtp', 'rtsp']) {
      assert.ok(!formats('media').includes(banned), `media: ${banned}`);
    }
    assert.ok(formats('joinList').includes('concat'));
    assert.ok(!formats('joinList').includes('hls'));
  });

  test('filters that open files by name cannot be built (ass only for a file Encodery wrote)', () => {
    for (const name of ['movie', 'amovie', 'subtitles', 'ass']) {
      assert.throws(() => renderFilterGraph([{ inputs: [], filters: [filter(name, { filename: '/etc/passwd' })], outputs: ['v'] }]), /opens files by name/);
      if (name !== 'ass') assert.throws(() => renderFilterGraph([{ inputs: [], filters: [{ name, args: { filename: '/x' }, ownFile: true }], outputs: ['v'] }]), /opens files by name/);
    }
    assert.equal(renderFilterGraph([{ inputs: ['a'], filters: [{ name: 'ass', args: { filename: '/s/burn-1-0.ass' }, ownFile: true }], outputs: ['v'] }]), '[a]ass=filename=/s/burn-1-0.ass[v]');
  });

  test('caption inputs: the demuxer is forced and is the only one allowed', () => {
    for (const [role, format] of [['captionText', 'webvtt'], ['sccCaptions', 'scc']] as const) {
      const args = inputGuard(role, '/s/captions-0.png');
      assert.deepEqual(args, ['-f', format, '-protocol_whitelist', 'file', '-format_whitelist', format], role);
    }
  });
});
