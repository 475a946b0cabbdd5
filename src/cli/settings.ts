/**
 * Where the client finds the server and its credentials: flags, the environment and a profile
 * file, in that order of strength, except that a profile named on the command line (--profile)
 * beats the environment, since what was typed wins over what happens to be exported.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { redactUrl } from '../transfer/redact.ts';
import { usageError } from './exit.ts';

export const DEFAULT_URL = 'http://127.0.0.1:8080/';

export interface Connection {
  url: URL;
  userid: string;
  userkey: string;
}

export interface ConnectionFlags {
  url?: string;
  userid?: string;
  userkey?: string;
  profile?: string;
  config?: string;
}

const Profile = z.strictObject({
  url: z.string().min(1).optional(),
  userid: z.string().min(1).optional(),
  userkey: z.string().min(1).optional(),
});
type Profile = z.infer<typeof Profile>;

const ProfileFile = z.strictObject({
  default: z.string().min(1).optional(),
  profiles: z.record(z.string(), Profile),
});

/** `--config`, `ENCODERY_CONFIG`, `$XDG_CONFIG_HOME/encodery/config.json`, `~/.config/encodery/config.json`. */
export function profileFilePath(flags: ConnectionFlags, env: NodeJS.ProcessEnv): { file: string; explicit: boolean } {
  const explicit = flags.config ?? env.ENCODERY_CONFIG;
  if (explicit) return { file: path.resolve(explicit), explicit: true };
  const base = env.XDG_CONFIG_HOME || path.join(env.HOME || os.homedir(), '.config');
  return { file: path.join(base, 'encodery', 'config.json'), explicit: false };
}

function readProfiles(file: string, explicit: boolean, warn: (message: string) => void): z.infer<typeof ProfileFile> | null {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' && !explicit) return null;
    throw usageError(`cannot read the profile file ${file}: ${(err as Error).message}`);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw usageError(`the profile file ${file} is not valid JSON: ${(err as Error).message}`);
  }
  const parsed = ProfileFile.safeParse(data);
  if (!parsed.success) {
    // Issue paths and messages only: the values (a userkey) are never echoed.
    const why = parsed.error.issues.map((i) => `${i.path.join('.') || '(top)'}: ${i.message}`).join('; ');
    throw usageError(`the profile file ${file} does not have the expected shape (${why})`);
  }
  // As ssh does with keys: a file of userkeys others can read is worth a word, not a refusal.
  const others = fs.statSync(file).mode & 0o077;
  if (others && Object.values(parsed.data.profiles).some((p) => p.userkey !== undefined)) {
    warn(`${file} holds userkeys and can be read by other users; chmod 600 it`);
  }
  return parsed.data;
}

export function resolveConnection(flags: ConnectionFlags, env: NodeJS.ProcessEnv, warn: (message: string) => void): Connection {
  const { file, explicit } = profileFilePath(flags, env);
  const named = flags.profile;
  const profiles = readProfiles(file, explicit || named !== undefined, warn);
  const pick = (name: string): Profile => {
    const found = profiles?.profiles[name];
    if (!found) throw usageError(`no profile "${name}" in ${file}${profiles ? ` (it has: ${Object.keys(profiles.profiles).join(', ') || 'none'})` : ''}`);
    return found;
  };
  const typed: Profile = named !== undefined ? pick(named) : {};
  const fallbackName = env.ENCODERY_PROFILE || profiles?.default || (profiles?.profiles.default ? 'default' : undefined);
  const fallback: Profile = named === undefined && fallbackName !== undefined ? pick(fallbackName) : {};
  const value = (key: keyof Profile, envName: string): string | undefined => flags[key] ?? typed[key] ?? (env[envName] || undefined) ?? fallback[key];

  const urlText = value('url', 'ENCODERY_URL') ?? DEFAULT_URL;
  let url: URL;
  try {
    url = new URL(urlText);
  } catch {
    throw usageError(`the server URL "${redactUrl(urlText)}" is not a URL; give one like http://127.0.0.1:8080`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw usageError(`the server URL must start with http:// or https://, not ${url.protocol}//`);
  const userid = value('userid', 'ENCODERY_USERID');
  const userkey = value('userkey', 'ENCODERY_USERKEY');
  const missing = [userid === undefined ? 'userid' : null, userkey === undefined ? 'userkey' : null].filter(Boolean);
  if (userid === undefined || userkey === undefined) {
    throw usageError(`no ${missing.join(' or ')}: give --userid/--userkey, set ENCODERY_USERID/ENCODERY_USERKEY, or add a profile to ${file}`);
  }
  return { url, userid, userkey };
}
