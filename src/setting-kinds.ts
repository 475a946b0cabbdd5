import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';

/** How one setting is named and documented (the README and `encodery help` list them). */
export interface Setting {
  env: string;
  flag: string;
  help: string;
  default?: string;
}

/** A setting with the check its text must pass and the value it becomes (transfer/settings.ts groups them by scheme). */
export interface CheckedSetting<T extends z.ZodType = z.ZodType> extends Setting {
  value: T;
}

/** The values a group of checked settings becomes. */
export type SettingValues<G extends Record<string, CheckedSetting>> = { [K in keyof G]: z.output<G[K]['value']> };

export const bool = z
  .string()
  .transform((s) => s.trim().toLowerCase())
  .pipe(z.enum(['1', '0', 'true', 'false', 'yes', 'no', 'on', 'off']))
  .transform((s) => ['1', 'true', 'yes', 'on'].includes(s));

export const int = (min: number, max: number) => z.string().trim().regex(/^\d+$/, 'must be a whole number').transform(Number).pipe(z.number().int().min(min).max(max));

export const list = z.string().transform((s) => s.split(',').map((x) => x.trim()).filter(Boolean));

/** An http(s) base URL, kept without its trailing slashes; unset is null. */
export const baseUrl = z.url({ protocol: /^https?$/ }).transform((u) => u.replace(/\/+$/, '')).optional().transform((u) => u ?? null);

// Checked at start: a missing key file must not first show up as a failed delivery.
export const readableFile = z
  .string()
  .transform((p) => path.resolve(p))
  .refine((p) => {
    try {
      return fs.statSync(p).isFile();
    } catch {
      return false;
    }
  }, 'not a readable file')
  .optional()
  .transform((p) => p ?? null);
