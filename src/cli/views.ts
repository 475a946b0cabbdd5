/**
 * Reply shapes as the CLI uses them. encoding.com replies are XML converted to JSON (reference
 * 1.6, 7.8): every value a string, one item an object and several an array, an empty element
 * `[]`, `null` inside parallel destination lists. These readers accept all of that and give
 * stable shapes (lists always lists, numbers as numbers) for printing and for `--json`.
 */
import { z } from 'zod';
import { MediaStatus, TaskStatus, isFinalMedia } from '../domain/status.ts';
import { CliError, ExitCode } from './exit.ts';
import { isObject } from './client.ts';

/** A scalar as text; `[]`, `null`, objects and absence read as ''. */
export function text(v: unknown): string {
  return typeof v === 'string' ? v : typeof v === 'number' ? String(v) : '';
}

/** One item or several, as a list; absence (and `[]` meaning empty) as []. */
export function list(v: unknown): unknown[] {
  if (v === undefined || v === null) return [];
  return Array.isArray(v) ? v : [v];
}

function num(v: unknown): number | null {
  const n = Number.parseFloat(text(v));
  return Number.isFinite(n) ? n : null;
}

const NOT_SET = '0000-00-00 00:00:00';
const date = (v: unknown): string | null => {
  const t = text(v);
  return t === '' || t === NOT_SET ? null : t;
};

export interface DestinationView {
  url: string;
  status: string;
}

export interface TaskView {
  id: string;
  output: string;
  status: string;
  progress: number | null;
  /** Seconds, as the server estimates them; null when it gave none. */
  timeLeft: number | null;
  speed: number | null;
  description: string | null;
  destinations: DestinationView[];
  /** Download links of outputs kept on the server (formats without a destination). */
  links: string[];
}

export interface MediaView {
  id: string;
  status: string;
  progress: number | null;
  timeLeft: number | null;
  sources: string[];
  created: string | null;
  started: string | null;
  finished: string | null;
  description: string | null;
  tasks: TaskView[];
}

// The minimum a status job must have to be read at all; the rest is read leniently.
const JobCore = z.looseObject({ id: z.union([z.string(), z.number()]), status: z.string() });

export function mediaView(raw: unknown): MediaView {
  const core = JobCore.safeParse(raw);
  if (!core.success || !isObject(raw)) throw new CliError('the server answered GetStatus without a media id and status', ExitCode.Connection);
  return {
    id: text(raw.id),
    status: text(raw.status),
    progress: num(raw.progress),
    timeLeft: num(raw.time_left),
    sources: list(raw.sourcefile).map(text).filter(Boolean),
    created: date(raw.created),
    started: date(raw.started),
    finished: date(raw.finished),
    description: text(raw.description) || null,
    tasks: list(raw.format).filter(isObject).map(taskView),
  };
}

function taskView(raw: Record<string, unknown>): TaskView {
  const urls = list(raw.destination);
  const statuses = list(raw.destination_status);
  return {
    id: text(raw.id),
    output: list(raw.output).map(text)[0] ?? '',
    status: text(raw.status),
    progress: num(raw.progress),
    timeLeft: num(raw.time_left),
    speed: num(raw.speed),
    description: text(raw.description) || null,
    destinations: urls.map((u, i) => ({ url: text(u), status: text(statuses[i]) })).filter((d) => d.url !== ''),
    links: list(raw.s3_destination).map(text).filter(Boolean),
  };
}

/** Extended GetStatus: `job` is an object for one id and an array for several. */
export function mediaViews(reply: Record<string, unknown>): MediaView[] {
  const jobs = list(reply.job);
  if (jobs.length === 0) throw new CliError('the server answered GetStatus without a job', ExitCode.Connection);
  return jobs.map(mediaView);
}

export const isFinal = (status: string): boolean => isFinalMedia(status);

/** What went wrong in an ended media, one line each; empty when everything was made and saved. */
export function problemsOf(m: MediaView): string[] {
  const out: string[] = [];
  if (m.status === MediaStatus.Error) out.push(`media ${m.id} ended in Error${m.description ? `: ${m.description}` : ''}`);
  if (m.status === MediaStatus.Stopped) out.push(`media ${m.id} was stopped`);
  for (const t of m.tasks) {
    if (t.status === TaskStatus.Error) out.push(`task ${t.id} (${t.output}) ended in Error${t.description ? `: ${t.description}` : ''}`);
    for (const d of t.destinations) if (d.status.startsWith('Error')) out.push(`task ${t.id} (${t.output}) could not save to ${d.url}: ${d.status}`);
  }
  return out;
}

/** The exit code an ended media stands for; Ok for one still running. */
export function exitCodeOf(m: MediaView): ExitCode {
  if (!isFinal(m.status)) return ExitCode.Ok;
  if (m.status === MediaStatus.Stopped) return ExitCode.MediaStopped;
  return problemsOf(m).length > 0 ? ExitCode.MediaError : ExitCode.Ok;
}
