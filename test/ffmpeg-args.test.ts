import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildArgs, escapeFilterValue, ffmpegUrl, filter, formatCommandLine, formatNumber } from '../src/pipeline/ffmpeg/args.ts';
import { inputGuard } from '../src/pipeline/ffmpeg/inputs.ts';
import { LineTail, ProgressParser, type FfmpegProgress } from '../src/pipeline/ffmpeg/run.ts';

test('buildArgs – per-input options precede their -i, maps and options precede their output', () => {
  const args = buildArgs({
    global: ['-filter_threads', '2'],
    inputs: [{ path: '/in/a.mp4', options: ['-ss', '1.5'] }, { path: '/in/b.mp4' }],
    filterGraph: [
      { inputs: ['0:v:0'], filters: [filter('scale', { w: 320, h: -2 }), filter('setsar', ['1'])], outputs: ['v0'] },
      { inputs: ['v0', '1:v:0'], filters: [filter('concat', { n: 2, v: 1, a: 0 })], outputs: ['v'] },
    ],
    outputs: [{ url: 'file:/out/x.mp4', maps: ['[v]', '0:a:0?'], options: ['-c:v', 'libx264'] }],
  });
  assert.deepEqual(args, [
    '-filter_threads', '2',
    ...inputGuard('media'), '-ss', '1.5', '-i', 'file:/in/a.mp4',
    ...inputGuard('media'), '-i', 'file:/in/b.mp4',
    '-filter_complex', '[0:v:0]scale=w=320:h=-2,setsar=1[v0];[v0][1:v:0]concat=n=2:v=1:a=0[v]',
    '-map', '[v]', '-map', '0:a:0?', '-c:v', 'libx264', 'file:/out/x.mp4',
  ]);
});

test('escapeFilterValue – option and graph special characters are escaped at both levels', () => {
  assert.equal(escapeFilterValue("it's a:b,c[d]"), "it\\\\\\'s a\\\\:b\\,c\\[d\\]");
  assert.equal(escapeFilterValue('(ow-iw)/2'), '(ow-iw)/2');
  assert.equal(escapeFilterValue(0.5), '0.5');
});

test('filter labels and names are checked, so a stray value cannot change the graph', () => {
  assert.throws(() => buildArgs({ inputs: [], filterGraph: [{ inputs: ['a];[b'], filters: [filter('null')], outputs: ['v'] }], outputs: [] }));
  assert.throws(() => buildArgs({ inputs: [], filterGraph: [{ inputs: [], filters: [filter('scale,crop')], outputs: ['v'] }], outputs: [] }));
});

test('formatNumber – never uses exponent notation', () => {
  assert.equal(formatNumber(1e-7), '0');
  assert.equal(formatNumber(29.97002997), '29.97003');
  assert.equal(formatNumber(3600), '3600');
});

test('ffmpegUrl – paths become literal file: URLs, real URLs pass through', () => {
  assert.equal(ffmpegUrl('/tmp/a:b.mp4'), 'file:/tmp/a:b.mp4');
  assert.equal(ffmpegUrl('https://example.com/a.mp4'), 'https://example.com/a.mp4');
  assert.equal(ffmpegUrl('file:/x.mp4'), 'file:/x.mp4');
});

test('formatCommandLine – quotes what a shell would split or expand', () => {
  assert.equal(
    formatCommandLine('/usr/bin/ffmpeg', ['-i', 'file:/tmp/my file.mp4', '-filter_complex', '[0:v]scale=2:2[v]', "it's", '']),
    "/usr/bin/ffmpeg -i 'file:/tmp/my file.mp4' -filter_complex '[0:v]scale=2:2[v]' 'it'\\''s' ''",
  );
});

test('ProgressParser – blocks become fractions that only go up, end is 1', () => {
  const seen: FfmpegProgress[] = [];
  const p = new ProgressParser(4, (e) => seen.push(e));
  p.push('frame=10\nout_time_us=-23000\nspeed=N/A\nprogress=continue\n');
  p.push('out_time_us=1000000\nout_time_ms=1000000\nspe');
  p.push('ed=2.5x\nprogress=continue\nout_time_us=500000\nprogress=continue\n');
  p.push('out_time_ms=9000000\nprogress=continue\nout_time=00:00:04.000000\nprogress=end\n');
  assert.deepEqual(seen.map((s) => s.fraction), [0, 0.25, 0.25, 1, 1]);
  assert.deepEqual(seen.map((s) => s.speed), [null, 2.5, 2.5, 2.5, 2.5]);
  assert.equal(seen[1]?.outTimeSec, 1);
  assert.equal(p.speed, 2.5);
});

test('ProgressParser – without a duration the fraction stays 0 until the end', () => {
  const seen: number[] = [];
  const p = new ProgressParser(undefined, (e) => seen.push(e.fraction));
  p.push('out_time_us=5000000\nprogress=continue\nprogress=end\n');
  assert.deepEqual(seen, [0, 1]);
});

test('LineTail – keeps only the last lines', () => {
  const t = new LineTail(3);
  for (let i = 1; i <= 10; i++) t.push(`line ${i}\r\n`);
  t.push('partial');
  assert.deepEqual(t.lines(), ['line 9', 'line 10', 'partial']);
});
