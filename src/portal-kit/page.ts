/**
 * What a portal page is (browser code). Each service's page is a module under
 * `src/services/<name>/portal/browser/` whose default export is a `PortalPage`; the web
 * service's shell imports it when the person opens the page and calls `mount`.
 */
import type { PortalApi } from './api.js';

export type Language = 'en' | 'zh';

export interface PageUser {
  readonly name: string;
  readonly admin: boolean;
}

export interface PageContext {
  /** The signed-in account, or undefined for a visitor. */
  readonly user: PageUser | undefined;
  readonly lang: Language;
  /** The text in the reader's language: `t('Send', '发送')`. */
  t(en: string, zh: string): string;
  /** The section's API (`/portal/api/<id>/`), carrying the session's CSRF token. */
  readonly api: PortalApi;
  /** Aborted when the person leaves the page: stop timers, close sockets. */
  readonly signal: AbortSignal;
  /** Say something to screen readers and show it in the shell's status line. */
  announce(text: string): void;
  /** Open another portal page (`/dict?q=word`) without reloading. */
  navigate(path: string): void;
}

export interface PortalPage {
  /** Fill `root` (empty, already in the document). Resolves once the page can be used. */
  mount(root: HTMLElement, context: PageContext): void | Promise<void>;
}
