/**
 * After FFmpeg's hls muxer has written an HLS output: the files it made, and three corrections to
 * its master playlist. Everything else in the playlists is FFmpeg's own.
 *
 * 1. BANDWIDTH. FFmpeg writes the *requested* bitrate plus 10 % (nothing at all for a
 *    constant-quality stream), but RFC 8216 4.3.4.2 defines BANDWIDTH as the peak segment bit
 *    rate of the variant plus its audio rendition, measured over the segments as written, and
 *    players pick variants by it. We measure it from the segment files (peak over windows of 0.5
 *    to 1.5 target durations, as the RFC defines it) and add AVERAGE-BANDWIDTH.
 * 2. Audio renditions. With an audio group FFmpeg also lists every rendition as an audio-only
 *    variant. Players may then switch to a picture-less variant on a slow network, so a
 *    rendition stays a variant only when an `audio_only` stream asked for it.
 * 3. CODECS of an HEVC variant: FFmpeg's is wrong for Main profile streams (hls-codecs.ts).
 *
 * And two additions: the encryption key's URI made relative to each media playlist (FFmpeg
 * writes one URI for all of them, but they sit in folders of different depths), and the I-frame
 * playlists FFmpeg cannot write (hls-iframes.ts), listed in the master.
 */
import { readFile, rename, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { hevcCodecString } from './hls-codecs.ts';
import { writeIframePlaylist } from './hls-iframes.ts';

export const HLS_MASTER = 'master.m3u8';
export const HLS_MEDIA_PLAYLIST = 'index.m3u8';

interface MediaPlaylist {
  /** Segment files (and fMP4 init sections), relative to the output folder, in order. */
  files: string[];
  /** The first fMP4 init section (EXT-X-MAP), relative to the output folder. */
  init: string | null;
  /** Media segments with their EXTINF durations, in order. */
  segments: { file: string; seconds: number }[];
  /** Bits per second. */
  peak: number;
  average: number;
}

export interface HlsFinishing {
  /** Media playlist URIs that must not be listed as variants. */
  hidden: string[];
  /** Media playlist URIs that must be. */
  expected: string[];
  /** Media playlist URIs of the variants that get an I-frame playlist. */
  iframes: string[];
  /** The encryption key file beside the master; `relative`: its URI in the playlists is its name. */
  key: { file: string; relative: boolean; delivered: boolean } | null;
  /** Each audio rendition's NAME, LANGUAGE and DEFAULT, by its media playlist URI. */
  renditions?: RenditionLabel[];
  /** Each variant's VIDEO-RANGE (RFC 8216bis: PQ, HLG or SDR), by its media playlist URI, when any variant is HDR. */
  videoRanges?: Map<string, 'SDR' | 'PQ' | 'HLG'>;
}

export interface RenditionLabel {
  uri: string;
  name: string;
  /** RFC 5646 (`en`, `fr`); null when the track is untagged. */
  language: string | null;
  isDefault: boolean;
  autoselect: boolean;
}

/**
 * Corrects the master playlist in `dir` (see above) and returns every file of the output, as
 * absolute paths: each media playlist's segments and then the playlist, the master last (so an
 * upload in this order never exposes a master whose variants are not there yet).
 * `hidden` are media playlist URIs that must not be listed as variants, `expected` those that must.
 */
export async function finalizeHls(dir: string, variantsOf: HlsFinishing): Promise<string[]> {
  const masterPath = path.join(dir, HLS_MASTER);
  const text = await readFile(masterPath, 'utf8').catch(() => null);
  if (text === null) throw new Error('FFmpeg finished without writing the HLS master playlist.');
  const lines = text.split('\n');

  if (variantsOf.renditions) labelRenditions(lines, variantsOf.renditions);
  const groups = new Map<string, string[]>();
  const uris: string[] = [];
  for (const line of lines) {
    if (!line.startsWith('#EXT-X-MEDIA:')) continue;
    const attrs = parseAttributes(line.slice('#EXT-X-MEDIA:'.length));
    const uri = unquote(attrs.get('URI'));
    const group = unquote(attrs.get('GROUP-ID'));
    if (!uri || !group) continue;
    groups.set(group, [...(groups.get(group) ?? []), uri]);
    uris.push(uri);
  }
  const variants: { at: number; uri: string }[] = [];
  for (const [i, line] of lines.entries()) {
    if (!line.startsWith('#EXT-X-STREAM-INF:')) continue;
    const uri = lines.slice(i + 1).find((l) => l.trim() !== '')?.trim();
    if (!uri || uri.startsWith('#')) throw new Error('The HLS master playlist has a variant without a URI.');
    variants.push({ at: i, uri });
  }
  for (const uri of variantsOf.expected) {
    if (!variants.some((v) => v.uri === uri)) throw new Error(`FFmpeg left the variant ${uri} out of the HLS master playlist.`);
  }
  // Files in the master's order: the variants, then renditions that are not variants themselves.
  const ordered = [...new Set([...variants.map((v) => v.uri), ...uris])];

  const media = new Map<string, MediaPlaylist>();
  for (const uri of ordered) {
    if (variantsOf.key?.relative) await relinkKey(dir, uri, variantsOf.key.file);
    media.set(uri, await readMediaPlaylist(dir, uri));
  }

  const hidden = new Set(variantsOf.hidden);
  const drop = new Set<number>();
  for (const v of variants) {
    const uriLine = lines.findIndex((l, i) => i > v.at && l.trim() === v.uri);
    if (hidden.has(v.uri)) {
      drop.add(v.at).add(uriLine);
      if (lines[uriLine + 1]?.trim() === '') drop.add(uriLine + 1);
      continue;
    }
    const attrs = parseAttributes(lines[v.at]!.slice('#EXT-X-STREAM-INF:'.length));
    const own = media.get(v.uri)!;
    const group = groups.get(unquote(attrs.get('AUDIO')) ?? '') ?? [];
    // An audio-only variant is itself a member of its group: its audio is not counted twice.
    const audio = group.includes(v.uri) ? [] : group.map((u) => media.get(u)!);
    const peak = own.peak + Math.max(0, ...audio.map((a) => a.peak));
    const average = own.average + Math.max(0, ...audio.map((a) => a.average));
    const rewritten = new Map<string, string>();
    for (const [key, value] of attrs) {
      if (key === 'AVERAGE-BANDWIDTH') continue;
      if (key === 'BANDWIDTH') {
        rewritten.set('BANDWIDTH', String(Math.ceil(peak)));
        rewritten.set('AVERAGE-BANDWIDTH', String(Math.ceil(average)));
      } else if (key === 'CODECS' && own.init && value.includes('hvc1.')) {
        const hevc = await hevcCodecString(path.join(dir, own.init));
        rewritten.set(key, hevc ? value.replace(/hvc1\.[^,"]*/, hevc) : value);
      } else if (key !== 'VIDEO-RANGE') rewritten.set(key, value);
    }
    const range = variantsOf.videoRanges?.get(v.uri);
    if (range) rewritten.set('VIDEO-RANGE', range);
    lines[v.at] = `#EXT-X-STREAM-INF:${[...rewritten].map(([k, val]) => `${k}=${val}`).join(',')}`;
  }

  const extra = new Map<string, string>();
  const iframeLines: string[] = [];
  for (const uri of variantsOf.iframes) {
    const v = variants.find((x) => x.uri === uri);
    if (!v) throw new Error(`internal: no variant ${uri} for its I-frame playlist`);
    const attrs = parseAttributes(lines[v.at]!.slice('#EXT-X-STREAM-INF:'.length));
    const iframes = await writeIframePlaylist(dir, uri, media.get(uri)!.segments);
    const rates = segmentRates(iframes.entries, iframes.target);
    extra.set(uri, iframes.uri);
    // The I-frames have the variant's picture and no audio.
    const codecs = unquote(attrs.get('CODECS'))?.split(',').filter((c) => !c.startsWith('mp4a') && !c.startsWith('ac-3') && !c.startsWith('ec-3'));
    const list = [
      `BANDWIDTH=${Math.ceil(rates.peak)}`, `AVERAGE-BANDWIDTH=${Math.ceil(rates.average)}`,
      ...(attrs.has('RESOLUTION') ? [`RESOLUTION=${attrs.get('RESOLUTION')}`] : []),
      ...(codecs && codecs.length > 0 ? [`CODECS="${codecs.join(',')}"`] : []),
      `URI="${iframes.uri}"`,
    ];
    iframeLines.push(`#EXT-X-I-FRAME-STREAM-INF:${list.join(',')}`);
  }
  // (Lines of an earlier run over the same output are replaced, not repeated.)
  const kept = lines.filter((l, i) => !drop.has(i) && !l.startsWith('#EXT-X-I-FRAME-STREAM-INF:'));
  while (kept.length > 0 && kept.at(-1)!.trim() === '') kept.pop();
  const tmp = `${masterPath}.tmp`;
  await writeFile(tmp, [...kept, ...iframeLines, ''].join('\n'));
  await rename(tmp, masterPath);

  const files: string[] = [];
  for (const [uri, m] of media) files.push(...m.files, uri, ...(extra.has(uri) ? [extra.get(uri)!] : []));
  if (variantsOf.key?.delivered) files.push(variantsOf.key.file);
  files.push(HLS_MASTER);
  return files.map((f) => path.join(dir, f));
}

/**
 * FFmpeg names audio renditions `audio_1`, `audio_2`… and writes no AUTOSELECT: each gets the
 * track's title or language name (unique within its group, RFC 8216 4.3.4.1), its language,
 * DEFAULT for the group's default and AUTOSELECT (alternate_source may turn it off), so players
 * pick by the viewer's language.
 */
function labelRenditions(lines: string[], labels: RenditionLabel[]): void {
  const namesByGroup = new Map<string, Set<string>>();
  for (const [i, line] of lines.entries()) {
    if (!line.startsWith('#EXT-X-MEDIA:')) continue;
    const attrs = parseAttributes(line.slice('#EXT-X-MEDIA:'.length));
    const label = labels.find((l) => l.uri === unquote(attrs.get('URI')));
    if (attrs.get('TYPE') !== 'AUDIO' || !label) continue;
    const group = unquote(attrs.get('GROUP-ID')) ?? '';
    const taken = namesByGroup.get(group) ?? new Set<string>();
    let name = label.name.replace(/"/g, "'");
    for (let n = 2; taken.has(name); n++) name = `${label.name.replace(/"/g, "'")} (${n})`;
    taken.add(name);
    namesByGroup.set(group, taken);
    const list = [
      `TYPE=AUDIO`, `GROUP-ID=${attrs.get('GROUP-ID')}`, `NAME="${name}"`, `DEFAULT=${label.isDefault ? 'YES' : 'NO'}`, `AUTOSELECT=${label.autoselect ? 'YES' : 'NO'}`,
      ...(label.language ? [`LANGUAGE="${label.language}"`] : []),
      ...[...attrs].filter(([k]) => !['TYPE', 'GROUP-ID', 'NAME', 'DEFAULT', 'AUTOSELECT', 'LANGUAGE', 'URI'].includes(k)).map(([k, v]) => `${k}=${v}`),
      `URI=${attrs.get('URI')}`,
    ];
    lines[i] = `#EXT-X-MEDIA:${list.join(',')}`;
  }
}

/** `URI="<name>"` of FFmpeg's EXT-X-KEY → the key's path relative to this playlist's folder. */
async function relinkKey(dir: string, uri: string, keyFile: string): Promise<void> {
  const file = inside(dir, uri);
  const text = await readFile(file, 'utf8').catch(() => null);
  if (text === null) return; // readMediaPlaylist reports it
  const relative = path.posix.relative(path.posix.dirname(uri), keyFile);
  const quoted = `URI="${keyFile}"`;
  const fixed = text.split('\n').map((l) => (l.startsWith('#EXT-X-KEY:') ? l.replace(quoted, `URI="${relative}"`) : l)).join('\n');
  if (fixed !== text) await writeFile(file, fixed);
}

/** Reads one of FFmpeg's VOD media playlists and measures its segments (RFC 8216 4.3.4.2). */
async function readMediaPlaylist(dir: string, uri: string): Promise<MediaPlaylist> {
  const playlistPath = inside(dir, uri);
  const text = await readFile(playlistPath, 'utf8').catch(() => null);
  if (text === null) throw new Error(`FFmpeg finished without writing the HLS playlist ${uri}.`);
  let target = 0;
  let duration: number | null = null;
  const segments: { file: string; seconds: number; bits: number }[] = [];
  const maps: string[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('#EXT-X-MAP:')) {
      const map = unquote(parseAttributes(line.slice('#EXT-X-MAP:'.length)).get('URI'));
      if (!map) throw new Error(`The HLS playlist ${uri} has an EXT-X-MAP without a URI.`);
      const file = path.posix.join(path.posix.dirname(uri), map);
      if (!(await stat(inside(dir, file)).catch(() => null))) throw new Error(`The HLS playlist ${uri} needs ${map}, which FFmpeg did not write.`);
      if (!maps.includes(file)) maps.push(file);
    } else if (line.startsWith('#EXT-X-TARGETDURATION:')) target = Number(line.slice(22));
    else if (line.startsWith('#EXTINF:')) duration = Number.parseFloat(line.slice(8));
    else if (line !== '' && !line.startsWith('#')) {
      const file = path.posix.join(path.posix.dirname(uri), line);
      const size = (await stat(inside(dir, file)).catch(() => null))?.size;
      if (size === undefined) throw new Error(`The HLS playlist ${uri} lists ${line}, which FFmpeg did not write.`);
      segments.push({ file, seconds: duration ?? 0, bits: size * 8 });
      duration = null;
    }
  }
  if (segments.length === 0) throw new Error(`FFmpeg wrote the HLS playlist ${uri} without any segment; the source may end before the requested part.`);
  return {
    files: [...maps, ...segments.map((s) => s.file)],
    init: maps[0] ?? null,
    segments: segments.map((s) => ({ file: s.file, seconds: s.seconds })),
    ...segmentRates(segments, target),
  };
}

/** Peak (over windows of 0.5 to 1.5 target durations, RFC 8216 4.3.4.2) and average bits per second. */
export function segmentRates(segments: { seconds: number; bits: number }[], target: number): { peak: number; average: number } {
  const totalSeconds = segments.reduce((s, x) => s + x.seconds, 0);
  const totalBits = segments.reduce((s, x) => s + x.bits, 0);
  const average = totalSeconds > 0 ? totalBits / totalSeconds : 0;
  let peak = 0;
  for (let i = 0; i < segments.length; i++) {
    let seconds = 0;
    let bits = 0;
    for (let j = i; j < segments.length; j++) {
      seconds += segments[j]!.seconds;
      bits += segments[j]!.bits;
      if (seconds > 1.5 * target) break;
      if (seconds >= 0.5 * target && seconds > 0) peak = Math.max(peak, bits / seconds);
    }
  }
  // A list shorter than half a target duration has no window: its one rate is its peak.
  return { peak: peak || average, average };
}

/** A playlist URI as a path inside `dir`; FFmpeg writes only relative names below it. */
function inside(dir: string, uri: string): string {
  const full = path.resolve(dir, uri);
  if (/^[a-z][a-z0-9+.-]*:/i.test(uri) || !full.startsWith(dir + path.sep)) {
    throw new Error(`The HLS playlist refers to ${uri}, outside its folder.`);
  }
  return full;
}

/** `KEY=value,KEY="quoted, with commas"` → ordered map (values kept as written, quotes included). */
function parseAttributes(list: string): Map<string, string> {
  const attrs = new Map<string, string>();
  for (const m of list.matchAll(/([A-Z0-9-]+)=("[^"]*"|[^,]*)/g)) attrs.set(m[1]!, m[2]!);
  return attrs;
}

function unquote(v: string | undefined): string | undefined {
  return v?.replace(/^"|"$/g, '');
}
