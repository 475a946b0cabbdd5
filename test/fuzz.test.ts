import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { formatReport, missedTargets, runFuzz } from '../fuzz/core.ts';
import { KINDS } from '../fuzz/cases.ts';
import { startFuzzServer, type FuzzServer } from '../fuzz/server.ts';

/**
 * The short run of `npm run fuzz` (issue 13, standing checks): every kind of malformed and odd
 * request against a real server process, and the targets: no 5xx, no generic error, no reply in
 * the wrong format, no missing or broken reply, nothing logged at error; none slower than 1 s in `npm run fuzz`
 * (5 s here, where other test files share the two cores).
 */
let server: FuzzServer;
before(async () => {
  server = await startFuzzServer();
});
after(() => server.stop());

test('fuzz: 2,000 malformed and odd requests each get a named error in their own format, fast', async (t) => {
  const before = await server.rss();
  const report = await runFuzz({ url: server.url, target: server, count: 2000, seed: 13, concurrency: 1, maxSeconds: 120 });
  const text = formatReport(report, { before, after: await server.rss() });
  t.diagnostic(text);
  assert.equal(report.total.sent, 2000, text);
  for (const kind of KINDS) assert.ok(report.kinds[kind].sent > 100, `${kind}: ${report.kinds[kind].sent} sent`);
  assert.deepEqual(missedTargets(report, server.errorLines(), server.exited(), 5000), [], text);
});
