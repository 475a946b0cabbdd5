// Every call the pages make: the encoding.com actions through /dashboard/api (the server adds
// the signed-in user's credentials), plus the overview and uploads.
const csrf = document.querySelector('meta[name="csrf-token"]')?.getAttribute('content') ?? '';

export class ApiError extends Error {}

export const list = (x) => (x === undefined || x === null || x === '' ? [] : Array.isArray(x) ? x : [x]);

async function send(url, init) {
  const res = await fetch(url, { credentials: 'same-origin', ...init, headers: { 'x-csrf-token': csrf, ...(init.headers ?? {}) } });
  if (res.status === 401) {
    location.assign('/dashboard/login');
    throw new ApiError('Signed out');
  }
  const body = await res.json().catch(() => ({}));
  if (!res.ok) throw new ApiError(body.error ?? `HTTP ${res.status}`);
  return body;
}

/** One action; resolves to the reply's `response`, rejects with its error text. */
export async function call(action, fields = {}) {
  const { response } = await send('/dashboard/api', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query: { action, ...fields } }),
  });
  if (!response) throw new ApiError('No reply');
  if (response.errors) throw new ApiError(list(response.errors.error).join(' '));
  return response;
}

export const overview = () => send('/dashboard/api/overview', { method: 'GET' });

/** Every output name the server knows, in its own order. */
export const outputs = async () => (await send('/dashboard/api/outputs', { method: 'GET' })).outputs;

/** Streams a picked file to the server; resolves to the file:// source it was saved as. */
export async function upload(file) {
  const { source } = await send(`/dashboard/upload?name=${encodeURIComponent(file.name)}`, {
    method: 'POST',
    headers: { 'content-type': 'application/octet-stream' },
    body: file,
  });
  return source;
}

let registry = null;

/** The field registry as the format editor uses it (`{ outputs, fields }`); fetched once a page load. */
export function fields() {
  registry ??= send('/dashboard/api/fields', { method: 'GET' }).catch((err) => {
    registry = null;
    throw err;
  });
  return registry;
}

/**
 * Runs every check of `action` (AddMedia, SavePreset) on the server without storing anything;
 * resolves to its warnings, rejects with the API's error. `upload`: the name of the file the form
 * will upload as its source.
 */
export async function check(action, query, upload) {
  const { response } = await send('/dashboard/api/check', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query: { action, ...query }, ...(upload !== undefined ? { upload } : {}) }),
  });
  if (!response) throw new ApiError('No reply');
  if (response.errors) throw new ApiError(list(response.errors.error).join(' '));
  return list(response.warnings?.warning);
}

/** Source seconds of each of these media that has been probed, by id. */
export const durations = async (ids) => (ids.length === 0 ? {} : (await send(`/dashboard/api/durations?ids=${ids.join(',')}`, { method: 'GET' })).durations);
