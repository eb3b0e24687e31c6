/**
 * What keeps another site out of the portal (issue #19; docs/portal.md, "Security"): the cookies
 * and their flags, the portal's own origin, the same-origin check on every state-changing
 * request and every WebSocket, and the CSRF token compared in constant time.
 */
import { timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';
import type { IncomingMessage } from 'node:http';
import type { PortalUser } from '../../../core/portal.js';
import { newToken, type PortalSession } from '../../../store/portal-sessions.js';

/** The session: HttpOnly (no script reads it), SameSite=Strict, Secure under TLS. */
export const SESSION_COOKIE = 'wharf_session';
/** A visitor's CSRF token (double submit: the cookie and the header must be equal), so sign-in itself is CSRF-safe. */
export const CSRF_COOKIE = 'wharf_csrf';

const MAX_COOKIES = 64;

/**
 * The cookies of a request (a long junk header costs no more than 64 entries). A name sent twice
 * with different values reads as empty: cookies ignore ports, so another program on this host
 * (127.0.0.1:OTHERPORT) can toss in a `wharf_session` of its own with a longer Path, which the
 * browser sends first; the portal cannot tell which one is its own, so it trusts neither.
 */
export function readCookies(req: IncomingMessage): Map<string, string> {
  const cookies = new Map<string, string>();
  const header = req.headers.cookie;
  if (header === undefined) return cookies;
  let count = 0;
  for (const part of header.split(';')) {
    if (++count > MAX_COOKIES) break;
    const equals = part.indexOf('=');
    if (equals < 0) continue;
    const name = part.slice(0, equals).trim();
    const value = part.slice(equals + 1).trim();
    const earlier = cookies.get(name);
    cookies.set(name, earlier === undefined || earlier === value ? value : '');
  }
  return cookies;
}

export interface CookieOptions {
  secure: boolean;
  /** Seconds; 0 deletes the cookie. */
  maxAgeSeconds: number;
}

/** A `Set-Cookie` value with the portal's flags: Path=/, HttpOnly, SameSite=Strict, Secure under TLS. */
export function cookie(name: string, value: string, options: CookieOptions): string {
  return `${name}=${value}; Path=/; Max-Age=${Math.max(0, Math.floor(options.maxAgeSeconds))}; HttpOnly; SameSite=Strict${options.secure ? '; Secure' : ''}`;
}

/** A host as a browser writes it in `Origin`: a name or an address, an optional port. */
const HOST = /^(?:[a-z0-9.-]+|\[[0-9a-f:.]+\])(?::\d{1,5})?$/;

/**
 * The portal's origin as the browser names it (`http://127.0.0.1:8000`): the scheme of the
 * connection and the `Host` (HTTP/2: `:authority`) the request was sent to. Undefined when the
 * request names no valid host (then nothing state-changing can pass).
 */
export function portalOrigin(req: IncomingMessage, secure: boolean): string | undefined {
  const authority = req.headers[':authority'] ?? req.headers.host;
  const host = typeof authority === 'string' ? authority.toLowerCase() : undefined;
  if (host === undefined || !HOST.test(host)) return undefined;
  return `${secure ? 'https' : 'http'}://${host}`;
}

/** Which `Host` names the portal answers (DNS rebinding: see `foreignHost`). */
export interface HostNames {
  /** Check at all: the web service listens on loopback only, or names were given. */
  readonly enforce: boolean;
  /** Names given in the config (`portalHosts`), lower-case, without ports. */
  readonly names: ReadonlySet<string>;
}

/**
 * Why the portal does not answer under this request's `Host`, or undefined when it does.
 * A page at `evil.example` whose name is made to resolve to 127.0.0.1 (DNS rebinding) reaches
 * a loopback-only portal with its own name in `Host`, and its `Origin` then matches the origin
 * built from `Host`: so, listening on loopback, the portal answers only the names a person on
 * this machine opens it by (IP literals, `localhost`, `*.localhost`) and those it is told.
 */
export function foreignHost(req: IncomingMessage, hosts: HostNames): string | undefined {
  if (!hosts.enforce) return undefined;
  const authority = req.headers[':authority'] ?? req.headers.host;
  const host = typeof authority === 'string' ? authority.toLowerCase() : '';
  if (!HOST.test(host)) return 'the request names no valid Host';
  const name = host.startsWith('[') ? host.slice(1, host.indexOf(']')) : host.replace(/:\d+$/, '');
  if (isIP(name) !== 0 || name === 'localhost' || name.endsWith('.localhost') || hosts.names.has(name)) return undefined;
  return `this portal answers to its addresses and to localhost, not to ${name}; add the name to web.portalHosts to open it by that name`;
}

/**
 * Why a state-changing request is not from the portal's own pages, or undefined when it is:
 * its `Origin` must be the portal's; a browser that sends no `Origin` must say `Sec-Fetch-Site:
 * same-origin`; a request with neither is refused (every browser the portal supports sends one).
 */
export function crossOriginProblem(req: IncomingMessage, origin: string | undefined): string | undefined {
  if (origin === undefined) return 'the request names no valid Host';
  const sent = req.headers.origin;
  if (typeof sent === 'string') return sent.toLowerCase() === origin ? undefined : 'the request comes from another site (Origin)';
  const site = req.headers['sec-fetch-site'];
  if (typeof site === 'string') return site === 'same-origin' ? undefined : 'the request comes from another site (Sec-Fetch-Site)';
  return 'the request says neither where it comes from (Origin) nor that it is same-origin (Sec-Fetch-Site)';
}

/** Are the two tokens equal (in constant time)? An absent or empty one never is. */
export function tokensEqual(sent: string | undefined, expected: string | undefined): boolean {
  if (sent === undefined || expected === undefined || sent === '' || expected === '') return false;
  const a = Buffer.from(sent);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** The methods that change nothing and need no CSRF token. */
export function isSafeMethod(method: string | undefined): boolean {
  return method === 'GET' || method === 'HEAD' || method === 'OPTIONS';
}

/** Who sent a request: a signed-in session, or a visitor (with a CSRF cookie or not yet). */
export interface Identity {
  readonly session: PortalSession | undefined;
  /** The cookie's session token (when it opened a session). */
  readonly token: string | undefined;
  /** A session cookie was sent that opens no session (expired, signed out, account locked): cleared. */
  readonly staleCookie: boolean;
  /** The visitor's CSRF token from its cookie, when well-formed. */
  readonly visitorCsrf: string | undefined;
  readonly origin: string | undefined;
  readonly peer: string;
}

/** A fresh visitor CSRF token and its cookie. */
export function visitorToken(secure: boolean): { token: string; setCookie: string } {
  const token = newToken();
  // As long as a session may last: a page left open for days can still sign in.
  return { token, setCookie: cookie(CSRF_COOKIE, token, { secure, maxAgeSeconds: 30 * 24 * 3600 }) };
}

export function userOf(session: PortalSession | undefined): PortalUser | undefined {
  return session === undefined ? undefined : { name: session.account.name, admin: session.account.admin };
}

