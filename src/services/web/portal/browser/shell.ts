/**
 * The portal's shell (issue #19; docs/portal.md): the page every section lives in. It asks the
 * server who is signed in and which sections there are (/portal/api/session), draws the header
 * with the menu, and shows the page of the path: the home page (home.ts), the sign-in form, or a
 * section's page, loaded with import() from /portal/pages/<id>.js and mounted with a PageContext.
 * Links are real links; the History API keeps navigation in the page and the back button works.
 * Every text goes through t(en, zh); every element is built with h() (never HTML from text).
 */
import { PortalApi, PortalApiError, h, preferredLanguage, replaceChildren, translator, type PageContext, type PortalPage } from '../../../../portal-kit/index.js';
import { mountHome } from './home.js';
import { signInForm } from './sign-in.js';
import type { SectionInfo, SessionState } from './types.js';

const lang = preferredLanguage(navigator.languages.length > 0 ? navigator.languages : [navigator.language]);
const t = translator(lang);
document.documentElement.lang = lang === 'zh' ? 'zh-CN' : 'en';

let session: SessionState;
let current: AbortController | undefined;
/** Counts navigations, so a page that finishes loading after the person moved on is not shown. */
let navigation = 0;

const status = h('p', { class: 'status', role: 'status', 'aria-live': 'polite' });
const menu = h('ul', { class: 'menu' });
const who = h('div', { class: 'who' });
const main = h('main', { id: 'main', tabindex: '-1' });

function announce(text: string): void {
  // Cleared first, so the same sentence twice is read twice.
  status.textContent = '';
  window.setTimeout(() => (status.textContent = text), 30);
}

/** The portal's own API (session, account, home): `/portal/api`, with the current CSRF token. */
export function portalApi(): PortalApi {
  return new PortalApi('/portal/api', session.csrf);
}

function sectionOf(path: string): SectionInfo | undefined {
  const id = /^\/([a-z]{1,20})(?:\/|$)/.exec(path)?.[1];
  return session.sections.find((section) => section.id === id);
}

/** Is `url` one of the portal's pages (a link the shell opens itself)? */
function isPortalPage(url: URL): boolean {
  if (url.origin !== location.origin) return false;
  return url.pathname === '/' || url.pathname === '/signin' || sectionOf(url.pathname) !== undefined;
}

function navigate(path: string, replace = false): void {
  const url = new URL(path, location.href);
  if (!isPortalPage(url)) {
    location.assign(url.href);
    return;
  }
  if (replace) history.replaceState(null, '', url.href);
  else history.pushState(null, '', url.href);
  void show();
}

function drawHeader(): void {
  const here = location.pathname;
  const link = (href: string, text: string, active: boolean) => h('li', {}, h('a', { href, ...(active ? { 'aria-current': 'page' } : {}) }, text));
  const visible = session.sections.filter((section) => !section.needsAdmin || session.user?.admin === true);
  replaceChildren(menu, link('/', t('Home', '首页'), here === '/'), visible.map((section) => link(`/${section.id}`, t(section.title.en, section.title.zh), sectionOf(here)?.id === section.id)));
  if (session.user === null) {
    delete document.documentElement.dataset.user;
    replaceChildren(who, h('a', { href: '/signin', class: 'button' }, t('Sign in', '登录')));
  } else {
    document.documentElement.dataset.user = session.user.name;
    replaceChildren(
      who,
      h('span', { class: 'user' }, h('span', { class: 'user-label' }, t('Signed in as ', '已登录：')), h('strong', {}, session.user.name)),
      h('button', { type: 'button', id: 'sign-out', onclick: () => void signOut() }, t('Sign out', '退出')),
    );
  }
}

async function signOut(): Promise<void> {
  try {
    session = await portalApi().send<SessionState>('DELETE', '/session');
    announce(t('Signed out.', '已退出。'));
    navigate('/');
  } catch (error) {
    announce(messageOf(error));
  }
}

export function messageOf(error: unknown): string {
  if (error instanceof PortalApiError) return error.status === 0 ? t('The server cannot be reached.', '无法连接服务器。') : error.message;
  return error instanceof Error ? error.message : String(error);
}

/** After a sign-in or a new account: the new session, and the page that asked for it. */
function signedIn(next: SessionState, then: string): void {
  session = next;
  announce(t(`Signed in as ${next.user?.name ?? ''}.`, `已登录：${next.user?.name ?? ''}。`));
  navigate(then, true);
}

function context(signal: AbortSignal, api: PortalApi): PageContext {
  return {
    user: session.user ?? undefined,
    lang,
    t,
    api,
    signal,
    announce,
    navigate: (path) => navigate(path),
  };
}

/** Draw the page of the current path. */
async function show(): Promise<void> {
  current?.abort();
  const controller = new AbortController();
  current = controller;
  const mine = ++navigation;
  delete document.documentElement.dataset.ready;
  // Asked again at each page (one small request): a session that ended meanwhile (signed out in
  // another tab, the account locked) shows as such, and sections that came or went are in the menu.
  if (mine > 1) {
    try {
      session = await new PortalApi('/portal/api', '').get<SessionState>('/session', undefined, controller.signal);
    } catch {
      // Offline or aborted: the page says so itself when it asks the server.
    }
    if (mine !== navigation) return;
  }
  drawHeader();
  const root = h('div', { class: 'page' });
  replaceChildren(main, root);
  const path = location.pathname;
  const section = sectionOf(path);
  const signIn = (then: string, reason?: string) => signInForm(root, { t, session, api: portalApi(), reason, register: new URLSearchParams(location.search).has('new'), done: (next) => signedIn(next, then), announce });
  try {
    if (path === '/') {
      document.title = 'wharf';
      await mountHome(root, context(controller.signal, portalApi()), session);
    } else if (path === '/signin') {
      document.title = `${t('Sign in', '登录')} · wharf`;
      if (session.user !== null) navigate('/', true);
      else signIn('/');
    } else if (section === undefined) {
      replaceChildren(root, h('h1', {}, t('Not found', '找不到页面')), h('p', {}, h('a', { href: '/' }, t('Back to the home page', '返回首页'))));
    } else {
      document.title = `${t(section.title.en, section.title.zh)} · wharf`;
      if ((section.needsAccount || section.needsAdmin) && session.user === null) {
        signIn(location.pathname + location.search, t('Sign in to use this page.', '请先登录再使用此页面。'));
      } else if (section.needsAdmin && session.user?.admin !== true) {
        replaceChildren(root, h('h1', {}, t(section.title.en, section.title.zh)), h('p', {}, t('This page is for administrators.', '此页面仅供管理员使用。')));
      } else {
        // Not bundled: each page is its own file, fetched when first opened.
        const script = `/portal/pages/${section.id}.js`;
        const module = (await import(script)) as { default: PortalPage };
        if (mine !== navigation) return;
        await module.default.mount(root, context(controller.signal, new PortalApi(`/portal/api/${section.id}`, session.csrf)));
      }
    }
  } catch (error) {
    if (mine !== navigation || controller.signal.aborted) return;
    replaceChildren(root, h('h1', {}, t('This page failed to load', '页面加载失败')), h('p', { role: 'alert' }, messageOf(error)));
  }
  if (mine === navigation) {
    document.documentElement.dataset.ready = path;
    // For bench/portal.ts: time to interactive of the first page, from the navigation's start.
    if (performance.getEntriesByName('portal-ready').length === 0) performance.mark('portal-ready');
  }
}

function onLinkClick(event: MouseEvent): void {
  if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  const anchor = (event.target as Element | null)?.closest('a');
  if (anchor === null || anchor === undefined || anchor.target !== '' || anchor.hasAttribute('download')) return;
  const url = new URL(anchor.href, location.href);
  if (!isPortalPage(url)) return;
  event.preventDefault();
  // The link of the page already shown shows it afresh (no new history entry).
  navigate(url.href, url.href === location.href);
  main.focus();
}

async function start(): Promise<void> {
  const skip = h('a', { class: 'skip', href: '#main' }, t('Skip to content', '跳到正文'));
  const header = h('header', { class: 'bar' }, h('a', { class: 'brand', href: '/' }, 'wharf'), h('nav', { 'aria-label': t('Sections', '栏目') }, menu), who);
  document.body.append(skip, header, main, status);
  skip.addEventListener('click', (event) => {
    event.preventDefault();
    main.focus();
  });
  try {
    session = await new PortalApi('/portal/api', '').get<SessionState>('/session');
  } catch (error) {
    replaceChildren(main, h('h1', {}, 'wharf'), h('p', { role: 'alert' }, messageOf(error)));
    return;
  }
  document.addEventListener('click', onLinkClick);
  window.addEventListener('popstate', () => void show());
  await show();
}

void start();
