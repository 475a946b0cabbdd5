/**
 * TTML and DFXP caption files (W3C TTML1, the DFXP profile, EBU-TT/SMPTE-TT as far as their text
 * goes) read into cues, since FFmpeg 5.1 has no TTML reader.
 *
 * Kept: each `<p>` is a cue (or, when a `<p>` has no time of its own or from its parents, each of
 * its timed `<span>`s), its text with nested spans flattened and `<br/>` as a line break. Times
 * follow TTML's rules: `begin`/`end`/`dur` of body, div, p and span, each relative to its parent's
 * begin; clock times (`01:02:03.5`, `01:02:03:12` in frames of `ttp:frameRate`, times
 * `ttp:frameRateMultiplier`) and offsets (`1.5s`, `40f`, `100t` in `ttp:tickRate`, `ms`, `m`, `h`).
 * Dropped: regions, styling and layout (a track is drawn by its player, a burned one by libass).
 *
 * Hostile files: a DOCTYPE or entity declaration is refused (nothing is expanded but the five
 * predefined entities and character references), nesting is capped, and an error names the line.
 */
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { CaptionParseError, type Cue } from './caption-cues.ts';

const MAX_DEPTH = 64;

const parser = new XMLParser({
  preserveOrder: true,
  ignoreAttributes: false,
  attributeNamePrefix: '',
  // tt:p (EBU-TT) and p, ttp:frameRate under any prefix: the local names are what count.
  removeNSPrefix: true,
  trimValues: false,
  parseTagValue: false,
  parseAttributeValue: false,
  processEntities: true,
  htmlEntities: false,
  ignoreDeclaration: true,
  ignorePiTags: true,
  captureMetaData: true,
  maxNestedTags: MAX_DEPTH,
});
const META = XMLParser.getMetaDataSymbol() as unknown as symbol;

/** One node of fast-xml-parser's ordered tree: `{ name: children, ':@': attributes }` or `{ '#text': … }`. */
type XmlNode = Record<string, unknown> & { ':@'?: Record<string, string> };

interface Element {
  name: string;
  attrs: Record<string, string>;
  children: XmlNode[];
  /** Offset of its start tag in the text. */
  at: number;
}

function elementOf(node: XmlNode): Element | null {
  const name = Object.keys(node).find((k) => k !== ':@');
  if (name === undefined || name === '#text') return null;
  const children = node[name];
  const meta = (node as Record<symbol, { startIndex?: number } | undefined>)[META];
  return { name, attrs: node[':@'] ?? {}, children: Array.isArray(children) ? (children as XmlNode[]) : [], at: meta?.startIndex ?? 0 };
}

/** Frame and tick rates of the document (TTML1 6.2). */
interface TimeBase {
  frameRate: number;
  subFrameRate: number;
  tickRate: number;
}

export function parseTtml(text: string): Cue[] {
  const lineAt = (offset: number): number => text.slice(0, offset).split('\n').length;
  const decl = /<!(DOCTYPE|ENTITY)/i.exec(text);
  if (decl) throw new CaptionParseError(lineAt(decl.index), `<!${decl[1]}> is not allowed in a caption file (entities are not expanded)`);
  const valid = XMLValidator.validate(text);
  if (valid !== true) throw new CaptionParseError(valid.err.line, `not well-formed XML: ${valid.err.msg}`);
  let doc: XmlNode[];
  try {
    doc = parser.parse(text) as XmlNode[];
  } catch (err) {
    const message = (err as Error).message;
    throw new CaptionParseError(1, /nest/i.test(message) ? `elements are nested more than ${MAX_DEPTH} deep` : message.slice(0, 200));
  }
  const root = doc.map(elementOf).find((e): e is Element => e !== null);
  if (!root || root.name !== 'tt') throw new CaptionParseError(root ? lineAt(root.at) : 1, `the root element must be <tt>, found ${root ? `<${root.name}>` : 'none'}`);
  const timeBase = timeBaseOf(root, lineAt);
  const body = root.children.map(elementOf).find((e) => e?.name === 'body');
  if (!body) throw new CaptionParseError(lineAt(root.at), 'the document has no <body>');
  const cues: Cue[] = [];
  const place = (e: Element, parent: { begin: number; end: number | null }): { begin: number; end: number | null } => {
    const time = (attr: string): number | null => {
      const v = e.attrs[attr];
      if (v === undefined) return null;
      const t = timeExpression(v.trim(), timeBase);
      if (t === null) throw new CaptionParseError(lineAt(e.at), `<${e.name} ${attr}="${v.slice(0, 40)}">: not a TTML time like 00:00:01.500, 00:00:01:12 or 1.5s`);
      return t;
    };
    const begin = parent.begin + (time('begin') ?? 0);
    const endAt = time('end');
    const dur = time('dur');
    let end = endAt !== null ? parent.begin + endAt : dur !== null ? begin + dur : parent.end;
    if (parent.end !== null && end !== null) end = Math.min(end, parent.end);
    if (end !== null && end < begin) throw new CaptionParseError(lineAt(e.at), `<${e.name}> ends before it begins`);
    return { begin, end };
  };
  const timed = (e: Element): boolean => e.attrs.begin !== undefined || e.attrs.end !== undefined || e.attrs.dur !== undefined;
  const walk = (e: Element, parent: { begin: number; end: number | null }, parentTimed: boolean): void => {
    const span = place(e, parent);
    const isTimed = parentTimed || timed(e);
    if (e.name === 'p') {
      if (isTimed) return addCue(cues, e, span, lineAt);
      // An untimed paragraph of timed spans (word- or line-timed files): each span a cue.
      for (const child of e.children.map(elementOf)) if (child?.name === 'span' && timed(child)) addCue(cues, child, place(child, span), lineAt);
      return;
    }
    for (const child of e.children.map(elementOf)) if (child && (child.name === 'div' || child.name === 'p')) walk(child, span, isTimed);
  };
  walk(body, { begin: 0, end: null }, false);
  if (cues.length === 0) throw new CaptionParseError(lineAt(body.at), 'the document holds no timed <p>');
  return cues.sort((a, b) => a.start - b.start);
}

function addCue(cues: Cue[], e: Element, span: { begin: number; end: number | null }, lineAt: (at: number) => number): void {
  if (span.end === null) throw new CaptionParseError(lineAt(e.at), `<${e.name}> has no end: give it end or dur, or its parent one`);
  const text = textOf(e.children).split('\n').map((l) => l.replace(/[ \t\r]+/g, ' ').trim()).filter((l) => l !== '').join('\n');
  if (text !== '' && span.end > span.begin) cues.push({ start: span.begin, end: span.end, text });
}

/** The text of an element's content: spans flattened, `<br/>` a line break, cue markup escaped. */
function textOf(nodes: XmlNode[]): string {
  return nodes.map((node) => {
    if (typeof node['#text'] === 'string') return escapeCueText(characterReferences(node['#text'].replace(/\s+/g, ' ')));
    const e = elementOf(node);
    if (!e) return '';
    if (e.name === 'br') return '\n';
    return e.name === 'span' ? textOf(e.children) : '';
  }).join('');
}

function characterReferences(text: string): string {
  return text.replace(/&#(x[0-9a-fA-F]{1,6}|[0-9]{1,7});/g, (whole, n: string) => {
    const code = n.startsWith('x') ? parseInt(n.slice(1), 16) : Number(n);
    return code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : whole;
  });
}

/** A cue's text is WebVTT markup: a `<` or `&` of the caption's words is written as an entity. */
function escapeCueText(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;');
}

function timeBaseOf(root: Element, lineAt: (at: number) => number): TimeBase {
  const positive = (name: string, fallback: number): number => {
    const v = root.attrs[name];
    if (v === undefined) return fallback;
    const n = Number(v.trim());
    if (!Number.isInteger(n) || n <= 0 || n > 1_000_000_000) throw new CaptionParseError(lineAt(root.at), `ttp:${name}="${v.slice(0, 20)}" is not a positive whole number`);
    return n;
  };
  const timeBase = root.attrs.timeBase?.trim() ?? 'media';
  if (timeBase === 'clock') throw new CaptionParseError(lineAt(root.at), 'ttp:timeBase="clock" (wall-clock times) cannot be placed on the video; use media times');
  let frameRate = positive('frameRate', 30);
  const multiplier = root.attrs.frameRateMultiplier;
  if (multiplier !== undefined) {
    const m = /^\s*(\d+)\s+(\d+)\s*$/.exec(multiplier);
    if (!m || Number(m[1]) === 0 || Number(m[2]) === 0) throw new CaptionParseError(lineAt(root.at), `ttp:frameRateMultiplier="${multiplier.slice(0, 20)}" is not two whole numbers like "1000 1001"`);
    frameRate = (frameRate * Number(m[1])) / Number(m[2]);
  }
  const subFrameRate = positive('subFrameRate', 1);
  // TTML1 6.2.11: without a tick rate, frame rate times sub-frame rate if a frame rate is given, else 1.
  const tickRate = positive('tickRate', root.attrs.frameRate !== undefined ? frameRate * subFrameRate : 1);
  return { frameRate, subFrameRate, tickRate };
}

const CLOCK = /^(\d{2,}):([0-5]\d):([0-5]\d|60)(?:(\.\d+)|:(\d{2,})(?:\.(\d+))?)?$/;
const OFFSET = /^(\d+(?:\.\d+)?)(h|ms|m|s|f|t)$/;

/** Seconds of a TTML time expression (TTML1 10.3.1), or null when it is none. */
export function timeExpression(v: string, base: TimeBase): number | null {
  const clock = CLOCK.exec(v);
  if (clock) {
    const [, h, m, s, fraction, frames, subFrames] = clock;
    let t = Number(h) * 3600 + Number(m) * 60 + Number(s);
    if (fraction) t += Number(fraction);
    if (frames !== undefined) t += (Number(frames) + (subFrames !== undefined ? Number(subFrames) / base.subFrameRate : 0)) / base.frameRate;
    return t;
  }
  const offset = OFFSET.exec(v);
  if (!offset) return null;
  const n = Number(offset[1]);
  switch (offset[2]) {
    case 'h': return n * 3600;
    case 'm': return n * 60;
    case 's': return n;
    case 'ms': return n / 1000;
    case 'f': return n / base.frameRate;
    default: return n / base.tickRate;
  }
}
