import crypto from 'node:crypto';
import type { User } from '../config.ts';

const digest = (s: string): Buffer => crypto.createHash('sha256').update(s).digest();

/**
 * Finds the user whose id and key both match, comparing digests in constant time so neither
 * the id nor the key leaks through timing.
 */
export class Users {
  readonly #entries: { id: Buffer; key: Buffer; user: User }[];

  constructor(users: User[]) {
    this.#entries = users.map((user) => ({ id: digest(user.id), key: digest(user.key), user }));
  }

  authenticate(userid: string | undefined, userkey: string | undefined): User | null {
    const id = digest(userid ?? '');
    const key = digest(userkey ?? '');
    let found: User | null = null;
    for (const e of this.#entries) {
      // Both comparisons always run: no early exit that would time the id check alone.
      const ok = Number(crypto.timingSafeEqual(e.id, id)) & Number(crypto.timingSafeEqual(e.key, key));
      if (ok && !found) found = e.user;
    }
    return found;
  }

  get all(): readonly User[] {
    return this.#entries.map((e) => e.user);
  }
}
