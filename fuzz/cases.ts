import type { Rng } from './random.ts';

/** One request the fuzzer sends, and the reply format the API owes it (null: no format to check). */
export interface Case {
  kind: Kind;
  method: string;
  path: string;
  headers: Record<string, string>;
  body: Buffer;
  /** Sent with Transfer-Encoding: chunked in pieces of at most this many bytes; 0 = one piece with a Content-Length. */
  chunkBytes: number;
  expect: Format | null;
}

export type Format = 'xml' | 'json';

/** What the generators need to know about the server under test. */
export interface Target {
  user: { id: string; key: string };
  /** A file root of the server: sources there that do not exist fail at once, without FFmpeg. */
  filesDir: string;
  /** The server's body limit. */
  maxBodyBytes: number;
}

type Value = string | number | boolean | null | Value[] | { [key: string]: Value };
type Query = { [key: string]: Value };

const ACTIONS = [
  'AddMedia', 'AddMediaBenchmark', 'ProcessMedia', 'UpdateMedia', 'CancelMedia', 'StopMedia', 'RestartMedia',
  'RestartMediaErrors', 'RestartMediaTask', 'GetStatus', 'GetTaskStatus', 'GetMediaList', 'GetMediaInfo',
  'GetMediaInfoEx', 'SavePreset', 'GetPreset', 'GetPresetsList', 'DeletePreset', 'GetUserInfo', 'FlyToTheMoon',
];
const OUTPUTS = [
  'mp4', 'webm', 'mov', 'mkv', 'mpegts', 'mp3', 'm4a', 'ogg', 'wav', 'flac', 'thumbnail', 'image', 'gif', 'advanced_hls',
  'iphone_stream', 'ipad_stream', 'roku_hls', 'mpeg_dash', 'advanced_dash', 'fmp4_hls', 'advanced_fmp4', 'betamax', '',
];
const TOP_FIELDS = [
  'mediaid', 'taskid', 'source', 'format', 'notify', 'notify_format', 'notify_encoding_errors', 'notify_upload',
  'notify_upload_extended', 'notify_body_format', 'extended', 'include_task_status', 'priority', 'split_screen',
  'multijob_workflow', 'preset', 'name', 'type', 'page', 'offset', 'limit', 'version', 'sort', 'status',
  'start_date', 'end_date', 'qc', 'instant', 'region',
];
const FORMAT_FIELDS = [
  'output', 'video_codec', 'audio_codec', 'size', 'bitrate', 'maxrate', 'minrate', 'bufsize', 'framerate', 'keyframe',
  'profile', 'level', 'two_pass', 'turbo', 'audio_bitrate', 'audio_sample_rate', 'audio_channels_number', 'audio_volume',
  'start', 'duration', 'finish', 'crop_left', 'crop_top', 'crop_right', 'crop_bottom', 'rotate', 'set_rotate',
  'deinterlacing', 'keep_aspect_ratio', 'destination', 'logo', 'overlay', 'text_overlay', 'fade_in', 'fade_out',
  'stream', 'segment_duration', 'encryption', 'encryption_key', 'encryption_iv', 'encryption_key_file', 'pack_files',
  'pack_type', 'add_iframe_stream', 'time', 'width', 'height', 'quality', 'use_vtt', 'metadata', 'metadata_copy',
  'strip_chapters', 'loudnorm', 'audio_normalization', 'smart_passthrough', 'output_preset', 'save_preset', 'bitrates',
  'framerates', 'keyframes', 'add_audio_only', 'sub_path', 'qc', 'image_format', 'vtt_destination', 'font_source',
  'logo_source', 'overlay_source', 'text',
];

/** Values a field may get: plausible, edge and hostile. URLs reach nothing outside this machine. */
function scalar(rng: Rng, t: Target): Value {
  switch (rng.int(0, 9)) {
    case 0: return rng.pick(['', 'yes', 'no', '0', '1', '-1', 'true', 'null', 'NaN', 'Infinity', '1e308', '99999999999999999999', '0x10', ' 7 ']);
    case 1: return rng.pick(OUTPUTS);
    case 2: return rng.pick(['640x480', '0x720', '0x0', '-2x-2', '100000x100000', '1x', 'x', '320x240,640x480', '1280X720']);
    case 3: return rng.pick(['00:00:01', '10%', '5!', '1:2:3:4', '-5', '00:00:01.500', '101%', '0:1.5', '99:99:99']);
    case 4: return rng.pick(url(rng, t));
    case 5: return rng.pick([0, -1, 1.5, 1e21, 2 ** 53, true, false, null]);
    case 6: return rng.string(rng.int(1, 40), 'abcXYZ019 _-.,:;/\\\'"<>&%+=?#!@$*(){}[]');
    case 7: return oddText(rng);
    case 8: return rng.pick(ACTIONS);
    default: return String(rng.int(0, 5000));
  }
}

function url(rng: Rng, t: Target): string[] {
  const n = rng.int(0, 1_000_000);
  return [
    `file://${t.filesDir}/missing-${n}.mp4`,
    `file://${t.filesDir}/../escape-${n}.mp4`,
    'file:///etc/passwd',
    `file://${t.filesDir}/out-${n}.mp4`,
    'http://127.0.0.1:1/a.mp4',
    'http://user:secret@10.0.0.1/a.mp4',
    'https://[::1]:1/a.mp4',
    'http://localhost:1/a.mp4',
    'ftp://user:pass@127.0.0.1:1/a.mp4',
    'sftp://user:pass@127.0.0.1:1/a.mp4',
    's3://KEY:SECRET@127.0.0.1:1/bucket/a.mp4',
    'gopher://127.0.0.1/a',
    'javascript:alert(1)',
    'data:video/mp4;base64,AAAA',
    'http://%zz/',
    '//127.0.0.1/a',
  ];
}

/** Text with control characters, unpaired surrogates, direction marks, joiners, emoji and the like. */
function oddText(rng: Rng): string {
  const pieces = [
    '\u0000', '\u0001', '\u0007', '\u001b[31m', '\u007f', '\u0085', '\u2028', '\u2029', '\ud800', '\udfff', '\ud83d\ude00',
    '\u200b', '\u200d', '\u202e', '\ufeff', '\ufffe', '\uffff', 'e\u0301', '\u0130', 'ß', '𝔘𝔫𝔦', '\t', '\r\n', ' ',
    ']]>', '<!--', '-->', '&amp;', '&#0;', '\\u0000', '%00', '../', 'A',
  ];
  let s = '';
  for (let i = rng.int(1, 12); i > 0; i--) s += rng.pick(pieces);
  return s;
}

function value(rng: Rng, t: Target, depth = 0): Value {
  const r = rng.next();
  if (depth < 3 && r < 0.08) return Array.from({ length: rng.int(0, 4) }, () => value(rng, t, depth + 1));
  if (depth < 3 && r < 0.14) return fields(rng, t, FORMAT_FIELDS, 4, depth + 1);
  return scalar(rng, t);
}

function fields(rng: Rng, t: Target, names: readonly string[], max: number, depth = 0): Query {
  const q: Query = {};
  for (const name of rng.some(names, max)) q[name] = value(rng, t, depth);
  return q;
}

function format(rng: Rng, t: Target): Query {
  const f = fields(rng, t, FORMAT_FIELDS, 6, 1);
  if (rng.chance(0.8)) f['output'] = rng.pick(OUTPUTS);
  if (rng.chance(0.3)) f['destination'] = rng.pick(url(rng, t));
  return f;
}

/** A query with good credentials: an action in any letter case and random fields. */
function query(rng: Rng, t: Target): Query {
  const action = rng.pick(ACTIONS);
  const q: Query = { userid: t.user.id, userkey: t.user.key };
  q['action'] = rng.pick([action, action.toLowerCase(), action.toUpperCase()]);
  if (rng.chance(0.05)) q['userkey'] = rng.pick(['', 'wrong', null, [t.user.key, t.user.key]]);
  Object.assign(q, fields(rng, t, TOP_FIELDS, 5));
  if (/addmedia/i.test(action) || rng.chance(0.1)) {
    // Sources that fail fast: a file that does not exist in a root, or a URL refused at AddMedia.
    q['source'] = rng.chance(0.8) ? `file://${t.filesDir}/missing-${rng.int(0, 1_000_000)}.mp4` : rng.pick(url(rng, t));
    q['format'] = rng.chance(0.7) ? format(rng, t) : Array.from({ length: rng.int(0, 4) }, () => format(rng, t));
  }
  if (rng.chance(0.5)) q['mediaid'] = rng.pick([String(rng.int(1, 50)), '0', '-1', 'abc', '1,2,3', '99999999999999999999', [String(rng.int(1, 50)), '2']]);
  return q;
}

// ---------------------------------------------------------------------------------------------
// Documents and bodies

/** encodeURIComponent for any string: an unpaired surrogate goes as U+FFFD, as a client's UTF-8 encoder sends it. */
const enc = (s: string): string => encodeURIComponent(s.replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD'));

const escapeXml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

export function toXml(name: string, v: Value): string {
  if (Array.isArray(v)) return v.map((item) => toXml(name, item)).join('');
  if (v === null) return `<${name}/>`;
  if (typeof v === 'object') return `<${name}>${Object.entries(v).map(([k, c]) => toXml(k, c)).join('')}</${name}>`;
  return `<${name}>${escapeXml(String(v))}</${name}>`;
}

function document(rng: Rng, fmt: Format, q: Query): string {
  if (fmt === 'json') return JSON.stringify({ query: q });
  return (rng.chance(0.5) ? '<?xml version="1.0" encoding="UTF-8"?>\n' : '') + toXml('query', q);
}

/** The form body a client sends: URL-encoded or raw, sometimes after other fields. */
function wrap(rng: Rng, fmt: Format, doc: string): string {
  const pad = rng.chance(0.2) ? `p=${rng.string(rng.int(0, 6000))}&` : '';
  const name = rng.chance(0.05) ? (fmt === 'xml' ? '%78ml' : '%6Ason') : fmt;
  if (pad === '' && rng.chance(0.3)) return `${fmt}=${doc}`;
  return `${pad}${name}=${enc(doc)}`;
}

const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

function post(kind: Kind, body: string | Buffer, expect: Format | null, headers: Record<string, string> = FORM): Case {
  return { kind, method: 'POST', path: '/', headers, body: Buffer.isBuffer(body) ? body : Buffer.from(body, 'utf8'), chunkBytes: 0, expect };
}

function mutate(rng: Rng, text: string, inserts: readonly string[]): string {
  let s = text;
  for (let n = rng.int(1, 3); n > 0; n--) {
    const at = rng.int(0, s.length);
    switch (rng.int(0, 3)) {
      case 0: s = s.slice(0, at); break;
      case 1: s = s.slice(0, at) + s.slice(at + rng.int(1, 5)); break;
      case 2: s = s.slice(0, at) + rng.pick(inserts) + s.slice(at); break;
      default: s = s + rng.pick(inserts);
    }
  }
  return s;
}

// ---------------------------------------------------------------------------------------------
// The kinds

export const KINDS = [
  'broken-xml', 'broken-json', 'deep-nesting', 'huge-field', 'duplicate-fields', 'wrong-types', 'control-unicode', 'random-action',
  'oversized-body', 'chunked', 'xxe-entities', 'content-type', 'other-method', 'raw-body', 'both-fields', 'odd-path', 'form-encoding',
] as const;
export type Kind = (typeof KINDS)[number];

const generators: Record<Kind, (rng: Rng, t: Target) => Case> = {
  'broken-xml': (rng, t) => {
    const doc = mutate(rng, document(rng, 'xml', query(rng, t)), ['<', '>', '&', '</query>', '<query>', '<?', '<!--', ']]>', '<![CDATA[', '<a b="', '&#0;', '&#xD800;', '&nope;', '</a>', '<?xml version="1.0"?>']);
    return post('broken-xml', wrap(rng, 'xml', doc), 'xml');
  },
  'broken-json': (rng, t) => {
    const doc = mutate(rng, document(rng, 'json', query(rng, t)), ['{', '}', '[', ']', ',', ':', '"', '\\', '\\u12', '\\ud800', 'NaN', '//', "'", 'null', '1e999']);
    return post('broken-json', wrap(rng, 'json', doc), 'json');
  },
  'deep-nesting': (rng, t) => {
    const n = rng.pick([15, 16, 17, 18, 50, 101, 1000, 20_000, 100_000]);
    const auth = `<userid>${t.user.id}</userid><userkey>${t.user.key}</userkey><action>AddMedia</action>`;
    if (rng.chance(0.5)) return post('deep-nesting', wrap(rng, 'xml', `<query>${auth}${'<format>'.repeat(n)}x${'</format>'.repeat(n)}</query>`), 'xml');
    const open = rng.chance(0.5) ? '{"format":'.repeat(n) : '['.repeat(n);
    const close = open.startsWith('[') ? ']'.repeat(n) : '}'.repeat(n);
    return post('deep-nesting', wrap(rng, 'json', `{"query":{"userid":"${t.user.id}","userkey":"${t.user.key}","action":"AddMedia","x":${open}1${close}}}`), 'json');
  },
  'huge-field': (rng, t) => {
    const fmt = rng.pick(['xml', 'json'] as const);
    const q = query(rng, t);
    const size = rng.pick([16_384, 16_385, 50_000, 300_000, 900_000, t.maxBodyBytes]);
    const where = rng.pick(['top', 'format', 'name']);
    if (where === 'top') q[rng.pick(['source', 'userid', 'action', 'notify', 'mediaid', 'note'])] = 'a'.repeat(size);
    else if (where === 'format') q['format'] = { output: 'mp4', [rng.pick(['text', 'destination', 'size', 'note'])]: 'b'.repeat(size) };
    else q['n' + 'x'.repeat(Math.min(size, 200_000))] = '1';
    return post('huge-field', wrap(rng, fmt, document(rng, fmt, q)), fmt);
  },
  'duplicate-fields': (rng, t) => {
    const fmt = rng.pick(['xml', 'json'] as const);
    const q = query(rng, t);
    const name = rng.pick(['userid', 'userkey', 'action', 'mediaid', 'source', 'notify', 'extended']);
    if (fmt === 'xml') {
      const doc = toXml('query', q).replace('</query>', toXml(name, [scalar(rng, t), scalar(rng, t)]) + '</query>');
      return post('duplicate-fields', wrap(rng, 'xml', doc), 'xml');
    }
    const doc = JSON.stringify({ query: q }).replace(/}}$/, `,${JSON.stringify(name)}:${JSON.stringify(scalar(rng, t))}}}`);
    if (rng.chance(0.3)) return post('duplicate-fields', `json=${enc(doc)}&json=${enc(doc)}`, 'json');
    return post('duplicate-fields', wrap(rng, 'json', doc), 'json');
  },
  'wrong-types': (rng, t) => {
    const fmt = rng.pick(['xml', 'json'] as const);
    const q = query(rng, t);
    const odd = (): Value => rng.pick<Value>([null, 0, -1.5, true, [], ['a', 'b'], [[]], {}, { a: '1' }, [{ b: null }], { output: ['mp4', 'webm'] }]);
    const names = [...TOP_FIELDS, 'userid', 'userkey', 'action'];
    for (const name of rng.some(names, 3)) q[name] = odd();
    if (rng.chance(0.6)) q['format'] = Object.fromEntries(rng.some(FORMAT_FIELDS, 4).map((n) => [n, odd()]));
    return post('wrong-types', wrap(rng, fmt, document(rng, fmt, q)), fmt);
  },
  'control-unicode': (rng, t) => {
    const fmt = rng.pick(['xml', 'json'] as const);
    const q = query(rng, t);
    q[rng.pick(['source', 'action', 'mediaid', 'notify', 'name', 'userid'])] = oddText(rng);
    if (rng.chance(0.5)) q['format'] = { output: 'mp4', [rng.pick(FORMAT_FIELDS)]: oddText(rng) };
    let body = wrap(rng, fmt, document(rng, fmt, q));
    if (fmt === 'xml' && rng.chance(0.3)) body = `xml=${enc(document(rng, 'xml', q).replace('</query>', `<note>${rng.pick(['&#0;', '&#x1;', '&#xFFFE;', '&#x110000;', '&#xD800;', '&#65;'])}</note></query>`))}`;
    if (rng.chance(0.2)) body = '\ufeff' + body;
    if (rng.chance(0.2)) {
      // Bytes that are not UTF-8 at all.
      const bytes = Buffer.from(body, 'utf8');
      return post('control-unicode', Buffer.concat([bytes, Buffer.from([0xc0, 0xaf, 0xff, 0xfe, 0xed, 0xa0, 0x80])]), fmt);
    }
    return post('control-unicode', body, fmt);
  },
  'random-action': (rng, t) => {
    const fmt = rng.pick(['xml', 'json'] as const);
    return post('random-action', wrap(rng, fmt, document(rng, fmt, query(rng, t))), fmt);
  },
  'oversized-body': (rng, t) => {
    const fmt = rng.pick(['xml', 'json'] as const);
    const size = rng.int(t.maxBodyBytes + 1, t.maxBodyBytes * 2);
    const doc = enc(document(rng, fmt, query(rng, t)));
    const body = rng.chance(0.5) ? `${fmt}=${doc}&p=${'z'.repeat(size)}` : `p=${'z'.repeat(size)}&${fmt}=${doc}`;
    const c = post('oversized-body', body, fmt);
    if (rng.chance(0.5)) c.chunkBytes = 65_536;
    return c;
  },
  chunked: (rng, t) => {
    const fmt = rng.pick(['xml', 'json'] as const);
    const c = post('chunked', wrap(rng, fmt, document(rng, fmt, query(rng, t))), fmt);
    c.chunkBytes = rng.int(1, 64);
    return c;
  },
  'xxe-entities': (rng, t) => {
    const auth = `<userid>${t.user.id}</userid><userkey>${t.user.key}</userkey>`;
    const doc = rng.pick([
      `<!DOCTYPE q [<!ENTITY x SYSTEM "file:///etc/passwd">]><query>${auth}<action>&x;</action></query>`,
      `<?xml version="1.0"?><!DOCTYPE q [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]><query>${auth}<action>&c;</action></query>`,
      `<!DOCTYPE q [<!ENTITY % p SYSTEM "http://127.0.0.1:1/x.dtd"> %p;]><query>${auth}</query>`,
      `<!doctype query SYSTEM "http://127.0.0.1:1/x.dtd"><query>${auth}</query>`,
      `<query>${auth}<action>&lol;</action></query>`,
      `<query>${auth}<action>Get&#77;ediaList</action></query>`,
      `<query>${auth}<action><![CDATA[GetMediaList]]></action></query>`,
      `<query>${auth}<action>GetMediaList<!-- c --></action><?pi x?></query>`,
      `<query>${auth}<action>&amp;amp;&amp;#60;</action></query>`,
      `<query xmlns:x="http://127.0.0.1:1/"><x:action>GetMediaList</x:action>${auth}</query>`,
      `<query>${auth}<action a="&#x3c;" b='&x;'>GetMediaList</action></query>`,
      `<query>${auth}<action>GetMediaList</action></query><!DOCTYPE q [<!ENTITY x "y">]>`,
    ]);
    return post('xxe-entities', wrap(rng, 'xml', doc), 'xml');
  },
  'content-type': (rng, t) => {
    const fmt = rng.pick(['xml', 'json'] as const);
    const type = rng.pick([
      '', ';', ';;; nonsense', 'text/', '/', 'application/json', 'text/xml', 'text/plain; charset=iso-8859-1', 'application/octet-stream',
      'multipart/form-data; boundary=xyz', 'application/x-www-form-urlencoded; charset=utf-16', `x/${'y'.repeat(4000)}`, 'APPLICATION/X-WWW-FORM-URLENCODED', null,
    ]);
    const doc = document(rng, fmt, query(rng, t));
    const body = rng.chance(0.7) ? wrap(rng, fmt, doc) : `${fmt}=${mutate(rng, enc(doc), ['%', '&', '=', '+'])}`;
    return post('content-type', body, fmt, type === null ? {} : { 'content-type': type });
  },
  'other-method': (rng, t) => {
    const fmt = rng.pick(['xml', 'json'] as const);
    const method = rng.pick(['PUT', 'DELETE', 'PATCH', 'OPTIONS', 'GET', 'HEAD', 'PROPFIND', 'TRACE', 'SEARCH']);
    const withBody = !['GET', 'HEAD', 'TRACE'].includes(method) && rng.chance(0.8);
    const body = withBody ? wrap(rng, fmt, document(rng, fmt, query(rng, t))) : '';
    return { ...post('other-method', body, withBody && ['PUT', 'DELETE', 'PATCH', 'OPTIONS'].includes(method) ? fmt : null), method };
  },
  'raw-body': (rng, t) => {
    const q = query(rng, t);
    const pick = rng.int(0, 5);
    if (pick === 0) return post('raw-body', document(rng, 'xml', q), 'xml', rng.pick([FORM, { 'content-type': 'text/xml' }]));
    if (pick === 1) return post('raw-body', document(rng, 'json', q), 'json', rng.pick([FORM, { 'content-type': 'application/json' }]));
    if (pick === 2) return post('raw-body', `  \n\t${document(rng, 'json', q)}`, 'json');
    if (pick === 3) return post('raw-body', Buffer.from(Array.from({ length: rng.int(1, 2000) }, () => rng.int(0, 255))), null);
    if (pick === 4) return post('raw-body', `${rng.pick(['query', 'XML', 'Json', 'data', 'xmll', 'jsonp'])}=${enc(document(rng, 'json', q))}`, null);
    return post('raw-body', rng.string(rng.int(0, 300), 'abc&=%+ \n'), null);
  },
  'both-fields': (rng, t) => {
    const first = rng.pick(['xml', 'json'] as const);
    const second = first === 'xml' ? 'json' : 'xml';
    const q = query(rng, t);
    const body = `${first}=${enc(document(rng, first, q))}&${second}=${enc(document(rng, second, q))}`;
    return post('both-fields', rng.chance(0.3) ? `p=1&${body}` : body, first);
  },
  'odd-path': (rng, t) => {
    const fmt = rng.pick(['xml', 'json'] as const);
    const path = rng.pick([
      '/x', '/index.php', '//', '/api/v1/', '/?xml=%3Cquery%2F%3E', '/?', '/#', `/${'a'.repeat(3000)}`, '/%2e%2e/%2e%2e/etc/passwd',
      '/download/x/y', '/download/aaaaaaaaaaaaaaaaaaaaaaaa/../../etc/passwd', '/metrics', '/healthz', '/dashboard/x', '/%', '/%zz', '/%00',
    ]);
    const body = wrap(rng, fmt, document(rng, fmt, query(rng, t)));
    // The API endpoint (`/` with or without a query string) owes the format; elsewhere only an error.
    const c = post('odd-path', body, path.startsWith('/?') ? fmt : null);
    c.path = path;
    if (rng.chance(0.3)) {
      c.method = 'GET';
      c.body = Buffer.alloc(0);
      c.expect = null;
    }
    return c;
  },
  'form-encoding': (rng, t) => {
    const fmt = rng.pick(['xml', 'json'] as const);
    const body = rng.pick([
      `${fmt}=%zz`, `${fmt}=%C0%AF%ED%A0%80`, `${fmt}=`, `${fmt}==`, `${fmt}`, '&&&', '=', '', '   ', `${fmt}=%`, `${fmt}=+`,
      `${fmt}=${enc(document(rng, fmt, query(rng, t))).replace(/%20/g, '+')}`,
      `${fmt}=${enc(document(rng, fmt, query(rng, t)))}%`,
      `${fmt}=${enc(document(rng, fmt, query(rng, t)))}&${fmt.toUpperCase()}=1`,
    ]);
    return post('form-encoding', body, body.startsWith(fmt) ? fmt : null);
  },
};

/** The n-th request of a run: its kind in turn, its content from the generator. */
export function makeCase(rng: Rng, t: Target, n: number): Case {
  const kind = KINDS[n % KINDS.length]!;
  return generators[kind](rng, t);
}
