/**
 * The portal's home page: what this wharf runs (each service, its addresses, live counts,
 * refreshed every few seconds while the page is open) and how to reach it with standard
 * clients, each command ready to copy; the sections, with a word on signing in.
 */
import { h, replaceChildren, type PageContext } from '../../../../portal-kit/index.js';
import { ServicesView } from './services-view.js';
import type { ServiceLine, SessionState } from './types.js';

const REFRESH_MS = 4_000;

export async function mountHome(root: HTMLElement, ctx: PageContext, session: SessionState): Promise<void> {
  const { t } = ctx;
  const view = new ServicesView({ t, userName: ctx.user?.name, announce: ctx.announce, commands: true });
  const failure = h('p', { class: 'error', role: 'alert' });
  const sections = session.sections.filter((section) => !section.needsAdmin || ctx.user?.admin === true);
  replaceChildren(
    root,
    h('h1', {}, t('wharf on this machine', '这台机器上的 wharf')),
    h(
      'p',
      { class: 'lead' },
      ctx.user === undefined
        ? [t('Chat, look up words, keep your files and your diary. ', '聊天、查词、存放文件、写日记。'), h('a', { href: '/signin' }, t('Sign in', '登录')), t(' with your wharf account to use everything.', '后即可使用全部功能。')]
        : t(`Welcome, ${ctx.user.name}.`, `欢迎，${ctx.user.name}。`),
    ),
    sections.length === 0 ? null : h('nav', { class: 'tiles', 'aria-label': t('Pages', '页面') }, sections.map((section) => h('a', { class: 'tile', href: `/${section.id}` }, t(section.title.en, section.title.zh)))),
    h('h2', {}, t('Services', '服务')),
    h('p', {}, t('Connect with the programs you know: copy a command into a terminal.', '用你熟悉的程序连接：把命令复制到终端里运行。')),
    failure,
    view.element,
  );
  const refresh = async () => {
    try {
      const answer = await ctx.api.get<{ services: ServiceLine[] }>('/home/status', undefined, ctx.signal);
      failure.textContent = '';
      view.update(answer.services);
    } catch {
      if (ctx.signal.aborted) return;
      failure.textContent = t('The status could not be read; trying again.', '无法读取状态，正在重试。');
    }
  };
  await refresh();
  const timer = window.setInterval(() => void refresh(), REFRESH_MS);
  ctx.signal.addEventListener('abort', () => window.clearInterval(timer), { once: true });
}
