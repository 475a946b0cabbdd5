import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import path from 'node:path';
import { STORE_INDEPENDENT, TEST_STORE, USER, createTestDatabase, exec, ffprobe, makeClip, tempDir, waitFor } from './helpers.ts';

/** Starts `npm start`'s entry point as its own process, the way a user runs Encodery. */
async function spawnServer(dataDir: string, port: number, databaseUrl?: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', 'serve', '--port', String(port)], {
    env: {
      ...process.env,
      ...(databaseUrl ? { ENCODERY_DATABASE_URL: databaseUrl } : {}),
      ENCODERY_DATA_DIR: dataDir,
      ENCODERY_USERS: `${USER.id}:${USER.key}`,
      ENCODERY_ALLOW_PRIVATE_NETWORK: 'true',
      ENCODERY_LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (c) => {
      out += c;
      if (out.includes('listening on')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`server exited with ${code}: ${out}`)));
  });
  return child;
}

async function call(port: number, query: Record<string, unknown>): Promise<any> {
  const body = 'json=' + encodeURIComponent(JSON.stringify({ query: { userid: USER.id, userkey: USER.key, ...query } }));
  const res = await fetch(`http://127.0.0.1:${port}/`, { method: 'POST', body, headers: { 'content-type': 'application/x-www-form-urlencoded' } });
  return ((await res.json()) as { response: unknown }).response;
}

/** Long enough that the kill, half a second into the first encode, lands in the middle of it. */
const CLIP_SECONDS = 8;

test('a server killed with SIGKILL mid-encode finishes every accepted media after a restart', { timeout: 240_000 }, async () => {
  const dataDir = await tempDir();
  const files = path.join(dataDir, 'files');
  await fs.mkdir(files, { recursive: true });
  const clip = await makeClip(path.join(files, 'clip.mp4'), { seconds: CLIP_SECONDS, size: '640x360' });
  const port = 20000 + Math.floor(Math.random() * 20000);
  const database = TEST_STORE === 'postgres' ? await createTestDatabase() : null;
  let server = await spawnServer(dataDir, port, database?.url);
  try {
    const ids: string[] = [];
    for (const name of ['one', 'two']) {
      const r = await call(port, { action: 'AddMedia', source: `file://${clip}`, format: { output: 'mp4', destination: `file://${files}/${name}.mp4` } });
      ids.push(r.MediaID);
    }
    await waitFor(async () => (await call(port, { action: 'GetStatus', mediaid: ids[0] })).status === 'Processing' || undefined, 60_000, 50);
    await new Promise((r) => setTimeout(r, 500));
    const encoding = async () => (await exec('ps', ['-eo', 'args'])).stdout.includes(path.join(dataDir, 'outputs'));
    assert.ok(await encoding(), 'an FFmpeg was encoding when the server was killed');
    server.kill('SIGKILL');
    await new Promise((r) => server.once('exit', r));
    // Its FFmpeg dies with it: no orphan encodes on beside the ones that replace them.
    await waitFor(async () => !(await encoding()) || undefined, 3000, 50);

    server = await spawnServer(dataDir, port, database?.url);
    for (const [i, id] of ids.entries()) {
      const final = await waitFor(async () => {
        const s = await call(port, { action: 'GetStatus', mediaid: id, extended: 'yes' });
        return ['Finished', 'Error', 'Stopped'].includes(s.job.status) ? s.job : undefined;
      }, 180_000, 200);
      assert.equal(final.status, 'Finished', JSON.stringify(final));
      const p = await ffprobe(path.join(files, `${['one', 'two'][i]}.mp4`));
      assert.ok(Math.abs(Number(p.format.duration) - CLIP_SECONDS) < 0.3, `duration ${p.format.duration}`);
    }
  } finally {
    server.kill('SIGKILL');
    await new Promise((r) => (server.exitCode !== null || server.signalCode !== null ? r(null) : server.once('exit', r)));
    await database?.drop();
    await fs.rm(dataDir, { recursive: true, force: true });
  }
});

test('npm start refuses with one clear line when ffmpeg is missing', { skip: STORE_INDEPENDENT }, async () => {
  const dataDir = await tempDir();
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', 'serve'], {
    env: { ...process.env, ENCODERY_DATA_DIR: dataDir, ENCODERY_FFMPEG: '/nonexistent/ffmpeg', ENCODERY_PORT: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  child.stderr!.on('data', (c) => (err += c));
  const code = await new Promise((r) => child.once('exit', r));
  assert.equal(code, 1);
  const lines = err.trim().split('\n');
  assert.equal(lines.length, 1, err);
  assert.match(lines[0]!, /apt-get install ffmpeg/);
  assert.match(lines[0]!, /ENCODERY_FFMPEG/);
  await fs.rm(dataDir, { recursive: true, force: true });
});

test('a bad setting stops the start with a message naming it', { skip: STORE_INDEPENDENT }, async () => {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', 'serve'], {
    env: { ...process.env, ENCODERY_WORKERS: 'many' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  child.stderr!.on('data', (c) => (err += c));
  assert.equal(await new Promise((r) => child.once('exit', r)), 2);
  assert.match(err, /ENCODERY_WORKERS/);
});
