/**
 * Issue 17: Common Encryption of DASH and CMAF through the real server. The outputs are checked
 * as a player and a packager would: boxes read with mp4box (tenc, pssh per system, senc/saiz/saio
 * in every segment), every track decrypted by FFmpeg with its key and not without, the MPD's
 * ContentProtection parsed, and the DASH played by shaka-player in headless Chromium with ClearKey
 * EME (it plays with the key and not without). Keys come from the query, a CPIX document and a
 * SPEKE v2 server started here, and never come back in a reply, a log or a notification.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { createFile, type ISOFile } from 'mp4box';
import { XMLParser } from 'fast-xml-parser';
import { chromium, type Browser } from 'playwright-core';
import { asList, exec, makeClip, startReceiver, startTestServer, untilFinal, collectLogs, type TestServer } from './helpers.ts';
import { TEST_CHROMIUM, chromiumMissing } from './needs.ts';

const KEY = 'a0a1a2a3a4a5a6a7a8a9aaabacadaeaf';
const KID = '0123456789abcdef0123456789abcdef';
const SYSTEMS = {
  widevine: 'edef8ba979d64acea3c827dcd51d21ed',
  playready: '9a04f07998404286ab92e65be0885f95',
  clearkey: '1077efecc0b24d02ace33c1e52e2fb4b',
};
const SHAKA = path.join(import.meta.dirname, '../node_modules/shaka-player/dist/shaka-player.compiled.js');

/** Top-level boxes of an MP4 file, parsed by mp4box. */
function boxesOf(bytes: Buffer): ISOFile {
  const file = createFile();
  const ab = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length) as ArrayBuffer & { fileStart: number };
  ab.fileStart = 0;
  file.appendBuffer(ab);
  file.flush();
  return file;
}

type AnyBox = { type: string; boxes?: AnyBox[]; [k: string]: unknown };

function find(boxes: readonly AnyBox[] | undefined, type: string): AnyBox[] {
  const out: AnyBox[] = [];
  for (const b of boxes ?? []) {
    if (b.type === type) out.push(b);
    out.push(...find(b.boxes, type));
    const entries = (b as { entries?: AnyBox[] }).entries;
    if (Array.isArray(entries)) out.push(...find(entries, type));
  }
  return out;
}

const hexOf = (v: unknown): string => {
  if (typeof v === 'string') return v.replaceAll('-', '').toLowerCase();
  if (v instanceof Uint8Array || Array.isArray(v)) return Buffer.from(v as Uint8Array).toString('hex');
  return String(v);
};

/** The init segment and media segments of each representation folder under `dir`. */
async function tracksIn(dir: string, folders: string[]): Promise<{ folder: string; init: Buffer; segments: Buffer[] }[]> {
  const out = [];
  for (const folder of folders) {
    const files = (await fs.readdir(path.join(dir, folder))).filter((f) => /^seg_\d+\.m4s$/.test(f)).sort();
    assert.ok(files.length > 0, `${folder} has segments`);
    out.push({
      folder,
      init: await fs.readFile(path.join(dir, folder, 'init.m4s')),
      segments: await Promise.all(files.map((f) => fs.readFile(path.join(dir, folder, f)))),
    });
  }
  return out;
}

/**
 * Decodes a track with FFmpeg, each media segment after the init segment on its own (as a player
 * appends them; FFmpeg 5.1's demuxer loses the sample auxiliary information of encrypted audio
 * after the first fragment of a joined file). Returns the frames and FFmpeg's complaints.
 */
async function decode(track: { init: Buffer; segments: Buffer[] }, key: string | null, scratch: string): Promise<{ frames: number; errors: string }> {
  let frames = 0;
  let errors = '';
  for (const segment of track.segments) {
    const file = path.join(scratch, `track-${crypto.randomUUID()}.mp4`);
    await fs.writeFile(file, Buffer.concat([track.init, segment]));
    const args = ['-hide_banner', '-v', 'error', ...(key ? ['-decryption_key', key] : []), '-i', file, '-f', 'framemd5', '-'];
    const r = await exec('ffmpeg', args, { maxBuffer: 64 * 1024 * 1024 }).catch((err: { stdout?: string; stderr?: string }) => ({ stdout: err.stdout ?? '', stderr: `${err.stderr ?? ''} (failed)` }));
    await fs.rm(file, { force: true });
    frames += r.stdout.split('\n').filter((l) => /^\d/.test(l)).length;
    errors += r.stderr;
  }
  return { frames, errors };
}

/** A static server over `dir` (nested paths, nothing outside it), with a page that plays an MPD in shaka-player. */
async function servePlayer(dir: string): Promise<{ url: string; close(): Promise<void> }> {
  const page = `<!doctype html><meta charset="utf-8"><video id="v" muted></video><script src="/shaka.js"></script>`;
  const server = http.createServer(async (req, res) => {
    const rel = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    if (rel === '/') return void res.end(page);
    const file = rel === '/shaka.js' ? SHAKA : path.join(dir, path.normalize(rel));
    if (file !== SHAKA && !file.startsWith(dir + path.sep)) return void res.writeHead(403).end();
    const data = await fs.readFile(file).catch(() => null);
    if (!data) return void res.writeHead(404).end();
    const type = file.endsWith('.mpd') ? 'application/dash+xml' : file.endsWith('.js') ? 'text/javascript' : file.endsWith('.html') ? 'text/html' : 'video/mp4';
    res.writeHead(200, { 'content-type': type, 'content-length': data.length }).end(data);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, close: () => new Promise<void>((r) => server.close(() => r())) };
}

/** A SPEKE v2 key server: answers each CPIX request with a key per asked key id, remembered for the test. */
async function startKeyServer(): Promise<{ url: string; keys: Map<string, { key: string; trackType: string }>; requests: string[]; close(): Promise<void> }> {
  const keys = new Map<string, { key: string; trackType: string }>();
  const requests: string[] = [];
  const parser = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '', removeNSPrefix: true, isArray: (n) => ['ContentKey', 'ContentKeyUsageRule'].includes(n) });
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      requests.push(`${req.headers['x-speke-version'] ?? ''} ${body}`);
      if (req.method !== 'POST' || req.headers['x-speke-version'] !== '2.0') return void res.writeHead(400).end('SPEKE v2 only');
      const doc = parser.parse(body) as { CPIX: { contentId: string; ContentKeyList: { ContentKey: { kid: string }[] }; ContentKeyUsageRuleList: { ContentKeyUsageRule: { kid: string; intendedTrackType: string }[] } } };
      const rules = doc.CPIX.ContentKeyUsageRuleList.ContentKeyUsageRule;
      const answered = doc.CPIX.ContentKeyList.ContentKey.map((k) => {
        const key = crypto.randomBytes(16);
        keys.set(k.kid.replaceAll('-', ''), { key: key.toString('hex'), trackType: rules.find((r) => r.kid === k.kid)!.intendedTrackType });
        return `<cpix:ContentKey kid="${k.kid}" commonEncryptionScheme="cenc"><cpix:Data><pskc:Secret><pskc:PlainValue>${key.toString('base64')}</pskc:PlainValue></pskc:Secret></cpix:Data></cpix:ContentKey>`;
      });
      res.writeHead(200, { 'content-type': 'application/xml', 'x-speke-version': '2.0' }).end(
        `<?xml version="1.0"?><cpix:CPIX xmlns:cpix="urn:dashif:org:cpix" xmlns:pskc="urn:ietf:params:xml:ns:keyprov:pskc" contentId="${doc.CPIX.contentId}" version="2.3"><cpix:ContentKeyList>${answered.join('')}</cpix:ContentKeyList></cpix:CPIX>`,
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/speke/v2`, keys, requests, close: () => new Promise<void>((r) => server.close(() => r())) };
}

const NO_CHROMIUM = await chromiumMissing();

describe('Common Encryption of DASH and CMAF (issue 17)', { timeout: 480_000 }, () => {
  let t: TestServer;
  let clip: string;
  let hooks: Awaited<ReturnType<typeof startReceiver>>;
  const logLines: string[] = [];

  before(async () => {
    hooks = await startReceiver();
    t = await startTestServer({ ENCODERY_LOG_LEVEL: 'debug' }, collectLogs('debug', logLines).logger);
    clip = await makeClip(path.join(t.filesDir, 'clip.mp4'), { seconds: 4, size: '320x180' });
  });
  after(async () => {
    await t?.close();
    await hooks?.close();
  });

  test('mpeg_dash with a key from the query: every segment encrypted (senc, saiz, saio), pssh and ContentProtection per system, FFmpeg decrypts with the key only; the key never comes back', async () => {
    const out = path.join(t.filesDir, 'protected');
    const clear = path.join(t.filesDir, 'clear');
    const { MediaID: id } = await t.call('json', {
      action: 'AddMedia', source: `file://${clip}`, notify: `${hooks.url}/done`,
      format: [
        {
          output: 'mpeg_dash', segment_duration: '2', size: '0x180', bitrate: '300k', turbo: 'yes',
          drm_key: KEY.toUpperCase(), drm_key_id: KID, widevine: 'yes', playready_drm: 'yes', clearkey_drm: 'yes',
          destination: `file://${out}/video.mpd`,
        },
        { output: 'mpeg_dash', segment_duration: '2', size: '0x180', bitrate: '300k', turbo: 'yes', destination: `file://${clear}/video.mpd` },
      ],
    });
    const { final } = await untilFinal(t, id);
    assert.equal(final.status, 'Finished', JSON.stringify(final));

    // The MPD: mp4protection with the default KID, then one ContentProtection per system with its pssh.
    const mpd = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '', isArray: (n) => ['AdaptationSet', 'ContentProtection', 'Representation'].includes(n) })
      .parse(await fs.readFile(path.join(out, 'video.mpd'), 'utf8')) as { MPD: { Period: { AdaptationSet: { contentType: string; ContentProtection: Record<string, string | Record<string, string>>[]; Representation: { SegmentTemplate: { media: string } }[] }[] } } };
    const sets = mpd.MPD.Period.AdaptationSet;
    assert.deepEqual(sets.map((s) => s.contentType).sort(), ['audio', 'video']);
    for (const set of sets) {
      const [common, ...systems] = set.ContentProtection;
      assert.equal(common!.schemeIdUri, 'urn:mpeg:dash:mp4protection:2011');
      assert.equal(common!.value, 'cenc');
      assert.equal(hexOf(common!['cenc:default_KID']), KID);
      assert.deepEqual(systems.map((s) => String(s.schemeIdUri).replace('urn:uuid:', '').replaceAll('-', '')), [SYSTEMS.widevine, SYSTEMS.playready, SYSTEMS.clearkey]);
      for (const s of systems) {
        const pssh = boxesOf(Buffer.from(String(s['cenc:pssh']), 'base64'));
        const box = find(pssh.boxes as unknown as AnyBox[], 'pssh')[0]!;
        assert.equal(hexOf(box.system_id), String(s.schemeIdUri).replace('urn:uuid:', '').replaceAll('-', ''), 'the MPD pssh is the system\'s own');
      }
    }
    const folders = sets.map((s) => path.dirname(s.Representation[0]!.SegmentTemplate.media));
    const tracks = await tracksIn(out, folders);
    const clearTracks = await tracksIn(clear, folders);
    for (const [i, track] of tracks.entries()) {
      const init = boxesOf(track.init);
      const tenc = find(init.boxes as unknown as AnyBox[], 'tenc')[0];
      assert.ok(tenc, `${track.folder}: tenc in the init segment`);
      assert.equal(hexOf(tenc.default_KID), KID);
      assert.equal(tenc.default_IV_size ?? tenc.default_Per_Sample_IV_Size, 8);
      const schm = find(init.boxes as unknown as AnyBox[], 'schm')[0]!;
      assert.equal(schm.scheme_type, 'cenc');
      const psshs = find(init.boxes as unknown as AnyBox[], 'pssh');
      assert.deepEqual(psshs.map((p) => hexOf(p.system_id)), [SYSTEMS.widevine, SYSTEMS.playready, SYSTEMS.clearkey]);
      const common = psshs.find((p) => hexOf(p.system_id) === SYSTEMS.clearkey)!;
      assert.deepEqual((common.kid as unknown[]).map(hexOf), [KID], 'the W3C common pssh lists the key id');
      for (const [n, segment] of track.segments.entries()) {
        const types = find(boxesOf(segment).boxes as unknown as AnyBox[], 'traf').flatMap((traf) => (traf.boxes ?? []).map((b) => b.type));
        for (const type of ['senc', 'saiz', 'saio']) assert.ok(types.includes(type), `${track.folder} segment ${n + 1} has ${type}`);
        const clearSegment = clearTracks[i]!.segments[n]!;
        assert.notDeepEqual(segment.subarray(-1024), clearSegment.subarray(-1024), `${track.folder} segment ${n + 1}: its media data differs from the clear encode`);
      }
      const withKey = await decode(track, KEY, t.filesDir);
      assert.equal(withKey.errors, '', `${track.folder} decrypts and decodes cleanly with the key`);
      const clearDecode = await decode(clearTracks[i]!, null, t.filesDir);
      assert.equal(withKey.frames, clearDecode.frames, `${track.folder}: every frame is there`);
      const wrong = await decode(track, 'ffeeddccbbaa99887766554433221100', t.filesDir);
      assert.notEqual(wrong.errors, '', `${track.folder}: with another key it does not decode`);
    }

    // Extended GetStatus says which track is encrypted with which key id (the task log).
    const extended = JSON.stringify(await t.call('json', { action: 'GetStatus', mediaid: id, extended: 'yes', include_task_status: 'yes' }));
    assert.match(extended, /Encrypted \(cenc, AES-128-CTR\): stream_0 \(video\) with key id 01234567-89ab-cdef-0123-456789abcdef; audio with key id 01234567-89ab-cdef-0123-456789abcdef\. Signalled for Widevine, PlayReady, ClearKey \(W3C common\); keys from the query\./);

    // The key never comes back: replies, notifications, logs.
    const seen: Record<string, string> = {};
    for (const format of ['xml', 'json'] as const) {
      seen[`GetStatus ${format}`] = JSON.stringify(await t.call(format, { action: 'GetStatus', mediaid: id, extended: 'yes', include_task_status: 'yes' }));
      seen[`GetMediaInfo ${format}`] = JSON.stringify(await t.call(format, { action: 'GetMediaInfo', mediaid: id }));
    }
    seen['GetMediaList'] = JSON.stringify(await t.call('json', { action: 'GetMediaList', version: '3', format_params: 'drm_key,destination' }));
    seen['notification'] = hooks.received.map((r) => r.body.toString()).join('\n');
    seen['log'] = logLines.join('');
    assert.ok(seen['notification'].length > 0, 'the notification arrived');
    for (const [where, text] of Object.entries(seen)) {
      assert.ok(!text.toLowerCase().includes(KEY), `${where} does not show the key`);
    }
    const shown = asList(final.format).map((f: { command?: string }) => String(f.command ?? ''));
    assert.ok(shown.some((c) => c.includes('-f dash')), 'GetStatus shows the FFmpeg command');
    assert.ok(shown.every((c) => !c.toLowerCase().includes(KEY)), 'the FFmpeg command shown does not carry the key (FFmpeg never sees it)');
  });

  test('shaka-player in headless Chromium plays the encrypted DASH with the ClearKey key, and not without it', { skip: NO_CHROMIUM }, async () => {
    const out = path.join(t.filesDir, 'play');
    const { MediaID: id } = await t.call('json', {
      action: 'AddMedia', source: `file://${clip}`,
      format: { output: 'mpeg_dash', segment_duration: '2', size: '0x180', bitrate: '300k', turbo: 'yes', drm_key: KEY, drm_key_id: KID, clearkey_drm: 'yes', destination: `file://${out}/video.mpd` },
    });
    const { final } = await untilFinal(t, id);
    assert.equal(final.status, 'Finished', JSON.stringify(final));
    const site = await servePlayer(out);
    const browser: Browser = await chromium.launch({ executablePath: TEST_CHROMIUM, args: ['--no-sandbox', '--disable-gpu', '--autoplay-policy=no-user-gesture-required'] });
    try {
      const play = async (clearKeys: Record<string, string>): Promise<{ time: number; error: string | null }> => {
        const page = await browser.newPage();
        await page.goto(site.url);
        const result = await page.evaluate(async (keys) => {
          const w = window as unknown as { shaka: any };
          w.shaka.polyfill.installAll();
          const video = document.getElementById('v') as HTMLVideoElement;
          const player = new w.shaka.Player();
          await player.attach(video);
          player.configure({ drm: { clearKeys: keys }, streaming: { retryParameters: { maxAttempts: 1 } } });
          let error: string | null = null;
          player.addEventListener('error', (e: { detail: { code: number } }) => {
            error = `shaka error ${e.detail.code}`;
          });
          try {
            await player.load('/video.mpd');
            // Not awaited: without its key the element waits for one, and play() with it.
            void video.play().catch(() => undefined);
          } catch (err) {
            error = `shaka error ${(err as { code?: number }).code ?? String(err)}`;
          }
          const started = performance.now();
          while (video.currentTime < 1.5 && error === null && performance.now() - started < 8000) await new Promise((r) => setTimeout(r, 100));
          return { time: video.currentTime, error };
        }, clearKeys);
        await page.close();
        return result;
      };
      const withKey = await play({ [KID]: KEY });
      assert.equal(withKey.error, null);
      assert.ok(withKey.time >= 1.5, `plays with the key (currentTime ${withKey.time})`);
      const withoutKey = await play({});
      assert.ok(withoutKey.time < 0.5, `does not play without the key (currentTime ${withoutKey.time})`);
      assert.ok(withoutKey.error !== null, 'the player says why');
      const wrongKid = await play({ ffffffffffffffffffffffffffffffff: KEY });
      assert.ok(wrongKid.time < 0.5, `does not play with another key id's key (currentTime ${wrongKid.time}, ${wrongKid.error})`);
    } finally {
      await browser.close();
      await site.close();
    }
  });

  test('SPEKE v2: one key per track type asked of the key server, each representation encrypted with its own; a CPIX document by URL too', async () => {
    const speke = await startKeyServer();
    try {
      const out = path.join(t.filesDir, 'speke');
      const { MediaID: id } = await t.call('json', {
        action: 'AddMedia', source: `file://${clip}`,
        format: {
          output: 'advanced_dash', segment_duration: '2', turbo: 'yes', speke_url: speke.url, widevine: 'yes', drm_content_id: 'movie-17',
          stream: [{ size: '0x180', bitrate: '300k', sub_path: 'hd', track_type: 'HD' }, { size: '0x90', bitrate: '100k', sub_path: 'sd', track_type: 'SD' }],
          destination: `file://${out}/video.mpd`,
        },
      });
      const { final } = await untilFinal(t, id);
      assert.equal(final.status, 'Finished', JSON.stringify(final));
      assert.equal(speke.requests.length, 1);
      assert.match(speke.requests[0]!, /^2\.0 /);
      assert.match(speke.requests[0]!, /contentId="movie-17"/);
      assert.deepEqual([...speke.keys.values()].map((k) => k.trackType).sort(), ['AUDIO', 'HD', 'SD']);
      const byType = new Map([...speke.keys].map(([kid, k]) => [k.trackType, { kid, key: k.key }]));
      const audioFolder = (await fs.readdir(out)).find((f) => !['hd', 'sd', 'video.mpd'].includes(f))!;
      for (const [folder, type] of [['hd', 'HD'], ['sd', 'SD'], [audioFolder, 'AUDIO']] as const) {
        const [track] = await tracksIn(out, [folder]);
        const tenc = find(boxesOf(track!.init).boxes as unknown as AnyBox[], 'tenc')[0]!;
        assert.equal(hexOf(tenc.default_KID), byType.get(type)!.kid, `${folder} is protected by the ${type} key`);
        assert.equal((await decode(track!, byType.get(type)!.key, t.filesDir)).errors, '', `${folder} decrypts with the ${type} key`);
      }
      const mpd = await fs.readFile(path.join(out, 'video.mpd'), 'utf8');
      for (const { kid } of byType.values()) assert.ok(mpd.includes(`cenc:default_KID="${kid.slice(0, 8)}-`), 'each key id is in the MPD');

      // The same keys as a CPIX document fetched by URL, for an advanced_fmp4 (CMAF: HLS playlists signal the keys too).
      const cpix = `<?xml version="1.0"?><cpix:CPIX xmlns:cpix="urn:dashif:org:cpix" xmlns:pskc="urn:ietf:params:xml:ns:keyprov:pskc"><cpix:ContentKeyList>${
        [...byType.values()].map((k) => `<cpix:ContentKey kid="${k.kid.replace(/^(.{8})(.{4})(.{4})(.{4})/, '$1-$2-$3-$4-')}"><cpix:Data><pskc:Secret><pskc:PlainValue>${Buffer.from(k.key, 'hex').toString('base64')}</pskc:PlainValue></pskc:Secret></cpix:Data></cpix:ContentKey>`).join('')
      }</cpix:ContentKeyList><cpix:ContentKeyUsageRuleList>${
        [...byType].map(([type, k]) => `<cpix:ContentKeyUsageRule kid="${k.kid.replace(/^(.{8})(.{4})(.{4})(.{4})/, '$1-$2-$3-$4-')}" intendedTrackType="${type}"/>`).join('')
      }</cpix:ContentKeyUsageRuleList></cpix:CPIX>`;
      await fs.writeFile(path.join(t.filesDir, 'keys.xml'), cpix);
      const cmaf = path.join(t.filesDir, 'cmaf');
      const { MediaID: id2 } = await t.call('json', {
        action: 'AddMedia', source: `file://${clip}`,
        format: {
          output: 'advanced_fmp4', segment_duration: '2', turbo: 'yes', cpix_url: `file://${path.join(t.filesDir, 'keys.xml')}`,
          stream: { size: '0x90', bitrate: '100k', sub_path: 'sd', track_type: 'SD' }, destination: `file://${cmaf}/master.m3u8`,
        },
      });
      const done = await untilFinal(t, id2);
      assert.equal(done.final.status, 'Finished', JSON.stringify(done.final));
      const video = (await fs.readdir(cmaf, { withFileTypes: true })).filter((d) => d.isDirectory()).map((d) => d.name);
      const playlists = await Promise.all(video.map((f) => fs.readFile(path.join(cmaf, f, 'index.m3u8'), 'utf8')));
      for (const p of playlists) assert.match(p, /#EXT-X-KEY:METHOD=SAMPLE-AES-CTR,URI="data:text\/plain;base64,[^"]+",KEYID=0x[0-9a-f]{32},KEYFORMAT="urn:uuid:1077efec-c0b2-4d02-ace3-3c1e52e2fb4b"/);
      const kids = playlists.map((p) => /KEYID=0x([0-9a-f]{32})/.exec(p)![1]);
      assert.deepEqual(kids.sort(), [byType.get('AUDIO')!.kid, byType.get('SD')!.kid].sort(), 'the SD stream and the audio each name their key');
      const [sd] = await tracksIn(cmaf, ['sd']);
      assert.equal((await decode(sd!, byType.get('SD')!.key, t.filesDir)).errors, '', 'the CMAF segments decrypt with the SD key');
    } finally {
      await speke.close();
    }
  });

  test('HEVC is encrypted as subsamples too: the MPD keeps its full codecs string, FFmpeg decrypts it with the key', async () => {
    const out = path.join(t.filesDir, 'hevc');
    const { MediaID: id } = await t.call('json', {
      action: 'AddMedia', source: `file://${clip}`,
      format: { output: 'mpeg_dash', segment_duration: '2', video_codec: 'libx265', size: '0x180', bitrate: '200k', turbo: 'yes', drm_key: KEY, drm_key_id: KID, destination: `file://${out}/video.mpd` },
    });
    const { final } = await untilFinal(t, id);
    assert.equal(final.status, 'Finished', JSON.stringify(final));
    const mpd = await fs.readFile(path.join(out, 'video.mpd'), 'utf8');
    assert.match(mpd, /codecs="hvc1\.\d/, 'the HEVC codecs string is read from the protected init segment');
    const [video] = await tracksIn(out, ['stream_0']);
    assert.equal(find(boxesOf(video!.init).boxes as unknown as AnyBox[], 'frma')[0]?.data_format, 'hvc1');
    assert.equal((await decode(video!, KEY, t.filesDir)).errors, '');
    assert.notEqual((await decode(video!, 'ffeeddccbbaa99887766554433221100', t.filesDir)).errors, '');
  });

  test('a key server that fails fails the task before its encode, with a reason and without the key', async () => {
    const broken = await startReceiver(() => 500);
    try {
      const { MediaID: id } = await t.call('json', {
        action: 'AddMedia', source: `file://${clip}`,
        format: { output: 'mpeg_dash', speke_url: `${broken.url}/speke`, clearkey_drm: 'yes', destination: `file://${t.filesDir}/never/video.mpd` },
      });
      const { final } = await untilFinal(t, id);
      assert.equal(final.status, 'Error');
      const task = asList(final.format)[0];
      assert.match(JSON.stringify(task), /content keys could not be had/);
      await assert.rejects(fs.stat(path.join(t.filesDir, 'never')), 'nothing is delivered');
      // A key document is read like a source: never from outside the user's file roots.
      const outside = await t.call('json', { action: 'AddMedia', source: `file://${clip}`, format: { output: 'mpeg_dash', cpix_url: 'file:///etc/passwd', destination: `file://${t.filesDir}/never/video.mpd` } });
      assert.match(String(outside.errors?.error), /^cpix_url: /);
      const qc = await t.call('json', { action: 'AddMedia', source: `file://${clip}`, format: { output: 'mpeg_dash', drm_key: KEY, drm_key_id: KID, qc: { qc_freeze: '' }, destination: `file://${t.filesDir}/never/video.mpd` } });
      assert.match(String(qc.errors?.error), /qc: qc_freeze cannot check an encrypted mpeg_dash/);
      assert.ok(!String(qc.errors?.error).includes(KEY));
    } finally {
      await broken.close();
    }
  });
});
