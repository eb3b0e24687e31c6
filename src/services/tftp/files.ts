/**
 * Where blocks come from and go to. A sender asks a `BlockSource` for blocks by number (always
 * within its window, so only a window's worth plus a read-ahead is ever in memory); a receiver
 * hands in-order data to a `BlockSink`, which writes it in batches and commits the file only
 * when the transfer is complete.
 */
import { randomBytes } from 'node:crypto';
import { constants as fsConstants } from 'node:fs';
import { link, open, rename, unlink, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { Writable } from 'node:stream';
import { WharfError } from '../../core/errors.js';
import type { FileRoot } from '../../store/file-root.js';
import { TftpRefusal } from './paths.js';
import { DATA_HEADER_BYTES, NetasciiDecoder, NetasciiEncoder, Opcode, TftpErrorCode, wireBlock, writeDataHeader } from './protocol.js';

const EMPTY = Buffer.alloc(0);

/**
 * A DATA packet as handed to the socket: one buffer, or a header and the block's bytes, sent
 * together by one sendmsg (no copy into a packet first).
 */
export type DataPacket = Buffer | readonly [Buffer, Uint8Array];

/** Bytes on the wire of a DATA packet. */
export function packetBytes(packet: DataPacket): number {
  return Buffer.isBuffer(packet) ? packet.length : packet[0].length + packet[1].length;
}

/**
 * The DATA header of every wire block number, made once and shared by every transfer. Never
 * written after start-up, so a send still queued in the kernel can always point into it.
 */
const DATA_HEADERS = (() => {
  const headers = Buffer.alloc(65536 * DATA_HEADER_BYTES);
  for (let block = 0; block < 65536; block++) writeDataHeader(headers.subarray(block * DATA_HEADER_BYTES), block);
  return headers;
})();

function dataHeader(n: number): Buffer {
  const at = wireBlock(n) * DATA_HEADER_BYTES;
  return DATA_HEADERS.subarray(at, at + DATA_HEADER_BYTES);
}

export interface BlockSource {
  readonly blockSize: number;
  /** The last block (the first one shorter than blksize), once known. */
  readonly last: number | undefined;
  /** Bytes on the wire in all, when known in advance (the tsize of an octet file). */
  readonly totalBytes: number | undefined;
  /**
   * Block `n` (from 1) as a complete DATA packet, header included, if it is in memory; reading
   * ahead starts as a side effect. The same bytes come back for a resend.
   */
  peek(n: number): DataPacket | undefined;
  /** Bring block `n` into memory. */
  load(n: number): Promise<void>;
  /** Blocks before `n` are acknowledged and will not be asked for again. */
  release(n: number): void;
  /**
   * Set by the sender: true when no packet handed to the socket is still queued, so a released
   * buffer may be filled again (the kernel has copied everything out of it).
   */
  canRecycle?: () => boolean;
  close(): Promise<void>;
}

/**
 * Chunk buffers kept between transfers, by size. A megabyte allocated per transfer and dropped is
 * external memory V8 has to account for: enough of it triggers full garbage collections, which
 * showed up as a fifth of the server's CPU in back-to-back 64 KiB-block transfers.
 */
class ChunkPool {
  readonly #free = new Map<number, Buffer[]>();
  #bytes = 0;

  constructor(readonly maxBytes: number) {}

  take(size: number): Buffer | undefined {
    const buffer = this.#free.get(size)?.pop();
    if (buffer) this.#bytes -= size;
    return buffer;
  }

  give(buffer: Buffer): void {
    if (this.#bytes + buffer.length > this.maxBytes) return;
    const list = this.#free.get(buffer.length) ?? [];
    list.push(buffer);
    this.#free.set(buffer.length, list);
    this.#bytes += buffer.length;
  }
}

const chunkPool = new ChunkPool(32 * 1024 * 1024);

/** Bytes read from disk at a time (rounded to whole blocks, at most 1024 blocks). */
export const DEFAULT_READ_CHUNK_BYTES = 1024 * 1024;
const MAX_BLOCKS_PER_CHUNK = 1024;

/** A DATA packet for block `n` (absolute) around `data`. */
function dataPacket(n: number, data: Uint8Array): Buffer {
  const packet = Buffer.allocUnsafe(DATA_HEADER_BYTES + data.length);
  writeDataHeader(packet, wireBlock(n));
  packet.set(data, DATA_HEADER_BYTES);
  return packet;
}

/**
 * An octet file read with positioned reads, one chunk of whole blocks at a time, the next chunk
 * read ahead while the current one is on the wire. Each chunk is read straight into DATA packet
 * layout (header, block, header, block, ...), so sending a block is one send of a slice, with no
 * copy and no allocation. The size is taken when the file is opened; a file that shrinks
 * meanwhile fails the transfer rather than sending a short, wrong copy.
 */
export class FileBlockSource implements BlockSource {
  readonly last: number;
  readonly totalBytes: number;
  readonly #handle: FileHandle | undefined;
  readonly #data: Uint8Array | undefined;
  readonly #blocksPerChunk: number;
  readonly #stride: number;
  readonly #chunks = new Map<number, Buffer>();
  readonly #loading = new Map<number, Promise<void>>();
  /** Released chunk buffers, filled again rather than allocated: no page faults, no GC pressure. */
  readonly #spare: Buffer[] = [];
  canRecycle: (() => boolean) | undefined;
  #finalEmpty: Buffer | undefined;
  #failure: Error | undefined;
  #closed = false;

  constructor(
    readonly blockSize: number,
    from: { handle: FileHandle; size: number } | { data: Uint8Array },
    chunkBytes = DEFAULT_READ_CHUNK_BYTES,
  ) {
    if ('data' in from) {
      this.#data = from.data;
      this.totalBytes = from.data.length;
    } else {
      this.#handle = from.handle;
      this.totalBytes = from.size;
    }
    this.last = Math.floor(this.totalBytes / blockSize) + 1;
    this.#blocksPerChunk = Math.max(1, Math.min(MAX_BLOCKS_PER_CHUNK, Math.floor(chunkBytes / blockSize)));
    this.#stride = DATA_HEADER_BYTES + blockSize;
  }

  peek(n: number): DataPacket | undefined {
    const offset = (n - 1) * this.blockSize;
    if (offset >= this.totalBytes) {
      // The empty last block of a file whose size is a multiple of blksize (or is 0).
      this.#finalEmpty ??= dataPacket(n, EMPTY);
      return this.#finalEmpty;
    }
    const length = Math.min(this.blockSize, this.totalBytes - offset);
    // In memory (an upload from a buffer, a file from the cache): the header and a view of the bytes.
    if (this.#data) return [dataHeader(n), this.#data.subarray(offset, offset + length)];
    const index = Math.floor((n - 1) / this.#blocksPerChunk);
    const chunk = this.#chunks.get(index);
    if (chunk === undefined) return undefined;
    const slot = (n - 1) % this.#blocksPerChunk;
    // Read ahead: when the first block of a chunk is asked for, fetch the next chunk.
    if (slot === 0) void this.#loadChunk(index + 1).catch(() => {});
    const start = slot * this.#stride;
    return chunk.subarray(start, start + DATA_HEADER_BYTES + length);
  }

  async load(n: number): Promise<void> {
    if (this.#failure) throw this.#failure;
    if ((n - 1) * this.blockSize >= this.totalBytes || this.#data) return;
    await this.#loadChunk(Math.floor((n - 1) / this.#blocksPerChunk));
    if (this.#failure) throw this.#failure;
  }

  #loadChunk(index: number): Promise<void> {
    const firstBlock = index * this.#blocksPerChunk + 1;
    const position = (firstBlock - 1) * this.blockSize;
    if (this.#closed || position >= this.totalBytes || this.#chunks.has(index)) return Promise.resolve();
    const pending = this.#loading.get(index);
    if (pending) return pending;
    const bytes = Math.min(this.#blocksPerChunk * this.blockSize, this.totalBytes - position);
    const blocks = Math.ceil(bytes / this.blockSize);
    const handle = this.#handle!;
    const promise = (async () => {
      const full = this.#blocksPerChunk * this.#stride;
      const packets = (this.#spare.length > 0 && this.canRecycle?.() === true ? this.#spare.pop() : undefined) ?? chunkPool.take(full) ?? Buffer.allocUnsafe(full);
      const slots: Buffer[] = [];
      for (let i = 0; i < blocks; i++) {
        const at = i * this.#stride;
        packets.writeUInt16BE(Opcode.DATA, at);
        packets.writeUInt16BE(wireBlock(firstBlock + i), at + 2);
        slots.push(packets.subarray(at + DATA_HEADER_BYTES, at + DATA_HEADER_BYTES + Math.min(this.blockSize, bytes - i * this.blockSize)));
      }
      // One readv into the data slots; a short read (more slots than IOV_MAX) continues where it stopped.
      let filled = 0;
      let pieces = slots;
      while (filled < bytes) {
        const { bytesRead } = await handle.readv(pieces, position + filled);
        if (bytesRead === 0) throw new WharfError('ECHANGED', 'the file became shorter during the transfer');
        filled += bytesRead;
        if (filled < bytes) pieces = skipBytes(pieces, bytesRead);
      }
      if (!this.#closed) this.#chunks.set(index, packets);
    })()
      .catch((error: unknown) => {
        this.#failure ??= error instanceof Error ? error : new Error(String(error));
        throw this.#failure;
      })
      .finally(() => this.#loading.delete(index));
    this.#loading.set(index, promise);
    return promise;
  }

  release(n: number): void {
    const firstNeeded = Math.floor((n - 1) / this.#blocksPerChunk);
    for (const [index, chunk] of this.#chunks) {
      if (index >= firstNeeded) continue;
      this.#chunks.delete(index);
      if (this.#spare.length < 2) this.#spare.push(chunk);
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.allSettled(this.#loading.values());
    // Back to the pool, unless a send still in the socket's queue may read from them.
    if (this.canRecycle?.() === true) for (const buffer of [...this.#chunks.values(), ...this.#spare]) chunkPool.give(buffer);
    this.#chunks.clear();
    this.#spare.length = 0;
    await this.#handle?.close().catch(() => {});
  }
}

/**
 * A file sent in netascii: read in order, converted, cut into blocks. The size on the wire is not
 * known before the end (so no tsize), and blocks are produced in order, never re-read: the window
 * only ever goes back to its own start, which is still in memory.
 */
export class NetasciiBlockSource implements BlockSource {
  last: number | undefined;
  readonly totalBytes = undefined;
  readonly #handle: FileHandle;
  readonly #encoder = new NetasciiEncoder();
  readonly #blocks = new Map<number, Buffer>();
  #pending: Buffer = EMPTY;
  #position = 0;
  #eof = false;
  #next = 1;
  #producing: Promise<void> = Promise.resolve();

  constructor(
    readonly blockSize: number,
    handle: FileHandle,
  ) {
    this.#handle = handle;
  }

  peek(n: number): Buffer | undefined {
    return this.#blocks.get(n);
  }

  load(n: number): Promise<void> {
    this.#producing = this.#producing.then(() => this.#produceThrough(n));
    return this.#producing;
  }

  async #produceThrough(n: number): Promise<void> {
    while (this.#next <= n && this.last === undefined) {
      while (this.#pending.length < this.blockSize && !this.#eof) {
        const chunk = Buffer.allocUnsafe(64 * 1024);
        const { bytesRead } = await this.#handle.read(chunk, 0, chunk.length, this.#position);
        if (bytesRead === 0) {
          this.#eof = true;
          break;
        }
        this.#position += bytesRead;
        const encoded = this.#encoder.push(chunk.subarray(0, bytesRead));
        this.#pending = this.#pending.length === 0 ? encoded : Buffer.concat([this.#pending, encoded]);
      }
      const size = Math.min(this.blockSize, this.#pending.length);
      this.#blocks.set(this.#next, dataPacket(this.#next, this.#pending.subarray(0, size)));
      this.#pending = this.#pending.subarray(size);
      if (size < this.blockSize) this.last = this.#next;
      this.#next++;
    }
  }

  release(n: number): void {
    for (const block of this.#blocks.keys()) if (block < n) this.#blocks.delete(block);
  }

  async close(): Promise<void> {
    this.#blocks.clear();
    await this.#producing.catch(() => {});
    await this.#handle.close().catch(() => {});
  }
}

export interface BlockSink {
  /** Append the next in-order block's data. Write errors surface in `drained` or `finish`. */
  write(data: Buffer): void;
  /** Bytes accepted but not yet on disk. */
  readonly backlog: number;
  /** Resolves when the backlog is under the high-water mark (rejects on a write error). */
  drained(): Promise<void>;
  /** Write what is left and make the result visible (rename into place). */
  finish(): Promise<void>;
  /** Throw the partial result away. Never throws. */
  abort(): Promise<void>;
}

const SINK_FLUSH_BYTES = 256 * 1024;
/** Past this backlog a receiver holds its ACKs until the disk catches up. */
export const SINK_HIGH_WATER_BYTES = 8 * 1024 * 1024;

export interface FileSinkOptions {
  /** Where the finished file goes. */
  path: string;
  netascii: boolean;
  /** Replace an existing file (rename) or refuse to (link, which fails if the name is taken). */
  overwrite: boolean;
  /** Permission bits of the new file (before umask). */
  fileMode?: number;
  /** The root the file must be made in (a server's upload); checked on the open file. */
  root?: FileRoot;
}

/**
 * Writes to a temporary file next to the destination (`.NAME.RANDOM.part`) and renames it into
 * place on `finish`, so a failed transfer leaves nothing and nobody sees a half-written file.
 */
export class FileBlockSink implements BlockSink {
  readonly tempPath: string;
  readonly #options: FileSinkOptions;
  readonly #handle: FileHandle;
  readonly #decoder: NetasciiDecoder | undefined;
  #queue: Buffer[] = [];
  #queued = 0;
  #writing = 0;
  #flushing: Promise<void> | undefined;
  #failure: Error | undefined;
  #waiters: Array<{ resolve: () => void; reject: (error: Error) => void }> = [];
  #done = false;

  private constructor(options: FileSinkOptions, handle: FileHandle, tempPath: string) {
    this.#options = options;
    this.#handle = handle;
    this.tempPath = tempPath;
    this.#decoder = options.netascii ? new NetasciiDecoder() : undefined;
  }

  static async create(options: FileSinkOptions): Promise<FileBlockSink> {
    const tempPath = join(dirname(options.path), `.${basename(options.path)}.${randomBytes(6).toString('hex')}.part`);
    let handle: FileHandle;
    try {
      handle = await open(tempPath, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_NOFOLLOW, options.fileMode ?? 0o644);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') throw new TftpRefusal(TftpErrorCode.ACCESS_VIOLATION, 'access violation: cannot create files in that directory');
      if (code === 'ENOSPC' || code === 'EDQUOT') throw new TftpRefusal(TftpErrorCode.DISK_FULL, 'disk full');
      if (code === 'ENOENT' || code === 'ENOTDIR') throw new TftpRefusal(TftpErrorCode.FILE_NOT_FOUND, 'the directory does not exist');
      throw error;
    }
    try {
      // The folder was resolved inside the root; if one on the way was swapped for a symlink since,
      // the file was made elsewhere: take it back and refuse.
      await options.root?.confirmInside(handle);
    } catch {
      await handle.close().catch(() => {});
      await unlink(tempPath).catch(() => {});
      throw new TftpRefusal(TftpErrorCode.ACCESS_VIOLATION, 'access violation: the folder changed while the upload was starting');
    }
    return new FileBlockSink(options, handle, tempPath);
  }

  get backlog(): number {
    return this.#queued + this.#writing;
  }

  write(data: Buffer): void {
    const bytes = this.#decoder ? this.#decoder.push(data) : data;
    if (bytes.length === 0) return;
    this.#queue.push(bytes);
    this.#queued += bytes.length;
    if (this.#queued >= SINK_FLUSH_BYTES && !this.#flushing) this.#startFlush();
  }

  #startFlush(): void {
    this.#flushing = this.#flush().finally(() => {
      this.#flushing = undefined;
      this.#wake();
    });
  }

  async #flush(): Promise<void> {
    try {
      while (this.#queue.length > 0 && !this.#failure) {
        const batch = this.#queue;
        this.#queue = [];
        this.#writing = this.#queued;
        this.#queued = 0;
        let total = this.#writing;
        // writev may write less than asked; loop on what is left.
        let pieces = batch;
        while (total > 0) {
          const { bytesWritten } = await this.#handle.writev(pieces);
          total -= bytesWritten;
          this.#writing = total;
          if (total > 0) pieces = skipBytes(pieces, bytesWritten);
        }
        this.#wake();
      }
    } catch (error) {
      this.#failure = diskError(error);
    }
  }

  #wake(): void {
    if (this.backlog >= SINK_HIGH_WATER_BYTES && !this.#failure) return;
    for (const waiter of this.#waiters.splice(0)) {
      if (this.#failure) waiter.reject(this.#failure);
      else waiter.resolve();
    }
  }

  drained(): Promise<void> {
    if (this.#failure) return Promise.reject(this.#failure);
    if (this.backlog < SINK_HIGH_WATER_BYTES) return Promise.resolve();
    if (!this.#flushing) this.#startFlush();
    return new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }));
  }

  async finish(): Promise<void> {
    if (this.#decoder) {
      const tail = this.#decoder.end();
      if (tail.length > 0) {
        this.#queue.push(tail);
        this.#queued += tail.length;
      }
    }
    while (this.#flushing) await this.#flushing;
    if (this.#queue.length > 0) {
      this.#startFlush();
      await this.#flushing;
    }
    if (this.#failure) throw this.#failure;
    this.#done = true;
    await this.#handle.close();
    try {
      if (this.#options.overwrite) {
        await rename(this.tempPath, this.#options.path);
      } else {
        // link() refuses an existing name atomically: a file that appeared during the upload wins.
        try {
          await link(this.tempPath, this.#options.path);
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code === 'EEXIST') throw new TftpRefusal(TftpErrorCode.FILE_EXISTS, 'file already exists (it appeared during the upload)');
          throw diskError(error);
        }
        await unlink(this.tempPath);
      }
    } catch (error) {
      await unlink(this.tempPath).catch(() => {});
      throw error;
    }
  }

  async abort(): Promise<void> {
    this.#failure ??= new WharfError('EABORTED', 'the transfer was abandoned');
    this.#queue = [];
    this.#queued = 0;
    if (this.#flushing) await this.#flushing.catch(() => {});
    if (!this.#done) {
      this.#done = true;
      await this.#handle.close().catch(() => {});
    }
    await unlink(this.tempPath).catch(() => {});
  }
}

function skipBytes(buffers: Buffer[], count: number): Buffer[] {
  let skip = count;
  const rest: Buffer[] = [];
  for (const buffer of buffers) {
    if (skip >= buffer.length) {
      skip -= buffer.length;
      continue;
    }
    rest.push(skip > 0 ? buffer.subarray(skip) : buffer);
    skip = 0;
  }
  return rest;
}

function diskError(error: unknown): Error {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOSPC' || code === 'EDQUOT' || code === 'EFBIG') return new TftpRefusal(TftpErrorCode.DISK_FULL, 'disk full or allocation exceeded');
  return error instanceof Error ? error : new Error(String(error));
}

/** Writes to a stream (the client's `-o -`), honouring its back-pressure. */
export class StreamBlockSink implements BlockSink {
  readonly #stream: Writable;
  readonly #decoder: NetasciiDecoder | undefined;

  constructor(stream: Writable, netascii: boolean) {
    this.#stream = stream;
    this.#decoder = netascii ? new NetasciiDecoder() : undefined;
  }

  get backlog(): number {
    return this.#stream.writableLength;
  }

  write(data: Buffer): void {
    const bytes = this.#decoder ? this.#decoder.push(data) : data;
    if (bytes.length > 0) this.#stream.write(bytes);
  }

  drained(): Promise<void> {
    if (this.#stream.writableLength < SINK_HIGH_WATER_BYTES) return Promise.resolve();
    return new Promise((resolve) => this.#stream.once('drain', () => resolve()));
  }

  async finish(): Promise<void> {
    const tail = this.#decoder?.end();
    if (tail && tail.length > 0) this.#stream.write(tail);
    if (this.#stream.writableLength > 0) await new Promise<void>((resolve) => this.#stream.once('drain', resolve));
  }

  async abort(): Promise<void> {
    // Nothing to take back from a stream.
  }
}
