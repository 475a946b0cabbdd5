import crypto from 'node:crypto';
import type { FieldMap, FieldValue } from '../../domain/fields.ts';
import * as repo from '../../store/repo.ts';
import { ApiError, ErrorText } from '../errors.ts';
import type { ActionContext } from './context.ts';

/** How long a retried AddMedia with the same idempotency_key answers the media the first one added. */
export const IDEMPOTENCY_WINDOW_MS = 24 * 60 * 60 * 1000;
const MAX_KEY_LENGTH = 255;

export interface IdempotencyClaim {
  key: string;
  /** SHA-256 of the request without its credentials: a key reused for another request is a client's mistake. */
  requestHash: string;
  since: number;
}

/** The request's idempotency_key, checked; null when it has none. */
export function idempotencyOf(query: FieldMap, now = Date.now()): IdempotencyClaim | null {
  const value = query['idempotency_key'];
  if (value === undefined) return null;
  if (typeof value !== 'string') throw new ApiError(ErrorText.wrongShape('idempotency_key', 'a string'));
  const key = value.trim();
  if (key === '') return null;
  if (key.length > MAX_KEY_LENGTH || /[\u0000-\u001f\u007f]/.test(key)) {
    throw new ApiError(ErrorText.badValue('idempotency_key', `must be at most ${MAX_KEY_LENGTH} printable characters.`));
  }
  const { userid: _id, userkey: _key, ...request } = query;
  return { key, requestHash: crypto.createHash('sha256').update(canonical(request)).digest('hex'), since: now - IDEMPOTENCY_WINDOW_MS };
}

/**
 * The media an earlier request with this key added within the window, or null. The same key
 * with a different request is refused: answering the first media would hide the second order.
 */
export async function earlierMedia(ctx: ActionContext, claim: IdempotencyClaim): Promise<number | null> {
  const row = await repo.findIdempotencyKey(ctx.db, ctx.user.id, claim.key, claim.since);
  if (!row) return null;
  if (row.request_hash !== claim.requestHash) {
    throw new ApiError(
      ErrorText.badValue('idempotency_key', `"${claim.key.slice(0, 64)}" was used in the last 24 hours for a different request (media ${row.media_id}); use a new key for a new request.`),
    );
  }
  return Number(row.media_id);
}

/** JSON with object keys in order, so that the same request hashes the same however it was written. */
function canonical(value: FieldValue | FieldMap): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    return `{${Object.keys(value).sort().map((k) => `${JSON.stringify(k)}:${canonical((value as FieldMap)[k]!)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}
