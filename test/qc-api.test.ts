import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { asList, exec, makeClip, OTHER, startReceiver, startTestServer, untilFinal, waitFor, type TestServer, one } from './helpers.ts';

/** Every check a good 320x240 H.264/AAC encode of the clip must pass. */
const GOOD_CHECKS = {
  qc_duration: { deviation: '0.15' },
  qc_file_size: { min: '1000', max: '5000000' },
  qc_bitrate: { min: '50', max: '20000' },
  qc_video_codec: { value: 'h264' },
  qc_video_codec_profile: { value: 'High' },
  qc_frame_size: { value: '320x240' },
  qc_aspect_ratio: { value: '4:3' },
  qc_frame_rate: { value: '25' },
  qc_video_streams_number: { value: '1' },
  qc_audio_channels: { value: '2' },
  qc_audio_sample_rate: { value: '48000' },
  qc_validate_dts: '',
  qc_validate_pts: '',
  qc_idr_interval: { max: '10' },
  qc_loudness: { min: '-40', max: '-5' },
  qc_true_peak: { max: '0' },
  qc_silence: { max_duration: '1' },
  qc_black: '',
  qc_freeze: '',
  qc_video_metrics: {
    metrics: [
      { metric: 'psnr', thresholds: { severity: 'fatal', mean: { lower: '30' } } },
      { metric: 'ssim', thresholds: { severity: 'fatal', percentile: { perc: '10', lower: '0.9' } } },
      { metric: 'ms_ssim', thresholds: { severity: 'fatal', harm_mean: { lower: '0.9' } } },
      { metric: 'vmaf' },
    ],
  },
};

const PSNR_FLOOR = { qc_video_metrics: { metrics: { metric: 'psnr', thresholds: { severity: 'fatal', mean: { lower: '38' } } } } };

describe('QC child media through the API', () => {
  let t: TestServer;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let clip: string;

  before(async () => {
    t = await startTestServer({ ENCODERY_WORKERS: '1' });
    receiver = await startReceiver();
    await fs.mkdir(t.filesDir, { recursive: true });
    clip = await makeClip(path.join(t.filesDir, 'clip.mp4'), { seconds: 3, extra: ['-b:v', '2M'] });
  });
  after(async () => {
    await t.close();
    await receiver.close();
  });

  test('a good output passes every check; the QC child is linked both ways, logged and notified', async () => {
    const added = await t.call('json', {
      action: 'AddMedia',
      source: `file://${clip}`,
      qc_start_notify: `${receiver.url}/qc-start`,
      qc_notify: `${receiver.url}/qc-end`,
      notify_format: 'json',
      format: { output: 'mp4', video_codec: 'libx264', bitrate: '1500k', audio_sample_rate: '48000', qc: GOOD_CHECKS },
    });
    const id = added.MediaID as string;
    const { final } = await untilFinal(t, id);
    assert.equal(final.status, 'Finished', JSON.stringify(final));
    const link = one(final.format).qc_media;
    assert.ok(link && /^\d+$/.test(one(link).mediaid), `the parent's format names its QC child: ${JSON.stringify(final.format)}`);
    assert.equal(one(link).status, 'Finished');
    assert.equal(one(link).task_status, undefined, 'no child log without include_qc_task_status');

    const child = (await t.call('json', { action: 'GetStatus', mediaid: one(link).mediaid, extended: 'yes' })).job;
    assert.equal(child.parent_mediaid, id);
    assert.equal(child.parent_taskid, one(final.format).id);
    assert.equal(child.status, 'Finished');
    assert.equal(one(child.format).output, 'qc_check');
    const report = one(child.format).qc_report;
    assert.equal(report!.result, 'pass', JSON.stringify(report, null, 1));
    const checks = asList(report!.check);
    for (const name of Object.keys(GOOD_CHECKS).filter((n) => n !== 'qc_video_metrics')) {
      const c = checks.find((x: { name: string }) => x.name === name);
      assert.ok(c, `check ${name} reported`);
      assert.equal(c.result, 'pass', `${name}: ${JSON.stringify(c)}`);
      assert.ok(c.measured, `${name} says what it measured`);
    }
    const metrics = asList(report!.metric);
    for (const m of ['psnr', 'ssim', 'ms_ssim']) {
      const r = metrics.find((x: { name: string }) => x.name === m);
      assert.equal(r!.result, 'pass', `${m}: ${JSON.stringify(r)}`);
      assert.equal(Number(r!.frames), 75, `${m} compares every frame`);
      for (const k of ['min', 'max', 'mean', 'median', 'harm_mean']) assert.ok(Number.isFinite(Number(r![k as 'min'])), `${m} ${k}`);
      assert.ok(Number(r!.min) <= Number(r!.median) && Number(r!.median) <= Number(r!.max));
    }
    assert.ok(Number(metrics.find((x: { name: string }) => x.name === 'psnr')!.mean) > 30);
    const vmaf = metrics.find((x: { name: string }) => x.name === 'vmaf');
    const { stdout } = await exec('ffmpeg', ['-hide_banner', '-filters']);
    if (/\blibvmaf\b/.test(stdout)) assert.equal(vmaf!.result, 'pass');
    else {
      assert.equal(vmaf!.result, 'unavailable');
      assert.match(vmaf!.reason!, /without libvmaf/);
      assert.equal(vmaf!.mean, undefined, 'no invented VMAF number');
    }

    // include_qc_task_status: the child's state log beside its link.
    const withLog = (await t.call('json', { action: 'GetStatus', mediaid: id, extended: 'yes', include_qc_task_status: 'yes' })).job;
    const states = asList(one(one(withLog.format).qc_media)!.task_status!.state).map((s: { message: string }) => s.message);
    assert.ok(states.includes('QC result: pass'), states.join('\n'));
    assert.ok(states.some((m: string) => m.startsWith('QC qc_duration: pass')));

    // GetTaskStatus include_qc=yes lists the task's QC children with their logs.
    const plain = await t.call('xml', { action: 'GetTaskStatus', mediaid: id, taskid: one(final.format).id });
    assert.equal(plain.list!.qc_media, undefined);
    const ts = await t.call('xml', { action: 'GetTaskStatus', mediaid: id, taskid: one(final.format).id, include_qc: 'yes' });
    assert.equal(one(ts.list!.qc_media)!.mediaid, one(link).mediaid);
    assert.ok(asList(one(ts.list!.qc_media)!.task_status!.state).some((s: { message: string }) => s.message === 'QC result: pass'));

    // qc_start_notify when the child starts, qc_notify when it ends, in the parent's notify_format.
    const got = await waitFor(async () => {
      const start = receiver.received.find((r) => r.url === '/qc-start');
      const end = receiver.received.find((r) => r.url === '/qc-end');
      return start && end ? { start, end } : undefined;
    }, 20_000);
    const body = (r: { body: Buffer }) => JSON.parse(new URLSearchParams(r.body.toString()).get('json') ?? r.body.toString()).result;
    const start = body(got.start);
    assert.equal(start.mediaid, one(link).mediaid);
    assert.equal(start.parent_mediaid, id);
    assert.equal(start.status, 'Processing');
    const end = body(got.end);
    assert.equal(end.status, 'Finished');
    assert.equal(end.qc_report.result, 'pass');
    assert.ok(receiver.received.findIndex((r) => r.url === '/qc-start') < receiver.received.findIndex((r) => r.url === '/qc-end'));

    // Another user sees neither the child nor, through the parent, its link.
    const other = await t.call('xml', { action: 'GetStatus', mediaid: one(link).mediaid }, OTHER);
    assert.match(String(other.errors?.error), /not found/);
    const otherTask = await t.call('xml', { action: 'GetTaskStatus', mediaid: id, taskid: one(final.format).id, include_qc: 'yes' }, OTHER);
    assert.match(String(otherTask.errors?.error), /not found/);
  });

  test('a low bitrate fails the PSNR floor: the child is in Error, and with qc_fail_parent the task too', async () => {
    const added = await t.call('xml', {
      action: 'AddMedia',
      source: `file://${clip}`,
      format: { output: 'mp4', bitrate: '20k', qc: PSNR_FLOOR, qc_fail_parent: 'yes' },
    });
    const { final } = await untilFinal(t, added.MediaID);
    assert.equal(final.status, 'Error');
    assert.equal(one(final.format).status, 'Error');
    assert.match(one(final.format).description!, /QC failed: psnr: fatal: mean [\d.]+ is below 38/);
    assert.match(one(final.format).description!, /qc_fail_parent/);
    const link = one(final.format).qc_media;
    assert.equal(one(link)!.status, 'Error');
    assert.match(one(link)!.description!, /psnr/);
    const child = await t.call('json', { action: 'GetStatus', mediaid: one(link)!.mediaid });
    assert.equal(child.status, 'Error');
    assert.match(child.description!, /QC failed: psnr: fatal: mean [\d.]+ is below 38/);
  });

  test('media-level qc checks every format; without qc_fail_parent a failed QC leaves the output Finished', async () => {
    const added = await t.call('json', {
      action: 'AddMedia',
      source: `file://${clip}`,
      qc: PSNR_FLOOR,
      format: [{ output: 'mp4', bitrate: '3000k' }, { output: 'mp4', bitrate: '20k' }],
    });
    const { final } = await untilFinal(t, added.MediaID);
    assert.equal(final.status, 'Finished', JSON.stringify(final));
    const [good, bad] = asList(final.format);
    assert.equal(good!.status, 'Finished');
    assert.equal(bad!.status, 'Finished');
    assert.equal(one(good!.qc_media)!.status, 'Finished');
    assert.equal(one(bad!.qc_media)!.status, 'Error');
    assert.notEqual(one(good!.qc_media)!.mediaid, one(bad!.qc_media)!.mediaid);
    // CancelMedia of the parent takes its QC children with it.
    assert.equal((await t.call('xml', { action: 'CancelMedia', mediaid: added.MediaID })).message, 'Deleted');
    const gone = await t.call('xml', { action: 'GetStatus', mediaid: one(good!.qc_media)!.mediaid });
    assert.match(String(gone.errors?.error), /not found/);
  });

  test('bad QC fields are refused with the field named, and nothing is added', async () => {
    const cases: [unknown, RegExp][] = [
      [{ qc_duration: { deviation: 'abc' } }, /qc\.qc_duration\.deviation" must be a number/],
      [{ qc_black: { severity: 'sometimes' } }, /qc\.qc_black\.severity" must be fatal or warning/],
      [{ qc_video_metrics: { metrics: { metric: 'butteraugli' } } }, /qc\.qc_video_metrics\.metrics\.metric" must be one of psnr, ssim, ms_ssim, vmaf/],
      [{ qc_typo: '' }, /unknown QC field\(s\): qc_typo/],
      [{ qc_video_metrics: { original_source: 'file:///etc/passwd', metrics: { metric: 'psnr' } } }, /original_source: .*outside the allowed file roots/],
    ];
    const before = await t.call('json', { action: 'GetMediaList' });
    for (const [qc, re] of cases) {
      const r = await t.call('xml', { action: 'AddMedia', source: `file://${clip}`, format: { output: 'mp4', qc } });
      assert.match(String(r.errors?.error), re, JSON.stringify(r));
    }
    const r = await t.call('xml', { action: 'AddMedia', source: `file://${clip}`, format: { output: 'mp4', qc_fail_parent: 'maybe' } });
    assert.match(String(r.errors?.error), /qc_fail_parent" must be yes or no/);
    const afterList = await t.call('json', { action: 'GetMediaList' });
    assert.equal(asList(afterList.media).length, asList(before.media).length);
  });
});

describe('a QC child interrupted by a worker stop', () => {
  test('ends in Error saying so once the store is opened again, and is notified', async () => {
    const a = await startTestServer({ ENCODERY_WORKERS: '1' });
    const receiver = await startReceiver();
    let b: TestServer | undefined;
    try {
      await fs.mkdir(a.filesDir, { recursive: true });
      const clip = await makeClip(path.join(a.filesDir, 'clip.mp4'), { seconds: 2 });
      const added = await a.call('json', { action: 'AddMedia', source: `file://${clip}`, qc_notify: `${receiver.url}/qc-end`, format: { output: 'mp4', qc: { qc_validate_dts: '' } } });
      const { final } = await untilFinal(a, added.MediaID);
      const childId = Number(one(one(final.format).qc_media)!.mediaid);
      // What a worker killed in the middle of QC leaves behind.
      await a.server.db.updateTable('media').set({ status: 'Processing', finished_at: null }).where('id', '=', childId).execute();
      await a.server.db.updateTable('task').set({ status: 'Processing', finished_at: null }).where('media_id', '=', childId).execute();
      await a.server.close();
      b = await startTestServer({ ENCODERY_WORKERS: '1', ENCODERY_DATA_DIR: a.dataDir, ...(a.config.databaseUrl ? { ENCODERY_DATABASE_URL: a.config.databaseUrl } : {}) });
      const { final: child } = await untilFinal(b, String(childId));
      assert.equal(child.status, 'Error');
      assert.match(child.description!, /QC was interrupted by a worker stop/);
      assert.equal(child.parent_mediaid, added.MediaID);
      await waitFor(async () => receiver.received.filter((r) => r.url === '/qc-end').length >= 2, 20_000);
    } finally {
      await b?.server.close();
      await a.close().catch(() => {});
      await receiver.close();
    }
  });
});
