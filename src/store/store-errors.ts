import { WharfError } from '../core/errors.js';

/**
 * Turns what the three drivers throw (better-sqlite3's SqliteError, pg's DatabaseError, mysql2's
 * errors, socket errors) into a WharfError with code ESTORE and a sentence a user understands.
 * The original error stays as `cause` for the debug log.
 */

interface DriverError {
  code?: unknown;
  errno?: unknown;
  message?: unknown;
  errors?: unknown;
}

function driverCode(error: unknown): string {
  if (typeof error !== 'object' || error === null) return '';
  const { code, errors } = error as DriverError;
  if (typeof code === 'string' && code !== '') return code;
  // Node 20 reports a failed connection to a name with several addresses as an AggregateError.
  if (Array.isArray(errors) && errors.length > 0) return driverCode(errors[0]);
  return '';
}

function driverMessage(error: unknown): string {
  if (error instanceof Error && error.message) return error.message;
  if (typeof error === 'object' && error !== null && Array.isArray((error as DriverError).errors)) {
    const first = ((error as DriverError).errors as unknown[])[0];
    if (first instanceof Error) return first.message;
  }
  return String(error);
}

/** A unique constraint said no: a name that is taken, on any of the three dialects. */
export function isUniqueViolation(error: unknown): boolean {
  const code = driverCode(error);
  return (
    code === 'SQLITE_CONSTRAINT_UNIQUE' ||
    code === 'SQLITE_CONSTRAINT_PRIMARYKEY' ||
    code === '23505' ||
    code === 'ER_DUP_ENTRY' ||
    (typeof error === 'object' && error !== null && (error as DriverError).errno === 1062)
  );
}

/** The table does not exist (yet): SQLite, PostgreSQL (42P01), MySQL (1146). */
export function isMissingTable(error: unknown): boolean {
  const code = driverCode(error);
  if (code === '42P01' || code === 'ER_NO_SUCH_TABLE') return true;
  return code.startsWith('SQLITE_') && /no such table/i.test(driverMessage(error));
}

const NETWORK_CODES: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host name lookup failed',
  ETIMEDOUT: 'timed out',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ECONNRESET: 'connection reset',
  EPIPE: 'connection closed',
  PROTOCOL_CONNECTION_LOST: 'connection lost',
};

/**
 * `location` names the database for the user: a file path or a URL without its password.
 * `busyTimeoutMs` is quoted in the "locked" sentence.
 */
export function toStoreError(error: unknown, location: string, busyTimeoutMs?: number): WharfError {
  if (error instanceof WharfError) return error;
  const code = driverCode(error);
  const message = driverMessage(error);
  const wrap = (sentence: string): WharfError => new WharfError('ESTORE', sentence, { cause: error });

  // SQLite (extended result codes from better-sqlite3).
  if (code.startsWith('SQLITE_NOTADB')) {
    return wrap(`${location} is not a database (the file is damaged or is something else); move it aside or choose another --data folder`);
  }
  if (code.startsWith('SQLITE_CORRUPT')) {
    return wrap(`the database file ${location} is corrupt (${message}); restore it from a backup or move it aside`);
  }
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) {
    const waited = busyTimeoutMs === undefined ? '' : ` (still locked after ${busyTimeoutMs} ms)`;
    return wrap(`the database file ${location} is locked by another program${waited}; stop the other program or try again`);
  }
  if (code.startsWith('SQLITE_CANTOPEN')) {
    return wrap(`cannot open the database file ${location}: check that its folder exists and is writable`);
  }
  if (code.startsWith('SQLITE_READONLY')) {
    return wrap(`the database file ${location} is read-only: wharf needs to write to it and to its folder`);
  }
  if (code.startsWith('SQLITE_FULL')) return wrap(`the disk holding ${location} is full`);
  if (code.startsWith('SQLITE_IOERR')) return wrap(`input/output error on the database file ${location} (${message})`);

  // Network.
  const network = NETWORK_CODES[code];
  if (network) return wrap(`cannot reach the database server at ${location}: ${network}`);
  if (/timeout expired|connection terminated|Connection terminated/i.test(message)) {
    return wrap(`cannot reach the database server at ${location}: ${message}`);
  }

  // PostgreSQL.
  if (code === '28P01' || code === '28000') return wrap(`the database server at ${location} refused the login: ${message}`);
  if (code === '3D000') return wrap(`the database server at ${location} has no such database (${message})`);
  if (code === '57P01' || code === '57P03') return wrap(`the database server at ${location} is shutting down or starting up`);
  // MySQL / MariaDB.
  if (code.startsWith('ER_ACCESS_DENIED') || code === 'ER_DBACCESS_DENIED_ERROR') {
    return wrap(`the database server at ${location} refused the login: ${message}`);
  }
  if (code === 'ER_BAD_DB_ERROR') return wrap(`the database server at ${location} has no such database (${message})`);
  if (code === 'ER_LOCK_WAIT_TIMEOUT' || code === 'ER_LOCK_DEADLOCK') return wrap(`the database at ${location} is busy: ${message}`);

  return wrap(`database error (${location}): ${message}`);
}
