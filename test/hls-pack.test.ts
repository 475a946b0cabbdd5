/**
 * HLS pack_files (reference 4.6): the destination receives archives instead of the loose files;
 * unpacked with the system's tar and unzip, they hold the usual layout.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { parseFormat } from '../src/domain/format.ts';
import { destinationForLayout } from '../src/domain/destinations.ts';
import { exec, makeClip, startTestServer, untilFinal, type TestServer, one, asList } from './helpers.ts';
import { probeSegment, readM3u8 } from './hls-helpers.ts';

const LADDER = [
  { size: '0x90', bitrate: '100k' },
  { size: '0x60', bitrate: '60k', sub_path: 'small/60p' },
];

/** The master and every media playlist below `dir` parse, and every segment they list is there and plays. */
async function checkLayout(dir: string, master: string): Promise<string[]> {
  const m = await readM3u8(path.join(dir, master));
  const lists = [...(m.playlists ?? []).map((p) => p.uri), ...Object.values(m.mediaGroups?.AUDIO ?? {}).flatMap((g) => Object.values(g).map((r) => r.uri!))];
  for (const uri of lists) {
    const media = await readM3u8(path.join(dir, uri));
    assert.equal(media.endList, true, uri);
    assert.ok(media.segments.length >= 2, uri);
    for (const s of media.segments) {
      const facts = await probeSegment(path.join(dir, path.dirname(uri), s.uri));
      assert.ok(facts.video !== null || facts.audio.length > 0, `${uri}: ${s.uri} plays`);
    }
  }
  return lists;
}

describe('advanced_hls pack_files through the API', () => {
  let t: TestServer;
  let clip: string;

  before(async () => {
    t = await startTestServer();
    await fs.mkdir(t.filesDir, { recursive: true });
    clip = await makeClip(path.join(t.filesDir, 'clip.mp4'), { seconds: 2, size: '160x90' });
  });
  after(() => t.close());

  test('tar (the default): one archive at the destination with .m3u8 replaced, holding master, variant folders and segments', async () => {
    const out = path.join(t.filesDir, 'tar');
    const { MediaID: id } = await t.call('json', {
      action: 'AddMedia',
      source: `file://${clip}`,
      format: { output: 'advanced_hls', segment_duration: '1', turbo: 'yes', pack_files: 'yes', stream: LADDER, destination: `file://${out}/video.m3u8` },
    });
    const { final } = await untilFinal(t, id);
    assert.equal(final.status, 'Finished', JSON.stringify(final));
    assert.deepEqual(await fs.readdir(out), ['video.tar'], 'only the archive is delivered');
    assert.equal(one(final.format).destination, `file://${out}/video.tar`);
    assert.equal(one(final.format).destination_status, 'Saved');

    const { stdout } = await exec('tar', ['-tf', path.join(out, 'video.tar')]);
    const entries = stdout.trim().split('\n').sort();
    assert.ok(entries.includes('master.m3u8') && entries.includes('small/60p/index.m3u8') && entries.includes('stream_0/seg_00001.ts'), entries.join(' '));
    const unpacked = path.join(t.filesDir, 'tar-x');
    await fs.mkdir(unpacked);
    await exec('tar', ['-xf', path.join(out, 'video.tar'), '-C', unpacked]);
    const lists = await checkLayout(unpacked, 'master.m3u8');
    assert.deepEqual(lists, ['stream_0/index.m3u8', 'small/60p/index.m3u8', 'audio/index.m3u8']);
  });

  test('zip with pack_each_stream: one archive per variant beside the destination, the master\'s archive at it; unzipped together they are the layout', async () => {
    const out = path.join(t.filesDir, 'zip');
    const { MediaID: id } = await t.call('xml', {
      action: 'AddMedia',
      source: `file://${clip}`,
      format: {
        output: 'advanced_hls', segment_duration: '1', turbo: 'yes', pack_files: 'yes', pack_type: 'zip', pack_each_stream: 'yes',
        stream: LADDER, destination: `file://${out}/bundle.zip`,
      },
    });
    const { final } = await untilFinal(t, id);
    assert.equal(final.status, 'Finished', JSON.stringify(final));
    const delivered = (await exec('find', [out, '-type', 'f'])).stdout.trim().split('\n').map((f) => path.relative(out, f)).sort();
    assert.deepEqual(delivered, ['audio.zip', 'bundle.zip', 'small/60p.zip', 'stream_0.zip']);
    const listed = asList(one(final.format).destination).map((d) => path.relative(`file://${out}`, d)).sort();
    assert.deepEqual(listed, delivered, 'GetStatus names every archive');

    const unpacked = path.join(t.filesDir, 'zip-x');
    await fs.mkdir(unpacked);
    for (const z of delivered) await exec('unzip', ['-q', '-o', path.join(out, z), '-d', unpacked]);
    const { stdout } = await exec('unzip', ['-Z1', path.join(out, 'bundle.zip')]);
    assert.deepEqual(stdout.trim().split('\n'), ['master.m3u8'], 'the master\'s archive');
    await checkLayout(unpacked, 'master.m3u8');
  });

  test('kept on the server: the link is the archive', async () => {
    const { MediaID: id } = await t.call('json', {
      action: 'AddMedia',
      source: `file://${clip}`,
      format: { output: 'advanced_hls', segment_duration: '1', turbo: 'yes', pack_files: 'yes', stream: LADDER[0] },
    });
    const { final } = await untilFinal(t, id);
    assert.equal(final.status, 'Finished', JSON.stringify(final));
    const link: string = one(one(final.format).s3_destination!);
    assert.match(link, /\/clip\.tar$/);
    const res = await fetch(link);
    assert.equal(res.status, 200);
    const file = path.join(t.filesDir, 'kept.tar');
    await fs.writeFile(file, Buffer.from(await res.arrayBuffer()));
    const { stdout } = await exec('tar', ['-tf', file]);
    assert.ok(stdout.split('\n').includes('stream_0/index.m3u8'));
  });
});

describe('pack_files fields and archive URLs', () => {
  test('pack_type and pack_each_stream are checked and named', () => {
    const parse = (f: Record<string, string>) => parseFormat({ output: 'advanced_hls', stream: { size: '0x90' }, ...f });
    const zip = parse({ pack_files: 'yes', pack_type: 'ZIP', pack_each_stream: 'yes' });
    assert.ok(zip.ok && zip.spec.kind === 'hls');
    assert.deepEqual(zip.spec.pack, { type: 'zip', eachStream: true });
    const tar = parse({ pack_files: 'yes' });
    assert.ok(tar.ok && tar.spec.kind === 'hls');
    assert.deepEqual(tar.spec.pack, { type: 'tar', eachStream: false });
    const bad = parse({ pack_files: 'yes', pack_type: 'rar' });
    assert.ok(!bad.ok && /^pack_type "rar" is not tar or zip/.test(bad.error));
    const alone = parse({ pack_type: 'zip' });
    assert.ok(!alone.ok && /^pack_type is given but pack_files is not yes/.test(alone.error));
    const flag = parse({ pack_files: 'sure' });
    assert.ok(!flag.ok && /^pack_files "sure" must be yes or no/.test(flag.error));
  });

  test('the main archive replaces .m3u8, keeps .tar/.zip, goes into a folder; the query stays', () => {
    assert.equal(destinationForLayout('https://h/x/video.m3u8?sig=1', 'clip.tar', 'clip.tar'), 'https://h/x/video.tar?sig=1');
    assert.equal(destinationForLayout('https://h/x/video.M3U8', 'clip.zip', 'clip.zip'), 'https://h/x/video.zip');
    assert.equal(destinationForLayout('https://h/x/pack.zip', 'clip.zip', 'clip.zip'), 'https://h/x/pack.zip');
    assert.equal(destinationForLayout('https://h/x/', 'clip.tar', 'clip.tar'), 'https://h/x/clip.tar');
    assert.equal(destinationForLayout('https://h/x/video.m3u8', 'hd/720p.tar', 'clip.tar'), 'https://h/x/hd/720p.tar');
    assert.equal(destinationForLayout('https://h/x/video.m3u8', 'master.m3u8', 'master.m3u8'), 'https://h/x/video.m3u8');
  });
});
