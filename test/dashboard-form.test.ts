/**
 * Issue 16, the dashboard's forms and tables: the format editor generated from the field
 * registry and checked by the server as AddMedia and SavePreset check, the probe table, the
 * media list's outputs and durations, a partly failed media's bar, toasts beside (never over)
 * the buttons, "per hour" over the server's real uptime, and the pages at phone width.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { USER, asList, ffprobe, makeClip, stallingSource, startTestServer, waitFor, type TestServer } from './helpers.ts';
import { chromiumMissing } from './needs.ts';
import { launchChromium, signedInPage } from './browser.ts';
import { FIELDS } from '../src/domain/field-registry.ts';

const ARTIFACTS = path.resolve('test-artifacts');

async function session(t: TestServer) {
  const res = await fetch(`${t.server.url}/dashboard/login`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', origin: t.server.url },
    body: new URLSearchParams({ userid: USER.id, userkey: USER.key }).toString(),
  });
  const cookie = (res.headers.get('set-cookie') ?? '').split(';')[0]!;
  const page = await (await fetch(`${t.server.url}/dashboard`, { headers: { cookie } })).text();
  const csrf = /name="csrf-token" content="([^"]+)"/.exec(page)![1]!;
  const headers = { cookie, origin: t.server.url, 'x-csrf-token': csrf };
  return {
    get: (p: string) => fetch(`${t.server.url}/dashboard${p}`, { headers }),
    check: async (query: Record<string, unknown>, upload?: string) => {
      const res = await fetch(`${t.server.url}/dashboard/api/check`, { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify({ query, upload }) });
      assert.equal(res.status, 200);
      return ((await res.json()) as { response: { message?: string; errors?: { error: string } } }).response;
    },
  };
}

interface EditorField { name: string; in: string[]; group: string; doc: string; state: string; reason?: string }

describe('the format editor\'s server side', () => {
  let t: TestServer;
  before(async () => (t = await startTestServer()));
  after(async () => t?.close());

  it('serves every field the registry does not refuse, in the registry\'s groups, to a signed-in page only', async () => {
    assert.equal((await fetch(`${t.server.url}/dashboard/api/fields`)).status, 401);
    const s = await session(t);
    const body = (await (await s.get('/api/fields')).json()) as { outputs: string[]; fields: EditorField[] };
    assert.ok(body.outputs.includes('mp4') && body.outputs.includes('advanced_hls'));
    const offered = new Set(body.fields.map((f) => `${f.in.join()}:${f.name}`));
    for (const d of FIELDS) assert.equal(offered.has(`${d.in.join()}:${d.name}`), d.state !== 'refused', `${d.name} (${d.state})`);
    const byName = (n: string) => body.fields.find((f) => f.name === n)!;
    assert.equal(byName('bitrate').group, 'Video');
    assert.equal(byName('audio_bitrate').group, 'Audio');
    assert.equal(byName('priority').group, 'Media');
    assert.equal(byName('segment_duration').group, 'HLS, DASH, CMAF');
    assert.equal(byName('twin_turbo').state, 'inert');
    assert.match(byName('twin_turbo').reason ?? '', /speed option/);
  });

  it('checks a query as AddMedia does, naming the field, and adds nothing', async () => {
    const s = await session(t);
    await makeClip(path.join(t.filesDir, 'c.mp4'), { seconds: 1 });
    const source = `file://${t.filesDir}/c.mp4`;
    const bad = await s.check({ action: 'AddMedia', source, format: [{ output: 'mp4' }, { output: 'mp4', bitrate: 'fast' }] });
    const direct = await t.call('json', { action: 'AddMedia', source, format: [{ output: 'mp4' }, { output: 'mp4', bitrate: 'fast' }] });
    assert.match(bad.errors!.error, /^Format 2: .*bitrate/);
    assert.equal(bad.errors!.error, direct.errors!.error, 'the same words as the API');
    assert.match((await s.check({ action: 'AddMedia', source, format: { output: 'mp4' }, priority: 'urgent' })).errors!.error, /priority/);
    assert.match((await s.check({ action: 'AddMedia', source, format: { output: 'mp4' }, notify: 'ftp://x/y' })).errors!.error, /notify/);
    assert.equal((await s.check({ action: 'AddMedia', source, format: { output: 'mp4', size: '0x180' }, priority: '5' })).message, 'Valid');
    assert.equal((await s.check({ action: 'SavePreset', name: 'never_saved', format: { output: 'mp4' } })).message, 'Valid');
    // A file the form has yet to upload is checked as the source it will become, whatever its name.
    assert.match((await s.check({ action: 'AddMedia', format: { output: 'mp4' } })).errors!.error, /source/i);
    assert.equal((await s.check({ action: 'AddMedia', source: 'file:///etc/passwd', format: { output: 'mp4' } }, '../../../etc/passwd')).message, 'Valid');
    assert.match((await s.check({ action: 'AddMedia', source: 'file:///etc/passwd', format: { output: 'mp4' } })).errors!.error, /outside the allowed file roots/);
    assert.match((await s.check({ action: 'GetStatus', mediaid: '1' })).errors!.error, /GetStatus/, 'only AddMedia and SavePreset have a dry run');
    assert.equal((await t.call('json', { action: 'GetMediaList', version: '3' })).pagination!.total, '0', 'nothing was added');
    assert.match(String((await t.call('json', { action: 'GetPreset', name: 'never_saved' })).errors?.error), /not found/i, 'nothing was saved');
  });
});

describe('the dashboard\'s forms and tables in headless Chromium', { timeout: 180_000, skip: await chromiumMissing() }, () => {
  let t: TestServer;
  let browser: Browser;
  before(async () => {
    await fs.mkdir(ARTIFACTS, { recursive: true });
    t = await startTestServer();
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await t?.close();
  });

  const signedIn = (viewport?: { width: number; height: number }) => signedInPage(browser, t.server.url, USER, viewport);

  /** No button on the page lies under the toast. */
  async function toastCoversNoButton(page: Page): Promise<void> {
    const covered = await page.evaluate(() => {
      const toast = document.getElementById('toast');
      if (!toast || toast.textContent === '') return 'no toast';
      const t = toast.getBoundingClientRect();
      return [...document.querySelectorAll('button, a, input, select, textarea')].filter((b) => {
        const r = b.getBoundingClientRect();
        return r.width > 0 && r.left < t.right && r.right > t.left && r.top < t.bottom && r.bottom > t.top;
      }).map((b) => b.textContent || b.id);
    });
    assert.deepEqual(covered, []);
  }

  /** Opens a group of the format editor by its title. */
  const openGroup = (scope: Page | ReturnType<Page['locator']>, title: string) => scope.locator('summary').filter({ hasText: new RegExp(`^${title} \\(`) }).first().click();

  let mediaId = '';

  it('adds a media from the format editor: grouped fields with help, inert ones marked, the server\'s error on the field it names', async () => {
    await makeClip(path.join(t.filesDir, 'clip.mp4'), { seconds: 3 });
    const { page, close } = await signedIn();
    await page.getByRole('link', { name: 'Add media' }).click();
    await page.getByLabel('Source URL').fill(`file://${t.filesDir}/clip.mp4`);
    await page.getByRole('button', { name: 'Add an output' }).click();
    const output = page.getByRole('group', { name: 'Output 1' });
    // Groups of the registry; an mp4 is offered video and audio fields, not HLS's.
    await openGroup(output, 'Video');
    await openGroup(output, 'Audio');
    assert.equal(await output.getByLabel('segment_duration').count(), 0, 'an mp4 takes no segment_duration');
    assert.equal(await output.getByLabel('drm', { exact: true }).count(), 0, 'a refused field is not offered');
    await output.getByLabel('bitrate', { exact: true }).fill('fast');
    await output.getByLabel('size', { exact: true }).fill('320x180');
    await output.getByLabel('audio_bitrate').fill('96k');
    await output.getByLabel('Destinations (one per line)').fill(`file://${t.filesDir}/out/form.mp4`);
    // An inert field says so, and why.
    await openGroup(output, 'Output');
    assert.match(await output.locator('#' + (await output.getByLabel('twin_turbo').getAttribute('id')) + '-help').textContent() ?? '', /no effect.*speed option/);
    // Media fields: priority and notify are there.
    await page.getByLabel('priority').fill('7');
    await page.getByLabel('notify', { exact: true }).waitFor();

    await page.getByRole('button', { name: 'Check' }).click();
    const result = page.locator('.check-result');
    await waitFor(async () => /bitrate/.test((await result.textContent()) ?? ''), 10_000);
    assert.equal(await output.getByLabel('bitrate', { exact: true }).getAttribute('aria-invalid'), 'true', 'the field the error names is marked');
    assert.equal(await page.evaluate(() => (document.activeElement as HTMLInputElement).dataset.field), 'bitrate', 'and has the focus');
    assert.equal(await output.getByLabel('audio_bitrate').getAttribute('aria-invalid'), null, 'audio_bitrate is not the field named');
    await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard-form-error.png'), fullPage: true });
    assert.equal((await t.call('json', { action: 'GetMediaList', version: '3' })).pagination!.total, '0', 'checking added nothing');

    await output.getByLabel('bitrate', { exact: true }).fill('400k');
    await page.getByRole('button', { name: 'Check' }).click();
    await result.getByText('AddMedia would accept this.').waitFor();
    await page.getByRole('button', { name: 'Add media' }).click();
    await page.waitForURL(/\/dashboard\/media\/\d+$/);
    mediaId = /(\d+)$/.exec(page.url())![1]!;
    const status = await t.call('json', { action: 'GetStatus', mediaid: mediaId, extended: 'yes' });
    const job = asList(status.job)[0] ?? status;
    const task = asList(job.format)[0];
    assert.equal(task!.bitrate, '400k');
    assert.equal(task!.size, '320x180');
    // The output is what the form asked for.
    await waitFor(async () => (await t.call('json', { action: 'GetStatus', mediaid: mediaId })).status === 'Finished', 60_000, 200);
    const probe = await ffprobe(path.join(t.filesDir, 'out', 'form.mp4'));
    const video = probe.streams.find((s) => s.codec_type === 'video')!;
    assert.deepEqual([video.width, video.height], [320, 180]);

    // The source probe: a table, each fact once.
    const table = page.locator('table.probe');
    await table.waitFor({ timeout: 20_000 });
    const labels = await table.locator('th').allTextContents();
    assert.deepEqual(labels, [...new Set(labels)], 'no row twice');
    assert.equal(labels.filter((l) => /duration/i.test(l)).length, 1, `one duration: ${labels.join(', ')}`);
    assert.match((await table.getByRole('row', { name: /^Duration/ }).textContent()) ?? '', /00:00:03/);
    await close();
  });

  it('shows outputs and durations in the media list, and a partly failed media not as a plain full bar', async () => {
    assert.ok(mediaId);
    // One output works, the other's logo is missing: the media ends partly failed.
    const added = await t.call('json', {
      action: 'AddMedia',
      source: `file://${t.filesDir}/clip.mp4`,
      format: [{ output: 'thumbnail' }, { output: 'mp4', logo: { logo_source: `file://${t.filesDir}/missing.png` } }],
    });
    const partId = String(added.MediaID);
    await waitFor(async () => ['Finished', 'Error'].includes((await t.call('json', { action: 'GetStatus', mediaid: partId })).status), 60_000, 200);
    const { page, close } = await signedIn();
    await page.goto('/dashboard/media');
    const row = page.locator(`tr[data-id="${mediaId}"]`);
    await waitFor(async () => (await row.locator('td.duration').textContent()) === '0:03', 10_000);
    assert.equal(await row.locator('td.outputs').textContent(), 'mp4');
    const part = page.locator(`tr[data-id="${partId}"]`);
    assert.equal(await part.locator('td.outputs').textContent(), 'thumbnail, mp4');
    const bar = part.getByRole('progressbar');
    await waitFor(async () => /1 of 2 failed/.test((await bar.getAttribute('aria-valuetext')) ?? ''), 10_000);
    assert.match((await part.locator('.pct').textContent()) ?? '', /1 of 2 failed/);
    const colour = await bar.evaluate((el) => getComputedStyle(el).accentColor);
    const full = await row.getByRole('progressbar').evaluate((el) => getComputedStyle(el).accentColor);
    assert.notEqual(colour, full, 'not the blue of a media that went well');
    await page.goto(`/dashboard/media/${partId}`);
    await waitFor(async () => /1 of 2 failed/.test((await page.getByRole('progressbar', { name: `Progress of media ${partId}` }).getAttribute('aria-valuetext')) ?? ''), 10_000);
    await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard-form-list.png'), fullPage: true });
    await close();
  });

  it('averages "per hour" over the time the server has been up, not over 24 h', async () => {
    const { page, close } = await signedIn();
    const o = await page.evaluate(async () => (await fetch('/dashboard/api/overview')).json());
    assert.ok(o.last24h.media >= 1);
    assert.ok(o.last24h.hours < 1, `a server up for minutes averages over minutes (${o.last24h.hours} h)`);
    assert.ok(Math.abs(o.last24h.perHour - o.last24h.media / o.last24h.hours) / o.last24h.perHour < 0.05);
    await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard-form-queue.png'), fullPage: true });
    await page.getByText(/per hour over \d+ (s|min)/).waitFor({ timeout: 10_000 });
    await close();
  });

  it('runs Stop and each Restart button, with the toast beside the buttons and never over one', async () => {
    const stalling = await stallingSource();
    after(() => stalling.close());
    const added = await t.call('json', { action: 'AddMedia', source: `${stalling.url}/long.mp4`, format: { output: 'mp4' } });
    const id = String(added.MediaID);
    const statusOf = async () => String((await t.call('json', { action: 'GetStatus', mediaid: id })).status);
    for (const viewport of [{ width: 1200, height: 900 }, { width: 375, height: 740 }]) {
      const { page, close } = await signedIn(viewport);
      await page.goto(`/dashboard/media/${id}`);
      const actions = page.getByRole('group', { name: 'Media actions' });
      const statusLine = page.locator('#status-line');
      await waitFor(() => actions.getByRole('button', { name: 'Stop', exact: true }).isEnabled(), 10_000);
      await actions.getByRole('button', { name: 'Stop', exact: true }).click();
      await waitFor(async () => (await statusOf()) === 'Stopped', 10_000);
      await page.locator('#toast').getByText(`Stop media ${id}: Stopped`).waitFor();
      await toastCoversNoButton(page);
      await actions.getByRole('button', { name: 'Restart', exact: true }).click();
      await waitFor(async () => (await statusOf()) !== 'Stopped', 10_000);
      await page.locator('#toast').getByText(`Restart media ${id}: Restarted`).waitFor();
      await toastCoversNoButton(page);
      await actions.getByRole('button', { name: 'Restart errors', exact: true }).click();
      await waitFor(async () => ((await statusLine.textContent()) ?? '').includes('has no failed tasks to restart'), 10_000);
      await toastCoversNoButton(page);
      await page.getByRole('button', { name: /^Restart task \d+$/ }).click();
      await waitFor(async () => /Task restarted$/.test((await statusLine.textContent()) ?? ''), 10_000);
      await toastCoversNoButton(page);
      if (viewport.width === 375) await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard-form-phone-media.png'), fullPage: true });
      await close();
    }
    await t.call('json', { action: 'CancelMedia', mediaid: id });
  });

  it('edits a preset in the format editor, checked as SavePreset checks, and fits a 375 px phone', async () => {
    const { page, close } = await signedIn({ width: 375, height: 740 });
    await page.getByRole('link', { name: 'Presets' }).click();
    await page.getByRole('rowheader', { name: 'mp4_360p' }).waitFor();
    const overflow = async () => page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    assert.equal(await overflow(), 0, 'the presets table fits 375 px');
    await page.getByRole('button', { name: 'New preset' }).click();
    await page.getByRole('textbox', { name: 'Name', exact: true }).fill('form_webm');
    await page.getByLabel('Output', { exact: true }).selectOption('webm');
    await openGroup(page, 'Video');
    await page.getByLabel('video_codec', { exact: true }).fill('libx264');
    await page.getByLabel('bitrate', { exact: true }).fill('300k');
    await page.getByLabel('video_codec', { exact: true }).blur();
    // The server's check (nothing saved) names the field while the form is filled.
    const checked = page.locator('.check-result');
    await waitFor(async () => /video_codec/.test((await checked.textContent()) ?? ''), 10_000);
    assert.equal(await page.getByLabel('video_codec', { exact: true }).getAttribute('aria-invalid'), 'true');
    assert.match(String((await t.call('json', { action: 'GetPreset', name: 'form_webm' })).errors?.error), /not found/i);
    await page.getByLabel('video_codec', { exact: true }).fill('libvpx-vp9');
    await page.getByRole('button', { name: 'Save preset' }).click();
    await page.getByRole('rowheader', { name: 'form_webm' }).waitFor();
    const saved = await t.call('json', { action: 'GetPreset', name: 'form_webm' });
    assert.equal(saved.format!.output, 'webm');
    assert.equal(saved.format!.video_codec, 'libvpx-vp9');
    assert.equal(saved.format!.bitrate, '300k');
    assert.equal(await overflow(), 0);
    // Opened again, the editor shows the saved fields in their inputs.
    await page.getByRole('button', { name: 'form_webm: Edit' }).click();
    assert.equal(await page.getByLabel('bitrate', { exact: true }).inputValue(), '300k');
    assert.equal(await page.getByLabel('Output', { exact: true }).inputValue(), 'webm');
    assert.equal(await overflow(), 0, 'the editor fits 375 px');
    await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard-form-phone-presets.png'), fullPage: true });
    // The add form fits too.
    await page.getByRole('link', { name: 'Add media' }).click();
    await page.getByRole('button', { name: 'Add an output' }).click();
    await openGroup(page, 'Video');
    assert.equal(await overflow(), 0, 'the add form fits 375 px');
    await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard-form-phone-add.png'), fullPage: true });
    await close();
  });
});
