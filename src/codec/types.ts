/**
 * The shape every framer shares. Decoders are sans-I/O: they never touch a socket, they only turn
 * bytes into frames, so they can be tested (and fuzzed) byte by byte.
 *
 * Frames are delivered through a callback rather than returned in an array: on the hot path (an
 * echo server pushing small chunks) that saves one allocation per chunk, and a chunk that carries
 * many frames costs nothing extra.
 */
export interface FrameDecoder<F> {
  /**
   * Feed bytes; calls onFrame for every complete frame, in order. Throws a CodecError subclass on
   * bad input; after a throw the decoder is unusable (the connection should be closed): every
   * later call throws the same error again.
   *
   * The decoder never writes into a pushed chunk, and frames may be views of it, so the caller
   * must not modify a Buffer after pushing it (Node's sockets hand out a fresh Buffer per read).
   */
  push(chunk: Buffer, onFrame: (frame: F) => void): void;
  /**
   * The peer finished sending (EOF). Flushes what a format allows (e.g. a last line without
   * delimiter if `emitPartialAtEnd`), else throws TruncatedFrameError if bytes of an incomplete
   * frame remain. Calling end() again does nothing; push() after end() is a programming error.
   */
  end(onFrame: (frame: F) => void): void;
  /** Bytes held waiting for the rest of a frame. */
  readonly bufferedBytes: number;
}

export interface FrameEncoder<F> {
  encode(frame: F): Buffer;
}

/** Byte order of a binary length field. */
export type ByteOrder = 'big' | 'little';
