/**
 * Odd sizes (issue 12 §2): made as asked where the picture format takes any size (PNG, GIF),
 * rounded down to even where a 4:2:0 codec needs it (H.264, JPEG), with a task-log line saying
 * so; nothing is refused for being odd.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { asList, ffprobe, makeClip, startTestServer, untilFinal, type TestServer } from './helpers.ts';

let t: TestServer;
let clip: string;
before(async () => {
  t = await startTestServer();
  clip = await makeClip(path.join(t.filesDir, 'src.mp4'), { seconds: 2, size: '320x240' });
});
after(() => t?.close());

test('odd sizes – PNG and GIF are made at the odd size; MP4 and JPEG are rounded down to even, and the task log says so', async () => {
  const dest = (name: string) => `file://${t.filesDir}/odd/${name}`;
  const formats = [
    { output: 'mp4', size: '321x241', destination: dest('video.mp4') },
    { output: 'image', image_format: 'png', size: '161x121', resize_method: 'combine', time: '1', destination: dest('still.png') },
    { output: 'image', image_format: 'jpg', size: '161x121', resize_method: 'combine', time: '1', destination: dest('still.jpg') },
    { output: 'gif', size: '161x121', duration: '1', destination: dest('moving.gif') },
  ];
  const added = await t.call('json', { action: 'AddMedia', source: `file://${clip}`, format: formats });
  assert.equal(added.errors, undefined, JSON.stringify(added));
  const { final } = await untilFinal(t, added.MediaID, 60_000);
  assert.equal(final.status, 'Finished', JSON.stringify(final).slice(0, 2000));

  const size = async (name: string) => {
    const v = (await ffprobe(path.join(t.filesDir, 'odd', name))).streams.find((s) => s.codec_type === 'video')!;
    return `${v.width}x${v.height}`;
  };
  assert.equal(await size('video.mp4'), '320x240');
  assert.equal(await size('still.png'), '161x121');
  assert.equal(await size('still.jpg'), '160x120');
  assert.equal(await size('moving.gif'), '161x121');

  const status = await t.call('json', { action: 'GetStatus', mediaid: added.MediaID, extended: 'yes', include_task_status: 'yes' });
  const logs = asList<any>(status.job.format).map((f) => asList<any>(f.task_status?.state).map((s) => String(s.message)));
  const adjusted = logs.map((lines) => lines.filter((l) => l.startsWith('Adjusted: ')));
  assert.deepEqual(adjusted, [
    ['Adjusted: size 321x241 rounded to 320x240: 4:2:0 video needs even sides'],
    [],
    ['Adjusted: size 161x121 rounded to 160x120: 4:2:0 JPEG pictures need even sides'],
    [],
  ]);
});
