import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { execFile } from 'node:child_process';
import { promisify, stripVTControlCharacters } from 'node:util';
import path from 'node:path';
import os from 'node:os';
import fs from 'node:fs/promises';
import { pathToFileURL } from 'node:url';
import { createLogger, usePretty } from '../src/log.ts';

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

/** A process that logs one line through createLogger (the server's logger) in the format FORMAT names. */
const LOG_ONE_LINE = `
const { createLogger } = await import(${JSON.stringify(pathToFileURL(path.join(import.meta.dirname, '..', 'src', 'log.ts')).href)});
const log = createLogger('info', undefined, process.env.FORMAT);
log.info({ mediaId: 7, outcome: 'finished', source: 'ftp://bob:hunter2@example.com/in.mov' }, 'media finished');
`;
const run = promisify(execFile);

async function logged(format: string, onTerminal: boolean): Promise<string> {
  // A file, not -e: pino-pretty's worker thread inherits the process's flags, and --input-type breaks it.
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'encodery-log-'));
  try {
    const script = path.join(dir, 'log-one-line.mjs');
    await fs.writeFile(script, LOG_ONE_LINE);
    const env = { ...process.env, FORMAT: format };
    // script(1) gives the child a real terminal as stdout, as a person starting the server has.
    const { stdout } = onTerminal
      ? await run('script', ['-qec', `'${process.execPath}' --import tsx '${script}'`, '/dev/null'], { env })
      : await run(process.execPath, ['--import', 'tsx', script], { env });
    return stripVTControlCharacters(stdout);
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

test('createLogger – auto: JSON lines into a pipe, readable lines on a terminal; credentials redacted in both', async () => {
  const piped = await logged('auto', false);
  const doc = JSON.parse(piped) as { level: number; msg: string; mediaId: number; source: string };
  assert.deepEqual([doc.level, doc.msg, doc.mediaId], [30, 'media finished', 7]);
  assert.doesNotMatch(piped, /hunter2/);

  const shown = await logged('auto', true);
  assert.throws(() => JSON.parse(shown.trim()));
  assert.match(shown, /INFO.*media finished/);
  assert.match(shown, /mediaId: 7/);
  assert.match(shown, /ftp:\/\/\S*example\.com\/in\.mov/);
  assert.doesNotMatch(shown, /hunter2/);

  // Forced either way, whatever stdout is.
  const json = await logged('json', true);
  assert.doesNotThrow(() => JSON.parse(json.trim()), json);
  assert.match(await logged('pretty', false), /INFO.*media finished/);
});

test('usePretty – json never, pretty always, auto only for a terminal', () => {
  assert.equal(usePretty('json', true), false);
  assert.equal(usePretty('auto', false), false);
  assert.equal(usePretty('auto', true), true);
  assert.equal(usePretty('pretty', false), true);
});
