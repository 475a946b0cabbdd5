import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { asList, makeClip, startTestServer, untilFinal, type TestServer, one } from './helpers.ts';

const SEGMENT_QC = { qc_segment_starts_with_idr: '', qc_short_segment: { min: '0.9' }, qc_validate_dts: '', qc_duration: { deviation: '0.2' } };

describe('QC of segmented outputs made by Encodery', () => {
  let t: TestServer;
  let clip: string;

  before(async () => {
    t = await startTestServer({ ENCODERY_WORKERS: '1' });
    await fs.mkdir(t.filesDir, { recursive: true });
    clip = await makeClip(path.join(t.filesDir, 'clip.mp4'), { seconds: 4 });
  });
  after(() => t.close());

  for (const output of ['advanced_hls', 'mpeg_dash']) {
    test(`${output}: every segment starts with a keyframe, none is short, the report says how many were read`, async () => {
      const added = await t.call('json', {
        action: 'AddMedia',
        source: `file://${clip}`,
        format: output === 'advanced_hls'
          ? { output, segment_duration: '1', stream: [{ size: '320x240', bitrate: '300k', keyframe: '25' }, { size: '160x120', bitrate: '150k', keyframe: '25' }], qc: SEGMENT_QC }
          : { output, segment_duration: '1', keyframe: '25', bitrate: '300k', size: '320x240', qc: SEGMENT_QC },
      });
      assert.ok(added.MediaID, JSON.stringify(added));
      const { final } = await untilFinal(t, added.MediaID);
      assert.equal(final.status, 'Finished', JSON.stringify(final));
      const link = one(final.format).qc_media;
      const child = (await t.call('json', { action: 'GetStatus', mediaid: one(link)!.mediaid, extended: 'yes' })).job;
      const checks = asList(one(child.format).qc_report!.check);
      assert.equal(one(child.format).qc_report!.result, 'pass', JSON.stringify(checks, null, 1));
      const idr = checks.find((c: { name: string }) => c.name === 'qc_segment_starts_with_idr');
      assert.match(idr!.measured!, /^(\d+) of \1 segments start with a keyframe$/);
      assert.ok(Number(/^(\d+)/.exec(idr!.measured!)![1]) >= 4, idr!.measured);
    });
  }
});
