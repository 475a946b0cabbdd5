/** The storyboard rules on their own: cue timing and placement, and what each destination receives. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { retargetVtt, renderVtt, storyboardCues, storyboardListing, storyboardUploads, vttBeside, vttTime } from '../src/domain/storyboard.ts';

const layout = { perRow: 3, rows: 2, tileWidth: 160, tileHeight: 90 };
const board = { perRow: 3, rows: 2, destination: null, publicUrl: null };
const files = ['/o/clip_sprite_0001.jpg', '/o/clip_sprite_0002.jpg', '/o/clip.vtt'];
const vtt = renderVtt(storyboardCues(7, 2, 13.4, layout), (i) => `clip_sprite_000${i + 1}.jpg`);

test('storyboardCues – one cue per thumbnail, row by row and sheet by sheet, the last ending at the duration', () => {
  const cues = storyboardCues(7, 2, 13.4, layout);
  assert.deepEqual(cues.map((c) => [c.start, c.end]), [[0, 2], [2, 4], [4, 6], [6, 8], [8, 10], [10, 12], [12, 13.4]]);
  assert.deepEqual(cues.map((c) => [c.sheet, c.x, c.y]), [[0, 0, 0], [0, 160, 0], [0, 320, 0], [0, 0, 90], [0, 160, 90], [0, 320, 90], [1, 0, 0]]);
});

test('storyboardCues – a thumbnail at or past the end gets no cue; too few stretch the last one', () => {
  assert.equal(storyboardCues(6, 2, 10, layout).length, 5);
  assert.deepEqual(storyboardCues(4, 2, 10, layout).at(-1), { start: 6, end: 10, sheet: 0, x: 0, y: 90, w: 160, h: 90 });
});

test('vttTime – hours, minutes, seconds and milliseconds', () => {
  assert.equal(vttTime(0), '00:00:00.000');
  assert.equal(vttTime(3725.0405), '01:02:05.041');
});

test('vttBeside – a folder takes the VTT by name, a file name swaps its extension; the query stays', () => {
  assert.equal(vttBeside('https://h/thumbs/?sig=1', 'clip.vtt'), 'https://h/thumbs/clip.vtt?sig=1');
  assert.equal(vttBeside('https://h/thumbs/sprite.jpg?sig=1', 'clip.vtt'), 'https://h/thumbs/sprite.vtt?sig=1');
  assert.equal(vttBeside('ftp://h/thumbs/sprite', 'clip.vtt'), 'ftp://h/thumbs/sprite.vtt');
});

test('storyboardUploads – beside the sheets the VTT names them as the destination does', () => {
  const urls = ['https://u:p@h/t/sprite.jpg?acl=public-read'];
  const uploads = storyboardUploads(board, urls, 0, files);
  assert.deepEqual(uploads.map((u) => u.url), [
    'https://u:p@h/t/sprite_0001.jpg?acl=public-read', 'https://u:p@h/t/sprite_0002.jpg?acl=public-read', 'https://u:p@h/t/sprite.vtt?acl=public-read',
  ]);
  const text = retargetVtt(vtt, uploads[2]!.retarget!);
  assert.match(text, /^sprite_0001\.jpg#xywh=0,0,160,90$/m);
  assert.match(text, /^sprite_0002\.jpg#xywh=0,0,160,90$/m);
  assert.doesNotMatch(text, /clip_sprite/);
});

test('storyboardUploads – a VTT elsewhere names the sheets by URL, never with credentials or the query', () => {
  const elsewhere = { ...board, destination: 'https://v/story.vtt' };
  const urls = ['https://KEY:SECRET@bucket.s3.amazonaws.com/t/?X-Amz-Signature=abc', 'https://v/story.vtt'];
  assert.deepEqual(storyboardUploads(elsewhere, urls, 0, files).map((u) => u.file), files.slice(0, 2), 'the sheet destination gets no VTT');
  const [only] = storyboardUploads(elsewhere, urls, 1, files);
  assert.equal(only!.url, 'https://v/story.vtt');
  const text = retargetVtt(vtt, only!.retarget!);
  assert.match(text, /^https:\/\/bucket\.s3\.amazonaws\.com\/t\/clip_sprite_0002\.jpg#xywh=0,0,160,90$/m);
  assert.doesNotMatch(text, /SECRET|KEY|Signature/);
  const cdn = retargetVtt(vtt, storyboardUploads({ ...elsewhere, publicUrl: 'https://cdn.example.com/x/' }, urls, 1, files)[0]!.retarget!);
  assert.match(cdn, /^https:\/\/cdn\.example\.com\/x\/clip_sprite_0001\.jpg#xywh=/m);
  assert.deepEqual(storyboardListing(elsewhere, urls, 'clip.vtt'), [[urls[0]], ['https://v/story.vtt']]);
});

test('storyboardListing – each sheet destination with its VTT beside it', () => {
  assert.deepEqual(storyboardListing(board, ['file:///o/a.jpg', 'https://h/f/'], 'clip.vtt'), [
    ['file:///o/a.jpg', 'file:///o/a.vtt'], ['https://h/f/', 'https://h/f/clip.vtt'],
  ]);
});
