import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { Writable } from 'node:stream';
import { createLogger } from '../src/log.ts';
import { VERSION } from '../src/version.ts';
import { makeClip, serveFiles, stallingSource, startReceiver, startTestServer, untilFinal, waitFor, type TestServer } from './helpers.ts';

const DASHBOARD = path.join(import.meta.dirname, '..', 'deploy', 'grafana', 'encodery.json');

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** The Prometheus text format: the families it declares (# TYPE) and its samples. */
function parseExposition(text: string): { types: Map<string, string>; samples: Sample[] } {
  const types = new Map<string, string>();
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (type) types.set(type[1]!, type[2]!);
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) continue;
    const labels = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((l) => [l[1]!, l[2]!]));
    samples.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return { types, samples };
}

/** Every series name a scrape can hold: each family, and a histogram's or summary's own series. */
function exportedNames(types: Map<string, string>): Set<string> {
  const names = new Set<string>();
  for (const [name, type] of types) {
    names.add(name);
    if (type === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(name + s);
    if (type === 'summary') for (const s of ['_sum', '_count']) names.add(name + s);
  }
  return names;
}

const PROMQL_WORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'bool', 'and', 'or', 'unless', 'offset', 'inf', 'nan']);

/**
 * The metric names a PromQL expression (or a Grafana label_values() query) reads: identifiers
 * left once strings, label matchers, ranges, grouping clauses, variables and function calls
 * are taken out.
 */
function metricNamesIn(expr: string): string[] {
  const bare = expr
    .replace(/label_values\(\s*([a-zA-Z_:][\w:]*)\s*,[^)]*\)/g, ' $1 ')
    .replace(/"(?:[^"\\]|\\.)*"/g, ' ')
    .replace(/\{[^}]*\}/g, ' ')
    .replace(/\[[^\]]*\]/g, ' ')
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ')
    .replace(/\$\{[^}]*\}|\$\w+/g, ' ');
  return [...bare.matchAll(/(?<![\w:.])[a-zA-Z_:][\w:]*(?![\w:])(?!\s*\()/g)].map((m) => m[0]).filter((w) => !PROMQL_WORDS.has(w.toLowerCase()));
}

/** Every query of a Grafana dashboard: panel targets (rows' panels too) and template variables. */
function dashboardQueries(doc: { panels?: unknown[]; templating?: { list?: { type?: string; query?: unknown }[] } }): { where: string; expr: string }[] {
  const out: { where: string; expr: string }[] = [];
  const visit = (panels: unknown[] | undefined) => {
    for (const p of (panels ?? []) as { title?: string; targets?: { expr?: string }[]; panels?: unknown[] }[]) {
      for (const t of p.targets ?? []) if (t.expr) out.push({ where: `panel "${p.title}"`, expr: t.expr });
      visit(p.panels);
    }
  };
  visit(doc.panels);
  for (const v of doc.templating?.list ?? []) {
    if (v.type !== 'query') continue;
    const q = typeof v.query === 'string' ? v.query : (v.query as { query?: string } | undefined)?.query;
    if (q) out.push({ where: 'a template variable', expr: q });
  }
  return out;
}

describe('metrics of a real server after real media, and the Grafana dashboard over them', () => {
  let t: TestServer;
  let files: Awaited<ReturnType<typeof serveFiles>>;
  let hook: Awaited<ReturnType<typeof startReceiver>>;
  const logLines: Record<string, unknown>[] = [];
  let scrape: { types: Map<string, string>; samples: Sample[] };
  let clipBytes = 0;
  let outBytes = 0;
  let finishedId = '';
  let failedId = '';
  let stoppedId = '';
  let stalling: Awaited<ReturnType<typeof stallingSource>>;

  const value = (name: string, labels: Record<string, string> = {}): number | undefined =>
    scrape.samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;

  before(async () => {
    const sink = new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const l of chunk.toString().split('\n').filter(Boolean)) logLines.push(JSON.parse(l) as Record<string, unknown>);
        done();
      },
    });
    t = await startTestServer({}, createLogger('info', sink));
    const served = path.join(t.dataDir, 'served');
    await fs.mkdir(served, { recursive: true });
    await fs.mkdir(t.filesDir, { recursive: true });
    const clip = await makeClip(path.join(served, 'clip.mp4'), { seconds: 1, size: '160x120' });
    clipBytes = (await fs.stat(clip)).size;
    files = await serveFiles(served);
    hook = await startReceiver();
    const out = path.join(t.filesDir, 'out.mp4');
    const added = (await t.call('json', {
      action: 'AddMedia',
      source: `${files.url}/clip.mp4`,
      notify: `${hook.url}/done`,
      format: { output: 'mp4', size: '96x64', destination: `file://${out}` },
    })) as { MediaID: string };
    finishedId = added.MediaID;
    assert.equal((await untilFinal(t, finishedId)).final.status, 'Finished');
    outBytes = (await fs.stat(out)).size;
    const missing = (await t.call('json', { action: 'AddMedia', source: `${files.url}/missing.mp4`, format: { output: 'mp4' } })) as { MediaID: string };
    failedId = missing.MediaID;
    assert.equal((await untilFinal(t, failedId)).final.status, 'Error');
    // Stopped while its download hangs: a transfer cancelled on purpose is no transfer error.
    stalling = await stallingSource();
    stoppedId = ((await t.call('json', { action: 'AddMedia', source: `${stalling.url}/hang.mp4`, format: { output: 'mp4' } })) as { MediaID: string }).MediaID;
    await waitFor(async () => ((await t.call('json', { action: 'GetStatus', mediaid: stoppedId })) as { status: string }).status === 'Downloading' || undefined, 10_000);
    await t.call('json', { action: 'StopMedia', mediaid: stoppedId });
    assert.equal((await untilFinal(t, stoppedId)).final.status, 'Stopped');
    await waitFor(async () => hook.received.length > 0, 10_000);
    // The end's log line and time are written once the media row is read back after the commit.
    await waitFor(async () => logLines.some((l) => l.msg === 'media stopped' && l.mediaId === Number(stoppedId)), 10_000);
    const res = await fetch(`${t.server.url}/metrics`);
    assert.equal(res.status, 200);
    scrape = parseExposition(await res.text());
  });
  after(async () => {
    await hook?.close();
    await stalling?.close();
    await files?.close();
    await t?.close();
  });

  it("Node.js and process metrics carry prom-client's standard names, with no Encodery prefix", () => {
    assert.ok(value('process_cpu_seconds_total')! > 0);
    assert.ok(value('process_resident_memory_bytes')! > 0);
    assert.ok(value('nodejs_heap_size_used_bytes')! > 0);
    assert.deepEqual([...scrape.types.keys()].filter((n) => n.startsWith('encodery_process') || n.startsWith('encodery_nodejs')), []);
  });

  it('build info names the version, Node.js and FFmpeg', () => {
    const info = scrape.samples.filter((s) => s.name === 'encodery_build_info');
    assert.equal(info.length, 1);
    assert.equal(info[0]!.value, 1);
    assert.equal(info[0]!.labels.version, VERSION);
    assert.equal(info[0]!.labels.node, process.versions.node);
    assert.match(info[0]!.labels.ffmpeg ?? '', /^\d+\.\d+/);
  });

  it('media ended are counted by outcome, statuses without media read 0, and their times are measured', () => {
    assert.equal(value('encodery_media_ended_total', { outcome: 'finished' }), 1);
    assert.equal(value('encodery_media_ended_total', { outcome: 'failed' }), 1);
    assert.equal(value('encodery_media_ended_total', { outcome: 'stopped' }), 1);
    assert.equal(value('encodery_media', { status: 'Finished' }), 1);
    assert.equal(value('encodery_media', { status: 'Error' }), 1);
    assert.equal(value('encodery_media', { status: 'Stopped' }), 1);
    assert.equal(value('encodery_media', { status: 'Processing' }), 0);
    assert.equal(value('encodery_media', { status: 'Ready to process' }), 0);
    assert.equal(value('encodery_media_seconds_count', { outcome: 'finished' }), 1);
    assert.equal(value('encodery_media_seconds_count', { outcome: 'failed' }), 1);
    assert.equal(value('encodery_media_seconds_count', { outcome: 'stopped' }), 1);
    // Only the first media reached its encode.
    assert.equal(value('encodery_queue_wait_seconds_count'), 1);
    assert.ok(value('encodery_queue_wait_seconds_sum')! > 0);
    assert.equal(value('encodery_task_encode_seconds_count', { output: 'mp4', outcome: 'ok' }), 1);
  });

  it('transfers are counted in bytes, seconds and errors by direction and scheme', () => {
    assert.equal(value('encodery_transfer_bytes_total', { direction: 'download', scheme: 'http' }), clipBytes);
    assert.equal(value('encodery_transfer_bytes_total', { direction: 'upload', scheme: 'file' }), outBytes);
    // The clip, and the missing file; the hanging download that StopMedia cut short is not counted.
    assert.equal(value('encodery_transfer_seconds_count', { direction: 'download', scheme: 'http' }), 2);
    assert.equal(value('encodery_transfer_errors_total', { direction: 'download', scheme: 'http' }), 1);
    assert.equal(value('encodery_transfer_errors_total', { direction: 'upload', scheme: 'file' }), undefined);
  });

  it('notification attempts are counted by kind and outcome', () => {
    assert.equal(value('encodery_notification_attempts_total', { kind: 'notify', outcome: 'ok' }), 1);
    assert.ok(scrape.types.has('encodery_notifications_failed_total'));
  });

  it("every media's end is logged once with its outcome and where its time went", () => {
    const ends = logLines.filter((l) => typeof l.msg === 'string' && /^media (finished|failed|stopped)$/.test(l.msg));
    assert.deepEqual(ends.map((l) => [l.mediaId, l.msg, l.outcome]), [
      [Number(finishedId), 'media finished', 'finished'],
      [Number(failedId), 'media failed', 'failed'],
      [Number(stoppedId), 'media stopped', 'stopped'],
    ]);
    const [done, failed] = ends;
    for (const key of ['totalSec', 'queuedSec', 'downloadSec', 'encodeAndSaveSec']) assert.equal(typeof done![key], 'number', key);
    assert.ok((done!.totalSec as number) >= (done!.encodeAndSaveSec as number));
    assert.equal(failed!.level, 40);
    assert.match(String(failed!.description), /404|not found/i);
  });

  it('every query of the Grafana dashboard reads only metrics the server exports', async () => {
    const doc = JSON.parse(await fs.readFile(DASHBOARD, 'utf8')) as Parameters<typeof dashboardQueries>[0];
    const queries = dashboardQueries(doc);
    assert.ok(queries.length >= 20, `${queries.length} queries`);
    const exported = exportedNames(scrape.types);
    const unknown = queries.flatMap((q) => metricNamesIn(q.expr).filter((n) => !exported.has(n)).map((n) => `${n} (${q.where}: ${q.expr})`));
    assert.deepEqual(unknown, []);
    // Every panel queries something, and the check is not vacuous: each names a metric.
    for (const q of queries) assert.ok(metricNamesIn(q.expr).length > 0, `${q.where} names no metric: ${q.expr}`);
  });

  it('the PromQL reader finds metric names and nothing else', () => {
    assert.deepEqual(metricNamesIn('histogram_quantile(0.95, sum by (le, output) (rate(encodery_task_encode_seconds_bucket{outcome="ok",instance=~"$instance"}[$__rate_interval])))'), ['encodery_task_encode_seconds_bucket']);
    assert.deepEqual(metricNamesIn('time() - max(encodery_reconcile_last_sweep_timestamp_seconds > 0)'), ['encodery_reconcile_last_sweep_timestamp_seconds']);
    assert.deepEqual(metricNamesIn('sum(rate(a_total[1h])) / sum(rate(b_total{x="sum(c)"}[1h]))'), ['a_total', 'b_total']);
    assert.deepEqual(metricNamesIn('label_values(encodery_build_info, instance)'), ['encodery_build_info']);
  });
});
