/**
 * The HTML the web service writes itself, pure: error pages, the directory listing and the
 * welcome page of a fresh data folder. Every piece of text that came from a request or a file
 * name goes through `escapeHtml`; every link through `encodeURIComponent`.
 */

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const STYLE = `body{font:16px/1.5 system-ui,sans-serif;max-width:46rem;margin:3rem auto;padding:0 1rem;color:#222}
h1{font-size:1.6rem}code{background:#f3f3f3;padding:0 .25rem;border-radius:3px}
table{border-collapse:collapse;width:100%}td,th{text-align:left;padding:.2rem .6rem .2rem 0}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}a{color:#0645ad}footer{margin-top:2rem;color:#777;font-size:.85rem}`;

function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>${escapeHtml(title)}</title>
<style>${STYLE}</style></head>
<body>
${body}
<footer>wharf web</footer>
</body>
</html>
`;
}

export interface NotFoundDetails {
  /** The decoded path the client asked for (shown, escaped). */
  path: string;
  /** Similar names in the same folder, as links (`/docs/Index.html`). */
  suggestions?: readonly string[];
  /** The folder exists but has no index file and listing is off. */
  folderWithoutIndex?: boolean;
}

/** The 404 page: what was asked for, what might have been meant, and the way home. */
export function notFoundPage(details: NotFoundDetails): string {
  const suggestions = details.suggestions ?? [];
  const parts = [`<h1>Sorry… nothing here (404)</h1>`, `<p>There is no <code>${escapeHtml(details.path)}</code> on this server.</p>`];
  if (details.folderWithoutIndex) {
    parts.push(`<p>That is a folder with no <code>index.html</code>, and directory listing is off (<code>wharf web serve --listing</code> turns it on).</p>`);
  }
  if (suggestions.length > 0) {
    parts.push(`<p>Did you mean:</p><ul>${suggestions.map((s) => `<li><a href="${escapeHtml(s)}">${escapeHtml(decodeForDisplay(s))}</a></li>`).join('')}</ul>`);
  }
  parts.push(`<p><a href="/">Go to the home page</a></p>`);
  return page('404 Not Found', parts.join('\n'));
}

function decodeForDisplay(href: string): string {
  try {
    return decodeURIComponent(href);
  } catch {
    return href;
  }
}

/** A short page for the other errors (400, 403, 405, 412, 416, 500). */
export function errorPage(status: number, title: string, explanation: string): string {
  return page(`${status} ${title}`, `<h1>${escapeHtml(title)} (${status})</h1>\n<p>${escapeHtml(explanation)}</p>`);
}

export interface ListingEntry {
  name: string;
  directory: boolean;
  /** Bytes; ignored for folders. */
  size: number;
  mtimeMs: number;
}

export function formatSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value < 10 ? value.toFixed(1) : Math.round(value)} ${units[unit]}`;
}

/** Folders first, then files, each in code-point order of name (stable across locales). */
export function sortListing(entries: readonly ListingEntry[]): ListingEntry[] {
  return [...entries].sort((a, b) => (a.directory === b.directory ? (a.name < b.name ? -1 : a.name > b.name ? 1 : 0) : a.directory ? -1 : 1));
}

/**
 * The directory listing for `path` (decoded, ending with `/`); `base` is the same path
 * percent-encoded, so each link is `base + encodeURIComponent(name)`.
 */
export function listingPage(path: string, base: string, entries: readonly ListingEntry[]): string {
  const rows = sortListing(entries).map((entry) => {
    const href = `${base}${encodeURIComponent(entry.name)}${entry.directory ? '/' : ''}`;
    const label = `${entry.name}${entry.directory ? '/' : ''}`;
    const size = entry.directory ? '—' : formatSize(entry.size);
    const when = new Date(entry.mtimeMs).toISOString().slice(0, 16).replace('T', ' ');
    return `<tr><td><a href="${escapeHtml(href)}">${escapeHtml(label)}</a></td><td class="n">${size}</td><td>${when}</td></tr>`;
  });
  const up = path === '/' ? '' : `<tr><td><a href="../">../</a></td><td></td><td></td></tr>`;
  return page(
    `Index of ${path}`,
    `<h1>Index of ${escapeHtml(path)}</h1>\n<table><thead><tr><th>Name</th><th class="n">Size</th><th>Modified (UTC)</th></tr></thead><tbody>\n${up}${rows.join('\n')}\n</tbody></table>`,
  );
}

/** Written to `<data>/www/index.html` the first time a data folder is used. */
export function welcomePage(): string {
  return page(
    'Welcome to wharf',
    `<h1>It works: wharf is serving this folder</h1>
<p>This is <code>index.html</code> in the web root (<code>&lt;data&gt;/www</code>, by default
<code>./wharf-data/www</code>). Put your own files there, or start the server on another folder:</p>
<pre><code>wharf web serve --root ./site</code></pre>
<p>Everything a static site needs works: keep-alive, ranges, ETags and 304s, compression,
precompressed <code>.br</code>/<code>.gz</code> files, and (when asked for) directory listings and CORS.</p>`,
  );
}
