/**
 * Smart pass-through: a source that already meets a format is remuxed, packet for packet, and
 * the task log says why; one that misses any asked setting is encoded.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { parseFormat, type OutputSpec } from '../src/domain/format.ts';
import type { FieldMap } from '../src/domain/fields.ts';
import { fromFfprobeJson, type FfprobeJson, type MediaProbe } from '../src/pipeline/ffmpeg/probe.ts';
import { passthroughDecision, vbvUnderflowAt } from '../src/pipeline/plan/passthrough.ts';
import { asList, exec, startTestServer, untilFinal, type TestServer } from './helpers.ts';

function spec(fields: FieldMap): OutputSpec {
  const r = parseFormat(fields);
  if (!r.ok) assert.fail(r.error);
  return r.spec;
}

type Stream = NonNullable<FfprobeJson['streams']>[number];

/** An ffprobe report of an H.264 High 1280x720 / AAC-LC file, with changes. */
function source(video: Partial<Stream> = {}, audio: Partial<Stream> | null = {}, format: Record<string, unknown> = {}): MediaProbe {
  const v: Stream = {
    codec_type: 'video', codec_name: 'h264', profile: 'High', level: 31, codec_tag_string: 'avc1', width: 1280, height: 720,
    pix_fmt: 'yuv420p', field_order: 'progressive', sample_aspect_ratio: '1:1', avg_frame_rate: '25/1', bit_rate: '2100000', duration: '10.0',
    ...video,
  };
  const a: Stream = { codec_type: 'audio', codec_name: 'aac', profile: 'LC', sample_rate: '48000', channels: 2, bit_rate: '128000', duration: '10.0', ...audio };
  return fromFfprobeJson({ format: { format_name: 'mov,mp4,m4a,3gp,3g2,mj2', duration: '10.0', bit_rate: '2240000', ...format }, streams: audio === null ? [v] : [v, a] });
}

const mp4 = { output: 'mp4', bitrate: '2800k' };

function why(fields: FieldMap, probe: MediaProbe = source()): string | null {
  const d = passthroughDecision(spec(fields), [probe]);
  assert.equal(d.ok, false, `expected an encode for ${JSON.stringify(fields)}`);
  return d.ok ? null : d.why;
}

test('pass-through – a source that meets every asked setting is remuxed, and the note says why', () => {
  const d = passthroughDecision(spec(mp4), [source()]);
  assert.deepEqual(d, {
    ok: true,
    note: 'Source already is H.264 High 1280x720 at 2.1 Mbit/s ≤ 2.8 Mbit/s with AAC 48000 Hz stereo at 128 kbit/s; remuxed without re-encoding',
  });
  assert.ok(passthroughDecision(spec({ ...mp4, size: '1280x720', framerate: '25', profile: 'high', level: '31', set_rotate: '90', metadata: { title: 'x' } }), [source()]).ok);
  assert.ok(passthroughDecision(spec({ ...mp4, profile: 'main' }), [source({ profile: 'Constrained Baseline' })]).ok, 'a lower profile plays wherever the asked one does');
  assert.ok(passthroughDecision(spec({ output: 'mkv', bitrate: '2800k' }), [source()]).ok, 'another container of the same codecs');
  assert.ok(passthroughDecision(spec({ output: 'mp4', video_codec: 'libx265', bitrate: '2800k' }), [source({ codec_name: 'hevc', profile: 'Main', level: 93, codec_tag_string: 'hvc1' })]).ok);
  const audio = passthroughDecision(spec({ output: 'm4a' }), [source()]);
  assert.deepEqual(audio, { ok: true, note: 'Source audio already is AAC 48000 Hz stereo at 128 kbit/s; remuxed without re-encoding' });
});

test('pass-through – not even considered for another codec, several sources or smart_passthrough no', () => {
  assert.equal(why({ output: 'webm' }), null);
  assert.equal(why({ output: 'mp3' }), null);
  assert.equal(why({ ...mp4, smart_passthrough: 'no' }), null);
  assert.equal(passthroughDecision(spec(mp4), [source(), source()]).ok, false);
  assert.equal(why({ output: 'thumbnail' }), null);
});

test('pass-through – every setting the source misses, or a fact not known, means an encode', () => {
  const cases: [FieldMap, MediaProbe, RegExp][] = [
    [{ ...mp4, bitrate: '2000k' }, source(), /video runs at 2\.1 Mbit\/s > 2\.0 Mbit\/s asked/],
    [{ output: 'mp4' }, source({ bit_rate: '9000000' }), /more than twice the usual rate/],
    [{ ...mp4, maxrate: '4000k', bufsize: '8000k' }, source(), /maxrate is asked, and the source's packets were not read/],
    [{ output: 'mp4', maxrate: '2000k', bufsize: '4000k' }, source(), /video runs at 2\.1 Mbit\/s > maxrate 2\.0 Mbit\/s/],
    [{ ...mp4, minrate: '1000k', bufsize: '4000k' }, source(), /minrate is asked/],
    [{ ...mp4, size: '0x480' }, source(), /size 854x480 differs from the source's 1280x720/],
    [{ ...mp4, framerate: '30' }, source(), /framerate 30 differs from the source's 25/],
    [{ ...mp4, keyframe: '50' }, source(), /keyframe interval is asked/],
    [{ ...mp4, start: '1' }, source(), /a part of the source is asked/],
    [{ ...mp4, duration: '5' }, source(), /a part of the source is asked/],
    [{ ...mp4, crop_top: '8' }, source(), /crop is asked/],
    [{ ...mp4, rotate: '90' }, source(), /rotate is asked/],
    [{ ...mp4, deinterlacing: 'yes' }, source(), /deinterlacing is asked/],
    [mp4, source({ field_order: 'tt' }), /not known to be progressive/],
    [{ ...mp4, audio_volume: '80' }, source(), /audio_volume is asked/],
    [{ ...mp4, loudnorm: 'yes' }, source(), /loudness normalisation/],
    [mp4, source({ pix_fmt: 'yuv422p', profile: 'High 4:2:2' }), /pixel format is yuv422p/],
    [mp4, source({ pix_fmt: 'yuv420p10le', profile: 'High 10' }), /pixel format is yuv420p10le/],
    [mp4, source({ profile: 'High 10' }), /H\.264 profile is High 10, beyond high/],
    [{ ...mp4, profile: 'main' }, source(), /H\.264 profile is High, beyond main/],
    [{ ...mp4, level: '30' }, source(), /level 3\.1 is above the asked 3\.0/],
    [mp4, source({ sample_aspect_ratio: '4:3' }), /pixels are not square/],
    [mp4, source({ side_data_list: [{ side_data_type: 'Display Matrix', rotation: -90 }] }), /carries 90° rotation metadata/],
    [mp4, source({ bit_rate: undefined }, {}, { bit_rate: undefined }), /video bitrate is unknown/],
    [mp4, source({ codec_tag_string: 'avc3' }), /avc3/],
    [{ output: 'mp4', video_codec: 'libx265', bitrate: '2800k' }, source({ codec_name: 'hevc', profile: 'Main', codec_tag_string: 'hev1' }), /tagged hev1, not the hvc1/],
    [{ output: 'mkv', video_codec: 'libx265', bitrate: '2800k' }, source({ codec_name: 'hevc', profile: 'Main 10', pix_fmt: 'yuv420p10le' }), /pixel format/],
    [mp4, source({}, { profile: 'HE-AAC' }), /AAC is HE-AAC, not AAC-LC/],
    [mp4, source({}, { channels: 6 }), /audio has 6 channels, not 2/],
    [mp4, source({}, { sample_rate: '22050' }), /audio is at 22050 Hz, not 48000 Hz/],
    [mp4, source({}, { bit_rate: '192000' }), /audio runs at 192 kbit\/s > 128 kbit\/s asked/],
    [{ ...mp4, audio_codec: 'ac3' }, source(), /audio is AAC, not AC-3/],
    [{ output: 'm4a', audio_bitrate: '96k' }, source(), /audio runs at 128 kbit\/s > 96 kbit\/s/],
    [{ output: 'm4a', audio_sample_rate: '44100' }, source(), /not 44100 Hz/],
  ];
  for (const [fields, probe, expected] of cases) {
    const reason = why(fields, probe);
    assert.match(reason ?? '(none)', expected, JSON.stringify(fields));
  }
});

test('pass-through – maxrate and bufsize are checked on the source packets with the decoder buffer model', () => {
  // 25 packets a second of 10 kB (2 Mbit/s), and one 200 kB keyframe burst at 4 s.
  const steady = Array.from({ length: 250 }, (_, i) => ({ dtsSec: i / 25, bytes: i === 100 ? 200_000 : 10_000 }));
  assert.equal(vbvUnderflowAt(steady, 2_500_000, 5_000_000), null, '1.6 Mbit burst inside a 5 Mbit buffer filled at 2.5 Mbit/s');
  assert.equal(vbvUnderflowAt(steady, 2_500_000, 1_000_000), 4, 'the burst empties a 1 Mbit buffer');
  assert.equal(vbvUnderflowAt(steady, 1_500_000, 20_000_000), null, 'a big buffer rides out a short overshoot…');
  assert.ok((vbvUnderflowAt(steady, 1_500_000, 3_000_000) ?? 0) > 0, '…a small one does not');

  const asked = spec({ ...mp4, maxrate: '4000k', bufsize: '8000k' });
  const fits = passthroughDecision(asked, [source()], steady);
  assert.ok(fits.ok && fits.note.includes('2.1 Mbit/s ≤ 2.8 Mbit/s, within maxrate 4.0 Mbit/s / bufsize 8.0 Mbit'), JSON.stringify(fits));
  const tight = passthroughDecision(spec({ output: 'mp4', maxrate: '2500k', bufsize: '1000k' }), [source()], steady);
  assert.deepEqual(tight, { ok: false, why: 'the source\'s video peaks above maxrate 2.5 Mbit/s with bufsize 1.0 Mbit (at 4 s)' });
});

/** Every packet's size and hash, stream by stream, as FFmpeg reads them without decoding. */
async function packets(file: string): Promise<string[]> {
  const { stdout } = await exec('ffmpeg', ['-v', 'error', '-i', file, '-map', '0:v:0?', '-map', '0:a:0?', '-c', 'copy', '-f', 'framemd5', '-'], { maxBuffer: 16 << 20 });
  return stdout.split('\n').filter((l) => l && !l.startsWith('#')).map((l) => {
    const f = l.split(',').map((x) => x.trim());
    return `${f[0]} ${f[4]} ${f[5]}`;
  });
}

async function streamBitrate(file: string): Promise<number> {
  const { stdout } = await exec('ffprobe', ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'stream=bit_rate', '-of', 'csv=p=0', file]);
  return Number(stdout.trim());
}

describe('pass-through through the API', () => {
  let t: TestServer;
  let src: string;

  before(async () => {
    t = await startTestServer();
    await fs.mkdir(t.filesDir, { recursive: true });
    src = path.join(t.filesDir, 'source.mp4');
    await exec('ffmpeg', [
      '-v', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=size=320x180:rate=25:duration=3',
      '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000:duration=3', '-ac', '2',
      '-c:v', 'libx264', '-preset', 'veryfast', '-profile:v', 'high', '-b:v', '400k', '-maxrate', '500k', '-bufsize', '1000k', '-pix_fmt', 'yuv420p',
      '-c:a', 'aac', '-b:a', '96k', src,
    ]);
  });
  after(() => t.close());

  const logOf = async (id: string, taskId: string): Promise<string[]> =>
    asList((await t.call('json', { action: 'GetTaskStatus', mediaid: id, taskid: taskId })).list!.state).map((s: { message: string }) => s.message);

  test('met limits → packets copied; exceeded bitrate or smart_passthrough no → encoded', async () => {
    const out = path.join(t.filesDir, 'out');
    const { MediaID: id } = await t.call('json', {
      action: 'AddMedia',
      source: `file://${src}`,
      format: [
        { output: 'mp4', bitrate: '1000k', size: '320x180', metadata: { title: 'Remuxed' }, destination: `file://${out}/copy.mp4` },
        { output: 'mp4', bitrate: '150k', destination: `file://${out}/smaller.mp4` },
        { output: 'mp4', bitrate: '1000k', smart_passthrough: 'no', turbo: 'yes', destination: `file://${out}/forced.mp4` },
        { output: 'm4a', destination: `file://${out}/audio.m4a` },
        { output: 'mp4', maxrate: '800k', bufsize: '1600k', destination: `file://${out}/capped.mp4` },
        { output: 'mp4', maxrate: '450k', bufsize: '20k', destination: `file://${out}/tight.mp4` },
      ],
    });
    const { final } = await untilFinal(t, id);
    assert.equal(final.status, 'Finished', JSON.stringify(final));
    const [copy, smaller, forced, audio, capped, tight] = asList(final.format);
    for (const f of [copy, smaller, forced, audio, capped, tight]) assert.equal(f!.status, 'Finished', `${f!.output}: ${f!.description}`);

    const source = await packets(src);
    assert.ok(source.length > 100, 'video and audio packets of the source');
    assert.deepEqual(await packets(path.join(out, 'copy.mp4')), source, 'every packet copied as it is');
    const copyLog = await logOf(id, copy!.id);
    assert.ok(copyLog.some((m) => /^Source already is H\.264 High 320x180 at 0\.\d\d Mbit\/s ≤ 1\.0 Mbit\/s with AAC 48000 Hz stereo at \d+ kbit\/s; remuxed without re-encoding$/.test(m)), copyLog.join(' | '));
    assert.match(copy!.command!, / -c copy /);
    const { stdout: title } = await exec('ffprobe', ['-v', 'error', '-show_entries', 'format_tags=title', '-of', 'csv=p=0', path.join(out, 'copy.mp4')]);
    assert.equal(title.trim(), 'Remuxed', 'container edits still apply to a remux');

    const audioPackets = source.filter((l) => l.startsWith('1 '));
    assert.deepEqual((await packets(path.join(out, 'audio.m4a'))).map((l) => l.replace(/^0 /, '1 ')), audioPackets, 'the audio copied as it is');
    assert.ok((await logOf(id, audio!.id)).some((m) => m.startsWith('Source audio already is AAC 48000 Hz stereo')));

    const sourceRate = await streamBitrate(src);
    const smallerRate = await streamBitrate(path.join(out, 'smaller.mp4'));
    assert.ok(smallerRate < sourceRate * 0.6, `re-encoded at ${smallerRate} bit/s from ${sourceRate}`);
    assert.ok((await logOf(id, smaller!.id)).some((m) => /^Encoding, not remuxing: the source's video runs at 0\.\d\d Mbit\/s > 0\.15 Mbit\/s asked$/.test(m)));

    assert.notDeepEqual(await packets(path.join(out, 'forced.mp4')), source, 'smart_passthrough no encodes');

    // maxrate: the source (made within 500k / 1000k) fits 800k / 1600k; its first keyframe alone overflows 20k.
    assert.deepEqual(await packets(path.join(out, 'capped.mp4')), source);
    const cappedLog = await logOf(id, capped!.id);
    assert.ok(cappedLog.some((m) => m.includes('within maxrate 0.80 Mbit/s / bufsize 1.6 Mbit') && m.endsWith('remuxed without re-encoding')), cappedLog.join(' | '));
    assert.notDeepEqual(await packets(path.join(out, 'tight.mp4')), source);
    const tightLog = await logOf(id, tight!.id);
    assert.ok(tightLog.some((m) => /^Encoding, not remuxing: the source's video peaks above maxrate 0\.45 Mbit\/s with bufsize 0\.02 Mbit \(at -?[\d.]+ s\)$/.test(m)), tightLog.join(' | '));
    assert.ok(!(await logOf(id, forced!.id)).some((m) => m.includes('remux')));
  });
});
