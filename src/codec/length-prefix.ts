/**
 * Length-prefixed frames, after Netty's LengthFieldBasedFrameDecoder: a binary length field at the
 * start of every frame, then the body.
 *
 *   body length = value of the length field + lengthAdjustment
 *
 * so one option covers the common variants:
 *   - the field counts the body only (the usual case): lengthAdjustment 0;
 *   - the field counts itself too (header + body): lengthAdjustment = -lengthBytes.
 * The field is read unsigned; a negative body length is a FrameFormatError.
 *
 * maxFrameBytes bounds the body and is checked the moment the length field is read, so a peer
 * that announces a huge frame is refused before any of its body is held. Memory held for a frame
 * grows with the bytes actually received, not with the length announced.
 *
 * Frames are Buffers. A frame that lies wholly inside one pushed chunk is a zero-copy view of that
 * chunk; a frame that spans chunks is a freshly allocated Buffer. Either way it stays valid after
 * later pushes, because the decoder never writes into a pushed chunk (the caller must not either).
 */
import { FrameFormatError, FrameTooLargeError, TruncatedFrameError } from './errors.js';
import type { ByteOrder, FrameDecoder, FrameEncoder } from './types.js';
import { requireByteLimit, requireByteOrder } from './validate.js';

const MAX_SAFE_BIG = BigInt(Number.MAX_SAFE_INTEGER);

export type LengthFieldBytes = 1 | 2 | 4 | 8;

export interface LengthPrefixOptions {
  /** Width of the length field in bytes. */
  lengthBytes: LengthFieldBytes;
  /** Default 'big' (network order). */
  byteOrder?: ByteOrder;
  /** Added to the field's value to get the body length; -lengthBytes when the field counts itself. Default 0. */
  lengthAdjustment?: number;
  /** Maximum body length in bytes (the length field not counted). Required. */
  maxFrameBytes: number;
}

export interface LengthPrefixDecoderOptions extends LengthPrefixOptions {
  /** Emit the body only (true, default) or the length field followed by the body (false). */
  stripHeader?: boolean;
}

/** Validated options, shared by the decoder and the encoder. */
class LengthField {
  readonly bytes: LengthFieldBytes;
  readonly bigEndian: boolean;
  readonly adjustment: number;
  readonly maxBodyBytes: number;
  private readonly adjustmentBig: bigint;
  private readonly maxBodyBytesBig: bigint;

  constructor(owner: string, options: LengthPrefixOptions) {
    const bytes = options.lengthBytes as unknown;
    if (bytes !== 1 && bytes !== 2 && bytes !== 4 && bytes !== 8) throw new RangeError(`${owner}: lengthBytes must be 1, 2, 4 or 8, got ${String(bytes)}`);
    this.bytes = bytes;
    this.bigEndian = requireByteOrder(owner, options.byteOrder, 'big') === 'big';
    const adjustment = options.lengthAdjustment ?? 0;
    if (!Number.isSafeInteger(adjustment)) throw new RangeError(`${owner}: lengthAdjustment must be an integer, got ${String(adjustment)}`);
    this.adjustment = adjustment;
    this.maxBodyBytes = requireByteLimit(owner, 'maxFrameBytes', options.maxFrameBytes);
    this.adjustmentBig = BigInt(adjustment);
    this.maxBodyBytesBig = BigInt(this.maxBodyBytes);
  }

  /** Reads the field at offset and returns the body length; throws on a bad or too large length. */
  bodyLengthAt(buffer: Buffer, offset: number): number {
    let value: number;
    switch (this.bytes) {
      case 1:
        value = buffer.readUInt8(offset);
        break;
      case 2:
        value = this.bigEndian ? buffer.readUInt16BE(offset) : buffer.readUInt16LE(offset);
        break;
      case 4:
        value = this.bigEndian ? buffer.readUInt32BE(offset) : buffer.readUInt32LE(offset);
        break;
      case 8: {
        // Exact bigint arithmetic: a value past 2^53 would lose precision as a number.
        const big = (this.bigEndian ? buffer.readBigUInt64BE(offset) : buffer.readBigUInt64LE(offset)) + this.adjustmentBig;
        if (big > this.maxBodyBytesBig) {
          const size = big <= MAX_SAFE_BIG ? Number(big) : undefined;
          throw new FrameTooLargeError(`A frame announces ${big} bytes, more than the limit of ${this.maxBodyBytes} bytes.`, this.maxBodyBytes, size);
        }
        if (big < 0n) throw new FrameFormatError(`A length field gives a negative body length (${big}).`);
        return Number(big);
      }
    }
    const length = value + this.adjustment;
    if (length < 0) {
      throw new FrameFormatError(`A length field of ${value} gives a negative body length (adjustment ${this.adjustment}).`);
    }
    if (length > this.maxBodyBytes) {
      throw new FrameTooLargeError(`A frame announces ${length} bytes, more than the limit of ${this.maxBodyBytes} bytes.`, this.maxBodyBytes, length);
    }
    return length;
  }

  /** Writes the field for a body of `length` bytes at offset; throws if it cannot be encoded. */
  writeBodyLength(buffer: Buffer, offset: number, length: number): void {
    if (length > this.maxBodyBytes) {
      throw new FrameTooLargeError(`A frame of ${length} bytes is more than the limit of ${this.maxBodyBytes} bytes.`, this.maxBodyBytes, length);
    }
    const value = length - this.adjustment;
    if (value < 0) {
      throw new FrameFormatError(`A body of ${length} bytes cannot be encoded with a length adjustment of ${this.adjustment}.`);
    }
    if (this.bytes !== 8 && value >= 2 ** (8 * this.bytes)) {
      const limit = 2 ** (8 * this.bytes) - 1 + this.adjustment;
      throw new FrameTooLargeError(`A frame of ${length} bytes does not fit a ${this.bytes}-byte length field (at most ${limit} bytes).`, limit, length);
    }
    switch (this.bytes) {
      case 1:
        buffer.writeUInt8(value, offset);
        break;
      case 2:
        if (this.bigEndian) buffer.writeUInt16BE(value, offset);
        else buffer.writeUInt16LE(value, offset);
        break;
      case 4:
        if (this.bigEndian) buffer.writeUInt32BE(value, offset);
        else buffer.writeUInt32LE(value, offset);
        break;
      case 8: {
        const exact = BigInt(length) - this.adjustmentBig; // value may be past 2^53 with a large adjustment
        if (this.bigEndian) buffer.writeBigUInt64BE(exact, offset);
        else buffer.writeBigUInt64LE(exact, offset);
        break;
      }
    }
  }
}

export class LengthPrefixDecoder implements FrameDecoder<Buffer> {
  private readonly field: LengthField;
  private readonly stripHeader: boolean;
  /** A length field split across chunks is gathered here. */
  private readonly header: Buffer;
  private headerHeld = 0;
  /** Body length of the frame being gathered, or -1 while reading its length field. */
  private bodyLength = -1;
  /**
   * Parts of a frame that spans chunks: views of the pushed chunks, joined once when the frame
   * is complete (one copy per frame, none per chunk).
   */
  private readonly parts: Buffer[] = [];
  private partsBytes = 0;
  private ended = false;
  private failed = false;
  private failure: unknown;

  constructor(options: LengthPrefixDecoderOptions) {
    this.field = new LengthField('LengthPrefixDecoder', options);
    this.stripHeader = options.stripHeader ?? true;
    this.header = Buffer.alloc(this.field.bytes);
  }

  get bufferedBytes(): number {
    return this.headerHeld + this.partsBytes;
  }

  push(chunk: Buffer, onFrame: (frame: Buffer) => void): void {
    if (this.failed) throw this.failure;
    if (this.ended) throw new Error('LengthPrefixDecoder: push() after end()');
    try {
      this.decode(chunk, onFrame);
    } catch (error) {
      this.failed = true;
      this.failure = error;
      throw error;
    }
  }

  end(_onFrame: (frame: Buffer) => void): void {
    if (this.failed) throw this.failure;
    if (this.ended) return;
    this.ended = true;
    if (this.headerHeld > 0 || this.bodyLength >= 0) {
      this.failed = true;
      this.failure = new TruncatedFrameError(
        this.bodyLength >= 0
          ? `The stream ended inside a frame: ${this.partsBytes - this.headerBytesKept()} of ${this.bodyLength} body bytes arrived.`
          : `The stream ended inside a length field (${this.headerHeld} of ${this.field.bytes} bytes).`,
        this.bufferedBytes,
      );
      throw this.failure;
    }
  }

  private headerBytesKept(): number {
    return this.stripHeader ? 0 : this.field.bytes;
  }

  private decode(chunk: Buffer, onFrame: (frame: Buffer) => void): void {
    const lengthBytes = this.field.bytes;
    const size = chunk.length;
    let position = 0;

    if (this.headerHeld > 0) {
      const take = Math.min(lengthBytes - this.headerHeld, size);
      chunk.copy(this.header, this.headerHeld, 0, take);
      this.headerHeld += take;
      position = take;
      if (this.headerHeld < lengthBytes) return;
      this.bodyLength = this.field.bodyLengthAt(this.header, 0);
      this.headerHeld = 0;
      if (!this.stripHeader) {
        this.parts.push(Buffer.from(this.header)); // a copy: the scratch header is reused
        this.partsBytes = lengthBytes;
      }
    }

    if (this.bodyLength >= 0) {
      const frameBytes = this.headerBytesKept() + this.bodyLength;
      const take = Math.min(frameBytes - this.partsBytes, size - position);
      let frame: Buffer;
      if (this.partsBytes === 0 && take === frameBytes) {
        frame = chunk.subarray(position, position + take);
      } else {
        if (take > 0) this.parts.push(chunk.subarray(position, position + take));
        this.partsBytes += take;
        if (this.partsBytes < frameBytes) return;
        frame = this.parts.length === 1 ? (this.parts[0] as Buffer) : Buffer.concat(this.parts, this.partsBytes);
      }
      position += take;
      this.resetFrame();
      onFrame(frame);
    }

    // Hot path: whole frames inside this chunk are emitted as views of it.
    while (size - position >= lengthBytes) {
      const bodyLength = this.field.bodyLengthAt(chunk, position);
      const frameStart = this.stripHeader ? position + lengthBytes : position;
      const frameEnd = position + lengthBytes + bodyLength;
      if (frameEnd > size) {
        this.bodyLength = bodyLength;
        if (size > frameStart) this.parts.push(chunk.subarray(frameStart));
        this.partsBytes = size - frameStart;
        return;
      }
      position = frameEnd;
      onFrame(chunk.subarray(frameStart, frameEnd));
    }
    if (position < size) {
      chunk.copy(this.header, 0, position);
      this.headerHeld = size - position;
    }
  }

  private resetFrame(): void {
    this.bodyLength = -1;
    this.parts.length = 0;
    this.partsBytes = 0;
  }
}

export class LengthPrefixEncoder implements FrameEncoder<Uint8Array> {
  private readonly field: LengthField;

  constructor(options: LengthPrefixOptions) {
    this.field = new LengthField('LengthPrefixEncoder', options);
  }

  /** The length field followed by a copy of the body. */
  encode(body: Uint8Array): Buffer {
    const lengthBytes = this.field.bytes;
    const out = Buffer.allocUnsafe(lengthBytes + body.length);
    this.field.writeBodyLength(out, 0, body.length);
    out.set(body, lengthBytes);
    return out;
  }

  /**
   * The length field alone, for a body the caller writes next (e.g. with writev, or streamed):
   * saves copying a large body.
   */
  encodeHeader(bodyLength: number): Buffer {
    if (!Number.isSafeInteger(bodyLength) || bodyLength < 0) throw new RangeError(`LengthPrefixEncoder: bodyLength must be a non-negative integer, got ${bodyLength}`);
    const out = Buffer.allocUnsafe(this.field.bytes);
    this.field.writeBodyLength(out, 0, bodyLength);
    return out;
  }
}
