import { StringDecoder } from 'node:string_decoder';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import type { FieldMap, FieldValue } from '../../domain/fields.ts';
import { ApiError, ErrorText } from '../errors.ts';
import type { WireFormat } from './render.ts';

export interface DecodedRequest {
  format: WireFormat;
  query: FieldMap;
}

/** Deepest nesting a query may have; real ones reach 4 (query → format → stream → destination). */
export const MAX_DEPTH = 16;
/** Longest value one field may carry: far above any real URL, key or text, far below the body limit. */
export const MAX_FIELD_CHARS = 16_384;
/** Longest field name; real ones are under 40. */
export const MAX_NAME_CHARS = 100;
/**
 * Most fields (elements, keys and list items) one query may have: 100 formats of 15 streams with
 * all their fields stay under it, and it bounds the work a body within the size limit can cause
 * (100,000 sibling elements cost fast-xml-parser about a second).
 */
export const MAX_FIELDS = 20_000;

/**
 * Which format the client asked for, read from the body as it streams in: the name of the first
 * form field called `xml` or `json`, or a bare document's first character. The field name decides,
 * not what its value looks like, so a request whose document fails to decode (or whose body is
 * over the limit and never decoded) is still answered in its own format. Without either, XML: the
 * API's original format.
 */
export class FormatScanner {
  readonly #decoder = new StringDecoder('utf8');
  #atStart = true;
  #inName = true;
  #name = '';
  #found: WireFormat | null = null;

  push(chunk: Buffer | string): void {
    if (this.#found) return;
    const text = typeof chunk === 'string' ? chunk : this.#decoder.write(chunk);
    for (let i = 0; i < text.length && !this.#found; i++) {
      const c = text[i]!;
      if (this.#atStart) {
        if (/\s|\uFEFF/.test(c)) continue;
        this.#atStart = false;
        if (c === '<') this.#found = 'xml';
        else if (c === '{') this.#found = 'json';
        if (this.#found) return;
      }
      if (c === '&') {
        // A name without `=` is a field too (URLSearchParams reads `json&…` as json='').
        if (this.#inName) this.#endName();
        this.#inName = true;
        this.#name = '';
      } else if (this.#inName) {
        if (c === '=') this.#endName();
        else if (this.#name.length < 32) this.#name += c;
      }
    }
  }

  #endName(): void {
    this.#inName = false;
    const name = formName(this.#name);
    if (name === 'xml' || name === 'json') this.#found = name;
  }

  get format(): WireFormat {
    if (!this.#found && this.#inName) this.#endName();
    return this.#found ?? 'xml';
  }
}

/** A form field's name as URLSearchParams reads it (`%6Ason` is `json`). */
function formName(raw: string): string {
  try {
    return decodeURIComponent(raw.replaceAll('+', ' '));
  } catch {
    return raw;
  }
}

/** The format a whole body asks for (see FormatScanner). */
export function requestedFormat(body: string): WireFormat {
  const scanner = new FormatScanner();
  scanner.push(body);
  return scanner.format;
}

/**
 * Decodes a POST body: the form field `xml` or `json`, URL-encoded or raw (both occur in real
 * clients: reference 1.2 and 7.8 rule 6), or a bare XML/JSON document. Throws ApiError on
 * anything else; the reply then uses `requestedFormat(body)`, which agrees with the format
 * returned here.
 */
export function decodeBody(body: string): DecodedRequest {
  const trimmed = body.trimStart();
  if (trimmed.startsWith('xml=<')) return { format: 'xml', query: decodeXml(trimmed.slice(4)) };
  if (trimmed.startsWith('json={')) return { format: 'json', query: decodeJson(trimmed.slice(5)) };
  if (trimmed.startsWith('<')) return { format: 'xml', query: decodeXml(trimmed) };
  if (trimmed.startsWith('{')) return { format: 'json', query: decodeJson(trimmed) };
  const form = new URLSearchParams(trimmed);
  const xml = form.getAll('xml');
  const json = form.getAll('json');
  if (xml.length + json.length > 1) throw new ApiError(ErrorText.badQuery('send the query once, in one form field named xml or json.'));
  if (xml.length === 1) return { format: 'xml', query: decodeXml(xml[0]!) };
  if (json.length === 1) return { format: 'json', query: decodeJson(json[0]!) };
  throw new ApiError(ErrorText.badQuery('send the query in a form field named xml or json.'));
}

const parser = new XMLParser({
  ignoreAttributes: true,
  parseTagValue: false,
  trimValues: true,
  ignoreDeclaration: true,
  ignorePiTags: true,
  // Only the five predefined entities and character references; DOCTYPEs are refused before
  // parsing, so no entity can be declared (no XXE, no expansion bombs).
  processEntities: true,
  htmlEntities: false,
  commentPropName: false,
  // `query` itself is one level more than the fields below it.
  maxNestedTags: MAX_DEPTH + 1,
});

const tooMany = (): ApiError => new ApiError(ErrorText.badQuery(`the query has more than ${MAX_FIELDS} fields.`));
const tooDeep = (): ApiError => new ApiError(ErrorText.badQuery(`the document is nested more than ${MAX_DEPTH} levels deep.`));

export function decodeXml(xml: string): FieldMap {
  if (/<!DOCTYPE|<!ENTITY/i.test(xml)) throw new ApiError(ErrorText.badQuery('DOCTYPE and entity declarations are not allowed.'));
  // Every element has at least one `<`: counted before the costlier validation and parse.
  let tags = 0;
  for (let at = xml.indexOf('<'); at !== -1; at = xml.indexOf('<', at + 1)) if (++tags > 2 * MAX_FIELDS + 2) throw tooMany();
  refuseLongText(xml);
  const valid = XMLValidator.validate(xml);
  if (valid !== true) throw new ApiError(ErrorText.badQuery(`malformed XML (${valid.err.msg}, line ${valid.err.line}).`));
  let doc: unknown;
  try {
    doc = parser.parse(xml);
  } catch (err) {
    // The validator passes some documents the parser refuses (nesting beyond its limit, an
    // unclosed processing instruction after the root): each is a fault of the document.
    const message = (err as Error).message;
    if (/nested/i.test(message)) throw tooDeep();
    throw new ApiError(ErrorText.badQuery(`malformed XML (${message.replace(/\.$/, '').slice(0, 200)}).`));
  }
  const root = (doc as Record<string, unknown>)?.query;
  if (root === undefined) throw new ApiError(ErrorText.badQuery('the root element must be <query>.'));
  if (Array.isArray(root)) throw new ApiError(ErrorText.badQuery('there must be exactly one <query>.'));
  return root === '' ? {} : asMap(toField(root, 0, '', { fields: 0 }));
}

/**
 * fast-xml-parser's time grows faster than a value's length (about a second for one of 900 KB),
 * so a value surely over the cap is refused before parsing; toField still checks every value.
 */
function refuseLongText(xml: string): void {
  let start = 0;
  for (let i = 0; i <= xml.length; i++) {
    const c = xml.charCodeAt(i);
    if (c !== 60 && c !== 62 && i < xml.length) continue; // < and >
    if (i - start > MAX_FIELD_CHARS && xml.slice(start, i).replace(/&#?\w{1,12};/g, '_').length > MAX_FIELD_CHARS) {
      if (xml.charCodeAt(start - 1) === 60) throw new ApiError(ErrorText.badQuery(`a tag is longer than ${MAX_FIELD_CHARS} characters.`));
      throw new ApiError(ErrorText.fieldTooLong(elementPath(xml.slice(0, start)), MAX_FIELD_CHARS));
    }
    start = i + 1;
  }
}

/** The dotted path of the element open at the end of `head` (`format.text`), as toField names it. */
function elementPath(head: string): string {
  const stack: string[] = [];
  for (const [, close, name, selfClosing] of head.matchAll(/<(\/?)([A-Za-z_][\w.:-]*)[^<>]*?(\/?)>/g)) {
    if (close) stack.pop();
    else if (!selfClosing) stack.push(name!);
  }
  return stack.slice(1).join('.') || 'query';
}

export function decodeJson(json: string): FieldMap {
  let doc: unknown;
  try {
    doc = JSON.parse(json);
  } catch (err) {
    throw new ApiError(ErrorText.badQuery(`malformed JSON (${(err as Error).message.slice(0, 200)}).`));
  }
  const root = (doc as Record<string, unknown> | null)?.query;
  if (root === undefined || root === null || typeof root !== 'object' || Array.isArray(root)) {
    throw new ApiError(ErrorText.badQuery('the document must be {"query": {...}}.'));
  }
  return asMap(toField(root, 0, '', { fields: 0 }));
}

function asMap(value: FieldValue): FieldMap {
  return typeof value === 'object' && !Array.isArray(value) ? value : {};
}

// Characters XML 1.0 cannot carry (so no reply could echo them) and unpaired UTF-16 halves
// (which no store keeps as sent): refused rather than silently changed.
// eslint-disable-next-line no-control-regex
const UNREPRESENTABLE = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * Normalises parsed XML or JSON into fields: scalars become strings, nothing else survives.
 * A JSON query is read as the XML it stands for (reference 1.6), so both give the same fields:
 * a one-item list is its item, as one XML element is (go-encodingcom sends `"output":["mp4"]`
 * and `"keyframe":["300"]` for plain values), and an empty object is an empty element
 * (go-encodingcom always sends `"video_codec_parameters":{}`). Readers of repeatable fields take
 * one item or a list alike, as they must for XML.
 * `path` names the field in errors (`format.destination`).
 */
function toField(value: unknown, depth: number, path: string, seen: { fields: number }): FieldValue {
  if (depth > MAX_DEPTH) throw tooDeep();
  if (++seen.fields > MAX_FIELDS) throw tooMany();
  if (value === null || value === undefined) return '';
  if (Array.isArray(value)) {
    if (value.length === 1) return toField(value[0], depth + 1, path, seen);
    return value.map((v) => toField(v, depth + 1, path, seen));
  }
  if (typeof value === 'object') {
    if (Object.keys(value).length === 0) return '';
    const map: FieldMap = {};
    for (const [k, v] of Object.entries(value)) {
      if (k.length > MAX_NAME_CHARS) throw new ApiError(ErrorText.badQuery(`a field name is longer than ${MAX_NAME_CHARS} characters.`));
      // `__proto__` would reach the prototype through assignment; no real field has that name.
      if (k !== '__proto__') map[k] = toField(v, depth + 1, path === '' ? k : `${path}.${k}`, seen);
    }
    return map;
  }
  const text = String(value);
  const name = path || 'query';
  if (text.length > MAX_FIELD_CHARS) throw new ApiError(ErrorText.fieldTooLong(name, MAX_FIELD_CHARS));
  const bad = UNREPRESENTABLE.exec(text);
  if (bad) throw new ApiError(ErrorText.badValue(name, `contains the character U+${bad[0].charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}, which a query may not carry.`));
  return text;
}
