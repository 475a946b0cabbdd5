import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { parseFormat } from '../src/domain/format.ts';
import { BUILT_IN_PRESETS, PRESET_NAME } from '../src/domain/presets.ts';
import { OTHER, USER, asList, ffprobe, makeClip, parseXml, startTestServer, toXml, untilFinal, type TestServer, one } from './helpers.ts';

describe('built-in presets', () => {
  test('every built-in preset passes parseFormat, has a unique valid name and repeats its output', () => {
    const names = new Set<string>();
    for (const p of BUILT_IN_PRESETS) {
      const parsed = parseFormat(p.format);
      assert.ok(parsed.ok, `${p.name}: ${parsed.ok ? '' : parsed.error}`);
      assert.equal(parsed.spec.output, p.output, p.name);
      assert.equal(p.format.output, p.output, p.name);
      assert.equal(p.type, 'ui');
      assert.match(p.name, PRESET_NAME);
      assert.ok(!names.has(p.name), `duplicate ${p.name}`);
      names.add(p.name);
    }
    for (const name of ['mp4_1080p', 'mp4_720p', 'mp4_480p', 'mp4_360p', 'webm_vp9_720p', 'mp3_192k', 'm4a_128k', 'thumbnail_jpg']) assert.ok(names.has(name), name);
  });
});

describe('Presets API', () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer();
    await fs.mkdir(t.filesDir, { recursive: true });
  });
  after(() => t.close());

  const userPresets = async (user = USER) => (await t.call('json', { action: 'GetPresetsList', type: 'user' }, user)).user as any[];
  const mediaCount = async (user = USER) => (await t.call('json', { action: 'GetMediaList' }, user)).media!.length as number;
  const xmlQuery = (query: Record<string, unknown>, user = USER) =>
    t.raw('xml=' + encodeURIComponent(toXml('query', { userid: user.id, userkey: user.key, ...query })));

  test('GetPresetsList on a new account: ui presets as an array, user an empty array (absent in XML)', async () => {
    const json = JSON.parse((await t.raw('json=' + encodeURIComponent(JSON.stringify({ query: { userid: USER.id, userkey: USER.key, action: 'GetPresetsList' } })))).text);
    assert.deepEqual(json.response.user, []);
    assert.ok(Array.isArray(json.response.ui));
    assert.equal(json.response.ui.length, BUILT_IN_PRESETS.length);
    const mp4 = json.response.ui.find((p: any) => p.name === 'mp4_720p');
    assert.deepEqual({ ...mp4, format: undefined }, { name: 'mp4_720p', type: 'ui', output: 'mp4', format: undefined });
    assert.equal(mp4.format.output, 'mp4');
    assert.equal(mp4.format.size, '0x720');
    // Every value a string, or (a ladder's <stream> list) a list of sets of strings.
    const leaves = (v: unknown): unknown[] => (typeof v === 'object' && v !== null ? Object.values(v).flatMap(leaves) : [v]);
    for (const p of json.response.ui) for (const v of leaves(p.format)) assert.equal(typeof v, 'string', 'every value a string');
    const ladder = json.response.ui.find((p: any) => p.name === 'hls_ladder');
    assert.deepEqual(ladder.format.stream.map((s: any) => s.size), ['0x1080', '0x720', '0x480', '0x360']);

    const xml = await xmlQuery({ action: 'GetPresetsList' });
    assert.ok(xml.text.startsWith('<?xml version="1.0"?>\n<response><ui><name>'), xml.text.slice(0, 80));
    assert.ok(!xml.text.includes('<user>'), 'an empty user list is no element in XML');
    assert.equal(asList(parseXml(xml.text).response.ui).length, BUILT_IN_PRESETS.length);

    assert.deepEqual(await t.call('json', { action: 'GetPresetsList', type: 'user' }), { user: [] });
    assert.equal((await xmlQuery({ action: 'GetPresetsList', type: 'user' })).text, '<?xml version="1.0"?>\n<response></response>');
    const uiOnly = await t.call('json', { action: 'GetPresetsList', type: 'UI' });
    assert.deepEqual(Object.keys(uiOnly), ['ui']);
    assert.match(one((await t.call('json', { action: 'GetPresetsList', type: 'mine' })).errors!.error), /Field "type" must be all, user or ui/);
  });

  test('GetPreset of a built-in, by type', async () => {
    const p = await t.call('json', { action: 'GetPreset', name: 'mp3_192k' });
    assert.deepEqual(p, { name: 'mp3_192k', type: 'ui', output: 'mp3', format: { output: 'mp3', audio_codec: 'libmp3lame', audio_bitrate: '192k' } });
    assert.equal((await t.call('json', { action: 'GetPreset', name: 'mp3_192k', type: 'ui' })).name, 'mp3_192k');
    assert.equal((await t.call('json', { action: 'GetPreset', name: 'mp3_192k', type: 'user' })).errors!.error, 'Preset "mp3_192k" not found.');
  });

  test('SavePreset (XML, one format): SavedPreset is a string; GetPreset gives the stored fields without destination', async () => {
    const res = await xmlQuery({
      action: 'SavePreset',
      name: 'web_720',
      format: { output: 'mp4', size: '0x720', bitrate: '2000k', audio_bitrate: '128k', destination: `file://${t.filesDir}/x.mp4` },
    });
    assert.equal(res.text, '<?xml version="1.0"?>\n<response><message>Saved</message><SavedPreset>web_720</SavedPreset></response>');

    const json = JSON.parse((await t.raw('json=' + encodeURIComponent(JSON.stringify({ query: { userid: USER.id, userkey: USER.key, action: 'GetPreset', name: 'web_720' } })))).text);
    assert.deepEqual(json, {
      response: { name: 'web_720', type: 'user', output: 'mp4', format: { output: 'mp4', size: '0x720', bitrate: '2000k', audio_bitrate: '128k' } },
    });
    const xml = parseXml((await xmlQuery({ action: 'GetPreset', name: 'web_720', type: 'user' })).text).response;
    assert.deepEqual(xml, json.response);
  });

  test('SavePreset (JSON, two formats, one name): SavedPreset is an array of suffixed names', async () => {
    const r = await t.call('json', { action: 'SavePreset', name: 'pair', format: [{ output: 'mp3' }, { output: 'm4a', audio_bitrate: '96k' }] });
    assert.deepEqual(r, { message: 'Saved', SavedPreset: ['pair_1', 'pair_2'] });
    const xml = parseXml((await xmlQuery({ action: 'SavePreset', name: 'pair', format: [{ output: 'mp3' }, { output: 'm4a', audio_bitrate: '96k' }] })).text).response;
    assert.deepEqual(xml.SavedPreset, ['pair_1', 'pair_2']);
    assert.equal((await t.call('json', { action: 'GetPreset', name: 'pair_2' })).format!.audio_bitrate, '96k');
  });

  test('a saved HLS encryption key is never read back from GetPreset or GetPresetsList, yet a format using the preset keeps it', async () => {
    const key = '00112233445566778899aabbccddeeff';
    const format = { output: 'advanced_hls', encryption: 'yes', encryption_key: key, stream: [{ size: '0x90', bitrate: '100k' }] };
    await t.call('json', { action: 'SavePreset', name: 'secret_hls', format });
    const one = await t.call('json', { action: 'GetPreset', name: 'secret_hls', type: 'user' });
    assert.equal(one.format!.encryption_key, '***');
    const list = await t.call('json', { action: 'GetPresetsList', type: 'user' });
    assert.ok(!JSON.stringify(list).includes(key), 'no key in GetPresetsList');
    const xml = (await xmlQuery({ action: 'GetPreset', name: 'secret_hls', type: 'user' })).text;
    assert.ok(!xml.includes(key) && xml.includes('***'), xml);
    const added = await t.call('json', { action: 'AddMedia', source: 'https://example.com/a.mp4', format: { output_preset: 'secret_hls' } });
    assert.match(String(added.MediaID), /^\d+$/);
    const status = await t.call('json', { action: 'GetStatus', mediaid: added.MediaID, extended: 'yes' });
    assert.ok(!JSON.stringify(status).includes(key), 'no key in GetStatus');
  });

  test('a given name overwrites that user’s preset', async () => {
    await t.call('json', { action: 'SavePreset', name: 'over', format: { output: 'mp4', bitrate: '1000k' } });
    const r = await t.call('json', { action: 'SavePreset', name: 'over', format: { output: 'webm', bitrate: '700k' } });
    assert.deepEqual(r, { message: 'Saved', SavedPreset: 'over' });
    const p = await t.call('json', { action: 'GetPreset', name: 'over' });
    assert.equal(p.output, 'webm');
    assert.deepEqual(p.format, { output: 'webm', bitrate: '700k' });
    assert.equal((await userPresets()).filter((x) => x.name === 'over').length, 1);
  });

  test('derived names come from the output and never overwrite', async () => {
    const first = await t.call('json', { action: 'SavePreset', format: { output: 'thumbnail', time: '1' } });
    assert.equal(first.SavedPreset, 'thumbnail');
    const next = await t.call('json', { action: 'SavePreset', format: [{ output: 'thumbnail', time: '2' }, { output: 'THUMBNAIL', time: '3' }] });
    assert.deepEqual(next.SavedPreset, ['thumbnail_1', 'thumbnail_2']);
    assert.equal((await t.call('json', { action: 'GetPreset', name: 'thumbnail' })).format!.time, '1', 'the first is untouched');
    assert.deepEqual((await t.call('json', { action: 'GetPreset', name: 'thumbnail_2' })).format, { output: 'thumbnail', time: '3' });
  });

  test('DeletePreset: a user preset goes; a ui preset or an unknown name is an error', async () => {
    await t.call('json', { action: 'SavePreset', name: 'doomed', format: { output: 'mp3' } });
    assert.deepEqual(await t.call('json', { action: 'DeletePreset', name: 'doomed' }), { message: 'Deleted' });
    assert.equal((await t.call('json', { action: 'GetPreset', name: 'doomed' })).errors!.error, 'Preset "doomed" not found.');
    assert.equal((await t.call('json', { action: 'DeletePreset', name: 'doomed' })).errors!.error, 'Preset "doomed" not found.');
    const before = await userPresets();
    assert.match(one((await t.call('xml', { action: 'DeletePreset', name: 'mp4_720p' })).errors!.error), /built-in \(ui\) preset and cannot be deleted/);
    assert.equal((await t.call('json', { action: 'GetPreset', name: 'mp4_720p' })).type, 'ui');
    assert.deepEqual(await userPresets(), before);
  });

  test('a user preset may share a ui name; it wins for that user only, and deleting it uncovers the ui one', async () => {
    await t.call('json', { action: 'SavePreset', name: 'mp4_480p', format: { output: 'mp4', size: '0x480', bitrate: '999k' } });
    assert.equal((await t.call('json', { action: 'GetPreset', name: 'mp4_480p' })).type, 'user');
    assert.equal((await t.call('json', { action: 'GetPreset', name: 'mp4_480p' }, OTHER)).type, 'ui');
    await t.call('json', { action: 'DeletePreset', name: 'mp4_480p' });
    assert.equal((await t.call('json', { action: 'GetPreset', name: 'mp4_480p' })).type, 'ui');
  });

  test('another user can neither get, list, use nor delete a user’s presets', async () => {
    await t.call('json', { action: 'SavePreset', name: 'private_one', format: { output: 'mp3', audio_bitrate: '64k' } });
    assert.equal((await t.call('json', { action: 'GetPreset', name: 'private_one' }, OTHER)).errors!.error, 'Preset "private_one" not found.');
    assert.equal((await t.call('json', { action: 'GetPreset', name: 'private_one', type: 'user' }, OTHER)).errors!.error, 'Preset "private_one" not found.');
    assert.deepEqual(await userPresets(OTHER), []);
    const before = await mediaCount(OTHER);
    const add = await t.call('json', { action: 'AddMedia', source: 'http://127.0.0.1:9/a.mp4', format: { output_preset: 'private_one' } }, OTHER);
    assert.equal(add.errors!.error, 'Preset "private_one" not found.');
    assert.equal(await mediaCount(OTHER), before);
    const save = await t.call('json', { action: 'SavePreset', name: 'copy', format: { output_preset: 'private_one' } }, OTHER);
    assert.equal(save.errors!.error, 'Preset "private_one" not found.');
    assert.equal((await t.call('json', { action: 'DeletePreset', name: 'private_one' }, OTHER)).errors!.error, 'Preset "private_one" not found.');
    assert.equal((await t.call('json', { action: 'GetPreset', name: 'private_one' })).format!.audio_bitrate, '64k', 'still there for its owner');
  });

  test('SavePreset with output_preset stores the merged fields (the format’s own win), self-contained', async () => {
    const r = await t.call('json', { action: 'SavePreset', name: 'derived_720', format: { output_preset: 'mp4_720p', bitrate: '2000k', maxrate: '3000k', bufsize: '4000k', save_preset: 'ignored' } });
    assert.equal(r.SavedPreset, 'derived_720');
    const p = await t.call('json', { action: 'GetPreset', name: 'derived_720' });
    assert.equal(p.output, 'mp4');
    assert.equal(p.format!.output, 'mp4');
    assert.equal(p.format!.size, '0x720', 'from the preset');
    assert.equal(p.format!.bitrate, '2000k', 'the format’s own');
    assert.equal(p.format!.maxrate, '3000k');
    assert.equal(p.format!.output_preset, undefined);
    assert.equal(p.format!.save_preset, undefined);
    assert.equal(Object.keys(p.format!)[0], 'output');
  });

  test('AddMedia with output_preset mp4_360p and save_preset: merged fields echoed, the encode uses them, SavedPreset answered', async () => {
    const clip = await makeClip(path.join(t.filesDir, 'preset-src.mp4'), { seconds: 1, size: '640x480' });
    const out = path.join(t.filesDir, 'preset-out.mp4');
    const res = await xmlQuery({
      action: 'AddMedia',
      source: `file://${clip}`,
      format: { output_preset: 'mp4_360p', audio_bitrate: '64k', bitrate: '', save_preset: 'small_web', destination: `file://${out}` },
    });
    const m = /^<\?xml version="1\.0"\?>\n<response><message>Added<\/message><MediaID>(\d+)<\/MediaID><mediaid>\1<\/mediaid><SavedPreset>small_web<\/SavedPreset><\/response>$/.exec(res.text);
    assert.ok(m, res.text);
    const id = m[1]!;

    const { final } = await untilFinal(t, id);
    assert.equal(final.status, 'Finished', JSON.stringify(final));
    const f = final.format;
    assert.equal(one(f).output, 'mp4');
    assert.equal(one(f).output_preset, 'mp4_360p', 'output_preset itself is echoed');
    assert.equal(one(f).size, '0x360', 'from the preset');
    assert.equal(one(f).bitrate, '800k', 'an empty field does not hide the preset’s');
    assert.equal(one(f).maxrate, '1200k');
    assert.equal(one(f).audio_bitrate, '64k', 'the format’s own field wins');
    assert.equal(one(f).destination, `file://${out}`);

    const probe = await ffprobe(out);
    const video = probe.streams.find((s) => s.codec_type === 'video')!;
    const audio = probe.streams.find((s) => s.codec_type === 'audio')!;
    assert.equal(video.height, 360);
    assert.equal(video.width, 480);
    assert.equal(video.codec_name, 'h264');
    assert.equal(video.profile, 'Main');
    assert.equal(audio.codec_name, 'aac');

    const saved = await t.call('json', { action: 'GetPreset', name: 'small_web' });
    assert.equal(saved.type, 'user');
    assert.equal(saved.format!.destination, undefined);
    assert.deepEqual(saved.format, { ...BUILT_IN_PRESETS.find((p) => p.name === 'mp4_360p')!.format, audio_bitrate: '64k' });
  });

  test('JSON AddMedia: several save_preset names answer an array; output may be omitted with output_preset', async () => {
    const r = await t.call('json', {
      action: 'AddMedia',
      source: 'http://127.0.0.1:9/a.mp4',
      format: [{ output_preset: 'm4a_128k', save_preset: 'sp_a' }, { output_preset: 'thumbnail_jpg', width: '320', save_preset: 'sp_b' }],
    });
    assert.match(r.MediaID, /^\d+$/);
    assert.deepEqual(r.SavedPreset, ['sp_a', 'sp_b']);
    const status = await t.call('json', { action: 'GetStatus', mediaid: r.MediaID, extended: 'yes' });
    assert.deepEqual(asList(status.job.format).map((f) => f.output), ['m4a', 'thumbnail']);
    assert.equal(asList(status.job.format)[1]!.width, '320');
    assert.equal(asList(status.job.format)[1]!.time, '10%');
    assert.deepEqual((await t.call('json', { action: 'GetPreset', name: 'sp_b' })).format, { output: 'thumbnail', time: '10%', width: '320' });
  });

  test('UpdateMedia and AddMediaBenchmark + ProcessMedia merge output_preset too', async () => {
    const added = await t.call('json', { action: 'AddMedia', source: 'http://127.0.0.1:9/b.mp4', format: { output: 'mp3' } });
    const up = await t.call('json', { action: 'UpdateMedia', mediaid: added.MediaID, format: { output_preset: 'mp4_480p', size: '0x240', save_preset: 'from_update' } });
    assert.deepEqual(up, { message: 'Updated', SavedPreset: 'from_update' });
    assert.equal((await t.call('json', { action: 'GetPreset', name: 'from_update' })).format!.size, '0x240');
    const f = (await t.call('json', { action: 'GetStatus', mediaid: added.MediaID, extended: 'yes' })).job.format;
    assert.equal(one(f).output, 'mp4');
    assert.equal(one(f).size, '0x240');
    assert.equal(one(f).bitrate, '1400k');
    assert.match(one((await t.call('json', { action: 'UpdateMedia', mediaid: added.MediaID, format: { output_preset: 'nope' } })).errors!.error), /Preset "nope" not found/);
    assert.equal(one((await t.call('json', { action: 'GetStatus', mediaid: added.MediaID, extended: 'yes' })).job.format).size, '0x240', 'unchanged');

    const bench = await t.call('json', { action: 'AddMediaBenchmark', source: 'http://127.0.0.1:9/c.mp4', format: { output_preset: 'webm_vp9_720p' } });
    const bf = (await t.call('json', { action: 'GetStatus', mediaid: bench.MediaID, extended: 'yes' })).job.format;
    assert.equal(one(bf).output, 'webm');
    assert.equal(one(bf).video_codec, 'libvpx-vp9');
  });

  const bad: [string, () => Promise<any>, RegExp][] = [
    ['AddMedia with an unknown output_preset', () => t.call('json', { action: 'AddMedia', source: 'http://127.0.0.1:9/a.mp4', format: [{ output: 'mp3' }, { output_preset: 'no_such' }] }), /^Format 2: Preset "no_such" not found\.$/],
    ['AddMedia with a bad save_preset name', () => t.call('json', { action: 'AddMedia', source: 'http://127.0.0.1:9/a.mp4', format: { output: 'mp3', save_preset: 'has space' } }), /"has space" is not a preset name/],
    [
      'AddMedia whose save_preset format is fine but another format is not',
      () => t.call('xml', { action: 'AddMedia', source: 'http://127.0.0.1:9/a.mp4', format: [{ output: 'mp3', save_preset: 'never_made' }, { output: 'betamax' }] }),
      /Format 2: Unknown output "betamax"/,
    ],
    ['AddMedia with one save_preset name twice', () => t.call('json', { action: 'AddMedia', source: 'http://127.0.0.1:9/a.mp4', format: [{ output: 'mp3', save_preset: 'dup' }, { output: 'm4a', save_preset: 'dup' }] }), /"dup" is given by more than one format/],
    ['AddMedia with output_preset as a map', () => t.call('json', { action: 'AddMedia', source: 'http://127.0.0.1:9/a.mp4', format: { output_preset: { a: 'b' } } }), /Field "output_preset" must be a single preset name/],
    ['SavePreset with a bad name', () => t.call('json', { action: 'SavePreset', name: '../etc', format: { output: 'mp3' } }), /"\.\.\/etc" is not a preset name/],
    ['SavePreset with a name of 65 characters', () => t.call('json', { action: 'SavePreset', name: 'a'.repeat(65), format: { output: 'mp3' } }), /is not a preset name/],
    ['SavePreset whose suffixed name is too long', () => t.call('json', { action: 'SavePreset', name: 'a'.repeat(63), format: [{ output: 'mp3' }, { output: 'mp3' }] }), /is not a preset name/],
    ['SavePreset with name as a list', () => t.call('json', { action: 'SavePreset', name: ['a', 'b'], format: { output: 'mp3' } }), /Field "name" must be a single preset name/],
    ['SavePreset with name as a map', () => t.call('xml', { action: 'SavePreset', name: { x: 'y' }, format: { output: 'mp3' } }), /Field "name" must be a single preset name/],
    ['SavePreset without format', () => t.call('xml', { action: 'SavePreset', name: 'nothing' }), /^No formats specified!$/],
    ['SavePreset with an empty format', () => t.call('xml', { action: 'SavePreset', name: 'nothing', format: '' }), /Output format is not indicated/],
    ['SavePreset with one bad format of two', () => t.call('json', { action: 'SavePreset', name: 'half', format: [{ output: 'mp3' }, { output: 'mp4', bitrate: 'fast' }] }), /^Format 2: bitrate "fast"/],
    ['SavePreset with a field name XML cannot carry', () => t.call('json', { action: 'SavePreset', name: 'odd', format: { output: 'mp3', 'a b': 'x' } }), /is not allowed/],
    ['SavePreset with an unknown output_preset', () => t.call('json', { action: 'SavePreset', name: 'x', format: { output_preset: 'ghost' } }), /Preset "ghost" not found/],
    ['GetPreset without name', () => t.call('json', { action: 'GetPreset' }), /^Preset name is not indicated!$/],
    ['GetPreset of an unknown name', () => t.call('xml', { action: 'GetPreset', name: 'ghost' }), /^Preset "ghost" not found\.$/],
    ['DeletePreset of a ui preset', () => t.call('json', { action: 'DeletePreset', name: 'thumbnail_jpg' }), /built-in/],
    ['DeletePreset without name', () => t.call('json', { action: 'DeletePreset' }), /^Preset name is not indicated!$/],
  ];
  for (const [name, run, expected] of bad) {
    test(`bad input: ${name} – an errors reply, nothing changed`, async () => {
      const presets = JSON.stringify(await t.call('json', { action: 'GetPresetsList' }));
      const media = await mediaCount();
      const r = await run();
      assert.equal(typeof r.errors?.error, 'string', JSON.stringify(r));
      assert.match(r.errors.error, expected);
      assert.equal(r.SavedPreset, undefined);
      assert.equal(JSON.stringify(await t.call('json', { action: 'GetPresetsList' })), presets);
      assert.equal(await mediaCount(), media);
    });
  }
});
