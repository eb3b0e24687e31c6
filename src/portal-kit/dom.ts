/**
 * Building the page's elements (browser code). Text always goes in as text nodes or
 * `textContent`, never as HTML: a name or a message from the network can never become markup.
 * Nothing in the portal uses `innerHTML`.
 */

type Child = Node | string | number | false | null | undefined | readonly Child[];

export type Attributes = Record<string, string | number | boolean | EventListener | undefined | null>;

/**
 * `h('button', { type: 'submit', onclick: send }, t('Send', '发送'))`. Attributes named `on…`
 * with a function become listeners; `true` sets an empty attribute, `false`/null/undefined none.
 */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attributes: Attributes = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on') && typeof value === 'function') element.addEventListener(name.slice(2), value);
    else element.setAttribute(name, value === true ? '' : String(value));
  }
  append(element, children);
  return element;
}

export function append(parent: Node, children: readonly Child[]): void {
  for (const child of children) {
    if (child === undefined || child === null || child === false) continue;
    if (Array.isArray(child)) append(parent, child);
    else if (typeof child === 'string' || typeof child === 'number') parent.appendChild(document.createTextNode(String(child)));
    else parent.appendChild(child as Node);
  }
}

/** Replace every child of `parent`. */
export function replaceChildren(parent: Element, ...children: Child[]): void {
  parent.replaceChildren();
  append(parent, children);
}

/** `1.5 MB`, for quotas and file sizes. */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

/**
 * Give the document a page's styles while the page is shown: a constructed style sheet, not an
 * inline <style>, so the portal's Content-Security-Policy (no 'unsafe-inline') leaves it alone.
 * Removed again when `signal` aborts (the person left the page).
 */
export function adoptStyles(css: string, signal: AbortSignal): void {
  const sheet = new CSSStyleSheet();
  sheet.replaceSync(css);
  document.adoptedStyleSheets = [...document.adoptedStyleSheets, sheet];
  signal.addEventListener('abort', () => {
    document.adoptedStyleSheets = document.adoptedStyleSheets.filter((s) => s !== sheet);
  });
}
