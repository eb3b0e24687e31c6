/**
 * The web service's HTTP semantics, pure: no sockets, no files. Everything a static server must
 * decide from header text alone lives here, so it can be tested (and fuzzed) byte by byte:
 *
 * - request targets → path segments, refusing every traversal trick (decode once; NUL, backslash,
 *   encoded slash, `.`/`..` segments, invalid or overlong UTF-8 are a 400; dotfiles are a 404);
 * - `Range` (RFC 9110 §14): single, suffix and multiple ranges, coalescing, a cap on their number;
 * - conditional requests (RFC 9110 §13) in the standard's order of precedence;
 * - entity tags from size and modification time, and their strong and weak comparison;
 * - `Accept-Encoding` negotiation (RFC 9110 §12.5.3);
 * - HTTP-dates (all three formats a recipient must accept), multipart/byteranges framing, and
 *   the combined access-log line.
 */

// ─── Request targets ────────────────────────────────────────────────────────────────────────────

export type DecodedTarget =
  | {
      ok: true;
      /** Decoded path segments, none empty, none `.` or `..`, none containing `/`, `\` or NUL. */
      segments: string[];
      /** The path ended with `/` (the client asked for a directory). */
      directory: boolean;
      /** The query string without its `?` ('' when none), kept for redirects. */
      query: string;
    }
  | { ok: false; status: 400 | 404; reason: string };

const fatalUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function hexValue(code: number): number {
  if (code >= 0x30 && code <= 0x39) return code - 0x30;
  if (code >= 0x41 && code <= 0x46) return code - 0x37;
  if (code >= 0x61 && code <= 0x66) return code - 0x57;
  return -1;
}

const bad = (reason: string): DecodedTarget => ({ ok: false, status: 400, reason });

/**
 * Turn a request target (`req.url`: origin-form `/a/b?q`, or absolute-form `http://h/a/b`) into
 * path segments. Percent-encoding is decoded exactly once, so `%252e` is the file named `%2e`,
 * never `.`. Refused with 400: anything but visible ASCII in the raw target, a malformed `%`,
 * NUL or another control character, a backslash (raw or `%5c`), an encoded slash (`%2f`), a
 * `.` or `..` segment (raw or encoded: browsers resolve those before sending, so only an attack
 * or a broken client sends them), and bytes that are not valid UTF-8 (overlong forms such as
 * `%c0%af` included). A segment that starts with `.` (a dotfile) is a 404, except `.well-known`
 * as the first segment (RFC 8615) when `allowWellKnown` is set.
 */
export function decodeRequestTarget(target: string, options: { allowWellKnown?: boolean } = {}): DecodedTarget {
  let path = target;
  if (path.length === 0) return bad('empty request target');
  if (path.charCodeAt(0) !== 0x2f) {
    // absolute-form (RFC 9112 §3.2.2): servers must accept it; the authority is not ours to check.
    const absolute = /^https?:\/\/[^/?#]*/i.exec(path);
    if (!absolute) return bad('the request target must start with /');
    path = path.slice(absolute[0].length);
    if (path === '' || path.charCodeAt(0) === 0x3f) path = `/${path}`;
    if (path.charCodeAt(0) !== 0x2f) return bad('the request target must start with /');
  }
  let query = '';
  const q = path.indexOf('?');
  if (q >= 0) {
    query = path.slice(q + 1);
    path = path.slice(0, q);
  }
  const bytes = new Uint8Array(path.length);
  let n = 0;
  let plainAscii = true;
  for (let i = 0; i < path.length; i++) {
    const c = path.charCodeAt(i);
    if (c < 0x21 || c > 0x7e) return bad('the request target contains a character that must be percent-encoded');
    if (c === 0x5c) return bad('backslash in path');
    if (c === 0x23) return bad('a fragment (#) in the request target');
    if (c === 0x25) {
      if (i + 2 >= path.length) return bad('malformed percent-encoding');
      const hi = hexValue(path.charCodeAt(i + 1));
      const lo = hexValue(path.charCodeAt(i + 2));
      if (hi < 0 || lo < 0) return bad('malformed percent-encoding');
      const byte = hi * 16 + lo;
      if (byte === 0x00) return bad('NUL in path');
      if (byte === 0x2f) return bad('encoded slash (%2f) in path');
      if (byte === 0x5c) return bad('encoded backslash (%5c) in path');
      if (byte < 0x20 || byte === 0x7f) return bad('control character in path');
      if (byte > 0x7f) plainAscii = false;
      bytes[n++] = byte;
      i += 2;
    } else {
      bytes[n++] = c;
    }
  }
  let decoded: string;
  if (plainAscii) {
    decoded = Buffer.from(bytes.buffer, 0, n).toString('latin1');
  } else {
    try {
      decoded = fatalUtf8.decode(bytes.subarray(0, n));
    } catch {
      return bad('the path is not valid UTF-8');
    }
  }
  const parts = decoded.split('/');
  const segments: string[] = [];
  for (let i = 1; i < parts.length; i++) {
    const part = parts[i] as string;
    if (part === '') continue;
    if (part === '.' || part === '..') return bad('dot segment (. or ..) in path');
    segments.push(part);
  }
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i] as string;
    if (segment.charCodeAt(0) === 0x2e && !(i === 0 && segment === '.well-known' && options.allowWellKnown === true)) {
      return { ok: false, status: 404, reason: 'dotfiles are not served' };
    }
  }
  return { ok: true, segments, directory: decoded.endsWith('/'), query };
}

/** Percent-encode a decoded path for a `Location` header or a link: each segment on its own. */
export function encodePath(segments: readonly string[], directory: boolean): string {
  const path = `/${segments.map((s) => encodeURIComponent(s)).join('/')}`;
  return directory && segments.length > 0 ? `${path}/` : path;
}

// ─── Ranges (RFC 9110 §14) ──────────────────────────────────────────────────────────────────────

/** An inclusive byte range: `start` and `end` are offsets of the first and last byte. */
export interface ByteRange {
  start: number;
  end: number;
}

export type RangeOutcome =
  /** No Range header, one that is invalid, in a unit we do not serve, or with too many parts: send 200 and everything. */
  | { kind: 'whole' }
  /** None of the ranges overlaps the representation: 416 with `Content-Range: bytes *\/size`. */
  | { kind: 'unsatisfiable' }
  /** 206: one range (a plain body with `Content-Range`), or several (multipart/byteranges), in ascending order. */
  | { kind: 'partial'; ranges: ByteRange[] };

export const DEFAULT_MAX_RANGES = 100;

const OWS = /^[ \t]+|[ \t]+$/g;

/**
 * Evaluate a `Range` header against a representation of `size` bytes.
 *
 * - `bytes=0-99` (first and last byte, inclusive), `bytes=100-` (to the end), `bytes=-100` (the
 *   last 100 bytes); a last position past the end is clamped; the unit is case-insensitive.
 * - An invalid header (bad syntax, last < first, an empty set) is ignored, as RFC 9110 allows, and
 *   so is one with more than `maxRanges` ranges (a sign of a broken client or an attack).
 * - Ranges that start at or past the end are dropped; if none is left the answer is 416. `-0` is
 *   never satisfiable, and nothing is satisfiable in an empty representation.
 * - Overlapping and adjacent ranges are coalesced and the result is sorted (§14.2 allows both), so
 *   a multipart answer never carries a byte twice and is never larger than the file plus framing.
 */
export function evaluateRange(header: string | undefined, size: number, maxRanges = DEFAULT_MAX_RANGES): RangeOutcome {
  if (header === undefined) return { kind: 'whole' };
  const eq = header.indexOf('=');
  if (eq < 0 || header.slice(0, eq).replace(OWS, '').toLowerCase() !== 'bytes') return { kind: 'whole' };
  const specs = header.slice(eq + 1).split(',');
  const satisfiable: ByteRange[] = [];
  let count = 0;
  for (const raw of specs) {
    const spec = raw.replace(OWS, '');
    if (spec === '') continue; // the list rule allows empty elements
    if (++count > maxRanges) return { kind: 'whole' };
    const dash = spec.indexOf('-');
    if (dash < 0) return { kind: 'whole' };
    const first = spec.slice(0, dash);
    const last = spec.slice(dash + 1);
    if (!isDigits(first, true) || !isDigits(last, true)) return { kind: 'whole' };
    if (first === '') {
      if (last === '') return { kind: 'whole' };
      const suffix = Number(last);
      if (suffix > 0 && size > 0) satisfiable.push({ start: Math.max(0, size - suffix), end: size - 1 });
      continue;
    }
    const start = Number(first);
    const end = last === '' ? Infinity : Number(last);
    if (end < start) return { kind: 'whole' };
    if (start < size) satisfiable.push({ start, end: Math.min(end, size - 1) });
  }
  if (count === 0) return { kind: 'whole' };
  if (satisfiable.length === 0) return { kind: 'unsatisfiable' };
  return { kind: 'partial', ranges: coalesceRanges(satisfiable) };
}

function isDigits(text: string, allowEmpty: boolean): boolean {
  if (text === '') return allowEmpty;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return false;
  }
  return true;
}

/** Sort ranges and merge those that overlap or touch. */
export function coalesceRanges(ranges: readonly ByteRange[]): ByteRange[] {
  const sorted = [...ranges].sort((a, b) => a.start - b.start || a.end - b.end);
  const merged: ByteRange[] = [];
  for (const range of sorted) {
    const previous = merged[merged.length - 1];
    if (previous && range.start <= previous.end + 1) previous.end = Math.max(previous.end, range.end);
    else merged.push({ ...range });
  }
  return merged;
}

export function contentRange(range: ByteRange, size: number): string {
  return `bytes ${range.start}-${range.end}/${size}`;
}

/**
 * A 206 answer's `Content-Range: bytes FIRST-LAST/SIZE` (the client's side): the range and the
 * whole size, or undefined for anything else (another unit, `*` for the size, last < first, last
 * past the end, numbers beyond 2^53). A client resumes only on a range it can read.
 */
export function parseContentRange(value: string | undefined): { range: ByteRange; size: number } | undefined {
  const match = /^bytes[ \t]+(\d{1,15})-(\d{1,15})\/(\d{1,15})$/i.exec(value?.replace(OWS, '') ?? '');
  if (!match) return undefined;
  const [start, end, size] = [Number(match[1]), Number(match[2]), Number(match[3])];
  if (end < start || end >= size) return undefined;
  return { range: { start, end }, size };
}

/** The framing of a multipart/byteranges body (RFC 9110 §14.6): the text around each part. */
export interface MultipartLayout {
  contentType: string;
  /** For each range in order: the text that precedes its bytes. */
  heads: string[];
  tail: string;
  /** The exact body length, for `Content-Length`. */
  length: number;
}

export function multipartLayout(ranges: readonly ByteRange[], size: number, partType: string, boundary: string): MultipartLayout {
  const heads = ranges.map(
    (range, i) => `${i === 0 ? '' : '\r\n'}--${boundary}\r\nContent-Type: ${partType}\r\nContent-Range: ${contentRange(range, size)}\r\n\r\n`,
  );
  const tail = `\r\n--${boundary}--\r\n`;
  let length = Buffer.byteLength(tail);
  for (let i = 0; i < ranges.length; i++) {
    const range = ranges[i] as ByteRange;
    length += Buffer.byteLength(heads[i] as string) + range.end - range.start + 1;
  }
  return { contentType: `multipart/byteranges; boundary=${boundary}`, heads, tail, length };
}

// ─── Entity tags and dates ──────────────────────────────────────────────────────────────────────

/**
 * A strong entity tag from a file's size and modification time (microseconds), as nginx and
 * Apache make them: `"<size hex>-<mtime µs hex>"`. Strong, so it works with `If-Range` and
 * `If-Match`; it changes whenever the file's size or mtime does, which every ordinary write
 * does (a tool that rewrites a file with the same size and restores its mtime defeats it, as it
 * defeats nginx). `suffix` tells content codings apart (`-br`, `-gz`): each is its own representation.
 */
export function fileEtag(size: number, mtimeMs: number, suffix = ''): string {
  return `"${size.toString(16)}-${Math.round(mtimeMs * 1000).toString(16)}${suffix}"`;
}

/** The entity tags in an `If-Match` / `If-None-Match` value, or `'*'`. Malformed members are skipped. */
export function parseEntityTags(value: string): string[] | '*' {
  const trimmed = value.replace(OWS, '');
  if (trimmed === '*') return '*';
  const tags: string[] = [];
  let i = 0;
  while (i < value.length) {
    const c = value.charCodeAt(i);
    if (c === 0x20 || c === 0x09 || c === 0x2c) {
      i++;
      continue;
    }
    const weak = value.startsWith('W/"', i);
    const open = weak ? i + 2 : i;
    const close = value.charCodeAt(open) === 0x22 ? value.indexOf('"', open + 1) : -1;
    const next = value.indexOf(',', close < 0 ? i : close);
    const end = next < 0 ? value.length : next;
    // A well-formed member is the tag followed only by whitespace up to the comma.
    if (close >= 0 && value.slice(close + 1, end).replace(OWS, '') === '') {
      const inner = value.slice(open + 1, close);
      if (/^[\x21\x23-\x7e\x80-\xff]*$/.test(inner)) tags.push(`${weak ? 'W/' : ''}"${inner}"`);
    }
    i = end + 1;
  }
  return tags;
}

const isWeak = (tag: string) => tag.startsWith('W/');
const opaque = (tag: string) => (isWeak(tag) ? tag.slice(2) : tag);

/** Strong comparison: both tags strong and identical. */
export function strongMatch(a: string, b: string): boolean {
  return !isWeak(a) && !isWeak(b) && a === b;
}

/** Weak comparison: the opaque parts are identical, W/ or not. */
export function weakMatch(a: string, b: string): boolean {
  return opaque(a) === opaque(b);
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const LONG_DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];

const IMF_FIXDATE = /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), (\d\d) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) (\d{4}) (\d\d):(\d\d):(\d\d) GMT$/;
const RFC850 = /^(Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday), (\d\d)-(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)-(\d\d) (\d\d):(\d\d):(\d\d) GMT$/;
const ASCTIME = /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) ([ \d]\d) (\d\d):(\d\d):(\d\d) (\d{4})$/;

/**
 * Parse an HTTP-date (RFC 9110 §5.6.7) in any of its three formats; undefined when it is not
 * one (so the header it came from is ignored, as the RFC requires). Milliseconds since the epoch.
 * A two-digit RFC 850 year that would be more than 50 years in the future is taken as past.
 */
export function parseHttpDate(text: string, nowMs = Date.now()): number | undefined {
  let day: number, month: number, year: number, hour: number, minute: number, second: number;
  let weekday: number;
  let match = IMF_FIXDATE.exec(text);
  if (match) {
    weekday = DAYS.indexOf(match[1] as string);
    day = Number(match[2]);
    month = MONTHS.indexOf(match[3] as string);
    year = Number(match[4]);
    hour = Number(match[5]);
    minute = Number(match[6]);
    second = Number(match[7]);
  } else if ((match = RFC850.exec(text))) {
    weekday = LONG_DAYS.indexOf(match[1] as string);
    day = Number(match[2]);
    month = MONTHS.indexOf(match[3] as string);
    const nowYear = new Date(nowMs).getUTCFullYear();
    year = Math.floor(nowYear / 100) * 100 + Number(match[4]);
    if (year > nowYear + 50) year -= 100;
    hour = Number(match[5]);
    minute = Number(match[6]);
    second = Number(match[7]);
  } else if ((match = ASCTIME.exec(text))) {
    weekday = DAYS.indexOf(match[1] as string);
    month = MONTHS.indexOf(match[2] as string);
    day = Number((match[3] as string).trim());
    hour = Number(match[4]);
    minute = Number(match[5]);
    second = Number(match[6]);
    year = Number(match[7]);
  } else {
    return undefined;
  }
  if (hour > 23 || minute > 59 || second > 60 || day < 1) return undefined;
  const ms = Date.UTC(year, month, day, hour, minute, Math.min(second, 59));
  const date = new Date(ms);
  // Reject 31 Feb and friends, and a weekday that does not match the date.
  if (date.getUTCDate() !== day || date.getUTCMonth() !== month || date.getUTCDay() !== weekday) return undefined;
  return ms;
}

/** An IMF-fixdate: `Sun, 06 Nov 1994 08:49:37 GMT`. */
export function formatHttpDate(ms: number): string {
  return new Date(ms).toUTCString();
}

// ─── Conditional requests (RFC 9110 §13) ────────────────────────────────────────────────────────

/** What identifies the selected representation's current version. */
export interface Validators {
  /** A strong entity tag, quoted. */
  etag: string;
  /** Last modification, milliseconds since the epoch (compared at one-second resolution). */
  lastModifiedMs: number;
}

/** The request headers conditional requests look at (lower-case names, as Node gives them). */
export interface ConditionalHeaders {
  'if-match'?: string | undefined;
  'if-none-match'?: string | undefined;
  'if-modified-since'?: string | undefined;
  'if-unmodified-since'?: string | undefined;
  'if-range'?: string | undefined;
}

export type PreconditionOutcome = 'proceed' | 'not-modified' | 'precondition-failed';

const seconds = (ms: number) => Math.floor(ms / 1000);

/**
 * Evaluate preconditions in the order RFC 9110 §13.2.2 fixes, for a GET or HEAD of a
 * representation that exists:
 *   1. If-Match (strong comparison) false → 412;
 *   2. else If-Unmodified-Since (when If-Match is absent) and modified since → 412;
 *   3. If-None-Match (weak comparison) matches → 304;
 *   4. else If-Modified-Since (when If-None-Match is absent) and not modified since → 304;
 *   5. otherwise proceed (If-Range is then applied to the Range header: see `ifRangeHolds`).
 * Invalid dates are ignored, as the RFC requires.
 */
export function evaluatePreconditions(headers: ConditionalHeaders, current: Validators): PreconditionOutcome {
  const ifMatch = headers['if-match'];
  if (ifMatch !== undefined) {
    const tags = parseEntityTags(ifMatch);
    if (tags !== '*' && !tags.some((tag) => strongMatch(tag, current.etag))) return 'precondition-failed';
  } else {
    const ifUnmodifiedSince = headers['if-unmodified-since'];
    if (ifUnmodifiedSince !== undefined) {
      const date = parseHttpDate(ifUnmodifiedSince);
      if (date !== undefined && seconds(current.lastModifiedMs) > seconds(date)) return 'precondition-failed';
    }
  }
  const ifNoneMatch = headers['if-none-match'];
  if (ifNoneMatch !== undefined) {
    const tags = parseEntityTags(ifNoneMatch);
    if (tags === '*' || tags.some((tag) => weakMatch(tag, current.etag))) return 'not-modified';
  } else {
    const ifModifiedSince = headers['if-modified-since'];
    if (ifModifiedSince !== undefined) {
      const date = parseHttpDate(ifModifiedSince);
      if (date !== undefined && seconds(current.lastModifiedMs) <= seconds(date)) return 'not-modified';
    }
  }
  return 'proceed';
}

/**
 * If-Range (RFC 9110 §13.1.5): should the Range header be honoured? True when there is no
 * If-Range, when its entity tag strongly matches, or when its date exactly equals Last-Modified
 * and that date is a strong validator (at least one second before now). Otherwise the client's
 * partial copy is stale and it gets the whole representation.
 */
export function ifRangeHolds(ifRange: string | undefined, current: Validators, nowMs = Date.now()): boolean {
  if (ifRange === undefined) return true;
  const value = ifRange.replace(OWS, '');
  if (value.startsWith('"') || value.startsWith('W/')) return strongMatch(value, current.etag);
  const date = parseHttpDate(value, nowMs);
  if (date === undefined) return false;
  return seconds(date) === seconds(current.lastModifiedMs) && nowMs - current.lastModifiedMs >= 1000;
}

// ─── Content codings (RFC 9110 §12.5.3) ─────────────────────────────────────────────────────────

export type CompressedCoding = 'br' | 'gzip';
export type ContentCoding = CompressedCoding | 'identity';

/**
 * Choose how to encode a response from `Accept-Encoding` and the codings on offer (in the
 * server's order of preference, best first). The coding with the highest q-value wins; on a tie
 * the server's order decides. Identity wins only when the client lists it with a higher q than
 * any coding on offer (`gzip;q=0.5, identity`); a coding it accepts is otherwise used. A missing header means
 * identity (RFC 9110: a server may assume any coding, but many old clients lie); `*` stands for
 * every coding not listed; `q=0` forbids. When nothing is acceptable the answer is identity,
 * which the RFC prefers to a 406.
 */
export function negotiateEncoding(header: string | undefined, offered: readonly CompressedCoding[]): ContentCoding {
  if (header === undefined || offered.length === 0) return 'identity';
  const weights = parseAcceptEncoding(header);
  const star = weights.get('*');
  let best: CompressedCoding | undefined;
  let bestQ = 0;
  for (const coding of offered) {
    const q = weights.get(coding) ?? star ?? 0;
    if (q > bestQ) {
      best = coding;
      bestQ = q;
    }
  }
  // identity is always acceptable (unless refused), but it wins only when listed with a higher q.
  const identityQ = weights.get('identity');
  return best !== undefined && (identityQ === undefined || bestQ >= identityQ) ? best : 'identity';
}

/** `gzip;q=0.8, br, *;q=0` → Map { gzip → 0.8, br → 1, * → 0 }. `x-gzip` counts as gzip. Malformed members are skipped. */
export function parseAcceptEncoding(header: string): Map<string, number> {
  const weights = new Map<string, number>();
  for (const member of header.split(',')) {
    const [rawCoding, ...params] = member.split(';');
    let coding = (rawCoding ?? '').replace(OWS, '').toLowerCase();
    if (coding === '' || !/^[a-z0-9!#$%&'*+.^_`|~-]+$/.test(coding)) continue;
    if (coding === 'x-gzip') coding = 'gzip';
    let q = 1;
    let valid = true;
    for (const param of params) {
      const [name, value] = param.split('=').map((s) => s.replace(OWS, ''));
      if (name?.toLowerCase() !== 'q') continue;
      if (value === undefined || !/^(0(\.\d{0,3})?|1(\.0{0,3})?)$/.test(value)) valid = false;
      else q = Number(value);
    }
    if (valid && !weights.has(coding)) weights.set(coding, q);
  }
  return weights;
}

// ─── Access log ─────────────────────────────────────────────────────────────────────────────────

export interface AccessRecord {
  remote: string;
  timeMs: number;
  method: string;
  target: string;
  httpVersion: string;
  status: number;
  bytes: number;
  referer?: string | undefined;
  userAgent?: string | undefined;
}

/** Quote a field for the combined log format: `"` and `\` escaped, control characters as \xHH. */
function logQuote(text: string | undefined): string {
  if (text === undefined || text === '') return '"-"';
  // eslint-disable-next-line no-control-regex
  return `"${text.replace(/[\x00-\x1f\x7f"\\]/g, (c) => (c === '"' || c === '\\' ? `\\${c}` : `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`))}"`;
}

/** `10/Oct/2000:13:55:36 +0000` (always UTC). */
export function formatLogTime(ms: number): string {
  const d = new Date(ms);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${pad(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} +0000`;
}

/** One line of the NCSA combined log format, as Apache and nginx write it, without the newline. */
export function combinedLogLine(record: AccessRecord): string {
  const request = logQuote(`${record.method} ${record.target} HTTP/${record.httpVersion}`);
  const bytes = record.bytes > 0 ? String(record.bytes) : '-';
  return `${record.remote || '-'} - - [${formatLogTime(record.timeMs)}] ${request} ${record.status} ${bytes} ${logQuote(record.referer)} ${logQuote(record.userAgent)}`;
}

/** The access-log line of the service log, whole in itself: `127.0.0.1 "GET /a HTTP/1.1" 200 1234 B 3 ms`. */
export function accessLogMessage(record: Pick<AccessRecord, 'remote' | 'method' | 'target' | 'httpVersion' | 'status' | 'bytes'> & { ms: number }): string {
  const request = logQuote(`${record.method} ${record.target} HTTP/${record.httpVersion}`);
  return `${record.remote || '-'} ${request} ${record.status} ${record.bytes} B ${record.ms} ms`;
}

// ─── Request heads (RFC 9112) ───────────────────────────────────────────────────────────────────

/**
 * What Node's HTTP/1 parser lets through and RFC 9112 refuses: an HTTP/1.1 request must carry
 * exactly one `Host` (§3.2; Node keeps the first of two and drops the other silently), and a
 * request whose last transfer coding is not `chunked` has a body of unknown length (§6.3): 400
 * and close the connection in both cases. `rawHeaders` is Node's flat [name, value, ...] list.
 */
export function requestHeadProblem(httpVersion: string, rawHeaders: readonly string[]): string | undefined {
  let hosts = 0;
  const codings: string[] = [];
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = (rawHeaders[i] as string).toLowerCase();
    if (name === 'host') hosts++;
    else if (name === 'transfer-encoding') codings.push(...(rawHeaders[i + 1] as string).split(','));
  }
  if (hosts > 1) return 'more than one Host header';
  if (hosts === 0 && httpVersion === '1.1') return 'an HTTP/1.1 request needs a Host header';
  if (codings.length > 0 && (codings[codings.length - 1] as string).replace(OWS, '').toLowerCase() !== 'chunked') return 'a transfer coding other than chunked last';
  return undefined;
}

/** Does the client close the connection after this request (HTTP/1.0 without keep-alive, or `Connection: close`)? */
export function closesAfterRequest(httpVersion: string, connection: string | undefined): boolean {
  const tokens = (connection ?? '').toLowerCase().split(',').map((t) => t.replace(OWS, ''));
  if (tokens.includes('close')) return true;
  return httpVersion === '1.0' && !tokens.includes('keep-alive');
}
