/**
 * Encoder options per video codec. The defaults aim at files every browser and phone plays:
 * H.264 High / yuv420p, x264 `medium` (CRF 23), VP9 constant quality with row threading.
 */
import { KEYFRAME_PARAMETERS, type VideoContainer, type VideoEncoding, type VideoSpec } from '../../domain/format.ts';
import { CONTAINERS, type Container } from '../../domain/outputs.ts';
import { formatNumber } from '../ffmpeg/args.ts';
import type { Box } from './geometry.ts';
import { X264_STATS_OPTIONS, X265_STATS_PARAMS } from '../quality/plan.ts';

export type Pass = 0 | 1 | 2;

export interface CodecContext {
  box: Box;
  /** Output frame rate, 0 when unknown. */
  fps: number;
  pass: Pass;
  /** Prefix for the two-pass statistics files. */
  passlog: string;
  /**
   * Segmented outputs (HLS): a keyframe exactly every `everySec` seconds and no other, each an
   * IDR that starts a closed GOP of `frames` frames, so every segment of every variant starts with
   * a keyframe at the same time.
   */
  segments?: { everySec: number; frames: number };
  /**
   * The file's container, whose row in the output table says whether HEVC is tagged `hvc1`.
   * HLS segments leave this unset: their HEVC is in fMP4 segments, which are tagged.
   */
  container?: VideoContainer;
  /** Ask the encoder for its closing PSNR/SSIM statistics (quality/plan.ts), when it can give them. */
  stats?: boolean;
}

/**
 * x264/x265 cannot run two passes in CRF mode; libvpx can (constrained quality). The AV1
 * encoders run one pass (FFmpeg 5.1's libsvtav1 has no two-pass mode), so two_pass is ignored.
 */
export function usesTwoPasses(spec: VideoSpec): boolean {
  if (spec.videoCodec === 'libsvtav1' || spec.videoCodec === 'libaom-av1') return false;
  return spec.twoPass && (spec.videoCodec === 'libvpx' || spec.videoCodec === 'libvpx-vp9' || spec.bitrate !== null);
}

export function videoCodecOptions(spec: VideoEncoding, ctx: CodecContext): string[] {
  const seg = ctx.segments;
  const gop = seg
    ? [
        '-g', String(seg.frames), '-keyint_min', String(seg.frames),
        '-force_key_frames', `expr:gte(t,n_forced*${formatNumber(seg.everySec)})`, '-forced-idr', '1',
      ]
    : spec.keyframe !== null ? ['-g', String(spec.keyframe)] : [];
  // cbr/hard_cbr hold the rate at the bitrate through the decoder buffer (one second of it unless bufsize is given).
  const cbr = spec.constantBitrate !== null && spec.bitrate !== null;
  const maxrate = cbr ? spec.bitrate : spec.maxrate;
  const minrate = cbr ? spec.bitrate : spec.minrate;
  const bufsize = cbr ? spec.bufsize ?? spec.bitrate : spec.bufsize;
  const vbv = [
    ...(maxrate !== null ? ['-maxrate', String(maxrate)] : []),
    ...(minrate !== null ? ['-minrate', String(minrate)] : []),
    ...(bufsize !== null ? ['-bufsize', String(bufsize)] : []),
  ];
  const pixels = ['-pix_fmt', spec.pixelFormat];
  const passArgs = ctx.pass ? ['-pass', String(ctx.pass), '-passlogfile', ctx.passlog] : [];
  const preset = spec.turbo ? 'veryfast' : 'medium';
  switch (spec.videoCodec) {
    case 'libx264':
      return [
        '-c:v', 'libx264', '-preset', preset, '-profile:v', spec.profile ?? 'high',
        ...(spec.level ? ['-level:v', spec.level] : []),
        ...(spec.bitrate !== null ? ['-b:v', String(spec.bitrate)] : ['-crf', '23']),
        ...vbv, ...gop, ...(seg ? ['-sc_threshold', '0'] : []), ...pixels, ...passArgs,
        // hard_cbr: x264 pads with filler NAL units so every second carries the whole rate; cbr signals the buffer model only.
        ...(cbr ? ['-nal-hrd', spec.constantBitrate === 'hard' ? 'cbr' : 'vbr'] : []),
        ...x264Params(spec, seg !== undefined),
        ...(ctx.stats ? X264_STATS_OPTIONS : []),
      ];
    case 'libx265': {
      // libx265 ignores -pass; its two-pass mode and level go through x265-params.
      const params: string[] = ctx.stats ? [...X265_STATS_PARAMS] : ['log-level=error'];
      if (spec.level) params.push(`level-idc=${spec.level}`);
      if (seg) params.push('scenecut=0', 'open-gop=0');
      if (cbr) params.push('hrd=1', ...(spec.constantBitrate === 'hard' ? ['strict-cbr=1'] : []));
      if (ctx.pass) params.push(`pass=${ctx.pass}`, `stats=${x265Value(`${ctx.passlog}-x265.log`)}`);
      return [
        '-c:v', 'libx265', '-preset', preset, '-profile:v', spec.profile ?? 'main',
        ...(ctx.container === undefined || CONTAINERS[ctx.container].hvc1 ? ['-tag:v', 'hvc1'] : []),
        // CRF 28 is x265's own default and looks about like x264's 23 at a smaller size.
        ...(spec.bitrate !== null ? ['-b:v', String(spec.bitrate)] : ['-crf', '28']),
        ...vbv, ...gop, ...pixels, '-x265-params', params.join(':'),
      ];
    }
    case 'libvpx-vp9':
      // cpu-used 3 runs about as fast as x264 medium on 2 cores (2 is ~2x slower for little gain).
      return [
        '-c:v', 'libvpx-vp9', '-deadline', 'good', '-cpu-used', spec.turbo ? '5' : '3', '-row-mt', '1',
        ...(spec.bitrate !== null ? ['-b:v', String(spec.bitrate)] : ['-b:v', '0', '-crf', '32']),
        ...vbv, ...gop, ...pixels, ...passArgs,
      ];
    case 'libsvtav1':
      // Preset 8 encodes a 1080p picture at a few frames a second on 2 cores; CRF 35 looks about
      // like x264's 23 at a smaller size.
      return [
        '-c:v', 'libsvtav1', '-preset', spec.turbo ? '10' : '8',
        ...(spec.bitrate !== null ? ['-b:v', String(spec.bitrate)] : ['-crf', '35']),
        ...gop, ...pixels,
      ];
    case 'libaom-av1':
      return [
        '-c:v', 'libaom-av1', '-cpu-used', spec.turbo ? '8' : '6', '-row-mt', '1',
        ...(spec.bitrate !== null ? ['-b:v', String(spec.bitrate)] : ['-b:v', '0', '-crf', '35']),
        ...vbv, ...gop, ...pixels,
      ];
    case 'prores_ks':
      // Profile 3 is 422 HQ; the apl0 vendor tag is what Apple's own encoder writes, which some players look for.
      return ['-c:v', 'prores_ks', '-profile:v', '3', '-vendor', 'apl0', ...pixels];
    case 'libvpx':
      // VP8 has no pure constant-quality mode: CRF needs a bitrate ceiling, ~0.1 bit per pixel.
      return [
        '-c:v', 'libvpx', '-deadline', 'good', '-cpu-used', spec.turbo ? '5' : '3',
        ...(spec.bitrate !== null ? ['-b:v', String(spec.bitrate)] : ['-crf', '10', '-b:v', String(vp8Ceiling(ctx))]),
        ...vbv, ...gop, ...pixels, ...passArgs,
      ];
  }
}

/**
 * video_codec_parameters as -x264-params. In segmented outputs the keyframe children (keyint_min,
 * sc_threshold) give way to the segment grid: a keyframe elsewhere would cut a segment short in
 * one variant and not in the others.
 */
function x264Params(spec: VideoEncoding, segmented: boolean): string[] {
  const options = segmented ? spec.x264Options.filter((o) => !KEYFRAME_PARAMETERS.includes(o.split('=')[0]!)) : spec.x264Options;
  return options.length > 0 ? ['-x264-params', options.join(':')] : [];
}

function vp8Ceiling(ctx: CodecContext): number {
  const fps = ctx.fps > 0 ? ctx.fps : 30;
  return Math.round(Math.min(12_000_000, Math.max(256_000, ctx.box.width * ctx.box.height * fps * 0.1)));
}

function x265Value(v: string): string {
  if (/[:=]/.test(v)) throw new Error(`The work directory path "${v}" contains ':' or '=', which x265 two-pass cannot use.`);
  return v;
}

export function containerOptions(container: Container): string[] {
  return [...CONTAINERS[container].muxerOptions];
}

/** The file name extension of each container. */
export function containerExtension(container: Container): string {
  return CONTAINERS[container].extension;
}

export function checkAudioCopy(container: Container, sourceCodec: string): void {
  const ok: readonly string[] = CONTAINERS[container].copyableAudio;
  if (!ok.includes(sourceCodec)) {
    throw new Error(
      `audio_codec copy cannot put the source's ${sourceCodec} audio into ${container} (it takes ${ok.join(', ')}); choose an audio_codec to re-encode it.`,
    );
  }
}
