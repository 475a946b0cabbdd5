/**
 * Several audio languages in advanced_hls, advanced_dash and advanced_fmp4, from one source with
 * several tracks (audio_stream): read back with m3u8-parser and mpd-parser, as players read them,
 * and each rendition's media checked to be the track it names.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parse as parseMpd } from 'mpd-parser';
import { asList, exec, startTestServer, untilFinal, type TestServer } from './helpers.ts';
import { onlyAudioGroup, readM3u8, type AudioRendition as Rendition } from './hls-helpers.ts';
import { makeMultiTrackClip } from './tracks-media.ts';

/** RMS level (dB) of the first channel of a file's first audio stream (the tracks differ by 20 dB). */
async function level(file: string): Promise<number> {
  const { stderr } = await exec('ffmpeg', ['-hide_banner', '-nostats', '-i', file, '-map', '0:a:0', '-af', 'astats=measure_overall=none:measure_perchannel=RMS_level', '-f', 'null', '-']);
  return Number(/RMS level dB: (-?[\d.]+)/.exec(stderr)?.[1]);
}


describe('audio renditions in several languages', () => {
  let t: TestServer;
  let source: string;

  before(async () => {
    t = await startTestServer();
    await fs.mkdir(t.filesDir, { recursive: true });
    source = await makeMultiTrackClip(path.join(t.filesDir, 'tracks.mkv'), { seconds: 3 });
  });
  after(() => t.close());

  test('advanced_hls, advanced_dash and advanced_fmp4 offer each picked language once, shared by every video rung', async () => {
    const out = path.join(t.filesDir, 'out');
    const ladder = [{ size: '0x180', bitrate: '300k', sub_path: 'hd' }, { size: '0x90', bitrate: '100k', sub_path: 'sd' }];
    const { MediaID: id } = await t.call('json', {
      action: 'AddMedia',
      source: `file://${source}`,
      format: [
        { output: 'advanced_hls', segment_duration: '1', turbo: 'yes', audio_stream: 'eng,fra', stream: ladder, destination: `file://${out}/hls/video.m3u8` },
        { output: 'advanced_dash', segment_duration: '1', turbo: 'yes', audio_stream: 'eng,fra', stream: ladder, destination: `file://${out}/dash/video.mpd` },
        { output: 'advanced_fmp4', segment_duration: '1', turbo: 'yes', audio_stream: 'fr,en', stream: ladder, destination: `file://${out}/cmaf/video.m3u8` },
      ],
    });
    const { final } = await untilFinal(t, id);
    for (const f of asList(final.format)) assert.equal(f.status, 'Finished', `${f.output}: ${f.description}`);

    // HLS: one audio group with English (default) and French, both variants pointing at it.
    const hlsDir = path.join(out, 'hls');
    const master = await readM3u8(path.join(hlsDir, 'video.m3u8'));
    const { groupId, renditions } = onlyAudioGroup(master);
    assert.deepEqual(Object.entries(renditions).map(([name, r]) => [name, r.language, r.default, r.autoselect]), [
      ['English', 'en', true, true], ['Français', 'fr', false, true],
    ]);
    assert.equal(master.playlists!.length, 2);
    for (const v of master.playlists!) assert.equal((v.attributes as Record<string, unknown>)['AUDIO'], groupId);
    const english = await level(path.join(hlsDir, path.dirname(renditions['English']!.uri!), 'seg_00001.ts'));
    const french = await level(path.join(hlsDir, path.dirname(renditions['Français']!.uri!), 'seg_00001.ts'));
    assert.ok(english > -12 && french < -25, `English ${english} dB, French ${french} dB: each rendition is its own track`);

    // DASH: one audio adaptation set per language.
    const mpdFile = path.join(out, 'dash', 'video.mpd');
    const mpdText = await fs.readFile(mpdFile, 'utf8');
    const sets = [...mpdText.matchAll(/<AdaptationSet[^>]*contentType="audio"[^>]*>/g)].map((m) => /lang="([^"]+)"/.exec(m[0])?.[1]);
    assert.deepEqual(sets.sort(), ['eng', 'fra'], mpdText);
    const mpd = parseMpd(mpdText, { manifestUri: pathToFileURL(mpdFile).href });
    const dashAudio = Object.values(mpd.mediaGroups.AUDIO ?? {}).flatMap((g) => Object.values(g)) as unknown as Rendition[];
    assert.deepEqual(dashAudio.map((r) => r.language).sort(), ['eng', 'fra']);
    assert.equal(mpd.playlists.length, 2);

    // CMAF: its HLS master has the same group, French first as asked.
    const cmaf = await readM3u8(path.join(out, 'cmaf', 'video.m3u8'));
    assert.deepEqual(Object.values(onlyAudioGroup(cmaf).renditions).map((r) => [r.language, r.default]), [['fr', true], ['en', false]]);
  });
});
