/**
 * Container edits through the API: set_rotate writes a display matrix, metadata writes (or
 * copies) tags, strip_chapters drops chapters; formats differing only in these share a decode.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { asList, exec, makeClip, startTestServer, untilFinal, type TestServer } from './helpers.ts';

interface Probed {
  format: { tags?: Record<string, string> };
  streams: { codec_type: string; width?: number; height?: number; tags?: Record<string, string>; side_data_list?: { side_data_type: string; rotation?: number }[] }[];
  chapters: { start_time: string; tags?: Record<string, string> }[];
}

async function probeAll(file: string): Promise<Probed> {
  const { stdout } = await exec('ffprobe', ['-v', 'error', '-print_format', 'json', '-show_format', '-show_streams', '-show_chapters', file]);
  return JSON.parse(stdout) as Probed;
}

/** Tags by lower-case name: Matroska writes them upper-case. */
function tagsOf(p: Probed): Record<string, string> {
  return Object.fromEntries(Object.entries(p.format.tags ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
}

/** Clockwise degrees a player turns the picture (the display matrix holds counter-clockwise ones). */
function rotationOf(p: Probed): number | null {
  const v = p.streams.find((s) => s.codec_type === 'video');
  const m = v?.side_data_list?.find((d) => d.side_data_type === 'Display Matrix');
  return m?.rotation === undefined ? null : (((-m.rotation) % 360) + 360) % 360;
}

describe('container edits: rotation metadata, tags, chapters', () => {
  let t: TestServer;
  let src: string;
  let rotated: string;

  before(async () => {
    t = await startTestServer();
    await fs.mkdir(t.filesDir, { recursive: true });
    const plain = await makeClip(path.join(t.filesDir, 'plain.mp4'), { seconds: 2, size: '160x96' });
    const chapters = path.join(t.filesDir, 'chapters.txt');
    await fs.writeFile(chapters, [
      ';FFMETADATA1', 'title=Source title', 'artist=Source artist',
      '[CHAPTER]', 'TIMEBASE=1/1000', 'START=0', 'END=1000', 'title=Opening',
      '[CHAPTER]', 'TIMEBASE=1/1000', 'START=1000', 'END=2000', 'title=Ending', '',
    ].join('\n'));
    src = path.join(t.filesDir, 'src.mp4');
    await exec('ffmpeg', ['-v', 'error', '-y', '-i', plain, '-i', chapters, '-map', '0', '-map_metadata', '1', '-map_chapters', '1', '-c', 'copy', src]);
    // A phone-style file: stored 160x96, shown turned 90° clockwise.
    rotated = path.join(t.filesDir, 'rotated.mp4');
    await exec('ffmpeg', ['-v', 'error', '-y', '-i', plain, '-map', '0', '-c', 'copy', '-metadata:s:v:0', 'rotate=270', rotated]);
    assert.equal(rotationOf(await probeAll(rotated)), 90, 'the rotated source is made as intended');
  });
  after(() => t.close());

  test('set_rotate, metadata, metadata copy and strip_chapters, all from one decode', async () => {
    const out = path.join(t.filesDir, 'out');
    const dest = (name: string): string => `file://${out}/${name}`;
    const { MediaID: id } = await t.call('json', {
      action: 'AddMedia',
      source: `file://${src}`,
      format: [
        {
          output: 'mp4', set_rotate: '90', size: '0x96',
          metadata: { title: 'New title', author: 'An author', copyright: '(c) 2026 Someone', description: 'What it shows', album: 'A collection' },
          destination: dest('rot90.mp4'),
        },
        { output: 'mov', set_rotate: '270', strip_chapters: 'yes', size: '0x96', destination: dest('rot270.mov') },
        { output: 'mkv', metadata_copy: 'yes', size: '0x96', destination: dest('copy.mkv') },
        { output: 'm4a', metadata: { copy: '', title: 'Audio title' }, strip_chapters: 'yes', audio_bitrate: '64k', destination: dest('a.m4a') },
        { output: 'mp3', destination: dest('a.mp3') },
      ],
    });
    const { final } = await untilFinal(t, id);
    assert.equal(final.status, 'Finished', JSON.stringify(final));
    const formats = asList(final.format);
    for (const f of formats) assert.equal(f.status, 'Finished', `${f.output}: ${f.description}`);
    // Tags, chapters and rotation metadata touch no frame: every format shares the one decode.
    for (const f of formats.slice(1)) assert.ok(f.command!.startsWith(formats[0]!.command!.split(' && ')[0]!), `${f.output} shares the decode`);

    const rot90 = await probeAll(path.join(out, 'rot90.mp4'));
    assert.equal(rotationOf(rot90), 90);
    const v90 = rot90.streams.find((s) => s.codec_type === 'video')!;
    assert.deepEqual([v90.width, v90.height], [160, 96], 'the stored picture is not turned; players turn it');
    assert.deepEqual(
      { ...tagsOf(rot90), major_brand: undefined, minor_version: undefined, compatible_brands: undefined, encoder: undefined },
      {
        title: 'New title', artist: 'An author', copyright: '(c) 2026 Someone', description: 'What it shows', album: 'A collection',
        major_brand: undefined, minor_version: undefined, compatible_brands: undefined, encoder: undefined,
      },
      'only the asked tags, none of the source',
    );
    assert.deepEqual(rot90.chapters.map((c) => c.tags?.['title']), ['Opening', 'Ending'], 'chapters are kept by default');
    await fs.access(path.join(out, 'rot90.mp4'));
    assert.equal((await fs.readdir(out)).some((f) => f.includes('unrotated')), false);

    const rot270 = await probeAll(path.join(out, 'rot270.mov'));
    assert.equal(rotationOf(rot270), 270);
    assert.deepEqual(rot270.chapters, [], 'strip_chapters');
    assert.equal(tagsOf(rot270)['title'], undefined, 'no source tag without a copy');

    const copy = await probeAll(path.join(out, 'copy.mkv'));
    assert.equal(tagsOf(copy)['title'], 'Source title');
    assert.equal(tagsOf(copy)['artist'], 'Source artist');
    assert.equal(rotationOf(copy), null);
    assert.equal(copy.chapters.length, 2);

    const m4a = await probeAll(path.join(out, 'a.m4a'));
    assert.equal(tagsOf(m4a)['title'], 'Audio title', 'an asked tag wins over the copied one');
    assert.equal(tagsOf(m4a)['artist'], 'Source artist', 'the other source tags are copied');
    assert.deepEqual(m4a.chapters, []);

    const mp3 = await probeAll(path.join(out, 'a.mp3'));
    assert.equal(tagsOf(mp3)['title'], undefined);
    assert.equal(tagsOf(mp3)['artist'], undefined);
    assert.equal(mp3.chapters.length, 2);
  });

  test('set_rotate source keeps the stored picture and the source rotation; the default turns the picture', async () => {
    const out = path.join(t.filesDir, 'out-src');
    const { MediaID: id } = await t.call('json', {
      action: 'AddMedia',
      source: `file://${rotated}`,
      format: [
        { output: 'mp4', set_rotate: 'source', destination: `file://${out}/keep.mp4` },
        { output: 'mp4', bitrate: '300k', destination: `file://${out}/upright.mp4` },
      ],
    });
    const { final } = await untilFinal(t, id);
    assert.equal(final.status, 'Finished', JSON.stringify(final));
    const keep = await probeAll(path.join(out, 'keep.mp4'));
    assert.equal(rotationOf(keep), 90);
    const kv = keep.streams.find((s) => s.codec_type === 'video')!;
    assert.deepEqual([kv.width, kv.height], [160, 96]);
    const upright = await probeAll(path.join(out, 'upright.mp4'));
    assert.equal(rotationOf(upright), null);
    const uv = upright.streams.find((s) => s.codec_type === 'video')!;
    assert.deepEqual([uv.width, uv.height], [96, 160]);
  });
});
