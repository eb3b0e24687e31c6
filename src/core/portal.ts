/**
 * The browser portal's contract (issue #19): how a service puts a page in the portal that the web
 * service serves, without either importing the other.
 *
 * The host owns one `PortalRegistry` (`ServiceContext.portal`). A service with a page (the chat,
 * the dictionary, the files, the diary) adds a `PortalSection` when it starts and withdraws it
 * when it stops; the web service reads the registry at each request, so the order in which
 * services start does not matter. The web service owns what every section shares: the shell
 * page, sign-in and the session cookie, the same-origin and CSRF checks, the WebSocket Origin
 * check. A section gets requests that have passed them, with the signed-in account.
 *
 * A section's browser code is a module under `src/services/<name>/portal/browser/`, built by
 * `scripts/build-portal.mjs` into `dist/portal/pages/<name>.js` (see `portalAssetPath`); it
 * exports a `PortalPage` (src/portal-kit/page.ts) as its default.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { fileURLToPath } from 'node:url';
import type { Duplex } from 'node:stream';
import { WharfError } from './errors.js';

/** The account signed in to the portal. */
export interface PortalUser {
  readonly name: string;
  /** An account with the admin role: the admin page and its API. */
  readonly admin: boolean;
}

/** What the portal tells a section about a request it passes on. */
export interface PortalRequest {
  /** The signed-in account, or undefined for a visitor. */
  readonly user: PortalUser | undefined;
  /**
   * The path below the section's API root, still percent-encoded as the client sent it:
   * `/portal/api/files/list?path=%2Fdocs` → `/list`. Never empty (at least `/`).
   */
  readonly path: string;
  readonly query: URLSearchParams;
  /** The client's IP address (normalised: no `::ffff:`), for logs and login throttles. */
  readonly peer: string;
  /** `http://127.0.0.1:8000`: the portal's own origin, as the browser names it. */
  readonly origin: string;
  /** True when the connection is TLS (cookies get `Secure`). */
  readonly secure: boolean;
}

/** Titles and short texts are given in both languages of the portal. */
export interface PortalText {
  readonly en: string;
  readonly zh: string;
}

export interface PortalSection {
  /**
   * The section's key and URL segment: `chat` → the page at `/chat`, its API under
   * `/portal/api/chat/`, its script at `/portal/pages/chat.js`. Lower-case letters only.
   */
  readonly id: string;
  /** The menu entry. */
  readonly title: PortalText;
  /** Position in the menu: home 0, chat 10, dictionary 20, files 30, diary 40, admin 90. */
  readonly order: number;
  /** Only a signed-in account may use it (a visitor sees the sign-in form instead of the page). */
  readonly needsAccount: boolean;
  /** Only an admin account may use it. */
  readonly needsAdmin?: boolean;
  /** The built browser module, an absolute path: `portalAssetPath('pages/chat.js')`. */
  readonly script: string;
  /**
   * A request under `/portal/api/<id>/` (any method). The portal has already refused requests
   * that need an account (when `needsAccount`), and every state-changing request (anything but
   * GET and HEAD) that is cross-origin or lacks the session's CSRF token. The section answers
   * every request it is given, errors as JSON `{ "error": sentence, "code": WharfError code }`.
   */
  handle?(req: IncomingMessage, res: ServerResponse, request: PortalRequest): void | Promise<void>;
  /**
   * A WebSocket upgrade under `/portal/api/<id>/`, its `Origin` already checked to be the
   * portal's own (a page elsewhere can never open it). The section completes or refuses it
   * (the `ws` library's `handleUpgrade`).
   */
  upgrade?(req: IncomingMessage, socket: Duplex, head: Buffer, request: PortalRequest): void;
}

const SECTION_ID = /^[a-z]{1,20}$/;
/** Paths of the portal itself that no section may take. */
const RESERVED_IDS = new Set(['portal', 'api', 'home', 'signin', 'signout', 'admin', 'session', 'account', 'pages']);

/** The sections a host's services offer, read by the web service at each request. */
export class PortalRegistry {
  readonly #sections = new Map<string, PortalSection>();

  /**
   * Add a section; returns the function that withdraws it (call it when the service stops).
   * `allowReserved` is for the web service's own sections (admin).
   */
  add(section: PortalSection, options: { allowReserved?: boolean } = {}): () => void {
    if (!SECTION_ID.test(section.id) || (RESERVED_IDS.has(section.id) && options.allowReserved !== true)) {
      throw new WharfError('EUSAGE', `a portal section's id is 1 to 20 lower-case letters and not one of the portal's own paths: ${JSON.stringify(section.id)}`);
    }
    if (this.#sections.has(section.id)) throw new WharfError('EUSAGE', `two services both offer the portal section ${section.id}`);
    this.#sections.set(section.id, section);
    return () => {
      if (this.#sections.get(section.id) === section) this.#sections.delete(section.id);
    };
  }

  get(id: string): PortalSection | undefined {
    return this.#sections.get(id);
  }

  /** Every section, in menu order. */
  list(): PortalSection[] {
    return [...this.#sections.values()].sort((a, b) => a.order - b.order || a.id.localeCompare(b.id));
  }
}

/**
 * Where the built browser files are: `<package>/dist/portal/<relative>`. The same from the
 * sources (tests) and from `dist/` (the installed command), since both are two folders deep.
 */
export function portalAssetPath(relative: string): string {
  return fileURLToPath(new URL(`../../dist/portal/${relative}`, import.meta.url));
}
