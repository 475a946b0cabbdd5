/** Start-up check that FFmpeg and ffprobe exist and are recent enough for the arguments we build. */
import { execFile, type ExecFileException } from 'node:child_process';

const MIN_MAJOR = 5;

export type FfmpegCheck = { ok: true; version: string } | { ok: false; message: string };

/** `version` is FFmpeg's own version string, e.g. `5.1.9-0+deb12u1`. */
export async function checkFfmpeg(paths: { ffmpeg: string; ffprobe: string }): Promise<FfmpegCheck> {
  const [ffmpeg, ffprobe] = await Promise.all([checkOne(paths.ffmpeg, 'ffmpeg'), checkOne(paths.ffprobe, 'ffprobe')]);
  if (!ffmpeg.ok) return ffmpeg;
  if (!ffprobe.ok) return ffprobe;
  return ffmpeg;
}

async function checkOne(binary: string, tool: 'ffmpeg' | 'ffprobe'): Promise<FfmpegCheck> {
  const required = `FFmpeg ${MIN_MAJOR}.0 or newer is required`;
  const fix = `Install it (Debian/Ubuntu: sudo apt-get install ffmpeg) or point ENCODERY_FFMPEG and ENCODERY_FFPROBE at your binaries.`;
  const result = await new Promise<{ stdout: string; error: ExecFileException | null }>((resolve) => {
    execFile(binary, ['-version'], { timeout: 15_000, maxBuffer: 1024 * 1024, windowsHide: true }, (error, stdout) =>
      resolve({ stdout, error }),
    );
  });
  if (result.error) {
    const code = result.error.code;
    if (code === 'ENOENT') return { ok: false, message: `${required} but "${binary}" was not found. ${fix}` };
    const why = typeof code === 'string' ? code : result.error.message.split('\n')[0];
    return { ok: false, message: `${required} but "${binary}" could not be run (${why}). ${fix}` };
  }
  const firstLine = result.stdout.split('\n')[0] ?? '';
  const m = new RegExp(`^${tool} version (\\S+)`).exec(firstLine);
  if (!m?.[1]) {
    return { ok: false, message: `${required} but "${binary}" does not look like ${tool} (its -version output starts "${firstLine.slice(0, 60)}"). ${fix}` };
  }
  const version = m[1];
  // Release builds say `5.1.9-0+deb12u1` or `n6.1`; git builds (`N-113000-g…`) are newer than any release.
  const release = /^n?(\d+)\.(\d+)/.exec(version);
  if (release && Number(release[1]) < MIN_MAJOR) {
    return { ok: false, message: `${required} but "${binary}" is version ${version}. Upgrade it or point ENCODERY_FFMPEG and ENCODERY_FFPROBE at newer binaries.` };
  }
  return { ok: true, version };
}
