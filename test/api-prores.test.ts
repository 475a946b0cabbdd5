/**
 * Issue 18: `mov_prores`, the output added through the output table alone (plus its encoder):
 * ProRes 422 HQ, 10-bit 4:2:2, PCM, in a QuickTime file with its index in front.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { asList, ffprobe, makeClip, startTestServer, untilFinal, type TestServer } from './helpers.ts';

/** The file's top-level QuickTime atoms, in order. */
async function topLevelAtoms(file: string): Promise<string[]> {
  const data = await fs.readFile(file);
  const atoms: string[] = [];
  for (let at = 0; at + 8 <= data.length;) {
    let size = data.readUInt32BE(at);
    if (size === 1) size = Number(data.readBigUInt64BE(at + 8));
    atoms.push(data.toString('latin1', at + 4, at + 8));
    if (size < 8) break;
    at += size;
  }
  return atoms;
}

describe('AddMedia with output mov_prores', () => {
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

  test('makes ProRes 422 HQ, yuv422p10le, with PCM audio, in a faststart .mov', async () => {
    const out = path.join(t.filesDir, 'out', 'master.mov');
    const added = await t.call('xml', {
      action: 'AddMedia', source: `file://${clip}`, format: { output: 'mov_prores', destination: `file://${out}` },
    });
    assert.equal(added.message, 'Added', JSON.stringify(added));
    const { final } = await untilFinal(t, added.MediaID as string);
    assert.equal(final.status, 'Finished', JSON.stringify(final));
    const [task] = asList(final.format);
    assert.equal(task!.output, 'mov_prores');

    const probe = await ffprobe(out);
    assert.match(probe.format.format_name ?? '', /^mov,/);
    const video = probe.streams.find((s) => s.codec_type === 'video');
    const audio = probe.streams.find((s) => s.codec_type === 'audio');
    assert.equal(video?.codec_name, 'prores');
    assert.equal(video?.profile, 'HQ');
    assert.equal(video?.pix_fmt, 'yuv422p10le');
    assert.deepEqual([video?.width, video?.height], [160, 120]);
    assert.equal(audio?.codec_name, 'pcm_s24le');
    const atoms = await topLevelAtoms(out);
    assert.ok(atoms.indexOf('moov') >= 0 && atoms.indexOf('moov') < atoms.indexOf('mdat'), `atoms: ${atoms.join(' ')}`);
  });

  test('refuses what ProRes cannot do, naming the field', async () => {
    const refused = async (fields: Record<string, string>): Promise<string> => {
      const r = await t.call('json', { action: 'AddMedia', source: `file://${clip}`, format: { output: 'mov_prores', ...fields } });
      return JSON.stringify(r.errors ?? r);
    };
    assert.match(await refused({ bitrate: '50000k' }), /bitrate cannot be used with prores_ks/);
    assert.match(await refused({ pix_format: 'yuv420p' }), /pix_format \\"yuv420p\\" cannot be used with output mov_prores; it takes yuv422p10le/);
    assert.match(await refused({ video_codec: 'libx264' }), /video_codec \\"libx264\\" cannot be used with output mov_prores/);
    assert.match(await refused({ audio_codec: 'aac' }), /audio_codec \\"aac\\" cannot be used with output mov_prores/);
  });
});
