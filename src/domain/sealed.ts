/**
 * Secret request fields sealed at rest (issue 17: "keys are never stored in clear"). Every field
 * whose registry role is `secret` (drm_key, HLS encryption_key and encryption_iv, …) is sealed
 * before a format, a preset or a media's options reach the store, and opened only where a value
 * is used (the encoder's parse of a stored format, a preset merged under a new format).
 *
 * AES-256-GCM with a random 96-bit IV per value; the field name is the associated data, so a
 * sealed value cannot be moved to another field. The token names the key that sealed it by a
 * fingerprint, so a process with another key says so instead of "bad tag". Values stored before
 * sealing existed are read as they are (and sealed when they are written again).
 */
import crypto from 'node:crypto';
import type { FieldMap, FieldValue } from './fields.ts';
import { fieldRole } from './field-roles.ts';
import { UserFacingError } from './errors.ts';

export const SECRET_KEY_SETTING = 'ENCODERY_SECRET_KEY';

const PREFIX = 'encodery-sealed:v1:';
const IV_BYTES = 12;
const TAG_BYTES = 16;

/** A stored secret that this process cannot open: another ENCODERY_SECRET_KEY sealed it. */
export class SecretUnsealableError extends UserFacingError {
  override name = 'SecretUnsealableError';
  readonly code = 'ENCODERY_SECRET_UNSEALABLE';
}

/** The 32-byte key values are sealed with; it never shows in a log or a JSON dump. */
export class SealingKey {
  readonly #key: Buffer;
  /** First 8 hex digits of SHA-256 of the key: tells keys apart without saying anything of them. */
  readonly fingerprint: string;

  constructor(key: Buffer) {
    if (key.length !== 32) throw new Error('a sealing key is 32 bytes');
    this.#key = Buffer.from(key);
    this.fingerprint = crypto.createHash('sha256').update(key).digest('hex').slice(0, 8);
  }

  seal(value: string, field: string): string {
    if (isSealed(value)) return value;
    const iv = crypto.randomBytes(IV_BYTES);
    const cipher = crypto.createCipheriv('aes-256-gcm', this.#key, iv);
    cipher.setAAD(Buffer.from(field.toLowerCase()));
    const body = Buffer.concat([cipher.update(value, 'utf8'), cipher.final()]);
    return `${PREFIX}${this.fingerprint}:${Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url')}`;
  }

  /** The clear value of a sealed one; a value stored before sealing existed is returned as it is. */
  open(value: string, field: string): string {
    if (!isSealed(value)) return value;
    const [fingerprint, packed] = value.slice(PREFIX.length).split(':');
    const bytes = Buffer.from(packed ?? '', 'base64url');
    if (fingerprint !== this.fingerprint) {
      throw new SecretUnsealableError(`${field} was sealed with another ${SECRET_KEY_SETTING} (key ${fingerprint}; this process has key ${this.fingerprint}): give every API node and worker the same ${SECRET_KEY_SETTING}, or send the media again.`);
    }
    try {
      const decipher = crypto.createDecipheriv('aes-256-gcm', this.#key, bytes.subarray(0, IV_BYTES));
      decipher.setAAD(Buffer.from(field.toLowerCase()));
      decipher.setAuthTag(bytes.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
      return Buffer.concat([decipher.update(bytes.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]).toString('utf8');
    } catch {
      throw new SecretUnsealableError(`${field} is sealed but does not open with this ${SECRET_KEY_SETTING}: the stored value was altered; send the media again.`);
    }
  }

  toJSON(): { fingerprint: string } {
    return { fingerprint: this.fingerprint };
  }
}

export function isSealed(value: string): boolean {
  return value.startsWith(PREFIX);
}

/** 32 bytes as 64 hex digits or base64; null when the text is neither. */
export function parseSealingKey(text: string): SealingKey | null {
  const t = text.trim();
  const bytes = /^[0-9a-f]{64}$/i.test(t) ? Buffer.from(t, 'hex') : /^[A-Za-z0-9+/_-]{43}=?$/.test(t) ? Buffer.from(t, 'base64') : null;
  return bytes && bytes.length === 32 ? new SealingKey(bytes) : null;
}

/** Every secret-role value of `fields`, at any depth, sealed (already sealed ones stay as they are). */
export function sealSecrets(fields: FieldMap, key: SealingKey): FieldMap {
  return mapSecrets(fields, (value, field) => key.seal(value, field));
}

/** Every sealed secret-role value of `fields` opened; throws SecretUnsealableError naming the setting. */
export function openSecrets(fields: FieldMap, key: SealingKey): FieldMap {
  return mapSecrets(fields, (value, field) => key.open(value, field));
}

/** Whether any secret-role value of `fields` is still in clear (stored before sealing existed). */
export function hasClearSecrets(fields: FieldMap): boolean {
  let clear = false;
  mapSecrets(fields, (value) => {
    if (!isSealed(value)) clear = true;
    return value;
  });
  return clear;
}

function mapSecrets(fields: FieldMap, change: (value: string, field: string) => string): FieldMap {
  const walk = (value: FieldValue, secretField: string | null): FieldValue => {
    if (typeof value === 'string') return secretField !== null && value.trim() !== '' ? change(value, secretField) : value;
    if (Array.isArray(value)) return value.map((v) => walk(v, secretField));
    const out: FieldMap = {};
    for (const [k, v] of Object.entries(value)) out[k] = walk(v, fieldRole(k) === 'secret' ? k : null);
    return out;
  };
  return walk(fields, null) as FieldMap;
}

/** The process's sealing key, resolved at start (server.ts); a missing one is a wiring fault. */
export function sealingKeyOf(config: { secretKey: SealingKey | null }): SealingKey {
  if (!config.secretKey) throw new Error(`${SECRET_KEY_SETTING} was not resolved at start`);
  return config.secretKey;
}
