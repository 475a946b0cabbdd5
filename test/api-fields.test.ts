/**
 * Issue 12 §1 at the API: an honoured field shapes the output, an inert one is accepted without a
 * word, a refused one is an error that names it and stores nothing, an unknown one is warned
 * about (reply, task log, extended GetStatus, CLI) or refused in strict mode.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { Writable } from 'node:stream';
import { runCli } from '../src/cli/index.ts';
import * as repo from '../src/store/repo.ts';
import { USER, asList, ffprobe, makeClip, startTestServer, toXml, untilFinal, type TestServer, one } from './helpers.ts';

const SISE = 'format 1: unknown field "sise" ignored; did you mean "size"?';

describe('request fields against the registry', () => {
  let t: TestServer;
  let clip: string;
  const dest = (name: string) => `file://${path.join(t.filesDir, name)}`;
  const mediaCount = async () => (await t.call('json', { action: 'GetMediaList' })).media!.length as number;

  before(async () => {
    t = await startTestServer();
    await fs.mkdir(t.filesDir, { recursive: true });
    clip = await makeClip(path.join(t.filesDir, 'clip.mp4'), { seconds: 1, size: '160x90' });
  });
  after(() => t.close());

  test('honoured and inert fields: the output has the asked size, and inert fields bring no warning', async () => {
    const r = await t.call('json', {
      action: 'AddMedia', source: `file://${clip}`, region: 'us-east-1', ludicrous_mode: 'yes',
      format: { output: 'mp4', size: '96x54', file_extension: 'mp4', encoder: 'v3', destination: dest('honoured.mp4') },
    });
    assert.equal(r.message, 'Added', JSON.stringify(r));
    assert.equal(r.warnings, undefined, 'no warnings element without warnings');
    const { final } = await untilFinal(t, r.MediaID);
    assert.equal(final.status, 'Finished', JSON.stringify(final));
    const video = (await ffprobe(path.join(t.filesDir, 'honoured.mp4'))).streams.find((s) => s.codec_type === 'video');
    assert.equal(`${video?.width}x${video?.height}`, '96x54');
    const readme = await fs.readFile(path.join(import.meta.dirname, '..', 'README.md'), 'utf8');
    for (const name of ['region', 'ludicrous_mode', 'file_extension', 'encoder']) assert.match(readme, new RegExp(`\\| \`${name}\` \\|[^\\n]*\\*\\*inert\\*\\*: `), name);
  });

  test('an unknown field in XML: Added, with <warnings><warning> after the known elements, and the output is made without it', async () => {
    const query = { userid: USER.id, userkey: USER.key, action: 'AddMedia', source: `file://${clip}`, format: { output: 'mp4', size: '96x54', sise: '640x360', destination: dest('xml.mp4') } };
    const reply = await t.raw(`xml=${encodeURIComponent(toXml('query', query))}`);
    assert.match(reply.text, /^<\?xml version="1.0"\?>\n<response><message>Added<\/message><MediaID>(\d+)<\/MediaID><mediaid>\1<\/mediaid><warnings><warning>format 1: unknown field &quot;sise&quot; ignored; did you mean &quot;size&quot;\?<\/warning><\/warnings><\/response>$/);
    const id = /<MediaID>(\d+)</.exec(reply.text)![1]!;
    const { final } = await untilFinal(t, id);
    assert.equal(final.status, 'Finished');
    const video = (await ffprobe(path.join(t.filesDir, 'xml.mp4'))).streams.find((s) => s.codec_type === 'video');
    assert.equal(`${video?.width}x${video?.height}`, '96x54');
    const status = await t.call('xml', { action: 'GetStatus', mediaid: id, extended: 'yes' });
    assert.equal(status.job.warnings!.warning, SISE);
  });

  test('JSON: one warning is a string, several a list; they start the task logs and extended GetStatus lists them', async () => {
    const one = await t.call('json', { action: 'AddMediaBenchmark', source: `file://${clip}`, format: { output: 'mp4', sise: '640x360' } });
    assert.equal(one.message, 'Added');
    assert.deepEqual(one.warnings, { warning: SISE });

    const r = await t.call('json', {
      action: 'AddMediaBenchmark', source: `file://${clip}`, notifi: 'http://hooks.example/',
      format: [
        { output: 'advanced_hls', stream: [{ size: '0x90', sub_path: 'a' }, { size: '0x60', sub_path: 'b', bitrat: '300k' }], sub_path: 'x' },
        { output: 'thumbnail', time: '1', logo: { logo_source: 'http://x.example/l.png' } },
      ],
    });
    assert.equal(r.message, 'Added', JSON.stringify(r));
    const expected = [
      'query: unknown field "notifi" ignored; did you mean "notify"?',
      'format 1 stream 2: unknown field "bitrat" ignored; did you mean "bitrate"?',
      'format 1: unknown field "sub_path" ignored; it belongs in a stream',
      'format 2: field "logo" ignored: output thumbnail does not use it (video files, HLS, DASH, CMAF do)',
    ];
    assert.deepEqual(r.warnings!.warning, expected);
    const status = await t.call('json', { action: 'GetStatus', mediaid: r.MediaID, extended: 'yes', include_task_status: 'yes' });
    assert.deepEqual(status.job.warnings!.warning, expected);
    const [hls, thumb] = asList(status.job.format);
    const logOf = (task: any): string[] => asList(task.task_status?.state).map((s: any) => s.message);
    assert.deepEqual(logOf(hls).filter((m) => m.startsWith('Warning: ')), expected.slice(0, 3).map((w) => `Warning: ${w}`));
    assert.deepEqual(logOf(thumb).filter((m) => m.startsWith('Warning: ')), [expected[0], expected[3]].map((w) => `Warning: ${w}`), 'a top-level warning goes to every task');
    // The simple GetStatus is unchanged.
    const simple = await t.call('json', { action: 'GetStatus', mediaid: r.MediaID });
    assert.equal(simple.warnings, undefined);
  });

  test('a refused field anywhere is an error naming it and its place, and nothing is stored', async () => {
    const before = await mediaCount();
    const hls = (format: Record<string, unknown>, stream: Record<string, unknown> = {}) => ({
      action: 'AddMedia' as const, source: `file://${clip}`, format: { output: 'advanced_hls', destination: dest('drm/master.m3u8'), ...format, stream: [{ size: '0x90' }, { size: '0x60', ...stream }] },
    });
    const cases: [{ action: 'AddMedia'; [field: string]: unknown }, RegExp][] = [
      [hls({ fairplay_drm: 'yes' }), /^format 1: fairplay_drm is not supported yet \(FairPlay needs the cbcs scheme/],
      [hls({}, { fairplay_drm: { key_url: 'skd://k' } }), /^format 1 stream 2: fairplay_drm is not supported yet/],
      [hls({}, { manifest: { playready_drm: 'yes' } }), /^format 1 stream 2 manifest: playready_drm is not supported yet/],
      [hls({ manifest: { clearkey_drm: 'yes' } }), /^format 1 manifest: clearkey_drm is not supported yet/],
      [{ action: 'AddMedia', source: `file://${clip}`, format: [{ output: 'mp4' }, { output: 'mp4', hint: 'yes' }] }, /^format 2: hint is not supported yet/],
      [hls({ ad_break: { start: '1' } }), /^format 1: ad_break is not supported yet/],
    ];
    for (const [query, error] of cases) {
      for (const wire of ['json', 'xml'] as const) {
        const r = await t.call(wire, query);
        assert.match(one(r.errors?.error ?? ''), error, `${wire} ${JSON.stringify(query.format)}: ${JSON.stringify(r)}`);
        assert.equal(r.MediaID, undefined);
      }
    }
    assert.equal(await mediaCount(), before, 'no media stored');
    await assert.rejects(fs.stat(path.join(t.filesDir, 'drm')), 'nothing published');
    // go-encodingcom always sends an empty block: it asks for nothing.
    const empty = await t.call('json', { action: 'AddMediaBenchmark', source: `file://${clip}`, format: { output: 'mp4', video_codec_parameters: {}, widevine: 'no' } });
    assert.equal(empty.message, 'Added', JSON.stringify(empty));
    assert.equal(empty.warnings, undefined);
  });

  test('UpdateMedia with a refused field changes nothing; SavePreset warns and refuses the same way', async () => {
    const added = await t.call('json', { action: 'AddMediaBenchmark', source: `file://${clip}`, format: { output: 'mp4', size: '96x54' } });
    const update = await t.call('json', { action: 'UpdateMedia', mediaid: added.MediaID, format: { output: 'webm', drm: 'yes' } });
    // Common Encryption is for DASH and CMAF (issue 17): a webm asking for DRM is refused, never made clear.
    assert.match(one(update.errors!.error), /^drm is not supported for webm: Encodery packages DRM \(cenc\) for mpeg_dash/);
    const status = await t.call('json', { action: 'GetStatus', mediaid: added.MediaID, extended: 'yes' });
    assert.equal(one(status.job.format).output, 'mp4');

    const saved = await t.call('json', { action: 'SavePreset', name: 'fields_ok', format: { output: 'mp4', bitrat: '900k' } });
    assert.equal(saved.message, 'Saved');
    assert.equal(saved.warnings!.warning, 'format 1: unknown field "bitrat" ignored; did you mean "bitrate"?');
    const refused = await t.call('json', { action: 'SavePreset', name: 'fields_drm', format: { output: 'advanced_hls', stream: { size: '0x90', fairplay_drm: 'yes' } } });
    assert.match(one(refused.errors!.error), /^format 1 stream 1: fairplay_drm is not supported yet/);
    const got = await t.call('json', { action: 'GetPreset', name: 'fields_drm' });
    assert.match(one(got.errors!.error), /not found/);

    // A preset stored before its field was refused (written straight to the store here) cannot bring it back.
    await repo.savePresets(t.server.db, USER.id, [{ name: 'old_drm', output: 'advanced_hls', format: JSON.stringify({ output: 'advanced_hls', fairplay_drm: 'yes', stream: { size: '0x90' } }) }]);
    const before = await mediaCount();
    const viaPreset = await t.call('json', { action: 'AddMedia', source: `file://${clip}`, format: [{ output: 'mp4' }, { output_preset: 'old_drm' }] });
    assert.match(one(viaPreset.errors?.error ?? ''), /^Format 2: preset "old_drm": fairplay_drm is not supported yet/);
    assert.equal(await mediaCount(), before);
  });

  test('strict=yes refuses unknown fields, naming them with the suggestion; nothing is stored', async () => {
    const before = await mediaCount();
    const r = await t.call('json', { action: 'AddMedia', strict: 'yes', source: `file://${clip}`, format: { output: 'mp4', sise: '640x360', logo: { logo_source: 'http://x.example/l.png', logo_z: '1' } } });
    assert.equal(r.errors?.error, 'Fields Encodery would ignore are refused (strict mode): format 1: unknown field "sise"; did you mean "size"?. format 1 logo: unknown field "logo_z"; did you mean "logo_x"?. Remove or correct them.');
    assert.equal(await mediaCount(), before);
    const clean = await t.call('json', { action: 'AddMediaBenchmark', strict: 'yes', source: `file://${clip}`, format: { output: 'mp4', region: 'x' } });
    assert.match(one(clean.errors?.error ?? ''), /format 1: unknown field "region"; it belongs in the top level of the query/);
  });

  test('encodery add prints the warnings on stderr, and stdout stays the usual line', async () => {
    const collect = () => {
      let text = '';
      return { stream: new Writable({ write: (c: Buffer, _e, done) => ((text += c.toString()), done()) }), text: () => text };
    };
    const stdout = collect();
    const stderr = collect();
    const env = { ENCODERY_URL: t.server.url, ENCODERY_USERID: USER.id, ENCODERY_USERKEY: USER.key };
    const code = await runCli('add', [clip, '--format', '{"output":"mp4","size":"96x54","sise":"96x54"}', '--dest', path.join(t.filesDir, 'cli.mp4')], env, { stdout: stdout.stream, stderr: stderr.stream });
    assert.equal(code, 0, stderr.text());
    assert.match(stdout.text(), /^Added media (\d+)\n$/);
    assert.equal(stderr.text(), `warning: ${SISE}\n`);
    await untilFinal(t, /Added media (\d+)/.exec(stdout.text())![1]!);
  });
});

describe('ENCODERY_STRICT_FIELDS=true', () => {
  let t: TestServer;
  let clip: string;
  before(async () => {
    t = await startTestServer({ ENCODERY_STRICT_FIELDS: 'true' });
    await fs.mkdir(t.filesDir, { recursive: true });
    clip = await makeClip(path.join(t.filesDir, 'clip.mp4'), { seconds: 1, size: '160x90' });
  });
  after(() => t.close());

  test('an unknown field is refused in XML and JSON; known and inert ones are accepted', async () => {
    for (const wire of ['json', 'xml'] as const) {
      const r = await t.call(wire, { action: 'AddMediaBenchmark', source: `file://${clip}`, format: { output: 'mp4', sise: '640x360' } });
      assert.match(one(r.errors?.error ?? ''), /^Fields Encodery would ignore are refused \(strict mode\): format 1: unknown field "sise"; did you mean "size"\?/);
    }
    const ok = await t.call('json', { action: 'AddMediaBenchmark', source: `file://${clip}`, region: 'eu-west-1', format: { output: 'mp4', size: '96x54' } });
    assert.equal(ok.message, 'Added', JSON.stringify(ok));
    assert.equal((await t.call('json', { action: 'GetMediaList' })).media!.length, 1);
  });
});
