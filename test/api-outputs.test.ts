/** Several of the newer outputs in one AddMedia, written to file:// destinations. */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { asList, ffprobe, makeClip, startTestServer, untilFinal, type TestServer } from './helpers.ts';

describe('AddMedia with the audio and video containers, gif and image', () => {
  let t: TestServer;
  let clip: string;

  before(async () => {
    t = await startTestServer();
    await fs.mkdir(t.filesDir, { recursive: true });
    clip = await makeClip(path.join(t.filesDir, 'clip.mp4'), { seconds: 1, size: '160x120' });
  });
  after(async () => {
    await t.close();
  });

  test('ogg, wav, flac, mov, mkv, mpegts, AV1 mp4, gif and image all finish', async () => {
    const out = path.join(t.filesDir, 'out');
    const dest = (name: string): string => `file://${out}/${name}`;
    const wanted: [Record<string, string>, string, string[]][] = [
      [{ output: 'ogg' }, 'a.ogg', ['vorbis']],
      [{ output: 'wav', audio_codec: 'pcm_s24le' }, 'a.wav', ['pcm_s24le']],
      [{ output: 'flac' }, 'a.flac', ['flac']],
      [{ output: 'mov' }, 'a.mov', ['h264', 'aac']],
      [{ output: 'mkv', video_codec: 'libvpx-vp9' }, 'a.mkv', ['vp9', 'opus']],
      [{ output: 'mpegts' }, 'a.ts', ['h264', 'aac']],
      [{ output: 'mp4', video_codec: 'libsvtav1' }, 'av1.mp4', ['av1', 'aac']],
      [{ output: 'gif', interval: '20', loop: '-1', size: '80x0' }, 'a.gif', ['gif']],
      [{ output: 'image', image_format: 'png', time: '0.5' }, 'a.png', ['png']],
    ];
    const added = await t.call('json', {
      action: 'AddMedia',
      source: `file://${clip}`,
      format: wanted.map(([fields, name]) => ({ ...fields, destination: dest(name) })),
    });
    assert.equal(added.message, 'Added', JSON.stringify(added));
    const { final } = await untilFinal(t, added.MediaID as string);
    assert.equal(final.status, 'Finished', JSON.stringify(final));
    const formats = asList(final.format);
    assert.equal(formats.length, wanted.length);
    for (const f of formats) assert.equal(f.status, 'Finished', `${f.output}: ${f.description}`);
    for (const [fields, name, codecs] of wanted) {
      const p = await ffprobe(path.join(out, name));
      assert.deepEqual(p.streams.map((s) => s.codec_name), codecs, `${fields['output']} → ${name}`);
    }
    const gif = (await ffprobe(path.join(out, 'a.gif'))).streams[0]!;
    assert.deepEqual([gif.width, gif.height], [80, 60]);
  });

  test('AV1 in mpegts is refused at AddMedia, naming video_codec', async () => {
    const r = await t.call('json', { action: 'AddMedia', source: `file://${clip}`, format: { output: 'mpegts', video_codec: 'libaom-av1' } });
    assert.match(JSON.stringify(r), /video_codec \\"libaom-av1\\" cannot be used with output mpegts/);
  });
});
