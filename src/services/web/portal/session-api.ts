/**
 * Signing in and out of the portal, and creating an account (issue #19, "Home"). Sign-in goes
 * through `accounts.verify`, the same check and the same login throttle as every other login of
 * every service (a refused one waits `delayMs`; a throttled one is 429 with Retry-After);
 * creating an account through `accounts.register`, with its switch and per-address limit. The
 * portal (portal.ts) has already refused the cross-origin and token-less requests.
 *
 *   GET    /portal/api/session   { user, csrf, sections, selfRegistration }
 *   POST   /portal/api/session   { name, password } → the same, signed in (and the cookie)
 *   DELETE /portal/api/session   signs out
 *   POST   /portal/api/account   { name, password } → a new account, signed in
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { WharfError } from '../../../core/errors.js';
import type { Logger } from '../../../core/logger.js';
import type { PortalRegistry } from '../../../core/portal.js';
import { readJsonBody, sendJson, sendPortalError } from '../../../core/portal-http.js';
import { loginFailureLine } from '../../../store/accounts.js';
import type { Store } from '../../../store/database.js';
import type { PortalSessions } from '../../../store/portal-sessions.js';
import { SESSION_COOKIE, cookie, userOf, visitorToken, type Identity } from './guard.js';

const MAX_BODY_BYTES = 4 * 1024;

export interface SessionApiOptions {
  store: Store;
  sessions: PortalSessions;
  registry: PortalRegistry;
  logger: Logger;
  secure: boolean;
}

/** What the shell learns about who it is showing the portal to. */
export interface SessionAnswer {
  user: { name: string; admin: boolean } | null;
  csrf: string;
  sections: Array<{ id: string; title: { en: string; zh: string }; needsAccount: boolean; needsAdmin: boolean }>;
  selfRegistration: boolean;
}

function credentials(body: unknown): { name: string; password: string } {
  const fields = typeof body === 'object' && body !== null && !Array.isArray(body) ? (body as Record<string, unknown>) : {};
  if (typeof fields.name !== 'string' || typeof fields.password !== 'string') throw new WharfError('EBADVALUE', 'send { "name": …, "password": … } as JSON');
  return { name: fields.name, password: fields.password };
}

export class SessionApi {
  readonly #options: SessionApiOptions;

  constructor(options: SessionApiOptions) {
    this.#options = options;
  }

  async handle(req: IncomingMessage, res: ServerResponse, path: string, identity: Identity, headers: Record<string, string>): Promise<void> {
    try {
      const method = req.method ?? 'GET';
      if (path === '/portal/api/account') {
        if (method !== 'POST') throw new WharfError('EUSAGE', 'an account is created with POST');
        await this.#register(req, res, identity, headers);
      } else if (method === 'GET' || method === 'HEAD') {
        this.#answer(res, 200, identity.session === undefined ? undefined : { name: identity.session.account.name, admin: identity.session.account.admin }, identity.session?.csrfToken, identity, headers);
      } else if (method === 'POST') {
        await this.#signIn(req, res, identity, headers);
      } else if (method === 'DELETE') {
        if (identity.token !== undefined) await this.#options.sessions.remove(identity.token);
        if (identity.session !== undefined) this.#options.logger.info({ account: identity.session.account.name, peer: identity.peer }, `${identity.session.account.name} signed out of the portal`);
        const cleared = { ...headers, 'Set-Cookie': cookie(SESSION_COOKIE, '', { secure: this.#options.secure, maxAgeSeconds: 0 }) };
        this.#answer(res, 200, undefined, undefined, identity, cleared);
      } else {
        throw new WharfError('EUSAGE', 'the session is read with GET, opened with POST and closed with DELETE');
      }
    } catch (error) {
      req.resume();
      sendPortalError(res, error, this.#options.logger, headers);
    }
  }

  async #signIn(req: IncomingMessage, res: ServerResponse, identity: Identity, headers: Record<string, string>): Promise<void> {
    const { name, password } = credentials(await readJsonBody(req, MAX_BODY_BYTES));
    const result = await this.#options.store.accounts.verify(name, password, identity.peer);
    if (!result.ok) {
      this.#options.logger.warn({ account: name.slice(0, 64), peer: identity.peer, reason: result.reason }, loginFailureLine(name, identity.peer, result));
      if (result.delayMs > 0) await sleep(result.delayMs);
      if (result.reason === 'throttled' || result.retryAfterMs !== undefined) {
        const seconds = Math.max(1, Math.ceil((result.retryAfterMs ?? 1000) / 1000));
        sendJson(res, 429, { error: `too many failed sign-ins; try again in ${seconds} s`, code: 'ETHROTTLED', retryAfterSeconds: seconds }, { ...headers, 'Retry-After': String(seconds) });
        return;
      }
      if (result.reason === 'disabled') throw new WharfError('EFORBIDDEN', 'this account is locked; ask an administrator');
      throw new WharfError('ELOGIN', 'wrong name or password');
    }
    await this.#startSession(res, result.account.name, identity, headers, 200);
    this.#options.logger.info({ account: result.account.name, peer: identity.peer }, `${result.account.name} signed in to the portal`);
  }

  async #register(req: IncomingMessage, res: ServerResponse, identity: Identity, headers: Record<string, string>): Promise<void> {
    const { name, password } = credentials(await readJsonBody(req, MAX_BODY_BYTES));
    const account = await this.#options.store.accounts.register(name, password, identity.peer);
    await this.#startSession(res, account.name, identity, headers, 201);
  }

  async #startSession(res: ServerResponse, name: string, identity: Identity, headers: Record<string, string>, status: number): Promise<void> {
    // Signing in again replaces the session (a fixed token never outlives a sign-in).
    if (identity.token !== undefined) await this.#options.sessions.remove(identity.token);
    const session = await this.#options.sessions.create(name);
    const setCookie = cookie(SESSION_COOKIE, session.token, { secure: this.#options.secure, maxAgeSeconds: this.#options.sessions.maxAgeMs / 1000 });
    this.#answer(res, status, userOf(session), session.csrfToken, identity, { ...headers, 'Set-Cookie': setCookie });
  }

  /** The session answer; a visitor without a CSRF cookie gets one. */
  #answer(res: ServerResponse, status: number, user: { name: string; admin: boolean } | undefined, csrf: string | undefined, identity: Identity, headers: Record<string, string>): void {
    const cookies: string[] = [];
    if (headers['Set-Cookie'] !== undefined) cookies.push(headers['Set-Cookie']);
    let token = csrf ?? identity.visitorCsrf;
    if (token === undefined) {
      const fresh = visitorToken(this.#options.secure);
      token = fresh.token;
      cookies.push(fresh.setCookie);
    }
    const { 'Set-Cookie': _ignored, ...rest } = headers;
    if (cookies.length > 0) res.setHeader('Set-Cookie', cookies);
    const body: SessionAnswer = {
      user: user === undefined ? null : { name: user.name, admin: user.admin },
      csrf: token,
      sections: this.#options.registry.list().map((section) => ({ id: section.id, title: { en: section.title.en, zh: section.title.zh }, needsAccount: section.needsAccount, needsAdmin: section.needsAdmin === true })),
      selfRegistration: this.#options.store.accounts.selfRegistration,
    };
    sendJson(res, status, body, rest);
  }
}
