/**
 * mpeg_dash, advanced_dash, fmp4_hls and advanced_fmp4 (reference 4.7) through FFmpeg's dash
 * muxer: one output with every variant in it, fMP4 segments, and an MPD. Each variant's init and
 * media segments end up in its `sub_path` folder beside the MPD; for the CMAF outputs the same
 * segments are also listed by HLS media playlists and a master playlist (see dash-manifest.ts).
 *
 * Audio and keyframes work as for advanced_hls (plan/hls.ts): streams with the same audio
 * settings share one audio representation, encoded once, and every video variant gets an IDR at
 * each segment boundary, so all variants' segments start together and players switch cleanly.
 */
import path from 'node:path';
import type { DashSpec } from '../../domain/format.ts';
import { DASH_MANIFEST } from '../../domain/format.ts';
import { formatNumber } from '../ffmpeg/args.ts';
import { sourceDuration, trimmedDuration, type GroupContext, type OutputPart, type PlanOut } from './common.ts';
import { FFMPEG_INIT_NAME, FFMPEG_SEGMENT_NAME, type Representation } from './dash-manifest.ts';
import { encodeVariants, planRenditions, renditionLabel, type LocalAudio } from './variants.ts';
import { pictureShape, requireVideos } from './video.ts';
import { videoRange } from './hdr.ts';
import { packageDash, planProtection } from '../drm/package.ts';
import type { CpixKey } from '../drm/keys.ts';

/** `keys`: the content keys fetched for a protected output (pipeline/drm/keys.ts). */
export function dashPart(spec: DashSpec, ctx: GroupContext, out: PlanOut, keys?: CpixKey[], alternateAudio: LocalAudio[] = []): OutputPart {
  const { input, graph } = ctx;
  const dir = path.resolve(out.dir);
  const videoStreams = spec.streams.filter((s) => !s.audioOnly);
  const videos = videoStreams.length > 0 ? requireVideos(input.probes, spec.output) : [];

  const { renditions, variantAudio } = planRenditions(spec.streams, input, spec.audioLanguages, alternateAudio);

  const first = videos[0];
  const shapes = first ? videoStreams.map((s) => pictureShape(s, graph, first)) : [];
  for (const [k, s] of videoStreams.entries()) {
    const { box } = shapes[k]!;
    if (s.videoCodec === 'libsvtav1' && (box.width < 64 || box.height < 64)) {
      throw new Error(`libsvtav1 cannot encode a ${box.width}x${box.height} picture (64x64 at least); choose a larger size or video_codec libaom-av1.`);
    }
  }
  const encoded = encodeVariants(ctx, videoStreams, shapes, renditions, { seconds: spec.segmentDuration, sourceFps: first?.fps ?? 0 });

  // FFmpeg numbers representations by output stream: the video variants, then the audio renditions.
  const audioRep = (r: number): number => videoStreams.length + r;
  const representations: Representation[] = [
    ...videoStreams.map((s): Representation => ({ folder: s.subPath, kind: 'video' })),
    ...renditions.map((r): Representation => ({ folder: r.folder, kind: 'audio' })),
  ];
  const protection = spec.protection
    ? planProtection(spec.protection, keys, [
      ...videoStreams.map((s) => ({ kind: 'video' as const, trackType: spec.protection!.trackTypes[spec.streams.indexOf(s)] ?? null })),
      ...renditions.map(() => ({ kind: 'audio' as const, trackType: null })),
    ])
    : null;
  // One adaptation set per media type and codec: a player switches only between representations it can splice.
  const sets = new Map<string, number[]>();
  videoStreams.forEach((s, k) => sets.set(`v:${s.videoCodec}`, [...(sets.get(`v:${s.videoCodec}`) ?? []), k]));
  // Audio: one set per language too (DASH-IF IOP 3.9.4: a set is one language; players offer each as a choice).
  renditions.forEach((r, m) => {
    const key = `a:${r.audio.audioCodec}:${r.track.info.language ?? ''}`;
    sets.set(key, [...(sets.get(key) ?? []), audioRep(m)]);
  });
  // A group is named by its default rendition's representation (CMAF HLS `GROUP-ID`).
  const defaultRep = (group: number): number => audioRep(renditions.findIndex((r) => r.group === group && r.isDefault));
  const adaptationSets = [...sets.values()].map((ids, n) => `id=${n},streams=${ids.join(',')}`).join(' ');

  const ranges = first ? videoStreams.map((s) => videoRange(s, first)) : [];
  const hls = spec.hls
    ? {
        variants: [
          ...videoStreams.map((s, k) => {
            const g = variantAudio.get(s);
            return { rep: k, audio: g !== undefined ? defaultRep(g) : null };
          }),
          ...renditions.flatMap((r, m) => (r.listed ? [{ rep: audioRep(m), audio: audioRep(m) }] : [])),
        ],
        audio: renditions.map((_, m) => audioRep(m)),
        groupOf: new Map(renditions.map((r, m) => [audioRep(m), defaultRep(r.group)])),
        labels: new Map(renditions.map((r, m) => [audioRep(m), renditionLabel(r)])),
        ...(ranges.some((r) => r !== 'SDR') ? { videoRanges: new Map(ranges.map((r, k) => [k, r])) } : {}),
      }
    : null;

  const total = input.probes.reduce((sum, p) => sum + (videos.length ? sourceDuration(p) : p.durationSec), 0);
  return {
    outputs: [{
      // A plain absolute path, as for HLS: the muxer writes the segments beside it.
      url: path.join(dir, DASH_MANIFEST),
      maps: [...encoded.video.map((l) => `[${l}]`), ...encoded.audio.map((l) => `[${l}]`)],
      options: [
        ...encoded.options,
        ...ctx.trimmed.output,
        '-f', 'dash', '-dash_segment_type', 'mp4', '-seg_duration', formatNumber(spec.segmentDuration),
        '-use_template', '1', '-use_timeline', '1', '-adaptation_sets', adaptationSets,
        '-init_seg_name', FFMPEG_INIT_NAME, '-media_seg_name', FFMPEG_SEGMENT_NAME,
      ],
    }],
    durationSec: trimmedDuration(total, ctx.trim),
    ...(encoded.quality ? { quality: encoded.quality } : {}),
    listOutputs: () => packageDash(dir, { representations, hls }, protection),
  };
}
