import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { asList, exec, makeClip, startReceiver, startTestServer, untilFinal, waitFor, type TestServer, one } from './helpers.ts';

/** Is any ffmpeg process writing into this directory still alive? */
async function ffmpegRunningIn(dir: string): Promise<boolean> {
  const { stdout } = await exec('ps', ['-eo', 'args']).catch(() => ({ stdout: '' }));
  return stdout.split('\n').some((line) => line.includes('ffmpeg') && line.includes(dir));
}

describe('media lifecycle: stop, cancel, restart, update, benchmark', () => {
  let t: TestServer;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let clip: string;
  let long: string;
  let flaky = true;

  before(async () => {
    t = await startTestServer();
    receiver = await startReceiver((r) => (r.url.startsWith('/flaky') && flaky ? 403 : 200));
    await fs.mkdir(t.filesDir, { recursive: true });
    clip = await makeClip(path.join(t.filesDir, 'clip.mp4'), { seconds: 1 });
    long = await makeClip(path.join(t.filesDir, 'long.mp4'), { seconds: 20, size: '960x540' });
  });
  after(async () => {
    await t.close();
    await receiver.close();
  });

  const status = (id: string) => t.call('json', { action: 'GetStatus', mediaid: id, extended: 'yes' }).then((r) => r.job);
  const processing = (id: string) => waitFor(async () => ((await status(id)).status === 'Processing' && (await ffmpegRunningIn(path.join(t.dataDir, 'outputs', id)))) || undefined, 60_000, 50);

  test('StopMedia stops FFmpeg within a second and ends the media Stopped', async () => {
    const { MediaID: id } = await t.call('json', { action: 'AddMedia', source: `file://${long}`, format: { output: 'mp4', destination: `file://${t.filesDir}/stopped.mp4` } });
    await processing(id);
    // Real progress from FFmpeg: strictly between 0 and 100 while it encodes, and growing.
    const first = await waitFor(async () => {
      const job = await status(id);
      return Number(job.progress_current) > 0 && Number(job.progress_current) < 100 ? job : undefined;
    });
    assert.equal(first.status, 'Processing');
    // Past the download's 5 %, and a media with one task reads like its task (domain/progress-model.ts).
    assert.ok(Number(first.progress) >= 5 && Number(first.progress) < 100, `media progress ${first.progress}`);
    assert.match(one(first.format).progress, /^\d+\.\d$/);
    assert.equal(first.progress, one(first.format).progress);
    const later = await waitFor(async () => {
      const job = await status(id);
      return Number(job.progress_current) > Number(first.progress_current) ? job : undefined;
    });
    assert.ok(Number(later.time_left_current) >= 0);
    const started = Date.now();
    const r = await t.call('json', { action: 'StopMedia', mediaid: id });
    assert.equal(r.message, 'Stopped');
    assert.ok(Date.now() - started < 1500, `StopMedia took ${Date.now() - started} ms`);
    assert.equal(await ffmpegRunningIn(path.join(t.dataDir, 'outputs', id)), false, 'ffmpeg is gone');
    const job = await status(id);
    assert.equal(job.status, 'Stopped');
    assert.equal(one(job.format).status, 'Error');
    assert.equal(one(job.format).destination_status, 'Open');
  });

  test('CancelMedia stops FFmpeg and deletes the media', async () => {
    const { MediaID: id } = await t.call('xml', { action: 'AddMedia', source: `file://${long}`, format: { output: 'mp4' } });
    await processing(id);
    const started = Date.now();
    assert.equal((await t.call('xml', { action: 'CancelMedia', mediaid: id })).message, 'Deleted');
    assert.ok(Date.now() - started < 1500);
    assert.equal(await ffmpegRunningIn(path.join(t.dataDir, 'outputs', id)), false);
    assert.equal((await t.call('json', { action: 'GetStatus', mediaid: id })).errors!.error, `Media ${id} not found.`);
    assert.ok(!(await t.call('json', { action: 'GetMediaList' })).media.some((m) => m.mediaid === id));
    await assert.rejects(fs.stat(path.join(t.dataDir, 'scratch', id)));
  });

  test('RestartMediaTask re-runs only that task', async () => {
    const { MediaID: id } = await t.call('json', {
      action: 'AddMedia',
      source: `file://${clip}`,
      format: [
        { output: 'mp3', destination: `file://${t.filesDir}/r1.mp3` },
        { output: 'm4a', destination: `file://${t.filesDir}/r2.m4a` },
      ],
    });
    const first = (await untilFinal(t, id)).final;
    assert.equal(first.status, 'Finished');
    const [a, b] = asList(first.format);
    const r = await t.call('json', { action: 'RestartMediaTask', mediaid: id, taskid: b!.id });
    assert.equal(r.message, 'Task restarted');
    const again = (await untilFinal(t, id)).final;
    assert.equal(again.status, 'Finished');
    const [a2, b2] = asList(again.format);
    assert.equal(a2!.finished, a!.finished, 'the other task was not re-run');
    assert.equal(a2!.started, a!.started);
    assert.equal(b2!.status, 'Finished');
    const log = await t.call('json', { action: 'GetTaskStatus', mediaid: id, taskid: b!.id });
    assert.ok(asList(log.list!.state).some((s: { message: string }) => s.message === 'Restarted'));
    const otherLog = await t.call('json', { action: 'GetTaskStatus', mediaid: id, taskid: a!.id });
    assert.ok(!asList(otherLog.list!.state).some((s: { message: string }) => s.message === 'Restarted'));
    const wrong = await t.call('json', { action: 'RestartMediaTask', mediaid: id, taskid: '99999999' });
    assert.match(one(wrong.errors!.error), /Task 99999999 not found/);
  });

  test('RestartMediaErrors re-delivers only the failed destination', async () => {
    flaky = true;
    const { MediaID: id } = await t.call('json', {
      action: 'AddMedia',
      source: `file://${clip}`,
      format: [
        { output: 'mp3', destination: [`file://${t.filesDir}/e1.mp3`, `${receiver.url}/flaky/e1.mp3`] },
        { output: 'm4a', destination: `file://${t.filesDir}/e2.m4a` },
      ],
    });
    const first = (await untilFinal(t, id)).final;
    const [a, b] = asList(first.format);
    assert.deepEqual(asList(a!.destination_status).map((s: string) => s.slice(0, 5)), ['Saved', 'Error']);
    flaky = false;
    const puts = receiver.received.filter((r) => r.url === '/flaky/e1.mp3' && r.method === 'PUT').length;
    assert.equal((await t.call('json', { action: 'RestartMediaErrors', mediaid: id })).message, 'Restarted');
    const again = (await untilFinal(t, id)).final;
    const [a2, b2] = asList(again.format);
    assert.deepEqual(a2!.destination_status, ['Saved', 'Saved']);
    assert.equal(a2!.started, a!.started, 'not re-encoded');
    assert.equal(b2!.finished, b!.finished, 'the healthy task was left alone');
    assert.equal(receiver.received.filter((r) => r.url === '/flaky/e1.mp3' && r.method === 'PUT').length, puts + 1);
  });

  test('UpdateMedia replaces the formats and encodes again', async () => {
    const { MediaID: id } = await t.call('json', { action: 'AddMedia', source: `file://${clip}`, format: { output: 'mp3', destination: `file://${t.filesDir}/u1.mp3` } });
    const first = (await untilFinal(t, id)).final;
    const r = await t.call('xml', { action: 'UpdateMedia', mediaid: id, format: { output: 'm4a', destination: `file://${t.filesDir}/u2.m4a` } });
    assert.equal(r.message, 'Updated');
    const again = (await untilFinal(t, id)).final;
    assert.equal(again.status, 'Finished');
    assert.equal(one(again.format).output, 'm4a');
    assert.notEqual(one(again.format).id, one(first.format).id);
    await fs.stat(path.join(t.filesDir, 'u2.m4a'));
  });

  test('AddMediaBenchmark waits in Ready to process until ProcessMedia', async () => {
    const { MediaID: id } = await t.call('json', {
      action: 'AddMediaBenchmark',
      source: `file://${clip}`,
      notify: `${receiver.url}/ready`,
      format: { output: 'mp3', destination: `file://${t.filesDir}/b.mp3` },
    });
    await waitFor(async () => (await status(id)).status === 'Ready to process');
    await waitFor(async () => receiver.received.find((r) => r.url === '/ready'));
    await new Promise((r) => setTimeout(r, 300));
    assert.equal((await status(id)).status, 'Ready to process', 'it does not start by itself');
    assert.equal((await t.call('json', { action: 'ProcessMedia', mediaid: id })).message, 'Started');
    const { final } = await untilFinal(t, id);
    assert.equal(final.status, 'Finished');
    const again = await t.call('json', { action: 'ProcessMedia', mediaid: id });
    assert.match(one(again.errors!.error), /not ready to process/);
  });

  test('GetStatus extended with several ids answers one job per id, in order', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 2; i++) ids.push((await t.call('json', { action: 'AddMedia', source: `file://${clip}`, format: { output: 'mp3' } })).MediaID);
    const r = await t.call('json', { action: 'GetStatus', mediaid: ids.join(','), extended: 'yes' });
    assert.deepEqual(asList(r.job).map((j) => j.id), ids);
    const one = await t.call('json', { action: 'GetStatus', mediaid: ids.join(',') });
    assert.equal(one.id, ids[0], 'simple mode answers the first id');
    for (const id of ids) await untilFinal(t, id);
  });

  test('GetMediaList version 3 pages, filters and sorts', async () => {
    const all = (await t.call('json', { action: 'GetMediaList' })).media!.length as number;
    const page = await t.call('json', { action: 'GetMediaList', version: '3', per_page: '5', page: '1', sort: 'media_id', order: 'desc' });
    assert.equal(page.pagination!.total, String(all));
    assert.equal(page.pagination!.pages, String(Math.ceil(all / 5)));
    const ids = page.media.map((m) => Number(m.id));
    assert.deepEqual(ids, [...ids].sort((x, y) => y - x));
    const mp3 = await t.call('json', { action: 'GetMediaList', version: '3', output: 'mp3', per_page: '100' });
    assert.ok(asList(mp3.media).length >= 1);
    const bad = await t.call('json', { action: 'GetMediaList', version: '3', per_page: '1000' });
    assert.match(one(bad.errors!.error), /per_page/);
  });
});
