/**
 * What runs, as the home and admin pages show it: each service, where it listens, its live
 * counts, and (on the home page) the standard clients' commands to copy. Redrawn only when the
 * services change; the counts are updated in place, so a refresh never moves the reader's focus.
 */
import { h, replaceChildren } from '../../../../portal-kit/index.js';
import type { ServiceLine } from './types.js';

export interface ServicesViewOptions {
  t(en: string, zh: string): string;
  /** The signed-in account's name: it replaces NAME in the commands. */
  userName: string | undefined;
  announce(text: string): void;
  /** Show the client commands with copy buttons (the home page). */
  commands: boolean;
}

/** `0.0.0.0` and `[::]` (listening everywhere) as the reader reaches the server: this page's host. */
export function reachable(text: string): string {
  const host = location.hostname.includes(':') ? `[${location.hostname}]` : location.hostname;
  return text.replace(/(?<=\/\/|\s|^)(?:0\.0\.0\.0|\[::\])(?=[:/\s]|$)/g, host);
}

export class ServicesView {
  readonly element = h('div', { class: 'services' });
  readonly #options: ServicesViewOptions;
  #shape = '';
  readonly #counts = new Map<string, HTMLElement>();

  constructor(options: ServicesViewOptions) {
    this.#options = options;
  }

  update(services: readonly ServiceLine[]): void {
    const shape = JSON.stringify(services.map((service) => [service.name, service.addresses, service.clientCommands ?? []]));
    if (shape !== this.#shape) {
      this.#shape = shape;
      this.#counts.clear();
      replaceChildren(this.element, services.length === 0 ? h('p', {}, this.#options.t('No service is running.', '没有正在运行的服务。')) : services.map((service) => this.#card(service)));
    }
    for (const service of services) {
      const counts = this.#counts.get(service.name);
      if (counts !== undefined) counts.textContent = this.#countsText(service);
    }
  }

  #countsText(service: ServiceLine): string {
    const { t } = this.#options;
    const parts = [t(`${service.connectionsOpen} connected`, `${service.connectionsOpen} 个连接`)];
    if (service.transfers !== undefined) parts.push(t(`${service.transfers} transfers`, `${service.transfers} 个传输`));
    if (service.members !== undefined) parts.push(t(`${service.members.count} in the chat`, `聊天室 ${service.members.count} 人`));
    return parts.join(' · ');
  }

  #card(service: ServiceLine): HTMLElement {
    const counts = h('p', { class: 'counts', 'data-service': service.name }, this.#countsText(service));
    this.#counts.set(service.name, counts);
    const commands = this.#options.commands ? (service.clientCommands ?? []) : [];
    return h(
      'section',
      { class: 'card service', 'aria-labelledby': `service-${service.name}` },
      h('h3', { id: `service-${service.name}` }, service.name),
      h('ul', { class: 'addresses' }, service.addresses.map((address) => h('li', {}, h('code', {}, reachable(address))))),
      counts,
      commands.length === 0 ? null : h('ul', { class: 'commands' }, commands.map((command) => this.#command(command.summary, command.command))),
    );
  }

  #command(summary: string, template: string): HTMLElement {
    const { t, userName } = this.#options;
    const line = reachable(userName === undefined ? template : template.replace(/\bNAME\b/g, userName));
    const code = h('code', {}, line);
    const copy = h('button', { type: 'button', class: 'copy', 'aria-label': t(`Copy: ${summary}`, `复制：${summary}`) }, t('Copy', '复制'));
    copy.addEventListener('click', () => void this.#copy(line, code));
    return h('li', {}, h('span', { class: 'summary' }, summary), h('div', { class: 'command' }, code, copy));
  }

  async #copy(text: string, code: HTMLElement): Promise<void> {
    const { t, announce } = this.#options;
    try {
      // The clipboard API needs a secure context (https, or 127.0.0.1 and localhost).
      await navigator.clipboard.writeText(text);
      announce(t('Copied.', '已复制。'));
    } catch {
      const selection = getSelection();
      const range = document.createRange();
      range.selectNodeContents(code);
      selection?.removeAllRanges();
      selection?.addRange(range);
      announce(t('Selected: press Ctrl+C to copy.', '已选中：按 Ctrl+C 复制。'));
    }
  }
}
