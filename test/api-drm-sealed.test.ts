/**
 * Issue 17, "keys are never stored in clear": secret fields (drm_key, HLS encryption_key) are
 * sealed before they reach the store (media, task and preset rows read here with SQL, on SQLite
 * and PostgreSQL), opened only by the encoder and by output_preset, and a process with another
 * ENCODERY_SECRET_KEY ends the media in Error saying which setting to fix.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { sql } from 'kysely';
import { startServer, type RunningServer } from '../src/server.ts';
import { parseSealingKey } from '../src/domain/sealed.ts';
import { USER, asList, exec, waitFor, makeClip, startTestServer, untilFinal, type TestServer } from './helpers.ts';

const KEY = 'a0a1a2a3a4a5a6a7a8a9aaabacadaeaf';
const KID = '0123456789abcdef0123456789abcdef';
const HLS_KEY = 'f0e1d2c3b4a5968778695a4b3c2d1e0f';
const SECRET_A = crypto.randomBytes(32).toString('hex');
const SECRET_B = crypto.randomBytes(32).toString('base64');

/** Every row of the tables that hold request fields, as the database returns them. */
async function rawRows(t: { server: RunningServer }): Promise<string> {
  const rows = [];
  for (const table of ['media', 'task', 'preset', 'task_log', 'notification']) rows.push(...(await sql`select * from ${sql.table(table)}`.execute(t.server.db)).rows);
  return JSON.stringify(rows);
}

/** Frames FFmpeg decodes from a DASH track's init and first media segment with `key`, and its complaints. */
async function decodeFirstSegment(dir: string, key: string): Promise<{ frames: number; errors: string }> {
  const file = path.join(dir, `joined-${crypto.randomUUID()}.mp4`);
  const segments = (await fs.readdir(dir)).filter((f) => /^seg_\d+\.m4s$/.test(f)).sort();
  await fs.writeFile(file, Buffer.concat([await fs.readFile(path.join(dir, 'init.m4s')), await fs.readFile(path.join(dir, segments[0]!))]));
  try {
    const r = await exec('ffmpeg', ['-hide_banner', '-v', 'error', '-decryption_key', key, '-i', file, '-f', 'framemd5', '-']).catch((err: { stdout?: string; stderr?: string }) => ({ stdout: err.stdout ?? '', stderr: `${err.stderr ?? ''} (failed)` }));
    return { frames: r.stdout.split('\n').filter((l) => /^\d/.test(l)).length, errors: r.stderr };
  } finally {
    await fs.rm(file, { force: true });
  }
}

describe('secret fields sealed at rest (issue 17)', { timeout: 300_000 }, () => {
  let t: TestServer;
  let clip: string;

  before(async () => {
    t = await startTestServer({ ENCODERY_SECRET_KEY: SECRET_A });
    clip = await makeClip(path.join(t.filesDir, 'clip.mp4'), { seconds: 2, size: '320x180' });
  });
  after(() => t?.close());

  test('drm_key and encryption_key are sealed in every row (and in the saved preset); the outputs still use them; no reply shows them', async () => {
    const out = path.join(t.filesDir, 'sealed');
    const { MediaID: id } = await t.call('json', {
      action: 'AddMedia', source: `file://${clip}`,
      format: [
        { output: 'mpeg_dash', segment_duration: '2', size: '0x180', bitrate: '200k', turbo: 'yes', drm_key: KEY.toUpperCase(), drm_key_id: KID, clearkey_drm: 'yes', save_preset: 'protected_dash', destination: `file://${out}/dash/video.mpd` },
        { output: 'advanced_hls', segment_duration: '2', encryption: 'yes', encryption_key: HLS_KEY, stream: { size: '0x180', bitrate: '200k' }, destination: `file://${out}/hls/index.m3u8` },
      ],
    });
    const { final } = await untilFinal(t, id);
    assert.equal(final.status, 'Finished', JSON.stringify(final));

    const rows = await rawRows(t);
    for (const secret of [KEY, HLS_KEY]) assert.ok(!rows.toLowerCase().includes(secret), `no row holds ${secret.slice(0, 6)}… in clear`);
    const task = (await sql<{ format: string }>`select format from task where media_id = ${Number(id)} order by position`.execute(t.server.db)).rows;
    assert.match(JSON.parse(task[0]!.format).drm_key, /^encodery-sealed:v1:[0-9a-f]{8}:/, 'the task keeps a sealed token');
    assert.equal(JSON.parse(task[0]!.format).drm_key_id, KID, 'a key id is public: kept as given');
    assert.match(JSON.parse(task[1]!.format).encryption_key, /^encodery-sealed:v1:/);
    const preset = (await sql<{ format: string }>`select format from preset where name = 'protected_dash'`.execute(t.server.db)).rows[0]!;
    assert.match(JSON.parse(preset.format).drm_key, /^encodery-sealed:v1:/);

    // The outputs were made with the real keys.
    const video = await decodeFirstSegment(path.join(out, 'dash', 'stream_0'), KEY);
    assert.equal(video.errors, '');
    assert.ok(video.frames > 0);
    const hlsKey = (await fs.readdir(path.join(out, 'hls'), { recursive: true })).find((f) => String(f).endsWith('.key'));
    assert.equal((await fs.readFile(path.join(out, 'hls', String(hlsKey)))).toString('hex'), HLS_KEY, 'the HLS key file holds the key asked for');

    const shown = JSON.stringify([
      await t.call('json', { action: 'GetStatus', mediaid: id, extended: 'yes', include_task_status: 'yes' }),
      await t.call('xml', { action: 'GetPreset', name: 'protected_dash' }),
      await t.call('json', { action: 'GetPresetsList', type: 'user' }),
      await t.call('json', { action: 'GetMediaList', version: '3', format_params: 'drm_key,encryption_key' }),
    ]).toLowerCase();
    for (const secret of [KEY, HLS_KEY]) assert.ok(!shown.includes(secret));
    assert.ok(!shown.includes('encodery-sealed'), 'a sealed token is masked like the value');
  });

  test('output_preset opens a sealed preset key for the encoder; a preset stored in clear before sealing still works and is sealed in the new media', async () => {
    const out = path.join(t.filesDir, 'from-preset');
    const { MediaID: id } = await t.call('json', { action: 'AddMedia', source: `file://${clip}`, format: { output_preset: 'protected_dash', destination: `file://${out}/video.mpd` } });
    const { final } = await untilFinal(t, id);
    assert.equal(final.status, 'Finished', JSON.stringify(final));
    assert.equal((await decodeFirstSegment(path.join(out, 'stream_0'), KEY)).errors, '', 'encrypted with the preset\'s key');

    // A row as an older version stored it: the key in clear.
    const legacy = JSON.stringify({ output: 'mpeg_dash', segment_duration: '2', size: '0x180', bitrate: '200k', turbo: 'yes', drm_key: KEY, drm_key_id: KID });
    await sql`insert into preset (user_id, name, output, format, created_at, updated_at) values (${USER.id}, 'legacy_dash', 'mpeg_dash', ${legacy}, ${Date.now()}, ${Date.now()})`.execute(t.server.db);
    const old = path.join(t.filesDir, 'legacy');
    const { MediaID: id2 } = await t.call('json', { action: 'AddMedia', source: `file://${clip}`, format: { output_preset: 'legacy_dash', destination: `file://${old}/video.mpd` } });
    const done = await untilFinal(t, id2);
    assert.equal(done.final.status, 'Finished', JSON.stringify(done.final));
    assert.equal((await decodeFirstSegment(path.join(old, 'stream_0'), KEY)).errors, '');
    const stored = (await sql<{ format: string }>`select format from task where media_id = ${Number(id2)}`.execute(t.server.db)).rows[0]!.format;
    assert.ok(!stored.includes(KEY) && /encodery-sealed:v1:/.test(stored), 'the new media stores it sealed');
  });

  test('a process with another ENCODERY_SECRET_KEY ends the media in Error naming the setting; a preset it cannot open is refused the same way; values stored in clear are sealed at start', async () => {
    const added = await t.call('json', {
      action: 'AddMediaBenchmark', source: `file://${clip}`,
      format: { output: 'mpeg_dash', segment_duration: '2', size: '0x180', bitrate: '200k', drm_key: KEY, drm_key_id: KID, destination: `file://${t.filesDir}/never/video.mpd` },
    });
    const id = added.MediaID;
    assert.ok(id, JSON.stringify(added));
    await waitFor(async () => (await t.call('json', { action: 'GetStatus', mediaid: id })).status === 'Ready to process');
    // A preset and a media option an older version stored in clear: the next start seals them.
    const legacy = JSON.stringify({ output: 'advanced_hls', encryption: 'yes', encryption_key: HLS_KEY, stream: { size: '0x180' } });
    await sql`insert into preset (user_id, name, output, format, created_at, updated_at) values (${USER.id}, 'legacy_hls', 'advanced_hls', ${legacy}, ${Date.now()}, ${Date.now()})`.execute(t.server.db);
    await sql`update media set options = ${JSON.stringify({ oidc_refresh_token: 'clear-refresh-token' })} where id = ${Number(id)}`.execute(t.server.db);
    // A client that sent the key as a list: stored as one.
    const listed = JSON.stringify({ output: 'mpeg_dash', segment_duration: '2', drm_key: [KEY], drm_key_id: KID });
    await sql`insert into preset (user_id, name, output, format, created_at, updated_at) values (${USER.id}, 'legacy_list', 'mpeg_dash', ${listed}, ${Date.now()}, ${Date.now()})`.execute(t.server.db);
    const sealedBefore = (await sql<{ format: string }>`select format from task where media_id = ${Number(id)}`.execute(t.server.db)).rows[0]!.format;
    await t.server.close();
    // The same store and data dir, another key: as a worker given the wrong value would run.
    const other = await startServer({ ...t.config, secretKey: parseSealingKey(SECRET_B) }, {});
    try {
      const after = JSON.stringify((await sql`select p.format, m.options from preset p, media m where p.name = 'legacy_hls' and m.id = ${Number(id)}`.execute(other.db)).rows);
      assert.ok(!after.includes(HLS_KEY) && !after.includes('clear-refresh-token'), 'the start sealed what was stored in clear');
      assert.equal((after.match(new RegExp(`encodery-sealed:v1:${parseSealingKey(SECRET_B)!.fingerprint}:`, 'g')) ?? []).length, 2);
      assert.equal((await sql<{ format: string }>`select format from task where media_id = ${Number(id)}`.execute(other.db)).rows[0]!.format, sealedBefore, 'a sealed value is left as it is');
      const listedAfter = (await sql<{ format: string }>`select format from preset where name = 'legacy_list'`.execute(other.db)).rows[0]!.format;
      assert.ok(!listedAfter.includes(KEY) && /"drm_key":\["encodery-sealed:v1:/.test(listedAfter), `a key stored as a list is sealed too: ${listedAfter}`);
      const call = async (query: Record<string, unknown>) => {
        const res = await fetch(`${other.url}/`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `json=${encodeURIComponent(JSON.stringify({ query: { userid: USER.id, userkey: USER.key, ...query } }))}` });
        return ((await res.json()) as { response: any }).response;
      };
      const started = await call({ action: 'ProcessMedia', mediaid: id });
      assert.equal(started.message, 'Started', JSON.stringify(started));
      let status: any;
      for (let i = 0; i < 600; i++) {
        status = await call({ action: 'GetStatus', mediaid: id });
        if (['Finished', 'Error'].includes(status.status)) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.equal(status.status, 'Error', JSON.stringify(status));
      const described = JSON.stringify(asList(status.format)[0]);
      assert.match(described, /drm_key was sealed with another ENCODERY_SECRET_KEY .*give every API node and worker the same ENCODERY_SECRET_KEY/);
      assert.ok(!described.toLowerCase().includes(KEY));
      await assert.rejects(fs.stat(path.join(t.filesDir, 'never')), 'nothing was encoded or delivered');

      const refused = await call({ action: 'AddMedia', source: `file://${clip}`, format: { output_preset: 'protected_dash', destination: `file://${t.filesDir}/never/video.mpd` } });
      assert.match(String(refused.errors?.error), /^preset "protected_dash": drm_key was sealed with another ENCODERY_SECRET_KEY .*save the preset again\.$/);
    } finally {
      await other.close();
    }
  });
});

test('without ENCODERY_SECRET_KEY a key is made once in the data dir (mode 0600), seals the stored fields, and is read back by the next start', { skip: process.env.ENCODERY_TEST_STORE === 'postgres' ? 'uses no store: runs in the SQLite pass only' : false }, async () => {
  const t = await startTestServer();
  try {
    const file = path.join(t.dataDir, 'secret.key');
    const first = await fs.readFile(file, 'utf8');
    assert.match(first, /^[0-9a-f]{64}\n$/);
    assert.equal((await fs.stat(file)).mode & 0o777, 0o600);
    const { MediaID: id } = await t.call('json', { action: 'AddMediaBenchmark', source: `file://${path.join(t.filesDir, 'x.mp4')}`, format: { output: 'mpeg_dash', drm_key: KEY, drm_key_id: KID } });
    const stored = (await sql<{ format: string }>`select format from task where media_id = ${Number(id)}`.execute(t.server.db)).rows[0]!.format;
    assert.equal(/encodery-sealed:v1:([0-9a-f]{8}):/.exec(stored)?.[1], parseSealingKey(first)!.fingerprint, 'sealed with the key in the file');
    const again = await startServer({ ...t.config, port: 0 }, {});
    await again.close();
    assert.equal(await fs.readFile(file, 'utf8'), first, 'the second start reads it back instead of making another');
  } finally {
    await t.close();
  }
});
