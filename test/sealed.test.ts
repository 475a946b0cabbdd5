// Issue 17: the sealing of secret fields (domain/sealed.ts) on its own: AES-256-GCM tokens bound to
// their field, refused when altered or sealed with another key, and a key setting that is never quoted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { SecretUnsealableError, isSealed, openSecrets, parseSealingKey, sealSecrets } from '../src/domain/sealed.ts';
import { loadConfig } from '../src/config.ts';

const KEY = 'a0a1a2a3a4a5a6a7a8a9aaabacadaeaf';
const key = parseSealingKey(crypto.randomBytes(32).toString('hex'))!;

test('secret-role fields at any depth are sealed, others kept; opening gives the values back', () => {
  const fields = { output: 'advanced_hls', drm_key_id: '0123', encryption_key: KEY, stream: [{ size: '0x180', encryption_iv: KEY }], note: '' };
  const sealed = sealSecrets(fields, key);
  assert.equal(sealed.output, 'advanced_hls');
  assert.equal(sealed.drm_key_id, '0123', 'a key id is no secret');
  assert.ok(isSealed(sealed.encryption_key as string));
  assert.ok(isSealed((sealed.stream as { encryption_iv: string }[])[0]!.encryption_iv));
  assert.ok(!JSON.stringify(sealed).includes(KEY));
  assert.deepEqual(openSecrets(sealed, key), fields);
  assert.deepEqual(sealSecrets(sealed, key), sealed, 'sealing twice changes nothing');
  assert.notEqual(sealSecrets(fields, key).encryption_key, sealed.encryption_key, 'a random IV per seal');
  assert.deepEqual(openSecrets({ drm_key: KEY }, key), { drm_key: KEY }, 'a value stored in clear before sealing is read as it is');
});

test('a token moved to another field, altered, or opened with another key is refused with a sentence naming the setting', () => {
  const token = sealSecrets({ drm_key: KEY }, key).drm_key as string;
  assert.throws(() => openSecrets({ encryption_key: token }, key), SecretUnsealableError, 'bound to its field');
  const altered = token.slice(0, -2) + (token.endsWith('A') ? 'BB' : 'AA');
  assert.throws(() => openSecrets({ drm_key: altered }, key), /drm_key is sealed but does not open with this ENCODERY_SECRET_KEY/);
  const other = parseSealingKey(crypto.randomBytes(32).toString('base64'))!;
  assert.throws(() => openSecrets({ drm_key: token }, other), (err: Error) => err instanceof SecretUnsealableError
    && err.message.includes(`sealed with another ENCODERY_SECRET_KEY (key ${key.fingerprint}; this process has key ${other.fingerprint})`) && !err.message.includes(KEY));
  assert.equal(JSON.stringify({ key }), `{"key":{"fingerprint":"${key.fingerprint}"}}`, 'a key never shows in a dump');
});

test('ENCODERY_SECRET_KEY takes 32 bytes as hex or base64; anything else stops the start without quoting it', () => {
  const hex = crypto.randomBytes(32).toString('hex');
  assert.equal(loadConfig({ ENCODERY_SECRET_KEY: hex }).secretKey?.fingerprint, parseSealingKey(hex)!.fingerprint);
  assert.equal(loadConfig({ ENCODERY_SECRET_KEY: Buffer.from(hex, 'hex').toString('base64') }).secretKey?.fingerprint, parseSealingKey(hex)!.fingerprint);
  assert.equal(loadConfig({}).secretKey, null, 'unset: resolved at start (data dir)');
  for (const bad of ['too-short-secret', hex.slice(2), crypto.randomBytes(24).toString('base64')]) {
    assert.throws(() => loadConfig({ ENCODERY_SECRET_KEY: bad }), (err: Error) => /^ENCODERY_SECRET_KEY \(--secret-key\): must be 32 bytes/.test(err.message) && !err.message.includes(bad));
  }
});
