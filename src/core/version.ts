import { readFileSync } from 'node:fs';

/** wharf's version, from its package.json: what `wharf --version` prints and servers announce. */
export const WHARF_VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
