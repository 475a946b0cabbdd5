/** The QC report of one output: what each check and metric measured and what it concluded. */
import type { QcSeverity, StatRule, MetricThreshold } from '../../domain/qc.ts';

export type { QcResult, CheckResult, MetricSummary, MetricResult, QcReport } from '../../domain/qc.ts';
import type { QcResult, MetricSummary, MetricResult, QcReport } from '../../domain/qc.ts';

/** A check's outcome when it is outside its bounds, by its severity. */
export const outside = (severity: QcSeverity): QcResult => (severity === 'fatal' ? 'fail' : 'warning');

export function overall(results: (QcResult | 'unavailable')[]): QcResult {
  if (results.includes('fail')) return 'fail';
  return results.includes('warning') ? 'warning' : 'pass';
}

/** The first failure (else warning) as one readable sentence, for the child's description. */
export function firstProblem(report: QcReport, level: QcResult): string | undefined {
  const c = report.checks.find((x) => x.result === level);
  if (c) return `${c.name}: ${c.reason ?? `measured ${c.measured}, expected ${c.expected}`}`;
  const m = report.metrics.find((x) => x.result === level);
  return m ? `${m.metric}: ${m.reason ?? level}` : undefined;
}

// --- statistics over per-frame values --------------------------------------------------------

/**
 * Summary of per-frame values. Sorting needs them all, so they are kept as a Float64Array: 8
 * bytes per frame (a 2-hour film at 25 fps is 1.4 MB), never the frames themselves.
 */
export function summarize(values: Float64Array, extraPercentiles: number[] = []): MetricSummary | null {
  const n = values.length;
  if (n === 0) return null;
  const sorted = Float64Array.from(values).sort();
  let sum = 0;
  let inv = 0;
  let zero = false;
  for (const v of sorted) {
    sum += v;
    if (v <= 0) zero = true;
    else inv += 1 / v;
  }
  const percs = [...new Set([5, ...extraPercentiles])].sort((a, b) => a - b);
  return {
    frames: n,
    min: sorted[0]!,
    max: sorted[n - 1]!,
    mean: sum / n,
    median: percentile(sorted, 50),
    // A frame scoring 0 makes the harmonic mean 0 (it is dominated by the worst frames by design).
    harm_mean: zero ? 0 : n / inv,
    percentiles: percs.map((perc) => ({ perc, value: percentile(sorted, perc) })),
  };
}

/** Linear interpolation between closest ranks (numpy's default), on sorted values. */
export function percentile(sorted: Float64Array, p: number): number {
  const pos = ((sorted.length - 1) * p) / 100;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

/** Crossed rules of one threshold, as readable phrases (`mean 24.1 < 35`). */
export function crossed(summary: MetricSummary, rules: StatRule[]): string[] {
  const out: string[] = [];
  for (const r of rules) {
    const label = r.stat === 'percentile' ? `p${r.perc}` : r.stat;
    const value = r.stat === 'percentile' ? summary.percentiles.find((p) => p.perc === r.perc)?.value : summary[r.stat];
    if (value === undefined) continue;
    if (r.lower !== undefined && value < r.lower) out.push(`${label} ${round(value)} is below ${r.lower}`);
    if (r.upper !== undefined && value > r.upper) out.push(`${label} ${round(value)} is above ${r.upper}`);
  }
  return out;
}

/** Applies every threshold of a metric: the worst severity crossed decides. */
export function judgeMetric(metric: string, summary: MetricSummary, thresholds: MetricThreshold[]): MetricResult {
  let result: QcResult = 'pass';
  const reasons: string[] = [];
  for (const t of thresholds) {
    const hits = crossed(summary, t.rules);
    if (hits.length === 0) continue;
    reasons.push(`${t.severity}: ${hits.join(', ')}`);
    if (t.severity === 'fatal') result = 'fail';
    else if (result === 'pass') result = 'warning';
  }
  return { metric, result, summary, reason: reasons.length > 0 ? reasons.join('; ') : undefined };
}

export const round = (n: number, digits = 4): number => Number(n.toFixed(digits));
