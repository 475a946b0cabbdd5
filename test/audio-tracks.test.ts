/**
 * audio_stream and downmix_mode through the API, on a source with three audio tracks
 * (tracks-media.ts): the outputs carry the tracks asked, tagged with their languages, and a
 * surround track folds down the way downmix_mode says. Checked on the files with ffprobe and
 * FFmpeg's astats, never on the command line.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { asList, exec, makeClip, one, startTestServer, untilFinal, type TestServer } from './helpers.ts';
import type { OneOrMany } from './replies.ts';
import { makeMultiTrackClip } from './tracks-media.ts';

interface AudioStream { channels: number; tags?: Record<string, string>; disposition?: Record<string, number> }

async function audioStreams(file: string): Promise<AudioStream[]> {
  const { stdout } = await exec('ffprobe', ['-v', 'error', '-select_streams', 'a', '-show_entries', 'stream=channels:stream_tags:stream_disposition=default', '-of', 'json', file]);
  return (JSON.parse(stdout) as { streams: AudioStream[] }).streams;
}

/** RMS level (dB) of each channel of the file's audio track `track`. */
async function channelLevels(file: string, track = 0): Promise<number[]> {
  const { stderr } = await exec('ffmpeg', ['-hide_banner', '-nostats', '-i', file, '-map', `0:a:${track}`, '-af', 'astats=measure_overall=none:measure_perchannel=RMS_level', '-f', 'null', '-']);
  return [...stderr.matchAll(/RMS level dB: (-?[\d.]+|-inf)/g)].map((m) => (m[1] === '-inf' ? -Infinity : Number(m[1])));
}

const language = (s: AudioStream) => s.tags?.['language'] ?? s.tags?.['LANGUAGE'] ?? 'und';

describe('audio tracks: audio_stream and downmix_mode', () => {
  let t: TestServer;
  let source: string;
  let out: string;

  before(async () => {
    t = await startTestServer();
    await fs.mkdir(t.filesDir, { recursive: true });
    source = await makeMultiTrackClip(path.join(t.filesDir, 'tracks.mkv'));
    out = path.join(t.filesDir, 'out');
  });
  after(() => t.close());

  test('each output carries the tracks it asks for, by number, language or all; GetMediaInfo lists them', async () => {
    const added = await t.call('json', {
      action: 'AddMedia',
      source: `file://${source}`,
      format: [
        { output: 'mp4', audio_stream: 'fr', destination: `file://${out}/french.mp4` },
        { output: 'mkv', audio_stream: 'all', destination: `file://${out}/all.mkv` },
        { output: 'mov', audio_stream: '1,0', destination: `file://${out}/two.mov` },
        { output: 'm4a', audio_stream: '2', destination: `file://${out}/surround-plain.m4a` },
        { output: 'm4a', audio_stream: '2', downmix_mode: 'pl2', destination: `file://${out}/surround-pl2.m4a` },
        { output: 'mp4', destination: `file://${out}/default.mp4` },
        { output: 'mp4', audio_stream: 'deu', destination: `file://${out}/german.mp4` },
      ],
    });
    const { final } = await untilFinal(t, added.MediaID);
    const formats = asList(final.format);
    for (const f of formats.slice(0, 6)) assert.equal(f.status, 'Finished', `${f.output}: ${f.description}`);
    assert.equal(formats[6]!.status, 'Error');
    assert.match(formats[6]!.description!, /audio_stream deu: The source has no audio track in that language \(its tracks: eng, fra, und\)/);

    // The French track is the quiet one (0.05 amplitude, about -29 dB); the English one about -9 dB.
    const french = await audioStreams(path.join(out, 'french.mp4'));
    assert.deepEqual(french.map(language), ['fra']);
    const [frenchLevel] = await channelLevels(path.join(out, 'french.mp4'));
    assert.ok(frenchLevel! < -25 && frenchLevel! > -33, `French level ${frenchLevel}`);
    const [englishLevel] = await channelLevels(path.join(out, 'default.mp4'));
    assert.ok(englishLevel! > -12, `the default output carries the first (English) track: ${englishLevel}`);

    const all = await audioStreams(path.join(out, 'all.mkv'));
    assert.deepEqual(all.map(language), ['eng', 'fra', 'und']);
    assert.deepEqual(all.map((s) => s.disposition?.['default']), [1, 0, 0]);
    assert.equal(all[1]!.tags?.['title'] ?? all[1]!.tags?.['TITLE'], 'Français');

    const two = await audioStreams(path.join(out, 'two.mov'));
    assert.deepEqual(two.map(language), ['fra', 'eng']);

    // The surround track's only sound is back-left: a plain downmix keeps it on the left,
    // Pro Logic II matrix-encodes it into both channels.
    const plain = await channelLevels(path.join(out, 'surround-plain.m4a'));
    const pl2 = await channelLevels(path.join(out, 'surround-pl2.m4a'));
    assert.equal(plain.length, 2);
    assert.ok(plain[0]! > -30 && plain[1]! < -60, `plain downmix L/R: ${plain}`);
    assert.ok(pl2[0]! > -30 && pl2[1]! > -30, `Pro Logic II L/R: ${pl2}`);

    const info = await t.call('json', { action: 'GetMediaInfo', mediaid: added.MediaID });
    assert.equal(info.audio_tracks, '3');
    assert.equal(info.audio_languages, 'eng,fra,und');
    assert.equal(info.subtitle_languages, 'eng');
    assert.equal(info.hdr, 'sdr');
    assert.equal(info.audio_codec, 'aac', 'the flat audio fields stay one element each, the first track (7.8 rules 17, 18)');
    const ex = await t.call('xml', { action: 'GetMediaInfoEx', mediaid: added.MediaID });
    assert.deepEqual(asList(one(ex.source).audio_track as OneOrMany<{ language?: string }>).map((a: { language?: string }) => a.language ?? 'und'), ['eng', 'fra', 'und']);
  });

  test('audio_stream on a source without sound ends the task in Error instead of making a silent file', async () => {
    const silent = await makeClip(path.join(t.filesDir, 'silent.mp4'), { seconds: 1, audio: false });
    const added = await t.call('json', { action: 'AddMedia', source: `file://${silent}`, format: { output: 'mp4', audio_stream: 'eng', destination: `file://${out}/silent-out.mp4` } });
    const { final } = await untilFinal(t, added.MediaID);
    assert.equal(one(final.format).status, 'Error');
    assert.match(one(final.format).description!, /audio_stream picks audio tracks, but the source has no audio/);
  });

  test('several tracks for an output that holds one, or a bad pick, is refused at AddMedia', async () => {
    for (const [format, pattern] of [
      [{ output: 'webm', audio_stream: '0,1' }, /audio_stream "0,1" asks for several audio tracks, but webm holds one/],
      [{ output: 'mp3', audio_stream: 'all' }, /mp3 holds one/],
      [{ output: 'mp4', audio_stream: 'english' }, /"english" is not a track number counted from 0, a language code/],
      [{ output: 'mp4', downmix_mode: 'surround' }, /downmix_mode "surround" is not one of default, pl2, dpl/],
    ] as const) {
      const r = await t.call('json', { action: 'AddMedia', source: `file://${source}`, format: { ...format, destination: `file://${out}/x` } });
      assert.match(one(r.errors?.error ?? ''), pattern, JSON.stringify(r));
    }
  });
});
