/**
 * The portal's own files: the shell page (one small HTML document, the same for every page of the
 * portal) and the built browser modules (dist/portal/: shell.js, portal.css, each section's page
 * script), served precompressed (their .br/.gz siblings), with an ETag and `no-cache` (a cheap
 * 304 on every visit, a new build seen at once), `nosniff`, and a strict Content-Security-Policy
 * on the page: only the server's own scripts, styles and connections, never inline code.
 */
import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { brotliCompressSync, gzipSync } from 'node:zlib';
import { isErrnoException } from '../../../core/errors.js';

export const CONTENT_SECURITY_POLICY = "default-src 'self'; connect-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/** Headers every answer of the portal carries. */
export const PORTAL_HEADERS: Readonly<Record<string, string>> = {
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
};

interface Variant {
  readonly bytes: Buffer;
  readonly encoding: 'br' | 'gzip' | undefined;
}

/** One file's answers: as it is and compressed, with its ETag. */
interface Asset {
  readonly type: string;
  readonly etag: string;
  readonly identity: Buffer;
  readonly br: Buffer | undefined;
  readonly gzip: Buffer | undefined;
  /** The file's mtime and size when read (a new build is read again). */
  readonly version: string;
}

const TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
};

function makeAsset(type: string, identity: Buffer, br: Buffer | undefined, gzip: Buffer | undefined, version: string): Asset {
  const etag = `"${createHash('sha256').update(identity).digest('base64url').slice(0, 22)}"`;
  return { type, etag, identity, br, gzip, version };
}

/** The encoding of `asset` this request accepts best (brotli, then gzip, then none). */
function pickVariant(req: IncomingMessage, asset: Asset): Variant {
  const accepted = String(req.headers['accept-encoding'] ?? '').toLowerCase();
  const accepts = (name: string) => accepted.split(',').some((part) => {
    const [token, ...params] = part.trim().split(';');
    return token === name && !params.some((param) => /^\s*q=0(?:\.0*)?\s*$/.test(param));
  });
  if (asset.br !== undefined && accepts('br')) return { bytes: asset.br, encoding: 'br' };
  if (asset.gzip !== undefined && accepts('gzip')) return { bytes: asset.gzip, encoding: 'gzip' };
  return { bytes: asset.identity, encoding: undefined };
}

/** Answer a GET or HEAD with `asset` (304 when the client's copy is current). */
export function sendAsset(req: IncomingMessage, res: ServerResponse, asset: Asset, extra: Record<string, string> = {}): void {
  const headers: Record<string, string> = {
    ...PORTAL_HEADERS,
    'Content-Type': asset.type,
    'Cache-Control': 'no-cache',
    ETag: asset.etag,
    Vary: 'Accept-Encoding',
    ...extra,
  };
  const match = req.headers['if-none-match'];
  if (typeof match === 'string' && match.split(',').some((tag) => tag.trim().replace(/^W\//, '') === asset.etag)) {
    res.writeHead(304, headers);
    res.end();
    return;
  }
  const variant = pickVariant(req, asset);
  if (variant.encoding !== undefined) headers['Content-Encoding'] = variant.encoding;
  headers['Content-Length'] = String(variant.bytes.length);
  res.writeHead(200, headers);
  res.end(req.method === 'HEAD' ? undefined : variant.bytes);
}

/**
 * The built files, read when first asked for and again when the file on disk changes (one stat
 * per request: a rebuilt portal is served without a restart).
 */
export class PortalAssets {
  readonly #files = new Map<string, Asset>();
  readonly #shells = new Map<string, Asset>();

  /** The file at `path` (absolute), or undefined when it does not exist. */
  async file(path: string): Promise<Asset | undefined> {
    let version: string;
    try {
      const info = await stat(path);
      if (!info.isFile()) return undefined;
      version = `${info.mtimeMs}:${info.size}`;
    } catch (error) {
      if (isErrnoException(error) && (error.code === 'ENOENT' || error.code === 'ENOTDIR')) return undefined;
      throw error;
    }
    const cached = this.#files.get(path);
    if (cached?.version === version) return cached;
    const extension = /\.[a-z]+$/.exec(path)?.[0] ?? '';
    const identity = await readFile(path);
    const sibling = (suffix: string) => readFile(`${path}${suffix}`).catch(() => undefined);
    const [br, gzip] = await Promise.all([sibling('.br'), sibling('.gz')]);
    const asset = makeAsset(TYPES[extension] ?? 'application/octet-stream', identity, br, gzip, version);
    this.#files.set(path, asset);
    return asset;
  }

  /** The shell page in `lang` ('en' or 'zh'): the same document for every page of the portal. */
  shell(lang: 'en' | 'zh'): Asset {
    let asset = this.#shells.get(lang);
    if (asset === undefined) {
      const html = Buffer.from(shellHtml(lang));
      asset = makeAsset('text/html; charset=utf-8', html, brotliCompressSync(html), gzipSync(html), 'built-in');
      this.#shells.set(lang, asset);
    }
    return asset;
  }
}

/** The shell's language from `Accept-Language` (the script then follows navigator.languages). */
export function shellLanguage(req: IncomingMessage): 'en' | 'zh' {
  const header = String(req.headers['accept-language'] ?? '');
  for (const part of header.split(',').slice(0, 20)) {
    const tag = part.split(';')[0]?.trim().toLowerCase() ?? '';
    if (tag.startsWith('zh')) return 'zh';
    if (tag.startsWith('en')) return 'en';
  }
  return 'en';
}

function shellHtml(lang: 'en' | 'zh'): string {
  const zh = lang === 'zh';
  const noscript = zh ? 'wharf 门户需要 JavaScript：请在浏览器中启用它，或使用 `wharf` 命令。' : 'The wharf portal needs JavaScript: turn it on in your browser, or use the `wharf` command.';
  return [
    '<!doctype html>',
    `<html lang="${zh ? 'zh-CN' : 'en'}">`,
    '<head>',
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    '<meta name="color-scheme" content="light dark">',
    '<title>wharf</title>',
    // No favicon request falls through to the web root.
    '<link rel="icon" href="data:,">',
    '<link rel="stylesheet" href="/portal/portal.css">',
    '<script type="module" src="/portal/shell.js"></script>',
    '</head>',
    '<body>',
    `<noscript><p>${noscript}</p></noscript>`,
    '</body>',
    '</html>',
    '',
  ].join('\n');
}
