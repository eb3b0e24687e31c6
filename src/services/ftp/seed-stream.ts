/**
 * Stream plumbing the seed front ends share: reads handled one at a time (reading pauses while a
 * read is being handled, so a slow disk holds the client back), writes paced for protocols that
 * separate messages by time, and a file streamed with back-pressure.
 */
import { open } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Connection } from '../../core/connection.js';
import { OPEN_READ_FLAGS } from './files.js';

/** How often a writer that waits for the peer to read looks again (Connection has no drain event). */
const POLL_MS = 10;

/**
 * Hands each read to `handle`, in order, one at a time. While one is being handled, reading is
 * paused; reads that arrived before the pause took effect wait in a queue of at most a few chunks.
 * Reads that arrived before the peer closed are still handled after it closed (the last bytes of
 * an upload are followed at once by the close): `drained` says when they all have been.
 */
export class SerialReader {
  readonly #connection: Connection;
  readonly #handle: (chunk: Buffer) => Promise<void>;
  readonly #onError: (error: unknown) => void;
  readonly #queue: Buffer[] = [];
  #running: Promise<void> | undefined;

  constructor(connection: Connection, handle: (chunk: Buffer) => Promise<void>, onError: (error: unknown) => void) {
    this.#connection = connection;
    this.#handle = handle;
    this.#onError = onError;
  }

  push(chunk: Buffer): void {
    this.#queue.push(chunk);
    this.#connection.pauseReading();
    this.#running ??= this.#run();
  }

  /** Resolves once every read received so far has been handled. */
  async drained(): Promise<void> {
    while (this.#running) await this.#running;
  }

  async #run(): Promise<void> {
    try {
      for (let chunk = this.#queue.shift(); chunk !== undefined; chunk = this.#queue.shift()) await this.#handle(chunk);
    } catch (error) {
      this.#queue.length = 0;
      this.#onError(error);
    }
    // In the same turn as the queue was found empty: a read pushed from now on starts a new run.
    this.#running = undefined;
    if (!this.#connection.closed) this.#connection.resumeReading();
  }
}

/** Wait until the peer has taken what is queued down to `highWater` bytes; false when the connection closed. */
export async function roomToWrite(connection: Connection, highWater: number): Promise<boolean> {
  while (!connection.closed && connection.writeQueueBytes > highWater) await sleep(POLL_MS);
  return !connection.closed;
}

/**
 * Write one message of a protocol that separates messages by time (the seeds' `time.sleep(0.1)`):
 * once it has left for the network, wait `gapMs` so that the peer's recv() returns it alone.
 */
export async function writeMessage(connection: Connection, data: Buffer | string, gapMs: number): Promise<boolean> {
  connection.write(data);
  return pauseAfterWrites(connection, gapMs);
}

/** Wait until everything written has left for the network, then `gapMs` more; false when the connection closed. */
export async function pauseAfterWrites(connection: Connection, gapMs: number): Promise<boolean> {
  if (!(await roomToWrite(connection, 0))) return false;
  if (gapMs > 0) await sleep(gapMs);
  return !connection.closed;
}

/**
 * The file (its first `length` bytes when given), read in chunks, each written once the previous
 * ones are nearly taken. False when the connection closed, or the file ended before `length`.
 */
export async function streamFile(connection: Connection, path: string, options: { chunkBytes: number; highWater: number; length?: number }): Promise<boolean> {
  const handle = await open(path, OPEN_READ_FLAGS);
  try {
    const buffer = Buffer.allocUnsafe(options.chunkBytes);
    let left = options.length ?? Number.POSITIVE_INFINITY;
    for (;;) {
      if (!(await roomToWrite(connection, options.highWater))) return false;
      if (left === 0) return true;
      const { bytesRead } = await handle.read(buffer, 0, Math.min(buffer.length, left), null);
      if (bytesRead === 0) return options.length === undefined;
      left -= bytesRead;
      // A copy: the buffer is refilled while this chunk may still sit in the socket's queue.
      connection.write(Buffer.from(buffer.subarray(0, bytesRead)));
    }
  } finally {
    await handle.close();
  }
}
