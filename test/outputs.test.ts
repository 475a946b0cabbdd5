/**
 * Issue 18: one output table. The README's output table is the one src/domain/outputs.ts
 * generates, and the lists other modules used to keep by hand now follow the table.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { describe, test } from 'node:test';
import { withOutputTable } from '../scripts/output-table.ts';
import { README } from '../scripts/readme-table.ts';
import { OUTPUT_NAMES, OUTPUTS, ROTATABLE_OUTPUTS, SPLITTABLE_OUTPUTS, outputsOfKind } from '../src/domain/outputs.ts';
import { parseFormat, type VideoSpec } from '../src/domain/format.ts';
import { fieldAt } from '../src/domain/field-registry.ts';
import { keepsLayout } from '../src/domain/destinations.ts';

describe('the output table', () => {
  test('the README output table is the one the table generates (npm run outputs:table)', () => {
    const readme = fs.readFileSync(README, 'utf8');
    assert.equal(withOutputTable(readme), readme, 'README.md and src/domain/outputs.ts differ: run npm run outputs:table');
  });

  test('a video file gets its row\'s default encoder, pixel format and container', () => {
    for (const output of outputsOfKind('video')) {
      const parsed = parseFormat({ output });
      assert.ok(parsed.ok, output);
      const spec = parsed.spec as VideoSpec;
      const row = OUTPUTS[output];
      assert.equal(spec.videoCodec, row.videoCodecs[0], output);
      assert.equal(spec.pixelFormat, row.pixelFormats[0], output);
      assert.equal(spec.container, row.container, output);
      assert.equal(spec.audioCodec, row.audioCodecs[0], output);
    }
  });

  test('set_rotate is taken exactly by the outputs whose container is rotatable', () => {
    for (const output of outputsOfKind('video', 'audio')) {
      const parsed = parseFormat({ output, set_rotate: '90' });
      assert.equal(parsed.ok, ROTATABLE_OUTPUTS.includes(output), output);
    }
    assert.deepEqual(fieldAt('format', 'set_rotate')?.outputs, ROTATABLE_OUTPUTS);
  });

  test('the lists derived from it: split, layout-keeping outputs, the field registry', () => {
    assert.deepEqual(SPLITTABLE_OUTPUTS.filter((o) => OUTPUTS[o].kind !== 'video'), []);
    for (const output of OUTPUT_NAMES) {
      const kind = OUTPUTS[output].kind;
      assert.equal(keepsLayout(output), kind === 'hls' || kind === 'legacy_hls' || kind === 'dash', output);
    }
    // A video field covers every video file of the table.
    for (const output of outputsOfKind('video')) assert.ok(fieldAt('format', 'bitrate')?.outputs?.includes(output), output);
  });
});
