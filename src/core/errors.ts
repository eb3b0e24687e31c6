/**
 * Expected failures carry a stable `code` and a sentence a user understands. Anything that is
 * not a WharfError is a bug and is logged with its stack; a WharfError is logged as one line.
 */
export class WharfError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
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

export function isErrnoException(error: unknown): error is NodeJS.ErrnoException {
  return error instanceof Error && typeof (error as NodeJS.ErrnoException).code === 'string';
}

/** Socket errors that mean "the peer went away" and are not worth a stack trace. */
const PEER_GONE_CODES = new Set(['ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ECONNABORTED', 'EHOSTUNREACH', 'ENETUNREACH', 'ERR_STREAM_DESTROYED', 'ERR_STREAM_WRITE_AFTER_END']);

export function isPeerGone(error: unknown): boolean {
  return isErrnoException(error) && PEER_GONE_CODES.has(error.code ?? '');
}
