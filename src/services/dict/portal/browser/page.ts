/**
 * The dictionary's page in the portal (browser code): a search box that suggests headwords as
 * you type (DICT MATCH with the strategy chosen; the ARIA combobox pattern: arrows, Enter,
 * Escape), the definitions from every database grouped by database, cross-references as links
 * that look the word up, "did you mean" when nothing is defined, and the signed-in account's
 * history. Each look-up is a URL (`/dict?q=word`) opened with the shell's navigate, so the back
 * button goes back to the word before; the shell mounts the page again for each one.
 * Every word and definition from the network goes in as text (portal-kit `h()`), never as HTML.
 */
import { h, PortalApiError, replaceChildren, type PageContext, type PortalPage, adoptStyles } from '../../../../portal-kit/index.js';
import type { DatabaseMatches, DefineAnswer, DefinitionAnswer, DefinitionSegment, HistoryAnswer, MatchAnswer, StrategiesAnswer } from '../api-types.js';
import { bodySegments, unwrapSegments } from '../cross-references.js';

const CSS = `
.dict-search{display:flex;flex-wrap:wrap;gap:.5rem;align-items:flex-end}
.dict-search label{margin:0 0 .25rem}
.dict-field{flex:1 1 16rem;min-width:0}
.dict-strategy{flex:0 1 12rem;min-width:0}
.dict-combo{position:relative}
.dict-options{position:absolute;z-index:5;left:0;right:0;top:100%;margin:.15rem 0 0;padding:.25rem 0;list-style:none;background:var(--card,#fff);border:1px solid var(--line,#ccc);border-radius:6px;box-shadow:0 4px 14px #0003;max-height:18rem;overflow-y:auto}
.dict-options li{display:flex;justify-content:space-between;gap:.75rem;padding:.45rem .7rem;cursor:pointer;overflow-wrap:anywhere}
.dict-options li[aria-selected=true]{background:var(--accent,#0a5bd3);color:var(--accent-fg,#fff)}
.dict-options .dict-db{font-size:.8em;opacity:.75;white-space:nowrap}
.dict-hint{color:var(--muted,#666);font-size:.9rem;margin:.35rem 0 0;min-height:1.35em}
.dict-layout{display:grid;grid-template-columns:minmax(0,1fr) 14rem;gap:1.25rem;margin-top:1rem}
.dict-results h2{margin:1rem 0 .4rem;font-size:1.1rem}
.dict-results h2:first-child{margin-top:0}
.dict-results h3{margin:.8rem 0 .2rem;font-size:1.05rem}
.dict-results .dict-db{font-weight:400;color:var(--muted,#666);font-size:.85em;margin-left:.4rem}
.dict-line{display:block;padding-left:1.5em;text-indent:-1.5em;margin:.1rem 0}
.dict-text{white-space:pre-wrap;overflow-wrap:anywhere;margin:0;padding:.6rem .75rem;background:var(--card,#fff);border:1px solid var(--line,#ddd);border-radius:8px;font-size:.9rem;line-height:1.45}
.dict-did ul{display:flex;flex-wrap:wrap;gap:.25rem 1rem;list-style:none;padding:0}
.dict-history h2{margin-top:0;font-size:1.05rem}
.dict-history ol{list-style:none;margin:0;padding:0}
.dict-history li{display:flex;justify-content:space-between;gap:.5rem;padding:.3rem 0;border-bottom:1px solid var(--line,#ddd)}
.dict-history a{overflow-wrap:anywhere}
.dict-history time{color:var(--muted,#666);font-size:.8rem;white-space:nowrap}
.dict-hidden{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}
@media (max-width:40rem){.dict-layout{grid-template-columns:minmax(0,1fr)}.dict-strategy{flex:1 1 100%}.dict-text{font-size:.85rem;padding:.5rem}}
`;

/** Wait this long after the last keystroke before asking for suggestions. */
const DEBOUNCE_MS = 150;
/** Headwords asked per database, and options shown in all. */
const SUGGESTIONS_PER_DATABASE = 8;
const MAX_OPTIONS = 12;
const MAX_QUERY_CHARS = 200;

/** Kept across mounts (the shell mounts the page again for every look-up): the strategy chosen, and where focus goes next. */
const remembered: { strategy: string; focus: 'search' | 'results' | undefined } = { strategy: 'prefix', focus: undefined };

function messageOf(error: unknown, t: PageContext['t']): string {
  if (error instanceof PortalApiError) return error.status === 0 ? t('The server cannot be reached.', '无法连接服务器。') : error.message;
  return error instanceof Error ? error.message : String(error);
}

const isAbort = (error: unknown): boolean => error instanceof DOMException && error.name === 'AbortError';

/** The URL of a look-up: what links point at and the shell navigates to. */
export function lookupPath(word: string): string {
  return `/dict?q=${encodeURIComponent(word)}`;
}

interface Option {
  word: string;
  databases: string[];
}

/** The suggestions of a MATCH as options: each word once, with the databases that have it. */
function optionsOf(matches: readonly DatabaseMatches[]): Option[] {
  const byWord = new Map<string, Option>();
  for (const { database, words } of matches) {
    for (const word of words) {
      const option = byWord.get(word);
      if (option) option.databases.push(database);
      else if (byWord.size < MAX_OPTIONS) byWord.set(word, { word, databases: [database] });
    }
  }
  return [...byWord.values()];
}

/**
 * The search box and its listbox of suggestions (WAI-ARIA combobox with a listbox popup): the
 * focus stays in the box, `aria-activedescendant` names the option the arrows moved to.
 */
class SearchBox {
  readonly input: HTMLInputElement;
  readonly element: HTMLElement;
  readonly #list: HTMLUListElement;
  readonly #hint: HTMLElement;
  readonly #ctx: PageContext;
  readonly #strategy: () => string;
  readonly #go: (word: string) => void;
  #options: Option[] = [];
  #active = -1;
  #timer: number | undefined;
  #pending: AbortController | undefined;

  constructor(ctx: PageContext, strategy: () => string, go: (word: string) => void) {
    const { t } = ctx;
    this.#ctx = ctx;
    this.#strategy = strategy;
    this.#go = go;
    this.#list = h('ul', { id: 'dict-options', class: 'dict-options', role: 'listbox', 'aria-label': t('Suggestions', '建议'), hidden: true });
    this.#hint = h('p', { id: 'dict-hint', class: 'dict-hint', 'aria-live': 'polite' });
    this.input = h('input', {
      id: 'dict-q',
      type: 'search',
      name: 'q',
      role: 'combobox',
      'aria-autocomplete': 'list',
      'aria-expanded': 'false',
      'aria-controls': 'dict-options',
      'aria-describedby': 'dict-hint',
      autocomplete: 'off',
      autocapitalize: 'off',
      spellcheck: 'false',
      enterkeyhint: 'search',
      maxlength: MAX_QUERY_CHARS,
      placeholder: t('a word, 一个词', '一个词，a word'),
    });
    this.input.addEventListener('input', (event) => {
      if (!(event as InputEvent).isComposing) this.#schedule();
    });
    // Chinese typed with an input method: suggest for the characters chosen, not the pinyin on the way.
    this.input.addEventListener('compositionend', () => this.#schedule());
    this.input.addEventListener('keydown', (event) => this.#key(event));
    this.input.addEventListener('blur', () => window.setTimeout(() => this.close(), 150));
    this.element = h('div', { class: 'dict-combo' }, this.input, this.#list);
    ctx.signal.addEventListener('abort', () => this.#cancel(), { once: true });
  }

  get hint(): HTMLElement {
    return this.#hint;
  }

  /** Ask again (the strategy changed). */
  refresh(): void {
    if (this.input.value.trim() !== '') this.#schedule();
  }

  close(): void {
    this.#list.hidden = true;
    this.input.setAttribute('aria-expanded', 'false');
    this.input.removeAttribute('aria-activedescendant');
    this.#active = -1;
  }

  /** Stop waiting for suggestions (a look-up starts). */
  settle(): void {
    this.#cancel();
    this.close();
  }

  #cancel(): void {
    window.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#pending?.abort();
    this.#pending = undefined;
  }

  #schedule(): void {
    this.#cancel();
    const query = this.input.value.trim();
    if (query === '') {
      this.#options = [];
      this.#hint.textContent = '';
      this.close();
      return;
    }
    this.#timer = window.setTimeout(() => {
      this.#timer = undefined;
      void this.#suggest(query);
    }, DEBOUNCE_MS);
  }

  async #suggest(query: string): Promise<void> {
    // A newer keystroke aborts this request: an old answer never replaces a newer one.
    // Leaving the page aborts it too (#cancel on the page's signal).
    const controller = new AbortController();
    this.#pending = controller;
    const signal = controller.signal;
    try {
      const answer = await this.#ctx.api.get<MatchAnswer>('/match', { q: query, strategy: this.#strategy(), limit: SUGGESTIONS_PER_DATABASE }, signal);
      if (signal.aborted) return;
      this.#show(optionsOf(answer.matches));
    } catch (error) {
      if (isAbort(error) || signal.aborted) return;
      this.#options = [];
      this.close();
      this.#hint.textContent = messageOf(error, this.#ctx.t);
    } finally {
      if (this.#pending === controller) this.#pending = undefined;
    }
  }

  #show(options: Option[]): void {
    const { t } = this.#ctx;
    this.#options = options;
    this.#active = -1;
    this.input.removeAttribute('aria-activedescendant');
    replaceChildren(
      this.#list,
      options.map((option, index) =>
        h(
          'li',
          { id: `dict-option-${index}`, role: 'option', 'aria-selected': 'false', onmousedown: (event: Event) => event.preventDefault(), onclick: () => this.#choose(index) },
          h('span', {}, option.word),
          h('span', { class: 'dict-db' }, option.databases.join(', ')),
        ),
      ),
    );
    const open = options.length > 0 && document.activeElement === this.input;
    this.#list.hidden = !open;
    this.input.setAttribute('aria-expanded', String(open));
    this.#hint.textContent = options.length === 0 ? t('No suggestions.', '没有建议。') : t(`${options.length} suggestions: use the arrow keys.`, `${options.length} 个建议：用方向键选择。`);
  }

  #move(by: number): void {
    if (this.#options.length === 0) return;
    if (this.#list.hidden) {
      this.#list.hidden = false;
      this.input.setAttribute('aria-expanded', 'true');
    }
    const count = this.#options.length;
    this.#active = this.#active === -1 ? (by > 0 ? 0 : count - 1) : (this.#active + by + count) % count;
    this.#list.querySelectorAll('li').forEach((item, index) => item.setAttribute('aria-selected', String(index === this.#active)));
    const item = this.#list.children[this.#active] as HTMLElement | undefined;
    item?.scrollIntoView({ block: 'nearest' });
    this.input.setAttribute('aria-activedescendant', `dict-option-${this.#active}`);
  }

  #choose(index: number): void {
    const option = this.#options[index];
    if (option === undefined) return;
    this.input.value = option.word;
    this.settle();
    this.#go(option.word);
  }

  #key(event: KeyboardEvent): void {
    if (event.isComposing) return;
    switch (event.key) {
      case 'ArrowDown':
        event.preventDefault();
        this.#move(1);
        break;
      case 'ArrowUp':
        event.preventDefault();
        this.#move(-1);
        break;
      case 'Enter':
        if (!this.#list.hidden && this.#active !== -1) {
          event.preventDefault();
          this.#choose(this.#active);
        }
        break;
      case 'Escape':
        if (!this.#list.hidden || this.#pending !== undefined || this.#timer !== undefined) {
          // Closed for good: an answer still on its way does not open it again.
          event.preventDefault();
          this.settle();
        } else if (this.input.value !== '') {
          event.preventDefault();
          this.input.value = '';
          this.#schedule();
        }
        break;
    }
  }
}

/** A link that looks `word` up: a real link (a new tab works), a plain click handled here. */
function wordLink(word: string, text: string, follow: (word: string) => void): HTMLAnchorElement {
  return h(
    'a',
    {
      href: lookupPath(word),
      onclick: (event: Event) => {
        const click = event as MouseEvent;
        if (click.button !== 0 || click.metaKey || click.ctrlKey || click.shiftKey || click.altKey) return;
        event.preventDefault();
        follow(word);
      },
    },
    text,
  );
}

/**
 * The text of one definition, its cross-references as links that look the word up; each line
 * (a sense, once unwrapped) a block with a hanging indent, so the senses stand apart on a phone.
 */
function definitionText(segments: readonly DefinitionSegment[], follow: (word: string) => void): HTMLElement {
  const lines: Array<Array<Node | string>> = [[]];
  for (const segment of segments) {
    if ('link' in segment) {
      lines[lines.length - 1]!.push(wordLink(segment.link, segment.text, follow));
      continue;
    }
    segment.text.split('\n').forEach((piece, index) => {
      if (index > 0) lines.push([]);
      if (piece !== '') lines[lines.length - 1]!.push(piece);
    });
  }
  if (lines.length > 1 && lines[lines.length - 1]!.length === 0) lines.pop();
  return h('div', { class: 'dict-text' }, lines.map((line) => h('span', { class: 'dict-line' }, line.length === 0 ? '\u00a0' : line)));
}

/** Definitions grouped by database, in the order the server gave them (databases in their order). */
function definitionsView(definitions: readonly DefinitionAnswer[], follow: (word: string) => void): HTMLElement[] {
  const out: HTMLElement[] = [];
  let database: string | undefined;
  for (const definition of definitions) {
    if (definition.database !== database) {
      database = definition.database;
      out.push(h('h2', {}, definition.description, h('span', { class: 'dict-db' }, definition.database)));
    }
    out.push(h('article', { 'data-database': definition.database }, h('h3', {}, definition.headword), definitionText(unwrapSegments(bodySegments(definition.segments, definition.headword)), follow)));
  }
  return out;
}

function formatTime(iso: string, lang: PageContext['lang']): string {
  const at = new Date(iso);
  return Number.isNaN(at.getTime()) ? iso : at.toLocaleString(lang === 'zh' ? 'zh-CN' : 'en', { dateStyle: 'short', timeStyle: 'short' });
}

class DictionaryPage {
  readonly #ctx: PageContext;
  readonly #search: SearchBox;
  readonly #strategy: HTMLSelectElement;
  readonly #results = h('div', { class: 'dict-results', id: 'dict-results' });
  readonly #heading: HTMLHeadingElement;
  readonly #history = h('ol', { id: 'dict-history-list' });
  readonly #historyNote = h('p', { class: 'dict-hint' });

  constructor(ctx: PageContext) {
    this.#ctx = ctx;
    const { t } = ctx;
    this.#heading = h('h1', { tabindex: '-1' }, t('Dictionary', '词典'));
    this.#strategy = h('select', { id: 'dict-strategy', name: 'strategy' }, h('option', { value: remembered.strategy }, remembered.strategy));
    this.#strategy.addEventListener('change', () => {
      remembered.strategy = this.#strategy.value;
      this.#search.refresh();
    });
    this.#search = new SearchBox(ctx, () => this.#strategy.value, (word) => this.go(word, 'search'));
  }

  build(root: HTMLElement): void {
    const { t, user } = this.#ctx;
    const form = h(
      'form',
      { class: 'dict-search', role: 'search', onsubmit: (event: Event) => this.#submit(event) },
      h('div', { class: 'dict-field' }, h('label', { for: 'dict-q' }, t('Word', '词语')), this.#search.element),
      h('div', { class: 'dict-strategy' }, h('label', { for: 'dict-strategy' }, t('Suggest by', '建议方式')), this.#strategy),
      h('button', { type: 'submit' }, t('Look up', '查询')),
    );
    const history = h(
      'aside',
      { class: 'dict-history', 'aria-labelledby': 'dict-history-title' },
      h('h2', { id: 'dict-history-title' }, t('Your lookups', '查询记录')),
      user === undefined ? h('p', { class: 'dict-hint' }, h('a', { href: '/signin' }, t('Sign in', '登录')), t(' to keep a history of your lookups.', '后可保存查询记录。')) : [this.#history, this.#historyNote],
    );
    replaceChildren(root, this.#heading, form, this.#search.hint, h('div', { class: 'dict-layout' }, h('section', { 'aria-label': t('Definitions', '释义') }, this.#results), history));
  }

  /** Look `word` up: a new URL (so Back returns to the word before), which mounts the page again. */
  go(word: string, focus: 'search' | 'results'): void {
    const query = word.trim();
    if (query === '') return;
    remembered.focus = focus;
    this.#ctx.navigate(lookupPath(query));
  }

  #submit(event: Event): void {
    event.preventDefault();
    this.#search.settle();
    this.go(this.#search.input.value, 'search');
  }

  async start(): Promise<void> {
    const query = new URLSearchParams(location.search).get('q')?.trim() ?? '';
    this.#search.input.value = query;
    const focus = remembered.focus;
    remembered.focus = undefined;
    // The history after the look-up, which it records.
    const lookup = (query === '' ? Promise.resolve(this.#welcome()) : this.#define(query)).then(() => this.#loadHistory());
    await Promise.all([this.#loadStrategies(), lookup]);
    if (this.#ctx.signal.aborted) return;
    if (focus === 'results') {
      // Followed a link: the reader lands on the new word's definition.
      const target = this.#results.querySelector<HTMLElement>('h3') ?? this.#heading;
      target.tabIndex = -1;
      target.focus();
    } else if (focus === 'search' || query === '') this.#search.input.focus();
  }

  #welcome(): void {
    const { t } = this.#ctx;
    replaceChildren(this.#results, h('p', { class: 'lead' }, t('Type a word: suggestions appear as you type. Links in a definition look that word up.', '输入一个词，边输入边显示建议；释义中的链接可查该词。')));
  }

  async #loadStrategies(): Promise<void> {
    try {
      const answer = await this.#ctx.api.get<StrategiesAnswer>('/strategies', undefined, this.#ctx.signal);
      replaceChildren(
        this.#strategy,
        answer.strategies.map((strategy) => h('option', { value: strategy.name, selected: strategy.name === remembered.strategy }, `${strategy.name}: ${strategy.description}`)),
      );
    } catch {
      // The chooser keeps the one strategy it has; suggestions still work.
    }
  }

  async #define(word: string): Promise<void> {
    const { t } = this.#ctx;
    replaceChildren(this.#results, h('p', { class: 'lead' }, t('Looking up…', '正在查询…')));
    let answer: DefineAnswer;
    try {
      answer = await this.#ctx.api.get<DefineAnswer>('/define', { word }, this.#ctx.signal);
    } catch (error) {
      if (this.#ctx.signal.aborted) return;
      replaceChildren(this.#results, h('p', { class: 'error', role: 'alert' }, messageOf(error, t)));
      return;
    }
    document.title = `${answer.word} · ${t('Dictionary', '词典')} · wharf`;
    if (answer.definitions.length > 0) {
      replaceChildren(this.#results, definitionsView(answer.definitions, (next) => this.go(next, 'results')));
      const databases = new Set(answer.definitions.map((d) => d.database)).size;
      const count = answer.definitions.length;
      const english = `${count} definition${count === 1 ? '' : 's'} of ${answer.word} from ${databases} database${databases === 1 ? '' : 's'}.`;
      this.#ctx.announce(t(english, `“${answer.word}”有 ${count} 条释义，来自 ${databases} 个词典。`));
      return;
    }
    const words = optionsOf(answer.suggestions).map((option) => option.word);
    replaceChildren(
      this.#results,
      h('p', { class: 'dict-none' }, t(`No definitions for “${answer.word}”.`, `没有找到“${answer.word}”的释义。`)),
      words.length === 0
        ? h('p', {}, t('No similar words either.', '也没有相近的词。'))
        : h('div', { class: 'dict-did' }, h('p', {}, t('Did you mean:', '你是不是要找：')), h('ul', {}, words.map((w) => h('li', {}, wordLink(w, w, (next) => this.go(next, 'results')))))),
    );
    this.#ctx.announce(t(`No definitions for ${answer.word}.`, `没有找到“${answer.word}”的释义。`));
  }

  async #loadHistory(): Promise<void> {
    const { t, user, lang } = this.#ctx;
    if (user === undefined) return;
    try {
      const answer = await this.#ctx.api.get<HistoryAnswer>('/history', { limit: 20 }, this.#ctx.signal);
      this.#historyNote.textContent = answer.history.length === 0 ? t('No lookups yet.', '还没有查询记录。') : '';
      replaceChildren(
        this.#history,
        answer.history.map((entry) =>
          h(
            'li',
            {},
            wordLink(entry.word, entry.word, (next) => this.go(next, 'results')),
            h('time', { datetime: entry.at }, formatTime(entry.at, lang)),
          ),
        ),
      );
    } catch (error) {
      if (!this.#ctx.signal.aborted) this.#historyNote.textContent = messageOf(error, t);
    }
  }
}

const page: PortalPage = {
  async mount(root, ctx) {
    adoptStyles(CSS, ctx.signal);
    const view = new DictionaryPage(ctx);
    view.build(root);
    await view.start();
  },
};

export default page;
