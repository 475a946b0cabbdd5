/** Runs one FFmpeg process: progress from `-progress pipe:1`, a bounded stderr tail, abort, CPU time. */
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { UserFacingError } from '../../domain/errors.ts';
import { refusedFormat } from './inputs.ts';

export interface FfmpegProgress {
  /** 0..1, never going down; 0 throughout when the duration is unknown. */
  fraction: number;
  outTimeSec: number;
  /** Encoding speed as a multiple of real time; null until FFmpeg reports one. */
  speed: number | null;
}

export interface RunFfmpegOptions {
  ffmpeg: string;
  /** Expected output duration, to turn out_time into a fraction. */
  durationSec?: number;
  signal?: AbortSignal;
  onProgress?: (p: FfmpegProgress) => void;
  /** Threads for decoders, filters and the last output's encoders (ENCODERY_FFMPEG_THREADS); 0 or unset = FFmpeg's choice. */
  threads?: number;
  /** Every stderr line, for filters that report there (blackdetect, ebur128, ...). */
  onStderrLine?: (line: string) => void;
  /**
   * What FFmpeg writes to `pipe:3` (e.g. decoded frames for a measure computed here). The reader
   * may pause the stream to hold FFmpeg back; FFmpeg's exit is awaited as usual.
   */
  onPipe3?: (stream: Readable) => void;
  /** What FFmpeg reads as `pipe:0` (a source still downloading); it may stop reading early. */
  stdin?: Readable;
}

export interface RunFfmpegResult {
  wallSec: number;
  /** User + system CPU seconds of the FFmpeg process (see {@link CpuSampler} for the precision). */
  cpuSec: number;
  /** The last speed FFmpeg reported. */
  speed: number | null;
}

/** FFmpeg ran and failed, or could not start. Carries what a person needs to see why. */
export class FfmpegError extends UserFacingError {
  override name = 'FfmpegError';
  readonly code = 'ENCODERY_FFMPEG_FAILED';
  constructor(
    message: string,
    /** null when FFmpeg did not start or was killed by a signal. */
    readonly exitCode: number | null,
    /** The last lines of stderr, newline-joined. */
    readonly stderrTail: string,
  ) {
    super(message);
  }
}

export const FFMPEG_PREFIX_ARGS = ['-hide_banner', '-nostdin', '-y', '-progress', 'pipe:1', '-nostats'] as const;

const KILL_GRACE_MS = 500;
const STDERR_TAIL_LINES = 20;

export async function runFfmpeg(args: string[], opts: RunFfmpegOptions): Promise<RunFfmpegResult> {
  const { signal } = opts;
  signal?.throwIfAborted();
  const started = performance.now();
  const tail = new LineTail(STDERR_TAIL_LINES);
  const [command, ...argv] = [...dieWithParent(), opts.ffmpeg, ...FFMPEG_PREFIX_ARGS, ...withThreads(args, opts.threads ?? 0)];
  const child = spawn(command!, argv, { stdio: [opts.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe', opts.onPipe3 ? 'pipe' : 'ignore'], windowsHide: true });
  if (opts.onPipe3) opts.onPipe3(child.stdio[3] as Readable);
  if (opts.stdin) feed(opts.stdin, child.stdin!);
  const cpu = new CpuSampler(child.pid);
  let callbackError: { error: unknown } | undefined;
  const progress = new ProgressParser(opts.durationSec, (p, end) => {
    if (end) cpu.sample();
    try {
      opts.onProgress?.(p);
    } catch (error) {
      // A throwing callback must not crash the process from inside a stream handler: stop and report it.
      callbackError ??= { error };
      child.kill('SIGKILL');
    }
  });
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => progress.push(chunk));
  let stderrPartial = '';
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    tail.push(chunk);
    if (!opts.onStderrLine) return;
    const lines = (stderrPartial + chunk).split(/\r?\n|\r/);
    stderrPartial = (lines.pop() ?? '').slice(-4096);
    for (const line of lines) opts.onStderrLine(line);
  });

  let killTimer: NodeJS.Timeout | undefined;
  const onAbort = (): void => {
    // SIGTERM lets FFmpeg close its output cleanly; SIGKILL makes sure it is gone within the second.
    child.kill('SIGTERM');
    killTimer = setTimeout(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }, KILL_GRACE_MS);
  };
  signal?.addEventListener('abort', onAbort, { once: true });

  try {
    const { code, sig, spawnError } = await new Promise<{ code: number | null; sig: NodeJS.Signals | null; spawnError?: Error }>(
      (resolve) => {
        child.once('error', (err) => {
          // Only a failed spawn has no pid; other errors (kill failures) are followed by `close`.
          if (child.pid === undefined) resolve({ code: null, sig: null, spawnError: err });
        });
        child.once('close', (code, sig) => resolve({ code, sig }));
      },
    );
    if (signal?.aborted) throw signal.reason;
    if (stderrPartial) opts.onStderrLine?.(stderrPartial);
    if (callbackError) throw callbackError.error;
    if (spawnError) {
      throw new FfmpegError(`FFmpeg could not be started ("${opts.ffmpeg}": ${spawnError.message}).`, null, '');
    }
    const execFailure = command === 'setpriv' && code === 127 ? tail.lines().find((l) => l.startsWith('setpriv: failed to execute')) : undefined;
    if (execFailure) {
      const why = execFailure.slice(execFailure.lastIndexOf(': ') + 2);
      throw new FfmpegError(`FFmpeg could not be started ("${opts.ffmpeg}": ${why}).`, null, '');
    }
    const refusal = code !== 0 ? refusedFormat(tail.lines()) : null;
    if (refusal) throw new FfmpegError(`FFmpeg refused an input: it is ${refusal.what}; ${refusal.advice}.`, code, tail.lines().join('\n'));
    if (code !== 0) {
      const why = summarise(tail.lines());
      const how = code === null ? `was killed by ${sig ?? 'a signal'}` : `exited with code ${code}`;
      throw new FfmpegError(`FFmpeg ${how}${why ? `: ${why}` : '.'}`, code, tail.lines().join('\n'));
    }
    return { wallSec: (performance.now() - started) / 1000, cpuSec: cpu.seconds, speed: progress.speed };
  } finally {
    signal?.removeEventListener('abort', onAbort);
    clearTimeout(killTimer);
    cpu.stop();
  }
}

/**
 * Pipes `from` into FFmpeg's standard input. FFmpeg may close it before the end (an output with
 * a duration limit): that is no error, and `from` is then released. A failing `from` ends the
 * pipe; its owner kills FFmpeg through the signal, so the early end never passes for the source's end.
 */
function feed(from: Readable, stdin: NodeJS.WritableStream & { destroy(): void }): void {
  stdin.on('error', () => from.destroy());
  from.on('error', () => stdin.destroy());
  stdin.on('close', () => from.destroy());
  from.pipe(stdin);
}

/**
 * `-threads` is a per-file option: it goes before every `-i` (decoders) and before the last
 * argument, which our argument builder always makes the last output's URL (encoders). Other
 * outputs of a shared process keep FFmpeg's choice. The filter graph gets its own thread limit.
 */
export function withThreads(args: string[], threads: number): string[] {
  if (threads <= 0 || args.length === 0) return args;
  const n = String(threads);
  const out: string[] = ['-filter_threads', n, '-filter_complex_threads', n];
  args.forEach((a, i) => {
    if (a === '-i' || i === args.length - 1) out.push('-threads', n);
    out.push(a);
  });
  return out;
}

let deathSignalPrefix: string[] | undefined;

/**
 * If the server dies without cleaning up (SIGKILL, OOM), its FFmpeg must die too: it inherits
 * Node's ignored SIGPIPE, so a closed progress pipe does not stop it, and an orphan would run on
 * for hours beside the encode that replaces it after the restart. util-linux's setpriv asks the
 * kernel to kill it with its parent; where setpriv is missing FFmpeg is started directly.
 */
function dieWithParent(): string[] {
  if (deathSignalPrefix === undefined) {
    const probe = spawnSync('setpriv', ['--pdeathsig', 'KILL', '--', 'true'], { stdio: 'ignore', timeout: 5000 });
    deathSignalPrefix = probe.status === 0 ? ['setpriv', '--pdeathsig', 'KILL', '--'] : [];
  }
  return deathSignalPrefix;
}

/**
 * Parses `-progress` output: blocks of `key=value` lines, each closed by `progress=continue|end`.
 * `out_time_ms` is in microseconds too (a long-standing FFmpeg misnomer).
 */
export class ProgressParser {
  #partial = '';
  #outTimeSec = 0;
  #fraction = 0;
  #speed: number | null = null;

  constructor(
    private readonly durationSec: number | undefined,
    private readonly emit: (p: FfmpegProgress, end: boolean) => void,
  ) {}

  get speed(): number | null {
    return this.#speed;
  }

  push(chunk: string): void {
    const text = this.#partial + chunk;
    const lines = text.split('\n');
    this.#partial = (lines.pop() ?? '').slice(-1024);
    for (const line of lines) this.#line(line.trim());
  }

  #line(line: string): void {
    const eq = line.indexOf('=');
    if (eq < 0) return;
    const key = line.slice(0, eq);
    const value = line.slice(eq + 1).trim();
    if (key === 'out_time_us' || key === 'out_time_ms') {
      const us = Number(value);
      if (Number.isFinite(us)) this.#outTimeSec = Math.max(0, us / 1e6);
    } else if (key === 'speed') {
      const s = Number.parseFloat(value);
      if (Number.isFinite(s)) this.#speed = s;
    } else if (key === 'progress') {
      const end = value === 'end';
      const d = this.durationSec;
      const f = end ? 1 : d !== undefined && d > 0 ? Math.min(1, this.#outTimeSec / d) : 0;
      this.#fraction = Math.max(this.#fraction, f);
      this.emit({ fraction: this.#fraction, outTimeSec: this.#outTimeSec, speed: this.#speed }, end);
    }
  }
}

/** Keeps the last N lines of a stream without ever holding more. */
export class LineTail {
  #lines: string[] = [];
  #partial = '';

  constructor(private readonly max: number) {}

  push(chunk: string): void {
    const parts = (this.#partial + chunk).split(/\r\n|\n|\r/);
    this.#partial = (parts.pop() ?? '').slice(-2048);
    for (const p of parts) {
      if (p.trim() === '') continue;
      this.#lines.push(p.slice(0, 2048));
      if (this.#lines.length > this.max) this.#lines.shift();
    }
  }

  lines(): string[] {
    const all = this.#partial.trim() ? [...this.#lines, this.#partial] : [...this.#lines];
    return all.slice(-this.max);
  }
}

/**
 * CPU time of a running child, read from /proc/<pid>/stat (utime + stime, in USER_HZ = 100 ticks/s
 * on every Linux ABI Node runs on). Node has no rusage for children and reaps them at once, so the
 * final figure cannot be read after exit: we sample every 200 ms and when FFmpeg reports
 * `progress=end` (just before it exits), keeping the last value. The undercount is at most what
 * the process used after the last sample. Off Linux there is no /proc and this reports 0.
 */
class CpuSampler {
  #seconds = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor(private readonly pid: number | undefined) {
    if (pid === undefined) return;
    this.#timer = setInterval(() => this.sample(), 200);
    this.#timer.unref();
  }

  get seconds(): number {
    return this.#seconds;
  }

  // Synchronous on purpose: /proc is in memory (microseconds), and the read at `progress=end` must
  // happen before the process exits and is reaped.
  sample(): void {
    if (this.pid === undefined) return;
    try {
      const stat = readFileSync(`/proc/${this.pid}/stat`, 'utf8');
      // The command name in parentheses may contain spaces: fields are counted after the last ')'.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const ticks = Number(fields[11]) + Number(fields[12]);
      if (Number.isFinite(ticks)) this.#seconds = Math.max(this.#seconds, ticks / 100);
    } catch {
      // Gone already, or no /proc: keep the last sample.
    }
  }

  stop(): void {
    clearInterval(this.#timer);
  }
}

// Lines FFmpeg prints after the real cause, which say nothing on their own.
const GENERIC = /^(Conversion failed!|Exiting normally.*|Error reinitializing filters!|Failed to inject frame into filter network.*|Error while processing the decoded data.*|Error while filtering.*|Stream mapping:|Press \[q\].*|(Input|Output) #\d+, .*)$/;

/** The last few lines that say something, without FFmpeg's `[mp4 @ 0x55d…]` prefixes. */
function summarise(lines: string[]): string {
  const meaningful = lines
    // Indented lines are FFmpeg's stream and metadata dumps, not messages.
    .filter((l) => !/^\s/.test(l))
    .map((l) => l.replace(/^\[[^\]]+ @ 0x[0-9a-f]+\]\s*/i, '').trim())
    .filter((l) => l !== '' && !GENERIC.test(l));
  return meaningful.slice(-3).join(' / ');
}
