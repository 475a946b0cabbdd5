/**
 * Issue 12 §1: the field registry is the one source of truth. The README table is generated from
 * it, every field the format readers read is in it, redaction, decode sharing and pass-through
 * take their lists from it, and the request check finds refused and unknown fields by place.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { FIELDS, PASSTHROUGH_FIELDS, PICTURE_KEYS, fieldAt, namesWithRole, type Place } from '../src/domain/field-registry.ts';
import { checkQuery, editDistance, unknownWarning, unknownWarnings } from '../src/domain/field-check.ts';
import { fieldRole } from '../src/domain/field-roles.ts';
import { Fields } from '../src/domain/format/fields.ts';
import { parseFormat, readPicture } from '../src/domain/format.ts';
import { BUILT_IN_PRESETS } from '../src/domain/presets.ts';
import type { FieldMap } from '../src/domain/fields.ts';
import { fromFfprobeJson } from '../src/pipeline/ffmpeg/probe.ts';
import { CHECKED_FIELDS, passthroughDecision } from '../src/pipeline/plan/passthrough.ts';
import { renderFieldTable, withFieldTable } from '../scripts/field-table.ts';
import { README } from '../scripts/readme-table.ts';

const warnings = (query: FieldMap): string[] => checkQuery(query).unknown.map(unknownWarning);
const refused = (query: FieldMap): string[] => checkQuery(query).refused;

describe('the field registry', () => {
  test('the README field table is the one the registry generates (npm run fields:table)', () => {
    const readme = fs.readFileSync(README, 'utf8');
    assert.equal(withFieldTable(readme), readme, 'README.md and src/domain/field-registry.ts differ: run npm run fields:table');
    assert.ok(readme.includes(renderFieldTable()));
  });

  test('every field has a doc line, and every inert or refused one says why', () => {
    for (const d of FIELDS) {
      assert.ok(d.doc.trim().length > 0, d.name);
      assert.equal(d.name, d.name.toLowerCase(), `${d.name}: names are lower case`);
      if (d.state !== 'honoured') assert.ok(d.reason && d.reason.length > 10, `${d.name} is ${d.state} without a reason`);
    }
    // FairPlay (issue 17: no cbcs) and the ad markers issue 12 names are refused, not silently dropped.
    for (const name of ['fairplay_drm', 'widevine_key_server_url', 'ad_break']) {
      assert.ok(FIELDS.some((d) => d.name === name && d.state === 'refused'), `${name} must be refused`);
    }
  });

  test('every field the format readers read is in the registry', () => {
    const dir = path.join(import.meta.dirname, '../src/domain/format');
    const read = new Set<string>();
    for (const file of fs.readdirSync(dir)) {
      const source = fs.readFileSync(path.join(dir, file), 'utf8');
      for (const m of source.matchAll(/\bf\.(?:str|parse|flag|raw)\('([a-z0-9_]+)'/g)) read.add(m[1]!);
    }
    assert.ok(read.size > 80, `only ${read.size} fields found: did the readers change shape?`);
    const places: Place[] = ['format', 'stream', 'logo', 'overlay', 'text_overlay', 'metadata'];
    const missing = [...read].filter((name) => !places.some((p) => fieldAt(p, name)));
    assert.deepEqual(missing, []);
  });

  test('every built-in preset uses known fields only', () => {
    for (const p of BUILT_IN_PRESETS) {
      const report = checkQuery({ format: p.format });
      assert.deepEqual(report.unknown.map(unknownWarning), [], p.name);
      assert.deepEqual(report.refused, [], p.name);
    }
  });

  test('secrets are the registry\'s secret fields, and only those are masked', () => {
    for (const name of ['encryption_key', 'encryption_iv', 'encryption_password', 'widevine_aes_signing_key', 'widevine_aes_signing_iv', 'userkey', 'oidc_refresh_token']) {
      assert.equal(fieldRole(name), 'secret', name);
      assert.equal(fieldRole(name.toUpperCase()), 'secret', `${name} in capitals`);
    }
    assert.deepEqual(namesWithRole('secret').filter((n) => fieldRole(n) !== 'secret'), []);
    assert.equal(fieldRole('encryption_key_file'), undefined);
    assert.equal(fieldRole('size'), undefined);
  });

  test('decode sharing compares exactly the picture fields the registry lists', () => {
    const picture = Object.keys(readPicture(new Fields({}))).sort();
    assert.deepEqual([...PICTURE_KEYS].sort(), picture, 'a Picture property without a registry field with role picture (or the reverse)');
  });

  test('pass-through checks only registry pass-through fields, and an unchecked one asked means an encode', () => {
    assert.deepEqual([...CHECKED_FIELDS].filter((n) => !PASSTHROUGH_FIELDS.includes(n)), []);
    const probe = fromFfprobeJson({
      format: { format_name: 'mov,mp4,m4a,3gp,3g2,mj2', duration: '10.0', bit_rate: '2240000' },
      streams: [
        { codec_type: 'video', codec_name: 'h264', profile: 'High', level: 31, codec_tag_string: 'avc1', width: 1280, height: 720, pix_fmt: 'yuv420p', field_order: 'progressive', sample_aspect_ratio: '1:1', avg_frame_rate: '25/1', bit_rate: '2100000', duration: '10.0' },
        { codec_type: 'audio', codec_name: 'aac', profile: 'LC', sample_rate: '48000', channels: 2, bit_rate: '128000', duration: '10.0' },
      ],
    });
    const decide = (fields: FieldMap) => {
      const r = parseFormat({ output: 'mp4', bitrate: '2800k', ...fields });
      if (!r.ok) assert.fail(r.error);
      return passthroughDecision(r.spec, [probe]);
    };
    assert.equal(decide({}).ok, true, 'the plain format is remuxed');
    // Blocks are asked with their own fields.
    const asking: FieldMap = { closed_captions: { source: 'http://x.example/c.srt' } };
    for (const name of PASSTHROUGH_FIELDS.filter((n) => !CHECKED_FIELDS.has(n))) {
      const d = decide({ [name]: asking[name] ?? 'yes' });
      assert.equal(d.ok, false, `${name} asked, yet remuxed`);
      assert.match(d.ok ? '' : d.why ?? '', new RegExp(`^${name} is asked`));
    }
    assert.equal(decide({ cbr: 'no', video_codec_parameters: {} }).ok, true, 'a field that asks for nothing does not stop a remux');
  });
});

describe('checking a request against the registry', () => {
  test('a misspelt field is named with its place and the closest known name', () => {
    assert.deepEqual(warnings({ format: { output: 'mp4', sise: '640x360' } }), ['format 1: unknown field "sise" ignored; did you mean "size"?']);
    assert.deepEqual(warnings({ format: [{ output: 'mp4' }, { output: 'mp4', Bitrat: '900k', audio_codecc: 'aac' }] }), [
      'format 2: unknown field "Bitrat" ignored; did you mean "bitrate"?',
      'format 2: unknown field "audio_codecc" ignored; did you mean "audio_codec"?',
    ]);
    assert.deepEqual(warnings({ notifi: 'http://x.example/', format: { output: 'mp4' } }), ['query: unknown field "notifi" ignored; did you mean "notify"?']);
    assert.deepEqual(warnings({ format: { output: 'mp4', zzqv: '1' } }), ['format 1: unknown field "zzqv" ignored']);
    assert.equal(editDistance('keyfrmae', 'keyframe'), 1, 'a swap counts once');
    // Thousands of made-up fields: the first 20 are named, the rest counted, and quickly.
    const many = Object.fromEntries(Array.from({ length: 20_000 }, (_, i) => [`zz_field_${i}`, 'x']));
    const started = performance.now();
    const report = checkQuery({ format: { output: 'mp4', ...many } });
    assert.ok(performance.now() - started < 2000, `${Math.round(performance.now() - started)} ms`);
    assert.equal(report.unknown.length, 20);
    assert.equal(unknownWarnings(report).at(-1), '19980 more unknown fields ignored');
  });

  test('a field known elsewhere says where it belongs; streams and blocks are places of their own', () => {
    assert.deepEqual(warnings({ format: { output: 'mp4', sub_path: 'hd' } }), ['format 1: unknown field "sub_path" ignored; it belongs in a stream']);
    assert.deepEqual(warnings({ priority: 'high', format: { output: 'advanced_hls', notify: 'http://x.example/', stream: [{ size: '0x90' }, { size: '0x60', segment_duration: '4' }] } }), [
      'format 1: unknown field "notify" ignored; it belongs in the top level of the query',
      'format 1 stream 2: unknown field "segment_duration" ignored; it belongs in a format',
    ]);
    assert.deepEqual(warnings({ format: { output: 'mp4', logo: { logo_source: 'http://x.example/l.png', logo_z: '3' }, overlay: [{ overlay_source: 'http://x.example/a.png' }, { overlay_source: 'http://x.example/b.png', overlay_lef: '1' }] } }), [
      'format 1 logo: unknown field "logo_z" ignored; did you mean "logo_x"?',
      'format 1 overlay 2: unknown field "overlay_lef" ignored; did you mean "overlay_left"?',
    ]);
    assert.deepEqual(warnings({ split_screen: { columns: '2', colums: '2' }, format: { output: 'mp4' } }), ['query split_screen: unknown field "colums" ignored; did you mean "columns"?']);
  });

  test('a known field the output does not use is named as ignored, with the outputs that use it', () => {
    assert.deepEqual(warnings({ format: [{ output: 'mp4', segment_duration: '4', use_vtt: 'no' }, { output: 'Thumbnail', video_codec: 'mjpeg', time: '1', keep_aspect_ratio: 'yes' }] }), [
      'format 1: field "segment_duration" ignored: output mp4 does not use it (HLS, DASH, CMAF do)',
      'format 2: field "video_codec" ignored: output thumbnail does not use it (video files, HLS, DASH, CMAF do)',
    ]);
    assert.deepEqual(warnings({ format: { output_preset: 'mp4_720p', segment_duration: '4' } }), [], 'the output of a preset is not known here');
    assert.deepEqual(warnings({ format: { output: 'advanced_hls', stream: { size: '0x90', two_pass: 'yes' } } }), ['format 1 stream 1: unknown field "two_pass" ignored; it belongs in a format']);
  });

  test('inert fields are accepted without a warning; free blocks are left to their readers', () => {
    const query = { region: 'us-east-1', ludicrous_mode: 'yes', meta: { anything: 'goes' }, qc: { qc_duration: '', qc_black: { max_duration: '1' } }, format: { output: 'mp4', file_extension: 'mp4', encoder: 'v3', qc: 'auto' } };
    assert.deepEqual(checkQuery(query), { refused: [], unknown: [], moreUnknown: 0 });
    assert.deepEqual(warnings({ format: { output: 'mp4', qc: { qc_durration: '' } } }), ['format 1 qc: unknown field "qc_durration" ignored; did you mean "qc_duration"?']);
  });

  test('a DRM field anywhere in an advanced_hls is refused: format, stream or manifest', () => {
    const hls = (extra: FieldMap, stream: FieldMap = {}) => ({ format: { output: 'advanced_hls', ...extra, stream: [{ size: '0x90' }, { size: '0x60', ...stream }] } });
    assert.match(refused(hls({ fairplay_drm: 'yes' })).join(), /^format 1: fairplay_drm is not supported yet \(FairPlay needs the cbcs scheme/);
    assert.match(refused(hls({}, { fairplay_drm: { key: 'k' } })).join(), /^format 1 stream 2: fairplay_drm is not supported yet/);
    assert.deepEqual(refused(hls({}, { manifest: { basename: 'm', fairplay_drm: 'yes' } })).map((r) => r.replace(/ \(.*/, '')), [
      'format 1 stream 2 manifest: basename is not supported yet',
      'format 1 stream 2 manifest: fairplay_drm is not supported yet',
    ]);
    // Common Encryption is for DASH and CMAF (issue 17): an HLS asking for it is refused by its reader, never made clear.
    const asked = parseFormat(hls({ drm: 'yes', widevine: 'yes', drm_key: '00112233445566778899aabbccddeeff', drm_key_id: '00112233445566778899aabbccddeeff' }).format as FieldMap);
    assert.ok(!asked.ok && /^drm is not supported for advanced_hls: Encodery packages DRM \(cenc\) for mpeg_dash/.test(asked.error), JSON.stringify(asked));
    assert.ok(!asked.ok && !asked.error.includes('00112233'), 'the key is not repeated');
    assert.deepEqual(refused(hls({ widevine: 'no', fairplay_drm: '' })), [], 'a DRM field that asks for nothing is accepted');
  });

  test('refused content fields; an empty video_codec_parameters (go-encodingcom) is accepted, a filled one is honoured', () => {
    assert.deepEqual(refused({ format: { output: 'mp4', video_codec_parameters: {} } }), []);
    assert.deepEqual(refused({ format: { output: 'mp4', video_codec_parameters: 'no' } }), []);
    assert.deepEqual(refused({ format: { output: 'mp4', video_codec_parameters: { bf: '2' } } }), []);
    assert.deepEqual(refused({ format: { output: 'mp4', closed_captions: { source: 'http://x.example/c.srt', language: 'en' } } }), []);
    assert.deepEqual(refused({ format: { output: 'mp4', audio_stream: '2', downmix_mode: 'pl2' } }), [], 'audio_stream and downmix_mode are honoured');
    assert.match(refused({ format: { output: 'mp4', hint: 'yes' } }).join(), /^format 1: hint is not supported yet/);
    // What the Node client's HLS profile sends in every stream, and every output already has.
    const stream = (extra: FieldMap) => ({ format: { output: 'advanced_hls', stream: { size: '0x90', ...extra } } });
    assert.deepEqual(refused(stream({ pix_format: 'yuv420p', init_video_codec_parameters: { sc_threshold: '0' }, hint: 'no', byte_range: 'no' })), []);
    assert.match(refused(stream({ byte_range: 'yes' })).join(), /^format 1 stream 1: byte_range is not supported yet/);
    assert.match(refused(stream({ copy_nielsen_metadata: 'yes', audio_stream: '1' })).join(' '), /^format 1 stream 1: copy_nielsen_metadata is not supported yet[^,]*$/);
  });
});
