/**
 * HLS AES-128 encryption (reference 4.5 "Encryption"): segments that only decrypt with the
 * delivered key and the playlist's IV, key URIs that resolve, and key material that never shows
 * in GetStatus, its logs or its command line.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { parseFormat } from '../src/domain/format.ts';
import { redactFields } from '../src/transfer/redact.ts';
import type { FieldMap } from '../src/domain/fields.ts';
import { exec, makeClip, startTestServer, untilFinal, type TestServer, one, asList } from './helpers.ts';
import { parseM3u8 } from './hls-helpers.ts';

const KEY = '00112233445566778899aabbccddeeff';
const IV = 'a0a1a2a3a4a5a6a7a8a9aaabacadaeaf';

interface KeyedPlaylist {
  mediaSequence?: number;
  segments: { uri: string; key?: { method: string; uri: string; iv?: Uint32Array } }[];
}

/** Decrypts one segment as a player does and returns what ffprobe finds in it. */
async function decryptAndProbe(encrypted: Buffer, key: Buffer, iv: Buffer, scratch: string): Promise<{ codec_type: string; codec_name: string }[]> {
  const decipher = crypto.createDecipheriv('aes-128-cbc', key, iv);
  const plain = Buffer.concat([decipher.update(encrypted), decipher.final()]);
  assert.equal(plain[0], 0x47, 'the plain segment starts with a TS sync byte');
  await fs.writeFile(scratch, plain);
  const { stdout } = await exec('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_type,codec_name', '-of', 'json', scratch]);
  return (JSON.parse(stdout) as { streams: { codec_type: string; codec_name: string }[] }).streams;
}

/** The playlist's IV, or the segment's media sequence number when it has none (RFC 8216 5.2). */
function ivOf(playlist: KeyedPlaylist, index: number): Buffer {
  const iv = playlist.segments[index]!.key!.iv;
  if (iv) return be(iv);
  const out = Buffer.alloc(16);
  out.writeUInt32BE((playlist.mediaSequence ?? 0) + index, 12);
  return out;
}

/** m3u8-parser gives the IV as four big-endian 32-bit words. */
function be(words: Uint32Array): Buffer {
  const out = Buffer.alloc(16);
  for (let i = 0; i < 4; i++) out.writeUInt32BE(words[i]!, i * 4);
  return out;
}

describe('advanced_hls encryption through the API', () => {
  let t: TestServer;
  let clip: string;

  before(async () => {
    t = await startTestServer();
    await fs.mkdir(t.filesDir, { recursive: true });
    clip = await makeClip(path.join(t.filesDir, 'clip.mp4'), { seconds: 2, size: '160x90' });
  });
  after(() => t.close());

  test('with a given key and IV: the key file beside the master, relative key URIs at every depth, segments decrypt; no key in GetStatus', async () => {
    const out = path.join(t.filesDir, 'enc');
    const { MediaID: id } = await t.call('json', {
      action: 'AddMedia',
      source: `file://${clip}`,
      format: {
        output: 'advanced_hls', segment_duration: '1', turbo: 'yes',
        encryption: 'yes', encryption_method: 'aes-128-cbc', encryption_key: KEY, encryption_iv: `0x${IV}`,
        stream: [{ size: '0x90', bitrate: '100k', sub_path: 'deep/low' }],
        destination: `file://${out}/video.m3u8`,
      },
    });
    const { final } = await untilFinal(t, id);
    assert.equal(final.status, 'Finished', JSON.stringify(final));

    assert.deepEqual(await fs.readFile(path.join(out, 'clip.key')), Buffer.from(KEY, 'hex'), 'the key file holds the 16 key bytes');
    const master = parseM3u8(await fs.readFile(path.join(out, 'video.m3u8'), 'utf8'));
    const audioUri = Object.values(Object.values(master.mediaGroups?.AUDIO ?? {})[0]!)[0]!.uri!;
    for (const uri of ['deep/low/index.m3u8', audioUri]) {
      const playlist = parseM3u8(await fs.readFile(path.join(out, uri), 'utf8')) as unknown as KeyedPlaylist;
      assert.ok(playlist.segments.length >= 2, uri);
      for (const [i, s] of playlist.segments.entries()) {
        assert.equal(s.key?.method, 'AES-128', `${uri}: every segment is keyed`);
        // Relative to the playlist, the URI reaches the key beside the master.
        assert.equal(path.resolve(path.dirname(path.join(out, uri)), s.key!.uri), path.join(out, 'clip.key'), `${uri}: ${s.key!.uri}`);
        assert.equal(ivOf(playlist, i).toString('hex'), IV);
        const encrypted = await fs.readFile(path.join(out, path.dirname(uri), s.uri));
        assert.notEqual(encrypted[0], 0x47, 'the stored segment is not plain MPEG-TS');
        const streams = await decryptAndProbe(encrypted, Buffer.from(KEY, 'hex'), ivOf(playlist, i), path.join(t.filesDir, 'plain.ts'));
        assert.deepEqual(streams.map((x) => x.codec_name), [uri === audioUri ? 'aac' : 'h264'], uri);
      }
    }

    // Neither the key nor the IV shows anywhere in GetStatus, with its log and command line.
    const reply = await t.raw('json=' + encodeURIComponent(JSON.stringify({
      query: { userid: '1001', userkey: 'test-key-1001-abcdef', action: 'GetStatus', mediaid: id, extended: 'yes', include_task_status: 'yes' },
    })));
    assert.ok(!reply.text.toLowerCase().includes(KEY) && !reply.text.toLowerCase().includes(IV), 'no key material in GetStatus');
    const task = JSON.parse(reply.text).response.job.format;
    assert.equal(task.encryption_key, '***');
    assert.equal(task.encryption_iv, '***');
    assert.equal(task.encryption, 'yes');
    assert.match(task.command, /-hls_key_info_file/);
    const list = await t.call('json', { action: 'GetMediaList', format_params: 'encryption_key,encryption' });
    assert.ok(!JSON.stringify(list).includes(KEY));
  });

  test('without a key and without a destination: a random key and IV, the key kept beside the master and fetched through the relative URI', async () => {
    const { MediaID: id } = await t.call('xml', {
      action: 'AddMedia',
      source: `file://${clip}`,
      format: { output: 'advanced_hls', segment_duration: '1', turbo: 'yes', encryption: 'yes', stream: { size: '0x90', bitrate: '100k', audio_codec: 'aac' } },
    });
    const { final } = await untilFinal(t, id);
    assert.equal(final.status, 'Finished', JSON.stringify(final));
    const link: string = one(one(final.format).s3_destination!);
    const master = parseM3u8(await (await fetch(link)).text());
    const variantUrl = new URL(master.playlists![0]!.uri, link);
    const playlist = parseM3u8(await (await fetch(variantUrl)).text()) as unknown as KeyedPlaylist;
    const first = playlist.segments[0]!;
    const iv = ivOf(playlist, 0).toString('hex');
    assert.ok(playlist.segments.every((s, i) => ivOf(playlist, i).toString('hex') === iv), 'one IV for all segments');
    assert.notEqual(iv, '00000000000000000000000000000001', 'a random IV, not the predictable sequence number');
    const keyRes = await fetch(new URL(first.key!.uri, variantUrl));
    assert.equal(keyRes.status, 200);
    const key = Buffer.from(await keyRes.arrayBuffer());
    assert.equal(key.length, 16);
    assert.notEqual(key.toString('hex'), KEY);
    for (const [i, s] of playlist.segments.entries()) {
      const encrypted = Buffer.from(await (await fetch(new URL(s.uri, variantUrl))).arrayBuffer());
      const streams = await decryptAndProbe(encrypted, key, ivOf(playlist, i), path.join(t.filesDir, 'plain2.ts'));
      assert.deepEqual(streams.map((x) => x.codec_type), ['video']);
    }
  });

  test('encryption_key_file with a key: the playlists name that URL and the key is not delivered', async () => {
    const out = path.join(t.filesDir, 'keyurl');
    const keyUrl = 'https://keys.example.com/v1/key?id=42';
    const format = {
      output: 'advanced_hls', segment_duration: '1', turbo: 'yes', encryption: 'yes', encryption_key: KEY, encryption_key_file: keyUrl,
      stream: { size: '0x90', bitrate: '100k', video_only: 'yes' },
    };
    const { MediaID: id } = await t.call('json', {
      action: 'AddMedia',
      source: `file://${clip}`,
      // The same twice: delivered, and kept on the server.
      format: [{ ...format, destination: `file://${out}/video.m3u8` }, format],
    });
    const { final } = await untilFinal(t, id);
    assert.equal(final.status, 'Finished', JSON.stringify(final));
    const kept = await fetch(one(asList(final.format)[1]!.s3_destination!));
    assert.equal(kept.status, 200, 'the kept output is there');
    const playlist = parseM3u8(await fs.readFile(path.join(out, 'stream_0/index.m3u8'), 'utf8')) as unknown as KeyedPlaylist;
    assert.ok(playlist.segments.every((s) => s.key?.uri === keyUrl));
    assert.deepEqual((await fs.readdir(out)).sort(), ['stream_0', 'video.m3u8']);
    // Nor is any key material left in the media's folders on the server, not even beside the kept output.
    const left = (await exec('find', [path.join(t.dataDir, 'outputs', id), '(', '-name', '*.key', '-o', '-name', '.key_info', ')'])).stdout.trim();
    assert.equal(left, '', 'no key material left on the server');
    const streams = await decryptAndProbe(
      await fs.readFile(path.join(out, 'stream_0', playlist.segments[1]!.uri)), Buffer.from(KEY, 'hex'), ivOf(playlist, 1), path.join(t.filesDir, 'plain3.ts'),
    );
    assert.deepEqual(streams.map((x) => x.codec_name), ['h264']);
  });

  test('a bad key is refused at AddMedia without repeating it', async () => {
    const r = await t.call('json', {
      action: 'AddMedia', source: `file://${clip}`,
      format: { output: 'advanced_hls', encryption: 'yes', encryption_key: 'secret-not-hex', stream: { size: '0x90' } },
    });
    assert.match(one(r.errors!.error), /encryption_key is not 32 hexadecimal digits/);
    assert.ok(!JSON.stringify(r).includes('secret-not-hex'));
  });
});

describe('advanced_hls encryption fields', () => {
  const parse = (fields: FieldMap) => parseFormat({ output: 'advanced_hls', stream: { size: '0x90' }, ...fields });
  const error = (fields: FieldMap): string => {
    const r = parse(fields);
    assert.ok(!r.ok, `expected an error for ${JSON.stringify(fields)}`);
    return r.error;
  };

  test('accepted forms', () => {
    const r = parse({ encryption: 'yes', encryption_method: 'AES-128-CBC', encryption_key: KEY.toUpperCase(), encryption_iv: IV, encryption_key_file: 'http://k.example/a.key' });
    assert.ok(r.ok && r.spec.kind === 'hls');
    assert.deepEqual(r.spec.encryption, { key: KEY, iv: IV, keyUrl: 'http://k.example/a.key' });
    const plain = parse({});
    assert.ok(plain.ok && plain.spec.kind === 'hls' && plain.spec.encryption === null);
    const generated = parse({ encryption: 'yes' });
    assert.ok(generated.ok && generated.spec.kind === 'hls');
    assert.deepEqual(generated.spec.encryption, { key: null, iv: null, keyUrl: null });
  });

  test('every bad field is named', () => {
    assert.match(error({ encryption: 'yes', encryption_method: 'aes-256-cbc' }), /^encryption_method "aes-256-cbc" is not supported.*aes-128-cbc/);
    assert.match(error({ encryption: 'yes', encryption_method: 'sample-aes' }), /^encryption_method/);
    assert.match(error({ encryption: 'yes', encryption_key: KEY.slice(2) }), /^encryption_key is not 32 hexadecimal digits/);
    assert.match(error({ encryption: 'yes', encryption_iv: 'zz' + IV.slice(2) }), /^encryption_iv is not 32 hexadecimal digits/);
    assert.match(error({ encryption: 'yes', encryption_key_file: 'ftp://k.example/a.key' }), /^encryption_key_file must be an http/);
    assert.match(error({ encryption: 'yes', encryption_key_file: 'keys/a.key' }), /^encryption_key_file must be an http/);
    assert.match(error({ encryption: 'yes', encryption_key_file: 'https://k.example/a".key' }), /^encryption_key_file must be an http/);
    assert.match(error({ encryption: 'yes', encryption_key_file: 'https://user:pw@k.example/a.key' }), /^encryption_key_file must not carry a user name/);
    assert.match(error({ encryption: 'yes', encryption_password: 'hunter2' }), /^encryption_password is not used/);
    assert.match(error({ encryption: 'maybe' }), /^encryption "maybe" must be yes or no/);
    assert.match(error({ encryption_key: KEY }), /^encryption_key is given but encryption is not yes/);
    assert.match(error({ encryption: 'yes', stream: [{ size: '0x90' }, { size: '0x60', encryption: 'no' }] }), /^stream 2: encryption must be the same for every stream/);
    assert.match(error({ encryption: 'yes', stream: { size: '0x90', add_iframe_stream: 'yes' } }), /add_iframe_stream.*encryption/);
    assert.match(error({ encryption: 'yes', stream: [{ size: '0x90' }, { size: '0x60', video_codec: 'libx265' }] }), /^encryption cannot be used with an HEVC/);
  });

  test('redactFields masks key material at any depth and redacts the key URL; the stored fields are untouched', () => {
    const stored: FieldMap = {
      output: 'advanced_hls', encryption: 'yes', Encryption_Key: KEY, encryption_iv: IV, encryption_password: 'pw', encryption_key_file: 'https://k.example/key?token=s3cr3t&id=1',
      stream: [{ size: '0x90', encryption_key: KEY }, { size: '0x60', encryption_key: '' }],
    };
    const copy = structuredClone(stored);
    assert.deepEqual(redactFields(stored), {
      output: 'advanced_hls', encryption: 'yes', Encryption_Key: '***', encryption_iv: '***', encryption_password: '***', encryption_key_file: 'https://k.example/key?token=***&id=1',
      stream: [{ size: '0x90', encryption_key: '***' }, { size: '0x60', encryption_key: '' }],
    });
    assert.deepEqual(stored, copy);
  });
});
