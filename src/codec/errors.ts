/**
 * Errors of the framers. A decoder throws only these for bad input, so a connection handler can
 * tell "the peer sent garbage" (close the connection, log one line) from a bug (anything else).
 *
 * codec sits below core, so these extend Error directly rather than core's WharfError; they carry
 * the same shape (`code` plus a sentence a user understands).
 */
export class CodecError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'CodecError';
    this.code = code;
  }
}

/** A frame (line, body, header) is larger than the configured maximum. */
export class FrameTooLargeError extends CodecError {
  /** The configured maximum, in bytes. */
  readonly limit: number;
  /**
   * The frame's size in bytes when it is known (a length field was read, or a line's end was
   * seen); undefined when the decoder refused an unterminated line before seeing its end.
   */
  readonly size: number | undefined;
  constructor(message: string, limit: number, size?: number) {
    super('EFRAMETOOLARGE', message);
    this.name = 'FrameTooLargeError';
    this.limit = limit;
    this.size = size;
  }
}

/** The stream ended (EOF) in the middle of a frame. */
export class TruncatedFrameError extends CodecError {
  /** Bytes of the incomplete frame that were still held when the stream ended. */
  readonly bufferedBytes: number;
  constructor(message: string, bufferedBytes: number) {
    super('ETRUNCATED', message);
    this.name = 'TruncatedFrameError';
    this.bufferedBytes = bufferedBytes;
  }
}

/** The bytes cannot be a frame of this format: invalid JSON header, negative length, and so on. */
export class FrameFormatError extends CodecError {
  constructor(message: string, options?: ErrorOptions) {
    super('EFRAMEFORMAT', message, options);
    this.name = 'FrameFormatError';
  }
}
