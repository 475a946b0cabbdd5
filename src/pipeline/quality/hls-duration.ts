/**
 * An HLS output's duration read from the playlists Encodery wrote, the way FFmpeg's own HLS demuxer
 * (and so ffprobe) computes it: the sum of the `#EXTINF` durations of the master's first variant's
 * media playlist (or of the playlist itself when it is a media playlist). Reading two small text
 * files replaces an ffprobe process that opened every variant and decoded frames of each, and that
 * ran after the encode, adding its time to every HLS media.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';

/** Seconds; null when the file is not a finished VOD playlist that can be read this way (ffprobe decides then). */
export async function hlsPlaylistDuration(playlist: string): Promise<number | null> {
  if (!playlist.toLowerCase().endsWith('.m3u8')) return null;
  const text = await readFile(playlist, 'utf8').catch(() => null);
  if (text === null || !text.startsWith('#EXTM3U')) return null;
  const lines = text.split(/\r?\n/).map((l) => l.trim());
  if (lines.some((l) => l.startsWith('#EXTINF:'))) return sumOfSegments(lines);
  const variant = lines.findIndex((l) => l.startsWith('#EXT-X-STREAM-INF:'));
  const uri = variant >= 0 ? lines.slice(variant + 1).find((l) => l !== '' && !l.startsWith('#')) : undefined;
  const media = uri === undefined ? null : beside(playlist, uri);
  if (media === null) return null;
  const mediaText = await readFile(media, 'utf8').catch(() => null);
  return mediaText === null ? null : sumOfSegments(mediaText.split(/\r?\n/).map((l) => l.trim()));
}

/** A finished playlist's total; null while it could still grow (no ENDLIST) or lists no segment. */
function sumOfSegments(lines: string[]): number | null {
  if (!lines.includes('#EXT-X-ENDLIST')) return null;
  let total = 0;
  let segments = 0;
  for (const l of lines) {
    if (!l.startsWith('#EXTINF:')) continue;
    const seconds = Number.parseFloat(l.slice('#EXTINF:'.length));
    if (!Number.isFinite(seconds) || seconds < 0) return null;
    total += seconds;
    segments++;
  }
  return segments > 0 ? total : null;
}

/** A variant URI as a file in the master's folder or below it; null for anything else (a URL, an absolute path, `..`). */
function beside(master: string, uri: string): string | null {
  if (/^[a-z][a-z0-9+.-]*:/i.test(uri) || path.posix.isAbsolute(uri)) return null;
  const dir = path.dirname(path.resolve(master));
  const file = path.resolve(dir, uri);
  return file.startsWith(dir + path.sep) ? file : null;
}
