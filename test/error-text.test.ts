// Issue 13 §5: an internal error (a failed system call, a store error, a bug) reaches the user as
// "Internal error (ref …)" without server paths or SQL; the log keeps it whole under that ref.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import Database from 'better-sqlite3';
import { makeClip, startReceiver, startTestServer, untilFinal, waitFor, collectLogs, type TestServer } from './helpers.ts';
import { describeError } from '../src/domain/errors.ts';
import { TransferError } from '../src/transfer/types.ts';

describe('errors a user may see', () => {
  let t: TestServer;
  let hooks: Awaited<ReturnType<typeof startReceiver>>;
  const logLines: string[] = [];

  before(async () => {
    hooks = await startReceiver();
    t = await startTestServer({}, collectLogs('info', logLines).logger);
    // The scratch space cannot be made: every media that needs it fails on a system call.
    await fs.writeFile(path.join(t.dataDir, 'scratch'), 'not a directory');
  });
  after(async () => {
    await t.close();
    await hooks.close();
  });

  test('a failed system call in the pipeline is shown as Internal error (ref …), with no server path; the log has it under that ref', async () => {
    const clip = await makeClip(path.join(t.filesDir, 'clip.mp4'), { seconds: 1, size: '160x90' });
    const add = await t.call('json', { action: 'AddMedia', source: `file://${clip}`, notify: `${hooks.url}/done`, format: { output: 'mp4', destination: `file://${t.filesDir}/out.mp4` } });
    const { final } = await untilFinal(t, add.MediaID, 60_000);
    assert.equal(final.status, 'Error');
    assert.match(final.description!, /^Internal error \(ref [0-9a-f]{6}\)$/);
    const notify = (await waitFor(async () => hooks.received.find((r) => r.url === '/done'), 30_000)).body.toString();
    for (const shown of [JSON.stringify(final), notify]) {
      assert.ok(!shown.includes(t.dataDir + '/scratch'), shown);
      assert.ok(!/ENOTDIR|EEXIST|mkdir/.test(shown), shown);
    }
    const ref = /ref ([0-9a-f]{6})/.exec(final.description!)![1]!;
    const logged = logLines.find((l) => l.includes(`"ref":"${ref}"`) && l.includes('mkdir'));
    assert.ok(logged, `the log has the error under ref ${ref}`);
  });

  test('store errors, system errors and bugs are internal; user-facing errors keep their words without server paths', () => {
    const db = new Database(':memory:');
    let storeError: unknown;
    try {
      db.prepare('select secret_column from media_internal where id = 1').get();
    } catch (err) {
      storeError = err;
    }
    db.close();
    assert.match(describeError(storeError), /^Internal error \(ref [0-9a-f]{6}\)$/);
    assert.match(describeError(new Error('SQLITE_BUSY: database is locked while running insert into media values (1)')), /^Internal error/);
    assert.match(describeError(new TypeError("Cannot read properties of undefined (reading 'x')")), /^Internal error/);
    assert.match(describeError(new Error('internal: a chunk must be one FFmpeg run')), /^Internal error/);
    assert.equal(describeError(new TransferError('Download error: file not found')), 'Download error: file not found');
    assert.equal(
      describeError(new Error('logo_source http://u:pw@example.com/l.png is not a picture FFmpeg can read: /srv/data/scratch/4/asset-0: Invalid data found')),
      'logo_source http://***:***@example.com/l.png is not a picture FFmpeg can read: asset-0: Invalid data found',
    );
  });
});
