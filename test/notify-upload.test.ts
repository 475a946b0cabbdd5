/**
 * notify_upload through the API: one notification per task and destination as each ends, with
 * output_params (notify_upload_extended) probed from the real output, none for a multi-bitrate
 * output; destinations written concurrently, a 503 retried to Saved; attempts in GetStatus.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { asList, ffprobe, makeClip, parseXml, startReceiver, startTestServer, untilFinal, waitFor, type TestServer, one } from './helpers.ts';
import { mediaDirs } from '../src/domain/layout.ts';

/**
 * PUT destinations that answer slowly (so that concurrent writes overlap), by path:
 * `/ok/` 200; `/flaky/` 503 twice, then 200; `/denied/` 403.
 */
async function startDestinations() {
  const puts: { url: string; body: Buffer; status: number }[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  let flaky = 0;
  const server = http.createServer((req, res) => {
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = req.url ?? '';
      const status = url.startsWith('/denied/') ? 403 : url.startsWith('/flaky/') && ++flaky <= 2 ? 503 : 200;
      puts.push({ url, body: Buffer.concat(chunks), status });
      setTimeout(() => {
        inFlight--;
        res.writeHead(status).end();
      }, 300);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    puts,
    maxInFlight: () => maxInFlight,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

/** Every leaf of a JSON reply is a string (reference 7.7 rule 2). */
function assertAllStrings(value: unknown, where = 'response'): void {
  if (Array.isArray(value)) value.forEach((v, i) => assertAllStrings(v, `${where}[${i}]`));
  else if (value !== null && typeof value === 'object') for (const [k, v] of Object.entries(value)) assertAllStrings(v, `${where}.${k}`);
  else assert.equal(typeof value, 'string', `${where} is ${JSON.stringify(value)}`);
}

describe('notify_upload', () => {
  let t: TestServer;
  let hooks: Awaited<ReturnType<typeof startReceiver>>;
  let dests: Awaited<ReturnType<typeof startDestinations>>;
  let clip: string;

  before(async () => {
    t = await startTestServer();
    hooks = await startReceiver();
    dests = await startDestinations();
    await fs.mkdir(t.filesDir, { recursive: true });
    clip = await makeClip(path.join(t.filesDir, 'up.mp4'), { seconds: 2, size: '320x180' });
  });
  after(async () => {
    await t.close();
    await hooks.close();
    await dests.close();
  });

  test('one per task and destination, output_params from the delivered file, a 503 retried to Saved, concurrent writes', async () => {
    const { MediaID: id } = await t.call('json', {
      action: 'AddMedia',
      source: `file://${clip}`,
      notify: `${hooks.url}/done`,
      notify_upload: `${hooks.url}/upload?token=H00KTOKEN`,
      notify_upload_extended: 'yes',
      notify_format: 'json',
      format: [
        {
          output: 'mp4',
          destination: [`${dests.url}/ok/a.mp4`, `http://put:S3CRETPW@127.0.0.1:${new URL(dests.url).port}/flaky/b.mp4`, `${dests.url}/denied/c.mp4`],
        },
        { output: 'advanced_hls', segment_duration: '2', stream: [{ size: '0x90', bitrate: '100k' }], destination: `${dests.url}/ok/hls/video.m3u8` },
      ],
    });
    const { final } = await untilFinal(t, id);
    assert.equal(final.status, 'Finished', JSON.stringify(final));
    const [mp4, hls] = asList(final.format);
    assert.deepEqual(mp4!.destination_status!.slice(0, 2), ['Saved', 'Saved']);
    assert.match(mp4!.destination_status![2]!, /^Error \(.*403 Forbidden/);
    // GetStatus lists each of the HLS playlists with the one destination's status.
    assert.ok(asList(hls!.destination_status).every((s: string) => s === 'Saved'), JSON.stringify(hls!.destination_status));

    // The 503 was retried: three PUTs, the last accepted, same bytes as the other destination.
    const flaky = dests.puts.filter((p) => p.url === '/flaky/b.mp4');
    assert.deepEqual(flaky.map((p) => p.status), [503, 503, 200]);
    const a = dests.puts.find((p) => p.url === '/ok/a.mp4')!;
    assert.ok(a.body.equals(flaky[2]!.body));
    assert.ok(dests.maxInFlight() >= 3, `destinations were written one at a time (max ${dests.maxInFlight()} at once)`);

    // A failed destination keeps the output for a re-delivery; the fully delivered HLS is gone.
    const dirs = mediaDirs(t.dataDir, Number(id));
    assert.ok((await fs.readdir(dirs.task(Number(mp4!.id)))).some((f) => f.endsWith('.mp4')));
    await assert.rejects(fs.stat(dirs.task(Number(hls!.id))));

    // Four upload notifications (3 + 1), then the result; each sent once, with the final status.
    const uploads = await waitFor(async () => {
      const got = hooks.received.filter((r) => r.url.startsWith('/upload'));
      return got.length >= 4 && got;
    }, 10_000);
    await waitFor(async () => hooks.received.find((r) => r.url === '/done'), 10_000);
    const payloads = uploads.map((r) => JSON.parse(new URLSearchParams(r.body.toString()).get('json')!).result);
    assert.equal(payloads.length, 4);
    const byDest = new Map(payloads.map((p) => [p.destination, p]));
    const local = path.join(t.dataDir, 'probe-a.mp4');
    await fs.writeFile(local, a.body);
    const real = await ffprobe(local);
    const video = real.streams.find((s) => s.codec_type === 'video')!;

    const pa = byDest.get(`${dests.url}/ok/a.mp4`);
    assert.ok(pa, [...byDest.keys()].join(', '));
    assert.deepEqual([pa.mediaid, pa.taskid, pa.status], [id, mp4!.id, 'Saved']);
    const params = pa.output_params;
    assert.equal(params.format, 'mp4');
    assert.equal(params.size, `${video.width}x${video.height}`);
    assert.equal(params.size, '320x180');
    assert.equal(params.video_codec, 'h264');
    assert.equal(params.audio_codec, 'aac');
    assert.equal(params.audio_channels, '2');
    assert.equal(params.frame_rate, '25');
    assert.equal(params.filesize, String(a.body.length));
    assert.ok(Math.abs(Number(params.duration) - Number(real.format.duration)) < 0.05, `${params.duration} vs ${real.format.duration}`);
    assert.match(params.video_bitrate, /^\d+k$/);
    assertAllStrings(params);

    // Credentials in the destination are not sent on.
    const pb = byDest.get(`http://***:***@127.0.0.1:${new URL(dests.url).port}/flaky/b.mp4`);
    assert.ok(pb, [...byDest.keys()].join(', '));
    assert.equal(pb.status, 'Saved');
    for (const r of hooks.received) assert.doesNotMatch(r.body.toString(), /S3CRETPW/);

    const pc = byDest.get(`${dests.url}/denied/c.mp4`);
    assert.match(pc.status, /^Error \(.*403/);
    assert.deepEqual(pc.output_params, params, 'the output is described for a failed destination too');

    // Multi-bitrate: notify_upload_extended does not apply (reference 6.1).
    const ph = byDest.get(`${dests.url}/ok/hls/video.m3u8`);
    assert.deepEqual([ph.taskid, ph.status, ph.output_params], [hls!.id, 'Saved', undefined]);

    // GetStatus with include_task_status lists every notification and every attempt.
    const status = await t.call('json', { action: 'GetStatus', mediaid: id, extended: 'yes', include_task_status: 'yes' });
    assertAllStrings(status);
    const notes = asList(status.job.notifications!.notification);
    assert.deepEqual(notes.map((n: { kind: string }) => n.kind).sort(), ['notify', 'notify_upload', 'notify_upload', 'notify_upload', 'notify_upload']);
    for (const n of notes) {
      assert.equal(n.delivery, 'delivered');
      const at = asList(n.attempt);
      assert.equal(at.length, 1);
      assert.equal(at[0]!.http_status, '200');
      assert.match(at[0]!.time, /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/);
      assert.match(at[0]!.duration_ms, /^\d+$/);
    }
    const upload = notes.find((n: { destination_url?: string }) => n.destination_url?.includes('/flaky/'));
    assert.equal(upload!.url, `${hooks.url}/upload?token=***`);
    assert.equal(upload!.taskid, mp4!.id);
    assert.doesNotMatch(JSON.stringify(status), /H00KTOKEN|S3CRETPW/);

    // The same in XML, simple mode: the list sits under <response>.
    const xml = await t.call('xml', { action: 'GetStatus', mediaid: id, include_task_status: 'yes' });
    assert.equal(asList(xml.notifications!.notification).length, 5);
  });

  test('notify_upload_extended and notify_body_format are checked at AddMedia', async () => {
    const bad = await t.call('json', { action: 'AddMedia', source: `file://${clip}`, notify_upload_extended: 'maybe', format: { output: 'mp4' } });
    assert.match(one(bad.errors!.error), /notify_upload_extended/);
    const body = await t.call('json', { action: 'AddMedia', source: `file://${clip}`, notify_body_format: 'multipart', format: { output: 'mp4' } });
    assert.match(one(body.errors!.error), /notify_body_format.*form_urlencoded or raw/);
  });

  test('an error notification for a failed retry stays visible: attempts with the HTTP status', async () => {
    const failing = await startReceiver(() => 500);
    try {
      const { MediaID: id } = await t.call('xml', {
        action: 'AddMedia',
        source: `file://${clip}`,
        notify_upload: `${failing.url}/u`,
        format: { output: 'mp3', destination: `${dests.url}/ok/x.mp3` },
      });
      await untilFinal(t, id);
      // Four attempts (the first and 3 retries) with the test delays of 50, 100, 150 ms.
      await waitFor(async () => failing.received.length >= 4 || undefined, 10_000);
      const note = await waitFor(async () => {
        const s = await t.call('xml', { action: 'GetStatus', mediaid: id, include_task_status: 'yes' });
        const n = s.notifications?.notification;
        return n && one(n).delivery === 'failed' && one(n);
      }, 10_000);
      const attempts = asList(note.attempt);
      assert.equal(attempts.length, 4);
      for (const a of attempts) {
        assert.equal(a.http_status, '500');
        assert.equal(a.error, 'HTTP 500 Internal Server Error');
      }
      assert.equal(failing.received.length, 4);
      assert.equal(parseXml(new URLSearchParams(failing.received[0]!.body.toString()).get('xml')!).result.status, 'Saved');
    } finally {
      await failing.close();
    }
  });
});
