import crypto from 'node:crypto';
import type { User } from '../config.ts';

const digest = (s: string): Buffer => crypto.createHash('sha256').update(s).digest();

/**
 * Finds the user whose id and key both match, comparing digests in constant time so neither
 * the id nor the key leaks through timing.
 */
export class Users {
  readonly #entries: { id: Buffer; key: Buffer; user: User }[];
  /**
   * Pairs already found to match, by their exact text: a client sends the same pair on every
   * request, and two digests per request are most of what authenticating costs. Only matching
   * pairs are kept (one per user), so a guess is never remembered; looking one up hashes the whole
   * text whatever it holds, so its time says nothing about how much of a guess was right.
   */
  readonly #verified = new Map<string, User>();

  constructor(users: User[]) {
    this.#entries = users.map((user) => ({ id: digest(user.id), key: digest(user.key), user }));
  }

  authenticate(userid: string | undefined, userkey: string | undefined): User | null {
    const pair = `${userid ?? ''}\n${userkey ?? ''}`;
    const known = this.#verified.get(pair);
    if (known) return known;
    const found = this.#match(userid, userkey);
    // Keyed by exact text, so a user's pair varies only by what trimming leaves: bounded all the same.
    if (found && this.#verified.size < 4 * this.#entries.length) this.#verified.set(pair, found);
    return found;
  }

  #match(userid: string | undefined, userkey: string | undefined): User | null {
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
