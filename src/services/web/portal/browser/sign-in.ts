/**
 * The sign-in form, and the same form creating an account (where the server lets visitors
 * register). Shown at /signin and in place of any page that needs an account. The fields have
 * stable ids (`signin-name`, `signin-password`) for password managers and tests.
 */
import { PortalApiError, h, replaceChildren, type PortalApi } from '../../../../portal-kit/index.js';
import type { SessionState } from './types.js';

export interface SignInOptions {
  t(en: string, zh: string): string;
  session: SessionState;
  api: PortalApi;
  /** Why the form is shown instead of the page asked for. */
  reason?: string | undefined;
  /** Start in "create an account" mode. */
  register: boolean;
  done(next: SessionState): void;
  announce(text: string): void;
}

export function signInForm(root: HTMLElement, options: SignInOptions): void {
  const { t } = options;
  let registering = options.register && options.session.selfRegistration;
  const error = h('p', { class: 'error', role: 'alert', id: 'signin-error' });
  const name = h('input', { id: 'signin-name', name: 'name', autocomplete: 'username', required: true, maxlength: 64, autocapitalize: 'none', spellcheck: 'false' });
  const password = h('input', { id: 'signin-password', name: 'password', type: 'password', required: true, maxlength: 1024, 'aria-describedby': 'signin-error' });
  const title = h('h1', { id: 'signin-title' });
  const submit = h('button', { type: 'submit', id: 'signin-submit' });
  const toggle = h('button', { type: 'button', class: 'link', id: 'signin-toggle' });

  const draw = () => {
    title.textContent = registering ? t('Create an account', '创建账号') : t('Sign in', '登录');
    submit.textContent = registering ? t('Create account', '创建账号') : t('Sign in', '登录');
    toggle.textContent = registering ? t('I have an account: sign in', '已有账号：登录') : t('No account yet? Create one', '还没有账号？创建一个');
    password.setAttribute('autocomplete', registering ? 'new-password' : 'current-password');
    error.textContent = '';
  };

  const form = h(
    'form',
    { class: 'card signin', 'aria-labelledby': 'signin-title', novalidate: true },
    title,
    options.reason === undefined ? null : h('p', {}, options.reason),
    h('label', { for: 'signin-name' }, t('Name', '用户名')),
    name,
    h('label', { for: 'signin-password' }, t('Password', '密码')),
    password,
    error,
    h('div', { class: 'actions' }, submit, options.session.selfRegistration ? toggle : null),
  );
  toggle.addEventListener('click', () => {
    registering = !registering;
    draw();
    name.focus();
  });
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    if (name.value === '' || password.value === '') {
      error.textContent = t('Type your name and your password.', '请输入用户名和密码。');
      (name.value === '' ? name : password).focus();
      return;
    }
    submit.disabled = true;
    const request = registering ? options.api.send<SessionState>('POST', '/account', { name: name.value, password: password.value }) : options.api.send<SessionState>('POST', '/session', { name: name.value, password: password.value });
    request.then(
      (next) => options.done(next),
      (failure: unknown) => {
        submit.disabled = false;
        error.textContent = describe(failure, t, registering);
        options.announce(error.textContent);
        password.select();
        password.focus();
      },
    );
  });
  draw();
  replaceChildren(root, form);
  name.focus();
}

function describe(failure: unknown, t: SignInOptions['t'], registering: boolean): string {
  if (!(failure instanceof PortalApiError)) return String(failure);
  if (failure.status === 0) return t('The server cannot be reached.', '无法连接服务器。');
  if (failure.code === 'ELOGIN') return t('Wrong name or password.', '用户名或密码错误。');
  if (failure.code === 'ETHROTTLED' && !registering) return t(`Too many failed sign-ins: ${failure.message}`, `登录失败次数过多，请稍后再试。（${failure.message}）`);
  if (failure.code === 'ETAKEN') return t('That name is taken.', '这个用户名已被占用。');
  if (failure.code === 'EFORBIDDEN') return t(`Refused: ${failure.message}`, `被拒绝：${failure.message}`);
  return failure.message;
}
