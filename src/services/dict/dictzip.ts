/**
 * Random access to dictzip files (`.dict.dz`, dictzip(1)): gzip files whose header carries an
 * `RA` extra field listing the compressed size of every chunk (each chunk is a run of deflate
 * ended by a full flush, so it inflates on its own). A read inflates only the chunks it covers,
 * and keeps the last few in a small cache.
 *
 * A plain gzip file (no RA field) is inflated whole, once.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { constants, gunzipSync, inflateRawSync } from 'node:zlib';
import { WharfError } from '../../core/errors.js';

const FHCRC = 0x02;
const FEXTRA = 0x04;
const FNAME = 0x08;
const FCOMMENT = 0x10;

export interface DictzipHeader {
  /** Uncompressed bytes per chunk (the last may be shorter). */
  chunkLength: number;
  /** Compressed size of each chunk. */
  chunkSizes: number[];
  /** File offset of the first chunk. */
  dataOffset: number;
}

/** Parse a gzip header; `header` undefined when the file is gzip without an RA field. */
export function parseGzipHeader(head: Buffer): { header: DictzipHeader | undefined; headerLength: number } {
  if (head.length < 10 || head[0] !== 0x1f || head[1] !== 0x8b || head[2] !== 8) throw new WharfError('EFORMAT', 'not a gzip file');
  const flags = head[3]!;
  let at = 10;
  let header: DictzipHeader | undefined;
  const need = (n: number) => {
    if (at + n > head.length) throw new WharfError('EFORMAT', 'truncated gzip header');
  };
  if (flags & FEXTRA) {
    need(2);
    const extraLength = head.readUInt16LE(at);
    at += 2;
    need(extraLength);
    const end = at + extraLength;
    let sub = at;
    while (sub + 4 <= end) {
      const id = head.toString('latin1', sub, sub + 2);
      const length = head.readUInt16LE(sub + 2);
      const body = sub + 4;
      if (id === 'RA' && body + 6 <= end) {
        const version = head.readUInt16LE(body);
        if (version !== 1) throw new WharfError('EFORMAT', `unsupported dictzip version ${version}`);
        const chunkLength = head.readUInt16LE(body + 2);
        const count = head.readUInt16LE(body + 4);
        if (body + 6 + count * 2 > end) throw new WharfError('EFORMAT', 'truncated dictzip chunk table');
        const chunkSizes: number[] = [];
        for (let i = 0; i < count; i++) chunkSizes.push(head.readUInt16LE(body + 6 + i * 2));
        header = { chunkLength, chunkSizes, dataOffset: 0 };
      }
      sub = body + length;
    }
    at = end;
  }
  for (const flag of [FNAME, FCOMMENT]) {
    if (flags & flag) {
      const zero = head.indexOf(0, at);
      if (zero === -1) throw new WharfError('EFORMAT', 'truncated gzip header');
      at = zero + 1;
    }
  }
  if (flags & FHCRC) at += 2;
  if (header) header.dataOffset = at;
  return { header, headerLength: at };
}

export class DictzipReader {
  readonly path: string;
  /** Size of the compressed file. */
  readonly fileSize: number;
  /** Size of the uncompressed text (gzip's ISIZE; mod 2^32 as gzip keeps it). */
  readonly length: number;
  readonly #fd: number;
  readonly #header: DictzipHeader | undefined;
  readonly #chunkOffsets: number[] = [];
  readonly #cache = new Map<number, Buffer>();
  readonly #cacheChunks: number;
  #whole: Buffer | undefined;

  private constructor(path: string, fd: number, cacheChunks: number) {
    this.path = path;
    this.#fd = fd;
    this.#cacheChunks = cacheChunks;
    this.fileSize = fstatSync(fd).size;
    const headSize = Math.min(this.fileSize, 256 * 1024);
    const head = Buffer.alloc(headSize);
    readSync(fd, head, 0, headSize, 0);
    // 256 KiB holds the largest chunk table dictzip writes (65,535 chunks).
    this.#header = parseGzipHeader(head).header;
    const trailer = Buffer.alloc(4);
    readSync(fd, trailer, 0, 4, this.fileSize - 4);
    this.length = trailer.readUInt32LE(0);
    if (this.#header) {
      let offset = this.#header.dataOffset;
      for (const size of this.#header.chunkSizes) {
        this.#chunkOffsets.push(offset);
        offset += size;
      }
      this.#chunkOffsets.push(offset);
    }
  }

  /** Open a `.dz` file. `cacheChunks`: inflated chunks kept (default 32, about 2 MB for dictzip's 58 KB chunks). */
  static open(path: string, options: { cacheChunks?: number } = {}): DictzipReader {
    const fd = openSync(path, 'r');
    try {
      return new DictzipReader(path, fd, options.cacheChunks ?? 32);
    } catch (error) {
      closeSync(fd);
      throw error instanceof WharfError ? new WharfError(error.code, `${path}: ${error.message}`) : error;
    }
  }

  /** True when the file has dictzip's chunk table (random access); false for plain gzip. */
  get randomAccess(): boolean {
    return this.#header !== undefined;
  }

  /** `length` bytes of the uncompressed text from `offset`. */
  read(offset: number, length: number): Buffer {
    if (length <= 0) return Buffer.alloc(0);
    const header = this.#header;
    if (!header) {
      this.#whole ??= this.#inflateWhole();
      return this.#whole.subarray(offset, offset + length);
    }
    const first = Math.floor(offset / header.chunkLength);
    const last = Math.floor((offset + length - 1) / header.chunkLength);
    if (last >= header.chunkSizes.length) throw new WharfError('EOUTOFRANGE', `${this.path}: read past the end (offset ${offset}, length ${length})`);
    if (first === last) {
      const start = offset - first * header.chunkLength;
      return this.#chunk(first).subarray(start, start + length);
    }
    const parts: Buffer[] = [];
    for (let i = first; i <= last; i++) {
      const chunk = this.#chunk(i);
      const start = i === first ? offset - first * header.chunkLength : 0;
      const end = i === last ? offset + length - last * header.chunkLength : chunk.length;
      parts.push(chunk.subarray(start, end));
    }
    return Buffer.concat(parts);
  }

  close(): void {
    closeSync(this.#fd);
    this.#cache.clear();
    this.#whole = undefined;
  }

  #chunk(index: number): Buffer {
    const cached = this.#cache.get(index);
    if (cached) {
      // Most recently used last.
      this.#cache.delete(index);
      this.#cache.set(index, cached);
      return cached;
    }
    const start = this.#chunkOffsets[index]!;
    const size = this.#chunkOffsets[index + 1]! - start;
    const compressed = Buffer.alloc(size);
    readSync(this.#fd, compressed, 0, size, start);
    let chunk: Buffer;
    try {
      chunk = inflateRawSync(compressed, { finishFlush: constants.Z_SYNC_FLUSH });
    } catch (error) {
      throw new WharfError('EFORMAT', `${this.path}: chunk ${index} does not inflate: ${(error as Error).message}`);
    }
    this.#cache.set(index, chunk);
    if (this.#cache.size > this.#cacheChunks) this.#cache.delete(this.#cache.keys().next().value!);
    return chunk;
  }

  #inflateWhole(): Buffer {
    const all = Buffer.alloc(this.fileSize);
    readSync(this.#fd, all, 0, this.fileSize, 0);
    return gunzipSync(all);
  }
}
