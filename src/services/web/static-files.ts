import type { Stats } from 'node:fs';
import { open, opendir, readdir, realpath, stat, type FileHandle } from 'node:fs/promises';
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import { basename, join, sep } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { brotliCompress, constants as zlibConstants, createBrotliCompress, createGzip, gzip } from 'node:zlib';
import { promisify } from 'node:util';
import { randomBytes } from 'node:crypto';
import { ByteBudget } from '../../core/byte-budget.js';
import type { Logger } from '../../core/logger.js';
import type { ServiceMetrics } from '../../core/metrics.js';
import { FileCache, type CacheEntry } from './file-cache.js';
import { contentTypeFor, isCompressible } from './mime.js';
import { errorPage, listingPage, notFoundPage, type ListingEntry } from './pages.js';
import {
  contentRange,
  decodeRequestTarget,
  encodePath,
  evaluatePreconditions,
  evaluateRange,
  fileEtag,
  formatHttpDate,
  ifRangeHolds,
  multipartLayout,
  negotiateEncoding,
  type ByteRange,
  type CompressedCoding,
  type ContentCoding,
  type Validators,
} from './protocol.js';

const gzipAsync = promisify(gzip);
const brotliAsync = promisify(brotliCompress);

/** The parts of a request the handler reads: Node's http and http2 (compatibility API) requests both fit. */
export interface WebRequest {
  method?: string | undefined;
  url?: string | undefined;
  headers: IncomingHttpHeaders;
  httpVersion: string;
  socket: { remoteAddress?: string | undefined } | null;
}

/** The parts of a response the handler uses: Node's http and http2 (compatibility API) responses both fit. */
export interface WebResponse {
  writeHead(status: number, headers?: OutgoingHttpHeaders): unknown;
  write(chunk: Buffer | string, callback?: (error?: Error | null) => void): boolean;
  end(chunk?: Buffer | string): unknown;
  destroy(error?: Error): unknown;
  readonly headersSent: boolean;
  once(event: 'close' | 'drain' | 'finish', listener: () => void): unknown;
  off(event: 'close' | 'drain' | 'finish', listener: () => void): unknown;
}

export interface AccessEntry {
  request: WebRequest;
  status: number;
  bytes: number;
  startMs: number;
}

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

interface Version {
  size: number;
  mtimeMs: number;
  ino: number;
  dev: number;
}

interface Representation {
  coding: ContentCoding;
  body: Buffer;
  validators: Validators;
  okHeaders: OutgoingHttpHeaders;
  notModifiedHeaders: OutgoingHttpHeaders;
}

const ENTRY_OVERHEAD_BYTES = 1024;
const MAX_ROUTES = 8192;
const MAX_NEGOTIATIONS = 512;
const MAX_LISTING_ENTRIES = 10_000;
const SIBLINGS: ReadonlyArray<readonly [CompressedCoding, string]> = [
  ['br', '.br'],
  ['gzip', '.gz'],
];

/** A small file held in memory with everything needed to answer for it without touching the disk. */
class FileEntry implements CacheEntry {
  valid = true;
  referenced = true;
  checkedAt: number;
  bytes: number;
  identity: Representation;
  /** Compressed variants: a representation, `null` when compression did not pay, or the work in progress. */
  readonly variants = new Map<CompressedCoding, Representation | null | Promise<Representation | null>>();
  revalidating: Promise<boolean> | undefined;

  constructor(
    readonly key: string,
    readonly realPath: string,
    readonly dependencies: readonly string[],
    readonly version: Version,
    /** The precompressed siblings found at load time (`null`: absent), checked again on revalidation. */
    readonly siblingVersions: ReadonlyMap<CompressedCoding, Version | null>,
    /** Codings on offer, best first. */
    readonly offered: readonly CompressedCoding[],
    identity: Representation,
    now: number,
  ) {
    this.identity = identity;
    this.checkedAt = now;
    this.bytes = identity.body.length + ENTRY_OVERHEAD_BYTES;
  }
}

const versionOf = (s: Stats): Version => ({ size: s.size, mtimeMs: s.mtimeMs, ino: s.ino, dev: s.dev });
const sameVersion = (a: Version | null | undefined, b: Version | null | undefined) =>
  (a ?? null) === null ? (b ?? null) === null : b != null && a != null && a.size === b.size && a.mtimeMs === b.mtimeMs && a.ino === b.ino && a.dev === b.dev;

class ClientGone extends Error {
  constructor() {
    super('the client went away');
  }
}

/**
 * The static-file request handler behind `wharf web serve` and `WebServer`. One instance per
 * server; `handle` is the `request` listener of a Node http (or http2 compatibility) server.
 *
 * The hot path (a small file already in memory, no conditional or range header) is a Map lookup
 * and `res.writeHead(200, headers)` + `res.end(bytes)` with headers built when the file was read.
 * Everything else goes through `#resolve`, which decodes the target, stats, checks the real path
 * is under the root, and either caches the file (small) or streams it (large).
 */
export class StaticFiles {
  readonly #options: StaticFilesOptions;
  readonly #cache: FileCache<FileEntry>;
  /**
   * Raw request target → cache key (the file's path under the root). Targets map to paths
   * deterministically, so this is a memo of decoding and never goes stale; a hit skips
   * decoding, stat and realpath. It holds strings only: an evicted entry is really freed.
   */
  readonly #routes = new Map<string, string>();
  readonly #negotiated = new Map<string, ContentCoding>();
  readonly #commonHeaders: OutgoingHttpHeaders;
  readonly #boundary = randomBytes(12).toString('hex');
  readonly #rootPrefix: string;
  readonly #allowed: string;
  #activeStreams = 0;
  readonly #streamBudget: ByteBudget;

  constructor(options: StaticFilesOptions) {
    this.#options = options;
    this.#cache = new FileCache<FileEntry>({ maxBytes: options.cacheMaxBytes, watch: options.watch });
    this.#streamBudget = new ByteBudget(options.streamMemoryBytes);
    this.#rootPrefix = options.root.endsWith(sep) ? options.root : options.root + sep;
    this.#allowed = options.cors === false ? 'GET, HEAD' : 'GET, HEAD, OPTIONS';
    const common: OutgoingHttpHeaders = { 'X-Content-Type-Options': 'nosniff' };
    if (options.cors !== false) {
      common['Access-Control-Allow-Origin'] = options.cors;
      common['Access-Control-Expose-Headers'] = 'Content-Range, Accept-Ranges, Content-Encoding, ETag, Last-Modified';
      if (options.cors !== '*') common.Vary = 'Origin';
    }
    this.#commonHeaders = common;
  }

  /** Bytes of stream buffers held now (under `streamMemoryBytes`), and transfers waiting for some. */
  get streamMemory(): { used: number; waiting: number; limit: number } {
    return { used: this.#streamBudget.used, waiting: this.#streamBudget.waiting, limit: this.#streamBudget.limit };
  }

  /** Cache statistics, for tests and diagnostics. */
  get cacheStats(): { entries: number; bytes: number; watchedFolders: number; routes: number } {
    return { entries: this.#cache.size, bytes: this.#cache.bytes, watchedFolders: this.#cache.watchedFolders, routes: this.#routes.size };
  }

  close(): void {
    this.#cache.close();
    this.#routes.clear();
  }

  /** The `request` listener. Never throws: a bug becomes a 500 and a log line. */
  readonly handle = (req: WebRequest, res: WebResponse): void => {
    const startMs = this.#options.accessLog === undefined ? 0 : Date.now();
    try {
      const method = req.method;
      if (method === 'GET' || method === 'HEAD') {
        const url = req.url ?? '';
        const key = this.#routes.get(url);
        const entry = key === undefined ? undefined : this.#cache.get(key);
        if (entry !== undefined && Date.now() - entry.checkedAt < this.#options.revalidateMs) {
          this.#serveEntry(req, res, entry, method === 'HEAD', startMs);
          return;
        }
        this.#resolve(req, res, url, method === 'HEAD', entry, startMs).catch((error: unknown) => this.#internalError(req, res, error, startMs));
      } else if (method === 'OPTIONS' && this.#options.cors !== false) {
        this.#preflight(req, res, startMs);
      } else {
        this.#sendPage(req, res, 405, errorPage(405, 'Method Not Allowed', `This server only reads files: use ${this.#allowed}.`), startMs, { Allow: this.#allowed });
      }
    } catch (error) {
      this.#internalError(req, res, error, startMs);
    }
  };

  /** Answer a request refused before it reaches the files (a malformed head) with a 400 page. */
  refuse(req: WebRequest, res: WebResponse, status: 400, reason: string): void {
    const startMs = this.#options.accessLog === undefined ? 0 : Date.now();
    this.#sendPage(req, res, status, errorPage(status, 'Bad Request', `This request cannot be served: ${reason}.`), startMs);
  }

  // ─── Cached files ──────────────────────────────────────────────────────────────────────────────

  #serveEntry(req: WebRequest, res: WebResponse, entry: FileEntry, head: boolean, startMs: number): void {
    const headers = req.headers;
    let representation = entry.identity;
    if (entry.offered.length > 0) {
      const accept = headers['accept-encoding'];
      if (accept !== undefined) {
        const coding = this.#negotiate(accept, entry.offered);
        if (coding !== 'identity') {
          const variant = entry.variants.get(coding);
          if (variant === undefined || variant instanceof Promise) {
            this.#compressed(entry, coding).then(
              (made) => this.#serveRepresentation(req, res, entry, made ?? entry.identity, head, startMs),
              (error: unknown) => this.#internalError(req, res, error, startMs),
            );
            return;
          }
          if (variant !== null) representation = variant;
        }
      }
    }
    this.#serveRepresentation(req, res, entry, representation, head, startMs);
  }

  #serveRepresentation(req: WebRequest, res: WebResponse, entry: FileEntry, chosen: Representation, head: boolean, startMs: number): void {
    const headers = req.headers;
    const range = headers.range;
    if (range === undefined && headers['if-none-match'] === undefined && headers['if-modified-since'] === undefined && headers['if-match'] === undefined && headers['if-unmodified-since'] === undefined) {
      res.writeHead(200, chosen.okHeaders);
      if (head) res.end();
      else res.end(chosen.body);
      this.#done(req, 200, head ? 0 : chosen.body.length, startMs);
      return;
    }
    let representation = chosen;
    // Ranges are served from the identity bytes; If-Range decides whether the client's copy is current.
    let rangeApplies = false;
    if (range !== undefined && !head && ifRangeHolds(single(headers['if-range']), entry.identity.validators)) {
      representation = entry.identity;
      rangeApplies = true;
    }
    const precondition = evaluatePreconditions(headers, representation.validators);
    if (precondition === 'not-modified') {
      res.writeHead(304, representation.notModifiedHeaders);
      res.end();
      this.#done(req, 304, 0, startMs);
      return;
    }
    if (precondition === 'precondition-failed') {
      this.#sendPage(req, res, 412, errorPage(412, 'Precondition Failed', 'The file has changed since the version your request names.'), startMs);
      return;
    }
    const body = representation.body;
    const outcome = rangeApplies ? evaluateRange(range, body.length, this.#options.maxRanges) : ({ kind: 'whole' } as const);
    if (outcome.kind === 'whole') {
      res.writeHead(200, representation.okHeaders);
      if (head) res.end();
      else res.end(body);
      this.#done(req, 200, head ? 0 : body.length, startMs);
      return;
    }
    if (outcome.kind === 'unsatisfiable') {
      this.#unsatisfiable(req, res, body.length, startMs);
      return;
    }
    const base = { ...representation.okHeaders };
    const ranges = outcome.ranges;
    if (ranges.length === 1) {
      const only = ranges[0] as ByteRange;
      base['Content-Range'] = contentRange(only, body.length);
      base['Content-Length'] = only.end - only.start + 1;
      res.writeHead(206, base);
      res.end(body.subarray(only.start, only.end + 1));
      this.#done(req, 206, only.end - only.start + 1, startMs);
      return;
    }
    const layout = multipartLayout(ranges, body.length, String(base['Content-Type']), this.#boundary);
    const parts: Buffer[] = [];
    ranges.forEach((r, i) => parts.push(Buffer.from(layout.heads[i] as string), body.subarray(r.start, r.end + 1)));
    parts.push(Buffer.from(layout.tail));
    base['Content-Type'] = layout.contentType;
    base['Content-Length'] = layout.length;
    res.writeHead(206, base);
    res.end(Buffer.concat(parts, layout.length));
    this.#done(req, 206, layout.length, startMs);
  }

  #negotiate(accept: string, offered: readonly CompressedCoding[]): ContentCoding {
    const key = offered.length === 2 ? accept : `${accept}\u0000${offered.join(',')}`;
    let coding = this.#negotiated.get(key);
    if (coding === undefined) {
      coding = negotiateEncoding(accept, offered);
      if (this.#negotiated.size >= MAX_NEGOTIATIONS) this.#negotiated.clear();
      this.#negotiated.set(key, coding);
    }
    return coding;
  }

  /** The compressed variant of a cached file, made once (concurrent requests share the work). */
  #compressed(entry: FileEntry, coding: CompressedCoding): Promise<Representation | null> {
    const existing = entry.variants.get(coding);
    if (existing !== undefined) return Promise.resolve(existing);
    const source = entry.identity;
    const work = (coding === 'br'
      ? brotliAsync(source.body, { params: { [zlibConstants.BROTLI_PARAM_QUALITY]: 6, [zlibConstants.BROTLI_PARAM_SIZE_HINT]: source.body.length } })
      : gzipAsync(source.body, { level: 6 })
    ).then((compressed): Representation | null => {
      const made = compressed.length < source.body.length ? this.#representation(coding, compressed, source.validators.lastModifiedMs, fileEtag(entry.version.size, entry.version.mtimeMs, coding === 'br' ? '-br' : '-gz'), String(source.okHeaders['Content-Type']), true) : null;
      if (entry.variants.get(coding) === work) {
        entry.variants.set(coding, made);
        if (made !== null) this.#cache.grew(entry, made.body.length);
      }
      return made;
    }, (error: unknown) => {
      // Never again for this file: identity it is (the caller logs the error once).
      if (entry.variants.get(coding) === work) entry.variants.set(coding, null);
      throw error;
    });
    entry.variants.set(coding, work);
    return work;
  }

  #representation(coding: ContentCoding, body: Buffer, lastModifiedMs: number, etag: string, contentType: string, vary: boolean): Representation {
    const lastModified = formatHttpDate(lastModifiedMs);
    const ok: OutgoingHttpHeaders = {
      'Content-Type': contentType,
      'Content-Length': body.length,
      ETag: etag,
      'Last-Modified': lastModified,
      'Cache-Control': this.#options.cacheControl,
      ...this.#commonHeaders,
    };
    if (coding === 'identity') ok['Accept-Ranges'] = 'bytes';
    else ok['Content-Encoding'] = coding;
    const notModified: OutgoingHttpHeaders = { ETag: etag, 'Last-Modified': lastModified, 'Cache-Control': this.#options.cacheControl, ...this.#commonHeaders };
    if (vary) {
      const value = this.#options.cors !== false && this.#options.cors !== '*' ? 'Origin, Accept-Encoding' : 'Accept-Encoding';
      ok.Vary = value;
      notModified.Vary = value;
    }
    return { coding, body, validators: { etag, lastModifiedMs }, okHeaders: ok, notModifiedHeaders: notModified };
  }

  // ─── Resolving a target ────────────────────────────────────────────────────────────────────────

  async #resolve(req: WebRequest, res: WebResponse, url: string, head: boolean, stale: FileEntry | undefined, startMs: number): Promise<void> {
    // A known route whose check is due: one stat() says whether the bytes in memory are still the file.
    if (stale !== undefined && stale.valid) {
      if (await this.#revalidate(stale)) {
        this.#serveEntry(req, res, stale, head, startMs);
        return;
      }
    }
    const target = decodeRequestTarget(url, { allowWellKnown: true });
    if (!target.ok) {
      if (target.status === 404) this.#sendPage(req, res, 404, notFoundPage({ path: safeDisplayPath(url) }), startMs);
      else this.#sendPage(req, res, 400, errorPage(400, 'Bad Request', `This request cannot be served: ${target.reason}.`), startMs);
      return;
    }
    const { segments } = target;
    const folderPath = join(this.#options.root, ...segments);
    const filePath = target.directory || segments.length === 0 ? join(folderPath, this.#options.index) : folderPath;
    const displayPath = `/${segments.join('/')}${target.directory && segments.length > 0 ? '/' : ''}`;

    const cached = this.#cache.get(filePath);
    if (cached !== undefined && (Date.now() - cached.checkedAt < this.#options.revalidateMs || (await this.#revalidate(cached)))) {
      this.#remember(url, cached);
      this.#serveEntry(req, res, cached, head, startMs);
      return;
    }

    let stats: Stats;
    try {
      stats = await stat(filePath);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'EACCES') {
        this.#sendPage(req, res, 403, errorPage(403, 'Forbidden', 'The server may not read this file.'), startMs);
        return;
      }
      if (filePath !== folderPath) {
        // A folder without its index file: a listing, or a 404 that says why.
        const folder = await this.#folderUnderRoot(folderPath);
        if (folder !== undefined) {
          if (this.#options.listing) await this.#sendListing(req, res, folder, displayPath, segments, head, startMs);
          else this.#sendPage(req, res, 404, notFoundPage({ path: displayPath, folderWithoutIndex: true }), startMs);
          return;
        }
      }
      await this.#notFound(req, res, segments, displayPath, startMs);
      return;
    }
    if (stats.isDirectory()) {
      // `/docs` names a folder: send the browser to `/docs/` so relative links work.
      const location = encodePath(segments, true) + (target.query === '' ? '' : `?${target.query}`);
      this.#sendPage(req, res, 301, errorPage(301, 'Moved Permanently', `This is a folder: ${location}`), startMs, { Location: location });
      return;
    }
    if (!stats.isFile()) {
      await this.#notFound(req, res, segments, displayPath, startMs);
      return;
    }
    const real = await this.#realPathUnderRoot(filePath);
    if (real === undefined) {
      await this.#notFound(req, res, segments, displayPath, startMs);
      return;
    }
    if (stats.size <= this.#options.cacheMaxFileBytes) {
      const entry = await this.#load(filePath, real);
      if (entry !== undefined) {
        this.#remember(url, entry);
        this.#serveEntry(req, res, entry, head, startMs);
        return;
      }
    }
    await this.#stream(req, res, filePath, real, head, startMs);
  }

  #remember(url: string, entry: FileEntry): void {
    if (this.#routes.size >= MAX_ROUTES && !this.#routes.has(url)) {
      const oldest = this.#routes.keys().next().value;
      if (oldest !== undefined) this.#routes.delete(oldest);
    }
    this.#routes.set(url, entry.key);
  }

  async #realPathUnderRoot(path: string): Promise<string | undefined> {
    try {
      const real = await realpath(path);
      return real === this.#options.root || real.startsWith(this.#rootPrefix) ? real : undefined;
    } catch {
      return undefined;
    }
  }

  async #folderUnderRoot(path: string): Promise<string | undefined> {
    try {
      if (!(await stat(path)).isDirectory()) return undefined;
    } catch {
      return undefined;
    }
    return this.#realPathUnderRoot(path);
  }

  /** Is the entry still what is on disk? One stat of the file (and of its possible siblings). */
  #revalidate(entry: FileEntry): Promise<boolean> {
    entry.revalidating ??= (async () => {
      const paths = [entry.key, ...(this.#options.precompressed ? SIBLINGS.map(([, ext]) => entry.key + ext) : [])];
      const versions = await Promise.all(paths.map((p) => stat(p).then(versionOf, () => null)));
      let same = sameVersion(versions[0], entry.version);
      if (this.#options.precompressed) {
        SIBLINGS.forEach(([coding], i) => {
          if (!sameVersion(versions[i + 1], entry.siblingVersions.get(coding) ?? null)) same = false;
        });
      }
      if (same && entry.valid) {
        entry.checkedAt = Date.now();
        return true;
      }
      if (entry.valid) {
        // The watchers missed this change (or there are none): drop it, and watch again.
        this.#cache.invalidate(entry);
        this.#cache.rewatch(entry.dependencies);
      }
      return false;
    })().finally(() => {
      entry.revalidating = undefined;
    });
    return entry.revalidating;
  }

  /** Read a small file (and its precompressed siblings) into a cache entry; undefined if it changed under us or grew. */
  async #load(filePath: string, real: string): Promise<FileEntry | undefined> {
    const dependencies = [filePath, real];
    if (this.#options.precompressed) for (const [, ext] of SIBLINGS) dependencies.push(filePath + ext, real + ext);
    this.#cache.watchFor(dependencies);
    const generation = this.#cache.generation;
    const main = await readStable(real, this.#options.cacheMaxFileBytes);
    if (main === undefined) return undefined;
    const contentType = contentTypeFor(basename(filePath));
    const siblingVersions = new Map<CompressedCoding, Version | null>();
    const siblings = new Map<CompressedCoding, { body: Buffer; version: Version }>();
    if (this.#options.precompressed) {
      await Promise.all(
        SIBLINGS.map(async ([coding, ext]) => {
          const siblingPath = filePath + ext;
          const version = await stat(siblingPath).then(versionOf, () => null);
          siblingVersions.set(coding, version);
          if (version === null) return;
          const siblingReal = await this.#realPathUnderRoot(siblingPath);
          if (siblingReal === undefined) return;
          const read = await readStable(siblingReal, this.#options.cacheMaxFileBytes);
          if (read !== undefined) siblings.set(coding, read);
        }),
      );
    }
    const compressible = this.#options.compress && isCompressible(contentType) && main.body.length >= this.#options.compressMinBytes && main.body.length <= this.#options.compressMaxBytes;
    const offered: CompressedCoding[] = [];
    for (const [coding] of SIBLINGS) {
      if (siblings.has(coding)) offered.push(coding);
      else if (compressible) offered.push(coding); // made on the fly, once
    }
    const vary = offered.length > 0 || (this.#options.compress && isCompressible(contentType));
    const identity = this.#representation('identity', main.body, main.version.mtimeMs, fileEtag(main.version.size, main.version.mtimeMs), contentType, vary);
    const entry = new FileEntry(filePath, real, dependencies, main.version, siblingVersions, offered, identity, Date.now());
    for (const [coding, sibling] of siblings) {
      const variant = this.#representation(coding, sibling.body, sibling.version.mtimeMs, fileEtag(sibling.version.size, sibling.version.mtimeMs, coding === 'br' ? '-br' : '-gz'), contentType, true);
      entry.variants.set(coding, variant);
      entry.bytes += sibling.body.length;
    }
    this.#cache.insert(entry, generation);
    return entry;
  }

  // ─── Large files ───────────────────────────────────────────────────────────────────────────────

  /** Serve a file too large to cache: stat, negotiate, then stream from an open handle. */
  async #stream(req: WebRequest, res: WebResponse, filePath: string, real: string, head: boolean, startMs: number): Promise<void> {
    const handles: FileHandle[] = [];
    try {
      let handle: FileHandle;
      try {
        handle = await open(real, 'r');
      } catch (error) {
        // Gone or made unreadable since the stat.
        if ((error as NodeJS.ErrnoException).code === 'EACCES') this.#sendPage(req, res, 403, errorPage(403, 'Forbidden', 'The server may not read this file.'), startMs);
        else this.#sendPage(req, res, 404, notFoundPage({ path: safeDisplayPath(req.url ?? '') }), startMs);
        return;
      }
      handles.push(handle);
      const stats = await handle.stat();
      if (!stats.isFile()) {
        this.#sendPage(req, res, 404, notFoundPage({ path: safeDisplayPath(req.url ?? '') }), startMs);
        return;
      }
      const size = stats.size;
      const contentType = contentTypeFor(basename(filePath));
      const mayCompress = this.#options.compress && isCompressible(contentType) && size >= this.#options.compressMinBytes && size <= this.#options.compressMaxBytes;
      // Precompressed siblings, opened now so what we describe is what we send.
      const siblings = new Map<CompressedCoding, { handle: FileHandle; stats: Stats }>();
      if (this.#options.precompressed) {
        for (const [coding, ext] of SIBLINGS) {
          const siblingReal = await this.#realPathUnderRoot(filePath + ext);
          if (siblingReal === undefined) continue;
          try {
            const siblingHandle = await open(siblingReal, 'r');
            handles.push(siblingHandle);
            const siblingStats = await siblingHandle.stat();
            if (siblingStats.isFile()) siblings.set(coding, { handle: siblingHandle, stats: siblingStats });
          } catch {
            // gone or unreadable: not on offer
          }
        }
      }
      const offered = SIBLINGS.map(([coding]) => coding).filter((coding) => siblings.has(coding) || mayCompress);
      const vary = offered.length > 0 || (this.#options.compress && isCompressible(contentType));
      const identityEtag = fileEtag(size, stats.mtimeMs);
      const headers = req.headers;
      const accept = headers['accept-encoding'];
      let coding: ContentCoding = accept === undefined || offered.length === 0 ? 'identity' : this.#negotiate(accept, offered);
      const range = headers.range;
      let rangeApplies = false;
      if (range !== undefined && !head && ifRangeHolds(single(headers['if-range']), { etag: identityEtag, lastModifiedMs: stats.mtimeMs })) {
        coding = 'identity';
        rangeApplies = true;
      }
      const sibling = coding === 'identity' ? undefined : siblings.get(coding);
      const chosenStats = sibling?.stats ?? stats;
      const suffix = coding === 'br' ? '-br' : coding === 'gzip' ? '-gz' : '';
      const etag = coding === 'identity' ? identityEtag : fileEtag(chosenStats.size, chosenStats.mtimeMs, suffix);
      const validators = { etag, lastModifiedMs: chosenStats.mtimeMs };
      const template = this.#representation(coding, EMPTY, validators.lastModifiedMs, etag, contentType, vary);

      const precondition = evaluatePreconditions(headers, validators);
      if (precondition === 'not-modified') {
        res.writeHead(304, template.notModifiedHeaders);
        res.end();
        this.#done(req, 304, 0, startMs);
        return;
      }
      if (precondition === 'precondition-failed') {
        this.#sendPage(req, res, 412, errorPage(412, 'Precondition Failed', 'The file has changed since the version your request names.'), startMs);
        return;
      }
      const closed = watchClose(res);
      const ok: OutgoingHttpHeaders = { ...template.okHeaders, 'Content-Length': chosenStats.size };
      if (coding !== 'identity' && sibling === undefined) {
        // Compressed on the fly: the length is not known in advance (chunked, or close-delimited for HTTP/1.0).
        delete ok['Content-Length'];
        res.writeHead(200, ok);
        if (head) {
          res.end();
          this.#done(req, 200, 0, startMs);
          return;
        }
        // The read-ahead and the compressor's output wait in memory for a slow reader: charged like a transfer's buffers.
        const release = await this.#reserve(req, 2 * COMPRESS_READ_BYTES, closed.promise);
        if (release === undefined) {
          res.destroy();
          this.#done(req, 200, 0, startMs);
          return;
        }
        const compressor = coding === 'br' ? createBrotliCompress({ params: { [zlibConstants.BROTLI_PARAM_QUALITY]: 4, [zlibConstants.BROTLI_PARAM_SIZE_HINT]: size } }) : createGzip({ level: 6 });
        const source = handle.createReadStream({ autoClose: false, start: 0, end: Math.max(0, size - 1), highWaterMark: COMPRESS_READ_BYTES });
        try {
          await pipeline(source, compressor, res as unknown as NodeJS.WritableStream);
          this.#done(req, 200, size, startMs);
        } catch {
          res.destroy();
          this.#done(req, 200, 0, startMs);
        } finally {
          release();
        }
        return;
      }
      if (sibling !== undefined) {
        res.writeHead(200, ok);
        await this.#sendBody(req, res, sibling.handle, [{ start: 0, end: sibling.stats.size - 1 }], head, 200, closed, startMs);
        return;
      }
      const outcome = rangeApplies ? evaluateRange(range, size, this.#options.maxRanges) : ({ kind: 'whole' } as const);
      if (outcome.kind === 'unsatisfiable') {
        this.#unsatisfiable(req, res, size, startMs);
        return;
      }
      if (outcome.kind === 'whole') {
        res.writeHead(200, ok);
        await this.#sendBody(req, res, handle, size === 0 ? [] : [{ start: 0, end: size - 1 }], head, 200, closed, startMs);
        return;
      }
      const ranges = outcome.ranges;
      if (ranges.length === 1) {
        const only = ranges[0] as ByteRange;
        ok['Content-Range'] = contentRange(only, size);
        ok['Content-Length'] = only.end - only.start + 1;
        res.writeHead(206, ok);
        await this.#sendBody(req, res, handle, ranges, head, 206, closed, startMs);
        return;
      }
      const layout = multipartLayout(ranges, size, contentType, this.#boundary);
      ok['Content-Type'] = layout.contentType;
      ok['Content-Length'] = layout.length;
      res.writeHead(206, ok);
      await this.#sendBody(req, res, handle, ranges, head, 206, closed, startMs, layout);
    } finally {
      await Promise.all(handles.map((h) => h.close().catch(() => {})));
    }
  }

  /**
   * Write byte ranges of an open file to the response, two buffers in flight: one being read
   * from disk while the other is being written to the socket. A file that shrank under us ends
   * the connection (a short body must never pass for a whole one).
   */
  async #sendBody(
    req: WebRequest,
    res: WebResponse,
    handle: FileHandle,
    ranges: readonly ByteRange[],
    head: boolean,
    status: number,
    closed: { readonly closed: boolean; readonly promise: Promise<void> },
    startMs: number,
    layout?: { heads: string[]; tail: string },
  ): Promise<void> {
    if (head) {
      res.end();
      this.#done(req, status, 0, startMs);
      return;
    }
    // Two buffers per stream; with many streams at once each gets less, and past the budgets a
    // stream waits its turn, so memory stays bounded however many streams a peer opens.
    const share = Math.floor(this.#options.streamMemoryBytes / (2 * (this.#activeStreams + 1)));
    const connectionShare = Math.floor((this.#options.connectionBudget?.(req)?.limit ?? Infinity) / 8);
    const chunk = Math.max(MIN_CHUNK_BYTES, Math.min(this.#options.streamChunkBytes, share, connectionShare));
    const total = ranges.reduce((sum, r) => sum + r.end - r.start + 1, 0);
    const bufferBytes = Math.max(1, Math.min(chunk, total));
    const release = await this.#reserve(req, 2 * bufferBytes, closed.promise);
    if (release === undefined) {
      res.destroy();
      this.#done(req, status, 0, startMs);
      return;
    }
    const buffers = [Buffer.allocUnsafe(bufferBytes), Buffer.allocUnsafe(bufferBytes)];
    const inFlight: Array<Promise<void> | undefined> = [undefined, undefined];
    let sent = 0;
    let turn = 0;
    this.#activeStreams++;
    try {
      for (let i = 0; i < ranges.length; i++) {
        const range = ranges[i] as ByteRange;
        if (layout) res.write(layout.heads[i] as string);
        let position = range.start;
        while (position <= range.end) {
          const slot = turn;
          turn ^= 1;
          const pending = inFlight[slot];
          if (pending !== undefined) await Promise.race([pending, closed.promise]);
          if (closed.closed) throw new ClientGone();
          const buffer = buffers[slot] as Buffer;
          const want = Math.min(buffer.length, range.end - position + 1);
          const { bytesRead } = await handle.read(buffer, 0, want, position);
          if (bytesRead === 0) throw new Error(`the file shrank while being sent (${req.url ?? ''})`);
          position += bytesRead;
          sent += bytesRead;
          const data = bytesRead === buffer.length ? buffer : buffer.subarray(0, bytesRead);
          inFlight[slot] = new Promise<void>((resolve) => {
            res.write(data, () => resolve());
          });
        }
      }
      await Promise.race([Promise.all(inFlight), closed.promise]);
      if (closed.closed) throw new ClientGone();
      res.end(layout?.tail);
      this.#done(req, status, sent, startMs);
    } catch (error) {
      res.destroy();
      this.#done(req, status, sent, startMs);
      if (!(error instanceof ClientGone)) this.#options.logger.warn({ err: error, url: req.url }, 'file transfer failed');
    } finally {
      this.#activeStreams--;
      release();
    }
  }

  /**
   * Hold `bytes` of the connection's budget and of the process's, waiting in line for them.
   * Undefined when the client went away while waiting (nothing is held then).
   */
  async #reserve(req: WebRequest, bytes: number, gone: Promise<void>): Promise<(() => void) | undefined> {
    const connection = this.#options.connectionBudget?.(req);
    if (connection !== undefined && !(await connection.acquire(bytes, gone))) return undefined;
    if (!(await this.#streamBudget.acquire(bytes, gone))) {
      connection?.release(bytes);
      return undefined;
    }
    let held = true;
    return () => {
      if (!held) return;
      held = false;
      this.#streamBudget.release(bytes);
      connection?.release(bytes);
    };
  }

  // ─── Other answers ─────────────────────────────────────────────────────────────────────────────

  async #notFound(req: WebRequest, res: WebResponse, segments: readonly string[], displayPath: string, startMs: number): Promise<void> {
    const suggestions = segments.length === 0 ? [] : await this.#suggest(segments);
    this.#sendPage(req, res, 404, notFoundPage({ path: displayPath, suggestions }), startMs);
  }

  /** Up to three names in the same folder that look like the one asked for (case, a typo or two). */
  async #suggest(segments: readonly string[]): Promise<string[]> {
    const wanted = (segments[segments.length - 1] as string).toLowerCase();
    if (wanted.length > 64) return [];
    const parent = segments.slice(0, -1);
    const folder = await this.#folderUnderRoot(join(this.#options.root, ...parent));
    if (folder === undefined) return [];
    const scored: Array<{ name: string; directory: boolean; score: number }> = [];
    try {
      const dir = await opendir(folder, { bufferSize: 64 });
      let seen = 0;
      for await (const dirent of dir) {
        if (++seen > 2000) break;
        if (dirent.name.startsWith('.')) continue;
        const score = editDistance(wanted, dirent.name.toLowerCase(), 2);
        if (score <= 2) scored.push({ name: dirent.name, directory: dirent.isDirectory(), score });
      }
    } catch {
      return [];
    }
    scored.sort((a, b) => a.score - b.score || (a.name < b.name ? -1 : 1));
    return scored.slice(0, 3).map((s) => encodePath([...parent, s.name], s.directory));
  }

  async #sendListing(req: WebRequest, res: WebResponse, folder: string, displayPath: string, segments: readonly string[], head: boolean, startMs: number): Promise<void> {
    let all;
    try {
      all = await readdir(folder, { withFileTypes: true });
    } catch {
      this.#sendPage(req, res, 403, errorPage(403, 'Forbidden', 'The server may not read this folder.'), startMs);
      return;
    }
    const dirents = all.filter((d) => !d.name.startsWith('.')).slice(0, MAX_LISTING_ENTRIES);
    const entries: ListingEntry[] = [];
    for (let i = 0; i < dirents.length; i += 64) {
      const batch = await Promise.all(
        dirents.slice(i, i + 64).map(async (dirent) => {
          try {
            const s = await stat(join(folder, dirent.name));
            if (!s.isFile() && !s.isDirectory()) return undefined;
            return { name: dirent.name, directory: s.isDirectory(), size: s.size, mtimeMs: s.mtimeMs } satisfies ListingEntry;
          } catch {
            return undefined;
          }
        }),
      );
      for (const e of batch) if (e !== undefined) entries.push(e);
    }
    const html = Buffer.from(listingPage(displayPath, encodePath(segments, true), entries));
    const headers: OutgoingHttpHeaders = { 'Content-Type': 'text/html; charset=utf-8', 'Content-Length': html.length, 'Cache-Control': 'no-cache', ...this.#commonHeaders };
    res.writeHead(200, headers);
    res.end(head ? undefined : html);
    this.#done(req, 200, head ? 0 : html.length, startMs);
  }

  #preflight(req: WebRequest, res: WebResponse, startMs: number): void {
    const requested = req.headers['access-control-request-headers'];
    const headers: OutgoingHttpHeaders = {
      ...this.#commonHeaders,
      'Access-Control-Allow-Methods': 'GET, HEAD, OPTIONS',
      'Access-Control-Max-Age': '86400',
      Allow: this.#allowed,
      'Content-Length': 0,
    };
    if (typeof requested === 'string' && /^[A-Za-z0-9!#$%&'*+.^_`|~, -]{1,1024}$/.test(requested)) headers['Access-Control-Allow-Headers'] = requested;
    res.writeHead(204, headers);
    res.end();
    this.#done(req, 204, 0, startMs);
  }

  #unsatisfiable(req: WebRequest, res: WebResponse, size: number, startMs: number): void {
    this.#sendPage(req, res, 416, errorPage(416, 'Range Not Satisfiable', `The file is ${size} bytes long; no range asked for is inside it.`), startMs, {
      'Content-Range': `bytes */${size}`,
      'Accept-Ranges': 'bytes',
    });
  }

  #sendPage(req: WebRequest, res: WebResponse, status: number, html: string, startMs: number, extra?: OutgoingHttpHeaders): void {
    const body = Buffer.from(html);
    res.writeHead(status, { 'Content-Type': 'text/html; charset=utf-8', 'Content-Length': body.length, ...this.#commonHeaders, ...extra });
    const head = req.method === 'HEAD';
    res.end(head ? undefined : body);
    this.#done(req, status, head ? 0 : body.length, startMs);
  }

  #internalError(req: WebRequest, res: WebResponse, error: unknown, startMs: number): void {
    if (this.#options.metrics) this.#options.metrics.errors++;
    this.#options.logger.error({ err: error, url: req.url }, 'web request failed');
    if (res.headersSent) {
      res.destroy();
      return;
    }
    try {
      this.#sendPage(req, res, 500, errorPage(500, 'Internal Server Error', 'Something went wrong on the server; the log says what.'), startMs);
    } catch {
      res.destroy();
    }
  }

  #done(req: WebRequest, status: number, bytes: number, startMs: number): void {
    const log = this.#options.accessLog;
    if (log !== undefined) log({ request: req, status, bytes, startMs });
  }
}

const EMPTY = Buffer.alloc(0);
/** The smallest disk read of a transfer, however many share the budget. */
const MIN_CHUNK_BYTES = 16 * 1024;
const COMPRESS_READ_BYTES = 64 * 1024;

/** Read a whole file, making sure it did not change while being read. */
async function readStable(path: string, maxBytes: number): Promise<{ body: Buffer; version: Version } | undefined> {
  for (let attempt = 0; attempt < 3; attempt++) {
    let handle: FileHandle | undefined;
    try {
      handle = await open(path, 'r');
      const before = await handle.stat();
      if (!before.isFile() || before.size > maxBytes) return undefined;
      const body = Buffer.allocUnsafe(before.size);
      let filled = 0;
      while (filled < body.length) {
        const { bytesRead } = await handle.read(body, filled, body.length - filled, filled);
        if (bytesRead === 0) break;
        filled += bytesRead;
      }
      const after = await handle.stat();
      if (filled === before.size && sameVersion(versionOf(before), versionOf(after))) return { body, version: versionOf(after) };
    } catch {
      return undefined;
    } finally {
      await handle?.close().catch(() => {});
    }
  }
  return undefined;
}

/** Resolves when the response closes; `closed` tells synchronously. */
function watchClose(res: WebResponse): { readonly closed: boolean; readonly promise: Promise<void> } {
  const state = { closed: false, promise: Promise.resolve() };
  state.promise = new Promise<void>((resolve) => {
    res.once('close', () => {
      state.closed = true;
      resolve();
    });
  });
  return state;
}

/** For pages about a target that could not be decoded: printable, bounded. */
function safeDisplayPath(url: string): string {
  const path = url.split('?', 1)[0] ?? '';
  let shown: string;
  try {
    shown = decodeURIComponent(path);
  } catch {
    shown = path;
  }
  // eslint-disable-next-line no-control-regex
  return shown.replace(/[\x00-\x1f\x7f]/g, '?').slice(0, 200);
}

/** Levenshtein distance, giving up (returning limit + 1) once it must exceed `limit`. */
export function editDistance(a: string, b: string, limit: number): number {
  if (Math.abs(a.length - b.length) > limit) return limit + 1;
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    let best = i;
    for (let j = 1; j <= b.length; j++) {
      const value = Math.min((previous[j] as number) + 1, (current[j - 1] as number) + 1, (previous[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1));
      current.push(value);
      if (value < best) best = value;
    }
    if (best > limit) return limit + 1;
    previous = current;
  }
  return previous[b.length] as number;
}


/** A header Node may hand over as a list (unknown names repeated): take the first. */
function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
