// Issue 18: one TransferContext factory, and each storage scheme's settings in one group.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { loadConfig, SETTINGS } from '../src/config.ts';
import { transferContext } from '../src/transfer/index.ts';
import { SCHEME_SETTINGS, SCHEME_SETTING_KEYS } from '../src/transfer/settings.ts';

test('transferContext – every scheme setting from configuration reaches the transfer, with the user\'s roots and no more', (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'encodery-context-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const key = path.join(dir, 'id_ed25519');
  fs.writeFileSync(key, 'not checked here');
  const config = loadConfig({
    ENCODERY_DATA_DIR: dir,
    ENCODERY_S3_ENDPOINT: 'http://minio.example:9000/',
    ENCODERY_S3_REGION: 'eu-west-1',
    ENCODERY_AZURE_ENDPOINT: 'http://azurite.example:10000/devstoreaccount1',
    ENCODERY_SFTP_KEY_FILE: key,
    ENCODERY_SFTP_KEY_PASSPHRASE: 'secret words',
    ENCODERY_SFTP_KNOWN_HOSTS: key,
    ENCODERY_FTPS_CA_FILE: key,
    ENCODERY_SPEKE_AWS_REGION: 'eu-west-3',
    ENCODERY_SPEKE_AWS_ACCESS_KEY_ID: 'AKIAEXAMPLE',
    ENCODERY_SPEKE_AWS_SECRET_ACCESS_KEY: 'secret/example',
    ENCODERY_SPEKE_AWS_SESSION_TOKEN: 'token',
    ENCODERY_MAX_SOURCE_BYTES: '1234',
    ENCODERY_TRANSFER_DEADLINE_SECONDS: '77',
  });
  const roots = { own: ['/srv/a/7'], shared: ['/srv/shared'], denied: [dir] };
  const signal = new AbortController().signal;
  const ctx = transferContext(config, { roots, signal });
  for (const name of SCHEME_SETTING_KEYS) {
    assert.notEqual(config[name], null, `${name} is set in this test`);
    assert.equal(ctx[name], config[name], name);
  }
  assert.equal(ctx.s3Endpoint, 'http://minio.example:9000');
  assert.deepEqual([ctx.fileRoots, ctx.sharedFileRoots, ctx.deniedFileRoots], [roots.own, roots.shared, roots.denied]);
  assert.equal(ctx.allowPrivateNetwork, false);
  assert.equal(ctx.maxSourceBytes, 1234);
  assert.equal(ctx.pace?.deadlineSeconds, 77);
  assert.equal(ctx.signal, signal);

  // Configured storage: trusted host, no size limit, and file:// reaches only what it is given.
  const storage = transferContext(config, { configured: true });
  assert.equal(storage.allowPrivateNetwork, true);
  assert.equal(storage.maxSourceBytes, undefined);
  assert.deepEqual(storage.fileRoots, []);
  assert.equal(storage.s3Region, 'eu-west-1');
});

test('scheme settings – each keeps its ENCODERY_ name and flag, and a bad value names its setting', () => {
  for (const [key, setting] of Object.entries(SCHEME_SETTINGS)) {
    assert.equal(SETTINGS[key as keyof typeof SETTINGS].env, setting.env);
    assert.equal(SETTINGS[key as keyof typeof SETTINGS].flag, setting.flag);
  }
  assert.deepEqual(
    Object.values(SCHEME_SETTINGS).map((s) => s.env).sort(),
    [
      'ENCODERY_AZURE_ENDPOINT', 'ENCODERY_FTPS_CA_FILE', 'ENCODERY_S3_ENDPOINT', 'ENCODERY_S3_REGION', 'ENCODERY_SFTP_KEY_FILE', 'ENCODERY_SFTP_KEY_PASSPHRASE', 'ENCODERY_SFTP_KNOWN_HOSTS',
      'ENCODERY_SPEKE_AWS_ACCESS_KEY_ID', 'ENCODERY_SPEKE_AWS_REGION', 'ENCODERY_SPEKE_AWS_SECRET_ACCESS_KEY', 'ENCODERY_SPEKE_AWS_SESSION_TOKEN',
    ],
  );
  const defaults = loadConfig({});
  assert.deepEqual(
    SCHEME_SETTING_KEYS.map((k) => defaults[k]),
    SCHEME_SETTING_KEYS.map((k) => (k === 's3Region' ? 'us-east-1' : null)),
  );
  assert.throws(() => loadConfig({ ENCODERY_SFTP_KEY_FILE: '/nowhere/key' }), /ENCODERY_SFTP_KEY_FILE \(--sftp-key-file\): not a readable file/);
  assert.throws(() => loadConfig({}, ['--azure-endpoint', 'ftp://x']), /ENCODERY_AZURE_ENDPOINT \(--azure-endpoint\)/);
  // An access key without its secret (or the reverse) is a start-up error naming the missing one, never quoting the other.
  assert.throws(() => loadConfig({ ENCODERY_SPEKE_AWS_ACCESS_KEY_ID: 'AKIAEXAMPLE' }), /^ConfigError: ENCODERY_SPEKE_AWS_SECRET_ACCESS_KEY \(--speke-aws-secret-access-key\): SPEKE credentials are an access key id and a secret access key together/);
  assert.throws(() => loadConfig({ ENCODERY_SPEKE_AWS_SECRET_ACCESS_KEY: 'secret/example' }), (err: Error) => /ENCODERY_SPEKE_AWS_ACCESS_KEY_ID/.test(err.message) && !err.message.includes('secret/example'));
});
