/**
 * What a request field *is*, where that matters beyond the feature that reads it. A `secret`
 * (key material, passwords, tokens, signing keys) is never echoed back: GetStatus, GetMediaList,
 * GetPreset, notifications and the dashboard show it masked. URLs need no entry: every echoed
 * value that is a URL has its credentials redacted whatever its field is called.
 *
 * Kept as a table keyed by field name so that the field registry of issue 12 can take the role
 * over as one more fact per field.
 */
export type FieldRole = 'secret';

export const FIELD_ROLES = {
  // Reference 4.5 "Encryption": HLS AES-128 key material.
  encryption_key: 'secret',
  encryption_iv: 'secret',
  encryption_password: 'secret',
  // Reference 4.7 Widevine (refused today, listed so a stored one could never be echoed).
  widevine_aes_signing_key: 'secret',
  widevine_aes_signing_iv: 'secret',
  // Credentials of the request itself (reference 1.2), should they ever land among echoed fields.
  userkey: 'secret',
  oidc_refresh_token: 'secret',
} as const satisfies Record<string, FieldRole>;

export function fieldRole(name: string): FieldRole | undefined {
  return (FIELD_ROLES as Record<string, FieldRole>)[name.toLowerCase()];
}
