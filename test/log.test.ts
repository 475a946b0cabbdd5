import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { createLogger } from '../src/log.ts';

function capture() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  return { lines, log: createLogger('info', stream) };
}

test('createLogger – an err that is a string (a connection error\'s message) is logged, redacted, and never throws', () => {
  const { lines, log } = capture();
  // ioredis and BullMQ error handlers log `{ err: err.message }`: the err serializer sees a string.
  log.error({ err: 'connect ECONNREFUSED redis://user:secret@127.0.0.1:6390' }, 'queue connection error');
  log.error({ err: null }, 'nothing');
  log.error({ err: 42 }, 'a number');
  assert.equal(lines.length, 3);
  const first = JSON.parse(lines[0]!) as { err: string };
  assert.match(first.err, /ECONNREFUSED/);
  assert.doesNotMatch(lines[0]!, /secret/);
});

test('createLogger – an internal error gets the ref a user was shown, and URL credentials are redacted', () => {
  const { lines, log } = capture();
  log.error({ err: new TypeError('boom at http://u:pw@example.com/x') }, 'failed');
  const line = JSON.parse(lines[0]!) as { err: { ref?: string; message: string } };
  assert.match(line.err.ref ?? '', /^[0-9a-f]{6}$/);
  assert.doesNotMatch(lines[0]!, /pw@/);
});
