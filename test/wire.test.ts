import { test } from 'node:test';
import assert from 'node:assert/strict';
import { alwaysList, interleave, render, wireDate, wirePercent } from '../src/api/wire/render.ts';
import { decodeBody } from '../src/api/wire/decode.ts';
import { ApiError } from '../src/api/errors.ts';

test('render xml – declaration at byte 0, repeated elements, interleaved pairs, escaping', () => {
  const xml = render('xml', 'response', {
    id: 5,
    format: [{ id: '1', d: interleave(['destination', 'destination_status'], [['a&b', 'Saved'], ['c', 'Error (x<y)']]) }],
    empty: '',
  });
  assert.ok(xml.startsWith('<?xml version="1.0"?>'));
  assert.equal(
    xml,
    '<?xml version="1.0"?>\n<response><id>5</id><format><id>1</id><destination>a&amp;b</destination><destination_status>Saved</destination_status>' +
      '<destination>c</destination><destination_status>Error (x&lt;y)</destination_status></format><empty></empty></response>',
  );
});

test('render json – strings only, one item collapses, two make an array, empty is []', () => {
  const one = JSON.parse(render('json', 'response', { id: 5, format: [{ d: interleave(['destination', 'destination_status'], [['a', 'Saved']]) }], notifyurl: '' }));
  assert.deepEqual(one, { response: { id: '5', format: { destination: 'a', destination_status: 'Saved' }, notifyurl: [] } });
  const two = JSON.parse(render('json', 'response', { format: [{ id: 1 }, { id: 2 }] }));
  assert.deepEqual(two, { response: { format: [{ id: '1' }, { id: '2' }] } });
});

test('render json – alwaysList stays an array, empty response is an object', () => {
  assert.deepEqual(JSON.parse(render('json', 'response', { media: alwaysList([{ mediaid: 1 }]) })), { response: { media: [{ mediaid: '1' }] } });
  assert.deepEqual(JSON.parse(render('json', 'response', { media: alwaysList([]) })), { response: { media: [] } });
  assert.equal(render('xml', 'response', { media: alwaysList([]) }), '<?xml version="1.0"?>\n<response></response>');
  assert.deepEqual(JSON.parse(render('json', 'response', {})), { response: {} });
});

test('wireDate – UTC, zero date when unset', () => {
  assert.equal(wireDate(Date.UTC(2026, 0, 2, 3, 4, 5)), '2026-01-02 03:04:05');
  assert.equal(wireDate(null), '0000-00-00 00:00:00');
  assert.equal(wirePercent(50), '50.0');
  assert.equal(wirePercent(100.0001), '100.0');
});

test('decode – url-encoded and raw bodies, xml and json', () => {
  const xml = '<?xml version="1.0"?><query><action>GetStatus</action><source>http://x/a?a=1&amp;b=2+3</source><source>b</source></query>';
  assert.deepEqual(decodeBody('xml=' + encodeURIComponent(xml)).query, { action: 'GetStatus', source: ['http://x/a?a=1&b=2+3', 'b'] });
  assert.deepEqual(decodeBody('xml=' + xml).query.source, ['http://x/a?a=1&b=2+3', 'b']);
  const json = JSON.stringify({ query: { action: 'x', source: 'http://h/a?x=1&y=2', n: 3, f: [{ output: ['mp4'] }] } });
  const raw = decodeBody('json=' + json);
  assert.equal(raw.format, 'json');
  assert.deepEqual(raw.query, { action: 'x', source: 'http://h/a?x=1&y=2', n: '3', f: { output: 'mp4' } });
  assert.deepEqual(decodeBody('json=' + encodeURIComponent(json)).query, raw.query);
});

test('decode – JSON reads as the XML it stands for: a one-item list is its item, {} an empty element, longer lists stay lists', () => {
  const go = { query: { action: 'AddMedia', source: ['http://h/a.mp4'], format: [{ output: ['mp4'], keyframe: ['300'], destination: ['ftp://h/a.mp4'], video_codec_parameters: {} }] } };
  const xml = '<query><action>AddMedia</action><source>http://h/a.mp4</source><format><output>mp4</output><keyframe>300</keyframe><destination>ftp://h/a.mp4</destination><video_codec_parameters/></format></query>';
  assert.deepEqual(decodeBody('json=' + JSON.stringify(go)).query, decodeBody('xml=' + xml).query);
  const two = decodeBody('json=' + JSON.stringify({ query: { format: { output: ['mp4', 'webm'], destination: [] } } })).query;
  assert.deepEqual(two, { format: { output: ['mp4', 'webm'], destination: [] } });
});

test('decode – DOCTYPE, entities, malformed documents are refused', () => {
  const bomb = '<?xml version="1.0"?><!DOCTYPE q [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;">]><query><action>&b;</action></query>';
  assert.throws(() => decodeBody('xml=' + encodeURIComponent(bomb)), ApiError);
  const xxe = '<!DOCTYPE q [<!ENTITY x SYSTEM "file:///etc/passwd">]><query><action>&x;</action></query>';
  assert.throws(() => decodeBody('xml=' + xxe), /DOCTYPE/);
  assert.throws(() => decodeBody('xml=' + encodeURIComponent('<query><a></query>')), /malformed XML/);
  assert.throws(() => decodeBody('json=' + encodeURIComponent('{"query":')), /malformed JSON/);
  assert.throws(() => decodeBody('json=' + encodeURIComponent('[1]')), /query/);
  assert.throws(() => decodeBody('hello=1'), /xml or json/);
});
