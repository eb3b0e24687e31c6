import type { Stats } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';

/**
 * Files kept in memory after a first download, so that later downloads send straight from them:
 * a network boot storm fetches the same loader and kernel hundreds of times. Without it every
 * download copies the file out of the page cache again, on libuv's thread pool, and that copy was
 * a fifth of a lockstep transfer's time at blksize 65464 (docs/benchmarks.md).
 *
 * Entries are keyed by the open file's identity (device and inode) and checked against its
 * version (size, mtime, ctime) on every request, so a replaced or rewritten file is never served
 * stale; the path is resolved and confined to the root on every request, as without the cache.
 * Least recently used files go first once `maxBytes` is reached. A transfer still sending from an
 * evicted file keeps its bytes until it ends, so memory can exceed `maxBytes` by those.
 *
 * Not the web's `WebResponseCache`: that one holds responses (bodies with their headers and
 * compressed variants) by path and learns of changes from fs.watch; this one holds bare bytes by
 * inode and checks the open file's version on every request, which a TFTP read does anyway.
 */
export class FileBytesCache {
  readonly #entries = new Map<string, { version: string; data: Buffer }>();
  readonly #loading = new Set<string>();
  #bytes = 0;
  #hits = 0;

  constructor(
    readonly maxBytes: number,
    readonly maxFileBytes = Math.floor(maxBytes / 2),
  ) {}

  /** The bytes of this version of the file, if cached. */
  get(info: Stats): Buffer | undefined {
    const key = identity(info);
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    this.#entries.delete(key);
    if (entry.version !== version(info)) {
      this.#bytes -= entry.data.length;
      return undefined;
    }
    this.#entries.set(key, entry); // now the most recently used
    this.#hits++;
    return entry.data;
  }

  /**
   * Read the file into the cache alongside the transfer that opened it. The caller awaits the
   * promise before it closes `handle`. A file that changes meanwhile is not kept.
   */
  async fill(handle: FileHandle, info: Stats): Promise<void> {
    const key = identity(info);
    if (info.size === 0 || info.size > this.maxFileBytes || this.#loading.has(key) || this.#entries.has(key)) return;
    this.#loading.add(key);
    try {
      const data = Buffer.allocUnsafeSlow(info.size);
      for (let filled = 0; filled < info.size; ) {
        const { bytesRead } = await handle.read(data, filled, info.size - filled, filled);
        if (bytesRead === 0) return; // shorter than it was
        filled += bytesRead;
      }
      if (version(await handle.stat()) !== version(info)) return;
      for (const [oldest, entry] of this.#entries) {
        if (this.#bytes + data.length <= this.maxBytes) break;
        this.#entries.delete(oldest);
        this.#bytes -= entry.data.length;
      }
      this.#entries.set(key, { version: version(info), data });
      this.#bytes += data.length;
    } catch {
      // Unreadable now, or closed under us: serve it from disk, as before.
    } finally {
      this.#loading.delete(key);
    }
  }

  get stats(): { files: number; bytes: number; hits: number } {
    return { files: this.#entries.size, bytes: this.#bytes, hits: this.#hits };
  }
}

function identity(info: Stats): string {
  return `${info.dev}:${info.ino}`;
}

function version(info: Stats): string {
  return `${info.size}:${info.mtimeMs}:${info.ctimeMs}`;
}
