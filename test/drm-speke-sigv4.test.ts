/**
 * Issue 17, SPEKE v2 "signed requests where the server wants them": a key server behind AWS IAM
 * auth (API Gateway) takes only SigV4-signed requests. The key server here checks each signature
 * by computing it again from the request it received (its own code, after the AWS SigV4
 * documentation, not the signer Encodery uses), refuses unsigned and wrongly signed requests with
 * 403, and the media then ends in Error saying the key server refused.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { XMLParser } from 'fast-xml-parser';
import { asList, collectLogs, exec, makeClip, startTestServer, untilFinal, type TestServer } from './helpers.ts';

const ACCESS_KEY = 'AKIAENCODERYTEST0001';
const SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYENCODERYKEY';
const TOKEN = 'IQoJb3JpZ2luX2VjEncoderySessionToken';
const REGION = 'eu-west-3';

const sha256 = (data: string | Buffer): string => crypto.createHash('sha256').update(data).digest('hex');
const hmac = (key: Buffer | string, data: string): Buffer => crypto.createHmac('sha256', key).update(data).digest();

/** RFC 3986 encoding of one path segment or query part, as SigV4 canonical requests use. */
const uriEncode = (s: string): string => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

/**
 * Why a request's SigV4 signature is not right for `secret`, or null when it is. Recomputed from
 * what arrived: method, path, query, the headers it names as signed, and the body's hash.
 */
function signatureProblem(req: http.IncomingMessage, body: Buffer, secret: string): string | null {
  const auth = req.headers.authorization;
  if (!auth) return 'no Authorization header';
  const m = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([^,]+), ?Signature=([0-9a-f]{64})$/.exec(auth);
  if (!m) return `malformed Authorization: ${auth.slice(0, 40)}`;
  const [, accessKey, date, region, service, signedNames, signature] = m;
  if (accessKey !== ACCESS_KEY) return `unknown access key ${accessKey}`;
  const amzDate = String(req.headers['x-amz-date'] ?? '');
  if (!amzDate.startsWith(date!)) return 'x-amz-date does not match the credential date';
  const names = signedNames!.split(';');
  for (const needed of ['host', 'x-amz-date', 'x-amz-security-token']) if (!names.includes(needed)) return `${needed} is not signed`;
  if (req.headers['x-amz-security-token'] !== TOKEN) return 'wrong session token';
  const url = new URL(req.url ?? '/', 'http://x');
  const canonicalPath = url.pathname.split('/').map((seg) => uriEncode(decodeURIComponent(seg))).join('/');
  const canonicalQuery = [...url.searchParams].map(([k, v]) => [uriEncode(k), uriEncode(v)]).sort((a, b) => (a[0]! < b[0]! ? -1 : a[0]! > b[0]! ? 1 : a[1]! < b[1]! ? -1 : 1)).map(([k, v]) => `${k}=${v}`).join('&');
  const canonicalHeaders = names.map((n) => `${n}:${String(req.headers[n] ?? '').trim().replace(/\s+/g, ' ')}\n`).join('');
  const payloadHash = sha256(body);
  const declared = req.headers['x-amz-content-sha256'];
  if (declared !== undefined && declared !== payloadHash) return 'x-amz-content-sha256 is not the body\'s hash';
  const canonicalRequest = [req.method, canonicalPath, canonicalQuery, canonicalHeaders, signedNames, payloadHash].join('\n');
  const scope = `${date}/${region}/${service}/aws4_request`;
  const toSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256(canonicalRequest)].join('\n');
  const key = hmac(hmac(hmac(hmac(`AWS4${secret}`, date!), region!), service!), 'aws4_request');
  const expected = hmac(key, toSign).toString('hex');
  return crypto.timingSafeEqual(Buffer.from(expected), Buffer.from(signature!)) ? null : 'signature mismatch';
}

interface KeyServer {
  url: string;
  /** The secret it checks signatures with; another one makes Encodery's signatures wrong. */
  secret: string;
  seen: { signed: boolean; problem: string | null; region: string | null; service: string | null }[];
  keys: Map<string, string>;
  close(): Promise<void>;
}

/** A SPEKE v2 server behind IAM auth: a 403 for any request whose signature does not check out. */
async function startSignedKeyServer(): Promise<KeyServer> {
  const parser = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '', removeNSPrefix: true, isArray: (n) => n === 'ContentKey' });
  const ks: KeyServer = { url: '', secret: SECRET, seen: [], keys: new Map(), close: async () => undefined };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const problem = signatureProblem(req, body, ks.secret);
      const scope = /Credential=[^/]+\/\d{8}\/([^/]+)\/([^/]+)\//.exec(req.headers.authorization ?? '');
      ks.seen.push({ signed: req.headers.authorization !== undefined, problem, region: scope?.[1] ?? null, service: scope?.[2] ?? null });
      if (problem) return void res.writeHead(403, { 'content-type': 'application/json' }).end('{"message":"The request signature we calculated does not match the signature you provided."}');
      const doc = parser.parse(body.toString('utf8')) as { CPIX: { contentId: string; ContentKeyList: { ContentKey: { kid: string }[] } } };
      const answered = doc.CPIX.ContentKeyList.ContentKey.map((k) => {
        const key = crypto.randomBytes(16);
        ks.keys.set(k.kid.replaceAll('-', ''), key.toString('hex'));
        return `<cpix:ContentKey kid="${k.kid}"><cpix:Data><pskc:Secret><pskc:PlainValue>${key.toString('base64')}</pskc:PlainValue></pskc:Secret></cpix:Data></cpix:ContentKey>`;
      });
      res.writeHead(200, { 'content-type': 'application/xml' }).end(`<?xml version="1.0"?><cpix:CPIX xmlns:cpix="urn:dashif:org:cpix" xmlns:pskc="urn:ietf:params:xml:ns:keyprov:pskc" contentId="${doc.CPIX.contentId}"><cpix:ContentKeyList>${answered.join('')}</cpix:ContentKeyList></cpix:CPIX>`);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  ks.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/prod/speke/v2?tenant=a%20b`;
  ks.close = () => new Promise<void>((r) => server.close(() => r()));
  return ks;
}

describe('SPEKE v2 with AWS SigV4-signed requests (issue 17)', { timeout: 300_000 }, () => {
  let signing: TestServer;
  let unsigned: TestServer;
  let keys: KeyServer;
  let clip: string;
  const logLines: string[] = [];

  before(async () => {
    keys = await startSignedKeyServer();
    signing = await startTestServer({
      ENCODERY_SPEKE_AWS_REGION: REGION, ENCODERY_SPEKE_AWS_ACCESS_KEY_ID: ACCESS_KEY, ENCODERY_SPEKE_AWS_SECRET_ACCESS_KEY: SECRET, ENCODERY_SPEKE_AWS_SESSION_TOKEN: TOKEN,
      ENCODERY_LOG_LEVEL: 'debug',
    }, collectLogs('debug', logLines).logger);
    unsigned = await startTestServer();
    clip = await makeClip(path.join(signing.filesDir, 'clip.mp4'), { seconds: 2, size: '320x180' });
    await fs.mkdir(unsigned.filesDir, { recursive: true });
    await fs.copyFile(clip, path.join(unsigned.filesDir, 'clip.mp4'));
  });
  after(async () => {
    await signing?.close();
    await unsigned?.close();
    await keys?.close();
  });

  const protectedDash = (dir: string, filesDir: string) => ({
    action: 'AddMedia' as const, source: `file://${path.join(filesDir, 'clip.mp4')}`,
    format: { output: 'mpeg_dash', segment_duration: '2', size: '0x180', bitrate: '200k', turbo: 'yes', speke_url: keys.url, clearkey_drm: 'yes', destination: `file://${filesDir}/${dir}/video.mpd` },
  });

  test('signed for the configured region and execute-api, the key server accepts the request and the output decrypts with its keys; the secret is in no reply or log', async () => {
    const { MediaID: id } = await signing.call('json', protectedDash('signed', signing.filesDir));
    const { final } = await untilFinal(signing, id);
    assert.equal(final.status, 'Finished', JSON.stringify(final));
    assert.deepEqual(keys.seen, [{ signed: true, problem: null, region: REGION, service: 'execute-api' }]);
    const dir = path.join(signing.filesDir, 'signed', 'stream_0');
    const tenc = (await fs.readFile(path.join(dir, 'init.m4s'))).toString('hex');
    const [kid, key] = [...keys.keys].find(([k]) => tenc.includes(k))!;
    assert.ok(kid, 'the video is protected by a key the server gave');
    const segment = (await fs.readdir(dir)).filter((f) => f.startsWith('seg_')).sort()[0]!;
    const joined = path.join(signing.filesDir, 'joined.mp4');
    await fs.writeFile(joined, Buffer.concat([await fs.readFile(path.join(dir, 'init.m4s')), await fs.readFile(path.join(dir, segment))]));
    const decoded = await exec('ffmpeg', ['-hide_banner', '-v', 'error', '-decryption_key', key, '-i', joined, '-f', 'null', '-']);
    assert.equal(decoded.stderr, '', 'decrypts with the key server\'s key');
    const shown = JSON.stringify(await signing.call('json', { action: 'GetStatus', mediaid: id, extended: 'yes', include_task_status: 'yes' })) + logLines.join('');
    for (const secret of [SECRET, TOKEN, key]) assert.ok(!shown.includes(secret!), 'no secret in a reply or a log line');
  });

  test('a request signed with credentials the server does not accept is refused (403): the media ends in Error saying the key server refused the signed request', async () => {
    keys.secret = 'another-secret-the-server-expects';
    try {
      const { MediaID: id } = await signing.call('json', protectedDash('wrong', signing.filesDir));
      const { final } = await untilFinal(signing, id);
      assert.equal(final.status, 'Error');
      const described = JSON.stringify(asList(final.format)[0]);
      assert.match(described, /content keys could not be had: the key server http:\/\/127\.0\.0\.1:\d+\/prod\/speke\/v2\?tenant=a%20b refused the AWS SigV4-signed request \(403 Forbidden\): check that the credentials may call it/);
      assert.equal(keys.seen.at(-1)!.problem, 'signature mismatch');
      assert.ok(!described.includes(SECRET));
      await assert.rejects(fs.stat(path.join(signing.filesDir, 'wrong')), 'nothing encoded or delivered');
    } finally {
      keys.secret = SECRET;
    }
  });

  test('without signing settings the request goes unsigned, the server refuses it (403) and the media ends in Error naming the setting that signs', async () => {
    const { MediaID: id } = await unsigned.call('json', protectedDash('plain', unsigned.filesDir));
    const { final } = await untilFinal(unsigned, id);
    assert.equal(final.status, 'Error');
    assert.deepEqual(keys.seen.at(-1), { signed: false, problem: 'no Authorization header', region: null, service: null });
    assert.match(JSON.stringify(asList(final.format)[0]), /the key server [^ ]+ refused the request \(403 Forbidden\); if it wants AWS SigV4-signed requests \(API Gateway with IAM auth\), set ENCODERY_SPEKE_AWS_REGION/);
  });
});
