/**
 * Fields of reference 4.3/4.5 that once had no effect: each honoured one is checked on a real
 * encode with ffprobe (or on the pixels), each refused value by its error text.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { parseFormat, type OutputSpec } from '../src/domain/format.ts';
import type { FieldMap } from '../src/domain/fields.ts';
import { loadConfig } from '../src/config.ts';
import { planMedia, resolveAutoCrops, type MediaTask } from '../src/pipeline/plan/index.ts';
import { runFfmpeg } from '../src/pipeline/ffmpeg/run.ts';
import { sourceTimecode, timecodeAt } from '../src/pipeline/plan/timecode.ts';
import { whyNotSplit } from '../src/pipeline/split/plan.ts';
import { ffmpeg, near, planFixture, probe, run } from './plan-fixture.ts';

const fx = planFixture('encodery-honoured-', {
  setup: async (f) => {
    // 1 s of moving colour bars, 4:3.
    await ffmpeg('-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=25:duration=1', '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', f.src('bars.mp4'));
    // A flat grey picture: an average-rate encoder spends almost nothing on it.
    await ffmpeg('-f', 'lavfi', '-i', 'color=gray:size=320x240:rate=25:duration=2', '-c:v', 'libx264', '-preset', 'ultrafast', f.src('flat.mp4'));
    // Grain over the bars: what noise_reduction removes.
    await ffmpeg('-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=25:duration=1', '-vf', 'noise=alls=12:allf=t', '-c:v', 'libx264', '-preset', 'ultrafast', '-crf', '10', f.src('grainy.mp4'));
    // Black, to see a burnt-in timecode.
    await ffmpeg('-f', 'lavfi', '-i', 'color=black:size=320x240:rate=25:duration=1', '-c:v', 'libx264', '-preset', 'ultrafast', f.src('black.mp4'));
    // NTSC with a drop-frame timecode track starting at one hour.
    await ffmpeg('-f', 'lavfi', '-i', 'color=black:size=160x120:rate=30000/1001:duration=1', '-timecode', '01:00:00;00', '-c:v', 'libx264', '-preset', 'ultrafast', f.src('tc.mov'));
    // A 320x180 picture letterboxed into 320x240 (30 black lines above and below).
    await ffmpeg('-f', 'lavfi', '-i', 'testsrc2=size=320x180:rate=25:duration=2', '-vf', 'pad=320:240:0:30:black', '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', f.src('letterbox.mp4'));
  },
});

function spec(fields: FieldMap): OutputSpec {
  const parsed = parseFormat(fields);
  if (!parsed.ok) assert.fail(parsed.error);
  return parsed.spec;
}

function refusal(fields: FieldMap): string {
  const parsed = parseFormat(fields);
  assert.ok(!parsed.ok, `expected ${JSON.stringify(fields)} to be refused`);
  return parsed.error;
}

async function streamFacts(file: string): Promise<Record<string, string>> {
  const { stdout } = await run('ffprobe', ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'stream=width,height,pix_fmt,profile,sample_aspect_ratio,display_aspect_ratio,has_b_frames', '-of', 'default=nw=1', file]);
  return Object.fromEntries(stdout.trim().split('\n').map((l) => l.split('=') as [string, string]));
}

/** Plans the tasks through planMedia (auto_crop resolved first) and runs every group. */
async function encode(tasks: { fields: FieldMap; name: string }[], source: string) {
  const input = { paths: [source], probes: [await probe(source)] };
  // turbo (x264 veryfast) keeps the test quick; nothing checked here depends on the preset.
  const members: MediaTask[] = tasks.map((t, i) => ({ taskId: i + 1, spec: spec({ turbo: 'yes', ...t.fields }), out: { dir: fx.out(), baseName: t.name } }));
  const cropped = await resolveAutoCrops(members, input, { ffmpeg: 'ffmpeg' });
  assert.deepEqual(cropped.failed, []);
  const plan = planMedia(cropped.tasks, input);
  assert.deepEqual(plan.failed, []);
  for (const g of plan.groups) for (const args of g.passes) await runFfmpeg(args, { ffmpeg: 'ffmpeg', durationSec: g.durationSec });
  const files = await Promise.all(members.map(async (m) => (await plan.groups.find((g) => g.taskIds.includes(m.taskId))!.listOutputs(m.taskId)).at(-1)!));
  return { plan, files, notes: [...cropped.notes, ...plan.notes] };
}

test('set_aspect_ratio – the display aspect is written into the output; keep_aspect_ratio gives way', async () => {
  const { files } = await encode([
    { fields: { output: 'mp4', size: '320x240', set_aspect_ratio: '16:9' }, name: 'wide' },
    { fields: { output: 'mp4', size: '640x360', set_aspect_ratio: 'source', keep_aspect_ratio: 'yes' }, name: 'source' },
    { fields: { output: 'mp4', set_aspect_ratio: '1.3333' }, name: 'float' },
  ], fx.src('bars.mp4'));
  const wide = await streamFacts(files[0]!);
  assert.equal(`${wide['width']}x${wide['height']}`, '320x240');
  assert.equal(wide['display_aspect_ratio'], '16:9');
  // 640x360 filled (no bars), shown at the source's 4:3.
  const source = await streamFacts(files[1]!);
  assert.equal(`${source['width']}x${source['height']}`, '640x360');
  assert.equal(source['display_aspect_ratio'], '4:3');
  assert.equal((await streamFacts(files[2]!))['display_aspect_ratio'], '4:3');
  // The Go client's preset form "1280 x 1080" is a ratio too.
  const go = spec({ output: 'webm', set_aspect_ratio: '1280 x 1080' });
  assert.ok(go.kind === 'video' && Math.abs((go.aspectRatio as number) - 1280 / 1080) < 1e-9);
  assert.match(refusal({ output: 'mp4', set_aspect_ratio: 'wide' }), /^set_aspect_ratio "wide" is not an aspect ratio/);
});

test('pix_format – 4:2:2, 4:4:4 and 10-bit reach the file with the profile they need; impossible ones are refused', async () => {
  const { files } = await encode([
    { fields: { output: 'mp4', pix_format: 'yuv422p' }, name: 'h422' },
    { fields: { output: 'mkv', pix_format: 'yuv420p10le' }, name: 'h10' },
    { fields: { output: 'webm', video_codec: 'vp9', pix_format: 'yuv444p', turbo: 'yes' }, name: 'vp444' },
    { fields: { output: 'mp4' }, name: 'default' },
  ], fx.src('bars.mp4'));
  const [h422, h10, vp444, plain] = await Promise.all(files.map(streamFacts));
  assert.equal(h422!['pix_fmt'], 'yuv422p');
  assert.equal(h422!['profile'], 'High 4:2:2');
  assert.equal(h10!['pix_fmt'], 'yuv420p10le');
  assert.equal(h10!['profile'], 'High 10');
  assert.equal(vp444!['pix_fmt'], 'yuv444p');
  assert.equal(plain!['pix_fmt'], 'yuv420p');
  assert.match(refusal({ output: 'webm', video_codec: 'libvpx', pix_format: 'yuv422p' }), /^pix_format "yuv422p" cannot be used with libvpx; it takes yuv420p/);
  assert.match(refusal({ output: 'mp4', pix_format: 'yuv444p', profile: 'main' }), /^pix_format "yuv444p" needs the libx264 profile high444, not main/);
  assert.match(refusal({ output: 'mp4', pix_format: 'rgb24' }), /^pix_format "rgb24" is not supported; use yuv420p/);
  assert.match(refusal({ output: 'mkv', video_codec: 'libx265', pix_format: 'yuv422p' }), /^pix_format "yuv422p" cannot be used with libx265/);
});

test('cbr / hard_cbr – hard_cbr fills a flat picture up to the bitrate; both need a bitrate', async () => {
  const { files } = await encode([
    { fields: { output: 'mp4', bitrate: '400k', audio_codec: 'aac' }, name: 'average' },
    { fields: { output: 'mpegts', bitrate: '400k', hard_cbr: 'yes' }, name: 'hard' },
    { fields: { output: 'mp4', bitrate: '400k', cbr: 'yes' }, name: 'cbr' },
  ], fx.src('flat.mp4'));
  const rate = async (file: string) => {
    const { stdout } = await run('ffprobe', ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'packet=size', '-of', 'csv=p=0', file]);
    const sizes = stdout.split('\n').map((l) => Number.parseInt(l, 10)).filter((n) => Number.isFinite(n));
    return (sizes.reduce((s, n) => s + n, 0) * 8) / 2;
  };
  const [average, hard, cbr] = await Promise.all(files.map(rate));
  // The flat picture needs a few kbit/s; hard_cbr's filler makes up the rest of the 400k.
  assert.ok(average! < 100_000, `average-rate encode: ${average}`);
  near(hard!, 400_000, 60_000, 'hard_cbr rate');
  // cbr holds the buffer model (never above the rate) without filler.
  assert.ok(cbr! <= 400_000 * 1.1, `cbr: ${cbr}`);
  assert.match(refusal({ output: 'mp4', cbr: 'yes' }), /^cbr needs a bitrate to hold constant/);
  // The format's cbr reaches its video streams, not an audio_only one.
  const ladder = spec({ output: 'advanced_hls', cbr: 'yes', stream: [{ size: '0x120', bitrate: '300k' }, { audio_only: 'yes' }] });
  assert.ok(ladder.kind === 'hls' && ladder.streams[0]!.constantBitrate === 'cbr' && ladder.streams[1]!.constantBitrate === null);
  assert.match(refusal({ output: 'webm', video_codec: 'vp9', bitrate: '500k', hard_cbr: 'yes' }), /^hard_cbr is not supported with libvpx-vp9/);
  assert.match(refusal({ output: 'mp4', bitrate: '500k', hard_cbr: 'yes' }), /^hard_cbr with libx264 pads the stream with filler data, which only MPEG-TS carries/);
  assert.match(refusal({ output: 'advanced_hls', bitrate: '500k', stream: [{ hard_cbr: 'yes' }, { video_codec: 'libx265' }] }), /^stream 1: hard_cbr with libx264 needs MPEG-TS segments/);
  const hls = spec({ output: 'advanced_hls', stream: { size: '0x120', bitrate: '300k', hard_cbr: 'yes' } });
  assert.ok(hls.kind === 'hls' && hls.streams[0]!.constantBitrate === 'hard');
  assert.match(refusal({ output: 'mp4', video_codec: 'av1', bitrate: '500k', cbr: 'yes' }), /^cbr is not supported yet with libsvtav1/);
  assert.match(refusal({ output: 'mp4', bitrate: '500k', maxrate: '800k', bufsize: '1M', cbr: 'yes' }), /^maxrate \(800k\) differs from bitrate \(500k\)/);
});

test('noise_reduction – hqdn3d takes the grain out (a smaller file at the same quality); formats apart get their own decode', async () => {
  const { files, plan } = await encode([
    { fields: { output: 'mp4', noise_reduction: '8:6:12' }, name: 'clean' },
    { fields: { output: 'mp4' }, name: 'grain' },
    { fields: { output: 'mp4', noise_reduction: '6' }, name: 'level' },
  ], fx.src('grainy.mp4'));
  const size = async (f: string) => (await readFile(f)).length;
  const [clean, grain, level] = await Promise.all(files.map(size));
  assert.ok(clean! < grain! * 0.7, `denoised ${clean} bytes vs ${grain} with the grain`);
  assert.ok(level! < grain! * 0.8, `level 6: ${level} bytes vs ${grain}`);
  // Three pictures: no two formats share a decode.
  assert.equal(plan.groups.length, 3);
  assert.match(refusal({ output: 'mp4', noise_reduction: '7' }), /^noise_reduction "7" is not luma_spatial:chroma_spatial:luma_temp/);
  assert.match(refusal({ output: 'mp4', noise_reduction: '1:2' }), /^noise_reduction "1:2"/);
});

test('video_codec_parameters – the x264 children reach the encoder (its own SEI says so); unknown ones are refused by name', async () => {
  const { files } = await encode([{
    fields: {
      output: 'mp4',
      video_codec_parameters: { coder: '0', bf: '0', refs: '2', me_method: 'umh', subq: '5', flags2: '+bpyramid-dct8x8', partitions: '+parti4x4+partp8x8', qmin: '12', qmax: '40', i_qfactor: '0.71' },
    },
    name: 'x264',
  }], fx.src('bars.mp4'));
  const sei = (await readFile(files[0]!)).toString('latin1');
  for (const option of ['cabac=0', 'bframes=0', 'ref=2', 'me=umh', 'subme=5', '8x8dct=0', 'qpmin=12', 'qpmax=40', 'ip_ratio=1.41']) {
    assert.ok(sei.includes(` ${option} `), `x264 SEI lacks ${option}`);
  }
  assert.equal((await streamFacts(files[0]!))['has_b_frames'], '0');
  // The block of the Go client's GetStatus fixture (reference 7.1) is taken whole.
  const go = spec({
    output: 'mp4', video_codec: 'libx264', profile: 'high', pix_format: 'yuv420p', cbr: 'no', hard_cbr: 'no',
    video_codec_parameters: {
      coder: '1', flags: '+loop', flags2: '+bpyramid+wpred+mixed_refs+dct8x8-fastpskip', cmp: '+chroma', partitions: '+parti8x8+parti4x4+partp8x8+partb8x8',
      me_method: 'umh', subq: '7', me_range: '16', bf: '16', keyint_min: '25', sc_threshold: '40', i_qfactor: '0.71', b_strategy: '1', qcomp: '0.6',
      qmin: '10', qmax: '51', qdiff: '4', directpred: '1', level: '30', refs: '4', psy: '0',
    },
  });
  assert.ok(go.kind === 'video' && go.level === '3.0' && go.constantBitrate === null && go.pixelFormat === 'yuv420p');
  assert.deepEqual(go.x264Options, [
    'cabac=1', 'deblock=1', 'b-pyramid=normal', 'weightb=1', 'mixed-refs=1', '8x8dct=1', 'fast-pskip=0', 'chroma-me=1', 'partitions=i8x8,i4x4,p8x8,b8x8',
    'me=umh', 'subme=7', 'merange=16', 'bframes=16', 'min-keyint=25', 'scenecut=40', 'ipratio=1.408', 'b-adapt=1', 'qcomp=0.6',
    'qpmin=10', 'qpmax=51', 'qpstep=4', 'direct=spatial', 'ref=4', 'psy=0',
  ]);
  // Empty, "no", {} and use_video_codec_parameters=no are all "not given" (the Go client always sends {}).
  for (const absent of ['no', '', {}, []] as FieldMap['x'][]) {
    const s = spec({ output: 'mp4', video_codec_parameters: absent });
    assert.ok(s.kind === 'video' && s.x264Options.length === 0);
  }
  const off = spec({ output: 'mp4', use_video_codec_parameters: 'no', video_codec_parameters: { threads: '64' } });
  assert.ok(off.kind === 'video' && off.x264Options.length === 0);
  // level and vprofile become the format's own level and profile.
  const lv = spec({ output: 'mp4', video_codec_parameters: { level: '30', vprofile: 'main' } });
  assert.ok(lv.kind === 'video' && lv.level === '3.0' && lv.profile === 'main');
  assert.match(refusal({ output: 'mp4', video_codec_parameters: { threads: '64' } }), /^video_codec_parameters\.threads is not supported; the x264 fields taken are coder, flags/);
  assert.match(refusal({ output: 'mp4', video_codec_parameters: { flags2: '+bpyramid+turbo' } }), /^video_codec_parameters\.flags2 "turbo" is not supported/);
  assert.match(refusal({ output: 'mp4', video_codec_parameters: { subq: '99' } }), /^video_codec_parameters\.subq "99" must be a whole number from 0 to 11/);
  assert.match(refusal({ output: 'webm', video_codec_parameters: { subq: '7' } }), /^video_codec_parameters holds x264 options, which libvpx-vp9 cannot take/);
  assert.match(refusal({ output: 'mp4', profile: 'high', video_codec_parameters: { vprofile: 'main' } }), /vprofile "main" differs from profile "high"/);
});

test('video_codec_parameters – in HLS streams the keyframe children give way to the segment grid', async () => {
  const barsProbe = await probe(fx.src('bars.mp4'));
  const hls = spec({ output: 'advanced_hls', stream: { size: '0x120', init_video_codec_parameters: { keyint_min: '25', sc_threshold: '40', refs: '3' } } });
  assert.ok(hls.kind === 'hls');
  assert.deepEqual(hls.streams[0]!.x264Options, ['min-keyint=25', 'scenecut=40', 'ref=3']);
  const plan = planMedia([{ taskId: 1, spec: hls, out: { dir: fx.out(), baseName: 'seg' } }], { paths: [fx.src('bars.mp4')], probes: [barsProbe] });
  const args = plan.groups[0]!.passes[0]!;
  assert.equal(args[args.indexOf('-x264-params:v:0') + 1], 'ref=3');
});

test('burnin_timecode – a timecode is drawn on the picture, counted from the trim start', async () => {
  const { files, plan } = await encode([
    { fields: { output: 'mp4', burnin_timecode: 'yes', start: '0.4' }, name: 'tc' },
    { fields: { output: 'mp4' }, name: 'plain' },
  ], fx.src('black.mp4'));
  const brightest = async (file: string) => {
    const { stderr } = await run('ffmpeg', ['-v', 'info', '-i', file, '-vf', 'crop=iw:ih/5:0:ih*4/5,signalstats,metadata=print:key=lavfi.signalstats.YMAX', '-frames:v', '1', '-f', 'null', '-']);
    return Number(/lavfi\.signalstats\.YMAX=(\d+)/.exec(stderr)?.[1]);
  };
  assert.ok((await brightest(files[0]!)) > 200, 'white timecode digits at the bottom');
  assert.ok((await brightest(files[1]!)) < 40, 'plain black without it');
  const drawn = plan.groups.find((g) => g.taskIds.includes(1))!.passes[0]!.join(' ');
  // 0.4 s at 25 fps is frame 10.
  assert.ok(drawn.includes(String.raw`timecode=00\\:00\\:00\\:10:rate=25`), drawn);
});

test('burnin_timecode – the source’s own timecode track is where the count starts; drop-frame is kept', async () => {
  const tc = fx.src('tc.mov');
  const source = await probe(tc);
  assert.equal(sourceTimecode(source), '01:00:00;00');
  const { plan, files } = await encode([{ fields: { output: 'mp4', burnin_timecode: 'yes', start: '0.4' }, name: 'ntsc' }], tc);
  // 0.4 s at 29.97 is frame 12; FFmpeg takes the drop-frame form and draws it.
  assert.ok(plan.groups[0]!.passes[0]!.join(' ').includes(String.raw`timecode=01\\:00\\:00\;12:rate=29.97`), plan.groups[0]!.passes[0]!.join(' '));
  assert.equal((await streamFacts(files[0]!))['width'], '160');
  assert.equal(timecodeAt('00:00:59;29', 1 / 29.97, 29.97), '00:01:00;02');
  assert.equal(timecodeAt('00:09:59;29', 1 / 29.97, 29.97), '00:10:00;00');
  assert.equal(timecodeAt('10:00:00:00', 0.4, 25), '10:00:00:10');
  assert.equal(timecodeAt(null, 61, 25), '00:01:01:00');
  // Joined sources cannot carry one count: the task fails with the reason.
  const joined = planMedia([{ taskId: 1, spec: spec({ output: 'mp4', burnin_timecode: 'yes' }), out: { dir: fx.out(), baseName: 'joined' } }], { paths: [tc, tc], probes: [source, source] });
  assert.match(String(joined.failed[0]?.error), /burnin_timecode cannot be used with several sources yet/);
});

test('auto_crop – the letterbox bars are found and cut; a crop_* field wins', async () => {
  const { files, notes } = await encode([
    { fields: { output: 'mp4', auto_crop: { enable: 'yes', round: '4' } }, name: 'auto' },
    { fields: { output: 'mp4', auto_crop: { enable: 'yes', crop_type: 'stretch', round: '4' }, size: '320x240' }, name: 'stretch' },
    { fields: { output: 'mp4', auto_crop: { enable: 'no' } }, name: 'off' },
  ], fx.src('letterbox.mp4'));
  const [auto, stretch, off] = await Promise.all(files.map(streamFacts));
  assert.equal(`${auto!['width']}x${auto!['height']}`, '320x180');
  assert.equal(`${off!['width']}x${off!['height']}`, '320x240');
  // Stretched back to the asked size: the bars do not come back as padding.
  const { stderr } = await run('ffmpeg', ['-v', 'info', '-i', files[1]!, '-vf', 'crop=iw:20:0:0,signalstats,metadata=print:key=lavfi.signalstats.YAVG', '-frames:v', '1', '-f', 'null', '-']);
  assert.ok(Number(/YAVG=([\d.]+)/.exec(stderr)?.[1]) > 40, 'the top lines show picture, not a bar');
  assert.equal(`${stretch!['width']}x${stretch!['height']}`, '320x240');
  assert.ok(notes.some((n) => n.message.includes('auto_crop removes black borders: left 0, right 0, top 30, bottom 30')), JSON.stringify(notes));
  const given = spec({ output: 'mp4', crop_top: '2', auto_crop: { enable: 'yes' } });
  assert.ok(given.kind === 'video' && given.autoCrop === null);
  assert.match(refusal({ output: 'mp4', auto_crop: { enable: 'yes', crop_type: 'zoom' } }), /^auto_crop\.crop_type "zoom" is not one of crop, resize, stretch/);
  assert.match(refusal({ output: 'mp4', auto_crop: { enable: 'yes', limit: '300' } }), /^auto_crop\.limit "300" must be a whole number from 0 to 128/);
});

test('pass-through – a format asking for any of these fields is encoded, not remuxed', async () => {
  const barsProbe = await probe(fx.src('bars.mp4'));
  const input = { paths: [fx.src('bars.mp4')], probes: [barsProbe] };
  const asks: [FieldMap, RegExp][] = [
    [{ noise_reduction: '4:3:6' }, /noise_reduction is asked/],
    [{ burnin_timecode: 'yes' }, /burnin_timecode is asked/],
    [{ set_aspect_ratio: '16:9' }, /set_aspect_ratio is asked/],
    [{ bitrate: '5000k', cbr: 'yes' }, /cbr is asked/],
    [{ video_codec_parameters: { refs: '1' } }, /video_codec_parameters are asked/],
    [{ pix_format: 'yuv422p' }, /pixel format is yuv420p, not the yuv422p asked/],
  ];
  for (const [fields, why] of asks) {
    const plan = planMedia([{ taskId: 1, spec: spec({ output: 'mp4', smart_passthrough: 'yes', ...fields }), out: { dir: fx.out(), baseName: 'pt' } }], input);
    assert.ok(plan.notes.some((n) => why.test(n.message)), `${JSON.stringify(fields)}: ${JSON.stringify(plan.notes)}`);
  }
});

test('HE-AAC – ENCODERY_HE_AAC is refuse by default; lc writes AAC-LC and the task log says so', async () => {
  const barsProbe = await probe(fx.src('bars.mp4'));
  assert.equal(loadConfig({}).heAac, 'refuse');
  assert.equal(loadConfig({ ENCODERY_HE_AAC: 'lc' }).heAac, 'lc');
  assert.throws(() => loadConfig({ ENCODERY_HE_AAC: 'fdk' }), /ENCODERY_HE_AAC \(--he-aac\): must be refuse or lc/);
  const parsed = parseFormat({ output: 'advanced_hls', stream: { size: '0x120', audio_codec: 'dolby_heaacv2', audio_bitrate: '48k' } }, { heAac: 'lc' });
  assert.ok(parsed.ok);
  const plan = planMedia([{ taskId: 1, spec: parsed.spec, out: { dir: fx.out(), baseName: 'he' } }], { paths: [fx.src('bars.mp4')], probes: [barsProbe] });
  assert.ok(plan.notes.some((n) => n.message === 'audio_codec dolby_heaacv2 at 48k is made as AAC-LC: this FFmpeg has no HE-AAC encoder, and ENCODERY_HE_AAC=lc allows it'));
  assert.match(refusal({ output: 'advanced_hls', stream: { audio_codec: 'dolby_heaac' } }), /^stream 1: audio_codec "dolby_heaac" is not supported yet/);
});

test('split-and-stitch – formats whose result would change at chunk seams stay in one piece, and say why', async () => {
  const probes = [await probe(fx.src('bars.mp4'))];
  const why = (fields: FieldMap) => whyNotSplit(spec({ output: 'mp4', smart_passthrough: 'no', ...fields }), probes);
  assert.equal(why({}), null);
  assert.match(why({ burnin_timecode: 'yes' }) ?? '', /burns in a timecode/);
  assert.match(why({ noise_reduction: '4:3:6' }) ?? '', /noise_reduction works across frames/);
  assert.equal(why({ noise_reduction: '4:3:0' }), null);
  assert.match(why({ bitrate: '500k', cbr: 'yes' }) ?? '', /^cbr holds a buffer model/);
  assert.equal(why({ pix_format: 'yuv422p', video_codec_parameters: { refs: '2' } }), null);
});

test('video_only – a video file without the source\'s audio, encoded or with audio_codec copy, and never remuxed with it', async () => {
  const src = fx.src('with-audio.mp4');
  await ffmpeg('-f', 'lavfi', '-i', 'testsrc2=size=160x120:rate=25:duration=1', '-f', 'lavfi', '-i', 'sine=frequency=440:duration=1', '-c:v', 'libx264', '-preset', 'ultrafast', '-c:a', 'aac', '-shortest', src);
  const { files } = await encode([
    { fields: { output: 'mp4', video_only: 'yes', size: '96x72' }, name: 'silent' },
    { fields: { output: 'mkv', video_only: 'yes', audio_codec: 'copy' }, name: 'silent-copy' },
    { fields: { output: 'mp4', size: '96x72' }, name: 'sound' },
  ], src);
  const streams = async (file: string) => (await run('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_type', '-of', 'csv=p=0', file])).stdout.trim().split('\n');
  assert.deepEqual(await streams(files[0]!), ['video']);
  assert.deepEqual(await streams(files[1]!), ['video']);
  assert.deepEqual((await streams(files[2]!)).sort(), ['audio', 'video']);
});
