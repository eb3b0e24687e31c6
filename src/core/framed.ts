import { CodecError } from '../codec/errors.js';
import type { FrameDecoder } from '../codec/types.js';
import type { Connection, StreamHandler } from './connection.js';

export interface FramedHandlers<F> {
  /** One complete frame (a line, a length-prefixed message, ...). */
  frame(frame: F): void;
  /**
   * The peer broke the framing (a line over the limit, a bad length, a truncated frame at EOF).
   * Write the protocol's own error reply here if it has one; the connection is then ended.
   * Default: the connection is closed and the error counted.
   */
  codecError?(error: CodecError): void;
  /** The peer half-closed after its last complete frame. Default: end our side too. */
  end?(): void;
  close?(error?: Error): void;
  shutdown?(): void;
  timeout?(): void;
}

/**
 * Joins a sans-I/O decoder to a connection: bytes in, frames to `handlers.frame`, and a framing
 * error turned into the protocol's goodbye rather than an exception in the server.
 */
export function framed<F>(connection: Connection, decoder: FrameDecoder<F>, handlers: FramedHandlers<F>): StreamHandler {
  const onFrame = (frame: F) => {
    if (!connection.closed) handlers.frame(frame);
  };
  let failed = false;
  const fail = (error: unknown) => {
    if (!(error instanceof CodecError)) throw error;
    // A spent decoder rethrows the same error on every later call: answer it once.
    if (failed) return;
    failed = true;
    if (handlers.codecError) {
      handlers.codecError(error);
      // Say goodbye, and read nothing more: the decoder is spent and the peer gets no more work
      // out of us. The idle timeout reaps a peer that never closes its side.
      connection.pauseReading();
      connection.end();
    } else {
      connection.destroy(error);
    }
  };
  return {
    data(chunk) {
      if (failed) return;
      try {
        decoder.push(chunk, onFrame);
      } catch (error) {
        fail(error);
      }
    },
    end() {
      if (failed) return;
      try {
        decoder.end(onFrame);
      } catch (error) {
        fail(error);
        return;
      }
      if (handlers.end) handlers.end();
      else connection.end();
    },
    close: handlers.close ? (error) => handlers.close?.(error) : undefined,
    shutdown: handlers.shutdown ? () => handlers.shutdown?.() : undefined,
    timeout: handlers.timeout ? () => handlers.timeout?.() : undefined,
  };
}
