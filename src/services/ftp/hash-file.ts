/**
 * The I/O half of HASH: digest a byte range of an open file by streaming it, so that hashing a
 * huge file takes one chunk of CPU at a time and other sessions keep being served in between.
 */
import { createHash } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';
import { nodeHashName, type ByteRange, type HashAlgorithm } from './protocol/hash.js';

const CHUNK_BYTES = 1024 * 1024;

/**
 * The hex digest of bytes `range.start`..`range.end` (inclusive; an empty file when `empty`).
 * `cancelled` is asked between chunks: a session that closed stops reading.
 */
export async function hashFileRange(handle: FileHandle, algorithm: HashAlgorithm, range: ByteRange, empty: boolean, cancelled: () => boolean): Promise<string | undefined> {
  const hash = createHash(nodeHashName(algorithm));
  if (!empty) {
    const stream = handle.createReadStream({ start: range.start, end: range.end, highWaterMark: CHUNK_BYTES, autoClose: false });
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      if (cancelled()) {
        stream.destroy();
        return undefined;
      }
      hash.update(chunk);
    }
  }
  return hash.digest('hex');
}
