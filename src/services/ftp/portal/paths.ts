/**
 * Paths from the browser, pure: `/docs/report.pdf` as segments below the home. Stricter than an
 * FTP argument (protocol/paths.ts): the page always sends a whole path from the home, so any `.`
 * or `..` segment, a backslash, a control character or one of the server's own `.wharf-*` names
 * is refused outright, never resolved. Nothing is percent-decoded here (the query string was
 * decoded once by URLSearchParams); what still looks like an encoded slash, backslash or NUL is
 * refused rather than taken as three characters of a name.
 */
import { WharfError } from '../../../core/errors.js';
import { MAX_NAME_BYTES, MAX_PATH_BYTES, isInternalName } from '../protocol/paths.js';

export interface BrowserPath {
  /** `/docs/report.pdf`; `/` for the home. */
  path: string;
  segments: string[];
}

/** The segments of a path the page sent, or EBADVALUE (400) saying why not. */
export function browserPath(value: unknown, what = 'path'): BrowserPath {
  if (typeof value !== 'string') throw new WharfError('EBADVALUE', `${what}: a path is needed`);
  if (Buffer.byteLength(value) > MAX_PATH_BYTES) throw new WharfError('EBADVALUE', `${what}: the path is too long`);
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f\\]/.test(value)) throw new WharfError('EBADVALUE', `${what}: control characters and backslashes are not allowed in paths`);
  // Still percent-encoded after the one decoding: a slash, a backslash or a NUL smuggled through
  // a second encoding is refused, whatever a later layer would make of it.
  if (/%(2f|5c|00)/i.test(value)) throw new WharfError('EBADVALUE', `${what}: encoded slashes are not allowed in paths`);
  const segments = value.split('/').filter((segment) => segment !== '');
  for (const segment of segments) {
    if (segment === '.' || segment === '..') throw new WharfError('EBADVALUE', `${what}: "." and ".." are not allowed in paths`);
    if (Buffer.byteLength(segment) > MAX_NAME_BYTES) throw new WharfError('EBADVALUE', `${what}: a name is longer than ${MAX_NAME_BYTES} bytes`);
    if (isInternalName(segment)) throw new WharfError('EBADVALUE', `${what}: names starting with ".wharf-" are reserved by the server`);
  }
  return { path: `/${segments.join('/')}`, segments };
}

/** The same, for a path that must name something inside the home (not the home itself). */
export function browserEntryPath(value: unknown, what = 'path'): BrowserPath {
  const parsed = browserPath(value, what);
  if (parsed.segments.length === 0) throw new WharfError('EBADVALUE', `${what}: that is your home folder itself`);
  return parsed;
}

/** The single byte range a `Range` header asks for; 'ignore' to send the whole file; 'unsatisfiable' for 416. */
export type RangeAnswer = { start: number; end: number } | 'ignore' | 'unsatisfiable';

/**
 * One range of `bytes=a-b`, `bytes=a-`, `bytes=-n` (RFC 9110 §14.1.2). Several ranges, or a
 * header of another unit or form, are ignored (the whole file is sent, which the RFC allows).
 */
export function parseRange(header: string | undefined, size: number): RangeAnswer {
  if (header === undefined) return 'ignore';
  const match = /^bytes=\s*(\d*)\s*-\s*(\d*)\s*$/.exec(header.trim());
  if (!match) return 'ignore';
  const [, first = '', last = ''] = match;
  if (first === '' && last === '') return 'ignore';
  if (first === '') {
    const suffix = Number(last);
    if (suffix === 0 || size === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(first);
  const end = last === '' ? size - 1 : Math.min(Number(last), size - 1);
  if (!Number.isSafeInteger(start) || start >= size || (last !== '' && Number(last) < start)) return 'unsatisfiable';
  return { start, end };
}

/**
 * `attachment; filename="report.pdf"; filename*=UTF-8''report.pdf` (RFC 6266, RFC 5987): the
 * plain form keeps only safe ASCII, the starred form carries the real name percent-encoded.
 */
export function attachmentDisposition(name: string): string {
  const ascii = name.replace(/[^\x20-\x7e]/g, '_').replace(/["\\%;]/g, '_');
  const encoded = encodeURIComponent(name).replace(/['()*!]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encoded}`;
}
