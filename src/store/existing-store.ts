import { existsSync } from 'node:fs';
import { WharfError } from '../core/errors.js';
import { openStore, parseDatabaseUrl, type OpenStoreOptions, type Store } from './database.js';

/**
 * Open the store for a command that only reads it (`wharf user list`, `wharf diary export`):
 * a SQLite file that is not there is an error naming the folder, never a new empty database,
 * which would hide that the command looked in the wrong place.
 */
export async function openExistingStore(options: OpenStoreOptions): Promise<Store> {
  const target = parseDatabaseUrl(options.url, options.dataDir);
  if (target.dialect === 'sqlite' && target.target !== ':memory:' && !existsSync(target.target)) {
    throw new WharfError('ENODATABASE', `there is no wharf database at ${target.location} (wharf serve or wharf user add create it; --data or WHARF_DATA choose another data folder)`);
  }
  return openStore(options);
}
