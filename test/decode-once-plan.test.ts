/**
 * planMedia: which formats share one FFmpeg process, and that a shared process makes the same
 * files as the formats made alone.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseFormat } from '../src/domain/format.ts';
import type { FieldMap } from '../src/domain/fields.ts';
import { probeMedia, type MediaProbe } from '../src/pipeline/ffmpeg/probe.ts';
import { runFfmpeg } from '../src/pipeline/ffmpeg/run.ts';
import { planMedia, type MediaTask } from '../src/pipeline/plan/index.ts';
import { ffmpeg, probe } from './plan-fixture.ts';

let dir = '';
let input: { paths: string[]; probes: MediaProbe[] };
let silent: { paths: string[]; probes: MediaProbe[] };

before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'encodery-decode-once-'));
  const x264 = ['-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p'];
  await Promise.all([
    ffmpeg('-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=25:duration=2', '-f', 'lavfi', '-i', 'sine=sample_rate=48000:duration=2',
      ...x264, '-c:a', 'aac', path.join(dir, 'av.mp4')),
    ffmpeg('-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=25:duration=2', ...x264, path.join(dir, 'silent.mp4')),
  ]);
  const av = path.join(dir, 'av.mp4');
  const quiet = path.join(dir, 'silent.mp4');
  input = { paths: [av], probes: [await probeMedia(av, { ffprobe: 'ffprobe' })] };
  silent = { paths: [quiet], probes: [await probeMedia(quiet, { ffprobe: 'ffprobe' })] };
});
after(() => rm(dir, { recursive: true, force: true }));

function tasks(formats: FieldMap[], folder: string): MediaTask[] {
  return formats.map((f, i) => {
    const parsed = parseFormat(f);
    if (!parsed.ok) assert.fail(parsed.error);
    return { taskId: i + 1, spec: parsed.spec, out: { dir: path.join(dir, folder, String(i + 1)), baseName: 'out' } };
  });
}

test('formats with the same trim and picture share a process; thumbnails, two-pass, other trims and pictures do not', () => {
  const plan = planMedia(tasks([
    { output: 'mp4' }, // 1
    { output: 'webm', size: '160x120' }, // 2
    { output: 'advanced_hls', stream: [{ size: '0x120' }, { size: '0x240' }] }, // 3
    { output: 'mp3' }, // 4: audio joins the first process that reads the same part
    { output: 'thumbnail', time: '1' }, // 5
    { output: 'mp4', two_pass: 'yes', bitrate: '300k' }, // 6
    { output: 'mp4', start: '0.5' }, // 7
    { output: 'm4a', start: '0.5' }, // 8: joins 7
    { output: 'mp4', crop_top: '20' }, // 9
    { output: 'mp4', rotate: '90' }, // 10
    { output: 'webm', rotate: '90', size: '0x120' }, // 11: joins 10
    { output: 'm4a', duration: '1' }, // 12: nothing else reads that part
  ], 'grouping'), input);
  assert.deepEqual(plan.failed, []);
  assert.deepEqual(plan.groups.map((g) => g.taskIds), [[1, 2, 3, 4], [5], [6], [7, 8], [9], [10, 11], [12]]);
  assert.equal(plan.groups[2]!.passes.length, 2, 'two-pass runs twice');
  for (const g of plan.groups) {
    const inputs = g.passes[0]!.filter((a) => a === '-i').length;
    assert.equal(inputs, 1, `${g.taskIds}: the source is read once`);
  }
  const alone = planMedia(tasks([{ output: 'mp4' }, { output: 'webm' }], 'alone'), input, { share: false });
  assert.deepEqual(alone.groups.map((g) => g.taskIds), [[1], [2]]);
});

test('a format the source cannot make fails alone and leaves the others grouped', () => {
  const plan = planMedia(tasks([{ output: 'mp4' }, { output: 'mp3' }, { output: 'webm' }, { output: 'mp4', start: '5' }], 'failing'), silent);
  assert.deepEqual(plan.groups.map((g) => g.taskIds), [[1, 3]]);
  assert.deepEqual(plan.failed.map((f) => f.taskId), [2, 4]);
  assert.match(String(plan.failed[0]!.error), /no audio stream/);
  assert.match(String(plan.failed[1]!.error), /start .* after the end/);
});

test('one shared process makes what each format makes alone', async () => {
  const formats: FieldMap[] = [
    { output: 'mp4', size: '0x120', audio_channels_number: '1' },
    { output: 'webm', size: '160x120', turbo: 'yes', audio_volume: '50' },
    { output: 'm4a', audio_bitrate: '64k' },
    { output: 'mp3' },
  ];
  const shared = planMedia(tasks(formats, 'shared'), input);
  assert.equal(shared.groups.length, 1);
  const alone = planMedia(tasks(formats, 'single'), input, { share: false });
  assert.equal(alone.groups.length, 4);
  for (const plan of [shared, alone]) {
    for (const g of plan.groups) {
      for (const id of g.taskIds) await mkdir(path.join(dir, plan === shared ? 'shared' : 'single', String(id)), { recursive: true });
      for (const args of g.passes) await runFfmpeg(args, { ffmpeg: 'ffmpeg', durationSec: g.durationSec });
    }
  }
  for (const id of [1, 2, 3, 4]) {
    const [a] = await shared.groups[0]!.listOutputs(id);
    const [b] = await alone.groups[id - 1]!.listOutputs(id);
    const [pa, pb] = [await probe(a!), await probe(b!)];
    assert.deepEqual(
      [pa.video?.codec, pa.video?.width, pa.video?.height, pa.audio.map((x) => [x.codec, x.channels, x.sampleRate])],
      [pb.video?.codec, pb.video?.width, pb.video?.height, pb.audio.map((x) => [x.codec, x.channels, x.sampleRate])],
      `task ${id}`,
    );
    assert.ok(Math.abs(pa.durationSec - pb.durationSec) < 0.05, `task ${id}: ${pa.durationSec} vs ${pb.durationSec}`);
  }
});
