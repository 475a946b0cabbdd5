/**
 * Follows media until they end, from GetStatus polls (extended, so each task has its own
 * progress and time left). On a terminal: a cli-progress bar per media and per task, redrawn in
 * place. Elsewhere (a pipe, a CI log): one plain line whenever a status changes or a media or
 * task passes a tenth more.
 * With --json: one JSON line (the media list) per change.
 */
import { setTimeout as sleepFor } from 'node:timers/promises';
import cliProgress from 'cli-progress';
import type { ApiClient } from './client.ts';
import { mediaHeadline, taskHeadline } from './describe.ts';
import { CliError, ExitCode, interrupted } from './exit.ts';
import { duration, line, type Output } from './output.ts';
import { isFinal, mediaViews, type MediaView } from './views.ts';

export interface WatchOptions {
  intervalMs: number;
  json: boolean;
  /** How long polls may keep failing (server restarting) before giving up. @default 30000 */
  outageMs?: number;
  /** Ctrl-C: stop waiting, put the terminal back in order, and report it. */
  signal?: AbortSignal;
}

interface View {
  update(media: MediaView[]): void;
  stop(): void;
}

/** Anything that runs an action: the ApiClient, or a scripted one in tests. */
export type Caller = Pick<ApiClient, 'call'>;

export async function watchMedia(client: Caller, ids: string[], out: Output, opts: WatchOptions): Promise<MediaView[]> {
  const view: View = opts.json ? jsonView(out) : out.stdout.isTTY ? barView(out) : plainView(out);
  const outageMs = opts.outageMs ?? 30_000;
  let failingSince: number | null = null;
  try {
    for (;;) {
      let media: MediaView[];
      try {
        media = mediaViews(await client.call('GetStatus', { mediaid: ids.join(','), extended: 'yes' }));
        failingSince = null;
      } catch (err) {
        if (!(err instanceof CliError) || err.code !== ExitCode.Connection) throw err;
        failingSince ??= Date.now();
        if (Date.now() - failingSince > outageMs) throw err;
        await sleep(opts.intervalMs, opts.signal);
        continue;
      }
      view.update(media);
      if (media.every((m) => isFinal(m.status))) return media;
      await sleep(opts.intervalMs, opts.signal);
    }
  } finally {
    view.stop();
  }
}

async function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  try {
    await sleepFor(ms, undefined, { signal });
  } catch {
    throw interrupted();
  }
}

function jsonView(out: Output): View {
  let last = '';
  return {
    update(media) {
      const doc = JSON.stringify({ media });
      if (doc !== last) out.stdout.write(`${doc}\n`);
      last = doc;
    },
    stop() {},
  };
}

function plainView(out: Output): View {
  const said = new Map<string, string>();
  const say = (key: string, state: string, text: string) => {
    if (said.get(key) === state) return;
    said.set(key, state);
    line(out.stdout, text);
  };
  return {
    update(media) {
      for (const m of media) {
        say(`m${m.id}`, `${m.status}:${Math.floor((m.progress ?? 0) / 10)}`, mediaHeadline(m));
        for (const t of m.tasks) say(`t${t.id}`, `${t.status}:${Math.floor((t.progress ?? 0) / 10)}`, `  ${taskHeadline(t)}`);
      }
    },
    stop() {},
  };
}

interface BarPayload {
  label: string;
  pct: string;
  status: string;
  left: string;
}

function barView(out: Output): View {
  const multi = new cliProgress.MultiBar(
    {
      stream: out.stdout,
      format: '{label} |{bar}| {pct} {status}{left}',
      barsize: Math.max(10, Math.min(40, (out.stdout.columns ?? 80) - 70)),
      clearOnComplete: false,
      hideCursor: false,
      autopadding: true,
      fps: 5,
    },
    cliProgress.Presets.shades_classic,
  );
  const bars = new Map<string, cliProgress.SingleBar>();
  // Labels padded to the longest seen so far (`advanced_hls` beside `mp4`), so the bars line up.
  let labelWidth = 0;
  // One bar per media above its tasks' bars, each redrawn in place to its last state.
  const draw = (key: string, label: string, progress: number | null, status: string, timeLeft: number | null): void => {
    const running = !isFinal(status);
    const payload: BarPayload = {
      label: label.padEnd(labelWidth),
      pct: `${(progress ?? 0).toFixed(1).padStart(5)}%`,
      status,
      left: running && timeLeft !== null && timeLeft > 0 ? `  ${duration(timeLeft)} left` : '',
    };
    const bar = bars.get(key);
    if (bar) bar.update(progress ?? 0, payload);
    else bars.set(key, multi.create(100, progress ?? 0, payload));
  };
  return {
    update(media) {
      const labels = media.flatMap((m) => [`media ${m.id}`, ...m.tasks.map((t) => `media ${m.id} task ${t.id} ${t.output}`)]);
      for (const label of labels) labelWidth = Math.max(labelWidth, label.length);
      for (const m of media) {
        draw(`m${m.id}`, `media ${m.id}`, m.progress, m.status, m.timeLeft);
        for (const t of m.tasks) draw(`t${t.id}`, `media ${m.id} task ${t.id} ${t.output}`, t.progress, t.status, t.timeLeft);
      }
    },
    stop() {
      multi.stop();
    },
  };
}
