/**
 * What every answer of the static-file handler shares: the request and response shapes it reads
 * and writes, the headers sent with every answer (CORS, nosniff), a file's answer headers, the
 * HTML pages for the answers that are not a file, content negotiation, and the access log line.
 */
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import { errorPage } from './pages.js';
import { evaluatePreconditions, formatHttpDate, negotiateEncoding, type CompressedCoding, type ContentCoding, type Validators } from './protocol.js';
import type { StaticFilesOptions } from './static-files.js';

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

/** One form of a file's bytes (as they are, or compressed) with the headers of its answers. */
export interface Representation {
  coding: ContentCoding;
  body: Buffer;
  validators: Validators;
  okHeaders: OutgoingHttpHeaders;
  notModifiedHeaders: OutgoingHttpHeaders;
}

const MAX_NEGOTIATIONS = 512;

export class Responder {
  /** Sent with every answer. */
  readonly commonHeaders: OutgoingHttpHeaders;
  /** The methods this server answers, for `Allow`. */
  readonly allowed: string;
  readonly #options: StaticFilesOptions;
  readonly #negotiated = new Map<string, ContentCoding>();

  constructor(options: StaticFilesOptions) {
    this.#options = options;
    this.allowed = options.cors === false ? 'GET, HEAD' : 'GET, HEAD, OPTIONS';
    const common: OutgoingHttpHeaders = { 'X-Content-Type-Options': 'nosniff' };
    if (options.cors !== false) {
      common['Access-Control-Allow-Origin'] = options.cors;
      common['Access-Control-Expose-Headers'] = 'Content-Range, Accept-Ranges, Content-Encoding, ETag, Last-Modified';
      if (options.cors !== '*') common.Vary = 'Origin';
    }
    this.commonHeaders = common;
  }

  /** When a request started, for the access log (0 when there is none: no clock read). */
  startTime(): number {
    return this.#options.accessLog === undefined ? 0 : Date.now();
  }

  /** The coding to send for an Accept-Encoding, memoised: browsers send a handful of distinct values. */
  negotiate(accept: string, offered: readonly CompressedCoding[]): ContentCoding {
    const key = offered.length === 2 ? accept : `${accept}\u0000${offered.join(',')}`;
    let coding = this.#negotiated.get(key);
    if (coding === undefined) {
      coding = negotiateEncoding(accept, offered);
      if (this.#negotiated.size >= MAX_NEGOTIATIONS) this.#negotiated.clear();
      this.#negotiated.set(key, coding);
    }
    return coding;
  }

  /** A representation with its 200 and 304 headers built once. */
  representation(coding: ContentCoding, body: Buffer, lastModifiedMs: number, etag: string, contentType: string, vary: boolean): Representation {
    const lastModified = formatHttpDate(lastModifiedMs);
    const ok: OutgoingHttpHeaders = {
      'Content-Type': contentType,
      'Content-Length': body.length,
      ETag: etag,
      'Last-Modified': lastModified,
      'Cache-Control': this.#options.cacheControl,
      ...this.commonHeaders,
    };
    if (coding === 'identity') ok['Accept-Ranges'] = 'bytes';
    else ok['Content-Encoding'] = coding;
    const notModified: OutgoingHttpHeaders = { ETag: etag, 'Last-Modified': lastModified, 'Cache-Control': this.#options.cacheControl, ...this.commonHeaders };
    if (vary) {
      const value = this.#options.cors !== false && this.#options.cors !== '*' ? 'Origin, Accept-Encoding' : 'Accept-Encoding';
      ok.Vary = value;
      notModified.Vary = value;
    }
    return { coding, body, validators: { etag, lastModifiedMs }, okHeaders: ok, notModifiedHeaders: notModified };
  }

  /** Answer If-None-Match / If-Modified-Since / If-Match / If-Unmodified-Since with 304 or 412; false when the request goes on. */
  answeredByPreconditions(req: WebRequest, res: WebResponse, representation: Pick<Representation, 'validators' | 'notModifiedHeaders'>, startMs: number): boolean {
    const precondition = evaluatePreconditions(req.headers, representation.validators);
    if (precondition === 'not-modified') {
      res.writeHead(304, representation.notModifiedHeaders);
      res.end();
      this.done(req, 304, 0, startMs);
      return true;
    }
    if (precondition === 'precondition-failed') {
      this.sendPage(req, res, 412, errorPage(412, 'Precondition Failed', 'The file has changed since the version your request names.'), startMs);
      return true;
    }
    return false;
  }

  forbidden(req: WebRequest, res: WebResponse, what: 'file' | 'folder', startMs: number): void {
    this.sendPage(req, res, 403, errorPage(403, 'Forbidden', `The server may not read this ${what}.`), startMs);
  }

  methodNotAllowed(req: WebRequest, res: WebResponse, startMs: number): void {
    this.sendPage(req, res, 405, errorPage(405, 'Method Not Allowed', `This server only reads files: use ${this.allowed}.`), startMs, { Allow: this.allowed });
  }

  unsatisfiable(req: WebRequest, res: WebResponse, size: number, startMs: number): void {
    this.sendPage(req, res, 416, errorPage(416, 'Range Not Satisfiable', `The file is ${size} bytes long; no range asked for is inside it.`), startMs, {
      'Content-Range': `bytes */${size}`,
      'Accept-Ranges': 'bytes',
    });
  }

  preflight(req: WebRequest, res: WebResponse, startMs: number): void {
    const requested = req.headers['access-control-request-headers'];
    const headers: OutgoingHttpHeaders = {
      ...this.commonHeaders,
      'Access-Control-Allow-Methods': 'GET, HEAD, OPTIONS',
      'Access-Control-Max-Age': '86400',
      Allow: this.allowed,
      'Content-Length': 0,
    };
    if (typeof requested === 'string' && /^[A-Za-z0-9!#$%&'*+.^_`|~, -]{1,1024}$/.test(requested)) headers['Access-Control-Allow-Headers'] = requested;
    res.writeHead(204, headers);
    res.end();
    this.done(req, 204, 0, startMs);
  }

  sendPage(req: WebRequest, res: WebResponse, status: number, html: string, startMs: number, extra?: OutgoingHttpHeaders): void {
    const body = Buffer.from(html);
    res.writeHead(status, { 'Content-Type': 'text/html; charset=utf-8', 'Content-Length': body.length, ...this.commonHeaders, ...extra });
    const head = req.method === 'HEAD';
    res.end(head ? undefined : body);
    this.done(req, status, head ? 0 : body.length, startMs);
  }

  internalError(req: WebRequest, res: WebResponse, error: unknown, startMs: number): void {
    if (this.#options.metrics) this.#options.metrics.errors++;
    this.#options.logger.error({ err: error, url: req.url }, 'web request failed');
    if (res.headersSent) {
      res.destroy();
      return;
    }
    try {
      this.sendPage(req, res, 500, errorPage(500, 'Internal Server Error', 'Something went wrong on the server; the log says what.'), startMs);
    } catch {
      res.destroy();
    }
  }

  /** The access log line of a finished answer. */
  done(req: WebRequest, status: number, bytes: number, startMs: number): void {
    const log = this.#options.accessLog;
    if (log !== undefined) log({ request: req, status, bytes, startMs });
  }
}

/** For pages about a target that could not be decoded: printable, bounded. */
export function safeDisplayPath(url: string): string {
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

/** A header Node may hand over as a list (unknown names repeated): take the first. */
export function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
