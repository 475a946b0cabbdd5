/** GetMediaList (version 3) paging: how many media one page may hold, checked by the API and the CLI alike. */
export const PER_PAGE = { min: 5, max: 100, default: 10 } as const;
