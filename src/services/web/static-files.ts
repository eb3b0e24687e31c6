/**
 * The static-file request handler behind `wharf web serve` and `WebServer`, in five files by
 * concern: this one resolves a request target to a file under the root (through the store's
 * `FileRoot`) and picks the answer; memory-files.ts answers for small files held in memory
 * (conditional and range requests, compressed variants); file-stream.ts streams large ones;
 * folder-pages.ts makes listings and 404 pages; responder.ts holds what every answer shares.
 */
import type { ByteBudget } from '../../core/byte-budget.js';
import type { Logger } from '../../core/logger.js';
import type { ServiceMetrics } from '../../core/metrics.js';
import { FileRoot, FileRootRefusal } from '../../store/file-root.js';
import { FileStreams } from './file-stream.js';
import { FolderPages } from './folder-pages.js';
import { MemoryFiles, type FileEntry } from './memory-files.js';
import { errorPage, notFoundPage } from './pages.js';
import { decodeRequestTarget, encodePath } from './protocol.js';
import { Responder, safeDisplayPath, type AccessEntry, type WebRequest, type WebResponse } from './responder.js';

export type { AccessEntry, WebRequest, WebResponse } from './responder.js';

export interface StaticFilesOptions {
  /** The web root, already resolved with realpath. */
  root: string;
  /** The file served for a folder (`/docs/` → `/docs/index.html`). */
  index: string;
  listing: boolean;
  /** `false`, or the value of `Access-Control-Allow-Origin` (`*` or an origin). */
  cors: false | string;
  cacheControl: string;
  compress: boolean;
  compressMinBytes: number;
  compressMaxBytes: number;
  precompressed: boolean;
  cacheMaxBytes: number;
  cacheMaxFileBytes: number;
  revalidateMs: number;
  watch: boolean;
  maxRanges: number;
  /** Bytes read from disk per chunk when streaming a file that is not cached. */
  streamChunkBytes: number;
  /**
   * Read buffers of all streams together stay under this: with many streams each gets smaller
   * chunks (down to 16 KiB), and past it a stream waits for another to finish.
   */
  streamMemoryBytes: number;
  /** The budget of the connection a request came on (its streams' buffers stay under it); none: only the process budget. */
  connectionBudget?: ((req: WebRequest) => ByteBudget | undefined) | undefined;
  logger: Logger;
  metrics?: ServiceMetrics | undefined;
  /** Called once per finished response; undefined when access logging is off. */
  accessLog?: ((entry: AccessEntry) => void) | undefined;
}

const MAX_ROUTES = 8192;

/**
 * One instance per server; `handle` is the `request` listener of a Node http (or http2
 * compatibility) server.
 *
 * The hot path (a small file already in memory, no conditional or range header) is a Map lookup
 * and `res.writeHead(200, headers)` + `res.end(bytes)` with headers built when the file was read.
 * Everything else goes through `#resolve`, which decodes the target, finds the file through the
 * root (realpath inside it), and either caches the file (small) or streams it (large).
 */
export class StaticFiles {
  readonly #options: StaticFilesOptions;
  readonly #root: FileRoot;
  readonly #responder: Responder;
  readonly #memory: MemoryFiles;
  readonly #streams: FileStreams;
  readonly #folders: FolderPages;
  /**
   * Raw request target → cache key (the file's path under the root). Targets map to paths
   * deterministically, so this is a memo of decoding and never goes stale; a hit skips
   * decoding, stat and realpath. It holds strings only: an evicted entry is really freed.
   */
  readonly #routes = new Map<string, string>();

  constructor(options: StaticFilesOptions) {
    this.#options = options;
    this.#root = FileRoot.atRealPath(options.root);
    this.#responder = new Responder(options);
    this.#memory = new MemoryFiles(this.#root, options, this.#responder);
    this.#streams = new FileStreams(this.#root, options, this.#responder);
    this.#folders = new FolderPages(this.#root, this.#responder);
  }

  /** Bytes of stream buffers held now (under `streamMemoryBytes`), and transfers waiting for some. */
  get streamMemory(): { used: number; waiting: number; limit: number } {
    return this.#streams.memory;
  }

  /** Cache statistics, for tests and diagnostics. */
  get cacheStats(): { entries: number; bytes: number; watchedFolders: number; routes: number } {
    const cache = this.#memory.cache;
    return { entries: cache.size, bytes: cache.bytes, watchedFolders: cache.watchedFolders, routes: this.#routes.size };
  }

  close(): void {
    this.#memory.cache.close();
    this.#routes.clear();
  }

  /** The `request` listener. Never throws: a bug becomes a 500 and a log line. */
  readonly handle = (req: WebRequest, res: WebResponse): void => {
    const startMs = this.#responder.startTime();
    try {
      const method = req.method;
      if (method === 'GET' || method === 'HEAD') {
        const url = req.url ?? '';
        const key = this.#routes.get(url);
        const entry = key === undefined ? undefined : this.#memory.cache.get(key);
        if (entry !== undefined && Date.now() - entry.checkedAt < this.#options.revalidateMs) {
          this.#memory.serve(req, res, entry, method === 'HEAD', startMs);
          return;
        }
        this.#resolve(req, res, url, method === 'HEAD', entry, startMs).catch((error: unknown) => this.#responder.internalError(req, res, error, startMs));
      } else if (method === 'OPTIONS' && this.#options.cors !== false) {
        this.#responder.preflight(req, res, startMs);
      } else {
        this.#responder.methodNotAllowed(req, res, startMs);
      }
    } catch (error) {
      this.#responder.internalError(req, res, error, startMs);
    }
  };

  /** Answer a request refused before it reaches the files (a malformed head) with a 400 page. */
  refuse(req: WebRequest, res: WebResponse, status: 400, reason: string): void {
    this.#responder.sendPage(req, res, status, errorPage(status, 'Bad Request', `This request cannot be served: ${reason}.`), this.#responder.startTime());
  }

  async #resolve(req: WebRequest, res: WebResponse, url: string, head: boolean, stale: FileEntry | undefined, startMs: number): Promise<void> {
    // A known route whose check is due: one stat() says whether the bytes in memory are still the file.
    if (stale !== undefined && stale.valid && (await this.#memory.revalidate(stale))) {
      this.#memory.serve(req, res, stale, head, startMs);
      return;
    }
    const target = decodeRequestTarget(url, { allowWellKnown: true });
    if (!target.ok) {
      if (target.status === 404) this.#responder.sendPage(req, res, 404, notFoundPage({ path: safeDisplayPath(url) }), startMs);
      else this.#responder.sendPage(req, res, 400, errorPage(400, 'Bad Request', `This request cannot be served: ${target.reason}.`), startMs);
      return;
    }
    const { segments } = target;
    const indexed = target.directory || segments.length === 0;
    const fileSegments = indexed ? [...segments, this.#options.index] : segments;
    const displayPath = `/${segments.join('/')}${target.directory && segments.length > 0 ? '/' : ''}`;
    let filePath: string;
    try {
      filePath = this.#root.lexical(fileSegments);
    } catch {
      // A name the file system could not hold (too long): nothing there.
      await this.#folders.notFound(req, res, segments, displayPath, startMs);
      return;
    }
    const cached = this.#memory.cache.get(filePath);
    if (cached !== undefined && (Date.now() - cached.checkedAt < this.#options.revalidateMs || (await this.#memory.revalidate(cached)))) {
      this.#remember(url, cached);
      this.#memory.serve(req, res, cached, head, startMs);
      return;
    }
    let file;
    try {
      file = await this.#root.existing(fileSegments);
    } catch (error) {
      if (error instanceof FileRootRefusal && error.reason === 'permission-denied') this.#responder.forbidden(req, res, 'file', startMs);
      else await this.#missing(req, res, segments, indexed, displayPath, head, startMs);
      return;
    }
    if (file.stats.isDirectory() && indexed) {
      // `/docs/` whose `index.html` is itself a folder: there is no index page (a redirect to
      // `/docs/index.html/` would be answered the same way, forever).
      await this.#missing(req, res, segments, indexed, displayPath, head, startMs);
      return;
    }
    if (file.stats.isDirectory()) {
      // `/docs` names a folder: send the browser to `/docs/` so relative links work.
      const location = encodePath(segments, true) + (target.query === '' ? '' : `?${target.query}`);
      this.#responder.sendPage(req, res, 301, errorPage(301, 'Moved Permanently', `This is a folder: ${location}`), startMs, { Location: location });
      return;
    }
    if (!file.stats.isFile()) {
      await this.#folders.notFound(req, res, segments, displayPath, startMs);
      return;
    }
    if (file.stats.size <= this.#options.cacheMaxFileBytes) {
      const entry = await this.#memory.load(fileSegments, filePath, file.real);
      if (entry !== undefined) {
        this.#remember(url, entry);
        this.#memory.serve(req, res, entry, head, startMs);
        return;
      }
    }
    await this.#streams.stream(req, res, fileSegments, file.real, head, startMs);
  }

  /** Nothing (inside the root) at the path: a folder's listing, a 404 that says the index is missing, or a 404 that suggests names. */
  async #missing(req: WebRequest, res: WebResponse, segments: readonly string[], indexed: boolean, displayPath: string, head: boolean, startMs: number): Promise<void> {
    const folder = indexed ? await this.#root.folder(segments).catch(() => undefined) : undefined;
    if (folder === undefined) await this.#folders.notFound(req, res, segments, displayPath, startMs);
    else if (this.#options.listing) await this.#folders.listing(req, res, folder.real, displayPath, segments, head, startMs);
    else this.#responder.sendPage(req, res, 404, notFoundPage({ path: displayPath, folderWithoutIndex: true }), startMs);
  }

  #remember(url: string, entry: FileEntry): void {
    if (this.#routes.size >= MAX_ROUTES && !this.#routes.has(url)) {
      const oldest = this.#routes.keys().next().value;
      if (oldest !== undefined) this.#routes.delete(oldest);
    }
    this.#routes.set(url, entry.key);
  }
}
