/** Which formats with editing share an FFmpeg process, and which do not. */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseFormat, type OutputSpec } from '../src/domain/format.ts';
import type { FieldMap } from '../src/domain/fields.ts';
import { planMedia, type MediaTask } from '../src/pipeline/plan/index.ts';
import type { EditAssets } from '../src/pipeline/plan/editing.ts';
import type { MediaProbe } from '../src/pipeline/ffmpeg/probe.ts';
import { ffmpeg, probe } from './plan-fixture.ts';

let dir = '';
let source: MediaProbe;
let logo: MediaProbe;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'encodery-editing-plan-'));
  await ffmpeg('-f', 'lavfi', '-i', 'testsrc2=s=160x90:d=1', '-f', 'lavfi', '-i', 'sine=d=1', '-c:v', 'libx264', '-preset', 'ultrafast', '-c:a', 'aac', join(dir, 'a.mp4'));
  await ffmpeg('-f', 'lavfi', '-i', 'color=red:s=20x10', '-frames:v', '1', join(dir, 'logo.png'));
  source = await probe(join(dir, 'a.mp4'));
  logo = await probe(join(dir, 'logo.png'));
});
after(() => rm(dir, { recursive: true, force: true }));

function spec(fields: FieldMap): OutputSpec {
  const r = parseFormat(fields);
  if (!r.ok) assert.fail(r.error);
  return r.spec;
}

function task(taskId: number, fields: FieldMap): MediaTask {
  const s = spec(fields);
  const e = 'editing' in s ? s.editing : null;
  const assets: EditAssets = {
    logo: e?.logo ? { path: join(dir, 'logo.png'), probe: logo, still: true } : null,
    overlays: [],
    fonts: [],
    textFiles: [],
  };
  return { taskId, spec: s, out: { dir, baseName: `t${taskId}` }, assets };
}

const LOGO_A = { logo_source: 'https://x/a.png', logo_x: '5' };
const LOGO_B = { logo_source: 'https://x/a.png', logo_x: '50' };

test('formats with the same editing share a process; other editing, or none, gets its own; audio outputs avoid faded sound', () => {
  const tasks = [
    task(1, { output: 'mp4', fade_in: '0:1' }),
    task(2, { output: 'mp4', logo: LOGO_A }),
    task(3, { output: 'webm', size: '80x0', logo: LOGO_A }),
    task(4, { output: 'mp4', logo: LOGO_B }),
    task(5, { output: 'mp4' }),
    task(6, { output: 'mp3' }),
  ];
  const plan = planMedia(tasks, { paths: [join(dir, 'a.mp4')], probes: [source] });
  assert.deepEqual(plan.failed, []);
  assert.deepEqual(plan.groups.map((g) => g.taskIds), [[1], [2, 3, 6], [4], [5]]);
});

test('joined sources with editing are joined before the split: edited formats share, the plain one keeps its own process', () => {
  const paths = [join(dir, 'a.mp4'), join(dir, 'a.mp4')];
  const plan = planMedia([task(1, { output: 'mp4', logo: LOGO_A }), task(2, { output: 'mp4' }), task(3, { output: 'webm', logo: LOGO_A })], { paths, probes: [source, source] });
  assert.deepEqual(plan.failed, []);
  assert.deepEqual(plan.groups.map((g) => g.taskIds), [[1, 3], [2]]);
  assert.ok(Math.abs(plan.groups[0]!.durationSec - 2) < 0.1, `both sources long: ${plan.groups[0]!.durationSec}`);
});
