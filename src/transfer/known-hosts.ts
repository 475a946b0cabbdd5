import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * The subset of OpenSSH's known_hosts format an operator writes or gets from `ssh-keyscan`:
 * `host[,host...] keytype base64key`, `[host]:port` for other ports than 22, hashed names
 * (`|1|salt|hash`, ssh-keygen -H), `*`/`?` wildcards and `!negated` patterns, `@revoked`
 * lines. `@cert-authority` lines are ignored (host certificates are not checked).
 */

interface Entry {
  patterns: string[];
  key: Buffer;
  revoked: boolean;
}

export function parseKnownHosts(text: string): Entry[] {
  const entries: Entry[] = [];
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const fields = line.split(/\s+/);
    let marker: string | null = null;
    if (fields[0]!.startsWith('@')) marker = fields.shift()!;
    if (marker === '@cert-authority' || fields.length < 3) continue;
    entries.push({ patterns: fields[0]!.split(','), key: Buffer.from(fields[2]!, 'base64'), revoked: marker === '@revoked' });
  }
  return entries;
}

function matchesPattern(pattern: string, name: string): boolean {
  if (pattern.startsWith('|1|')) {
    const [, , salt, hash] = pattern.split('|');
    if (!salt || !hash) return false;
    const mac = createHmac('sha1', Buffer.from(salt, 'base64')).update(name).digest();
    const want = Buffer.from(hash, 'base64');
    return want.length === mac.length && timingSafeEqual(mac, want);
  }
  const re = new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`, 'i');
  return re.test(name);
}

function matchesHost(patterns: string[], name: string): boolean {
  let hit = false;
  for (const p of patterns) {
    if (p.startsWith('!')) {
      if (matchesPattern(p.slice(1), name)) return false;
    } else if (matchesPattern(p, name)) hit = true;
  }
  return hit;
}

/** `host` on port 22, `[host]:port` otherwise: how OpenSSH names a server in the file. */
export function knownHostName(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

/** Whether `key` (the raw SSH public key blob) is listed for `name` and not revoked. */
export function isKnownHostKey(entries: Entry[], name: string, key: Buffer): boolean {
  // A revoked key stays refused whatever name it is presented for.
  if (entries.some((e) => e.revoked && e.key.equals(key))) return false;
  return entries.some((e) => !e.revoked && e.key.equals(key) && matchesHost(e.patterns, name));
}
