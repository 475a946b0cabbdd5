/**
 * Every error text the API answers with, in one place. Texts seen from the real service or its
 * clients are kept verbatim (reference 1.5); the rest say what was wrong and how to fix it.
 */
export const ErrorText = {
  auth: 'Wrong user id or key!',
  badQuery: (why: string) => `Wrong query format: ${why}`,
  unknownAction: (action: string) => `Unknown action "${action}".`,
  noAction: 'Action is not indicated!',
  noSource: 'Source file is not indicated!',
  noFormat: 'No formats specified!',
  noMediaId: 'Media ID is not indicated!',
  badMediaId: (id: string) => `Media ID "${id}" is not a positive whole number.`,
  mediaNotFound: (id: string | number) => `Media ${id} not found.`,
  noTaskId: 'Task ID is not indicated!',
  taskNotFound: (id: string | number) => `Task ${id} not found in this media.`,
  noPresetName: 'Preset name is not indicated!',
  presetNotFound: (name: string) => `Preset "${name}" not found.`,
  badPresetName: (field: string, name: string) =>
    `Field "${field}": "${name.slice(0, 80)}" is not a preset name; use 1 to 64 letters, digits, "_", "." or "-".`,
  builtInPreset: (name: string) => `Preset "${name}" is a built-in (ui) preset and cannot be deleted.`,
  tooManyPresets: (limit: number) => `A user may keep at most ${limit} presets; delete some with DeletePreset first.`,
  wrongShape: (field: string, expected: string) => `Field "${field}" must be ${expected}.`,
  badValue: (field: string, why: string) => `Field "${field}" ${why}`,
  tooLarge: (limit: number) => `Request body is larger than the limit of ${limit} bytes.`,
  fieldTooLong: (field: string, limit: number) => `Field "${field}" is longer than the limit of ${limit} characters.`,
  wrongMethod: (method: string) => `The API takes POST, not ${method.slice(0, 16)}: POST / with a form field named xml or json.`,
  noSuchPath: (path: string) => `Nothing is served at ${JSON.stringify(path.slice(0, 80))}: the API is POST / with a form field named xml or json.`,
  unreadable: (why: string) => `The request could not be read (${why.slice(0, 120)}).`,
  internal: 'Internal error; the request was not carried out. Try again later.',
  storeUnavailable: 'The database cannot be reached right now; try again in a moment.',
  queueUnavailable: 'The queue cannot be reached right now and a worker is processing this media, so it cannot be interrupted; nothing was changed. Try again in a moment.',
} as const;

/** An error the API answers with an `<errors>` reply; nothing was changed. */
export class ApiError extends Error {
  override name = 'ApiError';
}
