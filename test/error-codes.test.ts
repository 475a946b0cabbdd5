// Issue 18: typed errors with stable codes, turned into wire messages in api/ only; anything
// else reaching the API is shown as a generic message with a reference that the log line has.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { sql } from 'kysely';
import { ERROR_CODES, EncoderyError, UserFacingError, describeError, type ErrorCode } from '../src/domain/errors.ts';
import { ApiError, ErrorText, wireMessage, wireRuleOf } from '../src/api/errors.ts';
import { FormatProblem } from '../src/domain/format/fields.ts';
import { IllegalTransitionError } from '../src/domain/lifecycle.ts';
import { TransferError } from '../src/transfer/types.ts';
import { toTransferError } from '../src/transfer/errors.ts';
import { ForbiddenAddressError, OutsideRootsError } from '../src/transfer/guard.ts';
import { HttpTimeoutError } from '../src/transfer/http-client.ts';
import { FfmpegError } from '../src/pipeline/ffmpeg/run.ts';
import { UnreadableSourceError } from '../src/pipeline/ffmpeg/probe.ts';
import { RefusedInputError, refusalOf } from '../src/pipeline/ffmpeg/inputs.ts';
import { SplitPieceError } from '../src/pipeline/split/run.ts';
import { CaptionError, CaptionParseError } from '../src/domain/caption-cues.ts';
import { QueueUnavailableError, RetryLater } from '../src/queue/types.ts';
import { StoreError } from '../src/store/db.ts';
import { ConfigError } from '../src/config.ts';
import { UploadTooLargeError } from '../src/dashboard/plugin.ts';
import { SecretUnsealableError } from '../src/domain/sealed.ts';
import { collectLogs, one, startTestServer, type TestServer } from './helpers.ts';

/** One of every error class, with whether it should say a later try may work. */
const EVERY_CLASS: [EncoderyError, boolean][] = [
  [new ApiError(ErrorText.auth), false],
  [new FormatProblem('Unknown output "x".'), false],
  [new TransferError('Download error: file not found'), false],
  [new TransferError('Upload error: connection to example.com failed (ECONNRESET)', { retryable: true }), true],
  [new FfmpegError('FFmpeg failed', 1, 'tail'), false],
  [new UnreadableSourceError('The source is not media'), false],
  [new RefusedInputError(refusalOf('hls')), false],
  [new SplitPieceError('a piece is missing'), false],
  [new CaptionError('extract reads CEA-608 captions from H.264 video'), false],
  [new CaptionParseError(6, 'a cue time is missing'), false],
  [new QueueUnavailableError('Redis does not answer'), true],
  [new RetryLater('the store is out of reach'), true],
  [new IllegalTransitionError('media', 1, 'Finished', 'New'), false],
  [new StoreError('cannot open the store'), false],
  [new ConfigError('ENCODERY_PORT (--port): must be a whole number'), false],
  [new OutsideRootsError(), false],
  [new ForbiddenAddressError('10.0.0.1'), false],
  [new HttpTimeoutError('connect', 15), true],
  [new UploadTooLargeError('the file is larger than 10 bytes'), false],
  [new SecretUnsealableError('drm_key was sealed with another ENCODERY_SECRET_KEY'), false],
];

test('every error class carries a code of the table and its own retry rule; every code has a class', () => {
  for (const [err, retryable] of EVERY_CLASS) {
    assert.ok(err instanceof Error && Object.hasOwn(ERROR_CODES, err.code), `${err.name}: ${err.code}`);
    assert.equal(err.retryable, retryable, err.name);
  }
  assert.deepEqual(new Set(EVERY_CLASS.map(([e]) => e.code)), new Set(Object.keys(ERROR_CODES)));
  // A class whose message users may read is user-facing; the rest are internal.
  for (const [err] of EVERY_CLASS) {
    const rule = wireRuleOf(err.code);
    assert.equal(err instanceof UserFacingError, rule === 'as-written' || rule === 'described', err.name);
  }
});

test('every code has an API rule and a README row, and the README lists no other', () => {
  const readme = fs.readFileSync(path.join(import.meta.dirname, '..', 'README.md'), 'utf8');
  const rows = [...readme.matchAll(/^\| `(ENCODERY_[A-Z_]+)` \| [^|]+ \| ([^|]+) \|$/gm)].map((m) => [m[1]!, m[2]!.trim()]);
  assert.deepEqual(rows, Object.entries(ERROR_CODES));
  for (const code of Object.keys(ERROR_CODES) as ErrorCode[]) assert.ok(wireRuleOf(code), code);
});

test('a transfer failure quotes the system code below our own wrappers, never one of our codes', () => {
  const reset = Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
  const wrapped = new Error('the SDK failed', { cause: new RetryLater('the store is out of reach', { cause: reset }) });
  const failure = toTransferError(wrapped, 'Upload', 'example.com');
  assert.equal(describeError(failure), 'Upload error: connection to example.com failed (ECONNRESET)');
  assert.equal(failure.retryable, true);
  assert.match(describeError(new IllegalTransitionError('media', 1, 'Finished', 'New')), /^Internal error \(ref [0-9a-f]{6}\)$/);
});

test('wireMessage – passing faults are answered with their fixed texts and logged as warnings, not with a reference', () => {
  const { lines, logger: log } = collectLogs('info');
  const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
  assert.equal(wireMessage(new QueueUnavailableError('the queue (Redis) does not answer'), log), ErrorText.queueUnavailable);
  assert.equal(wireMessage(refused, log), ErrorText.storeUnavailable);
  // An internal error of ours that wraps an unreachable store is that store fault, for the user.
  assert.equal(wireMessage(new StoreError('cannot open the store', { cause: refused }), log), ErrorText.storeUnavailable);
  assert.equal(wireMessage(new ApiError(ErrorText.noSource), log), 'Source file is not indicated!');
  assert.equal(wireMessage(new TransferError('Download error: file not found at /srv/data/x/clip.mp4'), log), 'Download error: file not found at clip.mp4');
  assert.deepEqual(lines.map((l) => (JSON.parse(l) as { level: number }).level), [40, 40, 40]);
});

describe('an error that reaches the API', () => {
  let t: TestServer;
  const logLines: string[] = [];

  before(async () => {
    t = await startTestServer({}, collectLogs('info', logLines).logger);
  });
  after(() => t.close());

  test('a refused request keeps its exact words; a fault of ours is "Internal error (ref …)" and the log line of the whole error has that ref', async () => {
    assert.equal(one((await t.call('json', { action: 'GetStatus' })).errors!.error), 'Media ID is not indicated!');
    assert.equal(one((await t.call('xml', { action: 'NoSuchAction' })).errors!.error), 'Unknown action "NoSuchAction".');
    // The store loses a table: a fault the user cannot fix and must not read about.
    await sql`drop table preset`.execute(t.server.db);
    for (const format of ['json', 'xml'] as const) {
      const shown: string = one((await t.call(format, { action: 'GetPresetsList' })).errors!.error);
      const ref = /^Internal error \(ref ([0-9a-f]{6})\); the request was not carried out\. Try again later\.$/.exec(shown)?.[1];
      assert.ok(ref, shown);
      assert.doesNotMatch(shown, /preset|sqlite|table/i);
      const line = logLines.map((l) => JSON.parse(l) as { ref?: string; action?: string; err?: { message?: string; ref?: string } }).find((l) => l.ref === ref);
      assert.ok(line, `a log line has ref ${ref}`);
      assert.equal(line.err?.ref, ref);
      assert.equal(line.action, 'getpresetslist');
      assert.match(line.err?.message ?? '', /no such table: preset/);
    }
  });
});
