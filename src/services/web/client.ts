/**
 * wharf's HTTP client: what `wharf web get` uses, and wharf's counterpart of the seed 003 HTTP
 * client (a `GET` over a socket, the answer printed). One origin per client, kept-alive
 * connections, and downloads that are safe on files a person owns:
 *
 * - a download goes to `.NAME.wharf-part` beside the target and is renamed over it only when
 *   whole, so a failure never touches the target; an existing target is replaced only when asked;
 * - an interrupted download is kept there, with a sidecar `.NAME.wharf-part.json` naming the URL,
 *   its size and its validator (a strong ETag, or Last-Modified), and the next `get` of that URL
 *   continues it with `Range` + `If-Range`: the server sends the rest only if the file is the same
 *   one (RFC 9110 §13.1.5), and the rest is taken only if its `Content-Range` continues the partial
 *   exactly. Any other answer starts the download again.
 */
import { lookup } from 'node:dns/promises';
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { link, open, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import type { Socket } from 'node:net';
import { basename, dirname, join } from 'node:path';
import type { Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { UsageError, WharfError, codeForErrno, isErrnoException, type WharfErrorCode } from '../../core/errors.js';
import { formatBytes } from '../../core/human-size.js';
import { WHARF_VERSION } from '../../core/version.js';
import { parseContentRange } from './protocol.js';

export interface WebClientOptions {
  /** Longest wait for a connection, an answer, or the next bytes of a body. Default 30,000 ms. */
  timeoutMs?: number;
  /** Sent with every request (a `User-Agent` naming wharf unless given). */
  headers?: Record<string, string>;
  /** https: certificate authorities to trust besides the system's (PEM), e.g. a self-signed server's. */
  ca?: string | Buffer;
  /** https: false accepts any certificate (for testing only). */
  rejectUnauthorized?: boolean;
  /** The largest body `request` keeps in memory. Default 16 MiB. */
  maxBodyBytes?: number;
}

export interface WebClientResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

export interface WebGetOptions {
  /** Replace the destination file when it exists (default: refuse and leave it as it is). */
  force?: boolean;
  /** Continue wharf's partial download of the same URL when the server shows the file is unchanged (default true). */
  resume?: boolean;
  signal?: AbortSignal;
  /** Once the answer has come: where this transfer starts (a resumed partial's size) and the whole size, when known. */
  onStart?: (start: { offset: number; total: number | undefined }) => void;
  /** Bytes received by this transfer so far (not counting a resumed partial). */
  onProgress?: (bytes: number) => void;
}

export interface WebGetResult {
  url: string;
  /** 200, or 206 for a resumed download. */
  status: number;
  /** Bytes of an earlier, interrupted download that this one continued. */
  resumedFrom: number;
  /** Bytes received this time. */
  bytes: number;
  /** The whole file's size. */
  size: number;
  contentType: string | undefined;
}

/** What a partial download's sidecar records: the URL and version it is the start of. */
interface PartialInfo {
  url: string;
  size: number;
  /** A strong ETag, or a Last-Modified date: what If-Range sends. */
  validator: string;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const MAX_REDIRECTS = 5;

export function partialPathFor(target: string): string {
  return join(dirname(target), `.${basename(target)}.wharf-part`);
}

const sidecarFor = (partial: string) => `${partial}.json`;

export class WebClient {
  readonly origin: string;
  readonly #options: WebClientOptions;
  readonly #agent: http.Agent;
  #closed = false;

  private constructor(origin: URL, options: WebClientOptions) {
    this.origin = origin.origin;
    this.#options = options;
    const agentOptions = { keepAlive: true, maxSockets: 4 };
    this.#agent = origin.protocol === 'https:' ? new https.Agent({ ...agentOptions, ca: options.ca, rejectUnauthorized: options.rejectUnauthorized ?? true }) : new http.Agent(agentOptions);
  }

  /**
   * A client of the server at `origin` (`http://host:port`; a path in it is ignored). Resolves
   * the host name, so that a typo fails here; connections open with the first request and are
   * kept alive for the next ones.
   */
  static async connect(origin: string | URL, options: WebClientOptions = {}): Promise<WebClient> {
    const url = parseUrl(origin);
    try {
      await lookup(url.hostname.replace(/^\[|\]$/g, ''));
    } catch (error) {
      throw new WharfError('ENOHOST', `cannot resolve ${url.hostname}`, { cause: error });
    }
    return new WebClient(url, options);
  }

  /** Close the kept-alive connections (a request in progress fails); resolves when they are closed. */
  async close(): Promise<void> {
    this.#closed = true;
    const sockets = [...Object.values(this.#agent.sockets), ...Object.values(this.#agent.freeSockets)].flat().filter((socket): socket is Socket => socket !== undefined);
    this.#agent.destroy();
    await Promise.all(sockets.map((socket) => (socket.closed ? undefined : once(socket, 'close'))));
  }

  /** One request, its whole body in memory (at most `maxBodyBytes`): for pages and small answers. */
  async request(path: string, options: { method?: string; headers?: Record<string, string>; signal?: AbortSignal } = {}): Promise<WebClientResponse> {
    const url = this.#url(path);
    const response = await this.#send(url, options.method ?? 'GET', options.headers ?? {}, options.signal);
    const limit = this.#options.maxBodyBytes ?? 16 * 1024 * 1024;
    const chunks: Buffer[] = [];
    let size = 0;
    try {
      for await (const chunk of response as AsyncIterable<Buffer>) {
        size += chunk.length;
        if (size > limit) throw new WharfError('EOVERLOAD', `${url.href}: the answer is larger than ${formatBytes(limit)}; use get to save it to a file`);
        chunks.push(chunk);
      }
    } catch (error) {
      response.destroy();
      throw this.#failure(error, url, options.signal);
    }
    return { status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks) };
  }

  /**
   * Download `path` into the file `destination` (written whole or not at all, resumed when an
   * interrupted download of the same URL is left) or into a stream. A status other than 2xx is a
   * WharfError naming it (404 `EMISSING`, 401 `EAUTH`, 403 `EFORBIDDEN`).
   */
  get(path: string, destination: string | Writable, options: WebGetOptions = {}): Promise<WebGetResult> {
    return typeof destination === 'string' ? this.#getToFile(path, destination, options) : this.#getToStream(path, destination, options);
  }

  async #getToStream(path: string, destination: Writable, options: WebGetOptions): Promise<WebGetResult> {
    const url = this.#url(path);
    const response = await this.#send(url, 'GET', {}, options.signal);
    expectStatus(response, url, [200]);
    const total = contentLength(response);
    options.onStart?.({ offset: 0, total });
    const bytes = await this.#receive(response, destination, url, options);
    const short = this.#short(url, bytes, total, options.signal);
    if (short) throw short;
    return { url: url.href, status: 200, resumedFrom: 0, bytes, size: bytes, contentType: response.headers['content-type'] };
  }

  async #getToFile(path: string, target: string, options: WebGetOptions): Promise<WebGetResult> {
    const url = this.#url(path);
    if (options.force !== true && (await sizeOf(target, true)) !== undefined) throw new WharfError('ETAKEN', `${target} exists: not replaced (--force replaces it)`);
    const partial = partialPathFor(target);
    const earlier = options.resume === false ? undefined : await resumablePartial(partial, url.href);
    const response = await this.#send(url, 'GET', earlier ? { Range: `bytes=${earlier.offset}-`, 'If-Range': earlier.info.validator } : {}, options.signal);
    let offset = 0;
    let size: number | undefined;
    try {
      if (earlier && response.statusCode === 206) {
        const answered = parseContentRange(single(response.headers['content-range']));
        if (!answered || answered.range.start !== earlier.offset || answered.range.end !== answered.size - 1 || answered.size !== earlier.info.size) {
          await removePartial(partial);
          throw new WharfError('EPROTOCOL', `${url.href}: the server answered a range that does not continue the partial download; it was removed, and getting the file again starts afresh`);
        }
        offset = earlier.offset;
        size = answered.size;
      } else {
        expectStatus(response, url, [200]);
        size = contentLength(response);
        await removePartial(partial);
        const validator = validatorOf(response);
        if (size !== undefined && validator !== undefined) await writeFile(sidecarFor(partial), `${JSON.stringify({ url: url.href, size, validator } satisfies PartialInfo)}\n`);
      }
    } catch (error) {
      response.destroy();
      throw error;
    }
    options.onStart?.({ offset, total: size });
    // A large buffer lets the file stream gather the socket's chunks into one writev while a write
    // is on the disk; on a failure it is written out, not dropped (#receive ends the stream).
    const file = createWriteStream(partial, { flags: offset > 0 ? 'r+' : 'w', start: offset, highWaterMark: 4 * 1024 * 1024 });
    let bytes: number;
    try {
      bytes = await this.#receive(response, file, url, options);
      const short = this.#short(url, offset + bytes, size, options.signal);
      if (short) throw short;
    } catch (error) {
      // Closed only after every write it took has landed: what is on disk is then a true prefix.
      if (!file.closed) await new Promise<void>((resolve) => file.once('close', () => resolve()));
      throw await keptOrRemoved(error, partial, size, url.href);
    }
    if (options.force === true) await rename(partial, target);
    else await placeWithoutReplacing(partial, target);
    await unlink(sidecarFor(partial)).catch(() => {});
    return { url: url.href, status: offset > 0 ? 206 : 200, resumedFrom: offset, bytes, size: offset + bytes, contentType: response.headers['content-type'] };
  }

  /**
   * Write a body into `destination`, counting; resolves with the bytes received once all are
   * written. When the body fails (a dropped connection, an abort), what came is still written
   * before the error is thrown, so a partial file keeps every byte received: a true prefix.
   */
  async #receive(response: http.IncomingMessage, destination: Writable, url: URL, options: WebGetOptions): Promise<number> {
    let bytes = 0;
    let failure: unknown;
    try {
      for await (const chunk of response as AsyncIterable<Buffer>) {
        bytes += chunk.length;
        options.onProgress?.(bytes);
        if (!destination.write(chunk)) await once(destination, 'drain');
      }
    } catch (error) {
      failure = error;
    }
    destination.end();
    try {
      await finished(destination);
    } catch (error) {
      failure ??= error;
    }
    if (failure !== undefined) throw this.#failure(failure, url, options.signal);
    return bytes;
  }

  /** The body ended before `Content-Length` said: an interruption when aborted, else a broken connection. */
  #short(url: URL, received: number, size: number | undefined, signal: AbortSignal | undefined): WharfError | undefined {
    if (size === undefined || received === size) return undefined;
    if (signal?.aborted === true) return new WharfError('EABORTED', `${url.href}: interrupted`);
    return new WharfError('EPROTOCOL', `${url.href}: the connection ended after ${formatBytes(received)} of ${formatBytes(size)}`);
  }

  #url(path: string): URL {
    if (this.#closed) throw new WharfError('ECLOSED', 'the web client is closed');
    const url = new URL(path, this.origin);
    if (url.origin !== this.origin) throw new UsageError(`${url.href} is not on ${this.origin}`);
    return url;
  }

  /** Send a request and resolve with the answer's head, following redirects within the origin. */
  async #send(url: URL, method: string, headers: Record<string, string>, signal: AbortSignal | undefined): Promise<http.IncomingMessage> {
    let current = url;
    for (let redirects = 0; ; redirects++) {
      const response = await this.#sendOnce(current, method, headers, signal);
      const location = single(response.headers.location);
      if (!REDIRECTS.has(response.statusCode ?? 0) || location === undefined) return response;
      response.resume();
      const next = new URL(location, current);
      if (next.origin !== this.origin) throw new WharfError('ESERVER', `${current.href} redirects to ${next.href}, on another server: get that URL`);
      if (redirects === MAX_REDIRECTS) throw new WharfError('ESERVER', `${url.href}: more than ${MAX_REDIRECTS} redirects`);
      current = next;
    }
  }

  #sendOnce(url: URL, method: string, headers: Record<string, string>, signal: AbortSignal | undefined): Promise<http.IncomingMessage> {
    const timeoutMs = this.#options.timeoutMs ?? 30_000;
    const transport = url.protocol === 'https:' ? https : http;
    return new Promise((resolve, reject) => {
      const request = transport.request(url, {
        method,
        agent: this.#agent,
        signal,
        headers: { 'User-Agent': `wharf/${WHARF_VERSION}`, ...this.#options.headers, ...headers },
      });
      // A socket silent for timeoutMs (connecting, waiting for the head, or mid-body) is cut.
      request.setTimeout(timeoutMs, () => request.destroy(new WharfError('EDEADLINE', `${url.href}: no answer within ${timeoutMs} ms`)));
      request.once('response', resolve);
      request.once('error', (error) => reject(this.#failure(error, url, signal)));
      request.end();
    });
  }

  /** Any failure as a WharfError with one sentence. */
  #failure(error: unknown, url: URL, signal: AbortSignal | undefined): WharfError {
    if (error instanceof WharfError) return error;
    if (signal?.aborted === true) return new WharfError('EABORTED', `${url.href}: interrupted`, { cause: error });
    if (this.#closed) return new WharfError('ECLOSED', `${url.href}: the web client was closed`, { cause: error });
    const code = isErrnoException(error) ? error.code : undefined;
    // OpenSSL's verdicts (DEPTH_ZERO_SELF_SIGNED_CERT, ERR_SSL_…, CERT_HAS_EXPIRED) are TLS failures.
    if (code !== undefined && /CERT|SSL|TLS|SIGNATURE|ISSUER/.test(code)) return new WharfError('ETLS', `${url.href}: ${error instanceof Error ? error.message : code} (--ca FILE trusts a server's own certificate)`, { cause: error });
    return new WharfError(codeForErrno(code, 'ECONNECT'), `${url.href}: ${code === 'ECONNREFUSED' ? 'nothing is listening there (is the server running?)' : error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
}

function parseUrl(origin: string | URL): URL {
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    throw new UsageError(`not a URL: ${String(origin)} (give http://host:port/path)`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UsageError(`${url.href}: only http and https URLs`);
  return url;
}

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function contentLength(response: http.IncomingMessage): number | undefined {
  const value = response.headers['content-length'];
  return value !== undefined && /^\d{1,15}$/.test(value) ? Number(value) : undefined;
}

/** What If-Range may carry: a strong ETag, else Last-Modified (a weak ETag never matches a range). */
function validatorOf(response: http.IncomingMessage): string | undefined {
  const etag = single(response.headers.etag);
  if (etag !== undefined && etag.startsWith('"')) return etag;
  return single(response.headers['last-modified']);
}

const STATUS_CODES: Record<number, WharfErrorCode> = { 401: 'EAUTH', 403: 'EFORBIDDEN', 404: 'EMISSING', 410: 'EMISSING', 429: 'ETHROTTLED', 503: 'EOVERLOAD' };

function expectStatus(response: http.IncomingMessage, url: URL, wanted: readonly number[]): void {
  const status = response.statusCode ?? 0;
  if (wanted.includes(status)) return;
  response.resume();
  throw new WharfError(STATUS_CODES[status] ?? 'ESERVER', `${url.href}: ${status} ${response.statusMessage ?? ''}`.trimEnd());
}

/**
 * Give the finished download its name unless the name is taken: link() refuses an existing name
 * atomically, so a file that appeared during the download (or an instant before the finish)
 * wins; asking "is it there?" and then renaming would replace one that came in between. On a file
 * system without hard links the name is reserved with an exclusive create instead, and the
 * download renamed over that empty file of ours.
 */
async function placeWithoutReplacing(partial: string, target: string): Promise<void> {
  try {
    await link(partial, target);
    await unlink(partial);
    return;
  } catch (error) {
    if (isErrnoException(error) && error.code === 'EEXIST') throw appeared(partial, target);
    if (!isErrnoException(error) || !['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS'].includes(error.code ?? '')) throw error;
  }
  try {
    await (await open(target, 'wx')).close();
  } catch (error) {
    if (isErrnoException(error) && error.code === 'EEXIST') throw appeared(partial, target);
    throw error;
  }
  await rename(partial, target);
}

function appeared(partial: string, target: string): WharfError {
  return new WharfError('ETAKEN', `${target} appeared during the download: not replaced (--force replaces it); the download is in ${partial}`);
}

async function sizeOf(path: string, anyKind = false): Promise<number | undefined> {
  try {
    const info = await stat(path);
    return info.isFile() || anyKind ? info.size : undefined;
  } catch {
    return undefined;
  }
}

/** The partial download of `url` left by an earlier get, when it can be continued. */
async function resumablePartial(partial: string, url: string): Promise<{ offset: number; info: PartialInfo } | undefined> {
  let info: Partial<PartialInfo>;
  try {
    info = JSON.parse(await readFile(sidecarFor(partial), 'utf8')) as Partial<PartialInfo>;
  } catch {
    return undefined;
  }
  if (info.url !== url || typeof info.size !== 'number' || typeof info.validator !== 'string') return undefined;
  const offset = await sizeOf(partial);
  if (offset === undefined || offset === 0 || offset >= info.size) return undefined;
  return { offset, info: { url: info.url, size: info.size, validator: info.validator } };
}

async function removePartial(partial: string): Promise<void> {
  await unlink(partial).catch(() => {});
  await unlink(sidecarFor(partial)).catch(() => {});
}

/** A failed download: kept (and said so) when it can be resumed, removed when it cannot. */
async function keptOrRemoved(error: unknown, partial: string, size: number | undefined, url: string): Promise<unknown> {
  const kept = (await sizeOf(partial)) ?? 0;
  const resumable = kept > 0 && size !== undefined && (await sizeOf(sidecarFor(partial))) !== undefined;
  if (!resumable) {
    await removePartial(partial);
    return error;
  }
  const code = error instanceof WharfError ? error.code : 'ECONNECT';
  const why = error instanceof Error ? error.message : String(error);
  return new WharfError(code, `${why}; ${formatBytes(kept)} of ${formatBytes(size)} kept in ${partial}: getting ${url} again resumes`, { cause: error });
}
