import { fieldRole } from './field-roles.ts';

// Query parameters whose values are credentials in the URL forms users send us
// (S3/GCS pre-signed, Azure SAS, Rackspace auth-token, API keys).
const SECRET_PARAMS = new Set([
  'sig',
  'signature',
  'x-amz-signature',
  'x-amz-credential',
  'x-amz-security-token',
  'awsaccesskeyid',
  'x-goog-signature',
  'x-goog-credential',
  'token',
  'access_token',
  'auth-token',
  'key',
  'apikey',
  'api_key',
  'password',
  'passwd',
  'secret',
  'client_secret',
]);

const MASK = '***';

function isSecretName(rawName: string): boolean {
  let name = rawName;
  try {
    name = decodeURIComponent(rawName.replace(/\+/g, ' '));
  } catch {
    // keep the raw name: a malformed escape still must not leak a value
  }
  return SECRET_PARAMS.has(name.trim().toLowerCase());
}

/** Masks secret values in a raw query string, keeping its layout (no re-encoding). */
function redactQuery(query: string): string {
  return query
    .split(/([&;])/)
    .map((part) => {
      const eq = part.indexOf('=');
      if (eq < 0) return part;
      return isSecretName(part.slice(0, eq)) ? `${part.slice(0, eq)}=${MASK}` : part;
    })
    .join('');
}

/** API Gateway's documented `Key:Secret:ApiId.execute-api...` form carries credentials without `@`. */
function maskColonCredentials(hostPort: string): string {
  if (hostPort.startsWith('[')) return hostPort;
  const parts = hostPort.split(':');
  if (parts.length < 3) return hostPort;
  return `${MASK}:${MASK}:${parts.slice(2).join(':')}`;
}

/**
 * Masks user:password@ and secret query values. Works on strings that are not valid URLs
 * too (API Gateway's `https://Key:Secret:ApiId.execute-api...` form is one), by treating
 * everything between `scheme://` and the last `@` before the path as credentials.
 */
export function redactUrl(url: string): string {
  const m = /^([a-z][a-z0-9+.-]*:\/\/)([^/?#]*)(.*)$/is.exec(url);
  let head: string;
  let rest: string;
  if (m) {
    let authority = m[2] ?? '';
    let after = m[3] ?? '';
    // A key with an unescaped "/" (base64 keys have them) moves the real host into the path:
    // https://ab/cd==@acct.blob.core.windows.net/c/x. Everything before such an "@host/" is credentials.
    const slipped = /^([^?#]*)@([a-z0-9-]+(?:\.[a-z0-9-]+)+(?::\d+)?)(?=[/?#]|$)/i.exec(after);
    if (slipped && slipped[1]!.startsWith('/')) {
      authority = `${authority}${slipped[1]}@${slipped[2]}`;
      after = after.slice(slipped[0].length);
    }
    const at = authority.lastIndexOf('@');
    const userinfo = at >= 0 ? authority.slice(0, at) : '';
    const masked = userinfo === '' ? '' : userinfo.includes(':') ? `${MASK}:${MASK}@` : `${MASK}@`;
    head = (m[1] ?? '') + masked + maskColonCredentials(authority.slice(at + 1));
    rest = after;
  } else {
    head = '';
    rest = url;
  }
  const q = rest.indexOf('?');
  if (q < 0) return head + rest;
  const hash = rest.indexOf('#', q);
  const query = hash < 0 ? rest.slice(q + 1) : rest.slice(q + 1, hash);
  const tail = hash < 0 ? '' : rest.slice(hash);
  return head + rest.slice(0, q + 1) + redactQuery(query) + tail;
}

/** Redacts every URL inside free text (error messages, stacks, logs lines). */
export function redactText(text: string): string {
  return text.replace(/[a-z][a-z0-9+.-]*:\/\/[^\s"'<>]+/gi, (m) => redactUrl(m));
}

type Fields = string | Fields[] | { [key: string]: Fields };

/**
 * Stored fields as they may be shown (GetStatus, GetMediaList, GetPreset, notifications): a field
 * whose role is `secret` (domain/field-roles.ts) is masked, and every other value has the
 * credentials of any URL in it redacted, at any depth (a logo's `logo_source`, a QC
 * `original_source`, a `vtt_destination`, whatever the field is called). The stored fields keep
 * the real values for the encoder.
 */
export function redactFields<T extends Fields>(value: T): T {
  if (typeof value === 'string') return redactText(value) as T;
  if (Array.isArray(value)) return value.map((v) => redactFields(v)) as T;
  const out: { [key: string]: Fields } = {};
  for (const [key, v] of Object.entries(value)) {
    if (fieldRole(key) === 'secret') out[key] = typeof v === 'string' && v.trim() === '' ? v : MASK;
    else out[key] = redactFields(v);
  }
  return out as T;
}
