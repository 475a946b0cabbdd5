/**
 * advanced_hls through the real server: delivered with its layout to file:// and http(s)://,
 * listed per variant in GetStatus, kept and served under /download, and refused at AddMedia
 * when it asks for too much.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { asList, makeClip, startReceiver, startTestServer, untilFinal, type TestServer, one } from './helpers.ts';
import { parseM3u8, readM3u8 } from './hls-helpers.ts';

const LADDER = [
  { size: '0x240', bitrate: '300k' },
  { size: '0x120', bitrate: '120k', sub_path: 'low' },
];

describe('advanced_hls through the API', () => {
  let t: TestServer;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let clip: string;

  before(async () => {
    t = await startTestServer();
    receiver = await startReceiver();
    await fs.mkdir(t.filesDir, { recursive: true });
    clip = await makeClip(path.join(t.filesDir, 'clip.mp4'), { seconds: 3, size: '320x240' });
  });
  after(async () => {
    await t.close();
    await receiver.close();
  });

  test('delivered to file:// and to an http PUT receiver with the master at the destination and the variants beside it', async () => {
    const out = path.join(t.filesDir, 'out');
    const { MediaID: id } = await t.call('xml', {
      action: 'AddMedia',
      source: `file://${clip}`,
      format: {
        output: 'advanced_hls',
        segment_duration: '2',
        turbo: 'yes',
        stream: LADDER,
        destination: [`file://${out}/video.m3u8`, `${receiver.url}/put/hls/video.m3u8?sig=abc`],
      },
    });
    const { final } = await untilFinal(t, id);
    assert.equal(final.status, 'Finished', JSON.stringify(final));
    const task = final.format;

    // The file:// layout.
    const expected = [
      'video.m3u8',
      'stream_0/index.m3u8', 'stream_0/seg_00001.ts', 'stream_0/seg_00002.ts',
      'low/index.m3u8', 'low/seg_00001.ts', 'low/seg_00002.ts',
      'audio/index.m3u8',
    ];
    for (const f of expected) await fs.stat(path.join(out, f));
    const master = await readM3u8(path.join(out, 'video.m3u8'));
    assert.deepEqual(master.playlists?.map((p) => p.uri), ['stream_0/index.m3u8', 'low/index.m3u8']);
    const audio = await readM3u8(path.join(out, 'audio/index.m3u8'));
    assert.ok(audio.segments.length >= 2);
    for (const s of audio.segments) await fs.stat(path.join(out, 'audio', s.uri));

    // The same files by PUT, each at its place beside the master, the master last.
    const puts = receiver.received.filter((r) => r.method === 'PUT' && r.url.startsWith('/put/hls/'));
    const names = puts.map((r) => r.url.replace('/put/hls/', '').replace('?sig=abc', ''));
    assert.equal(names.at(-1), 'video.m3u8', 'the master is uploaded last');
    assert.ok(puts.every((r) => r.url.endsWith('?sig=abc')), 'the query goes with every file');
    const local = (await walk(out)).sort();
    assert.deepEqual([...names].sort(), local.filter((f) => !path.basename(f).startsWith('.')));
    for (const r of puts) {
      const name = r.url.replace('/put/hls/', '').replace('?sig=abc', '');
      assert.deepEqual(r.body, await fs.readFile(path.join(out, name)), name);
    }
    assert.equal(parseM3u8(puts.at(-1)!.body.toString()).playlists?.length, 2);

    // GetStatus: per destination, the media playlists and then the master, with its status.
    const file = `file://${out}`;
    const http = `${receiver.url}/put/hls`;
    const lists = ['stream_0/index.m3u8', 'low/index.m3u8', 'audio/index.m3u8'];
    assert.deepEqual(one(task).destination, [
      ...lists.map((l) => `${file}/${l}`), `${file}/video.m3u8`,
      // (a signature in the query is a secret: redacted in replies)
      ...lists.map((l) => `${http}/${l}?sig=***`), `${http}/video.m3u8?sig=***`,
    ]);
    assert.deepEqual(one(task).destination_status, Array(8).fill('Saved'));
    assert.equal(one(task).output, 'advanced_hls');
    assert.equal(asList(one(task).stream).length, 2, 'the streams are echoed');
  });

  test('kept on the server: s3_destination is the master, and its relative links resolve under /download', async () => {
    const { MediaID: id } = await t.call('json', {
      action: 'AddMedia',
      source: `file://${clip}`,
      format: { output: 'advanced_hls', segment_duration: '2', turbo: 'yes', stream: LADDER },
    });
    const { final } = await untilFinal(t, id);
    assert.equal(final.status, 'Finished', JSON.stringify(final));
    const link: string = one(one(final.format).s3_destination!);
    assert.match(link, /\/download\/[A-Za-z0-9_-]{20,}\/master\.m3u8$/);
    const res = await fetch(link);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'application/vnd.apple.mpegurl');
    const master = parseM3u8(await res.text());
    for (const p of master.playlists ?? []) {
      const variantUrl = new URL(p.uri, link);
      const media = parseM3u8(await (await fetch(variantUrl)).text());
      assert.equal(media.segments.length, 2);
      const segment = await fetch(new URL(media.segments[0]!.uri, variantUrl));
      assert.equal(segment.status, 200);
      assert.equal(segment.headers.get('content-type'), 'video/mp2t');
      assert.equal((await segment.arrayBuffer()).byteLength % 188, 0, 'whole MPEG-TS packets');
    }
    // Sent as written (fetch would normalise the dots away): nothing outside the task's own files.
    const base = new URL(link).pathname.replace(/master\.m3u8$/, '');
    for (const bad of ['../master.m3u8', '%2e%2e/%2e%2e/files/clip.mp4', 'stream_0/../master.m3u8', './master.m3u8', 'stream_0/nothing.ts', 'stream_0', '', '..%2f..%2fdb.sqlite', 'stream_0//index.m3u8']) {
      assert.equal(await rawGet(new URL(link).origin, base + bad), 404, bad);
    }
    assert.equal(await rawGet(new URL(link).origin, base + 'stream_0/index.m3u8'), 200);
  });

  test('16 streams are refused at AddMedia, naming the field', async () => {
    const stream = Array.from({ length: 16 }, (_, i) => ({ size: `0x${120 + i * 2}` }));
    const r = await t.call('json', { action: 'AddMedia', source: `file://${clip}`, format: { output: 'advanced_hls', stream } });
    assert.match(one(r.errors!.error), /\bstream\b.*16.*1 to 15/);
    const fifteen = await t.call('json', { action: 'AddMedia', source: `file://${clip}`, format: { output: 'advanced_hls', stream: stream.slice(0, 15) } });
    assert.match(fifteen.MediaID, /^\d+$/);
    await t.call('json', { action: 'CancelMedia', mediaid: fifteen.MediaID });
    const none = await t.call('json', { action: 'AddMedia', source: `file://${clip}`, format: { output: 'advanced_hls' } });
    assert.match(one(none.errors!.error), /stream/);
    const both = await t.call('json', { action: 'AddMedia', source: `file://${clip}`, format: { output: 'advanced_hls', stream: { audio_only: 'yes', video_only: 'yes' } } });
    assert.match(one(both.errors!.error), /stream 1: audio_only and video_only/);
    const escape = await t.call('json', { action: 'AddMedia', source: `file://${clip}`, format: { output: 'advanced_hls', stream: { sub_path: '../up' } } });
    assert.match(one(escape.errors!.error), /stream 1: sub_path/);
  });
});

/** A GET with the path exactly as given; the status code. */
function rawGet(origin: string, requestPath: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.request(origin + '/', { path: requestPath }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
}

/** Files below `dir`, relative, with `/`. */
async function walk(dir: string, prefix = ''): Promise<string[]> {
  const out: string[] = [];
  for (const e of await fs.readdir(dir, { withFileTypes: true })) {
    const rel = prefix ? `${prefix}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...(await walk(path.join(dir, e.name), rel)));
    else out.push(rel);
  }
  return out;
}
