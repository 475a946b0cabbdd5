/**
 * GetStatus answers from a cache of rendered replies (api/actions/status-cache.ts), kept while
 * the media's version in the change feed is the one the reply was built at. These tests write
 * the store through a handle of their own, as a worker in another process does, and check that
 * the very next reply shows each change: nothing the cache holds is ever answered stale.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { openStore, type Db } from '../src/store/db.ts';
import { OTHER, USER, startTestServer, untilFinal, type TestServer } from './helpers.ts';

describe('GetStatus from its reply cache, with the store written elsewhere', () => {
  let t: TestServer;
  let other: Db;
  let mediaId: string;

  const status = (format: 'xml' | 'json', extended = false, user?: { id: string; key: string }) =>
    t.call(format, { action: 'GetStatus', mediaid: mediaId, ...(extended ? { extended: 'yes' } : {}) }, user) as Promise<any>;
  const rawStatus = (format: 'xml' | 'json', extended: boolean) =>
    t.raw(`${format}=${encodeURIComponent(format === 'json' ? JSON.stringify({ query: { userid: '1001', userkey: 'test-key-1001-abcdef', action: 'GetStatus', mediaid: mediaId, extended: extended ? 'yes' : 'no' } }) : `<query><userid>1001</userid><userkey>test-key-1001-abcdef</userkey><action>GetStatus</action><mediaid>${mediaId}</mediaid><extended>${extended ? 'yes' : 'no'}</extended></query>`)}`);

  before(async () => {
    t = await startTestServer();
    other = await openStore({ dataDir: t.dataDir, databaseUrl: t.config.databaseUrl });
    // A source that is not there: the media ends in Error at once, and no worker touches it again.
    const added = (await t.call('json', { action: 'AddMedia', source: `file://${t.filesDir}/missing.mp4`, format: { output: 'mp4', destination: `file://${t.filesDir}/out.mp4` } })) as { MediaID: string };
    mediaId = added.MediaID;
    assert.equal((await untilFinal(t, mediaId)).final.status, 'Error');
  });
  after(async () => {
    await other.destroy();
    await t.close();
  });

  it('answers the same bytes from the cache as it built, in XML and JSON, simple and extended', async () => {
    for (const format of ['xml', 'json'] as const) {
      for (const extended of [false, true]) {
        const built = await rawStatus(format, extended);
        const cached = await rawStatus(format, extended);
        assert.equal(cached.text, built.text);
        assert.equal(cached.type, built.type);
        assert.match(built.text, /Error/);
      }
    }
  });

  it('shows a change another process wrote on the very next request: the media, its task, its destination', async () => {
    await status('xml');
    await status('json', true);
    await other.updateTable('media').set({ status: 'Finished', description: null, progress: 100 }).where('id', '=', Number(mediaId)).execute();
    assert.equal((await status('xml')).status, 'Finished');
    assert.equal((await status('json', true)).job.status, 'Finished');

    await other.updateTable('task').set({ status: 'Finished', converted_size: 12345 }).where('media_id', '=', Number(mediaId)).execute();
    assert.equal((await status('json', true)).job.format.convertedsize, '12345');
    assert.equal((await status('xml', true)).job.format.convertedsize, '12345');

    const task = await other.selectFrom('task').select('id').where('media_id', '=', Number(mediaId)).executeTakeFirstOrThrow();
    await other.updateTable('destination').set({ status: 'Saved' }).where('task_id', '=', task.id).execute();
    assert.equal((await status('json')).format.destination_status, 'Saved');
    assert.equal((await status('xml')).format.destination_status, 'Saved');
  });

  it('still sees changes once the feed has been pruned of every change the media had', async () => {
    await other.deleteFrom('media_change').execute();
    const before = await status('json', true);
    await status('json', true);
    await other.updateTable('media').set({ progress: 55.5, status: 'Processing' }).where('id', '=', Number(mediaId)).execute();
    const after = await status('json', true);
    assert.notEqual(after.job.progress, before.job.progress);
    assert.equal(after.job.status, 'Processing');
    assert.equal(after.job.progress, '55.5');
  });

  it('decodes a polled body once and still authenticates every request by the text it carries', async () => {
    const xmlBody = (user: { id: string; key: string }, pad = '') =>
      `xml=${encodeURIComponent(`<?xml version="1.0"?>${pad}<query><userid>${user.id}</userid><userkey>${user.key}</userkey><action>GetStatus</action><mediaid>${mediaId}</mediaid></query>`)}`;
    const mine = xmlBody(USER);
    for (let i = 0; i < 3; i++) assert.match((await t.raw(mine)).text, new RegExp(`<id>${mediaId}</id>`));
    // A wrong key is refused every time, the first time and after: a refused body is never kept.
    const guess = xmlBody({ id: USER.id, key: USER.key.slice(0, -1) + 'x' });
    for (let i = 0; i < 2; i++) assert.match((await t.raw(guess)).text, /<errors><error>Wrong user id or key/);
    // Another user's body for the same media, sent after this one was kept, is answered as theirs.
    for (let i = 0; i < 2; i++) {
      const stranger = await t.raw(xmlBody(OTHER));
      assert.doesNotMatch(stranger.text, /<status>/);
      assert.match(stranger.text, new RegExp(`<errors><error>[^<]*${mediaId}`));
    }
    // A body too long to keep, and the raw (not URL-encoded) and bare forms, decode as before, twice over.
    const long = xmlBody(USER, ' '.repeat(4096));
    const rawForm = `json=${JSON.stringify({ query: { userid: USER.id, userkey: USER.key, action: 'getstatus', mediaid: mediaId } })}`;
    const bare = `<query><userid>${USER.id}</userid><userkey>${USER.key}</userkey><action>GetStatus</action><mediaid>${mediaId}</mediaid></query>`;
    for (const text of [long, long, rawForm, rawForm, bare, bare]) {
      const reply = await t.raw(text);
      assert.match(reply.text, text === rawForm ? new RegExp(`"id":"${mediaId}"`) : new RegExp(`<id>${mediaId}</id>`));
    }
    // A change made elsewhere shows on the very next request with the kept body.
    await other.updateTable('media').set({ status: 'Processing', progress: 42 }).where('id', '=', Number(mediaId)).execute();
    assert.match((await t.raw(mine)).text, /<status>Processing<\/status>/);
    await other.updateTable('media').set({ status: 'Error', progress: 100 }).where('id', '=', Number(mediaId)).execute();
    assert.match((await t.raw(mine)).text, /<status>Error<\/status>/);
  });

  it('never answers another user from the cache, and a media deleted elsewhere is not found at once', async () => {
    await status('json');
    const stranger = await status('json', false, OTHER);
    assert.match(String(stranger.errors?.error), new RegExp(`${mediaId}`));
    assert.equal(stranger.status, undefined);

    await other.updateTable('media').set({ deleted: 1 }).where('id', '=', Number(mediaId)).execute();
    for (const format of ['xml', 'json'] as const) {
      const gone = await status(format);
      assert.equal(gone.status, undefined);
      assert.match(String(gone.errors?.error), new RegExp(`${mediaId}`));
    }
  });
});
