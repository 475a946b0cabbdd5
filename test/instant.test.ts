/**
 * Issue 15 §1, instant mode through the real API: an HTTP origin in the test holds back the end
 * of the source until the task log shows FFmpeg reading it, so the encode provably runs while the
 * download is unfinished (no timing assumptions); outputs are checked with ffprobe.
 */
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { asList, exec, ffprobe, makeClip, startReceiver, startTestServer, tempDir, untilFinal, waitFor, type TestServer } from './helpers.ts';
import { parseTimeline } from '../src/pipeline/media-run/timings.ts';

interface Route {
  data: Buffer;
  /** Bytes sent before waiting for `release` (the rest follows it); all of them when absent. */
  holdAt?: number;
  /** After the hold: close the connection instead of sending the rest. */
  breakAfterHold?: boolean;
}

/** An origin that sends each file in small chunks, holds at a byte offset until released, and may break there. */
async function startOrigin(routes: Record<string, Route>) {
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  /** Responses the client walked away from before their end. */
  const abandoned: string[] = [];
  const server = http.createServer((req, res) => {
    res.on('close', () => {
      if (!res.writableFinished) abandoned.push(req.url ?? '');
    });
    const route = routes[new URL(req.url ?? '/', 'http://x').pathname];
    if (!route) {
      res.statusCode = 404;
      res.end();
      return;
    }
    res.setHeader('content-length', route.data.length);
    res.setHeader('content-type', 'application/octet-stream');
    void (async () => {
      const hold = route.holdAt ?? route.data.length;
      for (let at = 0; at < hold; at += 64 * 1024) {
        if (!res.write(route.data.subarray(at, Math.min(hold, at + 64 * 1024)))) await new Promise((r) => res.once('drain', r));
        await new Promise((r) => setTimeout(r, 5));
      }
      if (hold < route.data.length) await released;
      if (route.breakAfterHold) {
        res.destroy();
        return;
      }
      res.end(route.data.subarray(hold));
    })().catch(() => res.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    release,
    abandoned,
    close: () => {
      release();
      server.closeAllConnections();
      return new Promise<void>((r) => server.close(() => r()));
    },
  };
}

describe('instant mode', () => {
  let t: TestServer;
  let dir: string;
  let faststart: Buffer;
  let moovAtEnd: Buffer;

  before(async () => {
    t = await startTestServer();
    dir = await tempDir();
    faststart = await fs.readFile(await makeClip(path.join(dir, 'fast.mp4'), { seconds: 6, size: '320x240', extra: ['-movflags', '+faststart'] }));
    moovAtEnd = await fs.readFile(await makeClip(path.join(dir, 'late.mp4'), { seconds: 3, size: '320x240' }));
  });
  after(async () => {
    await t.close();
    await fs.rm(dir, { recursive: true, force: true });
  });

  /** The task log of the media's first task, in order. */
  async function logOf(id: string): Promise<string[]> {
    const r = await t.call('json', { action: 'GetStatus', mediaid: id, extended: 'yes', include_task_status: 'yes' });
    const text = JSON.stringify(r);
    return [...text.matchAll(/"(?:message|log|text)":"((?:[^"\\]|\\.)*)"/g)].map((m) => JSON.parse(`"${m[1]}"`) as string);
  }

  async function untilLogged(id: string, prefix: string): Promise<string[]> {
    let seen: string[] = [];
    return waitFor(async () => {
      seen = await logOf(id);
      return seen.some((l) => l.startsWith(prefix)) ? seen : undefined;
    }, 120_000, 100).catch((err: unknown) => {
      throw new Error(`no "${prefix}" in the task log: ${seen.join(' | ')}`, { cause: err });
    });
  }

  test('a faststart MP4 is encoded while it downloads: FFmpeg runs before the end arrives, and the output is whole', async () => {
    const origin = await startOrigin({ '/fast.mp4': { data: faststart, holdAt: Math.floor(faststart.length * 0.6) } });
    try {
      const out = path.join(t.filesDir, 'instant', 'fast-out.mp4');
      const { MediaID: id } = await t.call('json', {
        action: 'AddMedia', source: `${origin.url}/fast.mp4`,
        format: { output: 'mp4', size: '160x120', destination: `file://${out}` },
      });
      // The origin holds 40 % of the file back until FFmpeg is seen reading the source.
      const during = await untilLogged(id, 'instant: on');
      assert.ok(!during.some((l) => l.startsWith('Downloaded ')), `nothing downloaded whole yet: ${during.join(' | ')}`);
      assert.ok(during.some((l) => l.startsWith('Running: ')), 'FFmpeg was started');
      origin.release();
      const { final } = await untilFinal(t, id);
      assert.equal(final.status, 'Finished', JSON.stringify(final));
      const lines = await logOf(id);
      const running = lines.findIndex((l) => l.startsWith('Running: '));
      const downloaded = lines.findIndex((l) => l.startsWith('Downloaded '));
      assert.ok(running >= 0 && downloaded > running, `FFmpeg started before the download ended: ${lines.join(' | ')}`);
      // The Timings line's timeline says the same: the head probed and FFmpeg started before the last byte came.
      const timeline = parseTimeline(lines.find((l) => l.startsWith('Timings:'))!)!;
      const at = (point: string): number => timeline.get(point)?.at ?? NaN;
      assert.ok(at('source first bytes') <= at('head probed') && at('head probed') < at('encode started'), JSON.stringify([...timeline]));
      assert.ok(at('encode started') < at('source downloaded') && at('source downloaded') <= at('encode ended'), JSON.stringify([...timeline]));
      const probe = await ffprobe(out);
      assert.ok(Math.abs(Number(probe.format.duration) - 6) < 0.3, `the whole source was encoded: ${probe.format.duration}`);
      const video = probe.streams.find((s) => s.codec_type === 'video');
      assert.equal(video?.width, 160);
      assert.ok(probe.streams.some((s) => s.codec_type === 'audio'));
    } finally {
      await origin.close();
    }
  });

  test('a Matroska source is read as it downloads too', async () => {
    const mkv = await fs.readFile(await makeClip(path.join(dir, 'clip.mkv'), { seconds: 4, size: '320x240' }));
    const origin = await startOrigin({ '/clip.mkv': { data: mkv, holdAt: Math.floor(mkv.length * 0.6) } });
    try {
      const out = path.join(t.filesDir, 'instant', 'mkv-out.mp4');
      const { MediaID: id } = await t.call('json', { action: 'AddMedia', source: `${origin.url}/clip.mkv`, format: { output: 'mp4', size: '160x120', destination: `file://${out}` } });
      const during = await untilLogged(id, 'instant: on');
      assert.ok(!during.some((l) => l.startsWith('Downloaded ')));
      origin.release();
      const { final } = await untilFinal(t, id);
      assert.equal(final.status, 'Finished', JSON.stringify(final));
      assert.ok(Math.abs(Number((await ffprobe(out)).format.duration) - 4) < 0.3);
    } finally {
      await origin.close();
    }
  });

  test('HLS segments reach the destination while the encode runs, the playlists after them and the master last', async () => {
    const origin = await startOrigin({ '/seg.mp4': { data: faststart, holdAt: Math.floor(faststart.length * 0.7) } });
    const receiver = await startReceiver();
    try {
      const { MediaID: id } = await t.call('json', {
        action: 'AddMedia', source: `${origin.url}/seg.mp4`,
        format: { output: 'advanced_hls', segment_duration: '1', stream: [{ size: '0x120', bitrate: '200k' }], destination: `${receiver.url}/hls/video.m3u8` },
      });
      // The encode cannot end before the origin sends the rest, which it holds until a segment has arrived.
      await waitFor(async () => receiver.received.some((r) => r.method === 'PUT' && /\/seg_\d+\.ts$/.test(r.url)), 120_000, 100);
      const early = receiver.received.map((r) => r.url);
      assert.ok(!early.some((u) => u.endsWith('.m3u8')), `no playlist before the encode ends: ${early.join(' ')}`);
      origin.release();
      const { final } = await untilFinal(t, id);
      assert.equal(final.status, 'Finished', JSON.stringify(final));
      const puts = receiver.received.filter((r) => r.method === 'PUT').map((r) => r.url.replace('/hls/', ''));
      assert.equal(puts.at(-1), 'video.m3u8', 'the master last');
      assert.equal(new Set(puts).size, puts.length, `no file sent twice: ${puts.join(' ')}`);
      const playlist = receiver.received.find((r) => r.url.endsWith('/index.m3u8') && !r.url.includes('audio'))!;
      const listed = playlist.body.toString().split('\n').filter((l) => l.endsWith('.ts'));
      const folder = playlist.url.replace('/hls/', '').replace('index.m3u8', '');
      for (const seg of listed) assert.ok(puts.includes(folder + seg), `${folder + seg} delivered`);
      assert.ok(puts.indexOf(folder + listed[0]!) < puts.indexOf(`${folder}index.m3u8`), 'segments before their playlist');
      // The delivered segments play: the first one, as received, is video of the asked height.
      const first = receiver.received.find((r) => r.url === `/hls/${folder}${listed[0]}`)!;
      const local = path.join(dir, 'first.ts');
      await fs.writeFile(local, first.body);
      assert.equal((await ffprobe(local)).streams.find((st) => st.codec_type === 'video')?.height, 120);
    } finally {
      await origin.close();
      await receiver.close();
    }
  });

  test('segments go out several at once while encoding, so a destination slow to answer does not hold the others back', async () => {
    const origin = await startOrigin({ '/many.mp4': { data: faststart, holdAt: Math.floor(faststart.length * 0.7) } });
    // Each segment PUT is held unanswered until two are in flight at once: one at a time, none would ever be answered.
    let inFlight = 0;
    let most = 0;
    let answerAll!: () => void;
    const twoAtOnce = new Promise<void>((r) => (answerAll = r));
    const puts: string[] = [];
    const receiver = http.createServer((req, res) => {
      const segment = /\/seg_\d+\.ts$/.test(req.url ?? '');
      if (segment) most = Math.max(most, ++inFlight);
      if (most >= 2) answerAll();
      req.resume();
      req.on('end', () => {
        void (segment ? twoAtOnce : Promise.resolve()).then(() => {
          if (segment) inFlight--;
          puts.push(req.url ?? '');
          res.end('ok');
        });
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    try {
      const { MediaID: id } = await t.call('json', {
        action: 'AddMedia', source: `${origin.url}/many.mp4`,
        format: { output: 'advanced_hls', segment_duration: '1', stream: [{ size: '0x120', bitrate: '200k' }], destination: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/many/video.m3u8` },
      });
      // Before the origin sends the rest: the segments closed so far are being sent side by side.
      await waitFor(async () => most >= 2, 120_000, 50);
      origin.release();
      const { final } = await untilFinal(t, id);
      assert.equal(final.status, 'Finished', JSON.stringify(final));
      assert.equal(puts.at(-1), '/many/video.m3u8', 'the master last');
      assert.equal(new Set(puts).size, puts.length, `no file sent twice: ${puts.join(' ')}`);
      const lastSegment = Math.max(...puts.map((u) => puts.indexOf(u)).filter((i) => /seg_\d+\.ts$/.test(puts[i]!)));
      assert.ok(puts.findIndex((u) => u.endsWith('/index.m3u8')) > lastSegment, `every segment before the playlists: ${puts.join(' ')}`);
    } finally {
      await origin.close();
      answerAll();
      receiver.closeAllConnections();
      await new Promise<void>((r) => receiver.close(() => r()));
    }
  });

  test('what one FFmpeg process made is delivered while the next one still encodes', async () => {
    const receiver = await startReceiver();
    try {
      const clip = await makeClip(path.join(t.filesDir, 'two-processes.mp4'), { seconds: 6, size: '640x360' });
      const { MediaID: id } = await t.call('json', {
        action: 'AddMedia', source: `file://${clip}`,
        format: [
          { output: 'mp4', size: '160x120', destination: `${receiver.url}/early/a.mp4` },
          // Two passes never share a process: this one encodes after the first, and for longer.
          { output: 'mp4', size: '640x360', two_pass: 'yes', bitrate: '600k', destination: `${receiver.url}/early/b.mp4` },
        ],
      });
      await waitFor(async () => receiver.received.some((r) => r.url === '/early/a.mp4'), 120_000, 50);
      const during = await t.call('json', { action: 'GetStatus', mediaid: id, extended: 'yes' });
      const second = asList((during.job as { format: unknown }).format as { status: string }[])[1]!;
      assert.ok(['Waiting for encoder', 'Processing'].includes(second.status), `the second format was still encoding when the first arrived: ${second.status}`);
      const { final } = await untilFinal(t, id);
      assert.equal(final.status, 'Finished', JSON.stringify(final));
      const a = receiver.received.find((r) => r.url === '/early/a.mp4')!;
      const local = path.join(dir, 'early-a.mp4');
      await fs.writeFile(local, a.body);
      assert.equal((await ffprobe(local)).streams.find((st) => st.codec_type === 'video')?.width, 160);
      assert.equal(receiver.received.filter((r) => r.url === '/early/a.mp4').length, 1, 'delivered once');
    } finally {
      await receiver.close();
    }
  });

  test('an origin that closes mid-stream ends the media in Error with the transfer\'s description, and FFmpeg is stopped', async () => {
    const origin = await startOrigin({ '/broken.mp4': { data: faststart, holdAt: Math.floor(faststart.length * 0.5), breakAfterHold: true } });
    try {
      const out = path.join(t.filesDir, 'instant', 'broken-out.mp4');
      const { MediaID: id } = await t.call('json', {
        action: 'AddMedia', source: `${origin.url}/broken.mp4`,
        format: { output: 'mp4', size: '160x120', destination: `file://${out}` },
      });
      await untilLogged(id, 'instant: on');
      origin.release();
      const { final } = await untilFinal(t, id);
      assert.equal(final.status, 'Error', JSON.stringify(final));
      assert.match(String(final.description), /^Download error/, 'the transfer\'s words, not FFmpeg\'s');
      assert.doesNotMatch(String(final.description), /FFmpeg|Invalid data/i);
      await assert.rejects(fs.stat(out), 'nothing was delivered');
    } finally {
      await origin.close();
    }
  });

  test('CancelMedia during an instant encode stops both the download and FFmpeg', async () => {
    const origin = await startOrigin({ '/cancel.mp4': { data: faststart, holdAt: Math.floor(faststart.length * 0.5) } });
    try {
      const { MediaID: id } = await t.call('json', {
        action: 'AddMedia', source: `${origin.url}/cancel.mp4`,
        format: { output: 'mp4', size: '160x120', destination: `file://${path.join(t.filesDir, 'instant', 'cancelled.mp4')}` },
      });
      await untilLogged(id, 'instant: on');
      const piping = async () => (await exec('ps', ['-eo', 'args'])).stdout.split('\n').some((line) => line.includes('ffmpeg') && line.includes('pipe:0') && line.includes(path.join(t.dataDir, 'outputs', id)));
      await waitFor(piping, 30_000, 50);
      assert.equal((await t.call('json', { action: 'CancelMedia', mediaid: id })).message, 'Deleted');
      await waitFor(async () => origin.abandoned.includes('/cancel.mp4'), 30_000, 50);
      const scratch = path.join(t.dataDir, 'scratch', id);
      await waitFor(async () => !(await piping()), 30_000, 100);
      await waitFor(async () => !(await fs.stat(scratch).catch(() => null)), 30_000, 100);
    } finally {
      await origin.close();
    }
  });

  test('a format that reads the whole source first (auto_crop) waits for the download, and the task log says why', async () => {
    const origin = await startOrigin({ '/crop.mp4': { data: faststart, holdAt: Math.floor(faststart.length * 0.6) } });
    try {
      const out = path.join(t.filesDir, 'instant', 'crop-out.mp4');
      const { MediaID: id } = await t.call('json', {
        action: 'AddMedia', source: `${origin.url}/crop.mp4`,
        format: { output: 'mp4', auto_crop: { enable: 'yes' }, destination: `file://${out}` },
      });
      const during = await untilLogged(id, 'instant: off (auto_crop');
      assert.ok(!during.some((l) => l.startsWith('Running: ')), 'no FFmpeg before the whole source');
      origin.release();
      const { final } = await untilFinal(t, id);
      assert.equal(final.status, 'Finished', JSON.stringify(final));
      const lines = await logOf(id);
      assert.ok(lines.findIndex((l) => l.startsWith('Downloaded ')) < lines.findIndex((l) => l.startsWith('Running: ')), lines.join(' | '));
      assert.ok(!lines.some((l) => l.startsWith('instant: on')));
      assert.ok(Math.abs(Number((await ffprobe(out)).format.duration) - 6) < 0.3);
    } finally {
      await origin.close();
    }
  });

  test('an MP4 whose index is at its end is fetched whole first, and the task log says so', async () => {
    const origin = await startOrigin({ '/late.mp4': { data: moovAtEnd } });
    try {
      const out = path.join(t.filesDir, 'instant', 'late-out.mp4');
      const { MediaID: id } = await t.call('json', {
        action: 'AddMedia', source: `${origin.url}/late.mp4`,
        format: { output: 'mp4', size: '160x120', destination: `file://${out}` },
      });
      const { final } = await untilFinal(t, id);
      assert.equal(final.status, 'Finished', JSON.stringify(final));
      const lines = await logOf(id);
      assert.ok(lines.includes('instant: off (its index (moov) comes after the media data: not a faststart MP4); fetching the whole source first'), lines.join(' | '));
      assert.ok(!lines.some((l) => l.startsWith('instant: on')));
      assert.ok(lines.findIndex((l) => l.startsWith('Downloaded ')) < lines.findIndex((l) => l.startsWith('Running: ')));
      assert.ok(Math.abs(Number((await ffprobe(out)).format.duration) - 3) < 0.3);
    } finally {
      await origin.close();
    }
  });

  test('instant=no fetches first; a value other than yes or no is refused, naming the field', async () => {
    const origin = await startOrigin({ '/fast.mp4': { data: faststart } });
    try {
      const refused = await t.call('json', { action: 'AddMedia', source: `${origin.url}/fast.mp4`, instant: 'soon', format: { output: 'mp4' } });
      assert.match(JSON.stringify(refused), /instant/);
      assert.equal(refused.MediaID, undefined);
      const out = path.join(t.filesDir, 'instant', 'no-out.mp4');
      const { MediaID: id } = await t.call('json', { action: 'AddMedia', source: `${origin.url}/fast.mp4`, instant: 'no', format: { output: 'mp4', size: '160x120', destination: `file://${out}` } });
      const { final } = await untilFinal(t, id);
      assert.equal(final.status, 'Finished', JSON.stringify(final));
      const lines = await logOf(id);
      assert.ok(lines.includes('instant: off (instant=no)'), lines.join(' | '));
      assert.ok(lines.findIndex((l) => l.startsWith('Downloaded ')) < lines.findIndex((l) => l.startsWith('Running: ')));
      assert.equal(asList((await ffprobe(out)).streams).length, 2);
    } finally {
      await origin.close();
    }
  });
});
