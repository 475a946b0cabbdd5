// Issue 13 §5: a URL with credentials is redacted wherever a stored format or URL leaves the
// server, whatever its field is called (logo, overlay, font, vtt_destination, QC original_source),
// and fields whose role is a secret are masked.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { USER, exec, makeClip, serveFiles, startReceiver, startTestServer, tempDir, untilFinal, waitFor, collectLogs, type TestServer } from './helpers.ts';

const PASSWORD = 'Pw-9f3kq7zX';
const FONT = '/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf';

describe('secrets given in format fields never come back', () => {
  let t: TestServer;
  let assets: Awaited<ReturnType<typeof serveFiles>>;
  let hooks: Awaited<ReturnType<typeof startReceiver>>;
  let served: string;
  let clip: string;
  const logLines: string[] = [];

  before(async () => {
    served = await tempDir('encodery-assets-');
    await makeClip(path.join(served, 'original.mp4'), { seconds: 1, size: '160x90' });
    await exec('ffmpeg', ['-v', 'error', '-f', 'lavfi', '-i', 'color=red:size=16x16', '-frames:v', '1', path.join(served, 'logo.png')]);
    await fs.copyFile(FONT, path.join(served, 'font.ttf'));
    assets = await serveFiles(served);
    hooks = await startReceiver();
    t = await startTestServer({ ENCODERY_LOG_LEVEL: 'debug' }, collectLogs('debug', logLines).logger);
    clip = await makeClip(path.join(t.filesDir, 'clip.mp4'), { seconds: 1, size: '160x90' });
  });
  after(async () => {
    await t.close();
    await assets.close();
    await hooks.close();
    await fs.rm(served, { recursive: true, force: true });
  });

  const withPassword = (url: string, scheme = 'http') => url.replace(/^http:\/\//, `${scheme}://user:${PASSWORD}@`);

  async function everywhere(id: string): Promise<Record<string, string>> {
    const seen: Record<string, string> = {};
    for (const format of ['xml', 'json'] as const) {
      seen[`GetStatus ${format}`] = JSON.stringify(await t.call(format, { action: 'GetStatus', mediaid: id }));
      seen[`GetStatus extended ${format}`] = JSON.stringify(await t.call(format, { action: 'GetStatus', mediaid: id, extended: 'yes', include_task_status: 'yes', include_qc_task_status: 'yes' }));
    }
    seen['dashboard'] = await dashboardStatus(id);
    seen['GetMediaList'] = JSON.stringify(
      await t.call('json', { action: 'GetMediaList', version: '3', format_params: 'logo,text_overlay,overlay,qc,vtt_destination,destination' }),
    );
    return seen;
  }

  /** GetStatus and the overview as the dashboard's page asks for them, signed in as USER. */
  async function dashboardStatus(id: string): Promise<string> {
    const login = await fetch(`${t.server.url}/dashboard/login`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: t.server.url },
      body: new URLSearchParams({ userid: USER.id, userkey: USER.key }).toString(),
    });
    const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0]!;
    const page = await (await fetch(`${t.server.url}/dashboard`, { headers: { cookie } })).text();
    const csrf = /name="csrf-token" content="([^"]+)"/.exec(page)![1]!;
    const res = await fetch(`${t.server.url}/dashboard/api`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: t.server.url, cookie, 'x-csrf-token': csrf },
      body: JSON.stringify({ query: { action: 'GetStatus', mediaid: id, extended: 'yes', include_task_status: 'yes' } }),
    });
    assert.equal(res.status, 200);
    const text = await res.text();
    assert.match(text, new RegExp(`"id":"${id}"`));
    return text;
  }

  function assertNoPassword(seen: Record<string, string>): void {
    for (const [where, text] of Object.entries(seen)) assert.ok(!text.includes(PASSWORD), `${where} shows the password: ${text.slice(Math.max(0, text.indexOf(PASSWORD) - 300), text.indexOf(PASSWORD) + 50)}`);
  }

  test('logo, font, QC original_source (http) and vtt_destination (sftp) with passwords: absent from GetStatus, GetMediaList, task logs, commands, notify and logs', async () => {
    const add = await t.call('json', {
      action: 'AddMedia',
      source: `file://${clip}`,
      notify: `${hooks.url}/done`,
      notify_upload: `${hooks.url}/upload`,
      format: [
        {
          output: 'mp4',
          size: '160x90',
          logo: { logo_source: withPassword(`${assets.url}/logo.png`), logo_x: '10', logo_y: '10' },
          text_overlay: { text: 'hi', font_source: withPassword(`${assets.url}/font.ttf`), font_size: '12' },
          qc: { qc_video_metrics: { original_source: withPassword(`${assets.url}/original.mp4`), metrics: { metric: 'psnr' } } },
          destination: `file://${t.filesDir}/out.mp4`,
        },
        { output: 'thumbnail', use_vtt: 'yes', time: '1!', width: '64', vtt_destination: withPassword('http://storage.invalid/x.vtt', 'sftp'), destination: `file://${t.filesDir}/thumbs.jpg` },
      ],
    });
    assert.ok(add.MediaID, JSON.stringify(add));
    const { final } = await untilFinal(t, add.MediaID, 180_000);
    const text = JSON.stringify(final);
    // The URLs are shown, with their credentials masked, and the work really ran.
    assert.match(text, /http:\/\/\*\*\*:\*\*\*@127\.0\.0\.1:\d+\/logo\.png/);
    assert.match(text, /sftp:\/\/\*\*\*:\*\*\*@storage\.invalid\/x\.vtt/);
    const seen = await everywhere(add.MediaID);
    assert.match(seen['GetStatus extended json']!, /Running: /);
    assert.match(seen['GetStatus extended json']!, /original_source http:\/\/\*\*\*:\*\*\*@127\.0\.0\.1/);
    const done = await waitFor(async () => hooks.received.find((r) => r.url === '/done'), 60_000);
    seen['notify'] = done.body.toString();
    seen['notify_upload'] = hooks.received.filter((r) => r.url === '/upload').map((r) => r.body.toString()).join('\n');
    assert.ok(seen['notify_upload'], 'a notify_upload was sent');
    seen['logs'] = logLines.join('');
    assertNoPassword(seen);
  });

  test('an sftp overlay with a password that cannot be fetched: the error description and logs do not show it', async () => {
    const add = await t.call('json', {
      action: 'AddMedia',
      source: `file://${clip}`,
      notify: `${hooks.url}/overlay`,
      format: { output: 'mp4', overlay: { overlay_source: withPassword('http://127.0.0.1:9/o.png', 'sftp') }, destination: `file://${t.filesDir}/o.mp4` },
    });
    const { final } = await untilFinal(t, add.MediaID, 120_000);
    assert.equal(final.status, 'Error');
    const seen = await everywhere(add.MediaID);
    seen['notify'] = (await waitFor(async () => hooks.received.find((r) => r.url === '/overlay'), 60_000)).body.toString();
    seen['logs'] = logLines.join('');
    assertNoPassword(seen);
  });

  test('a secret-role field is masked at any depth and a URL redacted whatever its field is called', async () => {
    const { redactFields } = await import('../src/transfer/redact.ts');
    const shown = redactFields({
      encryption_key: '00112233445566778899aabbccddeeff',
      custom: { nested: [`see https://u:${PASSWORD}@example.com/a?token=abc`] },
      text: 'plain words',
    });
    assert.deepEqual(shown, { encryption_key: '***', custom: { nested: ['see https://***:***@example.com/a?token=***'] }, text: 'plain words' });
  });
});
