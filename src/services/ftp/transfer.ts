/**
 * The bytes of a transfer: file → data connection (RETR, listings) and data connection → file
 * (STOR, APPE), with back-pressure both ways, ASCII conversion in TYPE A, and uploads metered
 * against the user's quota as they arrive.
 */
import type { FileHandle } from 'node:fs/promises';
import { Readable, Transform, Writable, type Duplex } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { WharfError } from '../../core/errors.js';
import { AsciiDecoder, AsciiEncoder } from './protocol/ascii.js';

/** Bytes moved so far, for STAT during a transfer, ABOR's reply and the transfer log. */
export interface TransferProgress {
  bytes: number;
}

export function asciiEncodeTransform(): Transform {
  const encoder = new AsciiEncoder();
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      callback(null, encoder.push(chunk));
    },
  });
}

export function asciiDecodeTransform(): Transform {
  const decoder = new AsciiDecoder();
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      const out = decoder.push(chunk);
      callback(null, out.length > 0 ? out : undefined);
    },
    flush(callback) {
      const rest = decoder.end();
      callback(null, rest.length > 0 ? rest : undefined);
    },
  });
}

export interface SendFileOptions {
  start: number;
  ascii: boolean;
  /** Read size; large chunks keep the per-chunk overhead small on fast links. */
  chunkBytes: number;
  signal: AbortSignal;
  progress: TransferProgress;
}

/**
 * RETR: the file from `start` to its end, then the data connection is ended.
 *
 * Binary mode reads into two buffers in turn: one is filled while the other is being written, and
 * a buffer is filled again only once the socket has taken it (its write callback). Memory stays at
 * two chunks however large the file, no garbage is made per chunk, and a slow reader holds the
 * loop back (back-pressure). Node has no sendfile() for sockets; this is the next best thing.
 */
export async function sendFile(handle: FileHandle, socket: Duplex, options: SendFileOptions): Promise<void> {
  const progress = options.progress;
  if (options.ascii) {
    const source = handle.createReadStream({ start: options.start, highWaterMark: options.chunkBytes, autoClose: false });
    source.on('data', (chunk: string | Buffer) => {
      progress.bytes += chunk.length;
    });
    await pipeline(source, asciiEncodeTransform(), socket, { signal: options.signal });
    return;
  }
  const signal = options.signal;
  const buffers = [Buffer.allocUnsafeSlow(options.chunkBytes), Buffer.allocUnsafeSlow(options.chunkBytes)];
  const writes: Array<Promise<void> | undefined> = [undefined, undefined];
  // One failure (the socket broke, ABOR, a timeout) ends the loop wherever it is waiting.
  let failure: Error | undefined;
  let fail: (error: Error) => void = () => {};
  const failed = new Promise<never>((_, reject) => {
    fail = (error) => {
      failure ??= error;
      reject(failure);
    };
  });
  failed.catch(() => {});
  const onAbort = () => fail(abortError(signal));
  const onClose = () => fail(Object.assign(new Error('the data connection closed before the file was sent'), { code: 'ERR_STREAM_PREMATURE_CLOSE' }));
  const onError = (error: Error) => fail(error);
  if (signal.aborted) throw abortError(signal);
  signal.addEventListener('abort', onAbort, { once: true });
  socket.once('close', onClose);
  socket.once('error', onError);
  const race = <T>(promise: Promise<T>): Promise<T> => Promise.race([promise, failed]);
  try {
    let position = options.start;
    for (let turn = 0; ; turn++) {
      const slot = turn & 1;
      if (writes[slot]) await race(writes[slot]);
      const buffer = buffers[slot] as Buffer;
      const { bytesRead } = await race(handle.read(buffer, 0, buffer.length, position));
      if (bytesRead === 0) break;
      position += bytesRead;
      const chunk = buffer.subarray(0, bytesRead);
      writes[slot] = new Promise<void>((resolve, reject) => {
        socket.write(chunk, (error) => (error ? reject(error) : resolve()));
      });
      writes[slot].catch(() => {});
      progress.bytes += bytesRead;
    }
    await race(Promise.all(writes));
    // Everything is with the kernel: the client may close as soon as it has read it.
    socket.off('close', onClose);
    await race(
      new Promise<void>((resolve, reject) => {
        socket.end((error?: Error | null) => (error ? reject(error) : resolve()));
      }),
    );
  } finally {
    signal.removeEventListener('abort', onAbort);
    socket.off('close', onClose);
    socket.off('error', onError);
  }
}

function abortError(signal: AbortSignal): Error {
  return Object.assign(new Error('aborted', { cause: signal.reason }), { name: 'AbortError', code: 'ABORT_ERR' });
}

/** A listing (or any text) over the data connection. */
export async function sendText(text: string, socket: Duplex, options: { signal: AbortSignal; progress: TransferProgress }): Promise<void> {
  const body = Buffer.from(text, 'utf8');
  options.progress.bytes = body.length;
  await pipeline(Readable.from([body]), socket, { signal: options.signal });
}

export interface QuotaMeter {
  /** Take `bytes` more from the quota; throws WharfError EQUOTA when they do not fit. */
  reserve(bytes: number): Promise<void>;
}

export interface ReceiveOptions {
  /** Where in the file the first byte goes. */
  position: number;
  ascii: boolean;
  signal: AbortSignal;
  progress: TransferProgress;
  /** Undefined: no quota (never for users). */
  quota: QuotaMeter | undefined;
  /** The first reservation, doubled as the upload grows up to maxReserveStep. */
  reserveStep: number;
  maxReserveStep: number;
}

/**
 * Writes what arrives to a file handle, in batches (writev), reserving quota ahead of the bytes in
 * growing steps. `reserved - written` is what the caller gives back at the end.
 */
export class UploadSink extends Writable {
  readonly #handle: FileHandle;
  #position: number;
  readonly #quota: QuotaMeter | undefined;
  #step: number;
  readonly #maxStep: number;
  readonly #progress: TransferProgress;
  /** Bytes reserved from the quota for this upload. */
  reserved = 0;
  /** Bytes written to the file by this upload. */
  written = 0;

  constructor(handle: FileHandle, options: Pick<ReceiveOptions, 'position' | 'quota' | 'reserveStep' | 'maxReserveStep' | 'progress'>) {
    super({ highWaterMark: 4 * 1024 * 1024 });
    this.#handle = handle;
    this.#position = options.position;
    this.#quota = options.quota;
    this.#step = options.reserveStep;
    this.#maxStep = options.maxReserveStep;
    this.#progress = options.progress;
  }

  async #ensureQuota(bytes: number): Promise<void> {
    if (!this.#quota) return;
    const need = this.written + bytes - this.reserved;
    if (need <= 0) return;
    const ahead = Math.max(need, this.#step);
    try {
      await this.#quota.reserve(ahead);
      this.reserved += ahead;
      this.#step = Math.min(this.#maxStep, this.#step * 2);
    } catch (error) {
      if (!(error instanceof WharfError && error.code === 'EQUOTA') || ahead === need) throw error;
      // The step does not fit; maybe exactly what this batch needs still does.
      await this.#quota.reserve(need);
      this.reserved += need;
    }
  }

  override _writev(chunks: Array<{ chunk: Buffer }>, callback: (error?: Error | null) => void): void {
    const buffers = chunks.map((c) => c.chunk);
    let total = 0;
    for (const b of buffers) total += b.length;
    this.#write(buffers, total).then(() => callback(), callback);
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.#write([chunk], chunk.length).then(() => callback(), callback);
  }

  async #write(buffers: Buffer[], total: number): Promise<void> {
    await this.#ensureQuota(total);
    let remaining = total;
    let list = buffers;
    while (remaining > 0) {
      const { bytesWritten } = await this.#handle.writev(list, this.#position);
      this.#position += bytesWritten;
      this.written += bytesWritten;
      this.#progress.bytes += bytesWritten;
      remaining -= bytesWritten;
      if (remaining > 0) list = skipBytes(list, bytesWritten);
    }
  }
}

function skipBytes(buffers: Buffer[], count: number): Buffer[] {
  const out: Buffer[] = [];
  let skip = count;
  for (const b of buffers) {
    if (skip >= b.length) {
      skip -= b.length;
      continue;
    }
    out.push(skip > 0 ? b.subarray(skip) : b);
    skip = 0;
  }
  return out;
}

/** STOR/APPE: everything the client sends until it closes the data connection. */
export async function receiveFile(socket: Readable, sink: UploadSink, options: { ascii: boolean; signal: AbortSignal }): Promise<void> {
  if (options.ascii) await pipeline(socket, asciiDecodeTransform(), sink, { signal: options.signal });
  else await pipeline(socket, sink, { signal: options.signal });
}
