/**
 * After FFmpeg's dash muxer has written a DASH/CMAF output: its files put in place, and the
 * manifests made right.
 *
 * 1. Layout. The muxer names files only by representation number (it can template nothing else
 *    and makes no folders), so it writes them flat and we move each representation's init and
 *    media segments into its `sub_path` folder, pointing the MPD's SegmentTemplate there.
 * 2. @bandwidth. FFmpeg writes the *requested* bitrate; ISO/IEC 23009-1 5.3.5.2 defines it as the
 *    rate at which a client that has buffered @minBufferTime plays on without stalling, whatever
 *    segment it starts at. We compute that from the segment files as written.
 * 3. HEVC codecs. FFmpeg 5.1 writes a bare `hvc1`, which players cannot match to a decoder; the
 *    full string (ISO/IEC 14496-15 E.3) comes from the hvcC box of the init segment.
 * 4. bitstreamSwitching is dropped: variants of different sizes each need their own init segment.
 * 5. CMAF: HLS media playlists over the same segments (EXT-X-MAP = the init segment) and a master
 *    playlist, whose BANDWIDTH is then measured as for advanced_hls (hls-master.ts).
 */
import { mkdir, rename, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { attrs, children, readMpd, writeMpd, type XmlNode } from './mpd-tree.ts';
import { DASH_MANIFEST } from '../../domain/format.ts';
import { finalizeHls, HLS_MASTER, HLS_MEDIA_PLAYLIST, type RenditionLabel } from './hls-master.ts';
import { hevcCodecs, readHead } from './hevc-codecs.ts';

/** What FFmpeg is told to name the files; `$…$` are its DASH template fields. */
export const FFMPEG_INIT_NAME = 'r$RepresentationID$_init.$ext$';
export const FFMPEG_SEGMENT_NAME = 'r$RepresentationID$_$Number%05d$.$ext$';
const INIT_NAME = 'init.m4s';
const SEGMENT_NAME = 'seg_$Number%05d$.m4s';

/** FFmpeg's representation i (its output stream i). */
export interface Representation {
  /** Folder beside the MPD. */
  folder: string;
  kind: 'video' | 'audio';
}

export interface DashLayout {
  representations: Representation[];
  /** CMAF: HLS variants (a representation and the audio representation it plays with) and audio renditions. */
  hls: {
    variants: { rep: number; audio: number | null }[];
    audio: number[];
    /** An audio representation's group, named by the group's default representation (several languages share one); itself when absent. */
    groupOf?: Map<number, number>;
    /** NAME, LANGUAGE and DEFAULT of the audio renditions, by representation. */
    labels?: Map<number, Omit<RenditionLabel, 'uri'>>;
    /** VIDEO-RANGE of the video representations, when any keeps HDR. */
    videoRanges?: Map<number, 'SDR' | 'PQ' | 'HLG'>;
  } | null;
}

interface Written {
  id: number;
  init: string;
  segments: { file: string; seconds: number; bits: number }[];
  codecs: string;
  width?: string;
  height?: string;
  frameRate?: string;
  channels?: string;
}

/**
 * Puts the files in place and corrects the manifests (see above). Returns every file of the
 * output as absolute paths, the main manifest last: the MPD, or for CMAF the HLS master (the
 * MPD just before it).
 */
export async function finalizeDash(dir: string, layout: DashLayout): Promise<string[]> {
  const mpdPath = path.join(dir, DASH_MANIFEST);
  if (!(await stat(mpdPath).catch(() => null))) throw new Error('FFmpeg finished without writing the DASH manifest.');
  const { doc, mpd } = await readMpd(mpdPath, 'The DASH manifest FFmpeg wrote has no MPD element.');
  const minBuffer = isoSeconds(attrs(mpd).minBufferTime) ?? 2;

  const written = new Map<number, Written>();
  for (const period of children(mpd, 'Period')) {
    for (const set of children(period, 'AdaptationSet')) {
      delete attrs(set).bitstreamSwitching;
      for (const rep of children(set, 'Representation')) {
        const w = await placeRepresentation(dir, rep, layout, minBuffer);
        w.frameRate ??= attrs(set).frameRate;
        written.set(w.id, w);
      }
    }
  }
  for (const [i, r] of layout.representations.entries()) {
    if (!written.has(i)) throw new Error(`FFmpeg left the ${r.kind} stream ${r.folder} out of the DASH manifest.`);
  }
  await writeMpd(mpdPath, doc);

  const files: string[] = [];
  for (const w of [...written.values()].sort((a, b) => a.id - b.id)) files.push(w.init, ...w.segments.map((s) => s.file));
  if (!layout.hls) return [...files, mpdPath];
  const playlists = await writeHls(dir, layout, written);
  return [...files, ...playlists, mpdPath, path.join(dir, HLS_MASTER)];
}

/** Moves one representation's files into its folder and corrects its MPD entry. */
async function placeRepresentation(dir: string, rep: XmlNode, layout: DashLayout, minBuffer: number): Promise<Written> {
  const a = attrs(rep);
  const id = Number(a.id);
  const wanted = layout.representations[id];
  if (!Number.isInteger(id) || !wanted) throw new Error(`The DASH manifest has a representation "${a.id}" that was not asked for.`);
  const template = children(rep, 'SegmentTemplate')[0];
  if (!template) throw new Error(`The DASH manifest has no SegmentTemplate for ${wanted.folder}.`);
  const t = attrs(template);
  const timescale = Number(t.timescale ?? 1);
  let number = Number(t.startNumber ?? 1);
  const durations: number[] = [];
  for (const s of children(children(template, 'SegmentTimeline')[0] ?? {}, 'S')) {
    const d = Number(attrs(s).d);
    const repeat = Number(attrs(s).r ?? 0);
    for (let k = 0; k <= repeat; k++) durations.push(d / timescale);
  }
  if (durations.length === 0) throw new Error(`FFmpeg wrote no segment for ${wanted.folder}; the source may end before the requested part.`);

  const folder = path.join(dir, ...wanted.folder.split('/'));
  await mkdir(folder, { recursive: true });
  const init = path.join(folder, INIT_NAME);
  await move(path.join(dir, expand(t.initialization ?? '', id, 0)), init);
  const segments: Written['segments'] = [];
  for (const seconds of durations) {
    const file = path.join(folder, expand(SEGMENT_NAME, id, number));
    await move(path.join(dir, expand(t.media ?? '', id, number)), file);
    segments.push({ file, seconds, bits: (await stat(file)).size * 8 });
    number++;
  }
  t.initialization = `${wanted.folder}/${INIT_NAME}`;
  t.media = `${wanted.folder}/${SEGMENT_NAME}`;
  a.bandwidth = String(dashBandwidth(segments, minBuffer));
  if (a.codecs === 'hvc1' || a.codecs === 'hev1') a.codecs = hevcCodecs(a.codecs, await readHead(init));
  const channels = children(rep, 'AudioChannelConfiguration')[0];
  return {
    id, init, segments, codecs: a.codecs ?? '', width: a.width, height: a.height, frameRate: a.frameRate,
    channels: channels ? attrs(channels).value : undefined,
  };
}

/**
 * The lowest rate B such that, for every starting segment i and later segment j, segments i..j
 * have arrived by the time j must play: B * (minBuffer + seconds played before j) >= bits(i..j).
 */
export function dashBandwidth(segments: { seconds: number; bits: number }[], minBuffer: number): number {
  let need = 0;
  for (let i = 0; i < segments.length; i++) {
    let bits = 0;
    let before = 0;
    for (let j = i; j < segments.length; j++) {
      bits += segments[j]!.bits;
      need = Math.max(need, bits / (minBuffer + before));
      before += segments[j]!.seconds;
    }
  }
  return Math.max(1, Math.ceil(need));
}

/** The HLS side of a CMAF output; returns the media playlists written. */
async function writeHls(dir: string, layout: DashLayout, written: Map<number, Written>): Promise<string[]> {
  const hls = layout.hls!;
  const uri = (rep: number): string => `${layout.representations[rep]!.folder}/${HLS_MEDIA_PLAYLIST}`;
  const playlists: string[] = [];
  const reps = [...new Set([...hls.variants.map((v) => v.rep), ...hls.audio])];
  for (const rep of reps) {
    const w = written.get(rep)!;
    const folder = path.dirname(w.init);
    const target = Math.max(1, ...w.segments.map((s) => Math.round(s.seconds)));
    const lines = [
      '#EXTM3U', '#EXT-X-VERSION:7', `#EXT-X-TARGETDURATION:${target}`, '#EXT-X-MEDIA-SEQUENCE:0', '#EXT-X-PLAYLIST-TYPE:VOD',
      '#EXT-X-INDEPENDENT-SEGMENTS', `#EXT-X-MAP:URI="${path.basename(w.init)}"`,
      ...w.segments.flatMap((s) => [`#EXTINF:${s.seconds.toFixed(6)},`, path.basename(s.file)]),
      '#EXT-X-ENDLIST', '',
    ];
    const file = path.join(dir, ...uri(rep).split('/'));
    if (path.dirname(file) !== folder) throw new Error(`internal: playlist ${uri(rep)} is not beside its segments`);
    await writeFile(file, lines.join('\n'));
    playlists.push(file);
  }

  const master = ['#EXTM3U', '#EXT-X-VERSION:7', '#EXT-X-INDEPENDENT-SEGMENTS'];
  for (const rep of hls.audio) {
    const w = written.get(rep)!;
    const channels = w.channels ? `,CHANNELS="${w.channels}"` : '';
    master.push(`#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aud${hls.groupOf?.get(rep) ?? rep}",NAME="${layout.representations[rep]!.folder}",DEFAULT=YES,AUTOSELECT=YES${channels},URI="${uri(rep)}"`);
  }
  for (const v of hls.variants) {
    const w = written.get(v.rep)!;
    const audio = v.audio !== null && v.audio !== v.rep ? written.get(v.audio)! : null;
    // BANDWIDTH is measured by finalizeHls below; this is a placeholder.
    const attributes = ['BANDWIDTH=1', `CODECS="${[w.codecs, ...(audio ? [audio.codecs] : [])].join(',')}"`];
    if (w.width && w.height) attributes.push(`RESOLUTION=${w.width}x${w.height}`);
    const fps = frameRate(w.frameRate);
    if (fps !== null) attributes.push(`FRAME-RATE=${fps.toFixed(3)}`);
    if (v.audio !== null) attributes.push(`AUDIO="aud${v.audio}"`);
    master.push(`#EXT-X-STREAM-INF:${attributes.join(',')}`, uri(v.rep));
  }
  await writeFile(path.join(dir, HLS_MASTER), `${master.join('\n')}\n`);
  const renditions = [...(hls.labels ?? [])].map(([rep, label]) => ({ uri: uri(rep), ...label }));
  const videoRanges = hls.videoRanges ? new Map([...hls.videoRanges].map(([rep, range]) => [uri(rep), range])) : undefined;
  await finalizeHls(dir, { hidden: [], expected: hls.variants.map((v) => uri(v.rep)), iframes: [], key: null, renditions, ...(videoRanges ? { videoRanges } : {}) });
  return playlists;
}

/** `$RepresentationID$`, `$Number$`, `$Number%05d$` and `$ext$` (always fMP4 here) of a DASH template. */
function expand(template: string, id: number, number: number): string {
  return template
    .replaceAll('$RepresentationID$', String(id))
    .replaceAll('$ext$', 'm4s')
    .replace(/\$Number(?:%0(\d+)d)?\$/g, (_, width: string | undefined) => String(number).padStart(Number(width ?? 0), '0'));
}

async function move(from: string, to: string): Promise<void> {
  if (!(await stat(from).catch(() => null))) throw new Error(`FFmpeg did not write ${path.basename(from)}, which its DASH manifest lists.`);
  await rename(from, to);
}

/** `PT2.0S`, `PT1M30S`, `PT1H`. */
function isoSeconds(v: string | undefined): number | null {
  const m = v ? /^PT(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?$/.exec(v) : null;
  if (!m) return null;
  return Number(m[1] ?? 0) * 3600 + Number(m[2] ?? 0) * 60 + Number(m[3] ?? 0);
}

function frameRate(v: string | undefined): number | null {
  if (!v) return null;
  const [num, den] = v.split('/').map(Number) as [number, number | undefined];
  const fps = num / (den ?? 1);
  return Number.isFinite(fps) && fps > 0 ? fps : null;
}
