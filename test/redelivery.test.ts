/**
 * RestartMediaTask on a task whose encode finished re-runs only its failed deliveries, from the
 * output kept on disk: no download, no FFmpeg, only the destinations that are not Saved.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { asList, ffprobe, makeClip, startReceiver, startTestServer, untilFinal, waitFor, type TestServer, one } from './helpers.ts';
import { mediaDirs } from '../src/domain/layout.ts';

describe('re-delivery without re-encoding', () => {
  let t: TestServer;
  let clip: string;
  // The failing destination refuses with 403 until `fixed`: a 5xx would be retried by the upload
  // itself for 15 s first, which the 503 test in notify-upload.test.ts covers.
  let fixed = false;
  let dest: Awaited<ReturnType<typeof startReceiver>>;
  let hooks: Awaited<ReturnType<typeof startReceiver>>;

  before(async () => {
    t = await startTestServer();
    dest = await startReceiver((r) => (r.url.startsWith('/broken/') && !fixed ? 403 : 200));
    hooks = await startReceiver();
    await fs.mkdir(t.filesDir, { recursive: true });
    clip = await makeClip(path.join(t.filesDir, 'rd.mp4'), { seconds: 1, size: '160x90' });
  });
  after(async () => {
    await t.close();
    await dest.close();
    await hooks.close();
  });

  const logOf = async (id: string): Promise<string[]> => {
    const s = await t.call('json', { action: 'GetStatus', mediaid: id, include_task_status: 'yes' });
    return asList(asList(s.format)[0]!.task_status!.state).map((e: { message: string }) => e.message);
  };
  const count = (log: string[], re: RegExp): number => log.filter((m) => re.test(m)).length;

  test('a task whose only destination failed ends in Error; RestartMediaTask delivers it again and the media finishes', async () => {
    fixed = false;
    const { MediaID: id } = await t.call('json', {
      action: 'AddMedia',
      source: `file://${clip}`,
      notify: `${hooks.url}/done/${'A'}`,
      notify_upload: `${hooks.url}/upload/A`,
      format: { output: 'mp4', destination: `${dest.url}/broken/a.mp4` },
    });
    const first = (await untilFinal(t, id)).final;
    assert.equal(first.status, 'Error');
    const task = first.format;
    assert.equal(one(task).status, 'Error');
    assert.match(one(one(task).destination_status!), /^Error \(.*403 Forbidden/);
    // Kept for the retry.
    const taskDir = mediaDirs(t.dataDir, Number(id)).task(Number(one(task).id));
    assert.ok((await fs.readdir(taskDir)).length > 0);
    await waitFor(async () => hooks.received.some((r) => r.url === '/done/A') || undefined, 10_000);
    const before = await logOf(id);
    assert.equal(count(before, /^Running: /), 1);

    fixed = true;
    const putsBefore = dest.received.length;
    assert.equal((await t.call('json', { action: 'RestartMediaTask', mediaid: id, taskid: one(task).id })).message, 'Task restarted');
    const again = (await untilFinal(t, id)).final;
    assert.equal(again.status, 'Finished', JSON.stringify(again));
    assert.equal(one(again.format).status, 'Finished');
    assert.equal(one(again.format).destination_status, 'Saved');
    assert.equal(one(again.format).id, one(task).id);

    // Only that destination was written, with a playable output; no FFmpeg ran and the source was not read again.
    const puts = dest.received.slice(putsBefore);
    assert.deepEqual(puts.map((p) => `${p.method} ${p.url}`), ['PUT /broken/a.mp4']);
    const got = path.join(t.dataDir, 'redelivered.mp4');
    await fs.writeFile(got, puts[0]!.body);
    assert.equal((await ffprobe(got)).streams.find((s) => s.codec_type === 'video')?.width, 160);
    const log = await logOf(id);
    assert.equal(count(log, /^Running: /), 1, 'no new FFmpeg run');
    assert.equal(count(log, /^(Reading|Downloaded) /), count(before, /^(Reading|Downloaded) /), 'the source was not fetched again');
    assert.ok(log.includes('Restarted: re-delivering to the failed destinations'));
    // Everything delivered: the kept output is gone.
    await assert.rejects(fs.stat(taskDir));

    // notify again (Finished), and notify_upload once per delivery outcome.
    const done = await waitFor(async () => {
      const list = hooks.received.filter((r) => r.url === '/done/A');
      return list.length >= 2 && list;
    }, 10_000);
    assert.match(new URLSearchParams(done[1]!.body.toString()).get('xml')!, /<status>Finished<\/status>/);
    const uploads = await waitFor(async () => {
      const list = hooks.received.filter((r) => r.url === '/upload/A');
      return list.length >= 2 && list;
    }, 10_000);
    const statuses = uploads.map((r) => /<status>([^<]*)<\/status>/.exec(new URLSearchParams(r.body.toString()).get('xml')!)![1]);
    assert.equal(statuses.length, 2);
    assert.match(statuses[0]!, /^Error \(/);
    assert.equal(statuses[1], 'Saved');
  });

  test('with one of two destinations failed the task is Finished; the restart writes only the failed one and does not download again', async () => {
    fixed = false;
    const bytes = await fs.readFile(clip);
    let downloads = 0;
    const source = http.createServer((req, res) => {
      downloads++;
      res.writeHead(200, { 'content-length': bytes.length }).end(bytes);
    });
    await new Promise<void>((r) => source.listen(0, '127.0.0.1', r));
    after(() => new Promise<void>((r) => source.close(() => r())));
    const { MediaID: id } = await t.call('xml', {
      action: 'AddMedia',
      source: `http://127.0.0.1:${(source.address() as AddressInfo).port}/rd.mp4`,
      format: { output: 'mp4', destination: [`${dest.url}/good/b.mp4`, `${dest.url}/broken/b.mp4`] },
    });
    const first = (await untilFinal(t, id)).final;
    assert.equal(first.status, 'Finished');
    assert.equal(one(first.format).status, 'Finished');
    assert.equal(one(first.format).destination_status![0], 'Saved');
    assert.match(one(first.format).destination_status![1]!, /^Error \(/);

    fixed = true;
    const putsBefore = dest.received.length;
    await t.call('xml', { action: 'RestartMediaTask', mediaid: id, taskid: one(first.format).id });
    const again = (await untilFinal(t, id)).final;
    assert.deepEqual(one(again.format).destination_status, ['Saved', 'Saved']);
    assert.deepEqual(dest.received.slice(putsBefore).map((p) => p.url), ['/broken/b.mp4']);
    assert.equal(count(await logOf(id), /^Running: /), 1);
    assert.equal(downloads, 1, 'the finished media had dropped its source; re-delivery does not need it');
  });

  test('a fully delivered task restarted is encoded again (nothing is left to re-deliver)', async () => {
    const { MediaID: id } = await t.call('json', { action: 'AddMedia', source: `file://${clip}`, format: { output: 'mp3', destination: `${dest.url}/good/c.mp3` } });
    const first = (await untilFinal(t, id)).final;
    assert.equal(one(first.format).destination_status, 'Saved');
    await t.call('json', { action: 'RestartMediaTask', mediaid: id, taskid: one(first.format).id });
    const again = (await untilFinal(t, id)).final;
    assert.equal(again.status, 'Finished');
    assert.equal(count(await logOf(id), /^Running: /), 2);
  });
});
