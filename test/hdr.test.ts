/**
 * HDR sources through the API, on a 10-bit PQ clip (tracks-media.ts): SDR outputs are tone-mapped
 * and tagged BT.709, `hdr keep` outputs stay PQ with their static metadata, and one HLS ladder
 * mixes both from one decode. Checked on the files (ffprobe, signalstats), not the commands.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { asList, exec, one, startTestServer, untilFinal, type TestServer } from './helpers.ts';
import { readM3u8 } from './hls-helpers.ts';
import { makePqClip, PQ_MASTERING } from './tracks-media.ts';

interface Colour { codec_name: string; pix_fmt: string; color_primaries?: string; color_transfer?: string; color_space?: string }

async function colour(file: string): Promise<Colour> {
  const { stdout } = await exec('ffprobe', ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'stream=codec_name,pix_fmt,color_primaries,color_transfer,color_space', '-of', 'json', file]);
  return (JSON.parse(stdout) as { streams: Colour[] }).streams[0]!;
}

/** Mean luma (8-bit scale) over every frame, from signalstats, after `filters`. */
async function meanLuma(file: string, filters = 'null'): Promise<number> {
  const { stderr } = await exec('ffmpeg', ['-hide_banner', '-nostats', '-i', file, '-vf', `${filters},format=yuv420p,signalstats,metadata=print:key=lavfi.signalstats.YAVG`, '-an', '-f', 'null', '-']);
  const values = [...stderr.matchAll(/lavfi\.signalstats\.YAVG=([\d.]+)/g)].map((m) => Number(m[1]));
  assert.ok(values.length > 0, `no signalstats in ${stderr.slice(-500)}`);
  return values.reduce((a, b) => a + b, 0) / values.length;
}

/** FFmpeg's documented zscale + tonemap (Hable) chain, run on the source by itself: the reference. */
const REFERENCE_TONEMAP = 'zscale=t=linear:npl=100,format=gbrpf32le,zscale=p=bt709,tonemap=tonemap=hable:desat=0,zscale=t=bt709:m=bt709:r=tv';

async function firstFrameSideData(file: string): Promise<Record<string, unknown>[]> {
  const { stdout } = await exec('ffprobe', ['-v', 'error', '-read_intervals', '%+#1', '-select_streams', 'v:0', '-show_frames', '-show_entries', 'frame=side_data_list', '-of', 'json', file]);
  return (JSON.parse(stdout) as { frames: { side_data_list?: Record<string, unknown>[] }[] }).frames[0]?.side_data_list ?? [];
}

describe('HDR sources', () => {
  let t: TestServer;
  let source: string;

  before(async () => {
    t = await startTestServer();
    await fs.mkdir(t.filesDir, { recursive: true });
    source = await makePqClip(path.join(t.filesDir, 'pq.mp4'), { seconds: 2, size: '640x360' });
  });
  after(() => t.close());

  test('SDR outputs are tone-mapped to BT.709, hdr keep stays PQ with its metadata, and an HLS ladder mixes both', async () => {
    const out = path.join(t.filesDir, 'out');
    const { MediaID: id } = await t.call('json', {
      action: 'AddMedia',
      source: `file://${source}`,
      format: [
        { output: 'mp4', size: '0x360', turbo: 'yes', destination: `file://${out}/sdr.mp4` },
        { output: 'mp4', size: '0x360', video_codec: 'libx265', hdr: 'keep', turbo: 'yes', destination: `file://${out}/hdr.mp4` },
        {
          output: 'advanced_hls', segment_duration: '1', turbo: 'yes',
          stream: [{ size: '0x360', video_codec: 'libx265', hdr: 'keep', bitrate: '800k', sub_path: 'hdr' }, { size: '0x180', bitrate: '300k', sub_path: 'sdr' }],
          destination: `file://${out}/hls/video.m3u8`,
        },
        {
          output: 'advanced_fmp4', segment_duration: '1', turbo: 'yes',
          stream: [{ size: '0x360', video_codec: 'libx265', hdr: 'keep', bitrate: '800k', sub_path: 'hdr' }, { size: '0x180', bitrate: '300k', sub_path: 'sdr' }],
          destination: `file://${out}/cmaf/video.m3u8`,
        },
      ],
    });
    const { final } = await untilFinal(t, id);
    const formats = asList(final.format);
    for (const f of formats) assert.equal(f.status, 'Finished', `${f.output}: ${f.description}`);
    assert.equal(formats[0]!.command, formats[2]!.command, 'the tone-mapped, kept and mixed outputs come from one FFmpeg process');
    assert.equal(formats[0]!.command, formats[3]!.command);

    const info = await t.call('json', { action: 'GetMediaInfo', mediaid: id });
    assert.equal(info.hdr, 'hdr10');
    assert.equal(info.color_transfer, 'smpte2084');

    const sdr = await colour(path.join(out, 'sdr.mp4'));
    assert.deepEqual([sdr.codec_name, sdr.pix_fmt, sdr.color_primaries, sdr.color_transfer, sdr.color_space], ['h264', 'yuv420p', 'bt709', 'bt709', 'bt709']);
    const reference = await meanLuma(source, REFERENCE_TONEMAP);
    const untouched = await meanLuma(source);
    const ours = await meanLuma(path.join(out, 'sdr.mp4'));
    // testsrc2's bars read as SDR are only ~14 % off the tone-map: the bound is 5 %, so that reading fails it.
    assert.ok(Math.abs(untouched - reference) / reference > 0.1, `the test can fail: PQ read as SDR (${untouched}) is far from the tone-map (${reference})`);
    assert.ok(Math.abs(ours - reference) / reference <= 0.05, `mean luma ${ours.toFixed(1)} within 5 % of the reference tone-map ${reference.toFixed(1)}`);

    const kept = await colour(path.join(out, 'hdr.mp4'));
    assert.deepEqual([kept.codec_name, kept.pix_fmt, kept.color_primaries, kept.color_transfer, kept.color_space], ['hevc', 'yuv420p10le', 'bt2020', 'smpte2084', 'bt2020nc']);
    const side = await firstFrameSideData(path.join(out, 'hdr.mp4'));
    const mastering = side.find((d) => d['side_data_type'] === 'Mastering display metadata');
    assert.ok(mastering, `mastering display kept: ${JSON.stringify(side)}`);
    assert.equal(mastering['max_luminance'], '10000000/10000');
    assert.equal(mastering['green_x'], `${/G\((\d+)/.exec(PQ_MASTERING)![1]}/50000`);
    const light = side.find((d) => d['side_data_type'] === 'Content light level metadata');
    assert.deepEqual([light?.['max_content'], light?.['max_average']], [1000, 400]);

    const master = await readM3u8(path.join(out, 'hls', 'video.m3u8'));
    const variants = master.playlists!.map((p) => [p.uri, (p.attributes as Record<string, unknown>)['VIDEO-RANGE'], String((p.attributes as Record<string, unknown>)['CODECS'])]);
    const hdrVariant = variants.find((v) => String(v[0]).startsWith('hdr/'))!;
    const sdrVariant = variants.find((v) => String(v[0]).startsWith('sdr/'))!;
    assert.equal(hdrVariant[1], 'PQ');
    assert.match(hdrVariant[2] as string, /^hvc1\.2\./, 'HEVC Main 10 in CODECS');
    assert.equal(sdrVariant[1], 'SDR');
    const cmaf = await readM3u8(path.join(out, 'cmaf', 'video.m3u8'));
    assert.deepEqual(cmaf.playlists!.map((p) => [p.uri, (p.attributes as Record<string, unknown>)['VIDEO-RANGE']]).sort(), [['hdr/index.m3u8', 'PQ'], ['sdr/index.m3u8', 'SDR']]);
  });

  test('hdr keep with an 8-bit-only encoder, or an 8-bit pix_format, is refused at AddMedia', async () => {
    for (const [format, pattern] of [
      [{ output: 'mp4', hdr: 'keep' }, /hdr keep needs a 10-bit HDR encoder: video_codec libx265 or libvpx-vp9, not libx264/],
      [{ output: 'mp4', video_codec: 'libx265', hdr: 'keep', pix_format: 'yuv420p' }, /hdr keep needs a 10-bit pix_format/],
      [{ output: 'mp4', hdr: 'bright' }, /hdr "bright" is not one of tonemap, keep/],
    ] as const) {
      const r = await t.call('json', { action: 'AddMedia', source: `file://${source}`, format: { ...format, destination: `file://${t.filesDir}/x.mp4` } });
      assert.match(one(r.errors?.error ?? ''), pattern, JSON.stringify(r));
    }
  });
});
