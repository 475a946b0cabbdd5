import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SESSION_MS, Sessions, readCookie, sameToken } from '../src/dashboard/session.ts';

const alice = { id: '1001', key: 'alice-key-0123456789' };
const bob = { id: '2002', key: 'bob-key-0123456789ab' };

test('Sessions – a cookie reads back as its user, with a CSRF token that is neither the key nor the cookie', () => {
  const sessions = new Sessions([alice, bob]);
  const { cookie, session } = sessions.create(alice);
  const read = sessions.read(cookie);
  assert.equal(read?.user.id, alice.id);
  assert.equal(read?.csrf, session.csrf);
  assert.ok(!cookie.includes(alice.key) && !session.csrf.includes(alice.key));
  assert.notEqual(sessions.create(alice).session.csrf, session.csrf, 'each sign-in has its own token');
});

test('Sessions – a changed, expired, signed-out or re-keyed cookie is refused', () => {
  const sessions = new Sessions([alice, bob]);
  const now = Date.now();
  const { cookie, session } = sessions.create(alice, now);
  const [id, expires, nonce, mac] = cookie.split('.') as [string, string, string, string];
  assert.equal(sessions.read(`${bob.id}.${expires}.${nonce}.${mac}`), null, 'another user id');
  assert.equal(sessions.read(`${id}.${Number(expires) + 1000}.${nonce}.${mac}`), null, 'a later expiry');
  assert.equal(sessions.read(`${id}.${expires}.${nonce}x.${mac}`), null, 'another nonce');
  assert.equal(sessions.read(`${id}.${expires}.${nonce}.${mac.slice(0, -1)}`), null, 'a cut MAC');
  assert.equal(sessions.read(cookie, now + SESSION_MS + 1), null, 'expired');
  assert.equal(new Sessions([{ ...alice, key: 'a-new-key-for-alice' }, bob]).read(cookie), null, 'the key changed');
  assert.equal(new Sessions([bob]).read(cookie), null, 'the user is gone');
  assert.ok(sessions.read(cookie, now + 1000));
  sessions.revoke(session);
  assert.equal(sessions.read(cookie), null, 'signed out');
  for (const junk of [undefined, '', 'a.b.c', 'x'.repeat(300), '1001.abc.n.m']) assert.equal(sessions.read(junk), null);
});

test('readCookie and sameToken', () => {
  assert.equal(readCookie('a=1; encodery_session=x.y; b=2', 'encodery_session'), 'x.y');
  assert.equal(readCookie('a=1', 'encodery_session'), undefined);
  assert.equal(readCookie(undefined, 'encodery_session'), undefined);
  assert.ok(sameToken('abc', 'abc'));
  assert.ok(!sameToken('abd', 'abc'));
  assert.ok(!sameToken(undefined, 'abc'));
  assert.ok(!sameToken('', 'abc'));
});
