/**
 * Issue 17, "the QC checks say which tracks are encrypted with which key id": QC on an encrypted
 * DASH output runs its packet and segment tests (no key needed), reports per track the key id,
 * scheme and DRM systems read from the output's own boxes, and fails qc_encryption when a track
 * or segment is clear. Tests that decode the output are refused at AddMedia, naming them.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { runQc } from '../src/pipeline/qc/run.ts';
import { asList, makeClip, one, startTestServer, untilFinal, type TestServer } from './helpers.ts';

const KEY = 'a0a1a2a3a4a5a6a7a8a9aaabacadaeaf';
const KID = '0123456789abcdef0123456789abcdef';
const KID_UUID = '01234567-89ab-cdef-0123-456789abcdef';

async function filesUnder(dir: string): Promise<string[]> {
  return (await fs.readdir(dir, { recursive: true, withFileTypes: true })).filter((d) => d.isFile()).map((d) => path.join(d.parentPath, d.name)).sort();
}

describe('QC of encrypted DASH outputs (issue 17)', { timeout: 300_000 }, () => {
  let t: TestServer;
  let clip: string;

  before(async () => {
    t = await startTestServer();
    clip = await makeClip(path.join(t.filesDir, 'clip.mp4'), { seconds: 4, size: '320x180', extra: ['-g', '50'] });
  });
  after(() => t?.close());

  test('QC reports each track\'s key id, scheme and systems from the output\'s boxes; the packet and segment tests run; qc_encryption passes', async () => {
    const { MediaID: id } = await t.call('json', {
      action: 'AddMedia', source: `file://${clip}`,
      format: [
        {
          output: 'mpeg_dash', segment_duration: '2', size: '0x180', bitrate: '200k', turbo: 'yes', drm_key: KEY, drm_key_id: KID, widevine: 'yes', clearkey_drm: 'yes',
          destination: `file://${t.filesDir}/protected/video.mpd`,
          qc: { qc_duration: '', qc_frame_size: { value: '320x180' }, qc_validate_dts: '', qc_validate_pts: '', qc_segment_starts_with_idr: '', qc_audio_streams_number: { value: '1' } },
        },
        { output: 'mpeg_dash', segment_duration: '2', size: '0x180', bitrate: '200k', turbo: 'yes', destination: `file://${t.filesDir}/clear/video.mpd` },
      ],
    });
    const { final } = await untilFinal(t, id);
    assert.equal(final.status, 'Finished', JSON.stringify(final));
    const link = one(asList(final.format)[0]!.qc_media)!;
    const child = (await t.call('json', { action: 'GetStatus', mediaid: link.mediaid, extended: 'yes', include_task_status: 'yes' })).job;
    assert.equal(child.status, 'Finished', JSON.stringify(child));
    const report = one(child.format).qc_report!;
    assert.equal(report.result, 'pass', JSON.stringify(report, null, 1));
    const tracks = asList(report.encrypted_track);
    assert.deepEqual(tracks.map((x: { kind: string }) => x.kind).sort(), ['audio', 'video']);
    for (const track of tracks as { name: string; scheme: string; key_id?: string; systems: string; segments: string; encrypted_segments: string }[]) {
      assert.equal(track.scheme, 'cenc');
      assert.equal(track.key_id, KID_UUID, `${track.name} is protected by the key id asked for`);
      assert.equal(track.systems, 'Widevine, ClearKey (W3C common)');
      assert.equal(track.encrypted_segments, track.segments);
      assert.ok(Number(track.segments) >= 2, `${track.name}: its segments are counted`);
    }
    const checks = asList(report.check);
    for (const name of ['qc_encryption', 'qc_duration', 'qc_frame_size', 'qc_validate_dts', 'qc_validate_pts', 'qc_segment_starts_with_idr', 'qc_audio_streams_number']) {
      const c = checks.find((x: { name: string }) => x.name === name);
      assert.equal(c?.result, 'pass', `${name}: ${JSON.stringify(c)}`);
    }
    assert.match(checks.find((x: { name: string }) => x.name === 'qc_encryption')!.measured!, /^2 of 2 tracks and (\d+) of \1 segments encrypted \(cenc\)$/);
    const log = asList(one(child.format).task_status?.state).map((s: { message: string }) => s.message);
    assert.ok(log.some((m: string) => m === `QC encryption: stream_0 (video) cenc with key id ${KID_UUID}, signalled for Widevine, ClearKey (W3C common); 2 of 2 segments encrypted`), log.join('\n'));
    assert.ok(!JSON.stringify(child).includes(KEY), 'the key is not in the QC report');

    // A clear segment slipped into the protected output: qc_encryption names it and fails.
    const tampered = path.join(t.filesDir, 'tampered');
    await fs.cp(path.join(t.filesDir, 'protected'), tampered, { recursive: true });
    const last = (await fs.readdir(path.join(t.filesDir, 'clear', 'stream_0'))).filter((f) => /^seg_\d+\.m4s$/.test(f)).sort().at(-1)!;
    await fs.copyFile(path.join(t.filesDir, 'clear', 'stream_0', last), path.join(tampered, 'stream_0', last));
    const bad = await runQc({
      spec: { auto: false, checks: {}, metrics: [], originalSource: null, failParent: false },
      files: await filesUnder(tampered), reference: null, scratch: path.join(t.filesDir, 'qc-scratch'), ffmpeg: 'ffmpeg', ffprobe: 'ffprobe',
    });
    assert.equal(bad.result, 'fail');
    const enc = bad.checks.find((c) => c.name === 'qc_encryption')!;
    assert.equal(enc.result, 'fail');
    assert.equal(enc.reason, 'stream_0: 1 of 2 segments without sample encryption');
    const clear = await runQc({
      spec: { auto: false, checks: {}, metrics: [], originalSource: null, failParent: false },
      files: await filesUnder(path.join(t.filesDir, 'clear')), reference: null, scratch: path.join(t.filesDir, 'qc-scratch'), ffmpeg: 'ffmpeg', ffprobe: 'ffprobe',
    });
    assert.equal(clear.encryption, undefined, 'a clear output has no encryption section');
    assert.ok(!clear.checks.some((c) => c.name === 'qc_encryption'));
  });

  test('qc auto on an encrypted CMAF output (fmp4_hls): its HLS-listed segments are checked and every track reports its key id', async () => {
    const { MediaID: id } = await t.call('json', {
      action: 'AddMedia', source: `file://${clip}`,
      format: { output: 'fmp4_hls', segment_duration: '2', size: '0x180', bitrate: '200k', turbo: 'yes', drm_key: KEY, drm_key_id: KID, playready_drm: 'yes', qc: 'auto', destination: `file://${t.filesDir}/cmaf/master.m3u8` },
    });
    const { final } = await untilFinal(t, id);
    assert.equal(final.status, 'Finished', JSON.stringify(final));
    const child = (await t.call('json', { action: 'GetStatus', mediaid: one(asList(final.format)[0]!.qc_media)!.mediaid, extended: 'yes' })).job;
    const report = one(child.format).qc_report!;
    assert.equal(report.result, 'pass', JSON.stringify(report, null, 1));
    const tracks = asList(report.encrypted_track) as { key_id?: string; scheme: string; systems: string }[];
    assert.ok(tracks.length >= 2, JSON.stringify(tracks));
    for (const track of tracks) assert.deepEqual([track.scheme, track.key_id, track.systems], ['cenc', KID_UUID, 'PlayReady']);
    const names = asList(report.check).map((c: { name: string }) => c.name);
    for (const name of ['qc_encryption', 'qc_duration', 'qc_validate_dts', 'qc_segment_starts_with_idr']) assert.ok(names.includes(name), `${name} ran: ${names.join(', ')}`);
  });

  test('QC tests that decode the output are refused on an encrypted one, naming them; qc auto is accepted', async () => {
    const refused = await t.call('json', {
      action: 'AddMedia', source: `file://${clip}`,
      format: { output: 'mpeg_dash', drm_key: KEY, drm_key_id: KID, qc: { qc_duration: '', qc_black: '', qc_loudness: { min: '-30' } }, destination: `file://${t.filesDir}/never/video.mpd` },
    });
    assert.match(String(refused.errors?.error), /^qc: qc_loudness, qc_black cannot check an encrypted mpeg_dash: they decode the output, and QC holds no content key\./);
    const media = await t.call('json', {
      action: 'AddMedia', source: `file://${clip}`, qc: { qc_video_metrics: { metrics: { metric: 'psnr' } } },
      format: { output: 'mpeg_dash', drm_key: KEY, drm_key_id: KID, destination: `file://${t.filesDir}/never/video.mpd` },
    });
    assert.match(String(media.errors?.error), /^qc: qc_video_metrics cannot check an encrypted mpeg_dash/, 'the media-level qc applies to the format too');
    await assert.rejects(fs.stat(path.join(t.filesDir, 'never')));
    const auto = await t.call('json', { action: 'AddMediaBenchmark', source: `file://${clip}`, format: { output: 'mpeg_dash', drm_key: KEY, drm_key_id: KID, qc: 'auto' } });
    assert.ok(auto.MediaID, JSON.stringify(auto));
  });
});
