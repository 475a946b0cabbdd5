/**
 * The quality report on every encoded video output: PSNR and SSIM against the source, loudness,
 * duration difference and realtime factor, measured in the encode's own FFmpeg run, shown in
 * extended GetStatus and the notify payload, and off with ENCODERY_QUALITY_REPORT=off.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { asList, exec, startReceiver, startTestServer, untilFinal, waitFor, type TestServer } from './helpers.ts';
import { QualityLog } from '../src/pipeline/quality/log.ts';
import { probeMedia } from '../src/pipeline/ffmpeg/probe.ts';

/** A stereo 1 kHz tone of peak amplitude -23 dBFS on both channels measures -23 LUFS (EBU Tech 3341). */
const TONE_LUFS = -23;

async function makeToneClip(file: string): Promise<string> {
  const amplitude = (10 ** (TONE_LUFS / 20)).toFixed(7);
  const tone = `${amplitude}*sin(2*PI*1000*t)`;
  await exec('ffmpeg', [
    '-hide_banner', '-loglevel', 'error', '-y',
    '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=25:duration=3',
    '-f', 'lavfi', '-i', `aevalsrc=${tone}|${tone}:s=48000:d=3`,
    '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-b:a', '192k', file,
  ]);
  return file;
}

/**
 * What a viewer's decoder gets: FFmpeg's psnr and ssim filters on the decoded output against the
 * decoded source (same size, so the source is what the encoder was fed). PSNR as x264 averages it:
 * the mean over frames of each frame's PSNR of Y, U and V together; SSIM: the mean luma SSIM.
 */
async function decodedFigures(output: string, source: string, statsFile: string): Promise<{ psnr: number; ssim: number }> {
  const { stderr } = await exec('ffmpeg', [
    '-hide_banner', '-nostdin', '-i', output, '-i', source, '-an',
    '-lavfi', `[1:v]split[s0][s1];[0:v][s0]psnr=stats_file=${statsFile}[d];[d][s1]ssim`, '-f', 'null', '-',
  ]);
  const frames = (await fs.readFile(statsFile, 'utf8')).trim().split('\n').map((l) => Number(/psnr_avg:([\d.]+)/.exec(l)![1]));
  return { psnr: frames.reduce((a, b) => a + b, 0) / frames.length, ssim: Number(/SSIM Y:([\d.]+)/.exec(stderr)![1]) };
}

const num = (s: unknown): number => {
  assert.equal(typeof s, 'string', `expected a decimal string, got ${JSON.stringify(s)}`);
  const n = Number(s);
  assert.ok(Number.isFinite(n), `not a number: ${String(s)}`);
  return n;
};

describe('quality report', () => {
  let t: TestServer;
  let clip: string;

  before(async () => {
    t = await startTestServer();
    await fs.mkdir(t.filesDir, { recursive: true });
    clip = await makeToneClip(path.join(t.filesDir, 'tone.mp4'));
  });
  after(() => t.close());

  test('every encoded video output reports PSNR, SSIM, loudness, duration difference and realtime factor; notify carries them', async () => {
    const receiver = await startReceiver();
    try {
      const out = path.join(t.filesDir, 'q');
      // One shared FFmpeg process: the figures of each encoder must reach its own task.
      const { MediaID: id } = await t.call('json', {
        action: 'AddMedia',
        source: `file://${clip}`,
        notify: `${receiver.url}/done`,
        notify_format: 'json',
        format: [
          { output: 'mp4', bitrate: '20k', destination: `file://${out}/low.mp4` },
          { output: 'mp4', bitrate: '1500k', smart_passthrough: 'no', destination: `file://${out}/high.mp4` },
          { output: 'mp4', video_codec: 'libx265', size: '160x120', turbo: 'yes', destination: `file://${out}/hevc.mp4` },
          { output: 'webm', size: '160x120', turbo: 'yes', destination: `file://${out}/a.webm` },
          { output: 'mp4', audio_codec: 'copy', size: '160x120', turbo: 'yes', destination: `file://${out}/copied.mp4` },
          // The source already fits: remuxed, so there is no encoder to ask.
          { output: 'mp4', bitrate: '3000k', destination: `file://${out}/same.mp4` },
          {
            output: 'advanced_hls', segment_duration: '1',
            stream: [{ size: '0x240', bitrate: '800k' }, { size: '0x120', bitrate: '30k' }],
            destination: `file://${out}/hls/video.m3u8`,
          },
        ],
      });
      const { final } = await untilFinal(t, id);
      assert.equal(final.status, 'Finished', JSON.stringify(final));
      const [low, high, hevc, webm, copied, same, hls] = asList(final.format);
      for (const f of [low, high, hevc, webm, copied, same, hls]) assert.ok(f!.quality_report, `${f!.output} ${f!.id}: no quality summary`);
      assert.equal(low!.command, high!.command, 'the formats share one FFmpeg process');

      for (const f of [low, high]) {
        const q = f!.quality_report;
        const psnr = num(q!.psnr);
        const ssim = num(q!.ssim);
        assert.ok(psnr > 15 && psnr < 70, `PSNR ${psnr} dB`);
        assert.ok(ssim > 0 && ssim <= 1, `SSIM ${ssim}`);
        assert.match(q!.psnr_method, /^libx264 statistics/);
        assert.match(q!.ssim_method, /^libx264 statistics/);
        assert.ok(Math.abs(num(q!.loudness) - TONE_LUFS) < 1, `loudness ${q!.loudness} LUFS, expected about ${TONE_LUFS}`);
        assert.match(q!.loudness_method, /ebur128/);
        assert.ok(Math.abs(num(q!.duration_difference)) < 0.2, `duration difference ${q!.duration_difference} s`);
        assert.ok(num(q!.realtime_factor) > 0);
      }
      assert.ok(num(high!.quality_report!.psnr) > num(low!.quality_report!.psnr) + 3, `1500k: ${high!.quality_report!.psnr} dB, 20k: ${low!.quality_report!.psnr} dB`);
      // The encoder's figures are what a decoder shows. x264 measures what it reconstructs (the frames
      // nothing refers to before its deblocking filter, which it skips for them): PSNR still agrees to
      // a few thousandths of a dB. Its SSIM windows sit 2 pixels off its block grid, FFmpeg's ssim
      // filter's on it: at 20k, where blocks show, that reads about 0.006 higher; at 1500k, the same.
      for (const [f, name, ssimTolerance] of [[low, 'low', 0.02], [high, 'high', 0.003]] as const) {
        const decoded = await decodedFigures(path.join(out, `${name}.mp4`), clip, path.join(out, 'psnr.log'));
        const q = f!.quality_report!;
        assert.ok(Math.abs(num(q.psnr) - decoded.psnr) < 0.05, `${name}: reported ${q.psnr} dB, decoded ${decoded.psnr.toFixed(3)} dB`);
        assert.ok(Math.abs(num(q.ssim) - decoded.ssim) < ssimTolerance, `${name}: reported SSIM ${q.ssim}, decoded ${decoded.ssim}`);
      }
      assert.ok(num(high!.quality_report!.ssim) > num(low!.quality_report!.ssim), `1500k: ${high!.quality_report!.ssim}, 20k: ${low!.quality_report!.ssim}`);

      assert.ok(num(hevc!.quality_report!.psnr) > 15 && num(hevc!.quality_report!.psnr) < 70, `HEVC PSNR ${hevc!.quality_report!.psnr}`);
      assert.ok(num(hevc!.quality_report!.ssim) > 0 && num(hevc!.quality_report!.ssim) <= 1);
      assert.match(hevc!.quality_report!.psnr_method, /^libx265 statistics/);

      // VP9 cannot report PSNR/SSIM: no number, and a method that says so.
      assert.equal(webm!.quality_report!.psnr, undefined);
      assert.equal(webm!.quality_report!.ssim, undefined);
      assert.match(webm!.quality_report!.psnr_method, /^not measured: libvpx-vp9/);
      assert.ok(Math.abs(num(webm!.quality_report!.loudness) - TONE_LUFS) < 1);
      assert.equal(copied!.quality_report!.loudness, undefined);
      assert.match(copied!.quality_report!.loudness_method, /^not measured: the audio was copied/);
      assert.ok(num(copied!.quality_report!.psnr) > 15);
      assert.match(same!.quality_report!.psnr_method, /^not measured: remuxed/);
      assert.equal(same!.quality_report!.psnr, undefined);
      assert.ok(Math.abs(num(same!.quality_report!.duration_difference)) < 0.2);

      // HLS: each variant's own figures; the output's are its worst variant's.
      const variants = asList(hls!.quality_report!.variant) as Record<string, string>[];
      assert.equal(variants.length, 2);
      const [big, small] = variants.map((v) => num(v.psnr));
      assert.ok(big! > small! + 3, `800k at 240p: ${big} dB, 30k at 120p: ${small} dB`);
      assert.equal(num(hls!.quality_report!.psnr), Math.min(big!, small!));
      assert.match(hls!.quality_report!.psnr_method, /^the lowest of 2 variants/);
      assert.ok(Math.abs(num(hls!.quality_report!.loudness) - TONE_LUFS) < 1);
      assert.ok(Math.abs(num(hls!.quality_report!.duration_difference)) < 0.3, `HLS duration difference ${hls!.quality_report!.duration_difference}`);
      // Read from the playlists, not by an ffprobe after the encode, and still ffprobe's figure for the delivered master.
      assert.match(hls!.quality_report!.duration_method, /#EXTINF durations of the first variant's media playlist/);
      const probed = await probeMedia(path.join(out, 'hls', 'video.m3u8'), { ffprobe: 'ffprobe', role: 'ownOutput' });
      assert.equal(num(hls!.quality_report!.duration_difference), Math.round((probed.durationSec - 3) * 1000) / 1000);

      // Simple GetStatus stays as it was.
      const simple = await t.call('json', { action: 'GetStatus', mediaid: id });
      for (const f of asList(simple.format)) assert.equal((f as { quality_report?: unknown }).quality_report, undefined);

      // XML renders the same figures as strings.
      const xml = await t.call('xml', { action: 'GetStatus', mediaid: id, extended: 'yes' });
      assert.equal(asList(xml.job.format)[1]!.quality_report!.psnr, high!.quality_report!.psnr);

      const hook = await waitFor(async () => receiver.received.find((r) => r.url === '/done'));
      const result = JSON.parse(new URLSearchParams(hook.body.toString()).get('json')!).result;
      const notified = asList(result.format) as { taskid: string; quality_report?: Record<string, string> }[];
      for (const f of [low, high, hevc, webm, copied, same, hls]) {
        assert.deepEqual(notified.find((n) => n.taskid === f!.id)?.quality_report, f!.quality_report, `notify quality of task ${f!.id}`);
      }
    } finally {
      await receiver.close();
    }
  });

  test('ENCODERY_QUALITY_REPORT=off measures nothing and reports nothing', async () => {
    const off = await startTestServer({ ENCODERY_QUALITY_REPORT: 'off' });
    try {
      await fs.mkdir(off.filesDir, { recursive: true });
      await fs.copyFile(clip, path.join(off.filesDir, 'tone.mp4'));
      const { MediaID: id } = await off.call('json', {
        action: 'AddMedia',
        source: `file://${path.join(off.filesDir, 'tone.mp4')}`,
        format: { output: 'mp4', size: '160x120', turbo: 'yes', destination: `file://${off.filesDir}/off.mp4` },
      });
      const { final } = await untilFinal(off, id);
      assert.equal(final.status, 'Finished', JSON.stringify(final));
      const f = asList(final.format)[0];
      assert.equal(f!.quality_report, undefined);
      assert.doesNotMatch(f!.command!, /psnr|ebur128/);
    } finally {
      await off.close();
    }
  });
});

describe('quality report of a split-and-stitch encode', () => {
  let t: TestServer;
  let clip: string;

  before(async () => {
    t = await startTestServer({ ENCODERY_SPLIT_CHUNK_SECONDS: '2', ENCODERY_SPLIT_CONCURRENCY: '2' });
    await fs.mkdir(t.filesDir, { recursive: true });
    clip = path.join(t.filesDir, 'tone6.mp4');
    // 6 s, a keyframe every second exactly, so the split cuts it into three 2-s chunks.
    const amplitude = (10 ** (TONE_LUFS / 20)).toFixed(7);
    const tone = `${amplitude}*sin(2*PI*1000*t)`;
    await exec('ffmpeg', [
      '-hide_banner', '-loglevel', 'error', '-y',
      '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=25:duration=6',
      '-f', 'lavfi', '-i', `aevalsrc=${tone}|${tone}:s=48000:d=6`,
      '-c:v', 'libx264', '-preset', 'ultrafast', '-g', '25', '-keyint_min', '25', '-sc_threshold', '0', '-pix_fmt', 'yuv420p',
      '-c:a', 'aac', '-b:a', '192k', clip,
    ]);
  });
  after(() => t.close());

  const format = (dest: string) => ({ output: 'mp4', video_codec: 'libx264', turbo: 'yes', destination: dest });

  test('its chunks\' encoder statistics are combined frame-weighted, the audio measured, the joined output checked', async () => {
    const out = path.join(t.filesDir, 'split');
    const split = await t.call('json', { action: 'AddMedia', source: `file://${clip}`, multijob_workflow: 'yes', format: format(`file://${out}/split.mp4`) });
    const whole = await t.call('json', { action: 'AddMedia', source: `file://${clip}`, format: format(`file://${out}/whole.mp4`) });
    const done = await untilFinal(t, split.MediaID as string);
    const plain = await untilFinal(t, whole.MediaID as string);
    assert.equal(done.final.status, 'Finished', JSON.stringify(done.final));
    assert.equal(plain.final.status, 'Finished', JSON.stringify(plain.final));
    const status = await t.call('json', { action: 'GetStatus', mediaid: split.MediaID, extended: 'yes', include_task_status: 'yes' });
    const f = asList(status.job.format)[0];
    const log = asList(f!.task_status?.state).map((s: { message: string }) => s.message);
    const chunks = log.map((m: string) => /^Split into (\d+) chunks/.exec(m)).find((m: RegExpExecArray | null) => m !== null);
    assert.ok(chunks && Number(chunks[1]) >= 2, log.join('\n'));
    assert.match(f!.command!, /-flags:v \+psnr -ssim:v 1/, 'each chunk\'s encoder is asked for its statistics');
    assert.match(f!.command!, /ebur128/, 'the audio unit is measured');

    const q = f!.quality_report;
    assert.ok(q, `no quality summary on the split encode: ${JSON.stringify(f)}`);
    const reference = asList(plain.final.format)[0]!.quality_report;
    // The chunks are encoded apart at the same settings: the whole output's figures are close to a one-piece encode's.
    assert.ok(Math.abs(num(q.psnr) - num(reference!.psnr)) < 2, `split PSNR ${q.psnr} dB, one piece ${reference!.psnr} dB`);
    assert.ok(Math.abs(num(q.ssim) - num(reference!.ssim)) < 0.02, `split SSIM ${q.ssim}, one piece ${reference!.ssim}`);
    assert.match(q.psnr_method, /^libx264 statistics: .*frame-weighted mean of the \d+ chunks' own means/);
    assert.match(q.ssim_method, /frame-weighted/);
    assert.ok(Math.abs(num(q.loudness) - TONE_LUFS) < 1, `loudness ${q.loudness} LUFS, expected about ${TONE_LUFS}`);
    assert.match(q.loudness_method, /ebur128/);
    assert.ok(Math.abs(num(q.duration_difference)) < 0.2, `duration difference ${q.duration_difference} s`);
    assert.ok(num(q.realtime_factor) > 0);
    assert.match(q.realtime_method, /whole split encode/);
    assert.ok(log.some((m: string) => m.startsWith('Quality: PSNR ')), log.join('\n'));
  });

  test('ENCODERY_QUALITY_REPORT=off: the chunks and the audio measure nothing and the split output reports nothing', async () => {
    const off = await startTestServer({ ENCODERY_QUALITY_REPORT: 'off', ENCODERY_SPLIT_CHUNK_SECONDS: '2' });
    try {
      await fs.mkdir(off.filesDir, { recursive: true });
      await fs.copyFile(clip, path.join(off.filesDir, 'tone6.mp4'));
      const { MediaID: id } = await off.call('json', {
        action: 'AddMedia', source: `file://${path.join(off.filesDir, 'tone6.mp4')}`, multijob_workflow: 'yes',
        format: format(`file://${off.filesDir}/off.mp4`),
      });
      const { final } = await untilFinal(off, id);
      assert.equal(final.status, 'Finished', JSON.stringify(final));
      const status = await off.call('json', { action: 'GetStatus', mediaid: id, extended: 'yes', include_task_status: 'yes' });
      const f = asList(status.job.format)[0];
      const log = asList(f!.task_status?.state).map((s: { message: string }) => s.message);
      assert.ok(log.some((m: string) => /^Split into \d+ chunks/.test(m)), log.join('\n'));
      assert.equal(f!.quality_report, undefined);
      assert.doesNotMatch(f!.command!, /psnr|ebur128/);
    } finally {
      await off.close();
    }
  });
});

describe('quality log reader', () => {
  // Captured from FFmpeg 5.1: two libx264 outputs closing in output order, a libx265 one, and an
  // ebur128 summary; pushed in odd-sized pieces as a pipe delivers them.
  const captured = [
    '[libx264 @ 0x5572c18e5600] frame I:1     Avg QP:15.20  size:  4066  PSNR Mean Y:44.96 U:41.86 V:41.92 Avg:43.68 Global:43.68',
    '[Parsed_ebur128_5 @ 0x5572c18eeb80] Summary:',
    '',
    '  Integrated loudness:',
    '    I:         -23.0 LUFS',
    '    Threshold: -33.0 LUFS',
    '[Parsed_ebur128_12 @ 0x5572c18eeb90] Summary:',
    '',
    '  Integrated loudness:',
    '    I:         -70.0 LUFS',
    '[libx264 @ 0x5572c18e5600] SSIM Mean Y:0.9898107 (19.919db)',
    '[libx264 @ 0x5572c18e5600] PSNR Mean Y:41.595 U:38.871 V:39.165 Avg:40.551 Global:40.495 kb/s:259.05',
    '[aac @ 0x5572c18e67c0] Qavg: 851.709',
    '[libx264 @ 0x5572c18e9340] frame I:1     Avg QP:38.26  size:  1380  PSNR Mean Y:29.35 U:33.30 V:31.60 Avg:30.14 Global:30.14',
    '[libx264 @ 0x5572c18e9340] SSIM Mean Y:0.8853489 ( 9.406db)',
    '[libx264 @ 0x5572c18e9340] PSNR Mean Y:28.289 U:29.489 V:27.273 Avg:28.248 Global:28.211 kb/s:46.41',
    'x265 [info]: frame I:      1, Avg QP:27.60  kb/s: 733.00    PSNR Mean: Y:45.381 U:43.236 V:43.054  SSIM Mean: 0.994108 (22.297dB)',
    'encoded 25 frames in 0.27s (91.32 fps), 195.35 kb/s, Avg QP:33.82, Global PSNR: 38.697, SSIM Mean Y: 0.9823189 (17.525 dB)',
  ].join('\n');

  test('reads each encoder\'s closing PSNR (x264 Avg, x265 Global) and SSIM in closing order, and each ebur128 summary by filter index', () => {
    const log = new QualityLog();
    for (const line of captured.split('\n')) log.line(line);
    assert.deepEqual(log.encoderStats, [
      { encoder: 'libx264', psnr: 40.551, ssim: 0.9898107 },
      { encoder: 'libx264', psnr: 28.248, ssim: 0.8853489 },
      { encoder: 'libx265', psnr: 38.697, ssim: 0.9823189 },
    ]);
    assert.equal(log.loudness(5), -23);
    assert.equal(log.loudness(12), -70);
    assert.equal(log.loudness(7), undefined);
  });
});
