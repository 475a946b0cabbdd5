/** What every command gets, and small readers for util.parseArgs values. */
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import type { ParseArgsConfig } from 'node:util';
import type { ApiClient } from './client.ts';
import { usageError, type ExitCode } from './exit.ts';
import type { Output } from './output.ts';

export type OptionSpec = NonNullable<ParseArgsConfig['options']>;
export type Values = Record<string, string | boolean | (string | boolean)[] | undefined>;

/** One option as typed, in command-line order (where order carries meaning, as for add's --dest). */
export interface OptionToken {
  name: string;
  value: string | undefined;
}

export interface CommandContext {
  /** Positional arguments after the command name. */
  args: string[];
  values: Values;
  /** The options in the order they were typed. */
  options: OptionToken[];
  json: boolean;
  out: Output;
  /** Aborted by Ctrl-C (main.ts owns the signal handler). */
  signal: AbortSignal | undefined;
  /** The API client, built on first use so that usage errors come before missing credentials. */
  client(): ApiClient;
}

export interface Command {
  usage: string;
  summary: string;
  options: OptionSpec;
  run(ctx: CommandContext): Promise<ExitCode>;
}

export function str(values: Values, name: string): string | undefined {
  const v = values[name];
  return typeof v === 'string' ? v : undefined;
}

export function strs(values: Values, name: string): string[] {
  const v = values[name];
  if (v === undefined) return [];
  return (Array.isArray(v) ? v : [v]).filter((x): x is string => typeof x === 'string');
}

export const flag = (values: Values, name: string): boolean => values[name] === true;

/** A positive whole number given as text (media, task ids). */
export function idArg(value: string | undefined, what: string): string {
  if (value === undefined) throw usageError(`missing the ${what}`);
  if (!/^\d{1,15}$/.test(value) || Number(value) < 1) throw usageError(`the ${what} must be a positive whole number, not "${value.slice(0, 40)}"`);
  return String(Number(value));
}

export function exactlyOne(args: string[], what: string): string {
  if (args.length === 0) throw usageError(`missing the ${what}`);
  if (args.length > 1) throw usageError(`expected one ${what}, got ${args.length} arguments`);
  return args[0]!;
}

/** Seconds given as text, at least `min`; returned in milliseconds. */
export function secondsOption(values: Values, name: string, fallbackSec: number, min: number): number {
  const text = str(values, name);
  if (text === undefined) return fallbackSec * 1000;
  const n = Number(text);
  if (!Number.isFinite(n) || n < min) throw usageError(`--${name} must be a number of seconds, at least ${min}`);
  return Math.round(n * 1000);
}

/** A whole number option within [min, max], checked here so that a bad one is a usage error. */
export function wholeNumberOption(values: Values, name: string, fallback: number, min: number, max: number): number {
  const text = str(values, name);
  if (text === undefined) return fallback;
  const n = Number(text);
  const range = max === Number.MAX_SAFE_INTEGER ? `at least ${min}` : `from ${min} to ${max}`;
  if (!/^\d{1,16}$/.test(text.trim()) || n < min || n > max) throw usageError(`--${name} must be a whole number ${range}, not "${text.slice(0, 40)}"`);
  return n;
}

/** A URL as given, or a plain path as the file:// URL of its absolute path (for a server on this machine). */
export function urlOrPath(value: string): string {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(value) ? value : pathToFileURL(path.resolve(value)).href;
}

/** JSON given inline, or `@file` to read it from a file. */
export function jsonArg(value: string, option: string): unknown {
  let text = value;
  if (value.startsWith('@')) {
    try {
      text = fs.readFileSync(value.slice(1), 'utf8');
    } catch (err) {
      throw usageError(`--${option}: cannot read ${value.slice(1)}: ${(err as Error).message}`);
    }
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw usageError(`--${option} is not valid JSON: ${(err as Error).message}`);
  }
}

/** Format objects from --format values: each an object or a list of objects. */
export function formatsArg(values: string[], option: string): Record<string, unknown>[] {
  return values.flatMap((v) => {
    const parsed = jsonArg(v, option);
    const items = Array.isArray(parsed) ? parsed : [parsed];
    for (const item of items) {
      if (typeof item !== 'object' || item === null || Array.isArray(item)) throw usageError(`--${option} must be a JSON object (one format) or a list of them, like {"output":"mp4","size":"0x720"}`);
    }
    return items as Record<string, unknown>[];
  });
}
