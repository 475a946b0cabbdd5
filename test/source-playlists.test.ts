/**
 * Issue 13 §1: a playlist or manifest given as a source (or as a logo or overlay) must not make
 * FFmpeg read what it names. Each attack here read another user's kept output, or a file outside
 * the file roots, before the fix; now each media ends in Error with a reason a person can act
 * on, and nothing is written. Ordinary sources keep working, `%` in their names included.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { OTHER, asList, exec, ffprobe, makeClip, serveFiles, startTestServer, tempDir, untilFinal, type TestServer, one } from './helpers.ts';

const PLAYLIST = /The source is an HLS playlist; playlists and manifests are not supported as sources: give the media file itself\./;

const fileUrl = (p: string): string => pathToFileURL(p).href;
const exists = (p: string): Promise<boolean> => fs.stat(p).then(() => true, () => false);

function hlsPlaylist(segment: string): string {
  return `#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXTINF:1.0,\n${segment}\n#EXT-X-ENDLIST\n`;
}

describe('playlists and manifests given as sources are refused (issue 13 §1)', () => {
  let t: TestServer;
  let roots: string;
  let outside: string;
  let clip: string;
  /** Another user's kept output: an encode of theirs with no destination, under the data dir. */
  let kept: string;
  let origin: { url: string; close(): Promise<void> };
  let n = 0;

  before(async () => {
    t = await startTestServer();
    roots = t.filesDir;
    await fs.mkdir(roots, { recursive: true });
    outside = await tempDir('encodery-outside-');
    clip = await makeClip(path.join(roots, 'clip.mp4'), { seconds: 1, size: '160x120' });
    // Each user reads only their own folder: the other user encodes a clip of theirs.
    const theirClip = await makeClip(path.join(t.filesOf(OTHER), 'clip.mp4'), { seconds: 1, size: '160x120' });
    const theirs = await t.call('json', { action: 'AddMedia', source: fileUrl(theirClip), format: { output: 'mp4', size: '176x144' } }, OTHER);
    const { final } = await untilFinal(t, theirs.MediaID as string, 120_000, OTHER);
    assert.equal(final.status, 'Finished', final.description);
    const outputs = path.join(t.dataDir, 'outputs', String(theirs.MediaID));
    const files = (await fs.readdir(outputs, { recursive: true })).filter((f) => f.endsWith('.mp4'));
    assert.equal(files.length, 1, `the other user's kept output under ${outputs}`);
    kept = path.join(outputs, files[0]!);
    const served = path.join(outside, 'served');
    await fs.mkdir(served);
    await fs.writeFile(path.join(served, 'feed'), hlsPlaylist(fileUrl(kept)));
    origin = await serveFiles(served);
  });
  after(async () => {
    await origin?.close();
    await t?.close();
    if (outside) await fs.rm(outside, { recursive: true, force: true });
  });

  /** Adds a media with an mp4 written into the roots; it must end in Error for `reason` and write nothing. */
  async function refused(source: string, reason: RegExp, format: Record<string, unknown> = {}): Promise<any> {
    const dest = path.join(roots, `out-${++n}.mp4`);
    const added = await t.call('json', { action: 'AddMedia', source, format: { output: 'mp4', ...format, destination: fileUrl(dest) } });
    assert.equal(added.message, 'Added', JSON.stringify(added));
    const { final } = await untilFinal(t, added.MediaID as string);
    const why = [final.description, ...asList(final.format).map((f: any) => f.description)].join(' | ');
    assert.equal(final.status, 'Error', why);
    assert.match(why, reason);
    assert.equal(await exists(dest), false, 'no output was written');
    return final;
  }

  for (const [how, segment] of [
    ['an absolute file:// URL', () => fileUrl(kept)],
    ['a plain absolute path', () => kept],
    ['a path relative to the playlist', () => path.relative(roots, kept)],
  ] as const) {
    test(`an HLS playlist inside the roots naming another user's kept output by ${how} ends in Error`, async () => {
      const playlist = path.join(roots, `attack-${n}.m3u8`);
      await fs.writeFile(playlist, hlsPlaylist(segment()));
      await refused(fileUrl(playlist), PLAYLIST);
    });
  }

  test('an HLS playlist without an extension ends in Error', async () => {
    const playlist = path.join(roots, 'holiday');
    await fs.writeFile(playlist, hlsPlaylist(fileUrl(kept)));
    await refused(fileUrl(playlist), PLAYLIST);
  });

  test('an HLS playlist downloaded over HTTP (saved without an extension) ends in Error', async () => {
    await refused(`${origin.url}/feed`, PLAYLIST);
  });

  test('a DASH manifest whose BaseURL is a file:// folder outside the roots ends in Error', async () => {
    const secret = path.join(outside, 'dash');
    await fs.mkdir(secret);
    await exec('ffmpeg', ['-v', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=176x144:rate=25:duration=1', '-c:v', 'libx264', '-preset', 'ultrafast', '-f', 'dash', path.join(secret, 'secret.mpd')]);
    const mpd = (await fs.readFile(path.join(secret, 'secret.mpd'), 'utf8')).replace('<Period ', `<BaseURL>${fileUrl(secret)}/</BaseURL>\n<Period `);
    const manifest = path.join(roots, 'show.mpd');
    await fs.writeFile(manifest, mpd);
    await refused(fileUrl(manifest), /The source is a DASH manifest; playlists and manifests are not supported as sources/);
  });

  test('an ffconcat list ends in Error with its own reason, not FFmpeg\'s', async () => {
    const list = path.join(roots, 'list.txt');
    await fs.writeFile(list, `ffconcat version 1.0\nfile '${kept}'\n`);
    await refused(fileUrl(list), /The source is an FFmpeg concat list; playlists and manifests are not supported as sources/);
  });

  test('an image whose name is a %d pattern is read as itself or refused, never as a numbered sequence', async () => {
    const frames = path.join(roots, 'frames');
    await fs.mkdir(frames);
    // Made under plain names (FFmpeg's image writer would expand %d too), then renamed.
    const picture = async (name: string, colour: string): Promise<void> => {
      const made = path.join(frames, `${colour}.png`);
      await exec('ffmpeg', ['-v', 'error', '-nostdin', '-y', '-f', 'lavfi', '-i', `color=c=${colour}:size=64x48`, '-frames:v', '1', '-update', '1', made]);
      await fs.rename(made, path.join(frames, name));
    };
    await picture('shot%d.png', 'blue');
    // What a sequence would read: pictures the user never named.
    for (const i of [0, 1, 2]) await picture(`shot${i}.png`, 'red');
    await refused(fileUrl(path.join(frames, 'shot%d.png')), /The source is an image-sequence pattern \(its name has %d, \*, \? or \{/);
  });

  test('a logo that is an HLS playlist fails its task with the reason', async () => {
    const logo = path.join(roots, 'logo.png');
    await fs.writeFile(logo, hlsPlaylist(fileUrl(kept)));
    await refused(fileUrl(clip), /logo_source file:\/\/\S+\/logo\.png is an HLS playlist; playlists and manifests are not supported/, {
      logo: { logo_source: fileUrl(logo) },
    });
  });

  test('an overlay that is an HLS playlist fails its task with the reason, and never shows the playlist\'s segment', async () => {
    const overlay = path.join(roots, 'overlay.mp4');
    await fs.writeFile(overlay, hlsPlaylist(fileUrl(kept)));
    await refused(fileUrl(clip), /overlay_source file:\/\/\S+\/overlay\.mp4 is an HLS playlist/, {
      overlay: { overlay_source: fileUrl(overlay), overlay_left: '0', overlay_top: '0' },
    });
  });

  test('a font that is an HLS playlist fails its task with the reason', async () => {
    const font = path.join(roots, 'font.ttf');
    await fs.writeFile(font, hlsPlaylist(fileUrl(kept)));
    await refused(fileUrl(clip), /font_source file:\/\/\S+\/font\.ttf is an HLS playlist; give a TrueType or OpenType font file/, {
      text_overlay: { text: 'hello', font_source: fileUrl(font) },
    });
  });

  test('an .m3u8 overlay_source is refused at AddMedia', async () => {
    const r = await t.call('json', { action: 'AddMedia', source: fileUrl(clip), format: { output: 'mp4', overlay: { overlay_source: `${origin.url}/feed.m3u8` } } });
    assert.match(one(r.errors?.error ?? ''), /overlay_source names a \.m3u8 file/);
  });

  test('an ordinary source whose name has % in it still finishes, read as itself', async () => {
    const named = path.join(roots, 'take 100%done.mp4');
    await fs.copyFile(clip, named);
    const dest = path.join(roots, 'done.mp4');
    const added = await t.call('json', { action: 'AddMedia', source: fileUrl(named), format: { output: 'mp4', destination: fileUrl(dest) } });
    const { final } = await untilFinal(t, added.MediaID as string);
    assert.equal(final.status, 'Finished', final.description);
    const probe = await ffprobe(dest);
    const video = probe.streams.find((s) => s.codec_type === 'video');
    assert.deepEqual([video?.width, video?.height], [160, 120]);
  });
});
