import crypto from 'node:crypto';
import type { User } from '../config.ts';

/** How long a dashboard sign-in lasts. */
export const SESSION_MS = 12 * 60 * 60 * 1000;
export const COOKIE = 'encodery_session';

export interface Session {
  user: User;
  /** Sent back in the `x-csrf-token` header of every state-changing request. */
  csrf: string;
  nonce: string;
  expires: number;
}

const b64 = (b: Buffer): string => b.toString('base64url');

/**
 * Signed, stateless dashboard sessions: the cookie is `<userid>.<expires>.<nonce>.<mac>`, keyed by
 * a secret derived from the user's key, so every API node that knows the users accepts it (no
 * shared session store) and changing a key ends that user's sessions. The key itself never
 * leaves the server; the CSRF token is a second MAC over the nonce, so it can be shown in the
 * page without revealing anything that forges a cookie.
 */
export class Sessions {
  readonly #keys = new Map<string, { user: User; key: Buffer }>();
  /** Signed-out nonces, until they would have expired anyway (this node only). */
  readonly #revoked = new Map<string, number>();

  constructor(users: readonly User[]) {
    for (const user of users) {
      const key = crypto.createHmac('sha256', crypto.createHash('sha256').update(user.key).digest()).update('encodery dashboard session v1').digest();
      this.#keys.set(user.id, { user, key });
    }
  }

  create(user: User, now = Date.now()): { cookie: string; session: Session } {
    const entry = this.#keys.get(user.id);
    if (!entry) throw new Error('unknown user');
    const nonce = b64(crypto.randomBytes(18));
    const expires = now + SESSION_MS;
    const payload = `${user.id}.${expires}.${nonce}`;
    const cookie = `${payload}.${mac(entry.key, payload)}`;
    return { cookie, session: { user, nonce, expires, csrf: mac(entry.key, `csrf.${nonce}`) } };
  }

  /** The session a cookie value stands for, or null when it is forged, expired or signed out. */
  read(value: string | undefined, now = Date.now()): Session | null {
    if (!value || value.length > 256) return null;
    const parts = value.split('.');
    if (parts.length !== 4) return null;
    const [id, expiresText, nonce, given] = parts as [string, string, string, string];
    const entry = this.#keys.get(id);
    if (!entry || !/^\d{1,15}$/.test(expiresText)) return null;
    const expected = Buffer.from(mac(entry.key, `${id}.${expiresText}.${nonce}`));
    const got = Buffer.from(given);
    if (got.length !== expected.length || !crypto.timingSafeEqual(got, expected)) return null;
    const expires = Number(expiresText);
    if (expires <= now || this.#revoked.has(nonce)) return null;
    return { user: entry.user, nonce, expires, csrf: mac(entry.key, `csrf.${nonce}`) };
  }

  revoke(session: Session, now = Date.now()): void {
    for (const [n, until] of this.#revoked) if (until <= now) this.#revoked.delete(n);
    this.#revoked.set(session.nonce, session.expires);
  }
}

function mac(key: Buffer, text: string): string {
  return b64(crypto.createHmac('sha256', key).update(text).digest());
}

/** Constant-time comparison of two tokens of any length. */
export function sameToken(a: string | undefined, b: string): boolean {
  if (typeof a !== 'string') return false;
  const x = crypto.createHash('sha256').update(a).digest();
  const y = crypto.createHash('sha256').update(b).digest();
  return crypto.timingSafeEqual(x, y) && a === b;
}

export function readCookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const i = part.indexOf('=');
    if (i > 0 && part.slice(0, i).trim() === name) return part.slice(i + 1).trim();
  }
  return undefined;
}
