/**
 * Every code a WharfError may carry, with the sentence that says what it means. One catalogue, so
 * a code is a compile-time choice (an unknown one is a type error) and a reader finds them all
 * here. The codes look like errno names but none is one: `isErrnoException` tells the two apart,
 * and an operating-system error becomes a wharf code through `codeForErrno`.
 */
export const ERROR_CODES = {
  // Usage and configuration.
  EUSAGE: 'a command line or a configuration the program cannot use',
  EBADVALUE: 'a value (an argument, a name, a password, a size) is not acceptable',
  EINTERRUPTED: 'the person at the terminal interrupted (Ctrl-C)',
  // The local machine and its files.
  EDATA: 'the data folder cannot be created or used',
  EROOT: 'a served folder (a web root, a file root) does not exist or is not a folder',
  EMISSING: 'a file, an entry or a socket that was named does not exist',
  ENOTFILE: 'a path that should be a regular file is something else',
  EFORMAT: 'a file is not in the format expected (gzip, dictzip, dictd, a config file)',
  EOUTOFRANGE: 'a read asked for bytes past the end of a file',
  ECHANGED: 'a file changed while it was being sent',
  ERESUME: 'a partial file cannot be resumed (the bytes already there differ)',
  EDENIED: 'the operating system refused access (a file, or a port below 1024)',
  ESYSTEM: 'the operating system reported an error wharf has no better word for',
  // Listening.
  EPORTINUSE: 'the port is in use by another program',
  ENOTLOCAL: 'the address to listen on is not on this machine',
  ELISTEN: 'listening failed for another reason',
  EBIND: 'binding a UDP socket failed for another reason',
  ENOPORT: 'every port of a range (FTP passive ports) is in use',
  EINUSE: 'another wharf server is running on the same data folder',
  ECLUSTER: 'the service cannot run in several worker processes',
  ENOTSTARTED: 'the server was asked for something before it was started',
  ECONSOLE: 'a console command is wrongly declared, or a console command failed',
  // Reaching a server.
  ENOHOST: 'a host name cannot be resolved',
  ENOLISTENER: 'nothing listens at the address (connection refused, ICMP port unreachable)',
  ECONNECT: 'a connection could not be made for another reason',
  ENOSERVER: 'no server answered',
  ENETWORK: 'a datagram could not be sent',
  EDEADLINE: 'no connection or no answer within the time allowed',
  EIDLE: 'the connection was idle for too long',
  ECLOSED: 'the connection or the client is closed',
  EABORTED: 'the operation was cancelled before it finished',
  EWRITEQUEUE: 'the peer does not read what is sent to it',
  ETLS: 'TLS failed (a handshake, a certificate, a key)',
  EPROTOCOL: 'the peer sent something the protocol does not allow',
  ESERVER: 'the server refused the request in its own words',
  EINTERNAL: 'the server failed (a bug on its side)',
  EOVERLOAD: 'too much work is waiting; try again later',
  EFAILED: 'a batch finished with failures',
  // Accounts and permissions.
  ESTORE: 'the account database is not available or failed',
  EREDIS: 'the Redis server the chat room shares between nodes is not available or refused a command',
  ENODATABASE: 'there is no wharf database yet',
  ENOUSER: 'there is no account with that name',
  ETAKEN: 'the name (an account, a file) is taken',
  EAUTH: 'a login is needed, or the session has expired',
  ELOGIN: 'a login was refused (a wrong name or password)',
  EFORBIDDEN: 'the account may not do this',
  ETHROTTLED: 'too many attempts from one address; try again later',
  EQUOTA: 'the account has used its storage allowance',
  ENAME: 'a name is refused (taken, reserved or not allowed)',
  ENOTJOINED: 'the request needs a login or a joined room first',
  // Per protocol.
  EFTP: 'the FTP server answered an error reply',
  ETFTP: 'a TFTP transfer failed',
  EDICT: 'the DICT server answered an error',
  ENODB: 'the DICT server has no such database',
  ENOSTRAT: 'the DICT server has no such matching strategy',
  EEMPTY: 'an empty diary entry is not stored',
  ETOOLONG: 'a diary entry is longer than the server allows',
  EENCODING: 'a text is not valid UTF-8',
} as const satisfies Record<string, string>;

/** A code from the catalogue above; any other string is a compile error. */
export type WharfErrorCode = keyof typeof ERROR_CODES;

export function isWharfErrorCode(code: unknown): code is WharfErrorCode {
  return typeof code === 'string' && Object.hasOwn(ERROR_CODES, code);
}

/**
 * Expected failures carry a stable `code` and a sentence a user understands. Anything that is
 * not a WharfError is a bug and is logged with its stack; a WharfError is logged as one line.
 */
export class WharfError extends Error {
  readonly code: WharfErrorCode;
  constructor(code: WharfErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'WharfError';
    this.code = code;
  }
}

/** A configuration or usage problem: the CLI exits with status 2 for these. */
export class UsageError extends WharfError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('EUSAGE', message, options);
    this.name = 'UsageError';
  }
}

/**
 * An error from the operating system or Node (`ENOENT`, `ECONNRESET`, `ERR_STREAM_DESTROYED`):
 * a string `code` on an Error that is not a WharfError, whose codes only look like these.
 */
export function isErrnoException(error: unknown): error is NodeJS.ErrnoException {
  return error instanceof Error && !(error instanceof WharfError) && typeof (error as NodeJS.ErrnoException).code === 'string';
}

const ERRNO_CODES: Readonly<Record<string, WharfErrorCode>> = {
  ENOENT: 'EMISSING',
  ENOTDIR: 'EMISSING',
  EACCES: 'EDENIED',
  EPERM: 'EDENIED',
  EEXIST: 'ETAKEN',
  EADDRINUSE: 'EPORTINUSE',
  EADDRNOTAVAIL: 'ENOTLOCAL',
  ECONNREFUSED: 'ENOLISTENER',
  ENOTFOUND: 'ENOHOST',
  EAI_AGAIN: 'ENOHOST',
  ETIMEDOUT: 'EDEADLINE',
};

/** The wharf code for an operating-system error code (`ENOENT` is `EMISSING`); `fallback` for the rest. */
export function codeForErrno(errno: string | undefined, fallback: WharfErrorCode = 'ESYSTEM'): WharfErrorCode {
  return (errno === undefined ? undefined : ERRNO_CODES[errno]) ?? fallback;
}

/** Socket errors that mean "the peer went away" and are not worth a stack trace. */
const PEER_GONE_CODES = new Set(['ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ECONNABORTED', 'EHOSTUNREACH', 'ENETUNREACH', 'ERR_STREAM_DESTROYED', 'ERR_STREAM_WRITE_AFTER_END']);

export function isPeerGone(error: unknown): boolean {
  return isErrnoException(error) && PEER_GONE_CODES.has(error.code ?? '');
}
