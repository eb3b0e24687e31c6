/**
 * The browser portal on the web service (issue #19; docs/portal.md). Asked first for every
 * request, before the static files: it takes the portal's paths and leaves every other one to
 * the web root.
 *
 *   GET /, /<section>, /signin           the shell page (one HTML document; its script draws the page)
 *   GET /portal/shell.js, /portal/portal.css, /portal/pages/<section>.js    the built browser files
 *   /portal/api/session                  GET who is signed in (+ the CSRF token, the sections);
 *                                        POST { name, password } signs in; DELETE signs out
 *   /portal/api/account                  POST { name, password }: create an account and sign in
 *   /portal/api/home/status              GET what runs, for the home page
 *   /portal/api/<section>/…              the section's API (and its WebSocket upgrades)
 *
 * Every request under /portal/api that changes something (any method but GET, HEAD, OPTIONS)
 * must come from the portal's own origin (`Origin`, else `Sec-Fetch-Site`) and carry the
 * session's CSRF token (a visitor's: the `wharf_csrf` cookie's) in `X-CSRF-Token`; else 403 and
 * nothing happens. A WebSocket's `Origin` must be the portal's.
 */
import { STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { normaliseAddress } from '../../../core/connection.js';
import { WharfError } from '../../../core/errors.js';
import type { Logger } from '../../../core/logger.js';
import { portalAssetPath, type PortalRegistry, type PortalRequest, type PortalSection, type PortalUser } from '../../../core/portal.js';
import { sendJson, sendPortalError } from '../../../core/portal-http.js';
import type { ServiceStatusLine } from '../../../core/service.js';
import type { Store } from '../../../store/database.js';
import { PortalSessions, isTokenShaped, type PortalSessionsOptions } from '../../../store/portal-sessions.js';
import { adminSection } from './admin.js';
import { PORTAL_HEADERS, PortalAssets, sendAsset, shellLanguage, CONTENT_SECURITY_POLICY } from './assets.js';
import { CSRF_COOKIE, SESSION_COOKIE, cookie, crossOriginProblem, foreignHost, type HostNames, isSafeMethod, portalOrigin, readCookies, tokensEqual, userOf, type Identity } from './guard.js';
import { LiveConnections } from './live-connections.js';
import { SessionApi } from './session-api.js';

export interface WebPortalOptions {
  store: Store;
  registry: PortalRegistry;
  logger: Logger;
  /** The web service speaks TLS: cookies are `Secure`, the origin is https. */
  secure: boolean;
  /** What runs (the host's `statuses`); none outside a host. */
  statuses?: () => Promise<ServiceStatusLine[]>;
  sessions?: PortalSessionsOptions;
  /** The `Host` names the portal answers (DNS rebinding); every name when absent. */
  hosts?: HostNames;
  /** One entry per answered request, as the static files log theirs. */
  accessLog?: (entry: { request: IncomingMessage; status: number; bytes: number; startMs: number }) => void;
}

const SECTION_PAGE = /^\/([a-z]{1,20})(?:\/[^]*)?$/;
const PAGE_SCRIPT = /^\/portal\/pages\/([a-z]{1,20})\.js$/;
const SECTION_API = /^\/portal\/api\/([a-z]{1,20})(\/[^]*)?$/;
/** Pages of the shell itself that are not sections. */
const SHELL_PAGES = new Set(['signin']);

/** The path of a request target (`/a/b?x` → `/a/b`), still percent-encoded; undefined for `*` or junk. */
function pathOf(target: string | undefined): { path: string; query: URLSearchParams } | undefined {
  if (target === undefined || !target.startsWith('/')) return undefined;
  const question = target.indexOf('?');
  const path = question < 0 ? target : target.slice(0, question);
  return { path, query: new URLSearchParams(question < 0 ? '' : target.slice(question + 1)) };
}

export class WebPortal {
  readonly sessions: PortalSessions;
  readonly #options: WebPortalOptions;
  readonly #assets = new PortalAssets();
  readonly #api: SessionApi;
  readonly #withdrawAdmin: () => void;
  readonly #live: LiveConnections;

  constructor(options: WebPortalOptions) {
    this.#options = options;
    this.sessions = new PortalSessions(options.store, options.sessions);
    this.#api = new SessionApi({ store: options.store, sessions: this.sessions, registry: options.registry, logger: options.logger, secure: options.secure });
    const statuses = options.statuses ?? (() => Promise.resolve([]));
    this.#live = new LiveConnections({ stillOpen: async (token) => (await this.sessions.find(token)) !== undefined, logger: options.logger });
    this.#withdrawAdmin = options.registry.add(adminSection({ store: options.store, statuses, logger: options.logger }), { allowReserved: true });
  }

  /** Withdraw the portal's own sections (the web service is stopping). */
  close(): void {
    this.#withdrawAdmin();
    this.#live.close();
  }

  /**
   * Answer `req` if it is the portal's; false leaves it to the static files. The answer may
   * come later (the database is asked); errors become JSON answers, never a crash.
   */
  handle(req: IncomingMessage, res: ServerResponse): boolean {
    const target = pathOf(req.url);
    if (target === undefined) return false;
    const { path, query } = target;
    const method = req.method ?? 'GET';
    let work: (() => Promise<void>) | undefined;
    if (path === '/portal' || path.startsWith('/portal/')) {
      work = () => this.#portalPath(req, res, path, query);
    } else if ((method === 'GET' || method === 'HEAD') && this.#isShellPage(path)) {
      work = () => Promise.resolve(sendAsset(req, res, this.#assets.shell(shellLanguage(req)), { 'Content-Security-Policy': CONTENT_SECURITY_POLICY, Vary: 'Accept-Encoding, Accept-Language' }));
    }
    if (work === undefined) return false;
    this.#logWhenDone(req, res);
    const foreign = this.#foreignHost(req);
    if (foreign !== undefined) {
      req.resume();
      res.writeHead(421, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': String(Buffer.byteLength(foreign)), 'Cache-Control': 'no-store' }).end(foreign);
      return true;
    }
    work().catch((error: unknown) => sendPortalError(res, error, this.#options.logger, PORTAL_HEADERS));
    return true;
  }

  /**
   * A WebSocket upgrade: true when it is the portal's (answered or refused here), false when
   * it is not (the caller refuses it). Its `Origin` must be the portal's; the section gets it
   * with the signed-in account.
   */
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): boolean {
    const target = pathOf(req.url);
    const match = target === undefined ? null : SECTION_API.exec(target.path);
    if (target === undefined || match === null) return false;
    socket.on('error', () => socket.destroy());
    const refuse = (status: number, reason: string) => {
      this.#options.logger.debug({ peer: req.socket.remoteAddress, url: req.url, status }, `portal WebSocket refused: ${reason}`);
      socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Refused'}\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(reason)}\r\n\r\n${reason}`);
    };
    const foreign = this.#foreignHost(req);
    if (foreign !== undefined) {
      refuse(421, foreign);
      return true;
    }
    const origin = portalOrigin(req, this.#options.secure);
    const sentOrigin = req.headers.origin;
    if (origin === undefined || typeof sentOrigin !== 'string' || sentOrigin.toLowerCase() !== origin) {
      refuse(403, 'a WebSocket of the portal opens only from the portal\'s own pages (Origin)');
      return true;
    }
    const section = this.#options.registry.get(match[1] ?? '');
    if (section?.upgrade === undefined) {
      refuse(404, 'no such WebSocket');
      return true;
    }
    const upgrade = section.upgrade.bind(section);
    this.#identify(req)
      .then((identity) => {
        const user = userOf(identity.session);
        const problem = accessProblem(section, user);
        if (problem !== undefined) {
          refuse(problem.code === 'EAUTH' ? 401 : 403, problem.message);
          return;
        }
        if (socket.destroyed) return;
        if (identity.token !== undefined) this.#live.track(identity.token, { end: () => socket.destroy() }, socket);
        upgrade(req, socket, head, this.#request(identity, user, match[2] ?? '/', target.query, origin));
      })
      .catch((error: unknown) => {
        this.#options.logger.error({ err: error }, 'portal WebSocket upgrade failed');
        socket.destroy();
      });
    return true;
  }

  #foreignHost(req: IncomingMessage): string | undefined {
    const hosts = this.#options.hosts;
    const problem = hosts === undefined ? undefined : foreignHost(req, hosts);
    if (problem !== undefined) this.#options.logger.debug({ peer: req.socket?.remoteAddress, host: req.headers.host }, `portal request refused: ${problem}`);
    return problem;
  }

  #isShellPage(path: string): boolean {
    if (path === '/') return true;
    const id = SECTION_PAGE.exec(path)?.[1];
    return id !== undefined && (SHELL_PAGES.has(id) || this.#options.registry.get(id) !== undefined);
  }

  async #portalPath(req: IncomingMessage, res: ServerResponse, path: string, query: URLSearchParams): Promise<void> {
    const method = req.method ?? 'GET';
    if (path.startsWith('/portal/api/')) {
      await this.#apiRequest(req, res, path, query);
      return;
    }
    if (method !== 'GET' && method !== 'HEAD') throw new WharfError('EUSAGE', 'the portal\'s files are read with GET');
    const script = PAGE_SCRIPT.exec(path)?.[1];
    const file = path === '/portal/shell.js' ? portalAssetPath('shell.js') : path === '/portal/portal.css' ? portalAssetPath('portal.css') : script !== undefined ? this.#options.registry.get(script)?.script : undefined;
    const asset = file === undefined ? undefined : await this.#assets.file(file);
    if (asset === undefined) throw new WharfError('EMISSING', 'the portal has no such file');
    sendAsset(req, res, asset);
  }

  async #apiRequest(req: IncomingMessage, res: ServerResponse, path: string, query: URLSearchParams): Promise<void> {
    const identity = await this.#identify(req);
    const headers: Record<string, string> = { ...PORTAL_HEADERS };
    // A session cookie that opens nothing is deleted from the browser with this answer.
    if (identity.staleCookie) headers['Set-Cookie'] = cookie(SESSION_COOKIE, '', { secure: this.#options.secure, maxAgeSeconds: 0 });
    if (!isSafeMethod(req.method)) {
      const problem = crossOriginProblem(req, identity.origin) ?? (tokensEqual(header(req, 'x-csrf-token'), identity.session?.csrfToken ?? identity.visitorCsrf) ? undefined : 'the request lacks this session\'s CSRF token (X-CSRF-Token)');
      if (problem !== undefined) {
        this.#options.logger.debug({ peer: identity.peer, method: req.method, url: req.url }, `portal request refused: ${problem}`);
        req.resume();
        sendJson(res, 403, { error: `refused: ${problem}`, code: 'EFORBIDDEN' }, headers);
        return;
      }
      // A sign-out, a locked account, a new password: the open connections of a session that
      // ended are cut once it is done (live-connections.ts).
      res.once('finish', () => this.#live.check());
    }
    if (path === '/portal/api/session' || path === '/portal/api/account') {
      await this.#api.handle(req, res, path, identity, headers);
      return;
    }
    if (path === '/portal/api/home/status') {
      if (req.method !== 'GET' && req.method !== 'HEAD') throw new WharfError('EUSAGE', 'the status is read with GET');
      sendJson(res, 200, { services: await (this.#options.statuses?.() ?? Promise.resolve([])) }, headers);
      return;
    }
    const match = SECTION_API.exec(path);
    const section = match === null ? undefined : this.#options.registry.get(match[1] ?? '');
    if (match === null || section?.handle === undefined) {
      req.resume();
      sendJson(res, 404, { error: 'the portal has no such API', code: 'EMISSING' }, headers);
      return;
    }
    const user = userOf(identity.session);
    const problem = accessProblem(section, user);
    if (problem !== undefined) {
      req.resume();
      sendPortalError(res, problem, this.#options.logger, headers);
      return;
    }
    for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
    if (identity.token !== undefined) this.#live.track(identity.token, { end: () => res.destroy() }, res);
    await section.handle(req, res, this.#request(identity, user, match[2] ?? '/', query, identity.origin));
  }

  #request(identity: Identity, user: PortalUser | undefined, path: string, query: URLSearchParams, origin: string | undefined): PortalRequest {
    return { user, path, query, peer: identity.peer, origin: origin ?? '', secure: this.#options.secure };
  }

  /** The session the request's cookie opens, if any, and the visitor's CSRF token. */
  async #identify(req: IncomingMessage): Promise<Identity> {
    const cookies = readCookies(req);
    const token = cookies.get(SESSION_COOKIE);
    const session = token !== undefined && token !== '' ? await this.sessions.find(token) : undefined;
    const visitorCsrf = cookies.get(CSRF_COOKIE);
    return {
      session,
      token: session === undefined ? undefined : token,
      staleCookie: token !== undefined && token !== '' && session === undefined,
      visitorCsrf: isTokenShaped(visitorCsrf) ? visitorCsrf : undefined,
      origin: portalOrigin(req, this.#options.secure),
      peer: normaliseAddress(req.socket?.remoteAddress ?? ''),
    };
  }

  #logWhenDone(req: IncomingMessage, res: ServerResponse): void {
    const log = this.#options.accessLog;
    if (log === undefined) return;
    const startMs = Date.now();
    res.once('finish', () => log({ request: req, status: res.statusCode, bytes: Number(res.getHeader('content-length') ?? 0), startMs }));
  }
}

/** Why `user` may not use `section` (401 for a visitor, 403 for an account without the role). */
function accessProblem(section: PortalSection, user: PortalUser | undefined): WharfError | undefined {
  if ((section.needsAccount || section.needsAdmin === true) && user === undefined) return new WharfError('EAUTH', 'sign in first: this part of the portal is for accounts');
  if (section.needsAdmin === true && user?.admin !== true) return new WharfError('EFORBIDDEN', 'only an administrator may do this');
  return undefined;
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return typeof value === 'string' ? value : undefined;
}
