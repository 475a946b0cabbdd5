import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { OTHER, USER, parseXml, startTestServer, toXml, untilFinal, type TestServer, one } from './helpers.ts';

/** Bad input gets a clear error reply at HTTP 200 and changes nothing. */
describe('API input handling', () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer();
  });
  after(() => t.close());

  const countMedia = async () => (await t.call('json', { action: 'GetMediaList' })).media!.length as number;
  const xmlError = (text: string): string => {
    assert.ok(text.startsWith('<?xml version="1.0"?>'), 'declaration at byte 0');
    const r = parseXml(text).response;
    assert.equal(typeof r.errors.error, 'string');
    return r.errors.error;
  };

  test('GetMediaList on an empty account – media is an empty array / empty response', async () => {
    const json = await t.raw('json=' + encodeURIComponent(JSON.stringify({ query: { userid: USER.id, userkey: USER.key, action: 'GetMediaList' } })));
    assert.equal(json.status, 200);
    assert.match(json.type, /application\/json/);
    assert.deepEqual(JSON.parse(json.text), { response: { media: [] } });
    const xml = await t.raw('xml=' + encodeURIComponent(toXml('query', { userid: USER.id, userkey: USER.key, action: 'GetMediaList' })));
    assert.match(xml.type, /text\/xml/);
    assert.equal(xml.text, '<?xml version="1.0"?>\n<response></response>');
  });

  test('wrong key – the recorded error text, in the request format', async () => {
    const xml = await t.raw('xml=' + encodeURIComponent(toXml('query', { userid: USER.id, userkey: 'nope', action: 'GetMediaList' })));
    assert.equal(xml.text, '<?xml version="1.0"?>\n<response><errors><error>Wrong user id or key!</error></errors></response>');
    const json = await t.call('json', { action: 'GetMediaList' }, { id: USER.id, key: OTHER.key });
    assert.deepEqual(json, { errors: { error: 'Wrong user id or key!' } });
  });

  test('action names in any letter case, raw and url-encoded bodies', async () => {
    const q = { query: { userid: USER.id, userkey: USER.key, action: 'getmedialist' } };
    const raw = await t.raw('json=' + JSON.stringify(q));
    assert.deepEqual(JSON.parse(raw.text), { response: { media: [] } });
    const rawXml = await t.raw('xml=' + toXml('query', { userid: USER.id, userkey: USER.key, action: 'GETMEDIALIST' }));
    assert.equal(rawXml.text, '<?xml version="1.0"?>\n<response></response>');
  });

  test('Expect: 100-continue is honoured', async () => {
    const body = 'json=' + encodeURIComponent(JSON.stringify({ query: { userid: USER.id, userkey: USER.key, action: 'GetMediaList' } }));
    const http = await import('node:http');
    const url = new URL(t.server.url);
    const text = await new Promise<string>((resolve, reject) => {
      const req = http.request({ host: url.hostname, port: url.port, method: 'POST', path: '/', headers: { expect: '100-continue', 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(body) } });
      req.on('continue', () => req.end(body));
      req.on('response', (res) => {
        let s = '';
        res.on('data', (c) => (s += c));
        res.on('end', () => resolve(s));
      });
      req.on('error', reject);
    });
    assert.deepEqual(JSON.parse(text), { response: { media: [] } });
  });

  const bad: [string, () => Promise<string>, RegExp][] = [
    ['malformed XML', async () => xmlError((await t.raw('xml=' + encodeURIComponent('<query><action>x</query>'))).text), /Wrong query format: malformed XML/],
    ['malformed JSON', async () => JSON.parse((await t.raw('json=' + encodeURIComponent('{"query":{'))).text).response.errors.error, /malformed JSON/],
    [
      'XML with a DOCTYPE and entities',
      async () =>
        xmlError(
          (await t.raw('xml=' + encodeURIComponent(`<?xml version="1.0"?><!DOCTYPE query [<!ENTITY x SYSTEM "file:///etc/passwd">]><query><userid>${USER.id}</userid><userkey>${USER.key}</userkey><action>&x;</action></query>`))).text,
        ),
      /DOCTYPE/,
    ],
    ['an unknown action', async () => (await t.call('json', { action: 'FlyToTheMoon' })).errors!.error, /Unknown action "FlyToTheMoon"/],
    ['no action', async () => (await t.call('json', {})).errors!.error, /Action is not indicated/],
    ['AddMedia without source', async () => (await t.call('json', { action: 'AddMedia', format: { output: 'mp4' } })).errors!.error, /Source file is not indicated!/],
    ['AddMedia without format', async () => (await t.call('xml', { action: 'AddMedia', source: 'http://example.com/a.mp4' })).errors!.error, /No formats specified!/],
    ['an empty <format/>', async () => (await t.call('xml', { action: 'AddMedia', source: 'http://example.com/a.mp4', format: '' })).errors!.error, /Output format is not indicated/],
    ['an unknown output', async () => (await t.call('json', { action: 'AddMedia', source: 'http://example.com/a.mp4', format: { output: 'betamax' } })).errors!.error, /Unknown output "betamax"/],
    ['an unsupported scheme', async () => (await t.call('json', { action: 'AddMedia', source: 'gopher://example.com/a.mp4', format: { output: 'mp4' } })).errors!.error, /gopher/],
    [
      'a file:// source outside the roots',
      async () => (await t.call('json', { action: 'AddMedia', source: 'file:///etc/passwd', format: { output: 'mp4' } })).errors!.error,
      /outside the allowed file roots/,
    ],
    [
      'a file:// destination escaping with ..',
      async () =>
        (await t.call('json', { action: 'AddMedia', source: `file://${t.filesDir}/a.mp4`, format: { output: 'mp4', destination: `file://${t.filesDir}/../../escape.mp4` } })).errors!.error,
      /outside the allowed file roots/,
    ],
    ['an unknown media id', async () => (await t.call('json', { action: 'GetStatus', mediaid: '999999' })).errors!.error, /Media 999999 not found/],
    ['a media id that is not a number', async () => (await t.call('xml', { action: 'GetStatus', mediaid: '12abc' })).errors!.error, /not a positive whole number/],
    ['a field of the wrong shape', async () => (await t.call('json', { action: 'GetStatus', mediaid: { a: '1' } })).errors!.error, /Field "mediaid" must be a single value/],
    ['a bad bitrate', async () => (await t.call('json', { action: 'AddMedia', source: 'http://example.com/a.mp4', format: { output: 'mp4', bitrate: 'fast' } })).errors!.error, /bitrate/],
    ['a bad notify URL', async () => (await t.call('json', { action: 'AddMedia', source: 'http://example.com/a.mp4', notify: 'javascript:alert(1)', format: { output: 'mp4' } })).errors!.error, /notify/],
    [
      'a body over the limit',
      async () => JSON.parse((await t.raw('json=' + encodeURIComponent(JSON.stringify({ query: { pad: 'x'.repeat(1_100_000) } })))).text).response.errors.error,
      /larger than the limit/,
    ],
    ['an empty body', async () => xmlError((await t.raw('')).text), /xml or json/],
  ];
  for (const [name, run, expected] of bad) {
    test(`bad input: ${name} – an errors reply, nothing created`, async () => {
      const before = await countMedia();
      assert.match(await run(), expected);
      assert.equal(await countMedia(), before);
    });
  }

  test('a user never sees another user’s media', async () => {
    const added = await t.call('json', { action: 'AddMedia', source: 'http://127.0.0.1:9/a.mp4', format: { output: 'mp4' } });
    const id = added.MediaID as string;
    assert.match(id, /^\d+$/);
    for (const action of ['GetStatus', 'GetMediaInfo', 'CancelMedia', 'StopMedia', 'RestartMedia']) {
      const r = await t.call('json', { action, mediaid: id }, OTHER);
      assert.equal(r.errors?.error, `Media ${id} not found.`, action);
    }
    assert.deepEqual((await t.call('json', { action: 'GetMediaList' }, OTHER)).media, []);
    assert.equal((await t.call('json', { action: 'GetStatus', mediaid: id })).id, id);
  });
});

describe('ENCODERY_ALLOW_PRIVATE_NETWORK off (the default)', () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer({ ENCODERY_ALLOW_PRIVATE_NETWORK: 'false' });
  });
  after(() => t.close());

  for (const [field, query] of [
    ['source', { source: 'http://127.0.0.1:9/a.mp4', format: { output: 'mp4' } }],
    ['source', { source: 'http://[::1]/a.mp4', format: { output: 'mp4' } }],
    ['destination', { source: 'https://example.com/a.mp4', format: { output: 'mp4', destination: 'http://169.254.169.254/latest' } }],
    ['notify', { source: 'https://example.com/a.mp4', notify: 'http://localhost:8080/hook', format: { output: 'mp4' } }],
    ['notify_encoding_errors', { source: 'https://example.com/a.mp4', notify_encoding_errors: 'http://10.0.0.1/hook', format: { output: 'mp4' } }],
  ] as const) {
    test(`a ${field} on a private address is refused at AddMedia`, async () => {
      const r = await t.call('json', { action: 'AddMedia', ...query });
      assert.match(one(r.errors!.error), /private or loopback address/);
      assert.deepEqual((await t.call('json', { action: 'GetMediaList' })).media, []);
    });
  }

  test('a source whose host cannot be resolved ends the media in Error with a Download error', async () => {
    const r = await t.call('json', { action: 'AddMedia', source: 'http://localtest.invalid/a.mp4', format: { output: 'mp4' } });
    const { final } = await untilFinal(t, r.MediaID);
    assert.equal(final.status, 'Error');
    assert.match(final.description!, /^Download error/);
  });
});
