/**
 * `npm run fuzz`: malformed and odd requests against a real server of its own, with a tally per
 * kind of 5xx replies, generic errors, replies in the wrong format and broken replies, the
 * slowest reply and the server's memory. Exits 1 when a target is missed (0, 0, 0, 0, < 1 s).
 *
 *   npm run fuzz -- [--count 20000] [--seed 1] [--concurrency 1] [--max-seconds 1200]
 */
import { parseArgs } from 'node:util';
import { formatReport, missedTargets, runFuzz } from './core.ts';
import { startFuzzServer } from './server.ts';

const { values } = parseArgs({
  options: {
    count: { type: 'string', default: '20000' },
    seed: { type: 'string', default: '1' },
    concurrency: { type: 'string', default: '1' },
    'max-seconds': { type: 'string', default: '1200' },
  },
});
const count = Number(values.count);
const seed = Number(values.seed);
const concurrency = Number(values.concurrency);
const maxSeconds = Number(values['max-seconds']);
for (const [name, n] of Object.entries({ count, seed, concurrency, maxSeconds })) {
  if (!Number.isInteger(n) || n < 0) throw new Error(`--${name} must be a whole number`);
}

const server = await startFuzzServer();
try {
  const before = await server.rss();
  const report = await runFuzz({ url: server.url, target: server, count, seed, concurrency, maxSeconds });
  const after = await server.rss();
  process.stdout.write(formatReport(report, { before, after }) + '\n');
  const missed = missedTargets(report, server.errorLines(), server.exited());
  if (missed.length > 0) {
    process.stdout.write(`targets missed:\n${missed.map((m) => `  - ${m}`).join('\n')}\n`);
    process.exitCode = 1;
  } else {
    process.stdout.write('every target met\n');
  }
} finally {
  await server.stop();
}
