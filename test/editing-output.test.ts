/**
 * Picture editing through the API: logo, text_overlay and fades, checked on decoded frames and
 * audio levels of real outputs; a logo that is not an image fails only its own task.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { asList, exec, ffprobe, serveFiles, startTestServer, untilFinal, type TestServer } from './helpers.ts';

const W = 320;
const H = 180;
const GRAY = [128, 128, 128];
const RED = [255, 0, 0];
/** Debian's FFmpeg depends on fontconfig, which brings DejaVu. */
const FONT = '/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf';

/** One decoded frame at `at` seconds as packed RGB. */
async function frameAt(file: string, at: number, width = W, height = H): Promise<Buffer> {
  const { stdout } = await exec('ffmpeg', ['-v', 'error', '-ss', String(at), '-i', file, '-frames:v', '1', '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-'], {
    encoding: 'buffer', maxBuffer: 16 * 1024 * 1024,
  });
  assert.equal(stdout.length, width * height * 3, `a ${width}x${height} frame from ${path.basename(file)}`);
  return stdout;
}

/** The mean colour of a rectangle of a frame. */
function meanRgb(frame: Buffer, x: number, y: number, w: number, h: number, width = W): number[] {
  const sum = [0, 0, 0];
  for (let row = y; row < y + h; row++) {
    for (let col = x; col < x + w; col++) for (let c = 0; c < 3; c++) sum[c]! += frame[(row * width + col) * 3 + c]!;
  }
  return sum.map((s) => s / (w * h));
}

function near(actual: number[], expected: number[], tolerance: number, what: string): void {
  const off = actual.some((v, i) => Math.abs(v - expected[i]!) > tolerance);
  assert.ok(!off, `${what}: ${actual.map((v) => v.toFixed(0)).join(',')}, expected ${expected.join(',')} ± ${tolerance}`);
}

/** Pixels of a rectangle that differ from `colour` by more than `tolerance` in some channel. */
function changedPixels(frame: Buffer, colour: number[], x: number, y: number, w: number, h: number, tolerance = 24): number {
  let n = 0;
  for (let row = y; row < y + h; row++) {
    for (let col = x; col < x + w; col++) {
      const i = (row * W + col) * 3;
      if ([0, 1, 2].some((c) => Math.abs(frame[i + c]! - colour[c]!) > tolerance)) n++;
    }
  }
  return n;
}

/** The loudest sample of the first `seconds` after `from`, in dBFS. */
async function maxVolume(file: string, from: number, seconds: number): Promise<number> {
  const { stderr } = await exec('ffmpeg', ['-v', 'info', '-nostats', '-ss', String(from), '-t', String(seconds), '-i', file, '-vn', '-af', 'volumedetect', '-f', 'null', '-']);
  const m = /max_volume: (-?[\d.]+|-inf) dB/.exec(stderr);
  assert.ok(m, `volumedetect output: ${stderr.slice(-400)}`);
  return m[1] === '-inf' ? -Infinity : Number(m[1]);
}

describe('AddMedia with logo, text_overlay and fades', () => {
  let t: TestServer;
  let clip: string;
  let assets: { url: string; close(): Promise<void> };
  let out: string;

  before(async () => {
    t = await startTestServer();
    await fs.mkdir(t.filesDir, { recursive: true });
    out = path.join(t.filesDir, 'out');
    // A flat gray picture and a steady tone: every edit shows against them.
    clip = path.join(t.filesDir, 'gray.mp4');
    await exec('ffmpeg', [
      '-v', 'error', '-y', '-f', 'lavfi', '-i', `color=c=0x808080:s=${W}x${H}:r=25:d=2`,
      '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000:duration=2',
      '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-ac', '2', clip,
    ]);
    const served = path.join(t.filesDir, 'served');
    await fs.mkdir(served);
    await exec('ffmpeg', ['-v', 'error', '-y', '-f', 'lavfi', '-i', 'color=c=0xff0000:s=40x30', '-frames:v', '1', path.join(served, 'logo.png')]);
    await exec('ffmpeg', ['-v', 'error', '-y', '-f', 'lavfi', '-i', 'color=c=0x0000ff:s=64x48:r=25:d=1', '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', path.join(served, 'blue.mp4')]);
    // Fully transparent blue: invisible when blended, blue when opaque.
    await exec('ffmpeg', ['-v', 'error', '-y', '-f', 'lavfi', '-i', 'color=c=0x0000ff@0.0:s=40x30,format=rgba', '-frames:v', '1', path.join(served, 'alpha.png')]);
    // Red left half, green right half: the green is keyed out with logo_transparent.
    await exec('ffmpeg', ['-v', 'error', '-y', '-f', 'lavfi', '-i', 'color=c=red:s=20x30', '-f', 'lavfi', '-i', 'color=c=0x00ff00:s=20x30', '-filter_complex', 'hstack', '-frames:v', '1', path.join(served, 'keyed.png')]);
    // Named like an image, but text: only probing can tell.
    await fs.writeFile(path.join(served, 'fake.png'), 'this is not a picture\n');
    await fs.writeFile(path.join(served, 'fake.ttf'), 'this is not a font\n');
    await fs.copyFile(FONT, path.join(served, 'font.ttf'));
    assets = await serveFiles(served);
  });
  after(async () => {
    await assets.close();
    await t.close();
  });

  test('each format gets its own editing; a logo that is not an image fails only its task', async () => {
    const dest = (name: string): string => `file://${out}/${name}`;
    const added = await t.call('json', {
      action: 'AddMedia',
      source: `file://${clip}`,
      format: [
        { output: 'mp4', logo: { logo_source: `${assets.url}/logo.png`, logo_x: '200', logo_y: '40' }, destination: dest('logo.mp4') },
        { output: 'mp4', fade_in: '0:1', destination: dest('fade.mp4') },
        {
          output: 'mp4', destination: dest('text.mp4'),
          text_overlay: { text: "It's 100%: {ok}", font_source: `${assets.url}/font.ttf`, font_color: 'ffffff', font_size: '28', overlay_x: '20', overlay_y: '120' },
        },
        { output: 'mp4', logo: { logo_source: `${assets.url}/fake.png` }, destination: dest('fake.mp4') },
        {
          output: 'mp4', destination: dest('overlays.mp4'),
          overlay: [
            { overlay_source: `${assets.url}/blue.mp4`, overlay_right: '10', overlay_bottom: '10', overlay_start: '0.5', overlay_duration: '0.6' },
            { overlay_source: `${assets.url}/logo.png`, overlay_left: '50%', overlay_top: 'center' },
          ],
        },
        { output: 'mp4', text_overlay: { text: 'x', font_source: `${assets.url}/fake.ttf` }, destination: dest('fakefont.mp4') },
        { output: 'mp4', logo: { logo_source: `${assets.url}/alpha.png`, logo_x: '200', logo_y: '40' }, destination: dest('blend.mp4') },
        { output: 'mp4', logo: { logo_source: `${assets.url}/alpha.png`, logo_x: '200', logo_y: '40', logo_mode: '1' }, destination: dest('opaque.mp4') },
        { output: 'mp4', logo: { logo_source: `${assets.url}/keyed.png`, logo_x: '200', logo_y: '40', logo_transparent: '00FF00' }, destination: dest('keyed.mp4') },
        // The same logo as the first format: drawn once, before the picture is cut into variants.
        {
          output: 'advanced_hls', segment_duration: '1', logo: { logo_source: `${assets.url}/logo.png`, logo_x: '200', logo_y: '40' },
          stream: [{ size: '320x180' }, { size: '160x90' }], destination: dest('hls/video.m3u8'),
        },
      ],
    });
    assert.equal(added.message, 'Added', JSON.stringify(added));
    const { final } = await untilFinal(t, added.MediaID as string);
    const formats = asList(final.format);
    assert.deepEqual(formats.map((f: any) => f.status), ['Finished', 'Finished', 'Finished', 'Error', 'Finished', 'Error', 'Finished', 'Finished', 'Finished', 'Finished'], JSON.stringify(formats.map((f: any) => f.description)));
    assert.match(formats[3]!.description!, /logo_source http:\/\/127\.0\.0\.1:\d+\/fake\.png is not an image FFmpeg can read: /);
    assert.match(formats[5]!.description!, /font_source http:\/\/127\.0\.0\.1:\d+\/fake\.ttf is not a TrueType or OpenType font/);

    // The logo covers 200..240 x 40..70, and nothing else.
    const logo = await frameAt(path.join(out, 'logo.mp4'), 1);
    near(meanRgb(logo, 204, 44, 32, 22), RED, 30, 'inside the logo');
    near(meanRgb(logo, 20, 40, 40, 30), GRAY, 8, 'left of the logo');
    near(meanRgb(logo, 200, 100, 40, 30), GRAY, 8, 'below the logo');
    assert.ok(changedPixels(logo, GRAY, 0, 0, W, 36) === 0, 'rows above the logo untouched');
    assert.ok(changedPixels(logo, GRAY, 0, 74, W, H - 74) === 0, 'rows below the logo untouched');

    // logo_mode 0 blends with the image's transparency, 1 ignores it; logo_transparent keys a colour out.
    near(meanRgb(await frameAt(path.join(out, 'blend.mp4'), 1), 204, 44, 32, 22), GRAY, 8, 'a transparent logo blended');
    near(meanRgb(await frameAt(path.join(out, 'opaque.mp4'), 1), 204, 44, 32, 22), [0, 0, 255], 40, 'a transparent logo made opaque');
    const keyed = await frameAt(path.join(out, 'keyed.mp4'), 1);
    near(meanRgb(keyed, 203, 44, 14, 22), RED, 30, 'the logo\'s red half');
    near(meanRgb(keyed, 223, 44, 14, 22), GRAY, 10, 'the logo\'s green half, keyed out');

    // A 64x48 video from 0.5 s for 0.6 s at 10 px from the right and bottom; a picture at 50% across, centred down.
    const overlays = path.join(out, 'overlays.mp4');
    const BLUE = [0, 0, 255];
    near(meanRgb(await frameAt(overlays, 0.25), 250, 126, 56, 40), GRAY, 8, 'before the video overlay starts');
    near(meanRgb(await frameAt(overlays, 0.8), 250, 126, 56, 40), BLUE, 40, 'while the video overlay plays');
    near(meanRgb(await frameAt(overlays, 1.5), 250, 126, 56, 40), GRAY, 8, 'after overlay_duration');
    near(meanRgb(await frameAt(overlays, 1.5), 164, 79, 32, 22), RED, 30, 'the picture overlay at 50% / center');
    near(meanRgb(await frameAt(overlays, 1.5), 120, 79, 32, 22), GRAY, 8, 'left of the picture overlay');

    // In the small variant the logo is scaled with the picture: 100..120 x 20..35.
    const small = await frameAt(path.join(out, 'hls/stream_1/index.m3u8'), 1, 160, 90);
    near(meanRgb(small, 102, 22, 16, 11, 160), RED, 40, 'the logo in the 160x90 variant');
    near(meanRgb(small, 20, 50, 40, 30, 160), GRAY, 8, 'elsewhere in the 160x90 variant');
    near(meanRgb(await frameAt(path.join(out, 'hls/stream_0/index.m3u8'), 1), 204, 44, 32, 22), RED, 30, 'the logo in the 320x180 variant');

    // fade_in 0:1: black first frame and silent start, full picture and tone after the fade.
    const fade = path.join(out, 'fade.mp4');
    const first = meanRgb(await frameAt(fade, 0), 0, 0, W, H);
    assert.ok(first.every((c) => c < 20), `first frame near black: ${first.map((c) => c.toFixed(1))}`);
    near(meanRgb(await frameAt(fade, 1.5), 0, 0, W, H), GRAY, 6, 'after the fade');
    const start = await maxVolume(fade, 0, 0.1);
    const later = await maxVolume(fade, 1.2, 0.3);
    assert.ok(start < -30, `audio starts near silent: ${start} dB`);
    assert.ok(later > -24, `audio is back after the fade: ${later} dB`);
    // The other formats did not get the fade, nor the logo.
    near(meanRgb(await frameAt(path.join(out, 'text.mp4'), 0), 0, 0, W, 100), GRAY, 6, 'text output: no fade');
    near(meanRgb(await frameAt(path.join(out, 'text.mp4'), 1), 204, 44, 32, 22), GRAY, 6, 'text output: no logo');
    assert.ok((await maxVolume(path.join(out, 'logo.mp4'), 0.05, 0.1)) > -24, 'logo output: no audio fade');

    // White text drawn from (20,120), 28 px: white pixels in its box, untouched gray elsewhere.
    const text = await frameAt(path.join(out, 'text.mp4'), 1);
    const inBox = changedPixels(text, GRAY, 20, 118, 240, 36, 60);
    assert.ok(inBox > 300, `text pixels in the box: ${inBox}`);
    assert.equal(changedPixels(text, GRAY, 0, 0, W, 110), 0, 'above the text untouched');
    assert.equal(changedPixels(text, GRAY, 0, 0, 14, H), 0, 'left of the text untouched');
  });

  test('a logo URL that is plainly not an image is refused at AddMedia, naming logo_source', async () => {
    const r = await t.call('json', { action: 'AddMedia', source: `file://${clip}`, format: { output: 'mp4', logo: { logo_source: `${assets.url}/clip.mp4` } } });
    assert.match(JSON.stringify(r), /logo_source names a \.mp4 file/);
    const outside = await t.call('json', { action: 'AddMedia', source: `file://${clip}`, format: { output: 'mp4', logo: { logo_source: 'file:///etc/logo.png' } } });
    assert.match(JSON.stringify(outside), /logo_source: The source file:\/\/ path is outside the allowed file roots/);
  });

  test('split_screen shows two sources side by side in every video format', async () => {
    // Two different pictures of 160x90; only the first has sound.
    const a = path.join(t.filesDir, 'a.mp4');
    const b = path.join(t.filesDir, 'b.mp4');
    await exec('ffmpeg', ['-v', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=s=160x90:r=25:d=1', '-f', 'lavfi', '-i', 'sine=d=1', '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', '-c:a', 'aac', a]);
    await exec('ffmpeg', ['-v', 'error', '-y', '-f', 'lavfi', '-i', 'smptebars=s=160x90:r=25:d=1', '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', b]);
    const added = await t.call('json', {
      action: 'AddMedia',
      source: [`file://${a}`, `file://${b}`],
      split_screen: { columns: '2', rows: '1', padding_left: '4', padding_right: '4', padding_top: '2', padding_bottom: '2' },
      format: [
        { output: 'mp4', destination: `file://${out}/grid.mp4` },
        { output: 'webm', size: '168x0', destination: `file://${out}/grid.webm` },
      ],
    });
    assert.equal(added.message, 'Added', JSON.stringify(added));
    const { final } = await untilFinal(t, added.MediaID as string);
    assert.equal(final.status, 'Finished', JSON.stringify(asList(final.format).map((f: any) => f.description)));

    const grid = path.join(out, 'grid.mp4');
    const p = await ffprobe(grid);
    const v = p.streams.find((s) => s.codec_type === 'video')!;
    assert.deepEqual([v.width, v.height], [2 * (160 + 8), 90 + 4]);
    assert.ok(p.streams.some((s) => s.codec_type === 'audio'), 'the first source\'s sound is kept');
    assert.ok(Math.abs(Number(p.format.duration) - 1) < 0.2, `one source long, not two: ${p.format.duration}`);
    const psnr = async (x: number, source: string): Promise<number> => {
      const { stderr } = await exec('ffmpeg', ['-v', 'info', '-nostats', '-i', grid, '-i', source, '-filter_complex', `[0:v]crop=160:90:${x}:2[c];[c][1:v]psnr`, '-f', 'null', '-']);
      const m = /PSNR .*average:([\d.]+|inf)/.exec(stderr);
      assert.ok(m, stderr.slice(-300));
      return m[1] === 'inf' ? 100 : Number(m[1]);
    };
    const [leftA, rightB, leftB] = [await psnr(4, a), await psnr(172, b), await psnr(4, b)];
    assert.ok(leftA > 30, `left cell is source 1: PSNR ${leftA}`);
    assert.ok(rightB > 30, `right cell is source 2: PSNR ${rightB}`);
    assert.ok(leftB < 20, `left cell is not source 2: PSNR ${leftB}`);
    const webm = (await ffprobe(path.join(out, 'grid.webm'))).streams.find((s) => s.codec_type === 'video')!;
    assert.deepEqual([webm.width, webm.height], [168, 48], 'the grid scaled like any picture');
  });

  test('joined sources with start, fade_in and a logo: edited on the joined timeline', async () => {
    // A silent 4:3 second part: it is fitted into the first source's 320x180 and given silence.
    const bars = path.join(t.filesDir, 'bars.mp4');
    await exec('ffmpeg', ['-v', 'error', '-y', '-f', 'lavfi', '-i', 'smptebars=s=120x90:r=25:d=1', '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', bars]);
    const added = await t.call('json', {
      action: 'AddMedia',
      source: [`file://${clip}`, `file://${bars}`],
      format: {
        output: 'mp4', start: '0.5', fade_in: '0:0.5', logo: { logo_source: `${assets.url}/logo.png`, logo_x: '200', logo_y: '4' },
        destination: `file://${out}/joined.mp4`,
      },
    });
    assert.equal(added.message, 'Added', JSON.stringify(added));
    const { final } = await untilFinal(t, added.MediaID as string);
    assert.equal(final.status, 'Finished', JSON.stringify(asList(final.format).map((f: any) => f.description)));
    const joined = path.join(out, 'joined.mp4');
    const p = await ffprobe(joined);
    assert.ok(Math.abs(Number(p.format.duration) - 2.5) < 0.15, `2 s + 1 s - 0.5 s: ${p.format.duration}`);
    const first = meanRgb(await frameAt(joined, 0), 0, 0, W, H);
    assert.ok(first.every((c) => c < 20), `the fade starts at the trimmed start: ${first.map((c) => c.toFixed(1))}`);
    assert.ok((await maxVolume(joined, 0, 0.05)) < -30, 'and so does the sound');
    near(meanRgb(await frameAt(joined, 1), 204, 8, 32, 22), RED, 30, 'logo over the first source');
    const second = await frameAt(joined, 2.1);
    near(meanRgb(second, 204, 8, 32, 22), RED, 30, 'logo over the second source');
    near(meanRgb(second, 0, 0, 30, 180), [0, 0, 0], 12, 'the narrower second source is padded');
  });

  test('split_screen that cannot hold the sources is refused at AddMedia', async () => {
    const r = await t.call('json', { action: 'AddMedia', source: [`file://${clip}`, `file://${clip}`, `file://${clip}`], split_screen: { columns: '2', rows: '1' }, format: { output: 'mp4' } });
    assert.match(JSON.stringify(r), /split_screen has 2 columns and 1 rows, room for 2 sources, but 3 are given/);
    const one = await t.call('json', { action: 'AddMedia', source: `file://${clip}`, split_screen: { columns: '2' }, format: { output: 'mp4' } });
    assert.match(JSON.stringify(one), /split_screen needs at least 2 sources/);
    const bad = await t.call('json', { action: 'AddMedia', source: [`file://${clip}`, `file://${clip}`], split_screen: { columns: 'two' }, format: { output: 'mp4' } });
    assert.match(JSON.stringify(bad), /split_screen columns \\"two\\" is not a whole number/);
  });
});
