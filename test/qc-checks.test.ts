import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { exec, makeClip, tempDir } from './helpers.ts';
import { parseQc, type QcReport } from '../src/domain/qc.ts';
import { probeMedia } from '../src/pipeline/ffmpeg/probe.ts';
import { runQc } from '../src/pipeline/qc/run.ts';
import { msSsim } from '../src/pipeline/qc/msssim.ts';
import { percentile, summarize } from '../src/pipeline/qc/report.ts';

const ffmpeg = (args: string[]) => exec('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', ...args]);

describe('QC checks catch deliberately bad outputs', () => {
  let dir: string;
  let source: string;

  before(async () => {
    dir = await tempDir('encodery-qc-');
    source = await makeClip(path.join(dir, 'source.mp4'), { seconds: 4, extra: ['-b:v', '1M', '-movflags', '+faststart'] });
  });
  after(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  async function qc(files: string[], fields: Record<string, unknown>): Promise<QcReport> {
    const parsed = parseQc({ qc: fields as never });
    assert.ok(parsed.ok && parsed.spec, JSON.stringify(parsed));
    const probe = await probeMedia(source, { ffprobe: 'ffprobe' });
    return runQc({ spec: parsed.spec, files, reference: { path: source, probe, shown: 'source' }, scratch: path.join(dir, 'scratch'), ffmpeg: 'ffmpeg', ffprobe: 'ffprobe' });
  }
  const check = (r: QcReport, name: string) => {
    const c = r.checks.find((x) => x.name === name);
    assert.ok(c, `${name} in ${JSON.stringify(r.checks)}`);
    return c;
  };

  test('a truncated MP4 fails qc_duration with how much is missing', async () => {
    const whole = await fs.readFile(source);
    const cut = path.join(dir, 'truncated.mp4');
    await fs.writeFile(cut, whole.subarray(0, Math.floor(whole.length * 0.5)));
    const r = await qc([cut], { qc_duration: '', qc_validate_dts: '' });
    assert.equal(r.result, 'fail');
    const d = check(r, 'qc_duration');
    assert.equal(d.result, 'fail');
    assert.match(d.reason!, /the output lasts [\d.]+ s, [\d.]+ s shorter than the source \(4(\.\d+)? s\); allowed ± 0\.1 s/);
    assert.equal(check(r, 'qc_validate_dts').result, 'pass', 'what is there is well formed');
  });

  test('an MP4 cut before its index is reported unreadable', async () => {
    const tail = path.join(dir, 'moov-at-end.mp4');
    await ffmpeg(['-i', source, '-c', 'copy', tail]);
    const whole = await fs.readFile(tail);
    await fs.writeFile(tail, whole.subarray(0, Math.floor(whole.length * 0.6)));
    const r = await qc([tail], { qc_duration: '' });
    assert.equal(r.result, 'fail');
    assert.match(check(r, 'qc_readable').reason!, /cannot be read/);
  });

  test('a black segment fails qc_black, naming where it is', async () => {
    const out = path.join(dir, 'black.mp4');
    await ffmpeg(['-i', source, '-vf', "drawbox=enable='between(t,1,2.5)':c=black:t=fill", '-c:v', 'libx264', '-preset', 'ultrafast', '-c:a', 'copy', out]);
    const r = await qc([out], { qc_black: { max_duration: '0.5' }, qc_silence: '' });
    const b = check(r, 'qc_black');
    assert.equal(b.result, 'fail');
    assert.match(b.reason!, /black video from 1 s to 2\.5\d* s \(1\.5\d* s\), longer than the 0\.5 s allowed/);
    assert.equal(check(r, 'qc_silence').result, 'pass', 'the audio is untouched');
  });

  test('silence fails qc_silence; loudness and true peak are measured', async () => {
    const out = path.join(dir, 'silent.mp4');
    await ffmpeg(['-i', source, '-af', "volume=enable='between(t,0.5,3)':volume=0", '-c:v', 'copy', '-c:a', 'aac', out]);
    const r = await qc([out], { qc_silence: { max_duration: '1', severity: 'warning' }, qc_loudness: { min: '-40', max: '-5' }, qc_true_peak: { max: '0' }, qc_black: '' });
    const s = check(r, 'qc_silence');
    assert.equal(s.result, 'warning', 'severity warning gives a warning, not a failure');
    assert.match(s.reason!, /silence \(below -60 dB\) from 0\.5\d* s to 3\.0?\d* s/);
    assert.equal(check(r, 'qc_black').result, 'pass');
    assert.match(check(r, 'qc_loudness').measured, /^-\d+(\.\d)? LUFS$/);
    assert.match(check(r, 'qc_true_peak').measured, /^-\d+(\.\d)? dBTP$/);
    assert.equal(r.result, 'warning');
  });

  test('a low bitrate fails a PSNR floor; the per-frame statistics are consistent', async () => {
    const out = path.join(dir, 'starved.mp4');
    await ffmpeg(['-i', source, '-c:v', 'libx264', '-b:v', '20k', '-c:a', 'copy', out]);
    const r = await qc([out], { qc_video_metrics: { metrics: [{ metric: 'psnr', thresholds: [{ severity: 'warning', median: { lower: '45' } }, { severity: 'fatal', mean: { lower: '35' } }] }, { metric: 'ssim' }] } });
    const psnr = r.metrics.find((m) => m.metric === 'psnr')!;
    assert.equal(psnr.result, 'fail');
    assert.match(psnr.reason!, /warning: median [\d.]+ is below 45; fatal: mean [\d.]+ is below 35/);
    const s = psnr.summary!;
    assert.equal(s.frames, 100);
    assert.ok(s.min <= s.harm_mean && s.harm_mean <= s.mean && s.mean <= s.max, JSON.stringify(s));
    assert.equal(r.metrics.find((m) => m.metric === 'ssim')!.result, 'pass', 'no thresholds: measured only');
  });

  test('an HLS segment without a leading keyframe fails qc_segment_starts_with_idr', async () => {
    const hls = path.join(dir, 'bad-hls');
    await fs.mkdir(hls);
    // Keyframes every 4 s, segments cut every second regardless: three of four start mid-GOP.
    await ffmpeg(['-i', source, '-c:v', 'libx264', '-preset', 'ultrafast', '-g', '100', '-sc_threshold', '0', '-c:a', 'aac', '-f', 'hls', '-hls_time', '1', '-hls_flags', 'split_by_time', '-hls_playlist_type', 'vod', path.join(hls, 'index.m3u8')]);
    const files = (await fs.readdir(hls)).map((f) => path.join(hls, f));
    const r = await qc(files, { qc_segment_starts_with_idr: '', qc_short_segment: { min: '0.5' } });
    const k = check(r, 'qc_segment_starts_with_idr');
    assert.equal(k.result, 'fail');
    assert.match(k.reason!, /3 segment\(s\) do not start with a keyframe: bad-hls\/index1\.ts/);
    assert.equal(check(r, 'qc_short_segment').result, 'pass');
  });

  test('good HLS (TS and fMP4) passes the segment checks; a short-segment floor above them fails', async () => {
    for (const type of ['mpegts', 'fmp4']) {
      const hls = path.join(dir, `good-${type}`);
      await fs.mkdir(hls);
      await ffmpeg(['-i', source, '-c:v', 'libx264', '-preset', 'ultrafast', '-g', '25', '-keyint_min', '25', '-sc_threshold', '0', '-c:a', 'aac', '-f', 'hls', '-hls_time', '1', '-hls_segment_type', type, '-hls_playlist_type', 'vod', path.join(hls, 'index.m3u8')]);
      const files = (await fs.readdir(hls)).map((f) => path.join(hls, f));
      const good = await qc(files, { qc_segment_starts_with_idr: '', qc_short_segment: { min: '0.9' }, qc_validate_dts: '', qc_validate_pts: '', qc_idr_interval: { max: '1.01' }, qc_duration: { deviation: '0.1' } });
      assert.equal(good.result, 'pass', `${type}: ${JSON.stringify(good.checks, null, 1)}`);
      assert.match(check(good, 'qc_segment_starts_with_idr').measured, /^4 of 4 segments start with a keyframe$/);
      const strict = await qc(files, { qc_short_segment: { min: '1.5' } });
      assert.equal(check(strict, 'qc_short_segment').result, 'fail');
      assert.match(check(strict, 'qc_short_segment').reason!, /3 segment\(s\) shorter than 1\.5 s/);
    }
  });

  test('checks of the wrong stream properties fail with measured and expected values', async () => {
    const r = await qc([source], {
      qc_frame_size: { value: '640x480' }, qc_video_codec: { value: 'hevc' }, qc_frame_rate: { value: '30' }, qc_audio_channels: { value: '6' },
      qc_bitrate: { max: '10' }, qc_idr_interval: { max: '0.5' }, qc_aspect_ratio: { value: '16:9' },
    });
    const expect: Record<string, RegExp> = {
      qc_frame_size: /frame size is 320x240, not 640x480/,
      qc_video_codec: /video codec is h264, not hevc/,
      qc_frame_rate: /frame rate is 25 fps, not 30/,
      qc_audio_channels: /audio has 2 channel\(s\), not 6/,
      qc_bitrate: /kbit\/s is above the maximum 10 kbit\/s/,
      qc_idr_interval: /longest keyframe interval is [\d.]+ s, more than 0\.5 s/,
      qc_aspect_ratio: /display aspect ratio is 4:3, not 16:9/,
    };
    for (const [name, re] of Object.entries(expect)) {
      const c = check(r, name);
      assert.equal(c.result, 'fail', name);
      assert.match(c.reason!, re);
    }
  });
});

describe('QC statistics and MS-SSIM', () => {
  test('MS-SSIM of identical frames is 1, and drops as noise is added', () => {
    const w = 192;
    const h = 192;
    const a = new Uint8Array(w * h);
    for (let i = 0; i < a.length; i++) a[i] = (i * 37 + ((i / w) | 0) * 11) % 256;
    assert.ok(Math.abs(msSsim(a, a, w, h) - 1) < 1e-9);
    const noisy = a.map((v, i) => Math.max(0, Math.min(255, v + ((i * 7919) % 41) - 20)));
    const worse = a.map((v, i) => Math.max(0, Math.min(255, v + ((i * 7919) % 121) - 60)));
    const s1 = msSsim(noisy, a, w, h);
    const s2 = msSsim(worse, a, w, h);
    assert.ok(s1 < 1 && s2 < s1 && s2 >= 0, `${s1} ${s2}`);
    assert.throws(() => msSsim(a, a, 100, 100), /too small for 5 scales/);
  });

  test('percentiles interpolate like numpy; the harmonic mean is at most the mean', () => {
    const sorted = Float64Array.from([1, 2, 3, 4]);
    assert.equal(percentile(sorted, 50), 2.5);
    assert.equal(percentile(sorted, 0), 1);
    assert.equal(percentile(sorted, 100), 4);
    const s = summarize(Float64Array.from([4, 1, 2, 1]), [25])!;
    assert.equal(s.mean, 2);
    assert.equal(s.harm_mean, 4 / (1 + 1 + 0.5 + 0.25));
    assert.equal(s.median, 1.5);
    assert.deepEqual(s.percentiles.map((p) => p.perc), [5, 25]);
  });
});
