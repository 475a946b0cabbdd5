import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { asList, one, OTHER, USER, startTestServer, type TestServer } from './helpers.ts';

/**
 * idempotency_key: clients retry AddMedia on timeouts; a retry with the same key within 24 h must
 * answer the media the first request added instead of adding (and encoding) a second one.
 */
describe('AddMedia idempotency_key', () => {
  let t: TestServer;

  before(async () => {
    t = await startTestServer();
  });
  after(async () => {
    await t.close();
  });

  // The source does not exist: each media ends in Error at once, no encode; only the count matters here.
  const order = (key: unknown, output = 'mp4', user = USER) => ({
    action: 'AddMedia' as const,
    idempotency_key: key,
    source: `file://${t.filesOf(user)}/missing.mp4`,
    format: { output, destination: `file://${t.filesOf(user)}/out.${output}` },
  });
  const ids = async (user?: { id: string; key: string }) => asList((await t.call('json', { action: 'GetMediaList' }, user)).media).map((m: any) => String(m.mediaid));

  test('a retry with the same key answers the same MediaID, in either wire format, and adds nothing', async () => {
    const first = await t.call('json', order('retry-1'));
    assert.equal(first.message, 'Added');
    const before = await ids();
    const again = await t.call('json', order('retry-1'));
    const asXml = await t.call('xml', order('retry-1'));
    assert.equal(again.MediaID, first.MediaID);
    assert.equal(asXml.MediaID, first.MediaID);
    assert.deepEqual(await ids(), before);
    assert.ok(before.includes(first.MediaID));
  });

  test('the key is the user\'s own: another user with the same key gets a media of their own', async () => {
    const mine = await t.call('json', order('shared-key'));
    const theirs = await t.call('json', order('shared-key', 'mp4', OTHER), OTHER);
    assert.equal(theirs.message, 'Added', JSON.stringify(theirs));
    assert.notEqual(theirs.MediaID, mine.MediaID);
    assert.deepEqual(await ids(OTHER), [theirs.MediaID]);
  });

  test('the same key for a different request is refused by name and adds nothing', async () => {
    const first = await t.call('json', order('reused'));
    const before = await ids();
    const other = await t.call('json', order('reused', 'webm'));
    assert.match(one(other.errors!.error), /idempotency_key/);
    assert.match(one(other.errors!.error), new RegExp(`media ${first.MediaID}`));
    assert.deepEqual(await ids(), before);
  });

  test('concurrent retries with one key add exactly one media', async () => {
    const before = (await ids()).length;
    const replies = await Promise.all(Array.from({ length: 6 }, () => t.call('json', order('burst'))));
    const answered = new Set(replies.map((r) => r.MediaID));
    assert.equal(answered.size, 1, `answers: ${JSON.stringify(replies)}`);
    assert.equal((await ids()).length, before + 1);
  });

  test('after 24 hours the key is free again', async () => {
    const first = await t.call('json', order('day-old'));
    await t.server.db.updateTable('idempotency_key').set({ created_at: Date.now() - 25 * 3600_000 }).where('key', '=', 'day-old').execute();
    const second = await t.call('json', order('day-old'));
    assert.equal(second.message, 'Added');
    assert.notEqual(second.MediaID, first.MediaID);
    // The new media holds the key now.
    assert.equal((await t.call('json', order('day-old'))).MediaID, second.MediaID);
  });

  test('a key that is not a short printable string is refused by name', async () => {
    const before = await ids();
    for (const bad of [['a', 'b'], 'x'.repeat(300), 'tab\there']) {
      const reply = await t.call('json', order(bad));
      assert.match(one(reply.errors?.error ?? ''), /idempotency_key/, JSON.stringify(reply));
    }
    assert.deepEqual(await ids(), before);
  });
});
