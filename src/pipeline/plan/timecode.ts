/**
 * burnin_timecode's first value: the source's own timecode (a `timecode` tag, as ffprobe reports
 * MOV/MP4 tmcd tracks, MXF and MPEG-TS GOP timecodes) or 00:00:00:00, moved on by the frames a
 * trim skips. Drop-frame timecodes (`;`) skip frame numbers 0 and 1 (0-3 at 59.94) of every
 * minute except every tenth.
 */
import type { MediaProbe } from '../ffmpeg/probe.ts';

interface Timecode {
  hours: number;
  minutes: number;
  seconds: number;
  frames: number;
  dropFrame: boolean;
}

const TIMECODE = /^(\d{1,2}):(\d{2}):(\d{2})([:;.,])(\d{2})$/;

/** The source's timecode tag: the video stream's, another stream's (a tmcd data track), or the file's. */
export function sourceTimecode(probe: MediaProbe): string | null {
  const raw = probe.raw as { format?: { tags?: Record<string, string> }; streams?: { codec_type?: string; tags?: Record<string, string> }[] } | undefined;
  const streams = raw?.streams ?? [];
  const ordered = [...streams.filter((s) => s.codec_type === 'video'), ...streams.filter((s) => s.codec_type !== 'video')];
  const tags = [...ordered.map((s) => s.tags), raw?.format?.tags];
  for (const t of tags) {
    const v = t?.['timecode'] ?? t?.['TIMECODE'];
    if (v && TIMECODE.test(v.trim())) return v.trim();
  }
  return null;
}

/** The timecode `startSec` into a source whose first frame is `first` (or 00:00:00:00), at `fps`. */
export function timecodeAt(first: string | null, startSec: number, fps: number): string {
  const nominal = Math.max(1, Math.round(fps));
  const tc = parse(first) ?? { hours: 0, minutes: 0, seconds: 0, frames: 0, dropFrame: false };
  const dropFrame = tc.dropFrame && (nominal === 30 || nominal === 60);
  const frame = toFrameNumber(tc, nominal, dropFrame) + Math.round(startSec * fps);
  return format(fromFrameNumber(frame, nominal, dropFrame), dropFrame);
}

function parse(text: string | null): Timecode | null {
  const m = text ? TIMECODE.exec(text) : null;
  if (!m) return null;
  const [hours, minutes, seconds, frames] = [m[1], m[2], m[3], m[5]].map(Number) as [number, number, number, number];
  return { hours, minutes, seconds, frames, dropFrame: m[4] === ';' || m[4] === ',' };
}

function toFrameNumber(tc: Timecode, nominal: number, dropFrame: boolean): number {
  const frames = (tc.hours * 3600 + tc.minutes * 60 + tc.seconds) * nominal + tc.frames;
  if (!dropFrame) return frames;
  const minutes = tc.hours * 60 + tc.minutes;
  return frames - (nominal / 15) * (minutes - Math.floor(minutes / 10));
}

function fromFrameNumber(frame: number, nominal: number, dropFrame: boolean): Timecode {
  let n = frame;
  if (dropFrame) {
    const drop = nominal / 15;
    const perTenMinutes = nominal * 600 - drop * 9;
    const perMinute = nominal * 60 - drop;
    const tens = Math.floor(n / perTenMinutes);
    const rest = n % perTenMinutes;
    n += drop * 9 * tens + (rest > drop ? drop * Math.floor((rest - drop) / perMinute) : 0);
  }
  const total = Math.floor(n / nominal);
  return { hours: Math.floor(total / 3600) % 24, minutes: Math.floor(total / 60) % 60, seconds: total % 60, frames: n % nominal, dropFrame };
}

function format(tc: Timecode, dropFrame: boolean): string {
  const two = (v: number): string => String(v).padStart(2, '0');
  return `${two(tc.hours)}:${two(tc.minutes)}:${two(tc.seconds)}${dropFrame ? ';' : ':'}${two(tc.frames)}`;
}
