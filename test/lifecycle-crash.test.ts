import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { TEST_STORE, USER, createTestDatabase, makeClip, startReceiver, tempDir, waitFor, type Received } from './helpers.ts';
import { spawnEncodery, stopProcesses, type Proc } from './cluster-processes.ts';

/**
 * Issue 13 §4: a status change and the notifications it triggers are one transaction. The
 * server kills itself (ENCODERY_TEST_CRASH_AT) right after the named change commits, not after
 * some time: the notification must still arrive, once, after a restart on the same data dir.
 */
async function crashAndRestart(crashAt: string): Promise<{ uploads: Received[]; notifies: Received[]; status: string }> {
  const dataDir = await tempDir();
  const files = path.join(dataDir, 'files');
  await fs.mkdir(files, { recursive: true });
  const clip = await makeClip(path.join(files, 'clip.mp4'), { seconds: 2 });
  const receiver = await startReceiver();
  const database = TEST_STORE === 'postgres' ? await createTestDatabase() : null;
  const port = 20000 + Math.floor(Math.random() * 20000);
  const env = {
    ENCODERY_DATA_DIR: dataDir,
    ENCODERY_USERS: `${USER.id}:${USER.key}`,
    ENCODERY_ALLOW_PRIVATE_NETWORK: 'true',
    ENCODERY_LOG_LEVEL: 'warn',
    ENCODERY_NOTIFY_RETRY_DELAYS_MS: '50,100,150',
    ...(database ? { ENCODERY_DATABASE_URL: database.url } : {}),
  };
  const call = async (query: Record<string, unknown>): Promise<any> => {
    const body = 'json=' + encodeURIComponent(JSON.stringify({ query: { userid: USER.id, userkey: USER.key, ...query } }));
    const res = await fetch(`http://127.0.0.1:${port}/`, { method: 'POST', body, headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    return ((await res.json()) as { response: unknown }).response;
  };
  let server: Proc | undefined;
  try {
    server = await spawnEncodery(['--port', String(port)], { ...env, ENCODERY_TEST_CRASH_AT: crashAt }, /listening on/);
    const exited = new Promise<NodeJS.Signals | null>((r) => server!.child.once('exit', (_code, signal) => r(signal)));
    const added = await call({
      action: 'AddMedia', source: `file://${clip}`, notify: `${receiver.url}/notify`, notify_upload: `${receiver.url}/upload`, notify_format: 'json',
      format: { output: 'mp4', destination: [`file://${files}/a.mp4`, `file://${files}/b.mp4`] },
    });
    assert.ok(added.MediaID, JSON.stringify(added));
    let timer: NodeJS.Timeout | undefined;
    const outcome = await Promise.race([exited, new Promise((r) => (timer = setTimeout(() => r('still running after 120 s'), 120_000)))]);
    clearTimeout(timer);
    assert.equal(outcome, 'SIGKILL', 'the server was to kill itself at the crash point');

    server = await spawnEncodery(['--port', String(port)], env, /listening on/);
    const job = await waitFor(async () => {
      const s = await call({ action: 'GetStatus', mediaid: added.MediaID });
      return ['Finished', 'Error', 'Stopped'].includes(s.job?.status ?? s.status) ? s : undefined;
    }, 120_000, 200);
    const of = (p: string) => receiver.received.filter((r) => r.url === p);
    await waitFor(async () => (of('/upload').length >= 2 && of('/notify').length >= 1) || undefined, 30_000, 100).catch(() => undefined);
    // A duplicate would come from a second sender: give one the time a retry round takes.
    await new Promise((r) => setTimeout(r, 1500));
    return { uploads: of('/upload'), notifies: of('/notify'), status: job.job?.status ?? job.status };
  } finally {
    await stopProcesses([server]);
    await receiver.close();
    await database?.drop();
    await fs.rm(dataDir, { recursive: true, force: true });
  }
}

const payload = (r: Received): any => (JSON.parse(new URLSearchParams(r.body.toString()).get('json')!) as { result: any }).result;

test('issue 13: a server killed right after a destination turns Saved still sends its notify_upload, once', { timeout: 300_000 }, async () => {
  const { uploads, notifies, status } = await crashAndRestart('destination-saved');
  assert.equal(status, 'Finished');
  const destinations = uploads.map((u) => payload(u).destination).sort();
  assert.deepEqual(destinations, destinations.map((d: string) => d).filter((d: string, i: number, all: string[]) => all.indexOf(d) === i), `duplicate notify_upload: ${destinations}`);
  assert.equal(uploads.length, 2, `notify_upload for each destination once, got ${destinations}`);
  assert.ok(uploads.every((u) => payload(u).status === 'Saved'));
  assert.equal(notifies.length, 1);
  assert.equal(payload(notifies[0]!).status, 'Finished');
});

test('issue 13: a server killed right after a media turns Finished still sends its notify, once', { timeout: 300_000 }, async () => {
  const { uploads, notifies, status } = await crashAndRestart('media-finished');
  assert.equal(status, 'Finished');
  assert.equal(uploads.length, 2);
  assert.equal(notifies.length, 1, 'the final notify was lost or doubled');
  assert.equal(payload(notifies[0]!).status, 'Finished');
});
