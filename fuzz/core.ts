import http from 'node:http';
import { XMLParser } from 'fast-xml-parser';
import { KINDS, makeCase, type Case, type Format, type Kind, type Target } from './cases.ts';
import { Rng } from './random.ts';

export interface FuzzOptions {
  url: string;
  target: Target;
  count: number;
  seed: number;
  /** Requests in flight at once. */
  concurrency: number;
  /** No new request starts after this long. */
  maxSeconds: number;
  /** One request's limit; a reply slower than this counts as broken. */
  requestTimeoutMs?: number;
}

export interface Tally {
  sent: number;
  /** HTTP 5xx replies. */
  serverErrors: number;
  /** Replies with the generic "Internal error" text instead of a named one. */
  generic: number;
  /** A json= request answered in XML, or the reverse. */
  wrongFormat: number;
  /** No reply, a non-200 from the API endpoint, or a reply that is not a well-formed envelope. */
  broken: number;
  slowestMs: number;
  totalMs: number;
  /** What the slowest request was. */
  slowestCase: string;
  /** A few examples of each defect, to start fixing from. */
  examples: string[];
}

export interface FuzzReport {
  seed: number;
  total: Tally;
  kinds: Record<Kind, Tally>;
  seconds: number;
}

const newTally = (): Tally => ({ sent: 0, serverErrors: 0, generic: 0, wrongFormat: 0, broken: 0, slowestMs: 0, totalMs: 0, slowestCase: '', examples: [] });

/** Sends `count` requests of every kind in turn and tallies what comes back. */
export async function runFuzz(opts: FuzzOptions): Promise<FuzzReport> {
  const rng = new Rng(opts.seed);
  const agent = new http.Agent({ keepAlive: true, maxSockets: opts.concurrency });
  const kinds = Object.fromEntries(KINDS.map((k) => [k, newTally()])) as Record<Kind, Tally>;
  const total = newTally();
  const started = Date.now();
  const deadline = started + opts.maxSeconds * 1000;
  let next = 0;
  const worker = async () => {
    while (next < opts.count && Date.now() < deadline) {
      // Cases are made in order from one generator, so a seed gives the same requests whatever the concurrency.
      const c = makeCase(rng, opts.target, next++);
      const reply = await send(agent, opts.url, c, opts.requestTimeoutMs ?? 30_000);
      for (const tally of [kinds[c.kind], total]) judge(tally, c, reply);
    }
  };
  await Promise.all(Array.from({ length: opts.concurrency }, worker));
  agent.destroy();
  return { seed: opts.seed, total, kinds, seconds: (Date.now() - started) / 1000 };
}

interface Reply {
  status: number;
  type: string;
  text: string;
  ms: number;
  error?: string;
}

function send(agent: http.Agent, base: string, c: Case, timeoutMs: number): Promise<Reply> {
  const url = new URL(base);
  const start = performance.now();
  return new Promise((resolve) => {
    const done = (r: Omit<Reply, 'ms'>) => resolve({ ...r, ms: performance.now() - start });
    const headers: Record<string, string | number> = { ...c.headers };
    if (c.chunkBytes === 0 && c.method !== 'GET' && c.method !== 'HEAD') headers['content-length'] = c.body.length;
    const req = http.request({ agent, host: url.hostname, port: url.port, method: c.method, path: c.path, headers, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (d: Buffer) => chunks.push(d));
      res.on('end', () => done({ status: res.statusCode ?? 0, type: String(res.headers['content-type'] ?? ''), text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', (err) => done({ status: 0, type: '', text: '', error: err.message }));
    });
    req.on('timeout', () => req.destroy(new Error(`no reply within ${timeoutMs} ms`)));
    req.on('error', (err) => done({ status: 0, type: '', text: '', error: err.message }));
    if (c.chunkBytes > 0) {
      for (let at = 0; at < c.body.length; at += c.chunkBytes) req.write(c.body.subarray(at, at + c.chunkBytes));
      req.end();
    } else {
      req.end(c.method === 'GET' || c.method === 'HEAD' ? undefined : c.body);
    }
  });
}

const xmlParser = new XMLParser({ ignoreAttributes: true, parseTagValue: false });

/** The format a reply claims by its Content-Type, if it is an API envelope at all. */
function replyFormat(type: string): Format | null {
  if (/\bxml\b/i.test(type)) return 'xml';
  if (/\bjson\b/i.test(type)) return 'json';
  return null;
}

/** Whether `text` is a well-formed envelope in `format`, with at most one `error` string. */
function wellFormed(format: Format, text: string): boolean {
  try {
    const doc = format === 'json' ? JSON.parse(text) : text.startsWith('<?xml version="1.0"?>') ? xmlParser.parse(text) : null;
    const response = (doc as { response?: unknown } | null)?.response;
    if (format === 'json' && (response === null || typeof response !== 'object' || Array.isArray(response))) return false;
    if (format === 'xml' && response === undefined) return false;
    const errors = (response as { errors?: { error?: unknown } }).errors;
    return errors === undefined || typeof errors.error === 'string';
  } catch {
    return false;
  }
}

function judge(t: Tally, c: Case, r: Reply): void {
  t.sent++;
  if (r.ms > t.slowestMs) {
    t.slowestMs = r.ms;
    t.slowestCase = `${c.method} ${c.path.slice(0, 40)} ${c.body.length} bytes: ${c.body.subarray(0, 120).toString('utf8')}`;
  }
  t.totalMs += r.ms;
  const example = (what: string) => {
    if (t.examples.length < 3) t.examples.push(`${what}: ${c.method} ${c.path.slice(0, 60)} ${c.body.subarray(0, 160).toString('utf8')} → ${r.status} ${r.error ?? r.text.slice(0, 200)}`);
  };
  if (r.error) {
    t.broken++;
    example('no reply');
    return;
  }
  if (r.status >= 500) {
    t.serverErrors++;
    example('5xx');
  }
  if (/Internal error/.test(r.text)) {
    t.generic++;
    example('generic error');
  }
  const api = c.path === '/' || c.path.startsWith('/?');
  if (api && c.method === 'POST' && r.status !== 200) {
    t.broken++;
    example('API endpoint not 200');
  }
  const claimed = replyFormat(r.type);
  if (c.expect && claimed !== c.expect) {
    t.wrongFormat++;
    example(`asked ${c.expect}, got ${r.type}`);
  } else if (claimed && c.method !== 'HEAD' && (r.status === 200 || r.status === 404 || r.status === 405) && api && !wellFormed(claimed, r.text)) {
    t.broken++;
    example('not a well-formed envelope');
  }
}

/** Whether a run met every target; the reasons when not. */
/** `slowestLimitMs`: the target is 1 s; the short run inside `npm test` shares two cores with other test files, so it allows more. */
export function missedTargets(report: FuzzReport, serverErrors: string[], exited: string | null, slowestLimitMs = 1000): string[] {
  const t = report.total;
  const missed: string[] = [];
  if (t.serverErrors > 0) missed.push(`${t.serverErrors} replies were 5xx`);
  if (t.generic > 0) missed.push(`${t.generic} replies were the generic error`);
  if (t.wrongFormat > 0) missed.push(`${t.wrongFormat} replies were in the wrong format`);
  if (t.broken > 0) missed.push(`${t.broken} replies were missing or broken`);
  if (t.slowestMs >= slowestLimitMs) missed.push(`the slowest reply took ${t.slowestMs.toFixed(0)} ms`);
  if (serverErrors.length > 0) missed.push(`the server logged ${serverErrors.length} lines at error level, first: ${serverErrors[0]}`);
  if (exited) missed.push(`the server ${exited}`);
  return missed;
}

/** The report as a table, one line per kind and the total. */
export function formatReport(report: FuzzReport, rss: { before: number; after: number }): string {
  const mb = (n: number) => `${(n / 1024 / 1024).toFixed(0)} MB`;
  const row = (name: string, t: Tally) =>
    `${name.padEnd(17)} ${String(t.sent).padStart(6)} ${String(t.serverErrors).padStart(5)} ${String(t.generic).padStart(8)} ${String(t.wrongFormat).padStart(13)} ${String(t.broken).padStart(7)} ${t.slowestMs.toFixed(0).padStart(8)} ms ${(t.totalMs / Math.max(1, t.sent)).toFixed(1).padStart(7)} ms`;
  const lines = [
    `kind                sent   5xx  generic  wrong format  broken   slowest     mean`,
    ...KINDS.map((k) => row(k, report.kinds[k])),
    row('total', report.total),
    `slowest: [${KINDS.find((k) => report.kinds[k].slowestMs === report.total.slowestMs) ?? ''}] ${report.total.slowestCase}`,
    `seed ${report.seed}, ${report.seconds.toFixed(1)} s; server RSS before ${mb(rss.before)}, after ${mb(rss.after)}`,
  ];
  const examples = KINDS.flatMap((k) => report.kinds[k].examples.map((e) => `  [${k}] ${e}`));
  if (examples.length > 0) lines.push('examples:', ...examples);
  return lines.join('\n');
}
