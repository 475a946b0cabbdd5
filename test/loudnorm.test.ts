/**
 * loudnorm and audio_normalization through the API: the output's integrated loudness, measured
 * with FFmpeg's ebur128 filter, lands on the target whatever the source's level.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { asList, exec, startTestServer, untilFinal, type TestServer } from './helpers.ts';

/** Integrated loudness (LUFS) and true peak (dBTP) from ebur128's summary. */
async function loudness(file: string): Promise<{ integrated: number; truePeak: number }> {
  const { stderr } = await exec('ffmpeg', ['-nostats', '-hide_banner', '-i', file, '-map', '0:a:0', '-af', 'ebur128=peak=true', '-f', 'null', '-']);
  const summary = stderr.slice(stderr.lastIndexOf('Summary:'));
  const integrated = Number(/I:\s+(-?[\d.]+) LUFS/.exec(summary)?.[1]);
  const truePeak = Number(/Peak:\s+(-?[\d.]+|-inf) dBFS/.exec(summary)?.[1]);
  assert.ok(Number.isFinite(integrated), `no integrated loudness in: ${summary}`);
  return { integrated, truePeak };
}

const within = (actual: number, target: number, tolerance: number, what: string): void =>
  assert.ok(Math.abs(actual - target) <= tolerance, `${what}: ${actual} LUFS, expected ${target} ± ${tolerance}`);

describe('loudness normalisation', () => {
  let t: TestServer;
  let quiet: string;
  let loud: string;

  before(async () => {
    t = await startTestServer();
    await fs.mkdir(t.filesDir, { recursive: true });
    quiet = path.join(t.filesDir, 'quiet.m4a');
    await exec('ffmpeg', ['-v', 'error', '-y', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000:duration=3,volume=-30dB', '-ac', '2', '-c:a', 'aac', quiet]);
    loud = path.join(t.filesDir, 'loud.mp4');
    await exec('ffmpeg', [
      '-v', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=size=160x96:rate=15:duration=3',
      '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000:duration=3,volume=15dB', '-ac', '2',
      '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', '-c:a', 'aac', loud,
    ]);
  });
  after(() => t.close());

  test('a very quiet and a very loud source both come out at the asked loudness', async () => {
    const q = await loudness(quiet);
    const l = await loudness(loud);
    assert.ok(q.integrated < -45, `the quiet source is quiet: ${q.integrated}`);
    assert.ok(l.integrated > -10, `the loud source is loud: ${l.integrated}`);

    const out = path.join(t.filesDir, 'out');
    const quietJob = await t.call('json', {
      action: 'AddMedia',
      source: `file://${quiet}`,
      format: [
        { output: 'm4a', loudnorm: '-16', destination: `file://${out}/q16.m4a` },
        { output: 'mp3', loudnorm: 'yes', destination: `file://${out}/q23.mp3` },
        { output: 'm4a', audio_normalization: '50', destination: `file://${out}/qn50.m4a` },
        { output: 'm4a', audio_bitrate: '96k', destination: `file://${out}/plain.m4a` },
      ],
    });
    const loudJob = await t.call('json', {
      action: 'AddMedia',
      source: `file://${loud}`,
      format: [
        { output: 'mp4', loudnorm: '-23', loudnorm_peak: '-2', destination: `file://${out}/l23.mp4` },
        { output: 'webm', loudnorm: '-16', turbo: 'yes', destination: `file://${out}/l16.webm` },
      ],
    });
    for (const job of [quietJob, loudJob]) {
      const { final } = await untilFinal(t, job.MediaID);
      assert.equal(final.status, 'Finished', JSON.stringify(final));
      for (const f of asList(final.format)) assert.equal(f.status, 'Finished', `${f.output}: ${f.description}`);
    }

    within((await loudness(path.join(out, 'q16.m4a'))).integrated, -16, 1.5, 'quiet → -16');
    within((await loudness(path.join(out, 'q23.mp3'))).integrated, -23, 1.5, 'quiet → loudnorm yes (-23)');
    const n50 = await loudness(path.join(out, 'qn50.m4a'));
    within(n50.integrated, -23, 1.5, 'quiet → audio_normalization 50 (EBU R128)');
    within((await loudness(path.join(out, 'plain.m4a'))).integrated, q.integrated, 1, 'no loudnorm → the level is untouched');
    const l23 = await loudness(path.join(out, 'l23.mp4'));
    within(l23.integrated, -23, 1.5, 'loud → -23');
    // One sine tone has no peaks above its loudness, so -2 dBTP is met with room to spare.
    assert.ok(l23.truePeak <= -2 + 0.5, `true peak ${l23.truePeak} dBTP under the asked -2`);
    within((await loudness(path.join(out, 'l16.webm'))).integrated, -16, 1.5, 'loud → -16 (Opus)');
    const { stdout } = await exec('ffprobe', ['-v', 'error', '-select_streams', 'a:0', '-show_entries', 'stream=sample_rate', '-of', 'csv=p=0', path.join(out, 'l23.mp4')]);
    assert.equal(stdout.trim(), '48000', 'loudnorm works at 192 kHz inside; the output keeps the source rate');
  });
  test('advanced_hls: streams asking different loudness get their own audio renditions', async () => {
    const out = path.join(t.filesDir, 'hls');
    const { MediaID: id } = await t.call('json', {
      action: 'AddMedia',
      source: `file://${loud}`,
      format: {
        output: 'advanced_hls', segment_duration: '1', size: '0x96', turbo: 'yes',
        stream: [
          { bitrate: '150k', loudnorm: '-16', sub_path: 'norm' },
          { bitrate: '100k', sub_path: 'plain' },
          { bitrate: '120k', loudnorm: '-16', sub_path: 'norm2' },
        ],
        destination: `file://${out}/video.m3u8`,
      },
    });
    const { final } = await untilFinal(t, id);
    assert.equal(final.status, 'Finished', JSON.stringify(final));
    const renditions = (await fs.readdir(out)).filter((d) => d.startsWith('audio')).sort();
    assert.deepEqual(renditions, ['audio_0', 'audio_1'], 'norm and norm2 share one rendition, plain has its own');
    const levels = await Promise.all(renditions.map(async (r) => (await loudness(path.join(out, r, 'index.m3u8'))).integrated));
    const source = (await loudness(loud)).integrated;
    assert.ok(levels.some((l) => Math.abs(l - -16) <= 1.5), `one rendition at -16: ${levels.join(', ')}`);
    assert.ok(levels.some((l) => Math.abs(l - source) <= 1), `one rendition untouched (${source}): ${levels.join(', ')}`);
  });
});
