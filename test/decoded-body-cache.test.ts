/**
 * The cache of decoded polling bodies (api/wire/decoded-cache.ts): bounded by each body's length
 * and by all bodies together, oldest first out, and its queries cannot be changed by a reader.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DecodedBodyCache } from '../src/api/wire/decoded-cache.ts';
import { decodeBody } from '../src/api/wire/decode.ts';

const body = (id: number, pad = 0): string =>
  `json=${encodeURIComponent(JSON.stringify({ query: { userid: '1001', userkey: 'k', action: 'GetStatus', mediaid: String(id), note: 'x'.repeat(pad) } }))}`;

describe('DecodedBodyCache', () => {
  it('answers only the exact text it kept', () => {
    const cache = new DecodedBodyCache();
    const text = body(1);
    cache.set(text, decodeBody(text));
    assert.equal(cache.get(text)?.query.mediaid, '1');
    assert.equal(cache.get(text + ' '), undefined);
    assert.equal(cache.get(body(2)), undefined);
  });

  it('keeps no body over its length cap, and drops the oldest to stay within its total', () => {
    const one = body(1).length;
    const cache = new DecodedBodyCache(3 * one, one);
    const long = body(1, 10);
    cache.set(long, decodeBody(long));
    assert.equal(cache.get(long), undefined);
    assert.equal(cache.size, 0);
    for (const id of [1, 2, 3, 4]) cache.set(body(id), decodeBody(body(id)));
    assert.equal(cache.size, 3);
    assert.equal(cache.get(body(1)), undefined);
    for (const id of [2, 3, 4]) assert.equal(cache.get(body(id))?.query.mediaid, String(id));
  });

  it('hands out queries nobody can change', () => {
    const text = `xml=${encodeURIComponent('<query><action>GetStatus</action><mediaid>7</mediaid><format><output>mp4</output></format></query>')}`;
    const cache = new DecodedBodyCache();
    cache.set(text, decodeBody(text));
    const { query } = cache.get(text)!;
    assert.throws(() => {
      (query as Record<string, unknown>).mediaid = '8';
    }, TypeError);
    assert.throws(() => {
      (query.format as Record<string, unknown>).output = 'webm';
    }, TypeError);
    assert.equal(cache.get(text)!.query.mediaid, '7');
  });
});
