/**
 * Subtitle renditions of segmented outputs, added after FFmpeg has written the output and its
 * manifests have been corrected (hls-master.ts, dash-manifest.ts):
 *
 * - HLS: each track cut into WebVTT segments (`vtt_segment_duration`) with a media playlist, an
 *   `EXT-X-MEDIA:TYPE=SUBTITLES` line in the master (LANGUAGE, NAME, DEFAULT, AUTOSELECT) and
 *   `SUBTITLES="subs"` on every variant. Each segment carries `X-TIMESTAMP-MAP` tying its clock to
 *   the video's first timestamp, so players line the cues up with the picture (RFC 8216 3.5).
 * - DASH: each track as one WebVTT file in a text adaptation set (ISO/IEC 23009-1 5.3.3, the
 *   `subtitle` role), which dash.js and Shaka play as a sidecar.
 */
import { open, readFile, rename, writeFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { segmentCues, writeVtt, type Cue } from '../../domain/caption-cues.ts';
import type { LoadedCaption } from './load.ts';

export const SUBTITLE_GROUP = 'subs';
const SEGMENT_NAME = (n: number): string => `seg_${String(n).padStart(5, '0')}.vtt`;

/** One track as it goes into an output: its cues on the output's clock. */
export interface OutputCaption {
  caption: LoadedCaption;
  cues: Cue[];
  /** The track's folder beside the master playlist / MPD. */
  folder: string;
}

/** Folder names for the tracks, unlike any of the output's own (`taken`). */
export function captionFolders(captions: readonly LoadedCaption[], taken: readonly string[]): string[] {
  const used = new Set(taken.map((t) => t.split('/')[0]!.toLowerCase()));
  return captions.map((c) => {
    const base = `subtitles_${c.track.language.toLowerCase().replace(/[^a-z0-9-]/g, '')}`;
    let name = base;
    for (let n = 2; used.has(name); n++) name = `${base}_${n}`;
    used.add(name);
    return name;
  });
}

/**
 * Writes the tracks' WebVTT segments and playlists into `dir` and adds them to the master
 * playlist there. `segmentSeconds` is the output's segment_duration (a track's own
 * vtt_segment_duration wins); `totalSeconds` the output's length. Returns the files written.
 */
export async function addHlsSubtitles(
  dir: string, master: string, tracks: OutputCaption[], opts: { segmentSeconds: number; totalSeconds: number; fmp4: boolean },
): Promise<string[]> {
  const masterPath = path.join(dir, master);
  const lines = (await readFile(masterPath, 'utf8')).split('\n');
  const firstVariant = lines.findIndex((l) => l.startsWith('#EXT-X-STREAM-INF:'));
  if (firstVariant < 0) throw new Error('The HLS master playlist has no variant to add subtitles to.');
  const mpegts = opts.fmp4 ? 0 : await firstVideoPts(dir, lines[firstVariant + 1]?.trim() ?? '');
  const files: string[] = [];
  const media: string[] = [];
  for (const t of tracks) {
    const seconds = t.caption.track.segmentSeconds ?? opts.segmentSeconds;
    const segments = segmentCues(t.cues, seconds, opts.totalSeconds);
    const folder = path.join(dir, ...t.folder.split('/'));
    await mkdir(folder, { recursive: true });
    const header = [`X-TIMESTAMP-MAP=MPEGTS:${mpegts},LOCAL:00:00:00.000`];
    for (const [k, s] of segments.entries()) {
      const file = path.join(folder, SEGMENT_NAME(k + 1));
      await writeFile(file, writeVtt(s.cues, header));
      files.push(file);
    }
    const playlist = [
      '#EXTM3U', '#EXT-X-VERSION:3', `#EXT-X-TARGETDURATION:${Math.ceil(Math.max(...segments.map((s) => s.duration)) - 1e-6)}`,
      '#EXT-X-MEDIA-SEQUENCE:1', '#EXT-X-PLAYLIST-TYPE:VOD',
      ...segments.flatMap((s, k) => [`#EXTINF:${s.duration.toFixed(6)},`, SEGMENT_NAME(k + 1)]),
      '#EXT-X-ENDLIST', '',
    ];
    const playlistPath = path.join(folder, 'index.m3u8');
    await writeFile(playlistPath, playlist.join('\n'));
    files.push(playlistPath);
    const { track } = t.caption;
    media.push(`#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="${SUBTITLE_GROUP}",NAME="${track.label ?? track.language}",LANGUAGE="${track.language}",`
      + `DEFAULT=${track.isDefault ? 'YES' : 'NO'},AUTOSELECT=${track.autoselect || track.isDefault ? 'YES' : 'NO'},FORCED=NO,URI="${t.folder}/index.m3u8"`);
  }
  // The renditions go before the first variant; every variant names their group.
  const out = lines.flatMap((l, i) => {
    const own = l.startsWith('#EXT-X-STREAM-INF:') && !/(^|,)SUBTITLES=/.test(l.slice(18)) ? `${l},SUBTITLES="${SUBTITLE_GROUP}"` : l;
    return i === firstVariant ? [...media, own] : [own];
  });
  await writeFile(`${masterPath}.tmp`, out.join('\n'));
  await rename(`${masterPath}.tmp`, masterPath);
  return files;
}

/**
 * The first presentation timestamp (90 kHz) of the video in an MPEG-TS segment: the smallest PTS
 * among its first video PES packets (an IDR comes first, B-frames after it show later).
 */
async function firstVideoPts(dir: string, variantUri: string): Promise<number> {
  const playlist = await readFile(path.join(dir, variantUri), 'utf8');
  const segment = playlist.split('\n').map((l) => l.trim()).find((l) => l !== '' && !l.startsWith('#'));
  if (!segment) throw new Error(`The HLS playlist ${variantUri} has no segment.`);
  const handle = await open(path.join(dir, path.posix.dirname(variantUri), segment), 'r');
  try {
    const { buffer, bytesRead } = await handle.read(Buffer.alloc(188 * 2000), 0, 188 * 2000, 0);
    let best: number | null = null;
    let seen = 0;
    for (let at = 0; at + 188 <= bytesRead && seen < 32; at += 188) {
      if (buffer[at] !== 0x47 || !(buffer[at + 1]! & 0x40)) continue;
      const control = (buffer[at + 3]! >> 4) & 0x3;
      let p = at + 4;
      if (control === 2) continue;
      if (control === 3) p += 1 + buffer[p]!;
      if (p + 14 > at + 188 || buffer[p] !== 0 || buffer[p + 1] !== 0 || buffer[p + 2] !== 1) continue;
      const streamId = buffer[p + 3]!;
      if (streamId < 0xe0 || streamId > 0xef || !(buffer[p + 7]! & 0x80)) continue;
      const b = buffer.subarray(p + 9, p + 14);
      const pts = ((b[0]! >> 1) & 0x07) * 2 ** 30 + (b[1]! << 22 | (b[2]! >> 1) << 15 | b[3]! << 7 | b[4]! >> 1);
      best = best === null ? pts : Math.min(best, pts);
      seen++;
    }
    // Audio-only output: FFmpeg's MPEG-TS starts at its default mux delay.
    return best ?? 126_000;
  } finally {
    await handle.close();
  }
}

/** Writes each track as one WebVTT file and adds a text adaptation set per track to the MPD. */
export async function addDashSubtitles(dir: string, mpd: string, tracks: OutputCaption[]): Promise<string[]> {
  const mpdPath = path.join(dir, mpd);
  const text = await readFile(mpdPath, 'utf8');
  const end = text.lastIndexOf('</Period>');
  if (end < 0) throw new Error('The DASH manifest has no Period to add subtitles to.');
  const files: string[] = [];
  const sets: string[] = [];
  for (const [k, t] of tracks.entries()) {
    const folder = path.join(dir, ...t.folder.split('/'));
    await mkdir(folder, { recursive: true });
    const file = path.join(folder, 'subtitles.vtt');
    const body = writeVtt(t.cues);
    await writeFile(file, body);
    files.push(file);
    const { track } = t.caption;
    sets.push([
      `\t\t<AdaptationSet id="${1000 + k}" contentType="text" mimeType="text/vtt" lang="${xml(track.language)}">`,
      '\t\t\t<Role schemeIdUri="urn:mpeg:dash:role:2011" value="subtitle"/>',
      ...(track.label ? [`\t\t\t<Label>${xml(track.label)}</Label>`] : []),
      `\t\t\t<Representation id="subtitles${k}" bandwidth="${Math.max(1, Math.ceil((Buffer.byteLength(body) * 8) / Math.max(1, t.cues.at(-1)?.end ?? 1)))}">`,
      `\t\t\t\t<BaseURL>${xml(`${t.folder}/subtitles.vtt`)}</BaseURL>`,
      '\t\t\t</Representation>',
      '\t\t</AdaptationSet>',
    ].join('\n'));
  }
  await writeFile(`${mpdPath}.tmp`, `${text.slice(0, end)}${sets.join('\n')}\n\t${text.slice(end)}`);
  await rename(`${mpdPath}.tmp`, mpdPath);
  return files;
}

function xml(v: string): string {
  return v.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}
