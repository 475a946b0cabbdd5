/**
 * Shared set-up for the plan-*.test.ts files: a temporary folder with the test media and an `out`
 * folder for the outputs, plus planning and encoding through the real pipeline.
 */
import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parseFormat } from '../src/domain/format.ts';
import type { FieldMap } from '../src/domain/fields.ts';
import { probeMedia, type MediaProbe } from '../src/pipeline/ffmpeg/probe.ts';
import { runFfmpeg } from '../src/pipeline/ffmpeg/run.ts';
import { planEncode, type EncodePlan } from '../src/pipeline/plan/index.ts';

export const run = promisify(execFile);

/** FFmpeg quiet and overwriting, for making test media. */
export const ffmpeg = (...args: string[]) => run('ffmpeg', ['-v', 'error', '-y', ...args]);

export const probe = (file: string): Promise<MediaProbe> => probeMedia(file, { ffprobe: 'ffprobe' });

export const near = (actual: number, expected: number, tolerance: number, what?: string): void =>
  assert.ok(Math.abs(actual - expected) <= tolerance, `${what === undefined ? '' : `${what}: `}${actual}, expected ${expected} ± ${tolerance}`);

export interface PlanFixture {
  /** A file in the temporary folder (where the test media is made). */
  src(name: string): string;
  /** The output folder, or a file in it. */
  out(name?: string): string;
  /** parseFormat (over the fixture's default fields) and planEncode into the output folder. */
  plan(fields: FieldMap, sources: string[], probes: MediaProbe[], baseName: string): EncodePlan;
  /** Probes the sources, plans, runs every FFmpeg pass and lists the outputs. */
  encodeAll(fields: FieldMap, sources: string[], baseName: string): Promise<{ plan: EncodePlan; files: string[] }>;
  /**
   * encodeAll for exactly one output, probed. With `expectName` the output must be that file in
   * the output folder.
   */
  encodeOne(fields: FieldMap, sources: string[], baseName: string, expectName?: string): Promise<{ plan: EncodePlan; result: MediaProbe; file: string }>;
}

/**
 * Registers `before` (make the temporary folders, then run `setup` to make the media) and `after`
 * (remove them) hooks in the calling test file.
 */
export function planFixture(prefix: string, opts: { setup?: (fx: PlanFixture) => Promise<void>; defaults?: FieldMap } = {}): PlanFixture {
  let dir = '';
  const defaults = opts.defaults ?? {};

  const fx: PlanFixture = {
    src: (name) => join(dir, name),
    out: (name) => (name === undefined ? join(dir, 'out') : join(dir, 'out', name)),
    plan(fields, sources, probes, baseName) {
      const parsed = parseFormat({ ...defaults, ...fields });
      if (!parsed.ok) assert.fail(parsed.error);
      return planEncode(parsed.spec, { paths: sources, probes }, { dir: fx.out(), baseName });
    },
    async encodeAll(fields, sources, baseName) {
      const p = fx.plan(fields, sources, await Promise.all(sources.map(probe)), baseName);
      for (const args of p.passes) await runFfmpeg(args, { ffmpeg: 'ffmpeg', durationSec: p.durationSec });
      return { plan: p, files: await p.listOutputs() };
    },
    async encodeOne(fields, sources, baseName, expectName) {
      const { plan: p, files } = await fx.encodeAll(fields, sources, baseName);
      if (expectName === undefined) assert.equal(files.length, 1);
      else assert.deepEqual(files, [fx.out(expectName)]);
      return { plan: p, result: await probe(files[0]!), file: files[0]! };
    },
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), prefix));
    await mkdir(fx.out());
    await opts.setup?.(fx);
  });

  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  return fx;
}
