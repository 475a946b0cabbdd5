/**
 * The dashboard's live updates (server-sent events from the store's change feed) and its stream
 * previews' pickers: over plain HTTP, then in headless Chromium.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { OTHER, USER, asList, exec, makeClip, stallingSource, startTestServer, tempDir, untilFinal, waitFor, type TestServer } from './helpers.ts';
import { chromiumMissing } from './needs.ts';
import { launchChromium, signedInPage } from './browser.ts';
import { openStore } from '../src/store/db.ts';
import { updateMedia } from '../src/store/repo.ts';
import { EventStream } from '../src/dashboard/events.ts';
import { Writable } from 'node:stream';
import type { MediaEvent } from '../src/dashboard/events.ts';

const ARTIFACTS = path.resolve('test-artifacts');

async function signIn(t: TestServer, user: { id: string; key: string }): Promise<string> {
  const res = await fetch(`${t.server.url}/dashboard/login`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', origin: t.server.url },
    body: new URLSearchParams({ userid: user.id, userkey: user.key }).toString(),
  });
  assert.equal(res.status, 303);
  return (res.headers.get('set-cookie') ?? '').split(';')[0]!;
}

interface SseEvent {
  id?: string;
  event: string;
  data: any;
}

/** An open event stream, read as the browser's EventSource would; `events` grows as they come. */
async function openStream(t: TestServer, cookie: string, lastEventId?: string) {
  const abort = new AbortController();
  const res = await fetch(`${t.server.url}/dashboard/api/events`, {
    headers: { cookie, accept: 'text/event-stream', ...(lastEventId !== undefined ? { 'last-event-id': lastEventId } : {}) },
    signal: abort.signal,
  });
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream/);
  const events: SseEvent[] = [];
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  const reading = (async () => {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value;
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const e: Partial<SseEvent> & { lines: string[] } = { lines: [] };
        for (const line of block.split('\n')) {
          const [, field, text] = /^([a-z]+): ?(.*)$/.exec(line) ?? [];
          if (field === 'id') e.id = text;
          else if (field === 'event') e.event = text;
          else if (field === 'data') e.lines.push(text!);
        }
        if (e.event) events.push({ id: e.id, event: e.event, data: JSON.parse(e.lines.join('\n')) });
      }
    }
  })().catch(() => {});
  const media = (): MediaEvent[] => events.filter((e) => e.event === 'media').flatMap((e) => e.data as MediaEvent[]);
  return {
    events,
    media,
    /** Waits until a media event about `id` satisfies `check`. */
    until: (id: string, check: (m: MediaEvent) => boolean = () => true, timeoutMs = 15_000) =>
      waitFor(async () => media().find((m) => m.id === id && check(m)), timeoutMs, 50),
    close: async () => {
      abort.abort();
      await reading;
    },
  };
}

describe('dashboard live updates over HTTP', () => {
  let t: TestServer;
  before(async () => (t = await startTestServer()));
  after(async () => t?.close());

  it('refuses an event stream without a session', async () => {
    const res = await fetch(`${t.server.url}/dashboard/api/events`);
    assert.equal(res.status, 401);
  });

  it("pushes each change of a media to its own user's streams only", async () => {
    const mine = await openStream(t, await signIn(t, USER));
    const theirs = await openStream(t, await signIn(t, OTHER));
    after(() => Promise.all([mine.close(), theirs.close()]));
    await waitFor(async () => mine.events.some((e) => e.event === 'ready') && theirs.events.some((e) => e.event === 'ready'), 10_000, 20);

    // A source that refuses the connection: the media goes New → Downloading → Error at once.
    const id = String((await t.call('json', { action: 'AddMedia', source: 'http://127.0.0.1:1/clip.mp4', format: { output: 'mp4' } })).MediaID);
    const otherId = String((await t.call('json', { action: 'AddMedia', source: 'http://127.0.0.1:1/theirs.mp4', format: { output: 'mp4' } }, OTHER)).MediaID);
    const final = await mine.until(id, (m) => m.status === 'Error');
    assert.equal(final.deleted, false);
    assert.equal(final.of, 1, 'the event counts the outputs, so the list can say a partly failed media is one');
    await theirs.until(otherId, (m) => m.status === 'Error');
    assert.ok(!theirs.media().some((m) => m.id === id), "the other user's stream never names this media");
    assert.ok(!mine.media().some((m) => m.id === otherId), "nor this user's stream theirs");
    // Each event carries an id to resume from, and the ids never go back.
    const ids = mine.events.filter((e) => e.id !== undefined).map((e) => Number(e.id));
    assert.ok(ids.length >= 2 && ids.every((n, i) => i === 0 || n >= ids[i - 1]!), ids.join(','));
  });

  it('counts in its events the outputs that failed, so a partly failed media is shown as one', async () => {
    await fs.mkdir(t.filesDir, { recursive: true });
    const clip = await makeClip(path.join(t.filesDir, 'partly.mp4'), { seconds: 1, size: '160x90' });
    // A caption file that does not parse fails its own output only.
    await fs.writeFile(path.join(t.filesDir, 'bad.srt'), '1\nnot a cue time\nhello\n');
    const stream = await openStream(t, await signIn(t, USER));
    after(() => stream.close());
    await waitFor(async () => stream.events.some((e) => e.event === 'ready'), 10_000, 20);
    const id = String((await t.call('json', {
      action: 'AddMedia', source: `file://${clip}`,
      format: [{ output: 'mp4' }, { output: 'mp4', closed_captions: { source: `file://${t.filesDir}/bad.srt` } }],
    })).MediaID);
    const { final } = await untilFinal(t, id);
    assert.deepEqual(asList(final.format).map((f) => f.status), ['Finished', 'Error'], JSON.stringify(final));
    const pushed = await stream.until(id, (m) => m.failed === 1);
    assert.equal(pushed.of, 2);
  });

  it('pushes a change another process writes to the store (as a cluster worker does)', async () => {
    const stalling = await stallingSource();
    after(() => stalling.close());
    const id = Number((await t.call('json', { action: 'AddMedia', source: `${stalling.url}/slow.mp4`, format: { output: 'mp4' } })).MediaID);
    const stream = await openStream(t, await signIn(t, USER));
    after(() => stream.close());
    await waitFor(async () => stream.events.some((e) => e.event === 'ready'), 10_000, 20);
    // A connection of its own, as a worker on another machine has: nothing passes in memory.
    const db = await openStore({ dataDir: t.config.dataDir, databaseUrl: t.config.databaseUrl });
    try {
      await updateMedia(db, id, { progress: 42.5, time_left: 17 });
    } finally {
      await db.destroy();
    }
    const m = await stream.until(String(id), (x) => x.progress === 42.5);
    assert.equal(m.time_left, 17);
  });

  it('catches a stream up from Last-Event-ID on what changed while it was away', async () => {
    const first = await openStream(t, await signIn(t, USER));
    await waitFor(async () => first.events.some((e) => e.event === 'ready'), 10_000, 20);
    const resumeFrom = first.events.at(-1)!.id!;
    assert.match(resumeFrom, /^\d+$/);
    await first.close();

    const id = String((await t.call('json', { action: 'AddMedia', source: 'http://127.0.0.1:1/away.mp4', format: { output: 'mp4' } })).MediaID);
    await untilFinal(t, id, 15_000);
    const theirs = String((await t.call('json', { action: 'AddMedia', source: 'http://127.0.0.1:1/away2.mp4', format: { output: 'mp4' } }, OTHER)).MediaID);
    await untilFinal(t, theirs, 15_000, OTHER);

    const again = await openStream(t, await signIn(t, USER), resumeFrom);
    after(() => again.close());
    const caught = await again.until(id, (m) => m.status === 'Error', 5_000);
    assert.equal(caught.deleted, false);
    assert.ok(!again.media().some((m) => m.id === theirs), "the catch-up leaves out the other user's media");
    // An id it never sent (or from long ago) makes the page reload what it shows.
    const stale = await openStream(t, await signIn(t, USER), '0');
    after(() => stale.close());
    await waitFor(async () => stale.events.some((e) => e.event === 'media' || e.event === 'resync'), 5_000, 20);
  });
});

it('closes the stream of a client that stops reading once its backlog passes the bound', () => {
  // A connection whose reader never takes anything: every write stays queued.
  const stuck = new Writable({ highWaterMark: 1024, write: () => {} });
  const stream = new EventStream(stuck, 64 * 1024);
  const update = Array.from({ length: 20 }, (_, i) => ({ id: String(i), status: 'Processing', progress: i, time_left: 9, deleted: false, failed: 0, of: 1 }));
  let sent = 0;
  while (!stream.ended && sent < 10_000) {
    stream.send('media', update, sent);
    sent += 1;
  }
  assert.ok(stream.ended, 'the stream was ended');
  assert.ok(stuck.destroyed, 'its connection was closed');
  assert.ok(stuck.writableLength <= 64 * 1024 + 4096, `${stuck.writableLength} bytes were held`);
  assert.ok(sent > 10 && sent < 100, `${sent} updates were taken before it was closed`);
});

describe('dashboard live updates in headless Chromium', { timeout: 180_000, skip: await chromiumMissing() }, () => {
  let t: TestServer;
  let browser: Browser;
  let dir: string;
  before(async () => {
    await fs.mkdir(ARTIFACTS, { recursive: true });
    dir = await tempDir();
    t = await startTestServer();
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await t?.close();
    if (dir) await fs.rm(dir, { recursive: true, force: true });
  });

  const signedIn = () => signedInPage(browser, t.server.url, USER);

  /** Counts the page's API calls from now on, and fails every one of them. */
  async function cutApi(page: Page): Promise<{ calls: string[] }> {
    const calls: string[] = [];
    await page.route('**/dashboard/api', (route) => {
      calls.push(route.request().postData() ?? '');
      return route.abort();
    });
    await page.route('**/dashboard/api/overview', (route) => {
      calls.push('overview');
      return route.abort();
    });
    return { calls };
  }

  it('shows a status change on the media list with no request, and on the queue when it changes only', async () => {
    const stalling = await stallingSource();
    after(() => stalling.close());
    const id = String((await t.call('json', { action: 'AddMedia', source: `${stalling.url}/long.mp4`, format: { output: 'mp4' } })).MediaID);
    const { page, close } = await signedIn();
    await page.waitForFunction(() => document.documentElement.dataset.live === 'events');

    await page.goto('/dashboard/media');
    await page.waitForFunction(() => document.documentElement.dataset.live === 'events');
    const row = page.locator(`tr[data-id="${id}"]`);
    await row.getByText('Downloading').waitFor();
    await page.waitForTimeout(1200);
    const { calls } = await cutApi(page);
    await t.call('json', { action: 'StopMedia', mediaid: id });
    await row.getByText('Stopped').waitFor({ timeout: 10_000 });
    // Two polling periods more: a view that polled would have asked by now.
    await page.waitForTimeout(2500);
    assert.deepEqual(calls, [], 'the list asked the API nothing');
    await page.unrouteAll();

    // The queue reads its overview again when a change comes, and only then.
    await page.getByRole('link', { name: 'Queue' }).click();
    await page.getByRole('heading', { name: 'Media by status' }).waitFor();
    await page.waitForTimeout(700);
    const asked: number[] = [];
    page.on('request', (r) => {
      if (r.url().endsWith('/dashboard/api/overview')) asked.push(Date.now());
    });
    await page.waitForTimeout(2500);
    assert.deepEqual(asked, [], 'an idle queue asks nothing');
    const next = String((await t.call('json', { action: 'AddMedia', source: `${stalling.url}/next.mp4`, format: { output: 'mp4' } })).MediaID);
    await page.getByRole('link', { name: `#${next}` }).waitFor({ timeout: 10_000 });
    assert.ok(asked.length >= 1);
    await close();
  });

  it('falls back to polling when the event stream is refused', async () => {
    const stalling = await stallingSource();
    after(() => stalling.close());
    const id = String((await t.call('json', { action: 'AddMedia', source: `${stalling.url}/long.mp4`, format: { output: 'mp4' } })).MediaID);
    const context = await browser.newContext({ baseURL: t.server.url });
    const page = await context.newPage();
    await page.route('**/dashboard/api/events', (route) => route.fulfill({ status: 503, body: 'no streams here' }));
    await page.goto('/dashboard/login');
    await page.getByLabel('User id').fill(USER.id);
    await page.getByLabel('User key').fill(USER.key);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(/\/dashboard$/);
    await page.goto(`/dashboard/media/${id}`);
    await page.waitForFunction(() => document.documentElement.dataset.live === 'polling');
    const stop = page.getByRole('button', { name: 'Stop', exact: true });
    await waitFor(() => stop.isEnabled(), 10_000);
    await t.call('json', { action: 'StopMedia', mediaid: id });
    // Polled: the Stop button turns off once the page reads the media's final status.
    await waitFor(async () => !(await stop.isEnabled()), 10_000);
    await context.close();
  });

  it('offers the audio languages and the subtitles an HLS output carries in its pickers', async () => {
    // A source with two audio languages, and a caption file: the output gets an audio group and a subtitle group.
    const source = path.join(t.filesDir, 'languages.mp4');
    await exec('ffmpeg', [
      '-hide_banner', '-loglevel', 'error', '-y',
      '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=25:duration=4',
      '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000:duration=4',
      '-f', 'lavfi', '-i', 'sine=frequency=880:sample_rate=48000:duration=4',
      '-map', '0:v', '-map', '1:a', '-map', '2:a', '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', '-c:a', 'aac',
      '-metadata:s:a:0', 'language=eng', '-metadata:s:a:1', 'language=fra', source,
    ]);
    await fs.writeFile(path.join(t.filesDir, 'languages.srt'), '1\n00:00:00,500 --> 00:00:03,000\nHello\n');
    const added = await t.call('json', {
      action: 'AddMedia',
      source: `file://${source}`,
      format: {
        output: 'advanced_hls', segment_duration: '1', audio_stream: 'all', stream: [{ size: '0x120', bitrate: '150k' }],
        closed_captions: { source: `file://${t.filesDir}/languages.srt`, language: 'en', label: 'English' },
      },
    });
    const id = String(added.MediaID);
    const { final } = await untilFinal(t, id);
    assert.equal(final.status, 'Finished', JSON.stringify(final));
    const taskId = String(asList(final.format)[0]!.id);

    const { page, close } = await signedIn();
    await page.goto(`/dashboard/media/${id}`);
    await page.locator('video[data-stream="hls"]').waitFor({ timeout: 30_000 });
    const audio = page.getByRole('combobox', { name: `Audio of Output of task ${taskId}` });
    await waitFor(async () => (await audio.locator('option').count()) === 2, 20_000);
    const audioLabels = await audio.locator('option').allTextContents();
    assert.ok(audioLabels.some((l) => /\beng\b|English/i.test(l)) && audioLabels.some((l) => /\bfra\b|French|Français/i.test(l)), audioLabels.join(' | '));
    const subtitles = page.getByRole('combobox', { name: `Subtitles of Output of task ${taskId}` });
    await waitFor(async () => (await subtitles.locator('option').count()) === 2, 20_000);
    const subtitleLabels = await subtitles.locator('option').allTextContents();
    assert.equal(subtitleLabels[0], 'Off');
    assert.match(subtitleLabels[1]!, /English|\ben\b/, subtitleLabels.join(' | '));
    await close();
  });

  it('switches HLS and DASH previews between renditions, each shown with its quality figures', async () => {
    await makeClip(path.join(t.filesDir, 'ladder.mp4'), { seconds: 8 });
    const ladder = [{ size: '0x120', bitrate: '150k', sub_path: 'low' }, { size: '0x240', bitrate: '500k', sub_path: 'high' }];
    const added = await t.call('json', {
      action: 'AddMedia',
      source: `file://${t.filesDir}/ladder.mp4`,
      format: [
        { output: 'advanced_hls', segment_duration: '1', stream: ladder },
        { output: 'advanced_dash', segment_duration: '1', stream: ladder },
      ],
    });
    const id = String(added.MediaID);
    const { final } = await untilFinal(t, id);
    assert.equal(final.status, 'Finished', JSON.stringify(final));
    const status = await t.call('json', { action: 'GetStatus', mediaid: id, extended: 'yes' });
    const tasks = asList<any>((asList<any>(status.job)[0] ?? status).format);

    const { page, close } = await signedIn();
    await page.goto(`/dashboard/media/${id}`);
    for (const [kind, output] of [['hls', 'advanced_hls'], ['dash', 'advanced_dash']] as const) {
      const task = tasks.find((f) => f.output === output);
      const variants = asList<any>(task.quality_report?.variant);
      assert.equal(variants.length, 2, `${output}: a quality figure per rung in GetStatus`);
      const video = page.locator(`video[data-stream="${kind}"]`);
      await video.waitFor({ timeout: 30_000 });
      const picker = page.getByRole('combobox', { name: `Rendition of Output of task ${task.id}` });
      await waitFor(async () => (await picker.locator('option').count()) === 3, 20_000);
      const labels = await picker.locator('option').allTextContents();
      assert.equal(labels[0], 'Auto');
      // Each rung's option carries the PSNR and SSIM GetStatus reports for its variant.
      for (const [height, name] of [[120, 'low'], [240, 'high']] as const) {
        const v = variants.find((x) => x.name === name);
        const label = labels.find((l) => l.startsWith(`${height}p`));
        assert.ok(label, `${kind}: a ${height}p option among ${labels.join(' | ')}`);
        assert.ok(label.includes(`PSNR ${v.psnr} dB`) && label.includes(`SSIM ${v.ssim}`), `${kind} ${height}p: "${label}" shows ${v.psnr} dB, ${v.ssim}`);
      }
      // The stream's one audio track is listed (a picker shows whatever tracks there are).
      const audio = page.getByRole('combobox', { name: `Audio of Output of task ${task.id}` });
      assert.equal(await audio.locator('option').count(), 1, `${kind}: one audio track`);
      assert.equal(await page.getByRole('combobox', { name: `Subtitles of Output of task ${task.id}` }).isVisible(), false, `${kind}: no subtitles, no picker`);
      await video.evaluate(async (v: HTMLVideoElement) => {
        v.muted = true;
        await v.play();
      });
      for (const height of [240, 120]) {
        await picker.selectOption({ label: labels.find((l) => l.startsWith(`${height}p`))! });
        // From the start again, so the clip does not end before the new rung shows.
        await video.evaluate(async (v: HTMLVideoElement) => {
          v.currentTime = 0;
          await v.play();
        });
        await waitFor(() => video.evaluate((v: HTMLVideoElement, h: number) => v.videoHeight === h && v.currentTime > 0.2, height), 20_000, 100).catch(async (err: Error) => {
          const state = await video.evaluate((v: HTMLVideoElement) => ({ h: v.videoHeight, t: v.currentTime, paused: v.paused, ended: v.ended }));
          throw new Error(`${kind}: the picture never became ${height} high: ${JSON.stringify(state)} (${err.message})`);
        });
      }
      await video.evaluate((v: HTMLVideoElement) => v.pause());
    }
    await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard-renditions.png'), fullPage: true });
    await close();
  });
});
