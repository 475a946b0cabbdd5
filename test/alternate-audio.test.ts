/**
 * main_source and alternate_source: a dubbed audio file, served over HTTP, becomes one more
 * audio rendition of advanced_hls and advanced_dash beside the main source's, with the languages
 * and DEFAULT/AUTOSELECT asked. Read back with m3u8-parser and mpd-parser as players read them;
 * each rendition's media is checked to be the file it names (its tone's frequency).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parse as parseMpd } from 'mpd-parser';
import { asList, exec, ffprobe, one, serveFiles, startTestServer, untilFinal, type TestServer } from './helpers.ts';
import { onlyAudioGroup, readM3u8, type AudioRendition as Rendition } from './hls-helpers.ts';

/** The first audio stream's tone frequency (Hz) and RMS level (dB), from its zero-crossing rate. */
async function tone(file: string): Promise<{ hz: number; db: number }> {
  const { stderr } = await exec('ffmpeg', [
    '-hide_banner', '-nostats', '-i', file, '-map', '0:a:0', '-ac', '1',
    '-af', 'astats=measure_overall=none:measure_perchannel=Zero_crossings_rate+RMS_level', '-f', 'null', '-',
  ]);
  const rate = Number(/Zero crossings rate: ([\d.]+)/.exec(stderr)?.[1]);
  const db = /RMS level dB: (-?[\d.]+|-inf)/.exec(stderr)?.[1];
  const probe = await ffprobe(file);
  const sampleRate = Number(probe.streams.find((s) => s.codec_type === 'audio')?.sample_rate);
  return { hz: (rate * sampleRate) / 2, db: db === '-inf' || db === undefined ? -Infinity : Number(db) };
}


describe('main_source and alternate_source', () => {
  let t: TestServer;
  let web: { url: string; close(): Promise<void> };
  let source: string;
  let dubbedDir: string;

  before(async () => {
    t = await startTestServer();
    await fs.mkdir(t.filesDir, { recursive: true });
    source = path.join(t.filesDir, 'main.mp4');
    // The main source: 3 s, 440 Hz stereo at 48 kHz, no language tag.
    await exec('ffmpeg', [
      '-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=size=320x180:rate=25:duration=3',
      '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000:duration=3', '-ac', '2',
      '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', '-c:a', 'aac', source,
    ]);
    // The dub: 1000 Hz mono at 44.1 kHz, shorter than the picture (2 s).
    dubbedDir = path.join(t.filesDir, 'web');
    await fs.mkdir(dubbedDir, { recursive: true });
    await exec('ffmpeg', [
      '-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', 'sine=frequency=1000:sample_rate=44100:duration=2',
      '-c:a', 'aac', path.join(dubbedDir, 'french.m4a'),
    ]);
    web = await serveFiles(dubbedDir);
  });
  after(async () => {
    await web.close();
    await t.close();
  });

  test('advanced_hls, advanced_dash and advanced_fmp4 get the dub as a rendition of its own, with its language and flags, shared by every rung', async () => {
    const out = path.join(t.filesDir, 'out');
    const ladder = [{ size: '0x180', bitrate: '300k', sub_path: 'hd' }, { size: '0x90', bitrate: '100k', sub_path: 'sd' }];
    const languages = {
      main_source: { language: 'en' },
      alternate_source: { source: `${web.url}/french.m4a`, language: 'fra', alternate_default: 'no', alternate_autoselect: 'no' },
    };
    const { MediaID: id } = await t.call('json', {
      action: 'AddMedia',
      source: `file://${source}`,
      format: [
        { output: 'advanced_hls', segment_duration: '1', turbo: 'yes', stream: ladder, ...languages, destination: `file://${out}/hls/video.m3u8` },
        { output: 'advanced_dash', segment_duration: '1', turbo: 'yes', stream: ladder, ...languages, destination: `file://${out}/dash/video.mpd` },
        { output: 'advanced_fmp4', segment_duration: '1', turbo: 'yes', stream: ladder, ...languages, destination: `file://${out}/cmaf/video.m3u8` },
      ],
    });
    const { final } = await untilFinal(t, id);
    for (const f of asList(final.format)) assert.equal(f.status, 'Finished', `${f.output}: ${f.description}`);

    // HLS: one group, English (main, default) and French (the dub, neither default nor autoselect).
    const hlsDir = path.join(out, 'hls');
    const master = await readM3u8(path.join(hlsDir, 'video.m3u8'));
    const { groupId, renditions } = onlyAudioGroup(master);
    assert.deepEqual(Object.entries(renditions).map(([name, r]) => [name, r.language, r.default, r.autoselect]), [
      ['English', 'en', true, true], ['French', 'fr', false, false],
    ]);
    assert.equal(master.playlists!.length, 2);
    for (const v of master.playlists!) assert.equal((v.attributes as Record<string, unknown>)['AUDIO'], groupId);

    const folder = (name: string) => path.join(hlsDir, path.dirname(renditions[name]!.uri!));
    const english = await tone(path.join(folder('English'), 'seg_00001.ts'));
    const french = await tone(path.join(folder('French'), 'seg_00001.ts'));
    assert.ok(Math.abs(english.hz - 440) < 40, `English plays the main source's 440 Hz: ${english.hz}`);
    assert.ok(Math.abs(french.hz - 1000) < 60, `French plays the dub's 1000 Hz: ${french.hz}`);
    // The dub is brought to the group's format and padded with silence to the picture's length.
    const dubProbe = await ffprobe(path.join(folder('French'), 'seg_00001.ts'));
    const dubAudio = dubProbe.streams.find((s) => s.codec_type === 'audio')!;
    assert.equal(Number(dubAudio.sample_rate), 48000);
    assert.equal(dubAudio.channels, 2);
    assert.equal((dubAudio as { tags?: Record<string, string> }).tags?.language, 'fre');
    const playlist = await readM3u8(path.join(folder('French'), 'index.m3u8'));
    const seconds = playlist.segments!.reduce((sum, s) => sum + (s.duration ?? 0), 0);
    assert.ok(Math.abs(seconds - 3) < 0.3, `the dub rendition lasts as long as the picture: ${seconds} s`);
    const last = playlist.segments!.at(-1)!.uri!;
    const tail = await tone(path.join(folder('French'), last));
    assert.ok(tail.db < -60, `past the dub's end it is silent: ${tail.db} dB`);

    // DASH: one audio adaptation set per language.
    const mpdFile = path.join(out, 'dash', 'video.mpd');
    const mpdText = await fs.readFile(mpdFile, 'utf8');
    const sets = [...mpdText.matchAll(/<AdaptationSet[^>]*contentType="audio"[^>]*>/g)].map((m) => /lang="([^"]+)"/.exec(m[0])?.[1]);
    assert.deepEqual(sets.sort(), ['eng', 'fre'], mpdText);
    const mpd = parseMpd(mpdText, { manifestUri: pathToFileURL(mpdFile).href });
    const dashAudio = Object.values(mpd.mediaGroups.AUDIO ?? {}).flatMap((g) => Object.values(g)) as unknown as Rendition[];
    assert.deepEqual(dashAudio.map((r) => r.language).sort(), ['eng', 'fre']);

    // CMAF: its HLS master labels the same two renditions.
    const cmaf = await readM3u8(path.join(out, 'cmaf', 'video.m3u8'));
    assert.deepEqual(Object.values(onlyAudioGroup(cmaf).renditions).map((r) => [r.language, r.default, r.autoselect]), [['en', true, true], ['fr', false, false]]);
  });

  test('alternate_default makes the dub the default, its language as given (pt-BR); a dub that cannot be fetched fails its task', async () => {
    const out = path.join(t.filesDir, 'out2');
    const { MediaID: id } = await t.call('json', {
      action: 'AddMedia',
      source: `file://${source}`,
      format: [
        {
          // From 1 s: the 2 s dub is cut like the source, so its second second is silence.
          output: 'advanced_hls', segment_duration: '1', turbo: 'yes', start: '1', stream: [{ size: '0x90', bitrate: '100k' }],
          alternate_source: { source: `${web.url}/french.m4a`, language: 'pt-BR', alternate_default: 'yes' }, destination: `file://${out}/a/video.m3u8`,
        },
        {
          output: 'advanced_hls', segment_duration: '1', turbo: 'yes', stream: [{ size: '0x90', bitrate: '100k' }],
          alternate_source: { source: `${web.url}/missing.m4a`, language: 'fr' }, destination: `file://${out}/b/video.m3u8`,
        },
      ],
    });
    const { final } = await untilFinal(t, id);
    const [good, bad] = asList(final.format);
    assert.equal(good!.status, 'Finished', good!.description);
    const master = await readM3u8(path.join(out, 'a', 'video.m3u8'));
    const renditions = Object.values(master.mediaGroups!.AUDIO ?? {})[0] as Record<string, Rendition>;
    // The main source's track is untagged and main_source is not given: no LANGUAGE. A region asked is kept.
    assert.deepEqual(Object.entries(renditions).map(([name, r]) => [name, r.language, r.default, r.autoselect]), [
      ['audio_0', undefined, false, true], ['Brazilian Portuguese', 'pt-BR', true, true],
    ]);
    const dubFolder = path.join(out, 'a', path.dirname(renditions['Brazilian Portuguese']!.uri!));
    const dubPlaylist = await readM3u8(path.join(dubFolder, 'index.m3u8'));
    const seconds = dubPlaylist.segments!.reduce((sum, seg) => sum + (seg.duration ?? 0), 0);
    assert.ok(Math.abs(seconds - 2) < 0.3, `trimmed like the picture: ${seconds} s`);
    const first = await tone(path.join(dubFolder, dubPlaylist.segments![0]!.uri!));
    const last = await tone(path.join(dubFolder, dubPlaylist.segments!.at(-1)!.uri!));
    assert.ok(Math.abs(first.hz - 1000) < 60 && last.db < -60, `the dub from its 1st second, then silence: ${JSON.stringify({ first, last })}`);
    assert.equal(bad!.status, 'Error');
    assert.match(String(bad!.description), /alternate_source http:\/\/127\.0\.0\.1:\d+\/missing\.m4a could not be fetched/);
  });

  test('what makes no sense is refused at AddMedia, naming the field, and nothing is stored', async () => {
    const hls = (format: Record<string, unknown>, output = 'advanced_hls') => ({
      action: 'AddMedia' as const, source: `file://${source}`,
      format: { output, destination: `file://${t.filesDir}/refused/video.m3u8`, stream: [{ size: '0x90' }], ...format },
    });
    const dub = `${web.url}/french.m4a`;
    const cases: [ReturnType<typeof hls>, RegExp][] = [
      [hls({ alternate_source: { source: dub } }), /alternate_source: language is missing/],
      [hls({ alternate_source: { language: 'fr' } }), /alternate_source: source is missing/],
      [hls({ alternate_source: { source: 'gopher://x/y.m4a', language: 'fr' } }), /alternate_source: source must be an http\(s\), ftp, sftp, s3 or file URL/],
      [hls({ alternate_source: { source: dub, language: 'french!' } }), /alternate_source: language "french!" is not a language code/],
      [hls({ alternate_source: { source: 'file:///etc/passwd', language: 'fr' } }), /alternate_source source: The source file:\/\/ path is outside the allowed file roots/],
      [hls({ alternate_source: { source: dub, language: 'fr', alternate_default: 'yes', alternate_autoselect: 'no' } }), /alternate_default yes needs alternate_autoselect yes/],
      [hls({ alternate_source: [{ source: dub, language: 'fr', alternate_default: 'yes' }, { source: dub, language: 'de', alternate_default: 'yes' }] }), /alternate_default is yes for more than one/],
      [hls({ main_source: { language: 'en' }, audio_stream: '0,1' }), /main_source names the language of the main source's one audio rendition, but audio_stream picks several/],
      [hls({ main_source: 'en' }), /main_source must be a set of fields/],
      [hls({ stream: [{ audio_only: 'yes' }], alternate_source: { source: dub, language: 'fr' } }), /alternate_source labels the audio renditions of the video streams/],
    ];
    const before = await t.call('json', { action: 'GetMediaList' });
    for (const [query, error] of cases) {
      const r = await t.call('json', query);
      assert.match(one(r.errors?.error ?? ''), error, `${JSON.stringify(query.format)}: ${JSON.stringify(r)}`);
      assert.equal(r.MediaID, undefined);
    }
    const afterList = await t.call('json', { action: 'GetMediaList' });
    assert.deepEqual(afterList, before, 'no media stored');
  });
});
