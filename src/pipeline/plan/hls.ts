/**
 * advanced_hls (reference 4.6) through FFmpeg's own hls muxer: one output with every variant in
 * it (`var_stream_map`), MPEG-TS segments, a VOD media playlist per variant in its own folder and
 * the master playlist beside those folders. `encryption` is the muxer's AES-128 (`writeKey`).
 *
 * Audio: streams with the same audio settings share one audio rendition, encoded once and
 * referenced by every variant through an HLS audio group (`agroup`). A stream with
 * `audio_only=yes` is such a rendition listed as a variant of its own.
 *
 * Keyframes: every video variant gets an IDR exactly at each segment boundary (forced by time,
 * scene-cut keyframes off, closed GOPs), so segments of all variants start together and each
 * starts with a keyframe.
 *
 * HEVC: Apple accepts HEVC in HLS only in fMP4 segments, tagged `hvc1`; the muxer has one segment
 * type for all its variants, so an output with any HEVC variant is fMP4 throughout.
 *
 * After the encode (listOutputs): the master's corrections and I-frame playlists (hls-master.ts,
 * hls-iframes.ts), then packing into archives when asked (hls-pack.ts).
 */
import crypto from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { usesFmp4, type HlsEncryption, type HlsSpec } from '../../domain/format.ts';
import { formatNumber } from '../ffmpeg/args.ts';
import { sourceDuration, trimmedDuration, type GroupContext, type OutputPart, type PlanOut } from './common.ts';
import { finalizeHls, HLS_MASTER, HLS_MEDIA_PLAYLIST } from './hls-master.ts';
import { packHls } from './hls-pack.ts';
import { encodeVariants, planRenditions, renditionLabel, type LocalAudio } from './variants.ts';
import { pictureShape, requireVideos } from './video.ts';
import { videoRange } from './hdr.ts';

export function hlsPart(spec: HlsSpec, ctx: GroupContext, out: PlanOut, alternateAudio: LocalAudio[] = []): OutputPart {
  const { input, graph } = ctx;
  const dir = path.resolve(out.dir);
  // The hls muxer reads `%` in its file names as a pattern (%v, %05d) and cannot escape it.
  if (dir.includes('%')) throw new Error(`The work directory ${dir} contains '%', which FFmpeg's HLS muxer cannot use.`);

  const videoStreams = spec.streams.filter((s) => !s.audioOnly);
  const videos = videoStreams.length > 0 ? requireVideos(input.probes, 'advanced_hls') : [];

  const { renditions, variantAudio } = planRenditions(spec.streams, input, spec.audioLanguages, alternateAudio);

  // Every source: one branch per video variant and per audio rendition, joined in order.
  const first = videos[0];
  const shapes = first ? videoStreams.map((s) => pictureShape(s, graph, first)) : [];
  const encoded = encodeVariants(ctx, videoStreams, shapes, renditions, { seconds: spec.segmentDuration, sourceFps: first?.fps ?? 0 });

  const streamMap = [
    ...videoStreams.map((s, k) => {
      const r = variantAudio.get(s);
      return [`v:${k}`, ...(r !== undefined ? [`agroup:aud${r}`] : []), `name:${s.subPath}`].join(',');
    }),
    ...renditions.map((r, m) => `a:${m},agroup:aud${r.group},name:${r.folder}`),
  ].join(' ');

  const ranges = first ? videoStreams.map((s) => videoRange(s, first)) : [];
  const total = input.probes.reduce((sum, p) => sum + (videos.length ? sourceDuration(p) : p.durationSec), 0);
  const hidden = renditions.filter((r) => !r.listed).map((r) => `${r.folder}/${HLS_MEDIA_PLAYLIST}`);
  const expected = [...videoStreams.map((s) => s.subPath), ...renditions.filter((r) => r.listed).map((r) => r.folder)];
  const fmp4 = usesFmp4(spec);
  const key = spec.encryption ? writeKey(spec.encryption, dir, out.baseName) : null;
  const segmentType = fmp4
    ? ['-hls_segment_type', 'fmp4', '-hls_fmp4_init_filename', 'init.mp4']
    : ['-hls_segment_type', 'mpegts'];
  return {
    outputs: [{
      // A plain absolute path, not `file:`: the muxer makes each variant's folder itself, and
      // that only works on a path. An absolute path can never be taken for a protocol.
      url: path.join(dir, '%v', HLS_MEDIA_PLAYLIST),
      maps: [...encoded.video.map((l) => `[${l}]`), ...encoded.audio.map((l) => `[${l}]`)],
      options: [
        ...encoded.options,
        ...ctx.trimmed.output,
        '-f', 'hls', '-hls_time', formatNumber(spec.segmentDuration), '-hls_playlist_type', 'vod',
        '-hls_flags', 'independent_segments', ...segmentType, '-start_number', '1',
        ...(key ? ['-hls_key_info_file', key.infoFile] : []),
        '-hls_segment_filename', path.join(dir, '%v', fmp4 ? 'seg_%05d.m4s' : 'seg_%05d.ts'),
        '-master_pl_name', HLS_MASTER, '-var_stream_map', streamMap,
      ],
    }],
    durationSec: trimmedDuration(total, ctx.trim),
    ...(encoded.quality ? { quality: encoded.quality } : {}),
    listOutputs: async () => {
      const files = await finalizeHls(dir, {
        hidden,
        expected: expected.map((f) => `${f}/${HLS_MEDIA_PLAYLIST}`),
        iframes: videoStreams.filter((s) => s.iframeStream).map((s) => `${s.subPath}/${HLS_MEDIA_PLAYLIST}`),
        key: key ? { file: key.name, relative: spec.encryption!.keyUrl === null, delivered: key.delivered } : null,
        renditions: renditions.map((r) => ({ uri: `${r.folder}/${HLS_MEDIA_PLAYLIST}`, ...renditionLabel(r) })),
        ...(ranges.some((r) => r !== 'SDR') ? { videoRanges: new Map(videoStreams.map((s, k) => [`${s.subPath}/${HLS_MEDIA_PLAYLIST}`, ranges[k]!])) } : {}),
      });
      // Key material that is not an output does not stay on disk beside a kept output.
      if (key) await Promise.all([rm(key.infoFile, { force: true }), ...(key.delivered ? [] : [rm(path.join(dir, key.name), { force: true })])]);
      return spec.pack ? packHls(dir, files, spec.pack, out.baseName) : files;
    },
  };
}

/**
 * Writes the AES-128 key and FFmpeg's key info file (`-hls_key_info_file`: key URI, key file,
 * IV) into the task's folder, which the pipeline has just emptied for this plan. Planning is the
 * last step before the run and is repeated before a retry, so the files always match the
 * command. The key never appears on the command line, only its file's path.
 *
 * The key file is delivered beside the master (`<name>.key`, referenced relatively) unless the
 * user gave both the key and its URL: then their key server already has it.
 */
function writeKey(e: HlsEncryption, dir: string, baseName: string): { name: string; infoFile: string; delivered: boolean } {
  const name = `${baseName}.key`;
  const keyFile = path.join(dir, name);
  writeFileSync(keyFile, e.key ? Buffer.from(e.key, 'hex') : crypto.randomBytes(16), { mode: 0o600 });
  // Every media playlist gets the name as URI; finalizeHls makes it relative to each playlist's folder.
  const uri = e.keyUrl ?? name;
  const infoFile = path.join(dir, '.key_info');
  // FFmpeg 5.1 encrypts every segment with one IV, by default the first sequence number
  // (0x…01): a random one at least keeps it unpredictable, as CBC wants.
  const iv = e.iv ?? crypto.randomBytes(16).toString('hex');
  writeFileSync(infoFile, `${uri}\n${keyFile}\n${iv}\n`, { mode: 0o600 });
  return { name, infoFile, delivered: e.key === null || e.keyUrl === null };
}


