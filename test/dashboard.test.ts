import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { OTHER, USER, makeClip, stallingSource, startTestServer, tempDir, waitFor, type TestServer } from './helpers.ts';
import { chromiumMissing } from './needs.ts';
import { launchChromium } from './browser.ts';
import { SUPPORTED_OUTPUTS } from '../src/domain/format.ts';

const ARTIFACTS = path.resolve('test-artifacts');

/** Signs in over plain HTTP; returns the cookie pair and the CSRF token the shell page carries. */
async function signIn(t: TestServer, user: { id: string; key: string }) {
  const res = await fetch(`${t.server.url}/dashboard/login`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', origin: t.server.url },
    body: new URLSearchParams({ userid: user.id, userkey: user.key }).toString(),
  });
  assert.equal(res.status, 303);
  const setCookie = res.headers.get('set-cookie') ?? '';
  const cookie = setCookie.split(';')[0]!;
  const page = await (await fetch(`${t.server.url}/dashboard`, { headers: { cookie } })).text();
  const csrf = /name="csrf-token" content="([^"]+)"/.exec(page)?.[1];
  assert.ok(csrf, 'the shell page carries a CSRF token');
  return { setCookie, cookie, csrf, page };
}

function api(t: TestServer, cookie: string, query: Record<string, unknown>, headers: Record<string, string> = {}) {
  return fetch(`${t.server.url}/dashboard/api`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', origin: t.server.url, cookie, ...headers },
    body: JSON.stringify({ query }),
  });
}

describe('dashboard over plain HTTP', () => {
  let t: TestServer;
  before(async () => (t = await startTestServer()));
  after(async () => t?.close());

  it('sends a visitor without a session to the sign-in page', async () => {
    const res = await fetch(`${t.server.url}/dashboard/media`, { redirect: 'manual' });
    assert.equal(res.status, 303);
    assert.equal(res.headers.get('location'), '/dashboard/login');
    const login = await fetch(`${t.server.url}/dashboard/login`);
    assert.equal(login.status, 200);
    assert.match(login.headers.get('content-security-policy') ?? '', /default-src 'self'/);
    assert.match(await login.text(), /<label for="userkey">/);
  });

  it('refuses wrong credentials and sets no cookie', async () => {
    const attempts: Record<string, string>[] = [{ userid: USER.id, userkey: "wrong-key-000000" }, { userid: "999999", userkey: USER.key }, { userid: USER.id }];
    for (const body of attempts) {
      const res = await fetch(`${t.server.url}/dashboard/login`, {
        method: 'POST',
        redirect: 'manual',
        headers: { 'content-type': 'application/x-www-form-urlencoded', origin: t.server.url },
        body: new URLSearchParams(body).toString(),
      });
      assert.equal(res.status, 401);
      assert.equal(res.headers.get('set-cookie'), null);
      assert.match(await res.text(), /Wrong user id or key/);
    }
  });

  it('signs in with an HttpOnly, SameSite=Strict cookie that holds no key', async () => {
    const { setCookie, cookie, page } = await signIn(t, USER);
    assert.match(setCookie, /; HttpOnly/);
    assert.match(setCookie, /; SameSite=Strict/);
    assert.match(setCookie, /; Path=\/dashboard/);
    assert.ok(!setCookie.includes(USER.key), 'the cookie does not carry the userkey');
    assert.ok(!page.includes(USER.key), 'the page does not carry the userkey');
    const res = await api(t, cookie, { action: 'GetMediaList' }, { 'x-csrf-token': 'x' });
    assert.equal(res.status, 403, 'a wrong CSRF token is refused');
  });

  it('refuses a state-changing request without the CSRF token or from another origin', async () => {
    const { cookie, csrf } = await signIn(t, USER);
    const add = { action: 'AddMedia', source: 'file:///nowhere.mp4', format: { output: 'mp4' } };
    assert.equal((await api(t, cookie, add)).status, 403, 'no token');
    assert.equal((await api(t, cookie, add, { 'x-csrf-token': csrf, origin: 'https://evil.example' })).status, 403, 'foreign origin');
    assert.equal((await api(t, cookie, add, { 'x-csrf-token': csrf, origin: '' })).status, 403, 'no origin');
    const other = await signIn(t, OTHER);
    assert.equal((await api(t, cookie, add, { 'x-csrf-token': other.csrf })).status, 403, "another session's token");
    // Nothing was added by the refused requests.
    const list = await t.call('json', { action: 'GetMediaList', version: '3' });
    assert.equal(list.pagination!.total, '0');
    // A foreign page cannot sign anyone in (login CSRF) either.
    const login = await fetch(`${t.server.url}/dashboard/login`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: 'https://evil.example' },
      body: new URLSearchParams({ userid: USER.id, userkey: USER.key }).toString(),
    });
    assert.equal(login.status, 403);
    assert.equal(login.headers.get('set-cookie'), null);
  });

  it('answers API queries as the session user only, whatever credentials the page sends', async () => {
    const mine = await t.call('json', { action: 'SavePreset', name: 'only_mine', format: { output: 'mp4' } });
    assert.equal(mine.message, 'Saved');
    const { cookie, csrf } = await signIn(t, OTHER);
    const res = await api(t, cookie, { action: 'GetPresetsList', type: 'user', userid: USER.id, userkey: USER.key }, { 'x-csrf-token': csrf });
    assert.equal(res.status, 200);
    const body = (await res.json()) as { response: { user?: unknown[] } };
    assert.deepEqual(body.response.user, [], "the other user's presets are not listed");
    // A cookie re-signed for another user id is worthless.
    const [, expires, nonce, mac] = decodeURIComponent(cookie.split('=')[1]!).split('.');
    const forged = `encodery_session=${USER.id}.${expires}.${nonce}.${mac}`;
    assert.equal((await api(t, forged, { action: 'GetMediaList' }, { 'x-csrf-token': csrf })).status, 401);
    assert.equal((await api(t, '', { action: 'GetMediaList' }, { 'x-csrf-token': csrf })).status, 401);
    for (const body of ['{"query": [1]}', '{"nothing": 1}', 'not json', '[]']) {
      const res = await fetch(`${t.server.url}/dashboard/api`, { method: 'POST', headers: { 'content-type': 'application/json', origin: t.server.url, cookie, 'x-csrf-token': csrf }, body });
      assert.equal(res.status, 400, body);
    }
  });

  it('filters the media list by text in the source (GetMediaList source)', async () => {
    const add = async (source: string) => String((await t.call('json', { action: 'AddMedia', source, format: { output: 'mp4' } })).MediaID);
    const alpha = await add('http://127.0.0.1:1/Alpha_clip.mp4');
    const percent = await add('http://127.0.0.1:1/50%25off.mp4');
    await add('http://127.0.0.1:1/beta.mp4');
    const ids = async (source: string) => {
      const r = await t.call('json', { action: 'GetMediaList', version: '3', source });
      return r.media.map((m) => m.id!);
    };
    assert.deepEqual(await ids('alpha'), [alpha], 'any letter case');
    assert.deepEqual(await ids('%'), [percent], 'a % is matched literally');
    assert.deepEqual(await ids('l_h'), [], 'an _ is matched literally (not as any character, which would match "lph")');
    assert.deepEqual(await ids('a_clip'), [alpha]);
    const other = await t.call('json', { action: 'GetMediaList', version: '3', source: 'alpha' }, OTHER);
    assert.equal(other.pagination!.total, '0');
  });

  it('stores an upload under the user\'s own folder whatever name it claims, and only for a signed-in page', async () => {
    const { cookie, csrf } = await signIn(t, USER);
    const post = (headers: Record<string, string>, name = '../../../etc/evil name.mp4') =>
      fetch(`${t.server.url}/dashboard/upload?name=${encodeURIComponent(name)}`, {
        method: 'POST',
        headers: { 'content-type': 'application/octet-stream', origin: t.server.url, ...headers },
        body: Buffer.from('not really a video'),
      });
    assert.equal((await post({})).status, 401);
    assert.equal((await post({ cookie })).status, 403);
    assert.equal((await post({ cookie, 'x-csrf-token': csrf, origin: 'https://evil.example' })).status, 403);
    assert.equal((await post({ cookie, 'x-csrf-token': csrf, 'content-type': 'text/plain' })).status, 415);
    const res = await post({ cookie, 'x-csrf-token': csrf });
    assert.equal(res.status, 200);
    const { source } = (await res.json()) as { source: string };
    const file = new URL(source).pathname;
    assert.equal(path.dirname(file), path.join(t.filesDir, 'dashboard-uploads', USER.id));
    assert.match(path.basename(file), /^[0-9a-f]{24}-evil_name\.mp4$/);
    assert.equal(await fs.readFile(file, 'utf8'), 'not really a video');
  });

  it('serves only its own static files and the two players', async () => {
    for (const url of ['/dashboard/static/app.js', '/dashboard/static/style.css', '/dashboard/vendor/hls.min.js', '/dashboard/vendor/dash.all.min.js']) {
      const res = await fetch(t.server.url + url);
      assert.equal(res.status, 200, url);
      assert.ok((await res.arrayBuffer()).byteLength > 100, url);
    }
    for (const url of ['/dashboard/static/..%2Fplugin.ts', '/dashboard/static/%2e%2e%2fsession.ts', '/dashboard/vendor/hls.js', '/dashboard/static/missing.js']) {
      assert.equal((await fetch(t.server.url + url)).status, 404, url);
    }
  });

  it('answers an unknown dashboard path with a small HTML page (404), signed in or not', async () => {
    const { cookie } = await signIn(t, USER);
    for (const headers of [{}, { cookie }] as Record<string, string>[]) {
      for (const url of ['/dashboard/nope', '/dashboard/media/1/extra', '/dashboard/api/nothing']) {
        const res = await fetch(t.server.url + url, { headers });
        assert.equal(res.status, 404, url);
        assert.match(res.headers.get('content-type') ?? '', /^text\/html/, url);
        assert.match(res.headers.get('content-security-policy') ?? '', /default-src 'self'/, url);
        const body = await res.text();
        assert.match(body, /<h1>Not found<\/h1>/, url);
        assert.match(body, /<a href="\/dashboard">/, url);
      }
    }
  });

  it('ends the session on sign-out', async () => {
    const { cookie, csrf } = await signIn(t, USER);
    const out = await fetch(`${t.server.url}/dashboard/logout`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: t.server.url, cookie },
      body: new URLSearchParams({ csrf }).toString(),
    });
    assert.equal(out.status, 303);
    assert.match(out.headers.get('set-cookie') ?? '', /Max-Age=0/);
    assert.equal((await api(t, cookie, { action: 'GetMediaList' }, { 'x-csrf-token': csrf })).status, 401);
  });
});

describe('dashboard in headless Chromium', { timeout: 240_000, skip: await chromiumMissing() }, () => {
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

  /** A signed-in page; closing its context checks that no script on it failed. */
  async function signedIn(user: { id: string; key: string }, viewport = { width: 1200, height: 900 }, keyboard = false): Promise<{ context: { close(): Promise<void> }; page: Page }> {
    const browserContext = await browser.newContext({ baseURL: t.server.url, viewport });
    const page = await browserContext.newPage();
    const errors: string[] = [];
    page.on('pageerror', (err) => errors.push(err.message));
    page.on('console', (m) => {
      if (m.type() === 'error') console.error('browser:', m.text());
    });
    const context = {
      close: async () => {
        await browserContext.close();
        assert.deepEqual(errors, [], 'no script error on the page');
      },
    };
    await page.goto('/dashboard/media');
    assert.match(page.url(), /\/dashboard\/login$/);
    if (keyboard) {
      // The keyboard alone: the id field has the focus, Tab moves to the key, Enter signs in.
      await page.waitForFunction(() => document.activeElement?.id === 'userid');
      await page.keyboard.type(user.id);
      await page.keyboard.press('Tab');
      await page.keyboard.type(user.key);
      await page.keyboard.press('Enter');
    } else {
      await page.getByLabel('User id').fill(user.id);
      await page.getByLabel('User key').fill(user.key);
      await page.getByRole('button', { name: 'Sign in' }).click();
    }
    await page.waitForURL(/\/dashboard$/);
    await page.getByRole('heading', { name: 'Media by status' }).waitFor();
    return { context, page };
  }

  let firstId = '';
  let streamsId = '';

  it('adds a media with the form, shows its progress reach 100 % and plays its MP4 output', async () => {
    const clip = await makeClip(path.join(dir, 'holiday clip.mp4'), { seconds: 3 });
    const { context, page } = await signedIn(USER);

    await page.getByRole('link', { name: 'Add media' }).click();
    await page.getByLabel('Upload a file').check();
    await page.getByLabel('File to upload').setInputFiles(clip);
    await page.getByRole('checkbox', { name: /^mp4_360p/ }).check();
    // A second preset goes to a destination instead of being kept.
    await page.getByRole('checkbox', { name: /^thumbnail_jpg/ }).check();
    const thumb = `file://${t.filesDir}/out/thumb.jpg`;
    await page.getByLabel('Destinations for thumbnail_jpg').fill(thumb);
    await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard-add.png'), fullPage: true });
    await page.getByRole('button', { name: 'Add media' }).click();
    await page.waitForURL(/\/dashboard\/media\/\d+$/);
    firstId = /(\d+)$/.exec(page.url())![1]!;

    // The bar moves without a reload and ends at 100 %.
    const bar = page.getByRole('progressbar', { name: `Progress of media ${firstId}` });
    await waitFor(async () => Number(await bar.getAttribute('value')) === 100, 60_000, 200);
    const taskBar = page.getByRole('progressbar', { name: /Progress of task \d+ \(mp4\)/ });
    assert.equal(Number(await taskBar.getAttribute('value')), 100);
    const delivered = page.getByRole('row', { name: thumb });
    await delivered.getByRole('cell', { name: 'Saved' }).waitFor();
    assert.ok((await fs.stat(path.join(t.filesDir, 'out', 'thumb.jpg'))).size > 0);
    await page.getByText('Stream #', { exact: false }).or(page.getByRole('heading', { name: 'Source' })).first().waitFor();

    const video = page.locator('.previews video');
    await video.waitFor();
    const played = await video.evaluate(async (v: HTMLVideoElement) => {
      v.muted = true;
      await v.play();
      const start = performance.now();
      while (v.currentTime < 0.5 && performance.now() - start < 15_000) await new Promise((r) => setTimeout(r, 50));
      return { readyState: v.readyState, duration: v.duration, currentTime: v.currentTime, error: v.error?.message ?? null };
    });
    assert.equal(played.error, null);
    assert.ok(played.readyState >= 2, `readyState ${played.readyState}`);
    assert.ok(Math.abs(played.duration - 3) < 0.5, `duration ${played.duration}`);
    assert.ok(played.currentTime >= 0.5, `currentTime ${played.currentTime}`);
    // The probe of the source and the command that ran are on the page.
    await page.getByText('video codec').first().waitFor();
    assert.match((await page.locator('.command').first().textContent()) ?? '', /ffmpeg/);
    // The MP4's quality report, measured in its encode (a PSNR in dB and an SSIM between 0 and 1).
    const quality = (await page.locator('dt:text-is("Quality") + dd').first().textContent()) ?? '';
    const psnr = /PSNR ([\d.]+) dB/.exec(quality);
    const ssim = /SSIM ([\d.]+)/.exec(quality);
    assert.ok(psnr && Number(psnr[1]) > 20 && Number(psnr[1]) < 100, quality);
    assert.ok(ssim && Number(ssim[1]) > 0.5 && Number(ssim[1]) <= 1, quality);
    // The output's size in a unit people read, the exact bytes on hover.
    const size = page.locator('dt:text-is("Size") + dd').first();
    const status = await t.call('json', { action: 'GetStatus', mediaid: firstId, extended: 'yes' });
    const tasks: { output: string; convertedsize: string }[] = [status.job ?? status].flat().flatMap((j: { format: unknown }) => [j.format].flat()) as { output: string; convertedsize: string }[];
    const mp4Size = Number(tasks.find((f) => f.output === 'mp4')?.convertedsize);
    assert.ok(mp4Size > 1000);
    const shown = /^([\d.]+) (KB|MB)$/.exec((await size.textContent()) ?? '');
    assert.ok(shown, `size shown as ${await size.textContent()}`);
    const shownBytes = Number(shown[1]) * (shown[2] === 'KB' ? 1e3 : 1e6);
    assert.ok(Math.abs(shownBytes - mp4Size) / mp4Size < 0.01, `${shown[0]} for ${mp4Size} bytes`);
    assert.equal(await size.locator('span').getAttribute('title'), `${mp4Size} bytes`);
    await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard-media.png'), fullPage: true });
    await page.setViewportSize({ width: 390, height: 844 });
    await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard-phone-media.png'), fullPage: true });
    await page.setViewportSize({ width: 1200, height: 900 });

    // The overview counts it and its 3 s of video.
    await page.getByRole('link', { name: 'Queue' }).click();
    await page.getByText('0.05 min').first().waitFor();
    await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard-queue.png'), fullPage: true });
    await context.close();
  });

  it('plays HLS and DASH outputs with hls.js and dash.js and shows a thumbnail', async () => {
    await makeClip(path.join(t.filesDir, 'short.mp4'), { seconds: 3 });
    const added = await t.call('json', {
      action: 'AddMedia',
      source: `file://${t.filesDir}/short.mp4`,
      format: [
        { output: 'advanced_hls', segment_duration: '1', stream: { size: '0x120', bitrate: '150k' } },
        { output: 'mpeg_dash', segment_duration: '1', size: '0x120', bitrate: '150k' },
        { output: 'thumbnail', time: '1', width: '160' },
      ],
    });
    const id = (streamsId = String(added.MediaID));
    const { context, page } = await signedIn(USER);
    await page.goto(`/dashboard/media/${id}`);
    const img = page.getByRole('img', { name: /Output of task/ });
    await img.waitFor({ timeout: 60_000 });
    await waitFor(() => img.evaluate((i: HTMLImageElement) => i.complete && i.naturalWidth === 160), 10_000);
    for (const kind of ['hls', 'dash']) {
      const video = page.locator(`.previews video[data-stream="${kind}"]`);
      await video.waitFor({ timeout: 60_000 });
      const played = await video.evaluate(async (v: HTMLVideoElement) => {
        v.muted = true;
        const start = performance.now();
        while (v.readyState < 1 && performance.now() - start < 15_000) await new Promise((r) => setTimeout(r, 50));
        await v.play();
        while (v.currentTime < 0.5 && performance.now() - start < 20_000) await new Promise((r) => setTimeout(r, 50));
        return { duration: v.duration, currentTime: v.currentTime, src: v.currentSrc };
      });
      assert.match(played.src, /^blob:/, `${kind} is fed by the player library (Media Source)`);
      assert.ok(Math.abs(played.duration - 3) < 0.6, `${kind} duration ${played.duration}`);
      assert.ok(played.currentTime >= 0.5, `${kind} currentTime ${played.currentTime}`);
    }
    await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard-media-streams.png'), fullPage: true });
    await context.close();
  });

  it('cancels another media from its page', async () => {
    // A source that never answers keeps the media running for as long as the buttons need.
    const stalling = await stallingSource();
    after(() => stalling.close());
    const added = await t.call('json', { action: 'AddMedia', source: `${stalling.url}/long.mp4`, format: { output_preset: 'mp4_360p' } });
    const id = String(added.MediaID);
    const { context, page } = await signedIn(USER);
    await page.goto(`/dashboard/media/${id}`);
    await page.getByRole('heading', { name: `Media #${id}` }).waitFor();
    const statusOf = async () => String((await t.call('json', { action: 'GetStatus', mediaid: id })).status);
    // Stop, then Restart, each from its button.
    const stop = page.getByRole('button', { name: 'Stop', exact: true });
    await stop.click();
    await waitFor(async () => (await statusOf()) === 'Stopped', 10_000, 100);
    await page.getByRole('group', { name: 'Media actions' }).getByRole('button', { name: 'Restart', exact: true }).click();
    await waitFor(async () => (await statusOf()) !== 'Stopped', 10_000, 100);
    await waitFor(() => stop.isEnabled(), 10_000, 100);
    // One task restarted; "Restart errors" with nothing failed says so, and the media runs on.
    const statusLine = page.locator('#status-line');
    await page.getByRole('button', { name: /^Restart task \d+$/ }).click();
    await waitFor(async () => /^Restart task \d+ media \d+: Task restarted$/.test((await statusLine.textContent()) ?? ''), 10_000, 100);
    await page.getByRole('button', { name: 'Restart errors', exact: true }).click();
    await waitFor(async () => ((await statusLine.textContent()) ?? '').includes(`Restart errors failed: Media ${id} has no failed tasks to restart.`), 10_000, 100);
    assert.notEqual(await statusOf(), 'Stopped');

    // Cancel deletes the media: it asks first, and "Keep" or Escape leave the media alone.
    const cancel = page.getByRole('button', { name: 'Cancel', exact: true });
    const dialog = page.getByRole('dialog', { name: `Cancel media #${id}?` });
    await cancel.click();
    await dialog.waitFor();
    assert.equal(await page.evaluate(() => document.activeElement?.textContent), 'Keep', 'the safe choice has the focus');
    await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard-confirm-cancel.png') });
    await dialog.getByRole('button', { name: 'Keep' }).click();
    await dialog.waitFor({ state: 'detached' });
    await cancel.click();
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'detached' });
    assert.match(page.url(), new RegExp(`/dashboard/media/${id}$`));
    assert.equal((await t.call('json', { action: 'GetStatus', mediaid: id })).errors, undefined);
    await cancel.click();
    await dialog.getByRole('button', { name: 'Cancel and delete' }).click();
    await page.waitForURL(/\/dashboard\/media$/);
    await page.getByRole('link', { name: `#${firstId}` }).waitFor();
    assert.equal(await page.getByRole('link', { name: `#${id}` }).count(), 0);
    const status = await t.call('json', { action: 'GetStatus', mediaid: id });
    assert.match(String(status.errors?.error), /not found/);
    // Filters: text in the source, then a status.
    await page.getByRole('link', { name: `#${streamsId}` }).waitFor();
    await page.getByLabel('Source contains').fill('HOLIDAY');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await page.waitForURL(/source=HOLIDAY/);
    await page.getByText('1 media').waitFor();
    assert.equal(await page.getByRole('link', { name: `#${streamsId}` }).count(), 0);
    await page.getByRole('link', { name: `#${firstId}` }).waitFor();
    await page.getByLabel('Status').selectOption('Error');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await page.getByText('No media match.').waitFor();
    await page.goBack();
    await page.getByRole('link', { name: `#${firstId}` }).waitFor();
    await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard-media-list.png'), fullPage: true });

    await page.getByRole('link', { name: 'Presets' }).click();
    await page.getByRole('button', { name: 'New preset' }).click();
    await page.getByRole('textbox', { name: 'Name', exact: true }).fill('dash_small');
    await page.getByLabel('JSON').check();
    await page.getByLabel('Format as JSON').fill('{"output": "mp4", "size": "0x240", "bitrate": "300k"}');
    await page.getByRole('button', { name: 'Save preset' }).click();
    await page.getByRole('rowheader', { name: 'dash_small' }).waitFor();
    // Edited again as XML, the same preset is replaced.
    await page.getByRole('button', { name: 'dash_small: Edit' }).click();
    await page.getByLabel('XML').check();
    const xml = page.getByLabel('Format as XML');
    assert.match(await xml.inputValue(), /<size>0x240<\/size>/);
    await xml.fill((await xml.inputValue()).replace('0x240', '0x180'));
    await page.getByRole('button', { name: 'Save preset' }).click();
    await page.getByRole('cell', { name: /size=0x180/ }).waitFor();
    const saved = await t.call('json', { action: 'GetPreset', name: 'dash_small' });
    assert.equal(saved.format!.size, '0x180');
    assert.equal(saved.format!.bitrate, '300k');
    await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard-presets.png'), fullPage: true });
    // Delete asks first; "Keep" keeps the preset.
    const confirmDelete = page.getByRole('dialog', { name: 'Delete preset dash_small?' });
    await page.getByRole('button', { name: 'dash_small: Delete' }).click();
    await confirmDelete.getByRole('button', { name: 'Keep' }).click();
    await confirmDelete.waitFor({ state: 'detached' });
    assert.equal((await t.call('json', { action: 'GetPreset', name: 'dash_small' })).format!.size, '0x180');
    await page.getByRole('button', { name: 'dash_small: Delete' }).click();
    await confirmDelete.getByRole('button', { name: 'Delete preset' }).click();
    await page.getByRole('rowheader', { name: 'dash_small' }).waitFor({ state: 'detached' });
    assert.match(String((await t.call('json', { action: 'GetPreset', name: 'dash_small' })).errors?.error), /not found/i);
    await context.close();
  });

  it("does not show a user another user's media", async () => {
    assert.ok(firstId);
    const { context, page } = await signedIn(OTHER, { width: 390, height: 844 }, true);
    // Skip link first, then the menu: Enter on "Media" opens the list.
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => document.activeElement?.textContent), 'Skip to content');
    await page.keyboard.press('Tab');
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => document.activeElement?.textContent), 'Media');
    await page.keyboard.press('Enter');
    await page.waitForURL(/\/dashboard\/media$/);
    await page.getByText('No media match.').waitFor();
    await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard-phone-other-user.png'), fullPage: true });
    await page.goto(`/dashboard/media/${firstId}`);
    await page.getByText(`Media ${firstId} not found.`).waitFor();
    assert.equal(await page.locator('.previews video').count(), 0);
    const overview = await page.evaluate(async () => (await fetch('/dashboard/api/overview')).json());
    assert.deepEqual(overview.counts, {});
    const viaApi = await page.evaluate(async (mediaid) => {
      const csrf = document.querySelector('meta[name="csrf-token"]')!.getAttribute('content')!;
      const res = await fetch('/dashboard/api', { method: 'POST', headers: { 'content-type': 'application/json', 'x-csrf-token': csrf }, body: JSON.stringify({ query: { action: 'GetStatus', mediaid } }) });
      return res.json();
    }, firstId);
    assert.match(JSON.stringify(viaApi), /not found/);
    await context.close();
  });

  it('shows only the source field of the chosen mode and the destinations of ticked presets; sends each URL line as a source', async () => {
    const { context, page } = await signedIn(USER);
    await page.getByRole('link', { name: 'Add media' }).click();
    const url = page.getByLabel('Source URL');
    const file = page.getByLabel('File to upload');
    const dest = page.getByLabel('Destinations for mp4_360p');
    await url.waitFor();
    assert.equal(await file.isVisible(), false, 'URL mode hides the file field');
    assert.equal(await page.getByText('File to upload').isVisible(), false);
    assert.equal(await page.getByText(/^Destinations for /).filter({ visible: true }).count(), 0, 'no preset ticked, no destinations shown');
    await page.getByRole('checkbox', { name: /^mp4_360p/ }).check();
    assert.equal(await dest.isVisible(), true);
    assert.equal(await page.getByText(/^Destinations for /).filter({ visible: true }).count(), 1);
    await page.getByLabel('Upload a file').check();
    assert.equal(await file.isVisible(), true);
    assert.equal(await url.isVisible(), false, 'file mode hides the URL field');
    await page.getByLabel('A URL').check();

    const sources = ['http://127.0.0.1:1/part1.mp4', 'http://127.0.0.1:1/part2.mp4'];
    await url.fill(`${sources[0]}\n  ${sources[1]}  \n`);
    await page.getByRole('button', { name: 'Add media' }).click();
    await page.waitForURL(/\/dashboard\/media\/\d+$/);
    const id = /(\d+)$/.exec(page.url())![1]!;
    const status = await t.call('json', { action: 'GetStatus', mediaid: id });
    assert.deepEqual([status.sourcefile].flat(), sources);
    await context.close();
  });

  it("offers the server's outputs in the media list's filter, each one a filter that works", async () => {
    const { context, page } = await signedIn(USER);
    await page.getByRole('link', { name: 'Media', exact: true }).click();
    const select = page.getByLabel('Output');
    await page.getByRole('link', { name: `#${streamsId}` }).waitFor();
    const offered = await select.locator('option').evaluateAll((os) => os.map((o) => (o as HTMLOptionElement).value));
    assert.deepEqual(offered, ['', ...SUPPORTED_OUTPUTS]);
    await select.selectOption('advanced_hls');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await page.waitForURL(/output=advanced_hls/);
    await page.getByText('1 media').waitFor();
    await page.getByRole('link', { name: `#${streamsId}` }).waitFor();
    await context.close();
  });

  it('shows the fields AddMedia ignored on the media page', async () => {
    await makeClip(path.join(t.filesDir, 'fields.mp4'), { seconds: 1, size: '160x90' });
    const added = await t.call('json', { action: 'AddMediaBenchmark', source: `file://${t.filesDir}/fields.mp4`, format: { output: 'mp4', sise: '640x360' } });
    const { context, page } = await signedIn(USER);
    await page.goto(`/dashboard/media/${added.MediaID}`);
    await page.getByRole('definition').filter({ hasText: 'format 1: unknown field "sise" ignored; did you mean "size"?' }).waitFor();
    await page.getByText('Ignored fields').waitFor();
    await context.close();
  });
});
