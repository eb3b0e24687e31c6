import { watch, type FSWatcher } from 'node:fs';
import { dirname, join, sep } from 'node:path';

/**
 * What the cache needs to know about an entry. The web handler's entries (a file's bytes, its
 * precompressed siblings, its compressed variants and their precomputed headers) implement it.
 */
export interface CacheEntry {
  /** The cache key: the file's path under the root, as requested (symlinks not resolved). */
  readonly key: string;
  /** Every path the entry depends on (the file, its real path, its `.br`/`.gz` siblings). A change to any of them invalidates it. */
  readonly dependencies: readonly string[];
  /** Bytes held (bodies plus a fixed overhead); may grow when a compressed variant is added. */
  bytes: number;
  /** False once invalidated: whoever still holds it must look again. */
  valid: boolean;
  /** When the entry was last known to match the disk (ms, `Date.now()`); 0 forces a check. */
  checkedAt: number;
  /** CLOCK bit: set on every hit, cleared by the eviction hand. */
  referenced: boolean;
}

export interface WebResponseCacheOptions {
  /** Total bytes held; past it the least recently used entries go (CLOCK, one bit per entry). */
  maxBytes: number;
  /** Watch the folders of cached files with fs.watch and drop entries the moment they change. */
  watch: boolean;
  /** At most this many folders are watched; entries elsewhere rely on the time-based check. */
  maxWatchedFolders?: number;
}

/**
 * A byte-bounded cache of ready answers for small files (their bytes, compressed variants and
 * headers), keyed by path, for the web service. (TFTP's `FileBytesCache` is another thing: bare
 * bytes by inode, checked on every request.) It is kept correct two ways:
 *
 * 1. **fs.watch** (inotify on Linux) on every folder that holds a cached file: any event on a
 *    file, its sibling or an enclosing folder's entry drops the entries that depend on it, so an
 *    edit is visible on the next request;
 * 2. **a time-based check** the handler does with `checkedAt`: an entry older than `revalidateMs`
 *    is stat()ed again before use (watchers can miss events on network file systems, or be too
 *    many), so no answer is ever staler than that bound.
 *
 * A load races with edits: the handler snapshots `generation` before it reads a file and passes
 * it to `insert`; if any watched folder changed meanwhile the entry goes in with `checkedAt = 0`,
 * so the next request checks it against the disk before trusting it.
 */
export class WebResponseCache<E extends CacheEntry> {
  readonly #entries = new Map<string, E>();
  readonly #watchers = new Map<string, FSWatcher>();
  readonly #options: Required<WebResponseCacheOptions>;
  #bytes = 0;
  #generation = 0;
  #closed = false;

  constructor(options: WebResponseCacheOptions) {
    this.#options = { maxWatchedFolders: 1024, ...options };
  }

  /** Bumped by every change a watcher reports. */
  get generation(): number {
    return this.#generation;
  }

  get bytes(): number {
    return this.#bytes;
  }

  get size(): number {
    return this.#entries.size;
  }

  get watchedFolders(): number {
    return this.#watchers.size;
  }

  /** The valid entry for `key`, marked as recently used. */
  get(key: string): E | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined || !entry.valid) return undefined;
    entry.referenced = true;
    return entry;
  }

  /** Watch the folders an entry will depend on; call before reading the file (see the class comment). */
  watchFor(paths: readonly string[]): void {
    if (!this.#options.watch || this.#closed) return;
    for (const path of paths) this.#watchFolder(dirname(path));
  }

  /**
   * A change got past the watchers (the time-based check caught it): watch those folders afresh,
   * in case a watcher died with a deleted folder that has since been made again.
   */
  rewatch(paths: readonly string[]): void {
    if (!this.#options.watch || this.#closed) return;
    for (const path of paths) {
      const folder = dirname(path);
      this.#watchers.get(folder)?.close();
      this.#watchers.delete(folder);
      this.#watchFolder(folder);
    }
  }

  /** Add an entry read while `generation` was `generationBefore`. Replaces any entry with the same key. */
  insert(entry: E, generationBefore: number): void {
    if (this.#closed) return;
    if (entry.bytes > this.#options.maxBytes) return;
    if (generationBefore !== this.#generation) entry.checkedAt = 0;
    const previous = this.#entries.get(entry.key);
    if (previous !== undefined) this.#remove(previous);
    this.#entries.set(entry.key, entry);
    this.#bytes += entry.bytes;
    this.#evict();
  }

  /** An entry grew (a compressed variant was added): account for it, evicting others if needed. */
  grew(entry: E, extraBytes: number): void {
    entry.bytes += extraBytes;
    if (this.#entries.get(entry.key) === entry) {
      this.#bytes += extraBytes;
      this.#evict(entry);
    }
  }

  invalidate(entry: E): void {
    entry.valid = false;
    if (this.#entries.get(entry.key) === entry) this.#remove(entry);
  }

  /** Drop every entry that depends on `path` or on anything below it. */
  invalidatePath(path: string): void {
    const below = path.endsWith(sep) ? path : path + sep;
    for (const entry of [...this.#entries.values()]) {
      if (entry.dependencies.some((d) => d === path || d.startsWith(below))) this.invalidate(entry);
    }
  }

  clear(): void {
    for (const entry of [...this.#entries.values()]) this.invalidate(entry);
  }

  close(): void {
    this.#closed = true;
    for (const watcher of this.#watchers.values()) watcher.close();
    this.#watchers.clear();
    this.clear();
  }

  #remove(entry: E): void {
    this.#entries.delete(entry.key);
    this.#bytes -= entry.bytes;
    entry.valid = false;
  }

  /** CLOCK: walk from the oldest insertion; a referenced entry gets a second chance at the back. */
  #evict(keep?: E): void {
    let budget = this.#entries.size * 2 + 2;
    while (this.#bytes > this.#options.maxBytes && budget-- > 0) {
      const oldest = this.#entries.values().next().value as E | undefined;
      if (oldest === undefined) break;
      if (oldest.referenced || oldest === keep) {
        oldest.referenced = false;
        this.#entries.delete(oldest.key);
        this.#entries.set(oldest.key, oldest);
      } else {
        this.#remove(oldest);
      }
    }
    // Everything was referenced twice over: drop the oldest regardless.
    while (this.#bytes > this.#options.maxBytes && this.#entries.size > 0) {
      const oldest = this.#entries.values().next().value as E;
      this.#remove(oldest);
    }
  }

  #watchFolder(folder: string): void {
    if (this.#watchers.has(folder) || this.#watchers.size >= this.#options.maxWatchedFolders) return;
    let watcher: FSWatcher;
    try {
      watcher = watch(folder, { persistent: false }, (_event, filename) => {
        this.#generation++;
        if (filename === null || filename === undefined) this.invalidatePath(folder);
        else this.invalidatePath(join(folder, filename.toString()));
      });
    } catch {
      return; // unwatchable (ENOSPC: too many inotify watches, EACCES, ...): the time-based check remains
    }
    watcher.on('error', () => {
      this.#generation++;
      watcher.close();
      this.#watchers.delete(folder);
      this.invalidatePath(folder);
    });
    this.#watchers.set(folder, watcher);
  }
}
