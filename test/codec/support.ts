/** Helpers shared by the codec tests: feeding a decoder in chosen chunks and collecting frames. */
import fc from 'fast-check';
import { CodecError } from '../../src/codec/index.js';
import type { FrameDecoder } from '../../src/codec/index.js';

export interface DecodeResult<F> {
  frames: F[];
  /** The CodecError code that stopped decoding, if any. */
  error?: string;
}

/**
 * Pushes the chunks then ends. Frames are snapshotted when the run ends, not when they arrive, so
 * a frame that a later push overwrote would show up as a difference.
 */
export function decodeChunks<F>(decoder: FrameDecoder<F>, chunks: readonly Buffer[]): DecodeResult<F> {
  const frames: F[] = [];
  const onFrame = (frame: F): void => {
    frames.push(frame);
  };
  try {
    for (const chunk of chunks) decoder.push(chunk, onFrame);
    decoder.end(onFrame);
  } catch (error) {
    if (error instanceof CodecError) return { frames, error: error.code };
    throw error;
  }
  return { frames };
}

/** Splits bytes at the given cut points (sorted, deduplicated, within bounds); each chunk is a fresh copy. */
export function splitAt(bytes: Buffer, cuts: readonly number[]): Buffer[] {
  const points = [...new Set(cuts.filter((cut) => cut > 0 && cut < bytes.length))].sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let start = 0;
  for (const point of [...points, bytes.length]) {
    chunks.push(Buffer.from(bytes.subarray(start, point)));
    start = point;
  }
  return chunks;
}

/** Every byte on its own. */
export function oneByteAtATime(bytes: Buffer): Buffer[] {
  return [...bytes].map((byte) => Buffer.from([byte]));
}

/** Every way of cutting the bytes once (including not at all), for exhaustive boundary checks. */
export function* everySingleSplit(bytes: Buffer): Generator<Buffer[]> {
  for (let cut = 0; cut <= bytes.length; cut++) yield [Buffer.from(bytes.subarray(0, cut)), Buffer.from(bytes.subarray(cut))];
}

/** Every way of cutting the bytes twice: enough to split a 3-byte delimiter across three chunks. */
export function* everyDoubleSplit(bytes: Buffer): Generator<Buffer[]> {
  for (let first = 0; first <= bytes.length; first++) {
    for (let second = first; second <= bytes.length; second++) yield splitAt(bytes, [first, second]);
  }
}

/** An arbitrary chunking of a byte string of the given length: a list of cut points. */
export function arbitraryCuts(maxLength: number): fc.Arbitrary<number[]> {
  return fc.array(fc.integer({ min: 0, max: Math.max(0, maxLength) }), { maxLength: 40 });
}

/** Buffer frames as hex strings, for readable comparisons. */
export function hex(frames: readonly Buffer[]): string[] {
  return frames.map((frame) => frame.toString('hex'));
}
