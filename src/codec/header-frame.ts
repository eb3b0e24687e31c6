/**
 * The file-transfer frame of seed 001:
 *
 *   [4-byte signed length n][n bytes of UTF-8 JSON: an object][body: header[sizeField] bytes]
 *
 * The seed writes the length with Python's struct.pack("i"): signed 32-bit in native order, which
 * is little-endian on the machines it ran on, hence the default byteOrder 'little'.
 *
 * A body may be a whole file, so it is streamed, never held: the decoder emits a 'header' event,
 * then 'body' events as bytes arrive (each a zero-copy view of a pushed chunk, cut exactly at the
 * body's end), then 'end'; the next frame may follow in the same chunk. Only the length prefix and
 * the header are ever buffered, so bufferedBytes stays below 4 + maxHeaderBytes.
 */
import { ByteAccumulator } from './byte-accumulator.js';
import { FrameFormatError, FrameTooLargeError, TruncatedFrameError } from './errors.js';
import type { ByteOrder, FrameDecoder } from './types.js';
import { requireByteLimit, requireByteOrder } from './validate.js';

const PREFIX_BYTES = 4;
const INT32_MAX = 0x7fffffff;
const DEFAULT_SIZE_FIELD = 'filesize';

export interface HeaderFrameHeaderEvent {
  type: 'header';
  header: Record<string, unknown>;
  /** Length of the body that follows, from header[sizeField] (0 when the field is absent). */
  bodyBytes: number;
}
export interface HeaderFrameBodyEvent {
  type: 'body';
  /** The next bytes of the body: a view of a pushed chunk, never empty. */
  chunk: Buffer;
}
export interface HeaderFrameEndEvent {
  type: 'end';
}
export type HeaderFrameEvent = HeaderFrameHeaderEvent | HeaderFrameBodyEvent | HeaderFrameEndEvent;

export interface HeaderFrameOptions {
  /** Byte order of the 4-byte length prefix. Default 'little' (the seed's x86 struct.pack("i")). */
  byteOrder?: ByteOrder;
  /** The header field that gives the body length. Default 'filesize'. */
  sizeField?: string;
}

export interface HeaderFrameDecoderOptions extends HeaderFrameOptions {
  /** Maximum bytes of the JSON header. Required. */
  maxHeaderBytes: number;
  /** Maximum body length, checked as soon as the header is read. Required. */
  maxBodyBytes: number;
}

export interface HeaderFrameEncodeOptions extends HeaderFrameOptions {
  /** Refuse a header longer than this (FrameTooLargeError). Default: what the prefix can express. */
  maxHeaderBytes?: number;
}

/** One immutable 'end' event for every frame: nothing per frame to allocate. */
const END_EVENT: HeaderFrameEndEvent = Object.freeze({ type: 'end' as const });
/** fatal: a header that is not UTF-8 is refused, as Python's bytes.decode("utf-8") would. */
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** What the next bytes are: the length prefix, the JSON header, or the body. */
type State = 'prefix' | 'header' | 'body';

export class HeaderFrameDecoder implements FrameDecoder<HeaderFrameEvent> {
  private readonly bigEndian: boolean;
  private readonly sizeField: string;
  private readonly maxHeaderBytes: number;
  private readonly maxBodyBytes: number;

  private state: State = 'prefix';
  /** A length prefix split across chunks is gathered here. */
  private readonly prefix = Buffer.alloc(PREFIX_BYTES);
  private prefixHeld = 0;
  private headerLength = 0;
  /** A header split across chunks is gathered here (bounded by maxHeaderBytes). */
  private readonly header = new ByteAccumulator();
  private bodyRemaining = 0;
  private ended = false;
  private failed = false;
  private failure: unknown;

  constructor(options: HeaderFrameDecoderOptions) {
    const owner = 'HeaderFrameDecoder';
    this.bigEndian = requireByteOrder(owner, options.byteOrder, 'little') === 'big';
    this.sizeField = options.sizeField ?? DEFAULT_SIZE_FIELD;
    this.maxHeaderBytes = requireByteLimit(owner, 'maxHeaderBytes', options.maxHeaderBytes);
    this.maxBodyBytes = requireByteLimit(owner, 'maxBodyBytes', options.maxBodyBytes);
  }

  /** Bytes of a length prefix or header held; body bytes are never held. */
  get bufferedBytes(): number {
    return this.prefixHeld + this.header.length;
  }

  push(chunk: Buffer, onEvent: (event: HeaderFrameEvent) => void): void {
    if (this.failed) throw this.failure;
    if (this.ended) throw new Error('HeaderFrameDecoder: push() after end()');
    try {
      this.decode(chunk, onEvent);
    } catch (error) {
      this.failed = true;
      this.failure = error;
      throw error;
    }
  }

  end(_onEvent: (event: HeaderFrameEvent) => void): void {
    if (this.failed) throw this.failure;
    if (this.ended) return;
    this.ended = true;
    let message: string | undefined;
    if (this.state === 'body') message = `The stream ended ${this.bodyRemaining} bytes before the end of a body.`;
    else if (this.state === 'header') message = `The stream ended inside a frame header (${this.header.length} of ${this.headerLength} bytes).`;
    else if (this.prefixHeld > 0) message = `The stream ended inside a frame's length prefix (${this.prefixHeld} of ${PREFIX_BYTES} bytes).`;
    if (message !== undefined) {
      this.failed = true;
      this.failure = new TruncatedFrameError(message, this.bufferedBytes);
      throw this.failure;
    }
  }

  private decode(chunk: Buffer, onEvent: (event: HeaderFrameEvent) => void): void {
    const size = chunk.length;
    let position = 0;
    while (position < size) {
      if (this.state === 'prefix') {
        let length: number;
        if (this.prefixHeld === 0 && size - position >= PREFIX_BYTES) {
          length = this.readPrefix(chunk, position);
          position += PREFIX_BYTES;
        } else {
          const take = Math.min(PREFIX_BYTES - this.prefixHeld, size - position);
          chunk.copy(this.prefix, this.prefixHeld, position, position + take);
          this.prefixHeld += take;
          position += take;
          if (this.prefixHeld < PREFIX_BYTES) return;
          this.prefixHeld = 0;
          length = this.readPrefix(this.prefix, 0);
        }
        // Checked before a byte of the header is held.
        if (length < 0) throw new FrameFormatError(`A frame header has a negative length (${length}).`);
        if (length > this.maxHeaderBytes) {
          throw new FrameTooLargeError(`A frame header of ${length} bytes is more than the limit of ${this.maxHeaderBytes} bytes.`, this.maxHeaderBytes, length);
        }
        // Not waiting for more bytes here: an empty header is wrong now, not at the next chunk.
        if (length === 0) throw new FrameFormatError('A frame header is empty; it must be a JSON object.');
        this.headerLength = length;
        this.state = 'header';
      } else if (this.state === 'header') {
        let header: Record<string, unknown>;
        const missing = this.headerLength - this.header.length;
        if (this.header.length === 0 && size - position >= missing) {
          header = parseHeader(chunk.subarray(position, position + missing));
          position += missing;
        } else {
          const take = Math.min(missing, size - position);
          this.header.append(chunk, position, position + take);
          position += take;
          if (take < missing) return;
          header = parseHeader(this.header.view());
          this.header.clear();
        }
        const bodyBytes = this.bodyLengthOf(header);
        this.bodyRemaining = bodyBytes;
        this.state = bodyBytes === 0 ? 'prefix' : 'body';
        onEvent({ type: 'header', header, bodyBytes });
        if (bodyBytes === 0) onEvent(END_EVENT);
      } else {
        const take = Math.min(this.bodyRemaining, size - position);
        const part = take === size ? chunk : chunk.subarray(position, position + take);
        position += take;
        this.bodyRemaining -= take;
        const done = this.bodyRemaining === 0;
        if (done) this.state = 'prefix';
        onEvent({ type: 'body', chunk: part });
        if (done) onEvent(END_EVENT);
      }
    }
  }

  private readPrefix(buffer: Buffer, offset: number): number {
    return this.bigEndian ? buffer.readInt32BE(offset) : buffer.readInt32LE(offset);
  }

  private bodyLengthOf(header: Record<string, unknown>): number {
    if (!Object.hasOwn(header, this.sizeField)) return 0;
    const value = header[this.sizeField];
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
      throw new FrameFormatError(`The header field "${this.sizeField}" must be a non-negative integer, got ${describe(value)}.`);
    }
    if (value > this.maxBodyBytes) {
      throw new FrameTooLargeError(`A body of ${value} bytes is more than the limit of ${this.maxBodyBytes} bytes.`, this.maxBodyBytes, value);
    }
    return value;
  }
}

function parseHeader(bytes: Uint8Array): Record<string, unknown> {
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch (error) {
    throw new FrameFormatError('A frame header is not valid UTF-8.', { cause: error });
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new FrameFormatError('A frame header is not valid JSON.', { cause: error });
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new FrameFormatError('A frame header must be a JSON object.');
  }
  return value as Record<string, unknown>;
}

function describe(value: unknown): string {
  const text = typeof value === 'string' ? JSON.stringify(value) : String(value);
  return text.length > 40 ? `${text.slice(0, 40)}…` : text;
}

/**
 * The length prefix and JSON header of a frame whose body of bodyLength bytes the caller sends
 * next (streamed, so a file need not be read into memory). header[sizeField] is set to bodyLength.
 */
export function encodeHeaderFrame(header: Record<string, unknown>, bodyLength: number, options: HeaderFrameEncodeOptions = {}): Buffer {
  const owner = 'encodeHeaderFrame';
  if (!Number.isSafeInteger(bodyLength) || bodyLength < 0) throw new RangeError(`${owner}: bodyLength must be a non-negative integer, got ${bodyLength}`);
  const bigEndian = requireByteOrder(owner, options.byteOrder, 'little') === 'big';
  const limit = options.maxHeaderBytes === undefined ? INT32_MAX : Math.min(INT32_MAX, requireByteLimit(owner, 'maxHeaderBytes', options.maxHeaderBytes));
  const json = JSON.stringify({ ...header, [options.sizeField ?? DEFAULT_SIZE_FIELD]: bodyLength });
  const length = Buffer.byteLength(json, 'utf8');
  if (length > limit) {
    throw new FrameTooLargeError(`A frame header of ${length} bytes is more than the limit of ${limit} bytes.`, limit, length);
  }
  const out = Buffer.allocUnsafe(PREFIX_BYTES + length);
  if (bigEndian) out.writeInt32BE(length, 0);
  else out.writeInt32LE(length, 0);
  out.write(json, PREFIX_BYTES, 'utf8');
  return out;
}
