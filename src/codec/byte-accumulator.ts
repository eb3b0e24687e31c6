/**
 * A growable byte buffer for the bytes of an incomplete frame (internal to codec).
 *
 * Appending copies only the bytes that must wait (the tail of a chunk), never the whole pending
 * data again, so holding a long line that arrives in many small chunks costs O(n), not O(n^2) as
 * `Buffer.concat` on every chunk would. Copying (rather than keeping views of the chunks) also
 * means a few held bytes do not pin the 64 KiB chunk they came from.
 */
const EMPTY = Buffer.alloc(0);
const MIN_CAPACITY = 256;
/**
 * Past this, clear() gives the memory back: one long line should not pin memory on each of
 * thousands of idle connections. Below it, the buffer is kept for the next split frame.
 */
const RELEASE_CAPACITY = 8 * 1024;

export class ByteAccumulator {
  private buffer: Buffer = EMPTY;
  private used = 0;

  get length(): number {
    return this.used;
  }

  /** Appends source[start, end). */
  append(source: Buffer, start = 0, end = source.length): void {
    const count = end - start;
    if (count <= 0) return;
    const needed = this.used + count;
    if (needed > this.buffer.length) this.grow(needed);
    source.copy(this.buffer, this.used, start, end);
    this.used = needed;
  }

  /** The byte at index (0 ≤ index < length). */
  byteAt(index: number): number {
    return this.buffer[index] ?? 0;
  }

  /** Decodes bytes [0, end) as UTF-8. */
  utf8(end: number): string {
    return this.buffer.toString('utf8', 0, end);
  }

  /** A fresh copy of bytes [0, end): the result stays valid after this accumulator is reused. */
  copy(end: number): Buffer {
    const out = Buffer.allocUnsafe(end);
    this.buffer.copy(out, 0, 0, end);
    return out;
  }

  /** A view of the held bytes, valid only until the next mutation. */
  view(): Buffer {
    return this.buffer.subarray(0, this.used);
  }

  /** Keeps only the last `count` bytes. */
  keepLast(count: number): void {
    if (count >= this.used) return;
    this.buffer.copyWithin(0, this.used - count, this.used);
    this.used = count;
  }

  clear(): void {
    this.used = 0;
    if (this.buffer.length > RELEASE_CAPACITY) this.buffer = EMPTY;
  }

  private grow(needed: number): void {
    // Doubling keeps appends amortised O(1); callers bound `needed` by their frame limit.
    let capacity = Math.max(this.buffer.length * 2, MIN_CAPACITY);
    while (capacity < needed) capacity *= 2;
    const next = Buffer.allocUnsafe(capacity);
    this.buffer.copy(next, 0, 0, this.used);
    this.buffer = next;
  }
}
