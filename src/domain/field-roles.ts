/**
 * What a request field *is*, where that matters beyond the feature that reads it. A `secret`
 * (key material, passwords, tokens, signing keys) is never echoed back: GetStatus, GetMediaList,
 * GetPreset, notifications and the dashboard show it masked. URLs need no entry: every echoed
 * value that is a URL has its credentials redacted whatever its field is called.
 *
 * Derived from the field registry's `secret` role, so a new secret field is masked by being listed there.
 */
import { namesWithRole } from './field-registry.ts';

export type FieldRole = 'secret';

const SECRETS = new Set(namesWithRole('secret'));

export function fieldRole(name: string): FieldRole | undefined {
  return SECRETS.has(name.toLowerCase()) ? 'secret' : undefined;
}
