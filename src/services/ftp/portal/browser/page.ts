/**
 * The portal's files page (browser code): the signed-in account's FTP home. Browse folders,
 * download (a plain link to the API, which answers as an attachment), rename, delete, new
 * folder, upload by the file picker or by dropping files, with a progress bar per upload that
 * resumes after a failure or a page reload, and the quota. Every name from the server goes in as
 * text (portal-kit's `h()`), never as markup. The API is src/services/ftp/portal/section.ts.
 */
import { PortalApiError, formatBytes, h, replaceChildren, type PageContext, type PortalPage, adoptStyles } from '../../../../portal-kit/index.js';

interface Entry {
  name: string;
  type: 'file' | 'folder';
  size: number;
  mtime: string;
}

interface UploadState {
  id: string;
  size: number;
  received: number;
}

/** One PUT carries at most this much (the server takes up to 8 MiB). */
const CHUNK_BYTES = 8 * 1024 * 1024;
/** A dropped connection is tried again this many times (then the person can press Retry). */
const RETRIES = 4;
const STORAGE_PREFIX = 'wharf-files-upload:';

const STYLE = `
.files-bar{display:flex;flex-wrap:wrap;gap:.5rem;align-items:center;margin:.5rem 0}
.files-quota{display:flex;gap:.5rem;align-items:center;flex-wrap:wrap}
.files-quota progress{width:12rem;max-width:100%}
.files-crumbs ol{list-style:none;display:flex;flex-wrap:wrap;gap:.25rem;padding:0;margin:.5rem 0}
.files-crumbs li+li::before{content:"/";margin-right:.25rem;color:#777}
.files-drop{border:2px dashed #999;border-radius:.5rem;padding:1rem;text-align:center;margin:.5rem 0}
.files-drop.over{border-color:#06c;background:#eef5ff}
.files-table{width:100%;border-collapse:collapse}
.files-table th,.files-table td{text-align:left;padding:.35rem .25rem;border-bottom:1px solid #ddd;vertical-align:top}
.files-table td.num{text-align:right;white-space:nowrap}
.files-name{overflow-wrap:anywhere}
.files-actions{display:flex;gap:.25rem;flex-wrap:wrap}
.files-uploads{list-style:none;padding:0}
.files-uploads li{margin:.4rem 0;overflow-wrap:anywhere}
.files-uploads progress{width:100%}
.files-error{color:#b00020}
.files-link{background:none;border:0;padding:0;color:#06c;text-decoration:underline;cursor:pointer;font:inherit;text-align:left}
@media (max-width:480px){.files-table .files-date{display:none}.files-quota progress{width:100%}}
`;

function joinPath(folder: string, name: string): string {
  return folder === '/' ? `/${name}` : `${folder}/${name}`;
}

/**
 * The API's refusal, if `error` is one. Not `instanceof`: the shell made the PortalApi from its
 * own bundle, whose PortalApiError class is not this bundle's copy of it.
 */
function apiError(error: unknown): Pick<PortalApiError, 'status' | 'code' | 'message'> | undefined {
  if (error instanceof PortalApiError) return error;
  if (error instanceof Error && error.name === 'PortalApiError' && typeof (error as { status?: unknown }).status === 'number') return error as PortalApiError;
  return undefined;
}

function errorText(error: unknown, t: PageContext['t']): string {
  const refusal = apiError(error);
  if (refusal !== undefined) {
    if (refusal.code === 'EQUOTA') return `${t('Not enough room in your quota', '配额空间不足')}: ${refusal.message}`;
    return refusal.message;
  }
  return error instanceof Error ? error.message : String(error);
}

class FilesPage {
  readonly #ctx: PageContext;
  #folder = '/';
  readonly #quota = h('div', { class: 'files-quota' });
  readonly #crumbs = h('nav', { class: 'files-crumbs', 'aria-label': 'Breadcrumb' });
  readonly #body = h('tbody');
  readonly #uploads = h('ul', { class: 'files-uploads', 'aria-label': 'Uploads' });
  readonly #status = h('p', { class: 'files-error', role: 'alert' });
  readonly #drop: HTMLElement;
  readonly #picker: HTMLInputElement;
  /** The "interrupted upload" notes shown at load, by storage key (gone once the file is picked again). */
  readonly #interrupted = new Map<string, HTMLElement>();

  constructor(ctx: PageContext) {
    this.#ctx = ctx;
    const { t } = ctx;
    this.#picker = h('input', { type: 'file', multiple: true, id: 'files-picker', onchange: () => this.#picked() });
    this.#drop = h('div', { class: 'files-drop', 'data-testid': 'drop-zone' }, t('Drop files here to upload them into this folder', '把文件拖到这里，上传到当前文件夹'));
    this.#uploads.setAttribute('aria-label', t('Uploads', '上传'));
    this.#crumbs.setAttribute('aria-label', t('Folder path', '文件夹路径'));
  }

  mount(root: HTMLElement): Promise<void> {
    const { t } = this.#ctx;
    adoptStyles(STYLE, this.#ctx.signal);
    const table = h(
      'table',
      { class: 'files-table' },
      h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, t('Name', '名称')), h('th', { scope: 'col', class: 'num' }, t('Size', '大小')), h('th', { scope: 'col', class: 'files-date' }, t('Modified', '修改时间')), h('th', { scope: 'col' }, t('Actions', '操作')))),
      this.#body,
    );
    replaceChildren(
      root,
      h('h1', {}, t('Your files', '我的文件')),
      this.#quota,
      h(
        'div',
        { class: 'files-bar' },
        h('label', { for: 'files-picker' }, t('Upload files: ', '上传文件：')),
        this.#picker,
        h('button', { type: 'button', onclick: () => void this.#newFolder() }, t('New folder', '新建文件夹')),
      ),
      this.#drop,
      this.#uploads,
      this.#status,
      this.#crumbs,
      table,
    );
    this.#wireDrop();
    this.#showInterrupted();
    const start = new URLSearchParams(location.search).get('path');
    return this.open(start !== null && start.startsWith('/') ? start : '/');
  }

  #wireDrop(): void {
    const zone = this.#drop;
    const signal = this.#ctx.signal;
    zone.addEventListener('dragover', (event) => {
      event.preventDefault();
      zone.classList.add('over');
    }, { signal });
    zone.addEventListener('dragleave', () => zone.classList.remove('over'), { signal });
    zone.addEventListener('drop', (event) => {
      event.preventDefault();
      zone.classList.remove('over');
      for (const file of Array.from(event.dataTransfer?.files ?? [])) void this.#upload(file, this.#folder);
    }, { signal });
  }

  #picked(): void {
    for (const file of Array.from(this.#picker.files ?? [])) void this.#upload(file, this.#folder);
    this.#picker.value = '';
  }

  #say(text: string): void {
    this.#status.textContent = text;
  }

  /** Show a folder; on failure, say why and stay. */
  async open(folder: string): Promise<void> {
    const { api } = this.#ctx;
    try {
      const listing = await api.get<{ path: string; entries: Entry[]; truncated?: boolean }>('/list', { path: folder }, this.#ctx.signal);
      this.#folder = listing.path;
      this.#say(listing.truncated === true ? this.#ctx.t('This folder holds more files than the page shows; use an FTP client to see them all.', '此文件夹的文件比页面显示的多；请用 FTP 客户端查看全部。') : '');
      this.#showCrumbs();
      replaceChildren(this.#body, listing.entries.length === 0 ? h('tr', {}, h('td', { colspan: 4 }, this.#ctx.t('This folder is empty.', '这个文件夹是空的。'))) : listing.entries.map((entry) => this.#row(entry)));
      history.replaceState(history.state, '', `${location.pathname}?path=${encodeURIComponent(this.#folder)}`);
    } catch (error) {
      if (!this.#ctx.signal.aborted) this.#say(errorText(error, this.#ctx.t));
    }
    await this.#showQuota();
  }

  #showCrumbs(): void {
    const segments = this.#folder.split('/').filter((s) => s !== '');
    const items = [h('li', {}, this.#crumb(this.#ctx.t('Home', '主目录'), '/', segments.length === 0))];
    segments.forEach((name, i) => items.push(h('li', {}, this.#crumb(name, `/${segments.slice(0, i + 1).join('/')}`, i === segments.length - 1))));
    replaceChildren(this.#crumbs, h('ol', {}, items));
  }

  #crumb(label: string, path: string, current: boolean): HTMLElement {
    if (current) return h('span', { 'aria-current': 'page' }, label);
    return h('button', { type: 'button', class: 'files-link', onclick: () => void this.open(path) }, label);
  }

  #row(entry: Entry): HTMLTableRowElement {
    const { t, api, lang } = this.#ctx;
    const path = joinPath(this.#folder, entry.name);
    const name =
      entry.type === 'folder'
        ? h('button', { type: 'button', class: 'files-link', onclick: () => void this.open(path) }, `${entry.name}/`)
        : h('a', { href: api.url('/file', { path }), download: entry.name }, entry.name);
    const date = new Date(entry.mtime).toLocaleString(lang === 'zh' ? 'zh-CN' : 'en', { dateStyle: 'medium', timeStyle: 'short' });
    return h(
      'tr',
      {},
      h('td', { class: 'files-name' }, name),
      h('td', { class: 'num' }, entry.type === 'folder' ? '—' : formatBytes(entry.size)),
      h('td', { class: 'files-date' }, h('time', { datetime: entry.mtime }, date)),
      h(
        'td',
        {},
        h(
          'div',
          { class: 'files-actions' },
          h('button', { type: 'button', 'aria-label': `${t('Rename', '重命名')} ${entry.name}`, onclick: () => void this.#rename(entry) }, t('Rename', '重命名')),
          h('button', { type: 'button', 'aria-label': `${t('Delete', '删除')} ${entry.name}`, onclick: () => void this.#delete(entry) }, t('Delete', '删除')),
        ),
      ),
    );
  }

  async #showQuota(): Promise<void> {
    const { t, api } = this.#ctx;
    try {
      const quota = await api.get<{ used: number; limit: number }>('/quota');
      const text = `${formatBytes(quota.used)} ${t('of', '/')} ${formatBytes(quota.limit)} ${t('used', '已用')}`;
      replaceChildren(
        this.#quota,
        h('span', { id: 'files-quota-label' }, t('Quota', '配额')),
        h('progress', { max: Math.max(quota.limit, 1), value: Math.min(quota.used, quota.limit), 'aria-labelledby': 'files-quota-label', 'aria-valuetext': text }),
        h('span', {}, text),
      );
    } catch {
      // The quota is a courtesy: the listing stands without it.
    }
  }

  async #act(action: () => Promise<unknown>, done: string): Promise<void> {
    try {
      await action();
      this.#ctx.announce(done);
      await this.open(this.#folder);
    } catch (error) {
      this.#say(errorText(error, this.#ctx.t));
    }
  }

  async #newFolder(): Promise<void> {
    const { t, api } = this.#ctx;
    const name = prompt(t('Name of the new folder', '新文件夹的名称'))?.trim();
    if (!name) return;
    await this.#act(() => api.send('POST', '/folder', { path: joinPath(this.#folder, name) }), t('Folder made', '文件夹已建立'));
  }

  async #rename(entry: Entry): Promise<void> {
    const { t, api } = this.#ctx;
    const name = prompt(t('New name', '新名称'), entry.name)?.trim();
    if (!name || name === entry.name) return;
    await this.#act(() => api.send('POST', '/rename', { from: joinPath(this.#folder, entry.name), to: joinPath(this.#folder, name) }), t('Renamed', '已重命名'));
  }

  async #delete(entry: Entry): Promise<void> {
    const { t, api } = this.#ctx;
    if (!confirm(`${t('Delete', '删除')} “${entry.name}”?`)) return;
    await this.#act(() => api.send('DELETE', `/entry?${new URLSearchParams({ path: joinPath(this.#folder, entry.name) }).toString()}`), t('Deleted', '已删除'));
  }

  // ---------------------------------------------------------------------------------------------
  // Uploads: announced, sent in chunks from where the server says it stands, resumable by the
  // id kept in localStorage under the file's target, size and date (a reload, the same file
  // picked again, continues it).

  #storageKey(path: string, file: File): string {
    return `${STORAGE_PREFIX}${this.#ctx.user?.name ?? ''}:${file.size}:${file.lastModified}:${path}`;
  }

  /** Uploads a reload interrupted: named, with a way to drop them (picking the file again resumes). */
  #showInterrupted(): void {
    const { t, api } = this.#ctx;
    const mine = `${STORAGE_PREFIX}${this.#ctx.user?.name ?? ''}:`;
    for (let i = 0; i < localStorage.length; i++) {
      const key = localStorage.key(i);
      if (key === null || !key.startsWith(mine)) continue;
      const id = localStorage.getItem(key) ?? '';
      const path = key.slice(mine.length).split(':').slice(2).join(':');
      const item: HTMLLIElement = h(
        'li',
        {},
        `${t('Interrupted upload', '中断的上传')}: ${path} — ${t('pick the same file again to resume it.', '再次选择同一个文件即可继续。')} `,
        h('button', {
          type: 'button',
          onclick: () => {
            localStorage.removeItem(key);
            item.remove();
            void api.send('DELETE', `/upload/${id}`).catch(() => {});
          },
        }, t('Discard', '放弃')),
      );
      this.#interrupted.set(key, item);
      this.#uploads.append(item);
    }
  }

  async #upload(file: File, folder: string): Promise<void> {
    const { t } = this.#ctx;
    const path = joinPath(folder, file.name);
    const key = this.#storageKey(path, file);
    this.#interrupted.get(key)?.remove();
    const controller = new AbortController();
    const bar = h('progress', { max: Math.max(file.size, 1), value: 0, 'aria-label': `${t('Uploading', '正在上传')} ${file.name}` });
    const note = h('span', { 'aria-live': 'polite' }, '0%');
    const cancel = h('button', { type: 'button', onclick: () => controller.abort() }, t('Cancel', '取消'));
    const item = h('li', {}, h('div', {}, file.name, ' ', note, ' ', cancel), bar);
    this.#uploads.append(item);
    const show = (bytes: number) => {
      bar.value = file.size === 0 ? 1 : bytes;
      note.textContent = `${file.size === 0 ? 100 : Math.floor((bytes / file.size) * 100)}%`;
    };
    try {
      const id = await this.#send(file, path, key, show, controller.signal);
      await this.#ctx.api.send('POST', `/upload/${id}/finish`, {});
      localStorage.removeItem(key);
      show(file.size);
      cancel.remove();
      note.textContent = `100% — ${t('done', '完成')}`;
      this.#ctx.announce(`${file.name}: ${t('uploaded', '已上传')}`);
      if (folder === this.#folder) await this.open(folder);
    } catch (error) {
      cancel.remove();
      if (controller.signal.aborted) {
        const id = localStorage.getItem(key);
        localStorage.removeItem(key);
        if (id !== null) await this.#ctx.api.send('DELETE', `/upload/${id}`).catch(() => {});
        note.textContent = t('cancelled', '已取消');
        return;
      }
      note.textContent = errorText(error, t);
      note.classList.add('files-error');
      const retry = h('button', { type: 'button', onclick: () => { item.remove(); void this.#upload(file, folder); } }, t('Retry', '重试'));
      item.firstElementChild?.append(' ', retry);
      this.#say(`${file.name}: ${errorText(error, t)}`);
      await this.#showQuota();
    }
  }

  /** Announce (or find again) the upload and send what the server does not have; resolves with its id. */
  async #send(file: File, path: string, key: string, show: (bytes: number) => void, signal: AbortSignal): Promise<string> {
    const { api, t } = this.#ctx;
    let state = await this.#resumable(key);
    if (state === undefined) {
      // Not cancelled mid-way (no signal): once the server has made the upload, the page knows
      // its id, so that a Cancel pressed meanwhile removes it (below, and in #upload).
      try {
        state = await api.send<UploadState>('POST', '/upload', { path, size: file.size });
      } catch (error) {
        if (signal.aborted || !(apiError(error)?.code === 'ETAKEN' && confirm(`${path}: ${t('a file of that name exists. Replace it?', '同名文件已存在，要替换吗？')}`))) throw error;
        state = await api.send<UploadState>('POST', '/upload', { path, size: file.size, replace: true });
      }
      localStorage.setItem(key, state.id);
      if (signal.aborted) throw new DOMException('cancelled', 'AbortError');
    }
    const id = state.id;
    let received = state.received;
    let failures = 0;
    show(received);
    while (received < file.size) {
      const end = Math.min(file.size, received + CHUNK_BYTES);
      const from = received;
      try {
        const answer = await api.upload<UploadState>('PUT', api.url(`/upload/${id}`, { offset: from }), file.slice(from, end), { signal, onProgress: (sent) => show(from + sent) });
        received = answer.received;
        failures = 0;
      } catch (error) {
        if (signal.aborted) throw error;
        const refusal = apiError(error);
        const dropped = refusal !== undefined && (refusal.status === 0 || refusal.code === 'ERESUME' || refusal.code === 'ECHANGED' || refusal.status >= 502);
        if (!dropped || ++failures > RETRIES) throw error;
        await new Promise((resolve) => setTimeout(resolve, 250 * 2 ** failures));
        received = (await api.get<UploadState>(`/upload/${id}`)).received;
      }
      show(received);
    }
    return id;
  }

  /** The upload a reload (or a failure) left for this file, if the server still has it. */
  async #resumable(key: string): Promise<UploadState | undefined> {
    const id = localStorage.getItem(key);
    if (id === null) return undefined;
    try {
      return { ...(await this.#ctx.api.get<UploadState>(`/upload/${id}`)), id };
    } catch {
      localStorage.removeItem(key);
      return undefined;
    }
  }
}

const page: PortalPage = {
  mount(root, ctx) {
    return new FilesPage(ctx).mount(root);
  },
};

export default page;
