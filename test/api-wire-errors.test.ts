import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import pino from 'pino';
import { USER, parseXml, startTestServer, toXml, type TestServer, one } from './helpers.ts';

/**
 * Issue 13 §7: every bad request gets an error that names the problem, in the format the request
 * asked for (the form field it used), at HTTP 200, and is logged at warn at most.
 */
describe('bad requests get their own named error, in their own format', () => {
  let t: TestServer;
  const logged: { level: number; msg: string }[] = [];
  before(async () => {
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) logged.push(JSON.parse(line) as { level: number; msg: string });
        done();
      },
    });
    t = await startTestServer({}, pino({ level: 'info' }, sink));
  });
  after(() => t.close());

  const countMedia = async () => (await t.call('json', { action: 'GetMediaList' })).media!.length as number;
  const auth = { userid: USER.id, userkey: USER.key };
  const form = { 'content-type': 'application/x-www-form-urlencoded' };

  /** The reply's single error text, after checking it is in `format` at HTTP `status`. */
  async function errorOf(format: 'xml' | 'json', res: Response | Promise<Response>, status = 200): Promise<string> {
    const r = await res;
    const text = await r.text();
    assert.equal(r.status, status, text);
    if (format === 'json') {
      assert.match(r.headers.get('content-type') ?? '', /application\/json/, text);
      const error = (JSON.parse(text) as { response: { errors: { error: unknown } } }).response.errors.error;
      assert.equal(typeof error, 'string');
      return error as string;
    }
    assert.match(r.headers.get('content-type') ?? '', /text\/xml/, text);
    assert.ok(text.startsWith('<?xml version="1.0"?>'), text);
    const error = parseXml(text).response.errors.error;
    assert.equal(typeof error, 'string');
    return error as string;
  }
  const post = (body: string, headers: Record<string, string> = form, path = '/', method = 'POST') =>
    fetch(t.server.url + path, { method, headers, body });

  test('XML nested deeper than fast-xml-parser allows names the nesting', async () => {
    const deep = `<query><userid>${USER.id}</userid>${'<a>'.repeat(150)}x${'</a>'.repeat(150)}</query>`;
    assert.match(await errorOf('xml', post('xml=' + encodeURIComponent(deep))), /nested more than 16 levels/);
  });

  test('an unclosed processing instruction after </query> is malformed XML', async () => {
    const doc = toXml('query', { ...auth, action: 'GetMediaList' }) + '<?';
    assert.match(await errorOf('xml', post('xml=' + encodeURIComponent(doc))), /malformed XML \(Pi Tag is not closed\)/);
  });

  for (const [name, headers] of [
    ['an empty Content-Type', { 'content-type': '' }],
    ['an invalid Content-Type', { 'content-type': ';;; nonsense' }],
    ['a Content-Type without a subtype', { 'content-type': 'text/' }],
  ] as const) {
    test(`${name} is decoded like any other body`, async () => {
      const body = 'json=' + encodeURIComponent(JSON.stringify({ query: { ...auth, action: 'GetMediaList' } }));
      const r = await post(body, headers);
      assert.equal(r.status, 200);
      assert.deepEqual(await r.json(), { response: { media: [] } });
      assert.match(await errorOf('xml', post('xml=' + encodeURIComponent('<query><action>x</query>'), headers)), /malformed XML/);
    });
  }

  test('the field name the client used decides the format, wherever it is in the body', async () => {
    const pad = 'p=' + 'a'.repeat(4096) + '&';
    assert.match(await errorOf('json', post(pad + 'json=%7Bbad')), /malformed JSON/);
    assert.match(await errorOf('json', post(pad + '%6Ason=%7Bbad')), /malformed JSON/);
    assert.match(await errorOf('xml', post(pad + 'xml=%3Cquery')), /malformed XML/);
    // Over the body limit, with the field past the part that is kept.
    assert.match(await errorOf('json', post('p=' + 'a'.repeat(1_200_000) + '&json=%7B%7D')), /larger than the limit/);
  });

  test('both xml= and json= at once is refused in the format of the first', async () => {
    const json = 'json=' + encodeURIComponent(JSON.stringify({ query: { ...auth, action: 'GetMediaList' } }));
    const xml = 'xml=' + encodeURIComponent(toXml('query', { ...auth, action: 'GetMediaList' }));
    assert.match(await errorOf('json', post(`${json}&${xml}`)), /one form field named xml or json/);
    assert.match(await errorOf('xml', post(`${xml}&${json}`)), /one form field named xml or json/);
  });

  test('a field over the size cap is refused by name and nothing is stored', async () => {
    const before = await countMedia();
    const query = { ...auth, action: 'AddMedia', source: `file://${t.filesDir}/none.mp4`, format: { output: 'mp4', note: 'x'.repeat(900_000) } };
    assert.equal(await errorOf('json', post('json=' + encodeURIComponent(JSON.stringify({ query })))), 'Field "format.note" is longer than the limit of 16384 characters.');
    assert.equal(await errorOf('xml', post('xml=' + encodeURIComponent(toXml('query', query)))), 'Field "format.note" is longer than the limit of 16384 characters.');
    // Entities count as the character they stand for: 16384 of them fit.
    const fits = { ...query, action: 'GetMediaList', format: { output: 'mp4', note: '&'.repeat(16_384) } };
    assert.deepEqual(parseXml(await (await post('xml=' + encodeURIComponent(toXml('query', fits)))).text()).response, '');
    assert.equal(await countMedia(), before);
  });

  test('a NUL or an unpaired surrogate in a field is refused by name and nothing is stored', async () => {
    const before = await countMedia();
    for (const bad of ['a\u0000b', 'a\ud800b']) {
      const query = { ...auth, action: 'AddMedia', source: `file://${t.filesDir}/none.mp4`, format: { output: 'mp4', note: bad } };
      assert.match(await errorOf('json', post('json=' + encodeURIComponent(JSON.stringify({ query })))), /^Field "format.note" contains the character U\+(0000|D800)/);
    }
    assert.equal(await countMedia(), before);
  });

  test('a query with more fields than the cap is refused before it costs the server a second', async () => {
    const xml = toXml('query', { ...auth, action: 'GetMediaList' }).replace('</query>', '<a>1</a>'.repeat(30_000) + '</query>');
    assert.match(await errorOf('xml', post('xml=' + encodeURIComponent(xml))), /more than 20000 fields/);
    const keys = Object.fromEntries(Array.from({ length: 25_000 }, (_, i) => [`k${i}`, '1']));
    const json = JSON.stringify({ query: { ...auth, action: 'GetMediaList', ...keys } });
    assert.match(await errorOf('json', post('json=' + encodeURIComponent(json))), /more than 20000 fields/);
  });

  test('a media or task id beyond the stores\' integer ids is not found (PostgreSQL refused it: Internal error)', async () => {
    for (const id of ['2147483648', '999999999999999']) {
      assert.equal((await t.call('json', { action: 'GetStatus', mediaid: id })).errors!.error, `Media ${id} not found.`);
      assert.equal((await t.call('xml', { action: 'GetStatus', mediaid: `1,${id}`, extended: 'yes' })).errors!.error, `Media ${id} not found.`);
      assert.equal((await t.call('json', { action: 'CancelMedia', mediaid: id })).errors!.error, `Media ${id} not found.`);
      assert.equal((await t.call('json', { action: 'GetMediaInfo', mediaid: id })).errors!.error, `Media ${id} not found.`);
      assert.match(one((await t.call('json', { action: 'GetMediaList', version: '3', mediaid: id })).errors!.error), /Field "mediaid" must be at most 2147483647/);
      assert.match(one((await t.call('json', { action: 'GetMediaList', version: '3', taskid: id })).errors!.error), /Field "taskid" must be at most 2147483647/);
    }
  });

  test('other methods on / get 405 and odd paths 404, with the error in the asked format', async () => {
    const json = 'json=' + encodeURIComponent(JSON.stringify({ query: { ...auth, action: 'GetMediaList' } }));
    const put = await post(json, form, '/', 'PUT');
    assert.equal(put.headers.get('allow'), 'GET, HEAD, POST');
    assert.match(await errorOf('json', put, 405), /takes POST, not PUT/);
    assert.match(await errorOf('xml', post('xml=%3Cquery%2F%3E', form, '/', 'DELETE'), 405), /takes POST, not DELETE/);
    assert.match(await errorOf('json', post(json, form, '/api/v1'), 404), /Nothing is served at "\/api\/v1"/);
    const get = await fetch(t.server.url + '/favicon.ico');
    assert.equal(get.status, 404);
    await get.text();
  });

  test('none of these was logged above warn', () => {
    const loud = logged.filter((l) => l.level > 40);
    assert.deepEqual(loud.map((l) => l.msg), []);
  });
});
