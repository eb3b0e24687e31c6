/**
 * Delimited lines: the framing of the seeds' text protocols ('\n', '\r\n', and the '##' end
 * markers of the seed FTP).
 *
 * The decoder follows tokio-util's LinesCodec: the bytes of an unfinished line are held and never
 * rescanned (a new chunk is searched from its own start, plus a check of the few bytes where a
 * multi-byte delimiter may straddle two chunks), the maximum line length is enforced as soon as
 * it is certain to be exceeded, and an optional "discarding" state skips an over-long line up to
 * the next delimiter instead of failing the connection.
 *
 * Lines are decoded from whole lines of bytes, so a UTF-8 character split across chunks is never
 * broken.
 *
 * `takeRemaining` hands the bytes not yet made into lines to someone else, as Twisted's
 * LineReceiver.clearLineBuffer (with setRawMode) does: a protocol whose stream stops being lines
 * after some line (FTP after `AUTH TLS`: a TLS handshake follows) calls it from that line's
 * callback, and the decoder emits nothing more from the chunk it was pushing.
 */
import { ByteAccumulator } from './byte-accumulator.js';
import { FrameFormatError, FrameTooLargeError, TruncatedFrameError } from './errors.js';
import type { FrameDecoder, FrameEncoder } from './types.js';
import { requireByteLimit } from './validate.js';

const LF = 0x0a;
const CR = 0x0d;

export type LineOutput = 'string' | 'buffer';
/** What a LineDecoder emits: a string (UTF-8) for output 'string', a Buffer for output 'buffer'. */
export type LineFrame<O extends LineOutput> = O extends 'buffer' ? Buffer : string;

export interface LineDecoderOptions<O extends LineOutput = 'string'> {
  /** What ends a line: any non-empty string (UTF-8) or bytes. Default '\n'. */
  delimiter?: string | Uint8Array;
  /**
   * Maximum bytes of a line as emitted: the delimiter and a stripped '\r' do not count.
   * Required. An unterminated line is refused as soon as it can no longer fit, so the decoder
   * never holds much more than this.
   */
  maxLineBytes: number;
  /** 'string' (UTF-8, invalid bytes become U+FFFD) or 'buffer'. Default 'string'. */
  output?: O;
  /** When the delimiter is '\n', also drop a '\r' just before it. Default true. */
  stripCarriageReturn?: boolean;
  /**
   * What to do with a line longer than maxLineBytes: 'error' (default) throws FrameTooLargeError;
   * 'discard' drops it up to and including the next delimiter, reports it through onDiscard, and
   * goes on with the next line.
   */
  onTooLong?: 'error' | 'discard';
  /** Called once per discarded line with the bytes dropped (the delimiter not counted). */
  onDiscard?: (bytes: number) => void;
  /** At end(), emit a last line that has no delimiter instead of throwing TruncatedFrameError. Default false. */
  emitPartialAtEnd?: boolean;
}

function toDelimiter(owner: string, delimiter: string | Uint8Array | undefined): Buffer {
  const bytes = delimiter === undefined ? Buffer.from('\n') : typeof delimiter === 'string' ? Buffer.from(delimiter, 'utf8') : Buffer.from(delimiter);
  if (bytes.length === 0) throw new RangeError(`${owner}: the delimiter must not be empty`);
  return bytes;
}

export class LineDecoder<O extends LineOutput = 'string'> implements FrameDecoder<LineFrame<O>> {
  private readonly delimiter: Buffer;
  /** The delimiter's byte when it is one byte long (searched with memchr), else -1. */
  private readonly delimiterByte: number;
  private readonly maxLineBytes: number;
  /**
   * The most bytes an unterminated line may hold and still turn out short enough: it may end with
   * the first bytes of a delimiter, or with a '\r' that will be stripped.
   */
  private readonly maxHeldBytes: number;
  private readonly asString: boolean;
  private readonly stripCarriageReturn: boolean;
  private readonly discardTooLong: boolean;
  private readonly onDiscard: ((bytes: number) => void) | undefined;
  private readonly emitPartialAtEnd: boolean;

  /**
   * The scanned bytes of the current line (no complete delimiter among them). While discarding,
   * only its last delimiter.length - 1 bytes, in case the delimiter straddles the next chunk.
   */
  private readonly held = new ByteAccumulator();
  private discarding = false;
  /** While discarding: bytes of the over-long line dropped so far, besides those still held. */
  private discardedBytes = 0;
  private ended = false;
  /** While push() runs: the chunk, and where the bytes after the line being emitted start. */
  private pushing: Buffer | undefined;
  private resumeAt = 0;
  /** takeRemaining() was called from a callback of the push in progress: emit nothing more. */
  private handedOver = false;
  private failed = false;
  private failure: unknown;

  constructor(options: LineDecoderOptions<O>) {
    const owner = 'LineDecoder';
    this.delimiter = toDelimiter(owner, options.delimiter);
    this.delimiterByte = this.delimiter.length === 1 ? (this.delimiter[0] ?? -1) : -1;
    this.maxLineBytes = requireByteLimit(owner, 'maxLineBytes', options.maxLineBytes);
    const output = options.output ?? 'string';
    if (output !== 'string' && output !== 'buffer') throw new RangeError(`${owner}: output must be 'string' or 'buffer'`);
    this.asString = output === 'string';
    this.stripCarriageReturn = (options.stripCarriageReturn ?? true) && this.delimiterByte === LF;
    const onTooLong = options.onTooLong ?? 'error';
    if (onTooLong !== 'error' && onTooLong !== 'discard') throw new RangeError(`${owner}: onTooLong must be 'error' or 'discard'`);
    this.discardTooLong = onTooLong === 'discard';
    this.onDiscard = options.onDiscard;
    this.emitPartialAtEnd = options.emitPartialAtEnd ?? false;
    this.maxHeldBytes = this.maxLineBytes + Math.max(this.delimiter.length - 1, this.stripCarriageReturn ? 1 : 0);
  }

  get bufferedBytes(): number {
    return this.held.length;
  }

  push(chunk: Buffer, onFrame: (frame: LineFrame<O>) => void): void {
    this.checkUsable();
    if (this.ended) throw new Error('LineDecoder: push() after end()');
    this.pushing = chunk;
    this.handedOver = false;
    try {
      this.decode(chunk, onFrame as (frame: string | Buffer) => void);
    } catch (error) {
      this.fail(error);
    } finally {
      this.pushing = undefined;
    }
  }

  /**
   * Every byte received and not yet emitted as a line, exactly as received (no '\r' stripped),
   * and the decoder is emptied. Called from a frame callback, that includes the rest of the chunk
   * being pushed, and push() returns without emitting more lines from it. The bytes of an over-long
   * line being discarded are already gone; the decoder stops discarding.
   */
  takeRemaining(): Buffer {
    this.checkUsable();
    const parts: Buffer[] = [];
    if (!this.discarding && this.held.length > 0) parts.push(this.held.copy(this.held.length));
    this.held.clear();
    this.discarding = false;
    this.discardedBytes = 0;
    if (this.pushing) {
      parts.push(this.pushing.subarray(this.resumeAt));
      this.pushing = undefined;
      this.handedOver = true;
    }
    return parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts);
  }

  end(onFrame: (frame: LineFrame<O>) => void): void {
    this.checkUsable();
    if (this.ended) return;
    this.ended = true;
    try {
      this.finish(onFrame as (frame: string | Buffer) => void);
    } catch (error) {
      this.fail(error);
    }
  }

  private decode(chunk: Buffer, onFrame: (frame: string | Buffer) => void): void {
    const delimiterLength = this.delimiter.length;
    let start = 0;
    if (this.held.length > 0 || this.discarding) {
      // The current line began in an earlier chunk: find where it ends.
      const carried = this.delimiterAcrossBoundary(chunk);
      if (carried > 0) {
        start = this.resumeAt = delimiterLength - carried;
        this.completeHeldLine(chunk, this.held.length - carried, 0, onFrame);
      } else {
        const index = this.indexOfDelimiter(chunk, 0);
        if (index < 0) {
          this.hold(chunk, 0);
          return;
        }
        start = this.resumeAt = index + delimiterLength;
        this.completeHeldLine(chunk, this.held.length, index, onFrame);
      }
      if (this.handedOver) return;
    }
    // Hot path: lines that lie wholly inside this chunk are emitted straight from it.
    while (start < chunk.length) {
      const index = this.indexOfDelimiter(chunk, start);
      if (index < 0) break;
      const lineStart = start;
      start = this.resumeAt = index + delimiterLength;
      this.emitFromChunk(chunk, lineStart, index, onFrame);
      if (this.handedOver) return;
    }
    if (start < chunk.length) this.hold(chunk, start);
  }

  private indexOfDelimiter(chunk: Buffer, from: number): number {
    return this.delimiterByte >= 0 ? chunk.indexOf(this.delimiterByte, from) : chunk.indexOf(this.delimiter, from);
  }

  /**
   * How many bytes of a delimiter that continues at the start of `chunk` end the held bytes
   * (0 if none). The longest such overlap is the earliest delimiter, as a search of the joined
   * bytes would find; held bytes contain no whole delimiter, so none can start earlier.
   */
  private delimiterAcrossBoundary(chunk: Buffer): number {
    const delimiter = this.delimiter;
    const length = delimiter.length;
    const held = this.held.length;
    for (let carried = Math.min(length - 1, held); carried >= 1; carried--) {
      const rest = length - carried;
      if (chunk.length < rest) continue; // cannot complete here; looked at again after the next chunk
      let matches = true;
      for (let i = 0; i < carried && matches; i++) matches = this.held.byteAt(held - carried + i) === delimiter[i];
      for (let i = 0; i < rest && matches; i++) matches = chunk[i] === delimiter[carried + i];
      if (matches) return carried;
    }
    return 0;
  }

  /**
   * The current line ends: its bytes are held[0, fromHeld) followed by chunk[0, fromChunk).
   */
  private completeHeldLine(chunk: Buffer, fromHeld: number, fromChunk: number, onFrame: (frame: string | Buffer) => void): void {
    if (this.discarding) {
      const dropped = this.discardedBytes + fromHeld + fromChunk;
      this.discarding = false;
      this.discardedBytes = 0;
      this.held.clear();
      this.onDiscard?.(dropped);
      return;
    }
    const rawLength = fromHeld + fromChunk;
    let length = rawLength;
    if (this.stripCarriageReturn && length > 0) {
      const last = fromChunk > 0 ? chunk[fromChunk - 1] : this.held.byteAt(fromHeld - 1);
      if (last === CR) length--;
    }
    if (length > this.maxLineBytes) {
      this.held.clear();
      this.tooLong(length, rawLength);
      return;
    }
    // Copy the chunk's part after the held part so the line is contiguous; bounded by the limit.
    if (length > fromHeld) this.held.append(chunk, 0, length - fromHeld);
    const frame = this.asString ? this.held.utf8(length) : this.held.copy(length);
    this.held.clear();
    onFrame(frame);
  }

  private emitFromChunk(chunk: Buffer, start: number, end: number, onFrame: (frame: string | Buffer) => void): void {
    let contentEnd = end;
    if (this.stripCarriageReturn && contentEnd > start && chunk[contentEnd - 1] === CR) contentEnd--;
    const length = contentEnd - start;
    if (length > this.maxLineBytes) {
      this.tooLong(length, end - start);
      return;
    }
    // A view, not a copy: the decoder never writes into pushed chunks.
    onFrame(this.asString ? chunk.toString('utf8', start, contentEnd) : chunk.subarray(start, contentEnd));
  }

  /** chunk[from..] has no delimiter: hold it, or start (or go on) discarding if it cannot fit. */
  private hold(chunk: Buffer, from: number): void {
    if (!this.discarding) {
      if (this.held.length + chunk.length - from <= this.maxHeldBytes) {
        this.held.append(chunk, from);
        return;
      }
      if (!this.discardTooLong) {
        throw new FrameTooLargeError(`A line is longer than the limit of ${this.maxLineBytes} bytes.`, this.maxLineBytes);
      }
      this.discarding = true;
      this.discardedBytes = 0;
    }
    // Drop the bytes, but keep the last delimiter.length - 1 in case the delimiter straddles chunks.
    const keep = this.delimiter.length - 1;
    const tail = chunk.length - from;
    if (tail >= keep) {
      this.discardedBytes += this.held.length + tail - keep;
      this.held.clear();
      this.held.append(chunk, chunk.length - keep);
    } else {
      const keepHeld = Math.min(keep - tail, this.held.length);
      this.discardedBytes += this.held.length - keepHeld;
      this.held.keepLast(keepHeld);
      this.held.append(chunk, from);
    }
  }

  private tooLong(length: number, rawLength: number): void {
    if (!this.discardTooLong) {
      throw new FrameTooLargeError(`A line of ${length} bytes is longer than the limit of ${this.maxLineBytes} bytes.`, this.maxLineBytes, length);
    }
    this.onDiscard?.(rawLength);
  }

  private finish(onFrame: (frame: string | Buffer) => void): void {
    if (this.discarding) {
      // The over-long line ran to EOF: it is dropped like any other.
      const dropped = this.discardedBytes + this.held.length;
      this.discarding = false;
      this.discardedBytes = 0;
      this.held.clear();
      this.onDiscard?.(dropped);
      return;
    }
    const rawLength = this.held.length;
    if (rawLength === 0) return;
    if (!this.emitPartialAtEnd) {
      throw new TruncatedFrameError(`The stream ended inside a line (${rawLength} bytes without a delimiter).`, rawLength);
    }
    let length = rawLength;
    if (this.stripCarriageReturn && this.held.byteAt(length - 1) === CR) length--;
    if (length > this.maxLineBytes) {
      this.held.clear();
      this.tooLong(length, rawLength);
      return;
    }
    const frame = this.asString ? this.held.utf8(length) : this.held.copy(length);
    this.held.clear();
    onFrame(frame);
  }

  private checkUsable(): void {
    if (this.failed) throw this.failure;
  }

  private fail(error: unknown): never {
    this.failed = true;
    this.failure = error;
    throw error;
  }
}

export interface LineEncoderOptions {
  /** What ends a line; default '\n'. */
  delimiter?: string | Uint8Array;
  /** Optional maximum bytes of a line (the delimiter not counted). */
  maxLineBytes?: number;
}

/**
 * Appends the delimiter. A line that would not come back as one line (it contains the delimiter,
 * or ends with the delimiter's first bytes, e.g. 'a#' with '##') is refused with FrameFormatError:
 * quietly sending it would let a peer's text inject extra lines.
 */
export class LineEncoder implements FrameEncoder<string | Uint8Array> {
  private readonly delimiter: Buffer;
  private readonly maxLineBytes: number;

  constructor(options: LineEncoderOptions = {}) {
    this.delimiter = toDelimiter('LineEncoder', options.delimiter);
    this.maxLineBytes = options.maxLineBytes === undefined ? Number.MAX_SAFE_INTEGER : requireByteLimit('LineEncoder', 'maxLineBytes', options.maxLineBytes);
  }

  encode(line: string | Uint8Array): Buffer {
    const length = typeof line === 'string' ? Buffer.byteLength(line, 'utf8') : line.length;
    if (length > this.maxLineBytes) {
      throw new FrameTooLargeError(`A line of ${length} bytes is longer than the limit of ${this.maxLineBytes} bytes.`, this.maxLineBytes, length);
    }
    const out = Buffer.allocUnsafe(length + this.delimiter.length);
    if (typeof line === 'string') out.write(line, 0, 'utf8');
    else out.set(line, 0);
    this.delimiter.copy(out, length);
    // The first delimiter must be the one appended, or the receiver would split the line.
    if (out.indexOf(this.delimiter) !== length) {
      throw new FrameFormatError('A line cannot contain its delimiter (or end with the start of it).');
    }
    return out;
  }
}

/**
 * Decodes raw, unframed UTF-8 text chunk by chunk without breaking a character split across
 * chunks (a split character is held until its last byte arrives). Invalid bytes become U+FFFD; a
 * byte order mark is kept, so the text is exactly what was sent.
 */
export class Utf8StreamDecoder {
  private readonly decoder = new TextDecoder('utf-8', { ignoreBOM: true });

  write(chunk: Uint8Array): string {
    return this.decoder.decode(chunk, { stream: true });
  }

  /** Flushes: an incomplete character left at the end becomes U+FFFD. The decoder can then be reused. */
  end(): string {
    return this.decoder.decode();
  }
}
