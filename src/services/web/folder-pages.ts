/**
 * The pages about folders: a directory listing, and the 404 page that suggests names nearby
 * (a wrong case, a typo or two). Both find the folder through the root, and a listing leaves out
 * symlinks that lead out of it.
 */
import type { OutgoingHttpHeaders } from 'node:http';
import { opendir } from 'node:fs/promises';
import type { FileRoot } from '../../store/file-root.js';
import { listingPage, notFoundPage, type ListingEntry } from './pages.js';
import { encodePath } from './protocol.js';
import type { Responder, WebRequest, WebResponse } from './responder.js';

const MAX_LISTING_ENTRIES = 10_000;
/** Names looked at for suggestions, at most: a huge folder is not read whole for a 404. */
const MAX_SUGGESTION_SCAN = 2000;

const isDotfile = (name: string): boolean => name.startsWith('.');

export class FolderPages {
  readonly #root: FileRoot;
  readonly #responder: Responder;

  constructor(root: FileRoot, responder: Responder) {
    this.#root = root;
    this.#responder = responder;
  }

  async notFound(req: WebRequest, res: WebResponse, segments: readonly string[], displayPath: string, startMs: number): Promise<void> {
    const suggestions = segments.length === 0 ? [] : await this.#suggest(segments);
    this.#responder.sendPage(req, res, 404, notFoundPage({ path: displayPath, suggestions }), startMs);
  }

  /** Up to three names in the same folder that look like the one asked for (case, a typo or two). */
  async #suggest(segments: readonly string[]): Promise<string[]> {
    const wanted = (segments[segments.length - 1] as string).toLowerCase();
    if (wanted.length > 64) return [];
    const parent = segments.slice(0, -1);
    const scored: Array<{ name: string; directory: boolean; score: number }> = [];
    try {
      const folder = await this.#root.folder(parent);
      const dir = await opendir(folder.real, { bufferSize: 64 });
      let seen = 0;
      for await (const dirent of dir) {
        if (++seen > MAX_SUGGESTION_SCAN) break;
        if (isDotfile(dirent.name)) continue;
        const score = editDistance(wanted, dirent.name.toLowerCase(), 2);
        if (score <= 2) scored.push({ name: dirent.name, directory: dirent.isDirectory(), score });
      }
    } catch {
      return [];
    }
    scored.sort((a, b) => a.score - b.score || (a.name < b.name ? -1 : 1));
    return scored.slice(0, 3).map((s) => encodePath([...parent, s.name], s.directory));
  }

  /** The listing of `folder` (a realpath from the root): files and folders, dotfiles left out. */
  async listing(req: WebRequest, res: WebResponse, folder: string, displayPath: string, segments: readonly string[], head: boolean, startMs: number): Promise<void> {
    let listed;
    try {
      listed = await this.#root.list(folder, { hidden: isDotfile, limit: MAX_LISTING_ENTRIES });
    } catch {
      this.#responder.forbidden(req, res, 'folder', startMs);
      return;
    }
    const entries: ListingEntry[] = [];
    for (const { name, stats } of listed) {
      if (stats.isFile() || stats.isDirectory()) entries.push({ name, directory: stats.isDirectory(), size: stats.size, mtimeMs: stats.mtimeMs });
    }
    const html = Buffer.from(listingPage(displayPath, encodePath(segments, true), entries));
    const headers: OutgoingHttpHeaders = { 'Content-Type': 'text/html; charset=utf-8', 'Content-Length': html.length, 'Cache-Control': 'no-cache', ...this.#responder.commonHeaders };
    res.writeHead(200, headers);
    res.end(head ? undefined : html);
    this.#responder.done(req, 200, head ? 0 : html.length, startMs);
  }
}

/** Levenshtein distance, giving up (returning limit + 1) once it must exceed `limit`. */
export function editDistance(a: string, b: string, limit: number): number {
  if (Math.abs(a.length - b.length) > limit) return limit + 1;
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    let best = i;
    for (let j = 1; j <= b.length; j++) {
      const value = Math.min((previous[j] as number) + 1, (current[j - 1] as number) + 1, (previous[j - 1] as number) + (a[i - 1] === b[j - 1] ? 0 : 1));
      current.push(value);
      if (value < best) best = value;
    }
    if (best > limit) return limit + 1;
    previous = current;
  }
  return previous[b.length] as number;
}
