import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseQc } from '../src/domain/qc.ts';
import type { FieldMap } from '../src/domain/fields.ts';

const error = (qc: unknown, media: FieldMap = {}): string => {
  const r = parseQc({ qc: qc as never }, media);
  assert.equal(r.ok, false, JSON.stringify(r));
  return (r as { error: string }).error;
};

describe('QC request fields', () => {
  test('bad values name the field and say what is expected', () => {
    assert.equal(error({ qc_duration: { deviation: 'abc' } }), 'Field "qc.qc_duration.deviation" must be a number (seconds).');
    assert.equal(error({ qc_duration: '0.5' }), 'Field "qc.qc_duration" must be empty (defaults) or a set of test fields (deviation, severity).');
    assert.equal(error({ qc_validate_dts: 'maybe' }), 'Field "qc.qc_validate_dts" must be empty, yes, no or a set of test fields (severity).');
    assert.equal(error({ qc_frame_size: {} }), 'Field "qc.qc_frame_size.value" is required.');
    assert.equal(error({ qc_file_size: { min: '-1' } }), 'Field "qc.qc_file_size.min" must not be negative (bytes).');
    assert.equal(error({ qc_video_metrics: { metrics: { metric: 'psnr', thresholds: { percentile: { perc: '120' } } } } }), 'Field "qc.qc_video_metrics.metrics.thresholds.percentile.perc" must be between 0 and 100.');
    assert.equal(error({ qc_video_metrics: {} }), 'Field "qc.qc_video_metrics.metrics" is required.');
    assert.equal(error('everything'), 'Field "qc" must be auto or a set of QC tests.');
    assert.equal(error({ qc_typo: '' }), 'Field "qc" has unknown QC field(s): qc_typo.');
    assert.equal(parseQc({ qc_fail_parent: 'yes' }).ok, false, 'qc_fail_parent without qc');
  });

  test('defaults, severities, thresholds and original_source are read into the spec', () => {
    const r = parseQc({
      qc: {
        qc_black: '', qc_validate_pts: 'yes', qc_validate_dts: 'no', qc_silence: { max_duration: '3', severity: 'WARNING' },
        qc_video_metrics: {
          original_source: 'https://example.com/master.mov',
          metrics: [{ metric: 'PSNR', thresholds: [{ severity: 'warning', mean: { lower: '40' } }, { percentile: { perc: '1', lower: '30' } }] }, { metric: 'ms_ssim' }],
        },
      },
      qc_fail_parent: 'yes',
    });
    assert.ok(r.ok && r.spec);
    const s = r.spec;
    assert.deepEqual(s.checks.black, { maxDuration: 0.5, pixelThreshold: 0.1, minDuration: 0.1, severity: 'fatal' });
    assert.deepEqual(s.checks.pts, { severity: 'fatal' });
    assert.equal(s.checks.dts, undefined, 'no turns a test off');
    assert.deepEqual(s.checks.silence, { noiseDb: -60, maxDuration: 3, severity: 'warning' });
    assert.equal(s.originalSource, 'https://example.com/master.mov');
    assert.equal(s.failParent, true);
    assert.deepEqual(s.metrics[0], {
      metric: 'psnr', model: null,
      thresholds: [{ severity: 'warning', rules: [{ stat: 'mean', lower: 40, upper: undefined }] }, { severity: 'fatal', rules: [{ stat: 'percentile', perc: 1, lower: 30, upper: undefined }] }],
    });
    assert.deepEqual(s.metrics[1], { metric: 'ms_ssim', model: null, thresholds: [] });
  });

  test("the media's qc applies to a format without its own; a format's own replaces it", () => {
    const media: FieldMap = { qc: { qc_black: '' }, qc_fail_parent: 'yes' };
    const inherited = parseQc({ output: 'mp4' }, media);
    assert.ok(inherited.ok && inherited.spec?.checks.black && inherited.spec.failParent);
    const own = parseQc({ output: 'mp4', qc: { qc_freeze: '' } }, media);
    assert.ok(own.ok && own.spec?.checks.freeze && !own.spec.checks.black);
    assert.deepEqual(parseQc({ output: 'mp4' }), { ok: true, spec: null });
    const auto = parseQc({ qc: 'AUTO' });
    assert.ok(auto.ok && auto.spec?.auto);
  });
});

describe('QC detection log', () => {
  test('reads ebur128, silencedetect, blackdetect and freezedetect lines; an open silence or freeze ends with the media', async () => {
    const { DetectionLog } = await import('../src/pipeline/qc/detect.ts');
    const log = new DetectionLog();
    const lines = [
      // ebur128 prints a summary when the graph is first configured; the last one counts.
      '[Parsed_ebur128_0 @ 0x1] Summary:', '  Integrated loudness:', '    I:         -70.0 LUFS', '  True peak:', '    Peak:       -inf dBFS',
      '[blackdetect @ 0x2] black_start:1 black_end:2.04 black_duration:1.04',
      '[freezedetect @ 0x3] lavfi.freezedetect.freeze_start: 1',
      '[freezedetect @ 0x3] lavfi.freezedetect.freeze_duration: 1.04',
      '[freezedetect @ 0x3] lavfi.freezedetect.freeze_end: 2.04',
      '[silencedetect @ 0x4] silence_start: 0.5',
      '[silencedetect @ 0x4] silence_end: 1.5 | silence_duration: 1',
      '[freezedetect @ 0x3] lavfi.freezedetect.freeze_start: 3.2',
      '[silencedetect @ 0x4] silence_start: 3.5',
      '[Parsed_ebur128_0 @ 0x1] Summary:', '', '  Integrated loudness:', '    I:         -22.3 LUFS', '    Threshold: -32.5 LUFS', '',
      '  Loudness range:', '    LRA:         1.0 LU', '  True peak:', '    Peak:      -17.1 dBFS',
    ];
    for (const l of lines) log.line(l);
    const d = log.close(4);
    assert.equal(d.integratedLufs, -22.3);
    assert.equal(d.truePeakDbtp, -17.1);
    assert.deepEqual(d.black, [{ start: 1, end: 2.04 }]);
    assert.deepEqual(d.freeze, [{ start: 1, end: 2.04 }, { start: 3.2, end: 4 }]);
    assert.deepEqual(d.silence, [{ start: 0.5, end: 1.5 }, { start: 3.5, end: 4 }]);
  });
});
