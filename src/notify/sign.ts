import crypto from 'node:crypto';

/**
 * Notification signatures (an Encodery addition; encoding.com has none).
 *
 * Header: `X-Encodery-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>`.
 * The timestamp is inside the signed text, so a receiver that rejects old `t` values also
 * rejects replays; it is fresh on every attempt.
 *
 * The secret is derived from the user's API key rather than stored: nothing new to keep or
 * back up, the user can compute it from what they already hold, and a receiver given only the
 * secret cannot work back to the key (HMAC is one-way). Changing the key changes the secret.
 */
export const SIGNATURE_HEADER = 'X-Encodery-Signature';

/** The label the secret is derived with; part of the documented recipe, never change it. */
const SECRET_LABEL = 'encodery-notify';

/** A user's notification secret: hex HMAC-SHA256 keyed with their API key over "encodery-notify". */
export function notifySecret(userKey: string): string {
  return crypto.createHmac('sha256', userKey).update(SECRET_LABEL).digest('hex');
}

/** The header value for one attempt; `body` must be the exact bytes sent. */
export function signatureValue(secret: string, body: string, unixSeconds: number): string {
  const mac = crypto.createHmac('sha256', secret).update(`${unixSeconds}.`).update(body, 'utf8').digest('hex');
  return `t=${unixSeconds},v1=${mac}`;
}
