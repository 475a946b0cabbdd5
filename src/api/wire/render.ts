/**
 * The one place that knows how encoding.com replies look on the wire (reference 7.7 and 7.8).
 *
 * Callers build a neutral tree; this module turns it into XML or JSON with every quirk real
 * clients depend on:
 * - every scalar is a string (numbers are stringified here, never emitted as JSON numbers);
 * - a repeated element is an array in JSON only when it has two or more items, unless it was
 *   built with `alwaysList` (GetMediaList `media`);
 * - an empty element is `[]` in JSON (callers avoid empties where clients break on them);
 * - XML starts with the declaration at byte 0; JSON `response` is always an object.
 */

import type { QcReport } from '../../domain/qc.ts';
import type { QualityFigure, QualitySummary } from '../../domain/quality.ts';

export type WireScalar = string | number | bigint;
export type Wire = WireScalar | null | Wire[] | AlwaysList | Interleaved | WireObject;
export interface WireObject {
  [key: string]: Wire | undefined;
}

/** A list that stays a JSON array even with zero or one item. */
export class AlwaysList {
  constructor(readonly items: Wire[]) {}
}
export const alwaysList = (items: Wire[]): AlwaysList => new AlwaysList(items);

/**
 * Parallel sequences that XML interleaves row by row (`destination`, `destination_status`,
 * `destination`, ...) and JSON gives as parallel values, one key each. The key it is stored
 * under in a WireObject is not rendered.
 */
export class Interleaved {
  constructor(
    readonly keys: string[],
    readonly rows: Wire[][],
  ) {}
}
export const interleave = (keys: string[], rows: Wire[][]): Interleaved => new Interleaved(keys, rows);

export type WireFormat = 'xml' | 'json';

export const CONTENT_TYPE: Record<WireFormat, string> = {
  xml: 'text/xml; charset=utf-8',
  json: 'application/json; charset=utf-8',
};

const XML_NAME = /^[A-Za-z_][A-Za-z0-9_.-]*$/;
export const isXmlName = (name: string): boolean => XML_NAME.test(name) && !/^xml/i.test(name);

export function render(format: WireFormat, root: string, body: WireObject): string {
  return format === 'xml' ? renderXml(root, body) : renderJson(root, body);
}

/** Reply bodies that are never changed once built, each with its `response` bytes in the formats asked for so far. */
const settled = new WeakMap<WireObject, Partial<Record<WireFormat, Buffer>>>();

/** Marks a body as never changing again (a cached reply): its bytes are rendered once per format and kept with it. */
export function settle<T extends WireObject>(body: T): T {
  if (!settled.has(body)) settled.set(body, {});
  return body;
}

/**
 * An API reply's bytes, `<response>` or `{"response":…}`, from what `settle` kept when it can:
 * a cached reply is neither rendered nor encoded again, and its length is the Buffer's.
 */
export function renderResponse(format: WireFormat, body: WireObject): Buffer {
  const kept = settled.get(body);
  if (!kept) return Buffer.from(render(format, 'response', body), 'utf8');
  return (kept[format] ??= ownBuffer(render(format, 'response', body)));
}

/**
 * Text as a Buffer of its own: a small `Buffer.from` is a slice of a shared 8 KiB slab, which a
 * kept reply would hold alive long after the slab's other replies are gone.
 */
function ownBuffer(text: string): Buffer {
  const bytes = Buffer.allocUnsafeSlow(Buffer.byteLength(text, 'utf8'));
  bytes.write(text, 'utf8');
  return bytes;
}

// ---------------------------------------------------------------------------------------------
// XML

const XML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' };
// XML 1.0 forbids most control characters even as references; drop them.
// eslint-disable-next-line no-control-regex
const XML_INVALID = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/g;

export function escapeXml(text: string): string {
  return text.replace(XML_INVALID, '').replace(/[&<>"]/g, (c) => XML_ESCAPES[c]!);
}

export function renderXml(root: string, body: WireObject): string {
  const out: string[] = ['<?xml version="1.0"?>\n'];
  writeXmlElement(out, root, body);
  return out.join('');
}

function writeXmlElement(out: string[], name: string, value: Wire | undefined): void {
  if (value === undefined) return;
  if (value instanceof Interleaved) {
    for (const row of value.rows) value.keys.forEach((key, i) => writeXmlElement(out, key, row[i]));
    return;
  }
  if (!isXmlName(name)) throw new Error(`not an XML element name: ${JSON.stringify(name)}`);
  if (Array.isArray(value) || value instanceof AlwaysList) {
    for (const item of Array.isArray(value) ? value : value.items) writeXmlElement(out, name, item);
    return;
  }
  if (value === null) {
    out.push(`<${name}/>`);
    return;
  }
  if (typeof value === 'object') {
    out.push(`<${name}>`);
    for (const [key, child] of Object.entries(value)) writeXmlElement(out, key, child);
    out.push(`</${name}>`);
    return;
  }
  out.push(`<${name}>`, escapeXml(String(value)), `</${name}>`);
}

// ---------------------------------------------------------------------------------------------
// JSON

export function renderJson(root: string, body: WireObject): string {
  return JSON.stringify({ [root]: toJsonObject(body) });
}

type Json = string | null | Json[] | { [key: string]: Json };

function toJsonObject(value: WireObject): { [key: string]: Json } {
  const result: { [key: string]: Json } = {};
  for (const [key, child] of Object.entries(value)) {
    if (child === undefined) continue;
    if (child instanceof Interleaved) {
      child.keys.forEach((k, i) => {
        const column = toJson(child.rows.map((row) => row[i] ?? null));
        if (column !== undefined) result[k] = column;
      });
      continue;
    }
    const json = toJson(child);
    if (json !== undefined) result[key] = json;
  }
  return result;
}

function toJson(value: Wire): Json | undefined {
  if (value instanceof Interleaved) return undefined; // only meaningful as an object member
  if (value instanceof AlwaysList) return value.items.map((item) => toJson(item) ?? null);
  if (Array.isArray(value)) {
    if (value.length === 0) return undefined; // no element at all
    if (value.length === 1) return toJson(value[0]!);
    return value.map((item) => toJson(item) ?? null);
  }
  if (value === null) return null;
  if (typeof value === 'object') return toJsonObject(value);
  const text = String(value);
  return text === '' ? [] : text;
}

// ---------------------------------------------------------------------------------------------
// Replies outside the `message` envelope

/**
 * The sub-account actions' envelope (reference 2.15: `action` lower-cased, `status` Success,
 * then `result`), e.g. GetUserInfo. Errors keep the usual `errors` reply (7.8 rule 5).
 */
export function subAccountReply(action: string, result: WireObject): WireObject {
  return { action: action.toLowerCase(), status: 'Success', result };
}

/**
 * `GET /status.php` (reference 1.1): with `format=json` a bare object of strings that
 * go-encodingcom decodes as it is (no `response` root: it reads `status_code` at the top);
 * otherwise the same fields as XML under `<response>`.
 */
export function renderStatusPage(format: WireFormat, page: { status: string; status_code: string; incident: string }): string {
  const body = { status: page.status, status_code: page.status_code, incident: page.incident };
  return format === 'json' ? JSON.stringify(body) : renderXml('response', body);
}

// ---------------------------------------------------------------------------------------------
// Value formats clients parse (7.8 rules 14, 16, 19)

export const ZERO_DATE = '0000-00-00 00:00:00';

/** `YYYY-MM-DD HH:MM:SS` in UTC; the zero date when unset, never empty. */
export function wireDate(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(Number(ms))) return ZERO_DATE;
  return new Date(Number(ms)).toISOString().slice(0, 19).replace('T', ' ');
}

/** Progress as a decimal string with one fractional digit: `"50.0"`. */
export function wirePercent(value: number): string {
  return (Math.min(100, Math.max(0, value)) || 0).toFixed(1);
}

/** A plain decimal (`"6464.83"`), trimmed of needless zeros. */
export function wireDecimal(value: number, digits = 2): string {
  return String(Number(value.toFixed(digits)));
}

/**
 * A QC child's report (domain/qc.ts) as GetStatus and qc_notify show it: every figure a string,
 * rounded to 4 decimals; `check` and `metric` repeat like other encoding.com lists.
 */
export function qcReportWire(r: QcReport): WireObject {
  const fig = (n: number): string => (Number.isFinite(n) ? String(Number(n.toFixed(4))) : String(n));
  return {
    result: r.result,
    reference: r.reference,
    // An encrypted output's tracks as its boxes say (an Encodery addition): which key id protects which track.
    encrypted_track: r.encryption?.map((t) => ({
      name: t.track, kind: t.kind, scheme: t.scheme ?? 'none', key_id: t.keyId ?? undefined, systems: t.systems.join(', '),
      segments: String(t.segments), encrypted_segments: String(t.encryptedSegments),
    })),
    check: r.checks.map((c) => ({ name: c.name, result: c.result, measured: c.measured, expected: c.expected, reason: c.reason })),
    metric: r.metrics.map((m) => ({
      name: m.metric,
      result: m.result,
      ...(m.summary
        ? {
            frames: String(m.summary.frames), min: fig(m.summary.min), max: fig(m.summary.max), mean: fig(m.summary.mean), median: fig(m.summary.median),
            harm_mean: fig(m.summary.harm_mean), percentile: m.summary.percentiles.map((p) => ({ perc: String(p.perc), value: fig(p.value) })),
          }
        : {}),
      reason: m.reason,
    })),
  };
}

/**
 * A task's quality summary (an Encodery addition, in extended GetStatus and notify) as one
 * `quality_report` element of strings (`quality` is taken: a thumbnail and image format field). A figure that was not measured is left out and only its
 * `*_method` says why: an empty or made-up value would read as a measurement. No key repeats a
 * status field clients read anywhere in the document (`status`, `progress`, `destination`).
 */
export function wireQuality(q: QualitySummary | null): WireObject | undefined {
  if (!q) return undefined;
  const value = (f: QualityFigure, digits: number): string | undefined => (f.value === null ? undefined : f.value.toFixed(digits));
  return {
    psnr: value(q.psnr, 2),
    psnr_method: q.psnr.method,
    ssim: value(q.ssim, 5),
    ssim_method: q.ssim.method,
    loudness: value(q.loudness, 1),
    loudness_method: q.loudness.method,
    duration_difference: value(q.durationDifference, 3),
    duration_method: q.durationDifference.method,
    realtime_factor: value(q.realtimeFactor, 2),
    realtime_method: q.realtimeFactor.method,
    variant: q.variants?.map((v) => ({
      name: v.name, psnr: value(v.psnr, 2), psnr_method: v.psnr.method, ssim: value(v.ssim, 5), ssim_method: v.ssim.method,
    })),
  };
}

/**
 * `warnings` → `warning` (an Encodery addition: request fields that were ignored). Absent when
 * there are none, so a reply without any is byte for byte what clients know; one warning is a
 * string in JSON, several a list, as every repeated element.
 */
export function warningsWire(lines: readonly string[]): WireObject | undefined {
  return lines.length > 0 ? { warning: [...lines] } : undefined;
}
