/**
 * Thumbnail storyboards (use_vtt) and image sharpening / remove_metadata through the real
 * server: the VTT read with webvtt-parser, every cue checked against the real sheet it names, one
 * tile compared with the source frame it stands for, images compared by PSNR.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import webvtt from 'webvtt-parser';
import { asList, exec, ffprobe, makeClip, startReceiver, startTestServer, untilFinal, type TestServer } from './helpers.ts';

const { WebVTTParser } = webvtt;

/** PSNR (dB) of two pictures, each given as ffmpeg input args and a filter chain to bring it to the compared size. */
async function psnr(a: { input: string[]; vf: string }, b: { input: string[]; vf: string }): Promise<number> {
  // One frame each: psnr would otherwise hold the picture against the video's following frames and average them all.
  const one = 'trim=end_frame=1,format=yuv420p';
  const graph = `[0:v]${a.vf},${one}[a];[1:v]${b.vf},${one}[b];[a][b]psnr=shortest=1`;
  const { stderr } = await exec('ffmpeg', ['-hide_banner', '-nostats', ...a.input, ...b.input, '-filter_complex', graph, '-f', 'null', '-']);
  const m = /average:(inf|[\d.]+)/.exec(stderr);
  assert.ok(m, stderr);
  return m[1] === 'inf' ? Infinity : Number(m[1]);
}

async function readVtt(file: string) {
  const tree = new WebVTTParser().parse(await fs.readFile(file, 'utf8'), 'metadata');
  assert.deepEqual(tree.errors, [], `${file} is valid WebVTT`);
  return tree.cues.map((c) => {
    const m = /^(.+)#xywh=(\d+),(\d+),(\d+),(\d+)$/.exec(c.text);
    assert.ok(m, `cue text ${c.text}`);
    const [x, y, w, h] = [m[2], m[3], m[4], m[5]].map(Number) as [number, number, number, number];
    return { start: c.startTime, end: c.endTime, sheet: m[1]!, x, y, w, h };
  });
}

/** JPEG marker segments before the scan: 0xfe is a comment, 0xe1 EXIF/XMP. */
async function jpegMarkers(file: string): Promise<number[]> {
  const d = await fs.readFile(file);
  const markers: number[] = [];
  for (let i = 2; i + 4 <= d.length && d[i] === 0xff; i += 2 + d.readUInt16BE(i + 2)) {
    markers.push(d[i + 1]!);
    if (d[i + 1] === 0xda) break;
  }
  return markers;
}

async function tags(file: string): Promise<Record<string, string>> {
  const { stdout } = await exec('ffprobe', ['-v', 'error', '-show_entries', 'format_tags:stream_tags', '-of', 'json', file]);
  const j = JSON.parse(stdout) as { format?: { tags?: Record<string, string> }; streams?: { tags?: Record<string, string> }[] };
  return { ...(j.format?.tags ?? {}), ...Object.assign({}, ...(j.streams ?? []).map((s) => s.tags ?? {})) };
}

describe('thumbnail sprite sheets with a WebVTT storyboard, and image sharpening and metadata', () => {
  let t: TestServer;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let clip: string;
  let out: string;
  let duration: number;
  let final: any;

  before(async () => {
    t = await startTestServer();
    receiver = await startReceiver();
    await fs.mkdir(t.filesDir, { recursive: true });
    out = path.join(t.filesDir, 'out');
    // 10 frames a second: cheap, and every storyboard moment (multiples of 0.5 s) is a frame.
    clip = await makeClip(path.join(t.filesDir, 'clip.mp4'), {
      seconds: 10, size: '320x180', rate: 10, audio: false, extra: ['-metadata', 'title=Secret title', '-metadata', 'comment=private note'],
    });
    duration = Number((await ffprobe(clip)).format.duration);
    const added = await t.call('json', {
      action: 'AddMedia',
      source: `file://${clip}`,
      format: [
        // 5 thumbnails (0, 2, 4, 6, 8 s) in 2x2 sheets: two sheets, the VTT beside them, at a
        // destination named like a file and in a folder of an HTTP server.
        {
          output: 'thumbnail', use_vtt: 'yes', time: '2!', vtt_line_size: '2', vtt_max_lines: '2', remove_metadata: 'yes',
          destination: [`file://${out}/a/thumbs.jpg`, `${receiver.url}/put/a/?sig=abc`],
        },
        // 4 thumbnails (every 2.5 s) of 128 px in rows of 3: one 3x2 sheet under the destination's
        // name; the VTT elsewhere, naming the sheet by its public address.
        {
          output: 'thumbnail', use_vtt: 'yes', time: '2.5!', width: '128', vtt_line_size: '3',
          destination: `file://${out}/b/sheets/thumbs.jpg`, vtt_destination: `file://${out}/b/vtt/story.vtt`, public_url: 'https://cdn.example.com/thumbs/',
        },
        // No destination: kept here, the default every 5 s.
        { output: 'thumbnail', use_vtt: 'yes' },
        { output: 'image', image_format: 'png', time: '3', destination: `file://${out}/plain.png` },
        { output: 'image', image_format: 'png', time: '3', sharpen_radius: '2', sharpen_sigma: '2', destination: `file://${out}/sharp.png` },
        { output: 'image', time: '3', destination: `file://${out}/plain.jpg` },
        { output: 'image', time: '3', remove_metadata: 'yes', destination: `file://${out}/bare.jpg` },
      ],
    });
    assert.equal(added.message, 'Added', JSON.stringify(added));
    ({ final } = await untilFinal(t, added.MediaID as string));
    assert.equal(final.status, 'Finished', JSON.stringify(final));
  });
  after(async () => {
    await t.close();
    await receiver.close();
  });

  test('one cue per thumbnail, contiguous to the end of the video, each inside a real sheet', async () => {
    const dir = path.join(out, 'a');
    assert.deepEqual((await fs.readdir(dir)).sort(), ['thumbs.vtt', 'thumbs_0001.jpg', 'thumbs_0002.jpg']);
    const cues = await readVtt(path.join(dir, 'thumbs.vtt'));
    assert.equal(cues.length, 5, 'thumbnails at 0, 2, 4, 6 and 8 s');
    assert.equal(new Set(cues.map((c) => c.sheet)).size, Math.ceil(5 / (2 * 2)));
    assert.equal(cues[0]!.start, 0);
    for (let i = 1; i < cues.length; i++) assert.equal(cues[i]!.start, cues[i - 1]!.end, `cue ${i} starts where ${i - 1} ends`);
    cues.forEach((c, i) => assert.equal(c.start, i * 2));
    assert.ok(Math.abs(cues.at(-1)!.end - duration) < 0.002, `last cue ends at ${cues.at(-1)!.end}, the video at ${duration}`);
    const sizes = new Map<string, [number, number]>();
    for (const c of cues) {
      if (!sizes.has(c.sheet)) {
        const s = (await ffprobe(path.join(dir, c.sheet))).streams[0]!;
        assert.equal(s.codec_name, 'mjpeg');
        sizes.set(c.sheet, [s.width!, s.height!]);
      }
      const [w, h] = sizes.get(c.sheet)!;
      assert.deepEqual([c.w, c.h], [160, 90], 'tiles are 160 wide, with the source aspect');
      assert.ok(c.x >= 0 && c.y >= 0 && c.x + c.w <= w && c.y + c.h <= h, `${c.sheet}#${c.x},${c.y},${c.w},${c.h} inside ${w}x${h}`);
    }
    assert.deepEqual([...sizes.values()], [[320, 180], [320, 180]]);
    // remove_metadata reaches the sheets: no comment or EXIF segment.
    for (const sheet of sizes.keys()) assert.deepEqual((await jpegMarkers(path.join(dir, sheet))).filter((m) => m === 0xfe || m === 0xe1), []);
  });

  test('a tile shows the source frame at its cue start', async () => {
    const dir = path.join(out, 'a');
    const cue = (await readVtt(path.join(dir, 'thumbs.vtt')))[3]!;
    const tile = { input: ['-i', path.join(dir, cue.sheet)], vf: `crop=${cue.w}:${cue.h}:${cue.x}:${cue.y}` };
    const frameAt = (s: number) => ({ input: ['-ss', String(s), '-i', clip], vf: `scale=${cue.w}:${cue.h}` });
    const right = await psnr(tile, frameAt(cue.start));
    assert.ok(right > 32, `tile vs the frame at ${cue.start} s: ${right} dB`);
    // The frames just before and after differ little; the tile must still be the one at the cue start.
    for (const s of [cue.start - 0.1, cue.start + 0.1]) {
      const wrong = await psnr(tile, frameAt(s));
      assert.ok(right > wrong + 6, `the frame at ${cue.start} s (${right} dB) fits better than the one at ${s} s (${wrong} dB)`);
    }
  });

  test('in a folder destination the sheets keep their own names, and so does the VTT beside them', async () => {
    const puts = new Map(receiver.received.filter((r) => r.method === 'PUT').map((r) => [r.url, r.body]));
    assert.deepEqual([...puts.keys()].sort(), ['clip.vtt', 'clip_sprite_0001.jpg', 'clip_sprite_0002.jpg'].map((n) => `/put/a/${n}?sig=abc`));
    const vtt = puts.get('/put/a/clip.vtt?sig=abc')!.toString();
    const names = [...vtt.matchAll(/^(.+)#xywh=/gm)].map((m) => m[1]);
    assert.deepEqual(names, ['clip_sprite_0001.jpg', 'clip_sprite_0001.jpg', 'clip_sprite_0001.jpg', 'clip_sprite_0001.jpg', 'clip_sprite_0002.jpg']);
    assert.deepEqual(puts.get('/put/a/clip_sprite_0002.jpg?sig=abc'), await fs.readFile(path.join(out, 'a', 'thumbs_0002.jpg')));
  });

  test('vtt_destination elsewhere: the VTT names the one sheet by its public_url; GetStatus lists both', async () => {
    const sheet = path.join(out, 'b', 'sheets', 'thumbs.jpg');
    const s = (await ffprobe(sheet)).streams[0]!;
    assert.deepEqual([s.width, s.height], [3 * 128, 2 * 72]);
    const cues = await readVtt(path.join(out, 'b', 'vtt', 'story.vtt'));
    assert.deepEqual(cues.map((c) => c.start), [0, 2.5, 5, 7.5]);
    assert.ok(cues.every((c) => c.sheet === 'https://cdn.example.com/thumbs/thumbs.jpg'), cues[0]!.sheet);
    assert.deepEqual(cues.map((c) => [c.x, c.y]), [[0, 0], [128, 0], [256, 0], [0, 72]]);
    await assert.rejects(fs.stat(path.join(out, 'b', 'sheets', 'thumbs.vtt')), 'no VTT beside the sheets');

    const [a, b] = asList(final.format);
    const http = `${receiver.url}/put/a`;
    assert.deepEqual(asList(a.destination), [`file://${out}/a/thumbs.jpg`, `file://${out}/a/thumbs.vtt`, `${http}/?sig=***`, `${http}/clip.vtt?sig=***`]);
    assert.deepEqual(asList(a.destination_status), ['Saved', 'Saved', 'Saved', 'Saved']);
    assert.deepEqual(asList(b.destination), [`file://${out}/b/sheets/thumbs.jpg`, `file://${out}/b/vtt/story.vtt`]);
    assert.deepEqual(asList(b.destination_status), ['Saved', 'Saved']);
    assert.equal(b.vtt_destination, `file://${out}/b/vtt/story.vtt`, 'the field is echoed');
  });

  test('kept on this server: the VTT link leads to its sheet through the relative name in each cue', async () => {
    const kept = asList(final.format)[2];
    const links = asList(kept.s3_destination) as string[];
    const vttLink = links.find((l) => l.endsWith('.vtt'));
    assert.ok(vttLink, JSON.stringify(links));
    const res = await fetch(vttLink);
    assert.equal(res.status, 200);
    const file = path.join(t.filesDir, 'kept.vtt');
    await fs.writeFile(file, await res.text());
    const cues = await readVtt(file);
    assert.deepEqual(cues.map((c) => [c.start, c.x]), [[0, 0], [5, 160]], 'the default: a thumbnail every 5 s');
    const sheet = await fetch(new URL(cues[0]!.sheet, vttLink));
    assert.equal(sheet.status, 200);
    const jpg = path.join(t.filesDir, 'kept.jpg');
    await fs.writeFile(jpg, Buffer.from(await sheet.arrayBuffer()));
    const s = (await ffprobe(jpg)).streams[0]!;
    assert.deepEqual([s.codec_name, s.width, s.height], ['mjpeg', 320, 90], 'one row of two tiles');
  });

  test('sharpen_radius/sharpen_sigma change the picture and keep it the source frame', async () => {
    const source = { input: ['-ss', '3', '-i', clip], vf: 'null' };
    const plain = { input: ['-i', path.join(out, 'plain.png')], vf: 'null' };
    const sharp = { input: ['-i', path.join(out, 'sharp.png')], vf: 'null' };
    const between = await psnr(plain, sharp);
    assert.ok(between < 40, `sharpened differs from plain: ${between} dB`);
    const fromSource = await psnr(sharp, source);
    assert.ok(fromSource > 25, `sharpened is still the source frame: ${fromSource} dB`);
    const otherFrame = await psnr(sharp, { input: ['-ss', '6', '-i', clip], vf: 'null' });
    assert.ok(fromSource > otherFrame, `closer to its own frame (${fromSource} dB) than to another (${otherFrame} dB)`);
  });

  test('remove_metadata leaves only the picture in the JPEG', async () => {
    const plain = await jpegMarkers(path.join(out, 'plain.jpg'));
    assert.ok(plain.includes(0xfe), 'without it FFmpeg writes its comment segment');
    const bare = await jpegMarkers(path.join(out, 'bare.jpg'));
    assert.deepEqual(bare.filter((m) => m === 0xfe || m === 0xe1 || (m >= 0xe2 && m <= 0xef)), [], `markers ${bare.map((m) => m.toString(16))}`);
    const bytes = await fs.readFile(path.join(out, 'bare.jpg'));
    for (const text of ['Lavc', 'Secret', 'private']) assert.equal(bytes.includes(text), false, `${text} is not in the file`);
    assert.deepEqual(await tags(path.join(out, 'bare.jpg')), {});
    assert.equal((await ffprobe(path.join(out, 'bare.jpg'))).streams[0]!.codec_name, 'mjpeg');
  });

  test('bad storyboard and image fields are refused at AddMedia, naming the field', async () => {
    const dest = `file://${out}/bad/x.jpg`;
    const cases: [Record<string, string>, RegExp][] = [
      [{ output: 'thumbnail', use_vtt: 'yes', width: '8193' }, /width "8193" is too large/],
      [{ output: 'thumbnail', use_vtt: 'yes', vtt_line_size: '0' }, /vtt_line_size "0" is out of range; use 1 to 50/],
      [{ output: 'thumbnail', use_vtt: 'yes', vtt_max_lines: '51' }, /vtt_max_lines "51" is out of range/],
      [{ output: 'thumbnail', use_vtt: 'yes', vtt_max_lines: 'many' }, /vtt_max_lines "many" is not a whole number/],
      [{ output: 'thumbnail', use_vtt: 'yes', time: '3' }, /time "3" is one moment/],
      [{ output: 'thumbnail', use_vtt: 'yes', time: '50%' }, /time "50%" is one moment/],
      [{ output: 'thumbnail', use_vtt: 'yes', width: '2000', vtt_line_size: '5' }, /vtt_line_size "5" with 2000-pixel tiles/],
      [{ output: 'thumbnail', vtt_destination: `file://${out}/bad/x.vtt` }, /vtt_destination is only used with use_vtt=yes/],
      [{ output: 'thumbnail', use_vtt: 'yes', vtt_destination: 'gopher://example.com/x.vtt' }, /vtt_destination: Unsupported URL scheme/],
      [{ output: 'thumbnail', use_vtt: 'yes', vtt_destination: 'file:///etc/x.vtt' }, /vtt_destination: The destination file:\/\/ path is outside the allowed file roots/],
      [{ output: 'thumbnail', use_vtt: 'yes', public_url: 'ftp://x/y' }, /public_url "ftp:\/\/x\/y" is not an http/],
      [{ output: 'image', sharpen_radius: '12' }, /sharpen_radius "12" is out of range/],
      [{ output: 'image', sharpen_sigma: '9' }, /sharpen_sigma "9" is out of range/],
      [{ output: 'image', sharpen_sigma: 'lots' }, /sharpen_sigma "lots" is not/],
      [{ output: 'image', width: '8193' }, /width "8193" is too large/],
    ];
    for (const [fields, expected] of cases) {
      const r = await t.call('json', { action: 'AddMedia', source: `file://${clip}`, format: { ...fields, destination: dest } });
      assert.match(String(r.errors?.error ?? JSON.stringify(r)), expected, JSON.stringify(fields));
      assert.equal(r.MediaID, undefined);
    }
    const alone = await t.call('json', { action: 'AddMedia', source: `file://${clip}`, format: { output: 'thumbnail', use_vtt: 'yes', vtt_destination: `file://${out}/bad/x.vtt` } });
    assert.match(String(alone.errors?.error), /vtt_destination needs a destination for the sprite sheets/);
  });
});
