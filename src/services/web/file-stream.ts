/**
 * Files too large to hold in memory, streamed from an open handle: content negotiation (a
 * precompressed sibling, compression on the fly, or the bytes as they are), conditional and
 * range requests, and the memory every stream's buffers take, bounded per connection and in all.
 */
import type { Stats } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import type { OutgoingHttpHeaders } from 'node:http';
import { randomBytes } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import { constants as zlibConstants, createBrotliCompress, createGzip } from 'node:zlib';
import { ByteBudget } from '../../core/byte-budget.js';
import { FileRootRefusal, type FileRoot } from '../../store/file-root.js';
import { etagSuffix, SIBLINGS, siblingSegments } from './memory-files.js';
import { contentTypeFor, isCompressible } from './mime.js';
import { notFoundPage } from './pages.js';
import { contentRange, evaluateRange, fileEtag, ifRangeHolds, multipartLayout, type ByteRange, type CompressedCoding, type ContentCoding } from './protocol.js';
import { safeDisplayPath, single, type Representation, type Responder, type WebRequest, type WebResponse } from './responder.js';
import type { StaticFilesOptions } from './static-files.js';

const EMPTY = Buffer.alloc(0);
/** The smallest disk read of a transfer, however many share the budget. */
const MIN_CHUNK_BYTES = 16 * 1024;
const COMPRESS_READ_BYTES = 64 * 1024;

class ClientGone extends Error {
  constructor() {
    super('the client went away');
  }
}

/** Whether the response has closed: `closed` tells synchronously, `promise` resolves then. */
interface CloseWatch {
  readonly closed: boolean;
  readonly promise: Promise<void>;
}

function watchClose(res: WebResponse): CloseWatch {
  const state = { closed: false, promise: Promise.resolve() };
  state.promise = new Promise<void>((resolve) => {
    res.once('close', () => {
      state.closed = true;
      resolve();
    });
  });
  return state;
}

type Siblings = Map<CompressedCoding, { handle: FileHandle; stats: Stats }>;

/** What a request for a streamed file gets: which bytes, and the headers that describe them. */
interface Choice {
  coding: ContentCoding;
  /** The precompressed sibling to send, if that is the choice. */
  sibling: { handle: FileHandle; stats: Stats } | undefined;
  /** The Range header applies (identity bytes, If-Range holds). */
  rangeApplies: boolean;
  template: Representation;
  /** The size of what is sent (before any compression on the fly). */
  size: number;
}

export class FileStreams {
  readonly #root: FileRoot;
  readonly #options: StaticFilesOptions;
  readonly #responder: Responder;
  readonly #budget: ByteBudget;
  readonly #boundary = randomBytes(12).toString('hex');
  #activeStreams = 0;

  constructor(root: FileRoot, options: StaticFilesOptions, responder: Responder) {
    this.#root = root;
    this.#options = options;
    this.#responder = responder;
    this.#budget = new ByteBudget(options.streamMemoryBytes);
  }

  /** Bytes of stream buffers held now (under `streamMemoryBytes`), and transfers waiting for some. */
  get memory(): { used: number; waiting: number; limit: number } {
    return { used: this.#budget.used, waiting: this.#budget.waiting, limit: this.#budget.limit };
  }

  /** Serve a file too large to cache (`real`, from the root): open, negotiate, then stream. */
  async stream(req: WebRequest, res: WebResponse, segments: readonly string[], real: string, head: boolean, startMs: number): Promise<void> {
    const handles: FileHandle[] = [];
    try {
      let opened;
      try {
        opened = await this.#root.openReal(real);
      } catch (error) {
        // Gone, made unreadable or replaced since it was resolved.
        if (error instanceof FileRootRefusal && error.reason === 'permission-denied') this.#responder.forbidden(req, res, 'file', startMs);
        else this.#responder.sendPage(req, res, 404, notFoundPage({ path: safeDisplayPath(req.url ?? '') }), startMs);
        return;
      }
      const { handle, stats } = opened;
      handles.push(handle);
      const contentType = contentTypeFor(segments[segments.length - 1] ?? '');
      // Precompressed siblings, opened now so what we describe is what we send.
      const siblings = await this.#openSiblings(segments, handles);
      const choice = this.#choose(req, stats, contentType, siblings, head);
      if (this.#responder.answeredByPreconditions(req, res, choice.template, startMs)) return;
      const closed = watchClose(res);
      const ok: OutgoingHttpHeaders = { ...choice.template.okHeaders, 'Content-Length': choice.size };
      if (choice.coding !== 'identity' && choice.sibling === undefined) {
        await this.#sendCompressed(req, res, handle, stats.size, choice.coding, ok, head, closed, startMs);
      } else if (choice.sibling !== undefined) {
        res.writeHead(200, ok);
        await this.#sendBody(req, res, choice.sibling.handle, [{ start: 0, end: choice.sibling.stats.size - 1 }], head, 200, closed, startMs);
      } else {
        await this.#sendIdentity(req, res, handle, stats.size, contentType, ok, choice.rangeApplies, head, closed, startMs);
      }
    } finally {
      await Promise.all(handles.map((h) => h.close().catch(() => {})));
    }
  }

  async #openSiblings(segments: readonly string[], handles: FileHandle[]): Promise<Siblings> {
    const siblings: Siblings = new Map();
    if (!this.#options.precompressed) return siblings;
    for (const [coding, ext] of SIBLINGS) {
      try {
        const sibling = await this.#root.openFile(siblingSegments(segments, ext));
        handles.push(sibling.handle);
        siblings.set(coding, { handle: sibling.handle, stats: sibling.stats });
      } catch {
        // absent, outside the root, not a file or unreadable: not on offer
      }
    }
    return siblings;
  }

  /** Negotiate the coding and whether the Range header applies; describe what will be sent. */
  #choose(req: WebRequest, stats: Stats, contentType: string, siblings: Siblings, head: boolean): Choice {
    const options = this.#options;
    const size = stats.size;
    const mayCompress = options.compress && isCompressible(contentType) && size >= options.compressMinBytes && size <= options.compressMaxBytes;
    const offered = SIBLINGS.map(([coding]) => coding).filter((coding) => siblings.has(coding) || mayCompress);
    const vary = offered.length > 0 || (options.compress && isCompressible(contentType));
    const identityEtag = fileEtag(size, stats.mtimeMs);
    const headers = req.headers;
    const accept = headers['accept-encoding'];
    let coding: ContentCoding = accept === undefined || offered.length === 0 ? 'identity' : this.#responder.negotiate(accept, offered);
    let rangeApplies = false;
    if (headers.range !== undefined && !head && ifRangeHolds(single(headers['if-range']), { etag: identityEtag, lastModifiedMs: stats.mtimeMs })) {
      coding = 'identity';
      rangeApplies = true;
    }
    const sibling = coding === 'identity' ? undefined : siblings.get(coding);
    const chosenStats = sibling?.stats ?? stats;
    const etag = coding === 'identity' ? identityEtag : fileEtag(chosenStats.size, chosenStats.mtimeMs, etagSuffix(coding));
    const template = this.#responder.representation(coding, EMPTY, chosenStats.mtimeMs, etag, contentType, vary);
    return { coding, sibling, rangeApplies, template, size: chosenStats.size };
  }

  /** Compressed on the fly: the length is not known in advance (chunked, or close-delimited for HTTP/1.0). */
  async #sendCompressed(req: WebRequest, res: WebResponse, handle: FileHandle, size: number, coding: CompressedCoding, ok: OutgoingHttpHeaders, head: boolean, closed: CloseWatch, startMs: number): Promise<void> {
    delete ok['Content-Length'];
    res.writeHead(200, ok);
    if (head) {
      res.end();
      this.#responder.done(req, 200, 0, startMs);
      return;
    }
    // The read-ahead and the compressor's output wait in memory for a slow reader: charged like a transfer's buffers.
    const release = await this.#reserve(req, 2 * COMPRESS_READ_BYTES, closed.promise);
    if (release === undefined) {
      res.destroy();
      this.#responder.done(req, 200, 0, startMs);
      return;
    }
    const compressor = coding === 'br' ? createBrotliCompress({ params: { [zlibConstants.BROTLI_PARAM_QUALITY]: 4, [zlibConstants.BROTLI_PARAM_SIZE_HINT]: size } }) : createGzip({ level: 6 });
    const source = handle.createReadStream({ autoClose: false, start: 0, end: Math.max(0, size - 1), highWaterMark: COMPRESS_READ_BYTES });
    try {
      await pipeline(source, compressor, res as unknown as NodeJS.WritableStream);
      this.#responder.done(req, 200, size, startMs);
    } catch {
      res.destroy();
      this.#responder.done(req, 200, 0, startMs);
    } finally {
      release();
    }
  }

  /** The file's own bytes: whole, one range, or several as multipart/byteranges. */
  async #sendIdentity(req: WebRequest, res: WebResponse, handle: FileHandle, size: number, contentType: string, ok: OutgoingHttpHeaders, rangeApplies: boolean, head: boolean, closed: CloseWatch, startMs: number): Promise<void> {
    const outcome = rangeApplies ? evaluateRange(req.headers.range, size, this.#options.maxRanges) : ({ kind: 'whole' } as const);
    if (outcome.kind === 'unsatisfiable') {
      this.#responder.unsatisfiable(req, res, size, startMs);
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
    closed: CloseWatch,
    startMs: number,
    layout?: { heads: string[]; tail: string },
  ): Promise<void> {
    if (head) {
      res.end();
      this.#responder.done(req, status, 0, startMs);
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
      this.#responder.done(req, status, 0, startMs);
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
      this.#responder.done(req, status, sent, startMs);
    } catch (error) {
      res.destroy();
      this.#responder.done(req, status, sent, startMs);
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
    if (!(await this.#budget.acquire(bytes, gone))) {
      connection?.release(bytes);
      return undefined;
    }
    let held = true;
    return () => {
      if (!held) return;
      held = false;
      this.#budget.release(bytes);
      connection?.release(bytes);
    };
  }
}
