/** Parsing of logo, overlay, text_overlay, fade_in and fade_out (reference 4.5). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { editingUrls, parseFormat, type Editing, type OutputSpec } from '../src/domain/format.ts';
import type { FieldMap } from '../src/domain/fields.ts';

function ok(raw: FieldMap): OutputSpec {
  const r = parseFormat(raw);
  if (!r.ok) assert.fail(`expected ok, got: ${r.error}`);
  return r.spec;
}

function editing(raw: FieldMap): Editing {
  const spec = ok(raw);
  assert.ok(spec.kind === 'video' || spec.kind === 'hls', spec.kind);
  return spec.editing;
}

function error(raw: FieldMap): string {
  const r = parseFormat(raw);
  if (r.ok) assert.fail(`expected an error for ${JSON.stringify(raw)}`);
  return r.error;
}

const LOGO = 'https://cdn.example.com/brand/logo.png';

test('editing – a format without editing fields has none', () => {
  assert.deepEqual(editing({ output: 'mp4' }), { logo: null, overlays: [], texts: [], fadeIn: null, fadeOut: null, captions: [] });
});

test('logo – defaults 10,10 blend; fields read; threshold and transparent are one colour', () => {
  assert.deepEqual(editing({ output: 'mp4', logo: { logo_source: LOGO } }).logo, { source: LOGO, x: 10, y: 10, mode: 0, transparent: null });
  assert.deepEqual(
    editing({ output: 'webm', logo: { LOGO_SOURCE: LOGO, logo_x: '0', logo_y: '25', logo_mode: '1', logo_transparent: '#00FF00' } }).logo,
    { source: LOGO, x: 0, y: 25, mode: 1, transparent: '00ff00' },
  );
  assert.equal(editing({ output: 'mp4', logo: { logo_source: LOGO, logo_threshold: 'ffffff' } }).logo?.transparent, 'ffffff');
});

test('logo – every bad field is refused, naming it', () => {
  const bad: [FieldMap, RegExp][] = [
    [{}, /logo_source is missing/],
    [{ logo_source: 'not a url' }, /logo_source .* is not a URL/],
    [{ logo_source: 'gopher://x/logo.png' }, /logo_source must be an http\(s\), ftp, sftp or file URL/],
    [{ logo_source: 'https://x/clip.mp4' }, /logo_source names a \.mp4 file; it must be a GIF, JPG or PNG image/],
    [{ logo_source: 'https://x/readme.txt' }, /logo_source names a \.txt file/],
    [{ logo_source: LOGO, logo_x: '-5' }, /logo_x "-5" is not a number of pixels/],
    [{ logo_source: LOGO, logo_y: 'top' }, /logo_y "top" is not a number of pixels/],
    [{ logo_source: LOGO, logo_x: '9000' }, /logo_x is out of range/],
    [{ logo_source: LOGO, logo_mode: '2' }, /logo_mode "2" is not 0 \(blend\) or 1 \(opaque\)/],
    [{ logo_source: LOGO, logo_transparent: 'fff' }, /logo_transparent "fff" is not a 6-digit hex colour/],
    [{ logo_source: LOGO, logo_threshold: 'black' }, /logo_threshold "black" is not a 6-digit hex colour/],
    [{ logo_source: LOGO, logo_threshold: '000000', logo_transparent: 'ffffff' }, /logo_threshold and logo_transparent name two different colours/],
  ];
  for (const [logo, expected] of bad) assert.match(error({ output: 'mp4', logo }), expected, JSON.stringify(logo));
  assert.match(error({ output: 'mp4', logo: LOGO }), /logo must be a set of fields/);
  assert.match(error({ output: 'mp4', logo: [{ logo_source: LOGO }, { logo_source: LOGO }] }), /logo can be given once/);
});

test('editing fields on an image output are refused, naming the field; other outputs ignore them', () => {
  assert.match(error({ output: 'image', logo: { logo_source: LOGO } }), /^logo cannot be used with output image/);
  assert.match(error({ output: 'image', fade_in: '0:1' }), /^fade_in cannot be used with output image/);
  assert.match(error({ output: 'image', text_overlay: { text: 'x' } }), /^text_overlay cannot be used with output image/);
  assert.equal(ok({ output: 'mp3', fade_in: '0:1', logo: { logo_source: LOGO } }).kind, 'audio');
});

test('overlay – repeatable; positions in px, % or center; older overlay_x/overlay_y', () => {
  const e = editing({
    output: 'mp4',
    overlay: [
      { overlay_source: 'https://x/a.png', overlay_right: '10%', overlay_bottom: 'center', size: '80x0', overlay_start: '1', overlay_duration: '2.5' },
      { overlay_source: 'sftp://u@x/b.mov', overlay_x: '12', overlay_y: '7%', keep_audio: '0' },
      { overlay_source: 'file:///data/c' },
    ],
  });
  assert.equal(e.overlays.length, 3);
  assert.deepEqual(e.overlays[0], {
    source: 'https://x/a.png', horizontal: { from: 'right', offset: { percent: 10 } }, vertical: { from: 'bottom', offset: 'center' },
    size: { width: 80, height: 0 }, start: 1, duration: 2.5,
  });
  assert.deepEqual(e.overlays[1]!.horizontal, { from: 'left', offset: { px: 12 } });
  assert.deepEqual(e.overlays[1]!.vertical, { from: 'top', offset: { percent: 7 } });
  assert.deepEqual([e.overlays[2]!.horizontal, e.overlays[2]!.vertical, e.overlays[2]!.start, e.overlays[2]!.duration],
    [{ from: 'left', offset: { px: 0 } }, { from: 'top', offset: { px: 0 } }, 0, null]);
});

test('overlay – every bad field is refused, naming it (and which overlay when there are several)', () => {
  const src = 'https://x/a.png';
  const bad: [FieldMap, RegExp][] = [
    [{}, /overlay_source is missing/],
    [{ overlay_source: 'https://x/notes.txt' }, /overlay_source names a \.txt file/],
    [{ overlay_source: 'mailto:a@b' }, /overlay_source must be an http\(s\), ftp, sftp or file URL/],
    [{ overlay_source: src, keep_audio: '1' }, /keep_audio 1 is not supported/],
    [{ overlay_source: src, overlay_left: '10', overlay_right: '10' }, /overlay_left and overlay_right both place the overlay across/],
    [{ overlay_source: src, overlay_top: '1', overlay_y: '2' }, /overlay_top and overlay_y both place the overlay down/],
    [{ overlay_source: src, overlay_left: '150%' }, /overlay_left "150%" is not pixels, a percentage like 10% or center/],
    [{ overlay_source: src, overlay_bottom: 'middle' }, /overlay_bottom "middle" is not pixels/],
    [{ overlay_source: src, size: '81x' }, /size "81x" is not a size like 160x90/],
    [{ overlay_source: src, overlay_start: 'soon' }, /overlay_start "soon" is not a time in seconds/],
    [{ overlay_source: src, overlay_duration: '0' }, /overlay_duration "0" must be more than 0 seconds/],
  ];
  for (const [overlay, expected] of bad) assert.match(error({ output: 'mp4', overlay }), expected, JSON.stringify(overlay));
  assert.match(error({ output: 'mp4', overlay: [{ overlay_source: src }, { overlay_source: src, keep_audio: '1' }] }), /^overlay 2: keep_audio/);
  assert.match(error({ output: 'mp4', overlay: 'https://x/a.png' }), /overlay must be a set of fields/);
});

test('overlay – an odd size is rounded down to even with a note naming the overlay', () => {
  const src = 'https://x/a.png';
  const one = parseFormat({ output: 'mp4', overlay: { overlay_source: src, size: '81x41' } });
  assert.ok(one.ok && one.spec.kind === 'video');
  assert.deepEqual(one.spec.editing.overlays[0]!.size, { width: 80, height: 40 });
  assert.deepEqual(one.notes, ['overlay size 81x41 rounded to 80x40: the overlay is laid on 4:2:0 video, which needs even sides']);
  const two = parseFormat({ output: 'mp4', overlay: [{ overlay_source: src }, { overlay_source: src, size: '0x41' }] });
  assert.ok(two.ok);
  assert.deepEqual(two.notes, ['overlay 2: size 0x41 rounded to 0x40: the overlay is laid on 4:2:0 video, which needs even sides']);
});

test('text_overlay – defaults, fields read, the text kept exactly as sent', () => {
  const text = "  50% off: 'now' \\ {x}; [a],b  ";
  const e = editing({ output: 'mp4', text_overlay: { text, font_size: '30', font_color: 'FFFFFF', align_center: '1', overlay_y: '40', overlay_start: '0.5' } });
  assert.deepEqual(e.texts, [{ text, fontSource: null, fontSize: 30, fontColor: 'ffffff', alignCenter: true, x: 0, y: 40, start: 0.5, duration: null }]);
  const d = editing({ output: 'mp4', text_overlay: [{ text: 'a', font_source: 'https://x/f.ttf' }, { text: 'b', font_size: '0' }] }).texts;
  assert.deepEqual(d.map((t) => [t.fontSource, t.fontSize, t.fontColor, t.alignCenter]), [['https://x/f.ttf', 24, '000000', false], [null, 24, '000000', false]]);
});

test('text_overlay – every bad field is refused, naming it', () => {
  const bad: [FieldMap, RegExp][] = [
    [{}, /text is missing/],
    [{ text: '   ' }, /text is missing/],
    [{ text: 'x'.repeat(1001) }, /text is 1001 characters long/],
    [{ text: 'a\u0000b' }, /text contains control characters/],
    [{ text: 'a', font_source: 'https://x/font.woff2' }, /font_source names a \.woff2 file; it must be a TrueType or OpenType font/],
    [{ text: 'a', font_size: 'big' }, /font_size "big" is not a size in pixels/],
    [{ text: 'a', font_size: '5000' }, /font_size "5000" is out of range/],
    [{ text: 'a', font_rotate: '45' }, /font_rotate is not supported/],
    [{ text: 'a', font_color: 'red' }, /font_color "red" is not a 6-digit hex colour/],
    [{ text: 'a', align_center: 'maybe' }, /align_center "maybe" must be yes or no/],
    [{ text: 'a', overlay_x: '-1' }, /overlay_x "-1" is not a number of pixels/],
    [{ text: 'a', size: '100x20' }, /size is not supported in text_overlay/],
    [{ text: 'a', overlay_duration: '-2' }, /overlay_duration "-2" is not a duration/],
  ];
  for (const [t, expected] of bad) assert.match(error({ output: 'mp4', text_overlay: t }), expected, JSON.stringify(t).slice(0, 80));
  // A line break is text, not a control character.
  assert.equal(editing({ output: 'mp4', text_overlay: { text: 'one\ntwo' } }).texts[0]!.text, 'one\ntwo');
});

test('fade_in / fade_out – Start:Duration seconds; bad ones refused, naming the field', () => {
  assert.deepEqual(editing({ output: 'mp4', fade_in: '0:1.5', fade_out: '8.5:2' }), {
    logo: null, overlays: [], texts: [], fadeIn: { start: 0, duration: 1.5 }, fadeOut: { start: 8.5, duration: 2 }, captions: [],
  });
  for (const v of ['1', '1:0', '-1:2', 'a:b', '1:2:3', ':2']) assert.match(error({ output: 'mp4', fade_in: v }), new RegExp(`^fade_in "${v}" is not Start:Duration`), v);
  assert.match(error({ output: 'mp4', fade_out: '2' }), /^fade_out "2" is not Start:Duration/);
  assert.match(error({ output: 'mp4', fade_in: '0:1', audio_codec: 'copy' }), /fade_in fades the audio too, which audio_codec copy cannot do/);
});

test('advanced_hls – editing is read at the format level, once for every variant', () => {
  const spec = ok({ output: 'advanced_hls', logo: { logo_source: LOGO }, fade_out: '3:1', stream: [{ size: '320x180' }, { size: '160x90' }] });
  assert.ok(spec.kind === 'hls');
  assert.equal(spec.editing.logo?.source, LOGO);
  assert.deepEqual(spec.editing.fadeOut, { start: 3, duration: 1 });
  assert.match(error({ output: 'advanced_hls', logo: { logo_source: 'https://x/a.ts' }, stream: { size: '320x180' } }), /logo_source names a \.ts file/);
});

test('editingUrls – every fetched URL with the field that names it', () => {
  const spec = ok({
    output: 'mp4', logo: { logo_source: LOGO }, overlay: { overlay_source: 'https://x/o.mp4' },
    text_overlay: [{ text: 'a', font_source: 'https://x/f.otf' }, { text: 'b' }],
  });
  assert.deepEqual(editingUrls(spec), [
    { field: 'logo_source', url: LOGO }, { field: 'overlay_source', url: 'https://x/o.mp4' }, { field: 'font_source', url: 'https://x/f.otf' },
  ]);
  assert.deepEqual(editingUrls(ok({ output: 'mp3' })), []);
});
