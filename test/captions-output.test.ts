/**
 * closed_captions through the API (issue 14): SRT, WebVTT and SCC sidecars fetched over HTTP and
 * checked in real outputs: subtitle streams per ffprobe (mov_text, SRT/ASS, WebVTT), HLS and DASH
 * subtitle renditions as m3u8-parser and mpd-parser see them, WebVTT cue times against the source's
 * within 100 ms, burned-in text as pixels that differ from the same encode without, and a file that
 * does not parse failing its own task with the line; TTML/DFXP sources; CEA-608 captions in a
 * source's H.264 SEI or MPEG-2 user data detected (GetMediaInfo) and extracted into a track or
 * into SRT, SCC, DFXP and WebVTT sidecars delivered beside the output.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import webvtt from 'webvtt-parser';
import { parse as parseMpd } from 'mpd-parser';
import { asList, exec, serveFiles, startTestServer, untilFinal, type TestServer } from './helpers.ts';
import { readM3u8 } from './hls-helpers.ts';
import { helloPairs, makeCea608Clip } from './cea608-clip.ts';
import { parseTtml } from '../src/domain/caption-ttml.ts';

const W = 320;
const H = 180;
/** The source's cues, in seconds: what every output must show at these times. */
const CUES = [
  { start: 0.5, end: 1.5, text: 'Hello there' },
  { start: 2.25, end: 3.4, text: 'Second line' },
];
const srtTime = (s: number): string => {
  const ms = Math.round(s * 1000);
  return `00:00:${String(Math.floor(ms / 1000)).padStart(2, '0')},${String(ms % 1000).padStart(3, '0')}`;
};
const SRT = CUES.map((c, i) => `${i + 1}\n${srtTime(c.start)} --> ${srtTime(c.end)}\n${c.text}\n`).join('\n');
const VTT = `WEBVTT\n\n${CUES.map((c) => `${srtTime(c.start).replace(',', '.')} --> ${srtTime(c.end).replace(',', '.')}\n${c.text}`).join('\n\n')}\n`;
/** "HELLO" shown from 1 s, cleared at 3 s (CEA-608 pop-on). */
const SCC = 'Scenarist_SCC V1.0\n\n00:00:01:00\t9420 9420 94ae 94ae 9452 9452 97a1 97a1 c845 4c4c 4f80 942c 942c 942f 942f\n\n00:00:03:00\t942c 942c\n';
/** CUES as DFXP: 25 fps frames, ticks and offsets, in a div that starts 0.25 s in; styling and a region that are dropped. */
const DFXP = `<?xml version="1.0" encoding="UTF-8"?>
<tt xmlns="http://www.w3.org/ns/ttml" xmlns:ttp="http://www.w3.org/ns/ttml#parameter" xmlns:tts="http://www.w3.org/ns/ttml#styling" ttp:frameRate="25" ttp:tickRate="10000000" xml:lang="en">
  <head><styling><style xml:id="s1" tts:color="yellow"/></styling><layout><region xml:id="bottom" tts:origin="10% 80%"/></layout></head>
  <body region="bottom"><div begin="0.25s">
    <p begin="00:00:00:06" end="12500000t" style="s1">Hello <span tts:fontStyle="italic">there</span></p>
    <p begin="50f" dur="1.15s">Second<br/>line</p>
  </div></body>
</tt>
`;
const BAD_DFXP = '<?xml version="1.0"?>\n<tt xmlns="http://www.w3.org/ns/ttml">\n<body><div>\n<p begin="00:00:00.500" end="00:00:01.500">fine</p>\n<p begin="00:00:02.000" end="soon">broken</p>\n</div></body>\n</tt>\n';
const BAD_SRT = '1\n00:00:00,500 --> 00:00:01,500\nfine\n\n2\n00:00:02,000 -> 00:00:03,000\nbroken arrow\n';

interface Stream { codec_type: string; codec_name: string; tags?: Record<string, string>; disposition?: Record<string, number> }

async function streamsOf(file: string): Promise<Stream[]> {
  const { stdout } = await exec('ffprobe', ['-v', 'error', '-show_streams', '-of', 'json', file]);
  return (JSON.parse(stdout) as { streams: Stream[] }).streams;
}

/** The subtitle cues of a file, as FFmpeg decodes them (start, end in seconds, text). */
async function cuesIn(file: string): Promise<{ start: number; end: number; text: string }[]> {
  const { stdout } = await exec('ffmpeg', ['-v', 'error', '-i', file, '-map', '0:s:0', '-c:s', 'webvtt', '-f', 'webvtt', '-']);
  return new webvtt.WebVTTParser().parse(stdout, 'subtitles').cues.map((c) => ({ start: c.startTime, end: c.endTime, text: c.text }));
}

/** The CEA-608 captions in a file's video, through FFmpeg's lavfi movie source with subcc. */
async function embeddedCues(file: string): Promise<{ start: number; end: number; text: string }[]> {
  const { stdout } = await exec('ffmpeg', ['-v', 'error', '-f', 'lavfi', '-i', `movie=${file.replace(/[\\:',;[\]]/g, (c) => `\\${c}`)}[out+subcc]`, '-map', '0:1', '-c:s', 'webvtt', '-f', 'webvtt', '-']);
  return new webvtt.WebVTTParser().parse(stdout, 'subtitles').cues.map((c) => ({ start: c.startTime, end: c.endTime, text: c.text }));
}

/**
 * The cues of an HLS subtitle rendition (by its NAME) on the video's clock: each WebVTT segment's
 * X-TIMESTAMP-MAP ties it to the first video segment's start, as a player lines them up.
 */
async function hlsRenditionCues(hls: string, name: string, master = 'video.m3u8'): Promise<{ cues: { start: number; end: number; text: string }[]; segments: number }> {
  const m = await readM3u8(path.join(hls, master));
  const firstVideo = path.join(hls, path.dirname(m.playlists![0]!.uri), (await readM3u8(path.join(hls, m.playlists![0]!.uri))).segments[0]!.uri);
  const { stdout: startJson } = await exec('ffprobe', ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'stream=start_time', '-of', 'json', firstVideo]);
  const videoStart = Number((JSON.parse(startJson) as { streams: { start_time: string }[] }).streams[0]!.start_time);
  const playlistUri = m.mediaGroups?.SUBTITLES?.['subs']?.[name]?.uri;
  assert.ok(playlistUri, `a subtitle rendition named ${name}: ${JSON.stringify(m.mediaGroups)}`);
  const playlist = await readM3u8(path.join(hls, playlistUri));
  const seen = new Map<string, { start: number; end: number; text: string }>();
  for (const s of playlist.segments) {
    const text = await fs.readFile(path.join(hls, path.dirname(playlistUri), s.uri), 'utf8');
    const map = /X-TIMESTAMP-MAP=MPEGTS:(\d+),LOCAL:00:00:00\.000/.exec(text);
    assert.ok(map, `${name} ${s.uri} has X-TIMESTAMP-MAP`);
    const shift = Number(map[1]) / 90_000 - videoStart;
    for (const c of new webvtt.WebVTTParser().parse(text, 'subtitles').cues) seen.set(c.text, { start: c.startTime + shift, end: c.endTime + shift, text: c.text });
  }
  return { cues: [...seen.values()], segments: playlist.segments.length };
}

function sameTimes(actual: { start: number; end: number }[], expected: { start: number; end: number }[], offset: number, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: ${JSON.stringify(actual)}`);
  for (const [i, c] of actual.entries()) {
    assert.ok(Math.abs(c.start - (expected[i]!.start + offset)) <= 0.1, `${what} cue ${i + 1} starts at ${c.start}, expected ${expected[i]!.start + offset}`);
    assert.ok(Math.abs(c.end - (expected[i]!.end + offset)) <= 0.1, `${what} cue ${i + 1} ends at ${c.end}, expected ${expected[i]!.end + offset}`);
  }
}

/** One decoded frame at `at` seconds as gray bytes. */
async function grayFrame(file: string, at: number): Promise<Buffer> {
  const { stdout } = await exec('ffmpeg', ['-v', 'error', '-ss', String(at), '-i', file, '-frames:v', '1', '-f', 'rawvideo', '-pix_fmt', 'gray', '-'], {
    encoding: 'buffer', maxBuffer: 4 * 1024 * 1024,
  });
  assert.equal(stdout.length, W * H);
  return stdout;
}

/** Pixels of the lower third that differ by more than 40 levels between two frames. */
function captionRegionDifference(a: Buffer, b: Buffer): number {
  let n = 0;
  for (let i = Math.floor((H * 2) / 3) * W; i < W * H; i++) if (Math.abs(a[i]! - b[i]!) > 40) n++;
  return n;
}

describe('AddMedia with closed_captions', () => {
  let t: TestServer;
  let clip: string;
  let files: { url: string; close(): Promise<void> };
  let out: string;

  before(async () => {
    t = await startTestServer();
    await fs.mkdir(t.filesDir, { recursive: true });
    out = path.join(t.filesDir, 'out');
    clip = path.join(t.filesDir, 'gray.mp4');
    await exec('ffmpeg', [
      '-v', 'error', '-y', '-f', 'lavfi', '-i', `color=c=0x808080:s=${W}x${H}:r=25:d=4`,
      '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000:duration=4',
      '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-ac', '2', clip,
    ]);
    const served = path.join(t.filesDir, 'served');
    await fs.mkdir(served);
    await fs.writeFile(path.join(served, 'en.srt'), SRT);
    await fs.writeFile(path.join(served, 'de.vtt'), VTT);
    await fs.writeFile(path.join(served, 'fr.scc'), SCC);
    await fs.writeFile(path.join(served, 'bad.srt'), BAD_SRT);
    await fs.writeFile(path.join(served, 'en.dfxp'), DFXP);
    await fs.writeFile(path.join(served, 'bad.ttml'), BAD_DFXP);
    await fs.copyFile('/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf', path.join(served, 'mono.ttf'));
    await fs.writeFile(path.join(served, 'fake.ttf'), 'not a font\n');
    files = await serveFiles(served);
  });
  after(async () => {
    await files.close();
    await t.close();
  });

  test('tracks in files, renditions in HLS and DASH, burned-in text, and a bad file failing its task with the line', async () => {
    const dest = (name: string): string => `file://${out}/${name}`;
    const en = { source: `${files.url}/en.srt`, language: 'en', label: 'English' };
    const added = await t.call('json', {
      action: 'AddMedia',
      source: `file://${clip}`,
      format: [
        { output: 'mp4', closed_captions: en, destination: dest('subs.mp4') },
        {
          output: 'mkv', destination: dest('subs.mkv'),
          closed_captions: [{ ...en, default: 'yes' }, { source: `${files.url}/fr.scc`, language: 'fr', mux_type: 'ass' }],
        },
        { output: 'webm', video_codec: 'libvpx-vp9', turbo: 'yes', closed_captions: { source: `${files.url}/de.vtt`, language: 'de' }, destination: dest('subs.webm') },
        {
          output: 'advanced_hls', segment_duration: '2', destination: dest('hls/video.m3u8'), stream: [{ size: '320x180' }, { size: '160x90' }],
          closed_captions: [en, { source: `${files.url}/de.vtt`, language: 'de', time_offset: '0.5', vtt_segment_duration: '1.5', autoselect: 'no' }],
        },
        { output: 'mpeg_dash', segment_duration: '2', destination: dest('dash/manifest.mpd'), closed_captions: en },
        { output: 'mp4', closed_captions: { source: `${files.url}/en.srt`, burn: 'yes' }, destination: dest('burned.mp4') },
        { output: 'mp4', destination: dest('plain.mp4') },
        { output: 'mp4', closed_captions: { source: `${files.url}/bad.srt` }, destination: dest('bad.mp4') },
        { output: 'mp4', closed_captions: { source: `${files.url}/en.srt`, burn: 'yes', font_source: `${files.url}/mono.ttf` }, destination: dest('mono.mp4') },
        { output: 'mp4', closed_captions: { source: `${files.url}/en.srt`, burn: 'yes', font_source: `${files.url}/fake.ttf` }, destination: dest('fake.mp4') },
      ],
    });
    assert.equal(added.message, 'Added', JSON.stringify(added));
    const { final } = await untilFinal(t, added.MediaID as string, 240_000);
    const formats = asList(final.format);
    assert.deepEqual(formats.map((f: any) => f.status), [...Array(7).fill('Finished'), 'Error', 'Finished', 'Error'], JSON.stringify(formats.map((f: any) => f.description)));
    assert.match(formats[7]!.description!, /closed_captions source http:\/\/127\.0\.0\.1:\d+\/bad\.srt does not parse as SRT: line 6: /);
    assert.match(formats[9]!.description!, /closed_captions font_source http:\/\/127\.0\.0\.1:\d+\/fake\.ttf is not a TrueType or OpenType font/);
    // The source's video (H.264) was looked at for CEA-608/708, and carries none.
    assert.equal((await t.call('json', { action: 'GetMediaInfo', mediaid: added.MediaID })).closed_captions, 'no');

    // mp4: one mov_text track in English, titled, default; its cues at the source's times.
    const mp4 = (await streamsOf(path.join(out, 'subs.mp4'))).filter((s) => s.codec_type === 'subtitle');
    assert.deepEqual(mp4.map((s) => [s.codec_name, s.tags?.language]), [['mov_text', 'eng']]);
    sameTimes(await cuesIn(path.join(out, 'subs.mp4')), CUES, 0, 'mp4');
    // mkv: SRT and ASS, the SCC's text decoded.
    const mkv = (await streamsOf(path.join(out, 'subs.mkv'))).filter((s) => s.codec_type === 'subtitle');
    assert.deepEqual(mkv.map((s) => [s.codec_name, s.tags?.language, s.disposition?.default]), [['subrip', 'eng', 1], ['ass', 'fre', 0]]);
    // webm: WebVTT.
    const webm = (await streamsOf(path.join(out, 'subs.webm'))).filter((s) => s.codec_type === 'subtitle');
    assert.deepEqual(webm.map((s) => [s.codec_name, s.tags?.language]), [['webvtt', 'ger']]);
    sameTimes(await cuesIn(path.join(out, 'subs.webm')), CUES, 0, 'webm');

    // HLS: a SUBTITLES group with both languages, named on every variant.
    const hls = path.join(out, 'hls');
    const master = await readM3u8(path.join(hls, 'video.m3u8'));
    const subs = master.mediaGroups?.SUBTITLES?.['subs'];
    assert.ok(subs, `a subtitle group: ${JSON.stringify(master.mediaGroups)}`);
    assert.deepEqual(Object.entries(subs).map(([name, r]) => [name, r.language, r.default, r.autoselect]), [['English', 'en', true, true], ['de', 'de', false, false]]);
    for (const p of master.playlists ?? []) assert.equal(p.attributes.SUBTITLES, 'subs');
    // The cues, put on the video's clock by X-TIMESTAMP-MAP, at the source's times (de: moved 0.5 s).
    for (const [name, offset, segment] of [['English', 0, 2], ['de', 0.5, 1.5]] as const) {
      const { cues, segments } = await hlsRenditionCues(hls, name);
      assert.equal(segments, Math.ceil(4 / segment), `${name}: segments of ${segment} s`);
      sameTimes(cues, CUES, offset, `HLS ${name}`);
    }

    // DASH: a text adaptation set in English, whose WebVTT has the source's cues.
    const dash = path.join(out, 'dash');
    const mpd = parseMpd(await fs.readFile(path.join(dash, 'manifest.mpd'), 'utf8'), { manifestUri: 'http://x.example/dash/manifest.mpd' });
    const text = Object.values(mpd.mediaGroups.SUBTITLES?.['subs'] ?? {});
    assert.equal(text.length, 1, JSON.stringify(mpd.mediaGroups));
    assert.equal(text[0]!.language, 'en');
    // Resolved against the manifest's address: the path below /dash/ is the file beside it.
    const vttUri = new URL(text[0]!.playlists[0]!.segments[0]!.uri, 'http://x.example/dash/manifest.mpd').pathname.replace(/^\/dash\//, '');
    const dashCues = new webvtt.WebVTTParser().parse(await fs.readFile(path.join(dash, vttUri), 'utf8'), 'subtitles').cues;
    sameTimes(dashCues.map((c) => ({ start: c.startTime, end: c.endTime })), CUES, 0, 'DASH');

    // Burned in: the lower third differs from the plain encode while a cue shows, and not between cues.
    const burned = path.join(out, 'burned.mp4');
    const plain = path.join(out, 'plain.mp4');
    const during = captionRegionDifference(await grayFrame(burned, 1), await grayFrame(plain, 1));
    const between = captionRegionDifference(await grayFrame(burned, 1.9), await grayFrame(plain, 1.9));
    assert.ok(during > 200, `${during} pixels differ in the caption region while a cue shows`);
    assert.ok(between < 20, `${between} pixels differ in the caption region between cues`);
    assert.equal((await streamsOf(burned)).filter((s) => s.codec_type === 'subtitle').length, 0, 'burned captions add no track');
    // font_source: the same cue in another font draws other pixels.
    const mono = await grayFrame(path.join(out, 'mono.mp4'), 1);
    assert.ok(captionRegionDifference(mono, await grayFrame(plain, 1)) > 200, 'the fetched font draws the cue');
    assert.ok(captionRegionDifference(mono, await grayFrame(burned, 1)) > 100, 'in another font than the default');
  });

  test('extract: the source\'s CEA-608 captions (H.264 SEI) become a subtitle track, an HLS rendition and sidecar files', async () => {
    const cc = path.join(t.filesDir, 'cea608.mp4');
    // "HELLO" shows from frame 24 (0.96 s) to frame 75 (3 s), as FFmpeg's own decoder reads it.
    await makeCea608Clip(cc, 4, helloPairs(25, 75));
    const dest = (name: string): string => `file://${out}/cc/${name}`;
    const both = await t.call('json', {
      action: 'AddMedia', source: `file://${cc}`, format: { output: 'mp4', closed_captions: { source: `${files.url}/en.srt`, extract: 'yes' }, destination: dest('both.mp4') },
    });
    assert.match(JSON.stringify(both), /source and extract both name the captions/);
    const ok = await t.call('json', {
      action: 'AddMedia',
      source: `file://${cc}`,
      format: [
        { output: 'mp4', closed_captions: { extract: 'yes', language: 'en' }, destination: dest('cc.mp4') },
        { output: 'advanced_hls', segment_duration: '2', stream: { size: '160x90' }, closed_captions: [{ extract: 'yes', language: 'en', label: 'CC1' }, { extract: 'srt' }], destination: dest('hls/video.m3u8') },
        { output: 'mp4', size: '160x90', closed_captions: { copy: 'yes' }, destination: dest('kept.mp4') },
        { output: 'mp4', size: '160x90', closed_captions: { copy: 'no' }, destination: dest('dropped.mp4') },
        { output: 'webm', size: '160x90', closed_captions: { copy: 'yes' }, destination: dest('kept.webm') },
        {
          output: 'mp4', size: '160x90', destination: dest('side/video.mp4'),
          closed_captions: [{ extract: 'srt' }, { extract: 'scc' }, { extract: 'dfxp', language: 'en' }, { source: `${files.url}/fr.scc`, extract: 'vtt' }],
        },
      ],
    });
    assert.equal(ok.message, 'Added', JSON.stringify(ok));
    const { final } = await untilFinal(t, ok.MediaID as string, 240_000);
    assert.deepEqual(asList(final.format).map((f: any) => f.status), ['Finished', 'Finished', 'Finished', 'Finished', 'Error', 'Finished'], JSON.stringify(asList(final.format).map((f: any) => f.description)));
    assert.equal((await t.call('json', { action: 'GetMediaInfo', mediaid: ok.MediaID })).closed_captions, 'yes', 'GetMediaInfo: the source carries CEA-608/708');

    // Sidecars beside the output, named after it, each listed by GetStatus with its status.
    const side = path.join(out, 'cc', 'side');
    assert.deepEqual(asList(asList(final.format)[5]!.destination), ['video.mp4', 'video.srt', 'video.scc', 'video.dfxp', 'video.vtt'].map((n) => `file://${side}/${n}`));
    assert.deepEqual((await fs.readdir(side)).sort(), ['video.dfxp', 'video.mp4', 'video.scc', 'video.srt', 'video.vtt']);
    const hello = [{ start: 0.96, end: 3, text: 'HELLO' }];
    const srt = await cuesIn(path.join(side, 'video.srt'));
    sameTimes(srt, hello, 0, 'SRT sidecar');
    assert.equal(srt[0]!.text, 'HELLO');
    // SCC: the CEA-608 bytes themselves, which FFmpeg's SCC reader and CEA-608 decoder read back.
    assert.match(await fs.readFile(path.join(side, 'video.scc'), 'utf8'), /^Scenarist_SCC V1\.0\n/);
    sameTimes(await cuesIn(path.join(side, 'video.scc')), hello, 0, 'SCC sidecar');
    const dfxp = parseTtml(await fs.readFile(path.join(side, 'video.dfxp'), 'utf8'));
    sameTimes(dfxp, hello, 0, 'DFXP sidecar');
    assert.equal(dfxp[0]!.text, 'HELLO');
    // SCC in, WebVTT out: the caption file's cues as FFmpeg decodes the file itself.
    const fromScc = new webvtt.WebVTTParser().parse(await fs.readFile(path.join(side, 'video.vtt'), 'utf8'), 'subtitles').cues.map((c) => ({ start: c.startTime, end: c.endTime, text: c.text }));
    sameTimes(fromScc, await cuesIn(path.join(t.filesDir, 'served', 'fr.scc')), 0, 'WebVTT sidecar from SCC');
    assert.equal((await streamsOf(path.join(side, 'video.mp4'))).filter((s) => s.codec_type === 'subtitle').length, 0, 'a sidecar is no track');
    // Beside an HLS master too, after it in GetStatus's list; the rendition is the track's alone.
    assert.deepEqual(asList(asList(final.format)[1]!.destination).slice(-2), ['video.m3u8', 'video.srt'].map((n) => `file://${out}/cc/hls/${n}`));
    sameTimes(await cuesIn(path.join(out, 'cc', 'hls', 'video.srt')), hello, 0, 'SRT sidecar of HLS');
    assert.match(asList(final.format)[4]!.description!, /closed_captions copy keeps CEA-608\/708 captions in H\.264 \(libx264\) video only, not in libvpx-vp9/);
    const expected = [{ start: 0.96, end: 3, text: 'HELLO' }];
    // copy yes / no: the captions in the video itself, as FFmpeg's own decoder finds them (lavfi is the tests' to use).
    sameTimes(await embeddedCues(path.join(out, 'cc', 'kept.mp4')), expected, 0, 'copy yes');
    assert.deepEqual(await embeddedCues(path.join(out, 'cc', 'dropped.mp4')), [], 'copy no');
    const mp4Cues = await cuesIn(path.join(out, 'cc', 'cc.mp4'));
    sameTimes(mp4Cues, expected, 0, 'extracted into mp4');
    assert.equal(mp4Cues[0]!.text, 'HELLO');
    const hls = path.join(out, 'cc', 'hls');
    const master = await readM3u8(path.join(hls, 'video.m3u8'));
    assert.deepEqual(Object.entries(master.mediaGroups?.SUBTITLES?.['subs'] ?? {}).map(([name, r]) => [name, r.language]), [['CC1', 'en']]);
  });

  test('a trimmed output shows the cues of its part at the same moments of the picture', async () => {
    const dest = (name: string): string => `file://${out}/trim/${name}`;
    const en = { source: `${files.url}/en.srt`, language: 'en' };
    const added = await t.call('json', {
      action: 'AddMedia',
      source: `file://${clip}`,
      format: [
        { output: 'mp4', start: '1', closed_captions: en, destination: dest('track.mp4') },
        { output: 'mp4', start: '1', closed_captions: { ...en, burn: 'yes' }, destination: dest('burned.mp4') },
        { output: 'mp4', start: '1', destination: dest('plain.mp4') },
        { output: 'advanced_hls', start: '1', segment_duration: '2', stream: { size: '160x90' }, closed_captions: en, destination: dest('hls/video.m3u8') },
        { output: 'fmp4_hls', start: '1', segment_duration: '2', size: '160x90', closed_captions: en, destination: dest('cmaf/master.m3u8') },
      ],
    });
    assert.equal(added.message, 'Added', JSON.stringify(added));
    const { final } = await untilFinal(t, added.MediaID as string, 240_000);
    assert.deepEqual(asList(final.format).map((f: any) => f.status), ['Finished', 'Finished', 'Finished', 'Finished', 'Finished'], JSON.stringify(asList(final.format).map((f: any) => f.description)));
    const moved = [{ start: 0, end: 0.5 }, { start: 1.25, end: 2.4 }];
    sameTimes(await cuesIn(path.join(out, 'trim', 'track.mp4')), moved, 0, 'trimmed mp4');
    const burned = path.join(out, 'trim', 'burned.mp4');
    const plain = path.join(out, 'trim', 'plain.mp4');
    assert.ok(captionRegionDifference(await grayFrame(burned, 0.25), await grayFrame(plain, 0.25)) > 200, 'the first cue shows at the start');
    assert.ok(captionRegionDifference(await grayFrame(burned, 0.9), await grayFrame(plain, 0.9)) < 20, 'and not between cues');
    const hls = path.join(out, 'trim', 'hls');
    const master = await readM3u8(path.join(hls, 'video.m3u8'));
    const uri = Object.values(master.mediaGroups?.SUBTITLES?.['subs'] ?? {})[0]!.uri!;
    const text = (await Promise.all((await readM3u8(path.join(hls, uri))).segments.map((s) => fs.readFile(path.join(hls, path.dirname(uri), s.uri), 'utf8')))).join('\n');
    assert.match(text, /00:00:00\.000 --> 00:00:00\.500\nHello there/);
    assert.match(text, /00:00:01\.250 --> 00:00:02\.400\nSecond line/);
    // CMAF: the subtitles in both manifests over the same cues.
    const cmaf = path.join(out, 'trim', 'cmaf');
    const cmafMaster = await readM3u8(path.join(cmaf, 'master.m3u8'));
    assert.deepEqual(Object.values(cmafMaster.mediaGroups?.SUBTITLES?.['subs'] ?? {}).map((r) => r.language), ['en']);
    for (const p of cmafMaster.playlists ?? []) assert.equal(p.attributes.SUBTITLES, 'subs');
    const cmafMpd = parseMpd(await fs.readFile(path.join(cmaf, 'manifest.mpd'), 'utf8'), { manifestUri: 'http://x.example/cmaf/manifest.mpd' });
    assert.deepEqual(Object.values(cmafMpd.mediaGroups.SUBTITLES?.['subs'] ?? {}).map((r) => r.language), ['en']);
  });
  test('TTML/DFXP sources: a WebVTT rendition in HLS and mov_text in MP4 at the source\'s times, and a broken file failing its task with the line', async () => {
    const dest = (name: string): string => `file://${out}/ttml/${name}`;
    const en = { source: `${files.url}/en.dfxp`, language: 'en', label: 'English' };
    const added = await t.call('json', {
      action: 'AddMedia',
      source: `file://${clip}`,
      format: [
        { output: 'advanced_hls', segment_duration: '2', stream: { size: '160x90' }, closed_captions: en, destination: dest('hls/video.m3u8') },
        { output: 'mp4', size: '160x90', closed_captions: en, destination: dest('subs.mp4') },
        { output: 'mp4', size: '160x90', closed_captions: { source: `${files.url}/bad.ttml` }, destination: dest('bad.mp4') },
      ],
    });
    assert.equal(added.message, 'Added', JSON.stringify(added));
    const { final } = await untilFinal(t, added.MediaID as string, 240_000);
    const formats = asList(final.format);
    assert.deepEqual(formats.map((f: any) => f.status), ['Finished', 'Finished', 'Error'], JSON.stringify(formats.map((f: any) => f.description)));
    assert.match(formats[2]!.description!, /closed_captions source http:\/\/127\.0\.0\.1:\d+\/bad\.ttml does not parse as TTML: line 5: <p end="soon">: not a TTML time/);
    const { cues } = await hlsRenditionCues(path.join(out, 'ttml', 'hls'), 'English');
    sameTimes(cues, CUES, 0, 'HLS from DFXP');
    assert.deepEqual(cues.map((c) => c.text), ['Hello there', 'Second\nline']);
    const mp4 = await cuesIn(path.join(out, 'ttml', 'subs.mp4'));
    sameTimes(mp4, CUES, 0, 'mp4 from DFXP');
    assert.deepEqual((await streamsOf(path.join(out, 'ttml', 'subs.mp4'))).filter((s) => s.codec_type === 'subtitle').map((s) => [s.codec_name, s.tags?.language]), [['mov_text', 'eng']]);
  });

  test('MPEG-2 video with A/53 captions: detected by GetMediaInfo, extracted into a track and a sidecar at the picture\'s times', async () => {
    const h264 = path.join(t.filesDir, 'cea608-for-mpeg2.mp4');
    await makeCea608Clip(h264, 4, helloPairs(25, 75));
    // FFmpeg's MPEG-2 encoder writes the decoded frames' captions as ATSC user data; MPEG-TS starts its clock at 1.4 s.
    const ts = path.join(t.filesDir, 'cea608.ts');
    await exec('ffmpeg', ['-v', 'error', '-y', '-i', h264, '-c:v', 'mpeg2video', '-a53cc', '1', '-q:v', '4', ts]);
    const dest = (name: string): string => `file://${out}/mpeg2/${name}`;
    const added = await t.call('json', {
      action: 'AddMedia',
      source: `file://${ts}`,
      format: { output: 'mp4', size: '160x90', closed_captions: [{ extract: 'yes', language: 'en' }, { extract: 'srt' }], destination: dest('cc.mp4') },
    });
    assert.equal(added.message, 'Added', JSON.stringify(added));
    const { final } = await untilFinal(t, added.MediaID as string, 240_000);
    assert.deepEqual(asList(final.format).map((f: any) => f.status), ['Finished'], JSON.stringify(asList(final.format).map((f: any) => f.description)));
    const info = await t.call('json', { action: 'GetMediaInfo', mediaid: added.MediaID });
    assert.deepEqual([info.video_codec, info.closed_captions], ['mpeg2video', 'yes']);
    const expected = [{ start: 0.96, end: 3, text: 'HELLO' }];
    const track = await cuesIn(path.join(out, 'mpeg2', 'cc.mp4'));
    sameTimes(track, expected, 0, 'MPEG-2 extracted into mp4');
    assert.equal(track[0]!.text, 'HELLO');
    sameTimes(await cuesIn(path.join(out, 'mpeg2', 'cc.srt')), expected, 0, 'MPEG-2 extracted into an SRT sidecar');
  });
});
