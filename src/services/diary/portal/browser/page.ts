/**
 * The diary's page in the portal (browser code): "My diary" (signed in) and "Public diary", a
 * box to write an entry (Write, or Ctrl+Enter), the entries newest first with their times in the
 * reader's locale, "Load older", and new entries arriving live (Server-Sent Events, /events),
 * said politely to screen readers. Entry text is only ever text (textContent), its line breaks
 * kept by `white-space: pre-wrap`, never HTML.
 */
import { PortalApiError, h, replaceChildren, type PageContext, type PortalPage } from '../../../../portal-kit/index.js';

/** As the API sends it (portal/feed.ts PortalEntry). */
interface Entry {
  id: number;
  t: number;
  text: string;
  by?: string;
}

interface EntryList {
  entries: Entry[];
  more: boolean;
  canWrite: boolean;
  maxEntryBytes: number;
}

type DiaryName = 'mine' | 'public';

const PAGE_SIZE = 50;
/** After the server refuses a stream (or it cannot be opened), try again this much later. */
const REOPEN_MS = 5_000;

/**
 * Hidden or shown: `hidden` and `display`, since a stylesheet's `display` for buttons or forms
 * outranks the `hidden` attribute's.
 */
function setShown(element: HTMLElement, shown: boolean): void {
  element.hidden = !shown;
  element.style.display = shown ? '' : 'none';
}

/** Styles set through the CSSOM (which a Content-Security-Policy without inline styles allows). */
function styled<E extends HTMLElement>(element: E, style: Partial<CSSStyleDeclaration>): E {
  Object.assign(element.style, style);
  return element;
}

class DiaryView {
  readonly #ctx: PageContext;
  readonly #t: PageContext['t'];
  readonly #times = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
  readonly #list = h('ol', { class: 'diary-entries' });
  readonly #older: HTMLButtonElement;
  readonly #form: HTMLFormElement;
  readonly #text: HTMLTextAreaElement;
  readonly #write: HTMLButtonElement;
  readonly #problem = h('p', { class: 'diary-problem error', role: 'alert' });
  readonly #live = h('p', { class: 'diary-live', 'aria-live': 'polite', 'aria-atomic': 'true' });
  readonly #tabs: Record<DiaryName, HTMLButtonElement | undefined>;
  /** Entries shown, by id: an entry that arrives twice (the stream and a reload) is shown once. */
  readonly #shown = new Map<number, HTMLLIElement>();
  #diary: DiaryName = 'public';
  #more = false;
  #maxEntryBytes = 4096;
  #events: EventSource | undefined;
  #reopen: ReturnType<typeof setTimeout> | undefined;
  /** Bumped at every switch of diary: answers for the diary before are dropped. */
  #generation = 0;
  /** Texts written here and not yet back from the stream: not announced as news. */
  readonly #written: string[] = [];

  constructor(ctx: PageContext) {
    this.#ctx = ctx;
    this.#t = ctx.t;
    const t = this.#t;
    this.#tabs = {
      mine: ctx.user !== undefined ? h('button', { type: 'button', onclick: () => void this.show('mine') }, t('My diary', '我的日记')) : undefined,
      public: h('button', { type: 'button', onclick: () => void this.show('public') }, t('Public diary', '公共日记')),
    };
    const textId = 'diary-text';
    this.#text = styled(h('textarea', { id: textId, rows: 4, maxlength: 20000, 'aria-describedby': 'diary-hint', onkeydown: (event: Event) => this.#key(event as KeyboardEvent) }), {
      width: '100%',
      boxSizing: 'border-box',
      resize: 'vertical',
      font: 'inherit',
    });
    this.#write = h('button', { type: 'submit' }, t('Write', '写入'));
    this.#form = h(
      'form',
      { class: 'diary-form', onsubmit: (event: Event) => { event.preventDefault(); void this.#send(); } },
      h('label', { for: textId }, t('New entry', '新日记')),
      this.#text,
      styled(h('div', {}, this.#write, h('span', { id: 'diary-hint' }, t(' Ctrl+Enter writes it.', ' Ctrl+Enter 写入。'))), { display: 'flex', flexWrap: 'wrap', gap: '0.5em', alignItems: 'center' }),
      this.#problem,
    );
    this.#older = h('button', { type: 'button', class: 'secondary', onclick: () => void this.#loadOlder() }, t('Load older', '加载更早的日记'));
    setShown(this.#older, false);
    styled(this.#list, { listStyle: 'none', padding: '0', margin: '0' });
    // Big enough for a finger on a phone.
    for (const button of [this.#tabs.mine, this.#tabs.public, this.#write, this.#older]) if (button) button.style.minHeight = '2.75em';
  }

  mount(root: HTMLElement): void {
    const t = this.#t;
    const switcher = h('div', { class: 'diary-switch', role: 'group', 'aria-label': t('Which diary', '哪本日记') }, this.#tabs.mine, this.#tabs.public);
    styled(switcher, { display: 'flex', gap: '0.5em', flexWrap: 'wrap', marginBottom: '0.75em' });
    replaceChildren(
      root,
      h('h1', {}, t('Diary', '日记')),
      switcher,
      this.#ctx.user === undefined ? h('p', {}, t('Sign in to keep a diary of your own.', '登录后可以写自己的日记。')) : null,
      this.#form,
      this.#live,
      this.#list,
      this.#older,
    );
    this.#ctx.signal.addEventListener('abort', () => this.#closeEvents(), { once: true });
  }

  /** Show one diary: its newest entries, then the live stream from the newest shown. */
  async show(diary: DiaryName): Promise<void> {
    this.#diary = diary;
    this.#generation += 1;
    for (const [name, tab] of Object.entries(this.#tabs)) {
      tab?.setAttribute('aria-pressed', String(name === diary));
      // The portal's buttons are filled; the diary not shown is an outline one.
      tab?.classList.toggle('secondary', name !== diary);
      if (tab) tab.style.fontWeight = name === diary ? 'bold' : '';
    }
    this.#text.setAttribute('placeholder', diary === 'mine' ? this.#t('Only you can read your diary', '只有你能读自己的日记') : this.#t('Everyone can read the public diary', '所有人都能读公共日记'));
    this.#closeEvents();
    this.#problem.textContent = '';
    await this.#reload();
  }

  async #reload(): Promise<void> {
    const generation = this.#generation;
    this.#shown.clear();
    replaceChildren(this.#list);
    let answer: EntryList;
    try {
      answer = await this.#ctx.api.get<EntryList>('/entries', { diary: this.#diary, limit: PAGE_SIZE }, this.#ctx.signal);
    } catch (error) {
      if (generation === this.#generation) this.#fail(error);
      return;
    }
    if (generation !== this.#generation) return;
    this.#maxEntryBytes = answer.maxEntryBytes;
    setShown(this.#form, answer.canWrite);
    for (const entry of answer.entries) this.#add(entry, 'end');
    this.#setMore(answer.more);
    this.#live.textContent = this.#list.childElementCount === 0 ? this.#t('No entries yet.', '还没有日记。') : '';
    this.#openEvents();
  }

  #setMore(more: boolean): void {
    this.#more = more;
    setShown(this.#older, more);
  }

  async #loadOlder(): Promise<void> {
    const generation = this.#generation;
    const oldest = Math.min(...this.#shown.keys());
    if (!this.#more || !Number.isFinite(oldest)) return;
    this.#older.disabled = true;
    try {
      const answer = await this.#ctx.api.get<EntryList>('/entries', { diary: this.#diary, before: oldest, limit: PAGE_SIZE }, this.#ctx.signal);
      if (generation !== this.#generation) return;
      for (const entry of answer.entries) this.#add(entry, 'end');
      this.#setMore(answer.more);
      this.#ctx.announce(this.#t(`${answer.entries.length} older entries shown`, `又显示了 ${answer.entries.length} 篇更早的日记`));
    } catch (error) {
      this.#fail(error);
    } finally {
      this.#older.disabled = false;
    }
  }

  #newestId(): number {
    let newest = 0;
    for (const id of this.#shown.keys()) newest = Math.max(newest, id);
    return newest;
  }

  #add(entry: Entry, where: 'start' | 'end'): boolean {
    if (this.#shown.has(entry.id)) return false;
    const t = this.#t;
    const when = new Date(entry.t);
    const item = styled(
      h(
        'li',
        { class: 'diary-entry', 'data-id': entry.id },
        styled(h('time', { datetime: when.toISOString() }, this.#times.format(when)), { color: 'var(--muted)' }),
        this.#diary === 'public' ? styled(h('span', { class: 'diary-by' }, ' · ', entry.by ?? t('anonymous', '匿名')), { color: 'var(--muted)' }) : null,
        // Text, never markup; pre-wrap keeps its line breaks and long words wrap on a phone.
        styled(h('p', { class: 'diary-text' }, entry.text), { whiteSpace: 'pre-wrap', overflowWrap: 'anywhere', margin: '0.25em 0 0' }),
      ),
      { borderTop: '1px solid rgba(128,128,128,0.3)', padding: '0.6em 0' },
    );
    this.#shown.set(entry.id, item);
    // Newest first: a live entry goes before the first one with a smaller id.
    if (where === 'start') {
      const after = [...this.#list.children].find((child) => Number((child as HTMLElement).dataset.id) < entry.id);
      this.#list.insertBefore(item, after ?? null);
    } else {
      this.#list.append(item);
    }
    return true;
  }

  #key(event: KeyboardEvent): void {
    if (event.key === 'Enter' && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      void this.#send();
    }
  }

  async #send(): Promise<void> {
    const t = this.#t;
    const text = this.#text.value;
    this.#problem.textContent = '';
    if (text.trim() === '') {
      this.#problem.textContent = t('Write something first.', '请先写点什么。');
      return;
    }
    const bytes = new TextEncoder().encode(text).length;
    if (bytes > this.#maxEntryBytes) {
      this.#problem.textContent = t(`The entry is ${bytes} bytes; at most ${this.#maxEntryBytes}.`, `日记有 ${bytes} 字节，最多 ${this.#maxEntryBytes} 字节。`);
      return;
    }
    const generation = this.#generation;
    this.#write.disabled = true;
    this.#written.push(text);
    try {
      await this.#ctx.api.send('POST', '/entries', { diary: this.#diary, text }, this.#ctx.signal);
      this.#text.value = '';
      this.#ctx.announce(t('Entry written', '日记已写入'));
      // The stream brings it too; reading what is new covers a stream that is down (and a
      // failure of that read is not a failure of the write).
      if (generation === this.#generation) await this.#catchUp().catch(() => undefined);
    } catch (error) {
      this.#written.splice(this.#written.indexOf(text), 1);
      this.#fail(error);
    } finally {
      this.#write.disabled = false;
      this.#text.focus();
    }
  }

  /** Entries newer than the newest shown, page by page. */
  async #catchUp(): Promise<void> {
    const generation = this.#generation;
    for (let round = 0; round < 20; round++) {
      const answer = await this.#ctx.api.get<EntryList>('/entries', { diary: this.#diary, after: this.#newestId(), limit: PAGE_SIZE }, this.#ctx.signal);
      if (generation !== this.#generation) return;
      for (const entry of [...answer.entries].reverse()) this.#arrived(entry);
      if (!answer.more) return;
    }
  }

  #fail(error: unknown): void {
    if (error instanceof DOMException && error.name === 'AbortError') return;
    const t = this.#t;
    const message = error instanceof PortalApiError ? error.message : t('The server cannot be reached.', '无法连接服务器。');
    this.#problem.textContent = message;
  }

  /** A new entry from the stream or a catch-up: shown at the top, said unless written here. */
  #arrived(entry: Entry): void {
    if (!this.#add(entry, 'start')) return;
    const mine = this.#written.indexOf(entry.text);
    if (mine >= 0) {
      this.#written.splice(mine, 1);
      return;
    }
    const t = this.#t;
    const preview = entry.text.length > 80 ? `${entry.text.slice(0, 80)}…` : entry.text;
    this.#live.textContent = `${t('New entry', '新日记')}${entry.by !== undefined ? ` (${entry.by})` : ''}: ${preview}`;
  }

  #openEvents(): void {
    this.#closeEvents();
    if (this.#ctx.signal.aborted) return;
    const generation = this.#generation;
    const events = new EventSource(this.#ctx.api.url('/events', { diary: this.#diary, after: this.#newestId() }));
    this.#events = events;
    events.addEventListener('entry', (event) => {
      if (generation !== this.#generation) return;
      try {
        this.#arrived(JSON.parse((event as MessageEvent<string>).data) as Entry);
      } catch {
        // A malformed event is skipped; the next reload shows the diary as stored.
      }
    });
    events.addEventListener('cleared', () => {
      if (generation !== this.#generation) return;
      this.#shown.clear();
      replaceChildren(this.#list);
      this.#setMore(false);
      this.#live.textContent = this.#t('The diary was cleared.', '日记已被清空。');
    });
    events.addEventListener('reset', () => {
      if (generation === this.#generation) void this.#reload();
    });
    events.addEventListener('error', () => {
      // EventSource reconnects by itself (with Last-Event-ID) unless the server refused it.
      if (events.readyState !== EventSource.CLOSED || generation !== this.#generation) return;
      this.#reopen = setTimeout(() => {
        if (generation !== this.#generation) return;
        this.#catchUp().then(
          () => this.#openEvents(),
          (error: unknown) => {
            // Signed out (the session ended): say so and stop; anything else may pass.
            if (error instanceof PortalApiError && (error.status === 401 || error.status === 403)) this.#fail(error);
            else this.#openEvents();
          },
        );
      }, REOPEN_MS);
    });
  }

  #closeEvents(): void {
    this.#events?.close();
    this.#events = undefined;
    if (this.#reopen !== undefined) clearTimeout(this.#reopen);
    this.#reopen = undefined;
  }
}

const page: PortalPage = {
  async mount(root: HTMLElement, ctx: PageContext): Promise<void> {
    const view = new DiaryView(ctx);
    view.mount(root);
    const initial = ctx.user !== undefined && new URLSearchParams(location.search).get('diary') !== 'public' ? 'mine' : 'public';
    await view.show(initial);
  },
};

export default page;
