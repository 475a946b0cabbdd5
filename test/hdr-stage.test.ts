/**
 * HDR sources put together and edited: a PQ clip shown side by side with an SDR clip
 * (split_screen) or joined to it with a logo is tone-mapped before it is stacked or joined, and
 * the output tagged BT.709; a logo on a PQ source is drawn in the SDR picture after the tone-map,
 * so its white and grey keep their values. Checked on the files (ffprobe, signalstats).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { asList, exec, startTestServer, untilFinal, type TestServer } from './helpers.ts';
import { makePqClip } from './tracks-media.ts';

/** Mean luma (8-bit scale) over the frames, after `filters` (a crop, a trim). */
async function meanLuma(file: string, filters = 'null'): Promise<number> {
  const { stderr } = await exec('ffmpeg', ['-hide_banner', '-nostats', '-i', file, '-vf', `${filters},format=yuv420p,signalstats,metadata=print:key=lavfi.signalstats.YAVG`, '-an', '-f', 'null', '-']);
  const values = [...stderr.matchAll(/lavfi\.signalstats\.YAVG=([\d.]+)/g)].map((m) => Number(m[1]));
  assert.ok(values.length > 0, `no signalstats in ${stderr.slice(-500)}`);
  return values.reduce((a, b) => a + b, 0) / values.length;
}

async function tags(file: string): Promise<string[]> {
  const { stdout } = await exec('ffprobe', ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'stream=pix_fmt,color_primaries,color_transfer,color_space', '-of', 'json', file]);
  const s = (JSON.parse(stdout) as { streams: Record<string, string>[] }).streams[0]!;
  return [s['pix_fmt']!, s['color_primaries']!, s['color_transfer']!, s['color_space']!];
}

/** FFmpeg's documented zscale + tonemap (Hable) chain, run on the PQ clip by itself: the reference. */
const REFERENCE_TONEMAP = 'zscale=t=linear:npl=100,format=gbrpf32le,zscale=p=bt709,tonemap=tonemap=hable:desat=0,zscale=t=bt709:m=bt709:r=tv';
/** The logo: 64x64 white, then 64x64 mid grey (#808080, luma 126 in limited range). */
const LOGO_AT = { x: 10, y: 10 };
const WHITE = `crop=40:40:${LOGO_AT.x + 12}:${LOGO_AT.y + 12}`;
const GREY = `crop=40:40:${LOGO_AT.x + 64 + 12}:${LOGO_AT.y + 12}`;

describe('HDR sources in split screens, joins and under logos', () => {
  let t: TestServer;
  let pq: string;
  let sdr: string;
  let logo: string;
  let reference: number;

  before(async () => {
    t = await startTestServer();
    await fs.mkdir(t.filesDir, { recursive: true });
    pq = await makePqClip(path.join(t.filesDir, 'pq.mp4'), { seconds: 2, size: '640x360' });
    sdr = path.join(t.filesDir, 'sdr.mp4');
    await exec('ffmpeg', [
      '-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', 'smptebars=size=640x360:rate=25:duration=2',
      '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000:duration=2', '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', '-c:a', 'aac', sdr,
    ]);
    logo = path.join(t.filesDir, 'logo.png');
    await exec('ffmpeg', [
      '-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', 'color=white:s=64x64,format=rgb24',
      '-f', 'lavfi', '-i', 'color=0x808080:s=64x64,format=rgb24', '-filter_complex', 'hstack', '-frames:v', '1', logo,
    ]);
    reference = await meanLuma(pq, `${REFERENCE_TONEMAP},crop=640:260:0:100`);
    const untouched = await meanLuma(pq, 'crop=640:260:0:100');
    // testsrc2's bars read as SDR are only ~14 % off the tone-map, so the bound below is 5 %, not the issue's 15 %.
    assert.ok(Math.abs(untouched - reference) / reference > 0.1, `the test can fail: PQ read as SDR (${untouched}) is far from the tone-map (${reference})`);
  });
  after(() => t.close());

  const logoField = () => ({ logo_source: `file://${logo}`, logo_x: String(LOGO_AT.x), logo_y: String(LOGO_AT.y) });

  test('a logo on a PQ source is drawn after the tone-map: its white and grey keep their SDR values; a kept HDR output of the same decode gets it too', async () => {
    const out = path.join(t.filesDir, 'out-logo');
    const { MediaID: id } = await t.call('json', {
      action: 'AddMedia', source: `file://${pq}`,
      format: [
        { output: 'mp4', turbo: 'yes', logo: logoField(), destination: `file://${out}/logo.mp4` },
        // Kept HDR from the same decode: the logo is drawn a second time, on the PQ picture.
        { output: 'mp4', video_codec: 'libx265', hdr: 'keep', turbo: 'yes', logo: logoField(), destination: `file://${out}/kept.mp4` },
      ],
    });
    const { final } = await untilFinal(t, id);
    const [f, kept] = asList(final.format);
    assert.equal(f!.status, 'Finished', f!.description);
    assert.equal(kept!.status, 'Finished', kept!.description);
    assert.equal(f!.command, kept!.command, 'one FFmpeg process');
    assert.deepEqual(await tags(path.join(out, 'kept.mp4')), ['yuv420p10le', 'bt2020', 'smpte2084', 'bt2020nc']);
    // Its code values as they are: the logo's white is PQ's peak (README, HDR).
    const keptWhite = await meanLuma(path.join(out, 'kept.mp4'), WHITE);
    assert.ok(keptWhite > 230, `the kept output has the logo: ${keptWhite}`);
    const file = path.join(out, 'logo.mp4');
    assert.deepEqual(await tags(file), ['yuv420p', 'bt709', 'bt709', 'bt709']);
    // Drawn before the tone-map, white came out at 255 (over range) and grey at 148.
    const white = await meanLuma(file, WHITE);
    const grey = await meanLuma(file, GREY);
    assert.ok(Math.abs(white - 235) <= 6, `the logo's white is SDR white (235): ${white}`);
    assert.ok(Math.abs(grey - 126) <= 6, `the logo's grey is its own (126): ${grey}`);
  });

  test('split_screen: the PQ cell is tone-mapped and the output tagged BT.709; hdr keep is refused', async () => {
    const out = path.join(t.filesDir, 'out-grid');
    const { MediaID: id } = await t.call('json', {
      action: 'AddMedia', source: [`file://${pq}`, `file://${sdr}`], split_screen: { columns: '2', rows: '1' },
      format: [
        { output: 'mp4', turbo: 'yes', destination: `file://${out}/grid.mp4` },
        { output: 'mp4', video_codec: 'libx265', hdr: 'keep', turbo: 'yes', destination: `file://${out}/kept.mp4` },
      ],
    });
    const { final } = await untilFinal(t, id);
    const [grid, kept] = asList(final.format);
    assert.equal(grid!.status, 'Finished', grid!.description);
    const file = path.join(out, 'grid.mp4');
    assert.deepEqual(await tags(file), ['yuv420p', 'bt709', 'bt709', 'bt709']);
    const cell = await meanLuma(file, 'crop=640:260:0:100');
    assert.ok(Math.abs(cell - reference) / reference <= 0.05, `the PQ cell's mean luma ${cell.toFixed(1)} is within 5 % of the reference tone-map ${reference.toFixed(1)}`);
    assert.equal(kept!.status, 'Error');
    assert.match(String(kept!.description), /hdr keep cannot be honoured when the sources are shown side by side \(split_screen\)/);
  });

  test('joined with a logo: the PQ part is tone-mapped, the logo drawn in SDR, the output tagged BT.709', async () => {
    const out = path.join(t.filesDir, 'out-join');
    const { MediaID: id } = await t.call('json', {
      action: 'AddMedia', source: [`file://${pq}`, `file://${sdr}`],
      format: { output: 'mp4', turbo: 'yes', logo: logoField(), destination: `file://${out}/joined.mp4` },
    });
    const { final } = await untilFinal(t, id);
    const f = asList(final.format)[0]!;
    assert.equal(f.status, 'Finished', f.description);
    const file = path.join(out, 'joined.mp4');
    assert.deepEqual(await tags(file), ['yuv420p', 'bt709', 'bt709', 'bt709']);
    const hdrPart = await meanLuma(file, 'trim=end=1.8,crop=640:260:0:100');
    assert.ok(Math.abs(hdrPart - reference) / reference <= 0.05, `the PQ part's mean luma ${hdrPart.toFixed(1)} is within 5 % of the reference tone-map ${reference.toFixed(1)}`);
    const white = await meanLuma(file, `trim=end=1.8,${WHITE}`);
    assert.ok(Math.abs(white - 235) <= 6, `the logo's white is SDR white (235): ${white}`);
  });
});
