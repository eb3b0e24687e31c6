/**
 * The admin page (/admin, the web service's own section; API in ../admin.ts): every account with
 * its use of its quota, adding one, locking and unlocking, a new password, a new quota; and the
 * live status of every service. Names are shown as text, whatever they hold.
 */
import type { AdminAccount } from '../admin-types.js';
import { PortalApiError, formatBytes, h, replaceChildren, type PageContext, type PortalPage } from '../../../../portal-kit/index.js';
import { ServicesView } from './services-view.js';
import type { ServiceLine } from './types.js';


const REFRESH_MS = 4_000;

function failureText(ctx: PageContext, error: unknown): string {
  if (error instanceof PortalApiError) return error.status === 0 ? ctx.t('The server cannot be reached.', '无法连接服务器。') : error.message;
  return String(error);
}

class AdminPage {
  readonly #ctx: PageContext;
  readonly #body = h('tbody');
  readonly #error = h('p', { class: 'error', role: 'alert' });

  constructor(ctx: PageContext) {
    this.#ctx = ctx;
  }

  async mount(root: HTMLElement): Promise<void> {
    const { t } = this.#ctx;
    const services = new ServicesView({ t, userName: this.#ctx.user?.name, announce: this.#ctx.announce, commands: false });
    replaceChildren(
      root,
      h('h1', {}, t('Admin', '管理')),
      h('h2', { id: 'accounts-title' }, t('Accounts', '账号')),
      this.#error,
      h(
        'div',
        { class: 'table-wrap' },
        h(
          'table',
          { class: 'accounts', 'aria-labelledby': 'accounts-title' },
          h('thead', {}, h('tr', {}, [t('Name', '用户名'), t('Role', '角色'), t('State', '状态'), t('Storage', '存储'), t('Actions', '操作')].map((title) => h('th', { scope: 'col' }, title)))),
          this.#body,
        ),
      ),
      this.#addForm(),
      h('h2', {}, t('Services', '服务')),
      services.element,
    );
    const refreshServices = async () => {
      try {
        services.update((await this.#ctx.api.get<{ services: ServiceLine[] }>('/status', undefined, this.#ctx.signal)).services);
      } catch {
        // The next refresh tries again; the accounts' errors are the ones shown.
      }
    };
    await Promise.all([this.#load(), refreshServices()]);
    const timer = window.setInterval(() => void refreshServices(), REFRESH_MS);
    this.#ctx.signal.addEventListener('abort', () => window.clearInterval(timer), { once: true });
  }

  async #load(): Promise<void> {
    try {
      const { accounts } = await this.#ctx.api.get<{ accounts: AdminAccount[] }>('/accounts', undefined, this.#ctx.signal);
      this.#error.textContent = '';
      replaceChildren(this.#body, accounts.map((account) => this.#row(account)));
    } catch (error) {
      if (!this.#ctx.signal.aborted) this.#error.textContent = failureText(this.#ctx, error);
    }
  }

  /** Change one account; reload the list and say what happened. */
  async #change(fields: Record<string, unknown>, done: string): Promise<boolean> {
    try {
      await this.#ctx.api.send('PATCH', '/accounts', fields);
      this.#ctx.announce(done);
      await this.#load();
      return true;
    } catch (error) {
      const text = failureText(this.#ctx, error);
      this.#error.textContent = text;
      this.#ctx.announce(text);
      return false;
    }
  }

  #row(account: AdminAccount): HTMLTableRowElement {
    const { t } = this.#ctx;
    const name = account.name;
    const editor = h('div', { class: 'editor' });
    const lockText = account.disabled ? t('Unlock', '解锁') : t('Lock', '锁定');
    const lock = h('button', { type: 'button', class: 'secondary', 'aria-label': `${lockText} ${name}` }, lockText);
    lock.addEventListener('click', () => void this.#change({ name, disabled: !account.disabled }, account.disabled ? t(`${name} is unlocked.`, `${name} 已解锁。`) : t(`${name} is locked.`, `${name} 已锁定。`)));
    const password = h('button', { type: 'button', class: 'secondary', 'aria-label': t(`New password for ${name}`, `为 ${name} 设置新密码`) }, t('New password', '新密码'));
    password.addEventListener('click', () => this.#edit(editor, password, { label: t(`New password for ${name}`, `${name} 的新密码`), type: 'password', autocomplete: 'new-password' }, (value) => this.#change({ name, password: value }, t(`${name} has a new password.`, `${name} 的密码已更改。`))));
    const quota = h('button', { type: 'button', class: 'secondary', 'aria-label': t(`Quota of ${name}`, `${name} 的配额`) }, t('Quota', '配额'));
    quota.addEventListener('click', () => this.#edit(editor, quota, { label: t(`Quota of ${name} (bytes, or 500M, 2G)`, `${name} 的配额（字节，或 500M、2G）`), type: 'text', value: String(account.quotaBytes) }, (value) => this.#change({ name, quota: value }, t(`${name}'s quota is set.`, `${name} 的配额已设置。`))));
    return h(
      'tr',
      { 'data-account': name },
      h('td', {}, h('strong', {}, name)),
      h('td', {}, account.admin ? t('admin', '管理员') : t('user', '用户')),
      h('td', {}, h('span', { class: account.disabled ? 'tag locked' : 'tag' }, account.disabled ? t('locked', '已锁定') : t('active', '正常'))),
      h('td', {}, `${formatBytes(account.bytesUsed)} / ${formatBytes(account.quotaBytes)}`),
      h('td', {}, h('div', { class: 'row-actions' }, account.name === this.#ctx.user?.name ? null : lock, password, quota), editor),
    );
  }

  /** An inline form under a row's buttons: one field, Save and Cancel; focus returns to `opener`. */
  #edit(editor: HTMLElement, opener: HTMLElement, field: { label: string; type: string; autocomplete?: string; value?: string }, save: (value: string) => Promise<boolean>): void {
    const { t } = this.#ctx;
    const id = `edit-${Math.random().toString(36).slice(2)}`;
    const input = h('input', { id, type: field.type, autocomplete: field.autocomplete ?? 'off', value: field.value, required: true });
    const close = () => {
      replaceChildren(editor);
      opener.focus();
    };
    const form = h('form', { class: 'inline-edit' }, h('label', { for: id }, field.label), input, h('div', { class: 'actions' }, h('button', { type: 'submit' }, t('Save', '保存')), h('button', { type: 'button', class: 'secondary', onclick: close }, t('Cancel', '取消'))));
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      if (input.value === '') return;
      void save(input.value).then((saved) => {
        if (saved && editor.isConnected) close();
      });
    });
    replaceChildren(editor, form);
    input.focus();
  }

  #addForm(): HTMLElement {
    const { t } = this.#ctx;
    const name = h('input', { id: 'add-name', autocomplete: 'off', required: true, maxlength: 64 });
    const password = h('input', { id: 'add-password', type: 'password', autocomplete: 'new-password', required: true });
    const quota = h('input', { id: 'add-quota', autocomplete: 'off', placeholder: t('default', '默认') });
    const admin = h('input', { id: 'add-admin', type: 'checkbox' });
    const error = h('p', { class: 'error', role: 'alert' });
    const form = h(
      'form',
      { class: 'card', 'aria-labelledby': 'add-title' },
      h('h2', { id: 'add-title' }, t('Add an account', '添加账号')),
      h(
        'div',
        { class: 'form-grid' },
        h('div', {}, h('label', { for: 'add-name' }, t('Name', '用户名')), name),
        h('div', {}, h('label', { for: 'add-password' }, t('Password', '密码')), password),
        h('div', {}, h('label', { for: 'add-quota' }, t('Quota (500M, 2G)', '配额（500M、2G）')), quota),
      ),
      h('label', { class: 'inline', for: 'add-admin' }, admin, t('Administrator', '管理员')),
      error,
      h('div', { class: 'actions' }, h('button', { type: 'submit', id: 'add-submit' }, t('Add account', '添加账号'))),
    );
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      const added = name.value;
      this.#ctx.api.send('POST', '/accounts', { name: added, password: password.value, admin: admin.checked, ...(quota.value.trim() === '' ? {} : { quota: quota.value.trim() }) }).then(
        async () => {
          error.textContent = '';
          form.reset();
          this.#ctx.announce(t(`Account ${added} added.`, `已添加账号 ${added}。`));
          await this.#load();
          name.focus();
        },
        (failure: unknown) => {
          error.textContent = failureText(this.#ctx, failure);
          this.#ctx.announce(error.textContent);
        },
      );
    });
    return form;
  }
}

const page: PortalPage = {
  mount: (root, ctx) => new AdminPage(ctx).mount(root),
};
export default page;
