import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { asList, ffprobe, makeClip, parseXml, serveFiles, startReceiver, startTestServer, untilFinal, waitFor, type TestServer, one } from './helpers.ts';

const ORDER = ['New', 'Downloading', 'Waiting for encoder', 'Processing', 'Saving', 'Finished'];

function assertInOrder(seen: string[]): void {
  let last = -1;
  for (const s of seen) {
    const i = ORDER.indexOf(s);
    assert.ok(i > last, `status ${s} out of order in ${seen.join(' → ')}`);
    last = i;
  }
}

describe('AddMedia to Finished on a real FFmpeg pipeline', () => {
  let t: TestServer;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let clip: string;

  before(async () => {
    t = await startTestServer();
    receiver = await startReceiver((r) => (r.url.startsWith('/fail') ? 403 : 200));
    await fs.mkdir(t.filesDir, { recursive: true });
    clip = await makeClip(path.join(t.filesDir, 'clip.mp4'), { seconds: 2 });
  });
  after(async () => {
    await t.close();
    await receiver.close();
  });

  test('five outputs, several destinations, notify, kept output link (XML client)', async () => {
    const out = path.join(t.filesDir, 'out');
    const query = {
      action: 'AddMedia' as const,
      source: `file://${clip}`,
      notify: `${receiver.url}/notify`,
      format: [
        {
          output: 'mp4',
          size: '0x160',
          audio_bitrate: '96k',
          destination: [`file://${out}/a.mp4`, `${receiver.url}/put/a.mp4`, `${receiver.url}/fail/a.mp4`],
        },
        { output: 'webm', size: '160x120' },
        { output: 'mp3', destination: `file://${out}/a.mp3` },
        { output: 'm4a', audio_channels_number: '1', destination: `file://${out}/a.m4a` },
        { output: 'thumbnail', time: '1', width: '160', destination: `file://${out}/a.jpg` },
      ],
    };
    const added = await t.call('xml', query);
    assert.equal(added.message, 'Added');
    assert.match(added.MediaID, /^\d+$/);
    assert.equal(added.mediaid, added.MediaID, 'XML answers both MediaID and mediaid');
    const id = added.MediaID as string;

    const { final, seen } = await untilFinal(t, id);
    assertInOrder(seen);
    assert.equal(final.status, 'Finished', JSON.stringify(final));
    assert.equal(final.prevstatus, 'Saving');
    assert.equal(final.progress, '100.0');
    for (const key of ['created', 'started', 'finished', 'downloaded', 'uploaded'] as const) assert.match(final[key], /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/, key);

    const formats = asList(final.format);
    assert.equal(formats.length, 5);
    const [mp4, webm, mp3, m4a, thumb] = formats;
    assert.equal(mp4!.destination!.length, 3);
    assert.deepEqual(mp4!.destination_status!.slice(0, 2), ['Saved', 'Saved']);
    assert.match(mp4!.destination_status![2]!, /^Error \(Upload error: .*403 Forbidden\)$/);
    assert.equal(mp4!.status, 'Finished');
    assert.equal(mp4!.size, '0x160', 'format fields are echoed');
    assert.match(mp4!.convertedsize!, /^\d+$/);
    for (const f of formats) assert.equal(f.status, 'Finished', `${f.output}: ${f.description}`);

    // Real outputs, checked with ffprobe.
    const a = await ffprobe(path.join(out, 'a.mp4'));
    const av = a.streams.find((s) => s.codec_type === 'video')!;
    assert.equal(av.codec_name, 'h264');
    assert.equal(av.height, 160);
    assert.equal(av.width! % 2, 0);
    assert.equal(av.pix_fmt, 'yuv420p');
    assert.equal(a.streams.find((s) => s.codec_type === 'audio')?.codec_name, 'aac');
    assert.ok(Math.abs(Number(a.format.duration) - 2) < 0.2, `duration ${a.format.duration}`);
    const put = receiver.received.find((r) => r.url === '/put/a.mp4')!;
    assert.equal(put.method, 'PUT');
    assert.deepEqual(put.body, await fs.readFile(path.join(out, 'a.mp4')));

    assert.equal((await ffprobe(path.join(out, 'a.mp3'))).streams[0]!.codec_name, 'mp3');
    const m = (await ffprobe(path.join(out, 'a.m4a'))).streams;
    assert.deepEqual([m.length, m[0]!.codec_name, m[0]!.channels], [1, 'aac', 1]);
    const j = (await ffprobe(path.join(out, 'a.jpg'))).streams[0]!;
    assert.deepEqual([j.codec_name, j.width, j.height], ['mjpeg', 160, 120]);

    // No destination: kept here behind an unguessable link, reported as s3_destination.
    assert.match(one(webm!.s3_destination!), /\/download\/[A-Za-z0-9_-]{20,}\/clip\.webm$/);
    const res = await fetch(one(webm!.s3_destination!));
    assert.equal(res.status, 200);
    const kept = path.join(t.dataDir, 'downloaded.webm');
    await fs.writeFile(kept, Buffer.from(await res.arrayBuffer()));
    const w = await ffprobe(kept);
    assert.deepEqual(w.streams.map((s) => s.codec_name).sort(), ['opus', 'vp9']);
    assert.equal((await fetch(one(webm!.s3_destination!).replace(/download\/[^/]+/, 'download/AAAAAAAAAAAAAAAAAAAAAAAAAAAA'))).status, 404);
    assert.equal(mp3!.output, 'mp3');
    assert.equal(m4a!.output, 'm4a');
    assert.equal(thumb!.output, 'thumbnail');

    // The notification: form field xml, payload of reference 6.3 with taskid per format.
    const note = await waitFor(async () => receiver.received.find((r) => r.url === '/notify'));
    const form = new URLSearchParams(note.body.toString());
    const result = parseXml(form.get('xml')!).result;
    assert.equal(result.mediaid, id);
    assert.equal(result.status, 'Finished');
    assert.equal(asList(result.format).length, 5);
    assert.equal(asList(result.format)[0].taskid, mp4!.id);

    // Simple GetStatus (XML): fields directly under <response>, no per-task progress.
    const simple = await t.call('xml', { action: 'GetStatus', mediaid: id, include_task_status: 'yes' });
    assert.equal(simple.id, id);
    assert.equal(simple.status, 'Finished');
    assert.equal(typeof simple.progress, 'string');
    assert.equal(asList(simple.format)[0]!.progress, undefined);
    const log = asList(asList(simple.format)[0]!.task_status!.state).map((s: { message: string }) => s.message);
    for (const s of ['Downloading', 'Waiting for encoder', 'Processing', 'Saving', 'Finished']) assert.ok(log.some((m) => m.endsWith(`: ${s}`)), `log has ${s}: ${log.join(' | ')}`);

    const info = await t.call('json', { action: 'GetMediaInfo', mediaid: id });
    assert.equal(info.size, '320x240');
    assert.equal(info.video_codec, 'h264');
    assert.equal(info.audio_sample_rate, '48000');
    assert.equal(info.audio_channels, '2');
    assert.equal(info.rotation, '0');
    assert.match(info.duration!, /^2(\.\d+)?$/);
    assert.match(info.frame_rate!, /^25$/);

    const ex = await t.call('xml', { action: 'GetMediaInfoEx', mediaid: id });
    assert.equal(ex.size, '320x240');
    assert.equal(ex.id, id);
    assert.equal(ex.status, 'Finished');
    assert.deepEqual(asList(one(ex.source).stream).map((s: { codec_type: string }) => s.codec_type).sort(), ['audio', 'video']);

    const list = await t.call('json', { action: 'GetMediaList' });
    assert.ok(Array.isArray(list.media));
    assert.equal(list.media[0]!.mediafile, `file://${clip}`);
  });

  test('two http sources are concatenated; JSON client; destination a string', async () => {
    await makeClip(path.join(t.filesDir, 'second.mp4'), { seconds: 1, size: '640x360' });
    const web = await serveFiles(t.filesDir);
    try {
      const added = await t.call('json', {
        action: 'AddMedia',
        source: [`${web.url}/clip.mp4`, `${web.url}/second.mp4`],
        format: { output: 'mp4', destination: `file://${t.filesDir}/joined.mp4` },
      });
      const { final } = await untilFinal(t, added.MediaID);
      assert.equal(final.status, 'Finished', final.description);
      assert.equal(one(final.format).destination_status, 'Saved');
      assert.ok(Array.isArray(final.sourcefile) && final.sourcefile.length === 2);
      const p = await ffprobe(path.join(t.filesDir, 'joined.mp4'));
      assert.ok(Math.abs(Number(p.format.duration) - 3) < 0.25, `duration ${p.format.duration}`);
      assert.equal(p.streams.find((s) => s.codec_type === 'video')!.width, 320);
    } finally {
      await web.close();
    }
  });

  test('an unreadable source ends in Error with an actionable description; notify_encoding_errors is called', async () => {
    await fs.writeFile(path.join(t.filesDir, 'broken.mp4'), 'this is not a video at all');
    const added = await t.call('json', {
      action: 'AddMedia',
      source: `file://${t.filesDir}/broken.mp4`,
      notify_encoding_errors: `${receiver.url}/errors`,
      notify_format: 'json',
      format: { output: 'mp4' },
    });
    const { final } = await untilFinal(t, added.MediaID);
    assert.equal(final.status, 'Error');
    assert.match(final.description!, /could not be read as a media file/);
    const note = await waitFor(async () => receiver.received.find((r) => r.url === '/errors'));
    const payload = JSON.parse(new URLSearchParams(note.body.toString()).get('json')!);
    assert.equal(payload.result.status, 'Error');
    assert.equal(payload.result.mediaid, added.MediaID);
  });

  test('a missing http source: Download error with the status', async () => {
    const web = await serveFiles(t.filesDir);
    try {
      const added = await t.call('json', { action: 'AddMedia', source: `${web.url}/nothing.mp4`, format: { output: 'mp4' } });
      const { final } = await untilFinal(t, added.MediaID);
      assert.equal(final.status, 'Error');
      assert.match(final.description!, /Download error.*404/);
    } finally {
      await web.close();
    }
  });
});
