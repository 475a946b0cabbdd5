import { XMLParser, XMLValidator } from 'fast-xml-parser';
import type { FieldMap, FieldValue } from '../../domain/fields.ts';
import { ApiError, ErrorText } from '../errors.ts';
import type { WireFormat } from './render.ts';

export interface DecodedRequest {
  format: WireFormat;
  query: FieldMap;
}

/**
 * Which format the reply should use, guessed from the raw body before decoding, so that even a
 * request that fails to decode is answered in its own format.
 */
export function sniffFormat(body: string): WireFormat {
  const head = body.trimStart().slice(0, 8);
  if (head.startsWith('json=') || head.startsWith('{') || /(^|&)json=/.test(body.slice(0, 4096))) return 'json';
  return 'xml';
}

/**
 * Decodes a POST body: the form field `xml` or `json`, URL-encoded or raw (both occur in real
 * clients: reference 1.2 and 7.8 rule 6), or a bare XML/JSON document.
 */
export function decodeBody(body: string): DecodedRequest {
  const trimmed = body.trimStart();
  if (trimmed.startsWith('xml=<')) return { format: 'xml', query: decodeXml(trimmed.slice(4)) };
  if (trimmed.startsWith('json={')) return { format: 'json', query: decodeJson(trimmed.slice(5)) };
  if (trimmed.startsWith('<')) return { format: 'xml', query: decodeXml(trimmed) };
  if (trimmed.startsWith('{')) return { format: 'json', query: decodeJson(trimmed) };
  const form = new URLSearchParams(body);
  const xml = form.get('xml');
  if (xml !== null) return { format: 'xml', query: decodeXml(xml) };
  const json = form.get('json');
  if (json !== null) return { format: 'json', query: decodeJson(json) };
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
});

export function decodeXml(xml: string): FieldMap {
  if (/<!DOCTYPE|<!ENTITY/i.test(xml)) throw new ApiError(ErrorText.badQuery('DOCTYPE and entity declarations are not allowed.'));
  const valid = XMLValidator.validate(xml);
  if (valid !== true) throw new ApiError(ErrorText.badQuery(`malformed XML (${valid.err.msg}, line ${valid.err.line}).`));
  const doc: unknown = parser.parse(xml);
  const root = (doc as Record<string, unknown>)?.query;
  if (root === undefined) throw new ApiError(ErrorText.badQuery('the root element must be <query>.'));
  if (Array.isArray(root)) throw new ApiError(ErrorText.badQuery('there must be exactly one <query>.'));
  return root === '' ? {} : asMap(toField(root));
}

export function decodeJson(json: string): FieldMap {
  let doc: unknown;
  try {
    doc = JSON.parse(json);
  } catch (err) {
    throw new ApiError(ErrorText.badQuery(`malformed JSON (${(err as Error).message}).`));
  }
  const root = (doc as Record<string, unknown> | null)?.query;
  if (root === undefined || root === null || typeof root !== 'object' || Array.isArray(root)) {
    throw new ApiError(ErrorText.badQuery('the document must be {"query": {...}}.'));
  }
  return asMap(toField(root));
}

function asMap(value: FieldValue): FieldMap {
  return typeof value === 'object' && !Array.isArray(value) ? value : {};
}

const MAX_DEPTH = 16;

/** Normalises parsed XML or JSON into fields: scalars become strings, nothing else survives. */
function toField(value: unknown, depth = 0): FieldValue {
  if (depth > MAX_DEPTH) throw new ApiError(ErrorText.badQuery('the document is nested too deeply.'));
  if (value === null || value === undefined) return '';
  if (Array.isArray(value)) return value.map((v) => toField(v, depth + 1));
  if (typeof value === 'object') {
    const map: FieldMap = {};
    for (const [k, v] of Object.entries(value)) {
      // `__proto__` would reach the prototype through assignment; no real field has that name.
      if (k !== '__proto__') map[k] = toField(v, depth + 1);
    }
    return map;
  }
  return String(value);
}
