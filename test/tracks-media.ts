/** Test media for audio tracks and HDR, made by FFmpeg while the tests run. */
import { exec } from './helpers.ts';

/**
 * testsrc2 with three audio tracks told apart by their level: English (440 Hz at 0.5, about
 * -9 dB RMS, default), French (880 Hz at 0.05, about -29 dB, titled) and an untagged 5.1 track
 * whose only sound is in the back-left channel (a downmix test: a plain downmix puts it in the
 * left channel only, Pro Logic II in both). MKV or MP4 by `file`'s name; MKV gets an English SRT too.
 */
export async function makeMultiTrackClip(file: string, opts: { seconds?: number; size?: string } = {}): Promise<string> {
  const { seconds = 2, size = '320x240' } = opts;
  const mkv = file.endsWith('.mkv');
  const srt = `${file}.srt`;
  if (mkv) {
    const { writeFile } = await import('node:fs/promises');
    await writeFile(srt, '1\n00:00:00,000 --> 00:00:01,000\nHello\n');
  }
  await exec('ffmpeg', [
    '-hide_banner', '-loglevel', 'error', '-y',
    '-f', 'lavfi', '-i', `testsrc2=size=${size}:rate=25:duration=${seconds}`,
    '-f', 'lavfi', '-i', `aevalsrc=0.5*sin(2*PI*440*t):s=48000:d=${seconds}`,
    '-f', 'lavfi', '-i', `aevalsrc=0.05*sin(2*PI*880*t):s=48000:d=${seconds}`,
    '-f', 'lavfi', '-i', `aevalsrc=0|0|0|0|0.3*sin(2*PI*660*t)|0:c=5.1:s=48000:d=${seconds}`,
    ...(mkv ? ['-i', srt] : []),
    '-map', '0:v', '-map', '1:a', '-map', '2:a', '-map', '3:a', ...(mkv ? ['-map', '4:s', '-metadata:s:s:0', 'language=eng'] : []),
    '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', '-c:a', 'aac', ...(mkv ? ['-c:s', 'srt'] : []),
    '-metadata:s:a:0', 'language=eng', '-metadata:s:a:1', 'language=fra', '-metadata:s:a:1', 'title=Français',
    '-disposition:a:0', 'default', '-disposition:a:1', '0', '-disposition:a:2', '0',
    file,
  ]);
  return file;
}

/**
 * A 10-bit HEVC clip tagged BT.2020 / PQ (HDR10), with mastering display and content light level
 * in its SEI. The picture is testsrc2's bright bars brought to PQ by zscale, so a tone-map has
 * something to map.
 */
export const PQ_MASTERING = 'G(13250,34500)B(7500,3000)R(34000,16000)WP(15635,16450)L(10000000,1)';
export async function makePqClip(file: string, opts: { seconds?: number; size?: string } = {}): Promise<string> {
  const { seconds = 2, size = '640x360' } = opts;
  await exec('ffmpeg', [
    '-hide_banner', '-loglevel', 'error', '-y',
    '-f', 'lavfi', '-i', `testsrc2=size=${size}:rate=25:duration=${seconds}`,
    '-f', 'lavfi', '-i', `sine=frequency=440:sample_rate=48000:duration=${seconds}`,
    '-vf', 'zscale=tin=bt709:min=bt709:pin=bt709:t=smpte2084:m=bt2020nc:p=bt2020:npl=100,format=yuv420p10le',
    '-c:v', 'libx265', '-preset', 'ultrafast', '-tag:v', 'hvc1',
    '-x265-params', `log-level=error:colorprim=bt2020:transfer=smpte2084:colormatrix=bt2020nc:hdr10=1:master-display=${PQ_MASTERING}:max-cll=1000,400`,
    '-color_primaries', 'bt2020', '-color_trc', 'smpte2084', '-colorspace', 'bt2020nc',
    '-c:a', 'aac', file,
  ]);
  return file;
}
