/**
 * Issue 12 §4: the built-in ladders never upscale. On a 720p source the hls_ladder preset makes
 * 720p, 480p and 360p, not a 1080p rung at 5 Mb/s; a size the user writes is still made, and the
 * task log says it upscales. A source smaller than every rung keeps one, at its own size.
 * Also through AddMedia: the other issue 12 §1 fields that need the worker (auto_crop's detection,
 * ENCODERY_HE_AAC=lc's log line) and the refusals.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { builtInPreset, mergeUnder } from '../src/domain/presets.ts';
import { parseFormat } from '../src/domain/format.ts';
import type { FieldMap } from '../src/domain/fields.ts';
import { planMedia } from '../src/pipeline/plan/index.ts';
import { sourceClipProblem } from '../src/domain/source-clip.ts';
import { probeMedia } from '../src/pipeline/ffmpeg/probe.ts';
import { asList, exec, ffprobe, makeClip, startTestServer, untilFinal, type TestServer, one } from './helpers.ts';

let t: TestServer;
before(async () => {
  t = await startTestServer();
});
after(() => t.close());

/** The RESOLUTION of every variant in a master playlist. */
async function resolutions(master: string): Promise<string[]> {
  return [...(await readFile(master, 'utf8')).matchAll(/^#EXT-X-STREAM-INF:.*RESOLUTION=(\d+x\d+)/gm)].map((m) => m[1]!);
}

function taskLog(task: any): string[] {
  return asList(task.task_status?.state).map((s: any) => s.message);
}

test('hls_ladder on a 720p source: no 1080p rung; an explicit 1920x1080 stream is made and logged as upscaled', async () => {
  const clip = await makeClip(path.join(t.filesDir, 'ladder-720.mp4'), { seconds: 1, size: '1280x720', rate: 10 });
  const preset = path.join(t.filesDir, 'preset-hls');
  const own = path.join(t.filesDir, 'own-hls');
  const added = await t.call('json', {
    action: 'AddMedia',
    source: `file://${clip}`,
    format: [
      { output_preset: 'hls_ladder', destination: `file://${preset}/video.m3u8` },
      { output: 'advanced_hls', stream: [{ size: '1920x1080', bitrate: '1500k', sub_path: 'big' }, { size: '0x360', sub_path: 'small' }], destination: `file://${own}/video.m3u8` },
    ],
  });
  assert.ok(added.MediaID, JSON.stringify(added));
  const { final } = await untilFinal(t, added.MediaID);
  assert.equal(final.status, 'Finished', JSON.stringify(final));

  assert.deepEqual(await resolutions(path.join(preset, 'video.m3u8')), ['1280x720', '854x480', '640x360']);
  assert.deepEqual(await resolutions(path.join(own, 'video.m3u8')), ['1920x1080', '640x360']);

  const status = await t.call('json', { action: 'GetStatus', mediaid: added.MediaID, extended: 'yes', include_task_status: 'yes' });
  const [presetTask, ownTask] = asList(status.job.format);
  assert.ok(taskLog(presetTask).includes("stream 1080p: 1920x1080 is larger than the source's 1280x720: left out (upscale no)"), JSON.stringify(taskLog(presetTask)));
  assert.ok(taskLog(ownTask).includes("stream big: 1920x1080 is larger than the source's 1280x720: upscaled as asked"), JSON.stringify(taskLog(ownTask)));
});

test('a source smaller than every rung keeps one, at its own size; the preset says upscale no', async () => {
  const clip = await makeClip(path.join(t.filesDir, 'ladder-tiny.mp4'), { seconds: 1, size: '320x180', rate: 10 });
  const ladder = builtInPreset('dash_ladder')!;
  assert.ok(asList(ladder.format['stream'] as FieldMap[]).every((s) => s['upscale'] === 'no'));
  const parsed = parseFormat(mergeUnder(ladder.format, { output: 'advanced_dash' }));
  assert.ok(parsed.ok);
  const plan = planMedia([{ taskId: 1, spec: parsed.spec, out: { dir: t.filesDir, baseName: 'tiny' } }], { paths: [clip], probes: [await probeMedia(clip, { ffprobe: 'ffprobe' })] });
  assert.deepEqual(plan.failed, []);
  const args = plan.groups[0]!.passes[0]!.join(' ');
  // One video variant, scaled to the source's own 320x180.
  assert.equal((args.match(/-c:v:\d/g) ?? []).length, 1, args);
  assert.match(args, /scale=w=320:h=180/);
  assert.deepEqual(plan.notes.map((n) => n.message).filter((m) => m.includes('360p')), [
    "stream 360p: 640x360 is larger than the source's 320x180: left out (upscale no)",
    "stream 360p: made at the source's 320x180 instead, so the output keeps a picture",
  ]);
});

test('upscale no on a user stream drops it too; a single file larger than the source is logged, or kept at its size with upscale no', async () => {
  const clip = path.join(t.filesDir, 'ladder-tiny.mp4');
  const probes = [await probeMedia(clip, { ffprobe: 'ffprobe' })];
  const hls = parseFormat({ output: 'advanced_hls', upscale: 'no', stream: [{ size: '0x720', sub_path: 'hd' }, { size: '0x180', sub_path: 'sd' }] });
  assert.ok(hls.ok);
  const plan = planMedia([{ taskId: 1, spec: hls.spec, out: { dir: t.filesDir, baseName: 'user' } }], { paths: [clip], probes });
  assert.equal((plan.groups[0]!.passes[0]!.join(' ').match(/-c:v:\d/g) ?? []).length, 1);
  const mp4 = parseFormat({ output: 'mp4', size: '0x720' });
  assert.ok(mp4.ok);
  const single = planMedia([{ taskId: 2, spec: mp4.spec, out: { dir: t.filesDir, baseName: 'big' } }], { paths: [clip], probes });
  assert.ok(single.notes.some((n) => n.message === "size 1280x720 is larger than the source's 320x180: upscaled as asked"), JSON.stringify(single.notes));
  const capped = parseFormat({ output: 'mp4', size: '0x720', upscale: 'no' });
  assert.ok(capped.ok);
  const kept = planMedia([{ taskId: 3, spec: capped.spec, out: { dir: t.filesDir, baseName: 'capped' } }], { paths: [clip], probes });
  assert.ok(kept.notes.some((n) => n.message === "size 1280x720 is larger than the source's 320x180: made at the source's size (upscale no)"), JSON.stringify(kept.notes));
  assert.match(kept.groups[0]!.passes[0]!.join(' '), /scale=w=320:h=180/);
  assert.match(parseFormat({ output: 'advanced_hls', stream: { upscale: 'maybe' } }).ok ? '' : 'refused', /refused/);
});

test('refused at AddMedia, nothing stored: HE-AAC by default, a source segment (?start=&end=)', async () => {
  const before = await t.call('json', { action: 'GetMediaList' });
  const r = await t.call('json', { action: 'AddMedia', source: 'https://example.com/a.mp4', format: { output: 'mp4', audio_codec: 'dolby_heaacv2' } });
  assert.match(one(r.errors!.error), /^audio_codec "dolby_heaacv2" is not supported yet: this server's FFmpeg has no HE-AAC encoder \(it needs libfdk_aac\)\. Use dolby_aac/);
  const clip = await t.call('json', { action: 'AddMedia', source: ['https://example.com/a.mp4', 'https://k:secret@example.com/b.mp4?start=5&end=10'], format: { output: 'mp4' } });
  assert.equal(clip.errors!.error, 'source 2: ?start=…&end=… (a segment of the source) is not supported yet: the whole file would be encoded. Remove it from the URL and give each format start and duration (or finish) instead.');
  assert.deepEqual(await t.call('json', { action: 'GetMediaList' }), before);
  assert.equal(sourceClipProblem('https://bucket.s3.amazonaws.com/a.mp4?X-Amz-Signature=abc&st=1', 0, 1), null);
  assert.match(sourceClipProblem('file:///x/a.mp4?end=3', 0, 1) ?? '', /^source: \?end=… \(a segment/);
});

test('AddMedia with ENCODERY_HE_AAC=lc: auto_crop cuts the letterbox, HE-AAC becomes AAC-LC, both said in the task log', async () => {
  const lc = await startTestServer({ ENCODERY_HE_AAC: 'lc' });
  try {
    const clip = path.join(lc.filesDir, 'letterbox.mp4');
    await exec('ffmpeg', [
      '-v', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=size=320x180:rate=25:duration=1', '-f', 'lavfi', '-i', 'sine=duration=1:sample_rate=48000',
      '-vf', 'pad=320:240:0:30:black', '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', '-c:a', 'aac', clip,
    ]);
    const out = path.join(lc.filesDir, 'cropped.mp4');
    const added = await lc.call('json', {
      action: 'AddMedia', source: `file://${clip}`,
      format: { output: 'mp4', auto_crop: { enable: 'yes', round: '4' }, audio_codec: 'dolby_heaac', audio_bitrate: '48k', destination: `file://${out}` },
    });
    assert.ok(added.MediaID, JSON.stringify(added));
    const { final } = await untilFinal(lc, added.MediaID);
    assert.equal(final.status, 'Finished', JSON.stringify(final));
    const probe = await ffprobe(out);
    const video = probe.streams.find((s) => s.codec_type === 'video')!;
    const audio = probe.streams.find((s) => s.codec_type === 'audio')!;
    assert.equal(`${video.width}x${video.height}`, '320x180');
    assert.equal(audio.codec_name, 'aac');
    assert.equal(audio.profile, 'LC');
    const status = await lc.call('json', { action: 'GetStatus', mediaid: added.MediaID, extended: 'yes', include_task_status: 'yes' });
    const log = taskLog(asList(status.job.format)[0]);
    assert.ok(log.includes('auto_crop removes black borders: left 0, right 0, top 30, bottom 30 pixels'), JSON.stringify(log));
    assert.ok(log.includes('audio_codec dolby_heaac at 48k is made as AAC-LC: this FFmpeg has no HE-AAC encoder, and ENCODERY_HE_AAC=lc allows it'), JSON.stringify(log));
  } finally {
    await lc.close();
  }
});
