/**
 * Small files held in memory with everything needed to answer for them without touching the disk:
 * their bytes, their compressed variants (precompressed siblings, or made once on the fly) and
 * the headers of each answer. Conditional and range requests on them are answered here too.
 */
import type { Stats } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { promisify } from 'node:util';
import { brotliCompress, constants as zlibConstants, gzip } from 'node:zlib';
import type { FileRoot } from '../../store/file-root.js';
import { contentTypeFor, isCompressible } from './mime.js';
import { contentRange, evaluateRange, fileEtag, ifRangeHolds, multipartLayout, type ByteRange, type CompressedCoding, type ContentCoding } from './protocol.js';
import type { Representation, Responder, WebRequest, WebResponse } from './responder.js';
import { single } from './responder.js';
import { WebResponseCache, type CacheEntry } from './response-cache.js';
import type { StaticFilesOptions } from './static-files.js';

const gzipAsync = promisify(gzip);
const brotliAsync = promisify(brotliCompress);

/** What says a file is still the one read: a change to any of these is a new version. */
export interface Version {
  size: number;
  mtimeMs: number;
  ino: number;
  dev: number;
}

const versionOf = (s: Stats): Version => ({ size: s.size, mtimeMs: s.mtimeMs, ino: s.ino, dev: s.dev });
/** The version of what is at a path now (symlinks followed), null when nothing is. Not a confinement check: the bytes come from `readStable`. */
const versionAt = (path: string): Promise<Version | null> => stat(path).then(versionOf, () => null);
const sameVersion = (a: Version | null | undefined, b: Version | null | undefined) =>
  (a ?? null) === null ? (b ?? null) === null : b != null && a != null && a.size === b.size && a.mtimeMs === b.mtimeMs && a.ino === b.ino && a.dev === b.dev;

/** Precompressed siblings a file may have (`app.js.br`, `app.js.gz`), best first. */
export const SIBLINGS: ReadonlyArray<readonly [CompressedCoding, string]> = [
  ['br', '.br'],
  ['gzip', '.gz'],
];

/** The segments of a file's sibling: the same folder, the name with `ext` added. */
export function siblingSegments(segments: readonly string[], ext: string): string[] {
  return [...segments.slice(0, -1), `${segments[segments.length - 1] ?? ''}${ext}`];
}

/** The ETag of a compressed form differs from the file's own. */
export function etagSuffix(coding: ContentCoding): string {
  return coding === 'br' ? '-br' : coding === 'gzip' ? '-gz' : '';
}

const ENTRY_OVERHEAD_BYTES = 1024;

/** A small file held in memory with everything needed to answer for it without touching the disk. */
export class FileEntry implements CacheEntry {
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

/** Read a whole file (a realpath from the root), making sure it did not change while being read. */
async function readStable(root: FileRoot, real: string, maxBytes: number): Promise<{ body: Buffer; version: Version } | undefined> {
  for (let attempt = 0; attempt < 3; attempt++) {
    let handle;
    try {
      const opened = await root.openReal(real);
      handle = opened.handle;
      const before = opened.stats;
      if (before.size > maxBytes) return undefined;
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

export class MemoryFiles {
  readonly cache: WebResponseCache<FileEntry>;
  readonly #root: FileRoot;
  readonly #options: StaticFilesOptions;
  readonly #responder: Responder;
  readonly #boundary = randomBytes(12).toString('hex');

  constructor(root: FileRoot, options: StaticFilesOptions, responder: Responder) {
    this.#root = root;
    this.#options = options;
    this.#responder = responder;
    this.cache = new WebResponseCache<FileEntry>({ maxBytes: options.cacheMaxBytes, watch: options.watch });
  }

  /** Is the entry still what is on disk? One stat of the file (and of its possible siblings). */
  revalidate(entry: FileEntry): Promise<boolean> {
    entry.revalidating ??= (async () => {
      const paths = [entry.key, ...(this.#options.precompressed ? SIBLINGS.map(([, ext]) => entry.key + ext) : [])];
      const versions = await Promise.all(paths.map((p) => versionAt(p)));
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
        this.cache.invalidate(entry);
        this.cache.rewatch(entry.dependencies);
      }
      return false;
    })().finally(() => {
      entry.revalidating = undefined;
    });
    return entry.revalidating;
  }

  /**
   * Read a small file (and its precompressed siblings) into a cache entry keyed by `filePath`
   * (its lexical path); undefined if it changed under us or grew.
   */
  async load(segments: readonly string[], filePath: string, real: string): Promise<FileEntry | undefined> {
    const dependencies = [filePath, real];
    if (this.#options.precompressed) for (const [, ext] of SIBLINGS) dependencies.push(filePath + ext, real + ext);
    this.cache.watchFor(dependencies);
    const generation = this.cache.generation;
    const main = await readStable(this.#root, real, this.#options.cacheMaxFileBytes);
    if (main === undefined) return undefined;
    const contentType = contentTypeFor(segments[segments.length - 1] ?? '');
    const { siblings, siblingVersions } = await this.#readSiblings(segments, filePath);
    const compressible = this.#options.compress && isCompressible(contentType) && main.body.length >= this.#options.compressMinBytes && main.body.length <= this.#options.compressMaxBytes;
    const offered: CompressedCoding[] = [];
    for (const [coding] of SIBLINGS) {
      if (siblings.has(coding)) offered.push(coding);
      else if (compressible) offered.push(coding); // made on the fly, once
    }
    const vary = offered.length > 0 || (this.#options.compress && isCompressible(contentType));
    const identity = this.#responder.representation('identity', main.body, main.version.mtimeMs, fileEtag(main.version.size, main.version.mtimeMs), contentType, vary);
    const entry = new FileEntry(filePath, real, dependencies, main.version, siblingVersions, offered, identity, Date.now());
    for (const [coding, sibling] of siblings) {
      const variant = this.#responder.representation(coding, sibling.body, sibling.version.mtimeMs, fileEtag(sibling.version.size, sibling.version.mtimeMs, etagSuffix(coding)), contentType, true);
      entry.variants.set(coding, variant);
      entry.bytes += sibling.body.length;
    }
    this.cache.insert(entry, generation);
    return entry;
  }

  async #readSiblings(segments: readonly string[], filePath: string) {
    const siblingVersions = new Map<CompressedCoding, Version | null>();
    const siblings = new Map<CompressedCoding, { body: Buffer; version: Version }>();
    if (!this.#options.precompressed) return { siblings, siblingVersions };
    await Promise.all(
      SIBLINGS.map(async ([coding, ext]) => {
        const version = await versionAt(filePath + ext);
        siblingVersions.set(coding, version);
        if (version === null) return;
        const siblingReal = await this.#root.realpath(siblingSegments(segments, ext)).catch(() => undefined);
        if (siblingReal === undefined) return;
        const read = await readStable(this.#root, siblingReal, this.#options.cacheMaxFileBytes);
        if (read !== undefined) siblings.set(coding, read);
      }),
    );
    return { siblings, siblingVersions };
  }

  /** Answer from memory: negotiate the coding (compressing once if needed), then the representation. */
  serve(req: WebRequest, res: WebResponse, entry: FileEntry, head: boolean, startMs: number): void {
    let representation = entry.identity;
    const accept = entry.offered.length > 0 ? req.headers['accept-encoding'] : undefined;
    if (accept !== undefined) {
      const coding = this.#responder.negotiate(accept, entry.offered);
      if (coding !== 'identity') {
        const variant = entry.variants.get(coding);
        if (variant === undefined || variant instanceof Promise) {
          this.#compressed(entry, coding).then(
            (made) => this.#serveRepresentation(req, res, entry, made ?? entry.identity, head, startMs),
            (error: unknown) => this.#responder.internalError(req, res, error, startMs),
          );
          return;
        }
        if (variant !== null) representation = variant;
      }
    }
    this.#serveRepresentation(req, res, entry, representation, head, startMs);
  }

  #serveRepresentation(req: WebRequest, res: WebResponse, entry: FileEntry, chosen: Representation, head: boolean, startMs: number): void {
    const headers = req.headers;
    const range = headers.range;
    if (range === undefined && headers['if-none-match'] === undefined && headers['if-modified-since'] === undefined && headers['if-match'] === undefined && headers['if-unmodified-since'] === undefined) {
      this.#sendWhole(req, res, chosen, head, startMs);
      return;
    }
    let representation = chosen;
    // Ranges are served from the identity bytes; If-Range decides whether the client's copy is current.
    let rangeApplies = false;
    if (range !== undefined && !head && ifRangeHolds(single(headers['if-range']), entry.identity.validators)) {
      representation = entry.identity;
      rangeApplies = true;
    }
    if (this.#responder.answeredByPreconditions(req, res, representation, startMs)) return;
    const body = representation.body;
    const outcome = rangeApplies ? evaluateRange(range, body.length, this.#options.maxRanges) : ({ kind: 'whole' } as const);
    if (outcome.kind === 'whole') {
      this.#sendWhole(req, res, representation, head, startMs);
      return;
    }
    if (outcome.kind === 'unsatisfiable') {
      this.#responder.unsatisfiable(req, res, body.length, startMs);
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
      this.#responder.done(req, 206, only.end - only.start + 1, startMs);
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
    this.#responder.done(req, 206, layout.length, startMs);
  }

  #sendWhole(req: WebRequest, res: WebResponse, representation: Representation, head: boolean, startMs: number): void {
    res.writeHead(200, representation.okHeaders);
    if (head) res.end();
    else res.end(representation.body);
    this.#responder.done(req, 200, head ? 0 : representation.body.length, startMs);
  }

  /** The compressed variant of a cached file, made once (concurrent requests share the work). */
  #compressed(entry: FileEntry, coding: CompressedCoding): Promise<Representation | null> {
    const existing = entry.variants.get(coding);
    if (existing !== undefined) return Promise.resolve(existing);
    const source = entry.identity;
    const work = (coding === 'br'
      ? brotliAsync(source.body, { params: { [zlibConstants.BROTLI_PARAM_QUALITY]: 6, [zlibConstants.BROTLI_PARAM_SIZE_HINT]: source.body.length } })
      : gzipAsync(source.body, { level: 6 })
    ).then(
      (compressed): Representation | null => {
        const etag = fileEtag(entry.version.size, entry.version.mtimeMs, etagSuffix(coding));
        const made = compressed.length < source.body.length ? this.#responder.representation(coding, compressed, source.validators.lastModifiedMs, etag, String(source.okHeaders['Content-Type']), true) : null;
        if (entry.variants.get(coding) === work) {
          entry.variants.set(coding, made);
          if (made !== null) this.cache.grew(entry, made.body.length);
        }
        return made;
      },
      (error: unknown) => {
        // Never again for this file: identity it is (the caller logs the error once).
        if (entry.variants.get(coding) === work) entry.variants.set(coding, null);
        throw error;
      },
    );
    entry.variants.set(coding, work);
    return work;
  }
}
