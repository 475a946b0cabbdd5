import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { probeMedia } from '../src/pipeline/ffmpeg/probe.ts';
import { audioTracksOf, subtitleTracksOf } from '../src/domain/media-tracks.ts';
import { masteringText } from '../src/domain/video-color.ts';
import { trackSummaryOf } from '../src/api/actions/media-tracks-info.ts';
import { makeClip, tempDir } from './helpers.ts';
import { makeMultiTrackClip, makePqClip, PQ_MASTERING } from './tracks-media.ts';

let dir = '';
before(async () => {
  dir = await tempDir('encodery-tracks-probe-');
  await Promise.all([
    makeMultiTrackClip(path.join(dir, 'tracks.mkv')),
    makePqClip(path.join(dir, 'pq.mp4'), { seconds: 1 }),
    makeClip(path.join(dir, 'sdr.mp4'), { seconds: 1 }),
  ]);
});
after(() => fs.rm(dir, { recursive: true, force: true }));

test('probe – every audio and subtitle track with its language, title and default flag', async () => {
  const p = await probeMedia(path.join(dir, 'tracks.mkv'), { ffprobe: 'ffprobe' });
  const audio = audioTracksOf(p.raw);
  assert.deepEqual(audio.map((t) => [t.number, t.language, t.channels, t.isDefault]), [[0, 'eng', 1, true], [1, 'fra', 1, false], [2, null, 6, false]]);
  assert.equal(audio[1]!.title, 'Français');
  assert.deepEqual(subtitleTracksOf(p.raw).map((t) => [t.codec, t.language]), [['subrip', 'eng']]);
  const summary = trackSummaryOf(p);
  assert.equal(summary.audio_tracks, '3');
  assert.equal(summary.audio_languages, 'eng,fra,und');
  assert.equal(summary.subtitle_tracks, '1');
  assert.equal(summary.subtitle_languages, 'eng');
  assert.equal(summary.hdr, 'sdr');
});

test('probe – a PQ source is HDR10, with the mastering display and light level of its SEI', async () => {
  const p = await probeMedia(path.join(dir, 'pq.mp4'), { ffprobe: 'ffprobe' });
  const color = p.video!.color!;
  assert.equal(color.dynamicRange, 'hdr10');
  assert.equal(color.transfer, 'smpte2084');
  assert.equal(color.primaries, 'bt2020');
  assert.equal(masteringText(color.mastering!), PQ_MASTERING);
  assert.deepEqual(color.contentLight, { maxContent: 1000, maxAverage: 400 });
  assert.equal(trackSummaryOf(p).hdr, 'hdr10');
});

test('probe – an untagged H.264 source is SDR and has no HDR metadata', async () => {
  const p = await probeMedia(path.join(dir, 'sdr.mp4'), { ffprobe: 'ffprobe' });
  assert.equal(p.video!.color!.dynamicRange, 'sdr');
  assert.equal(p.video!.color!.mastering, null);
  assert.equal(trackSummaryOf(p).subtitle_tracks, undefined);
});
