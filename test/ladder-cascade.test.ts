/**
 * Smaller rungs of a ladder are scaled from the next larger one (1080p → 720p → 480p), not from
 * the source each time. This must not cost quality, and a letterboxed rung must still be made
 * from the source's own picture.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { ffmpeg, planFixture, run } from './plan-fixture.ts';

const fx = planFixture('encodery-cascade-', {
  setup: async (f) => {
    await ffmpeg('-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=25:duration=2', '-c:v', 'libx264', '-crf', '12', '-pix_fmt', 'yuv420p', f.src('clip.mp4'));
  },
});

test('a ladder scales each rung from the next larger one, at the quality of scaling the source directly', async () => {
  const fields = {
    output: 'advanced_hls', segment_duration: '1',
    stream: [
      { sub_path: 'small', size: '0x180', bitrate: '400k' },
      // Letterboxed: a square box around a 16:9 picture. Never a source for the others.
      { sub_path: 'square', size: '320x320', bitrate: '400k' },
      { sub_path: 'full', size: '0x360', bitrate: '3000k' },
      { sub_path: 'mid', size: '0x240', bitrate: '1500k' },
    ],
  };
  const { plan } = await fx.encodeAll(fields, [fx.src('clip.mp4')], 'clip');

  // The source picture goes to two chains only: the full rung (which feeds mid, which feeds small) and the letterboxed one.
  const graph = plan.passes[0]![plan.passes[0]!.indexOf('-filter_complex') + 1]!;
  assert.match(graph, /^\[0:v:0\]split=2\[/, `graph: ${graph}`);

  for (const [folder, size] of [['full', '640:360'], ['mid', '426:240'], ['small', '320:180']] as const) {
    const db = await psnr(fx.out(join(folder, 'index.m3u8')), fx.src('clip.mp4'), `[1:v]scale=${size}[ref];[0:v][ref]psnr`);
    assert.ok(db > 34, `${folder}: PSNR ${db} dB against the source scaled directly`);
  }
  // The square rung: black bars above and below, the picture between them.
  const picture = await psnr(fx.out(join('square', 'index.m3u8')), fx.src('clip.mp4'), '[0:v]crop=320:180:0:70[c];[1:v]scale=320:180[ref];[c][ref]psnr');
  assert.ok(picture > 30, `square rung picture: PSNR ${picture} dB`);
  const { stderr } = await run('ffmpeg', ['-hide_banner', '-i', fx.out(join('square', 'index.m3u8')), '-vf', 'crop=320:60:0:0,signalstats,metadata=print:key=lavfi.signalstats.YAVG', '-frames:v', '1', '-f', 'null', '-']);
  const yavg = Number(/YAVG=([\d.]+)/.exec(stderr)?.[1]);
  assert.ok(yavg < 20, `the bar above the picture is black (mean luma ${yavg})`);
});

async function psnr(file: string, reference: string, lavfi: string): Promise<number> {
  const { stderr } = await run('ffmpeg', ['-hide_banner', '-i', file, '-i', reference, '-lavfi', lavfi, '-f', 'null', '-']);
  const m = /PSNR .*average:([\d.]+|inf)/.exec(stderr);
  if (!m) throw new Error(`no PSNR in: ${stderr.slice(-500)}`);
  return m[1] === 'inf' ? Infinity : Number(m[1]);
}
