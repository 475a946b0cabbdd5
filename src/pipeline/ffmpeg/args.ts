/**
 * A typed FFmpeg command: inputs with their own options, a filter graph, outputs with maps.
 * It renders to an argv array for spawn. There is never a shell in between, so the only quoting
 * that matters is FFmpeg's own filter-graph escaping, done here in one place.
 */

import { inputArgs, type FfmpegInput } from './inputs.ts';

export type { FfmpegInput } from './inputs.ts';

export type FilterArg = string | number;

export interface Filter {
  name: string;
  /** Named options in order (`scale=w=320:h=240`) or positional ones (`transpose=1`). */
  args?: Record<string, FilterArg> | FilterArg[];
  /**
   * `ass` only: its file is one Encodery wrote itself (pipeline/captions). libass reads that file
   * directly, through no FFmpeg protocol or demuxer, so the inputs' allow-lists need not cover it.
   */
  ownFile?: true;
}

/** `[in1][in2]f1,f2[out]`. Labels are written without brackets. */
export interface FilterChain {
  inputs: string[];
  filters: Filter[];
  outputs: string[];
}

export interface FfmpegOutput {
  url: string;
  /** `-map` targets: `[v]`, `0:a:0?`. */
  maps?: string[];
  options?: string[];
}

export interface FfmpegCommand {
  global?: string[];
  inputs: FfmpegInput[];
  filterGraph?: FilterChain[];
  outputs: FfmpegOutput[];
}

export function buildArgs(cmd: FfmpegCommand): string[] {
  const args: string[] = [...(cmd.global ?? [])];
  for (const input of cmd.inputs) args.push(...inputArgs(input));
  if (cmd.filterGraph && cmd.filterGraph.length > 0) args.push('-filter_complex', renderFilterGraph(cmd.filterGraph));
  for (const out of cmd.outputs) {
    for (const m of out.maps ?? []) args.push('-map', m);
    args.push(...(out.options ?? []), out.url);
  }
  return args;
}

export function filter(name: string, args?: Filter['args']): Filter {
  return args === undefined ? { name } : { name, args };
}

export function renderFilterGraph(chains: FilterChain[]): string {
  return chains
    .map((c) => `${c.inputs.map(label).join('')}${c.filters.map(renderFilter).join(',')}${c.outputs.map(label).join('')}`)
    .join(';');
}

/**
 * Filters that open a file by name, past the inputs' allow-lists (inputs.ts). Encodery never needs
 * movie, amovie or subtitles (they open it through libavformat, any demuxer); `ass` is allowed
 * for a file Encodery wrote (`ownFile`). drawtext's fontfile and textfile only ever name files
 * Encodery fetched or wrote itself.
 */
const OPENS_FILES = new Set(['movie', 'amovie', 'subtitles', 'ass']);

function renderFilter(f: Filter): string {
  if (!/^[a-z0-9_]+$/i.test(f.name)) throw new Error(`invalid filter name ${JSON.stringify(f.name)}`);
  if (OPENS_FILES.has(f.name) && !(f.name === 'ass' && f.ownFile)) throw new Error(`internal: the ${f.name} filter opens files by name, which no input allow-list covers`);
  if (f.args === undefined) return f.name;
  const parts = Array.isArray(f.args)
    ? f.args.map(escapeFilterValue)
    : Object.entries(f.args).map(([k, v]) => `${k}=${escapeFilterValue(v)}`);
  return parts.length ? `${f.name}=${parts.join(':')}` : f.name;
}

function label(name: string): string {
  if (!/^[a-z0-9_:.?]+$/i.test(name)) throw new Error(`invalid filter label ${JSON.stringify(name)}`);
  return `[${name}]`;
}

/**
 * Two levels, as the filtergraph docs describe: first the option parser's (`\ ' :`), then the
 * graph parser's (`\ ' [ ] , ;`).
 */
export function escapeFilterValue(v: FilterArg): string {
  const s = typeof v === 'number' ? formatNumber(v) : v;
  const level1 = s.replace(/[\\':]/g, (c) => `\\${c}`);
  return level1.replace(/[\\'[\],;]/g, (c) => `\\${c}`);
}

/** Numbers for argv: no exponent notation, at most 6 decimals. */
export function formatNumber(n: number): string {
  if (!Number.isFinite(n)) throw new Error(`not a finite number: ${n}`);
  if (Number.isInteger(n)) return String(n);
  return n.toFixed(6).replace(/0+$/, '').replace(/\.$/, '');
}

/**
 * An output's path made literal with `file:` (a local name with a colon would otherwise be taken
 * as a protocol); URLs pass through. Inputs are made literal by inputs.ts, with their allow-lists.
 */
export function ffmpegUrl(path: string): string {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(path) || path.startsWith('file:') ? path : `file:${path}`;
}

const SAFE_ARG = /^[A-Za-z0-9_\-+=:,./@%^]+$/;

/** For logs and the task's status log only: POSIX-shell quoting, so it can be pasted to reproduce. */
export function formatCommandLine(ffmpeg: string, args: string[]): string {
  return [ffmpeg, ...args].map((a) => (a !== '' && SAFE_ARG.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ');
}
