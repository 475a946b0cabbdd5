import { createRequire } from 'node:module';

/** The platform version reported in GetStatus (`version`): this package's version. */
export const VERSION: string = (createRequire(import.meta.url)('../package.json') as { version: string }).version;
