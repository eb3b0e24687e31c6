/**
 * The diary's protocols, pure: no sockets, no files, no database.
 *
 * Two protocols share one UDP port (8888 by default):
 *
 * 1. **The seed's** (seed 003): a datagram of UTF-8 text is a diary entry; the server stamps it
 *    `[` + Python's `time.asctime()` + `] ` and answers the stamped line. `-r` answers the diary
 *    between `----------读取日记----------` and 28 dashes; `-c` empties it and answers
 *    `---初始化完毕---!`. Commands are case-insensitive.
 * 2. **wharf's own**: a datagram that starts with the 4-byte magic `FF 57 44 01` (`\xFF` `W` `D`,
 *    version 1) followed by a JSON object. `0xFF` never occurs in UTF-8, so no seed client can
 *    send it by accident: a datagram starting with it is not text at all.
 *
 * The wire format of wharf's messages is documented in docs/diary.md.
 */

// ---------------------------------------------------------------------------------------------
// time.asctime()

const WEEKDAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'] as const;
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'] as const;

/** The wall clock of an instant in a time zone. */
export interface WallClock {
  year: number;
  /** 1–12 */
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
  /** 0 = Sunday */
  weekday: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterFor(timeZone: string | undefined): Intl.DateTimeFormat {
  const key = timeZone ?? '';
  let formatter = formatters.get(key);
  if (!formatter) {
    formatter = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
      weekday: 'short',
      era: 'short',
    });
    formatters.set(key, formatter);
  }
  return formatter;
}

/** Is `timeZone` a zone this runtime knows (an IANA name such as `Asia/Shanghai`, or `UTC`)? */
export function isValidTimeZone(timeZone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone });
    return true;
  } catch {
    return false;
  }
}

/**
 * The wall clock of `ms` (milliseconds since the epoch) in `timeZone`; undefined means the
 * process's local zone (the `TZ` environment variable, else the system's), as the seed's
 * `time.localtime()`.
 */
export function wallClock(ms: number, timeZone?: string): WallClock {
  const parts = formatterFor(timeZone).formatToParts(new Date(ms));
  const get = (type: Intl.DateTimeFormatPartTypes): string => parts.find((p) => p.type === type)?.value ?? '';
  let year = Number(get('year'));
  if (get('era') === 'BC') year = 1 - year;
  return {
    year,
    month: Number(get('month')),
    day: Number(get('day')),
    hour: Number(get('hour')),
    minute: Number(get('minute')),
    second: Number(get('second')),
    weekday: WEEKDAYS.indexOf(get('weekday') as (typeof WEEKDAYS)[number]),
  };
}

const two = (n: number): string => String(n).padStart(2, '0');

/**
 * Python's `time.asctime()`: `Mon Nov 23 18:05:09 2026`, the day padded with a space
 * (`Mon Nov  3 …`), in `timeZone` (default: local time, as the seed).
 */
export function asctime(ms: number, timeZone?: string): string {
  const w = wallClock(ms, timeZone);
  return `${WEEKDAYS[w.weekday] ?? '???'} ${MONTHS[w.month - 1] ?? '???'} ${String(w.day).padStart(2, ' ')} ${two(w.hour)}:${two(w.minute)}:${two(w.second)} ${w.year}`;
}

/** The line the seed stores and answers: `[Mon Nov 23 18:05:09 2026] text`. */
export function stampedLine(ms: number, text: string, timeZone?: string): string {
  return `[${asctime(ms, timeZone)}] ${text}`;
}

/** `[Www Mmm dd hh:mm:ss yyyy] ` at the start of a line, as the seed writes it. */
const STAMP = /^\[(Sun|Mon|Tue|Wed|Thu|Fri|Sat) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) ([ \d]\d) (\d\d):(\d\d):(\d\d) (\d{4})\](?: |$)/;

/**
 * The instant a wall-clock time in `timeZone` names (local by default). A time that a DST jump
 * skips is read with the offset in force before the jump; a time that occurs twice, as the first.
 */
export function instantOf(wall: Omit<WallClock, 'weekday'>, timeZone?: string): number {
  const asUtc = Date.UTC(wall.year, wall.month - 1, wall.day, wall.hour, wall.minute, wall.second);
  const offsetAt = (ms: number): number => {
    const w = wallClock(ms, timeZone);
    return Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute, w.second) - Math.floor(ms / 1000) * 1000;
  };
  const matches = (ms: number): boolean => {
    const w = wallClock(ms, timeZone);
    return w.year === wall.year && w.month === wall.month && w.day === wall.day && w.hour === wall.hour && w.minute === wall.minute && w.second === wall.second;
  };
  // The offsets in force a day before and a day after: no zone changes twice within two days.
  const before = asUtc - offsetAt(asUtc - 86_400_000);
  const after = asUtc - offsetAt(asUtc + 86_400_000);
  const valid = [before, after].filter(matches);
  return valid.length > 0 ? Math.min(...valid) : before;
}

/** Parse the stamp at the start of a daily.log line: the instant and the text after it. */
export function parseStampedLine(line: string, timeZone?: string): { ms: number; text: string } | undefined {
  const match = STAMP.exec(line);
  if (!match) return undefined;
  const [, , monthName, day, hour, minute, second, year] = match as unknown as [string, string, string, string, string, string, string, string];
  const wall = {
    year: Number(year),
    month: MONTHS.indexOf(monthName as (typeof MONTHS)[number]) + 1,
    day: Number(day.trim()),
    hour: Number(hour),
    minute: Number(minute),
    second: Number(second),
  };
  if (wall.day < 1 || wall.day > 31 || wall.hour > 23 || wall.minute > 59 || wall.second > 61) return undefined;
  return { ms: instantOf(wall, timeZone), text: line.slice(match[0].length) };
}

// ---------------------------------------------------------------------------------------------
// daily.log

export interface LogEntry {
  /** Milliseconds since the epoch. */
  ms: number;
  text: string;
}

/** Entries in the seed's daily.log format: one `[asctime] text` line each, each ending in `\n`. */
export function formatDailyLog(entries: Iterable<LogEntry>, timeZone?: string): string {
  let out = '';
  for (const entry of entries) out += `${stampedLine(entry.ms, entry.text, timeZone)}\n`;
  return out;
}

export interface ParsedDailyLog {
  entries: LogEntry[];
  /** Lines without a stamp that were joined to the entry before them (a text with line breaks). */
  continuationLines: number;
  /** Lines before the first stamped line (the seed's first version wrote no stamps). */
  unstampedLeadingLines: number;
}

/**
 * Read a daily.log back. A stamped line starts an entry; a line without a stamp continues the
 * entry before it (an entry whose text had a line break). Lines before the first stamp become
 * entries of their own at `fallbackMs`. Empty lines at the very end are ignored.
 */
export function parseDailyLog(text: string, options: { timeZone?: string; fallbackMs: number }): ParsedDailyLog {
  const lines = text.replace(/\r\n/g, '\n').split('\n');
  if (lines.at(-1) === '') lines.pop();
  const entries: LogEntry[] = [];
  let continuationLines = 0;
  let unstampedLeadingLines = 0;
  let stampSeen = false;
  for (const line of lines) {
    const stamped = parseStampedLine(line, options.timeZone);
    const last = entries.at(-1);
    if (stamped) {
      stampSeen = true;
      entries.push(stamped);
    } else if (stampSeen && last) {
      last.text += `\n${line}`;
      continuationLines += 1;
    } else if (line !== '') {
      entries.push({ ms: options.fallbackMs, text: line });
      unstampedLeadingLines += 1;
    }
  }
  return { entries, continuationLines, unstampedLeadingLines };
}

// ---------------------------------------------------------------------------------------------
// The seed protocol

/** The seed's answers, byte for byte. */
export const READ_HEADER = `${'-'.repeat(10)}读取日记${'-'.repeat(10)}`;
export const READ_FOOTER = '-'.repeat(28);
export const CLEARED_REPLY = '---初始化完毕---!';

/** wharf's own answers to seed clients, in the seed's style (Chinese, then English). */
export const SEED_REPLIES = {
  clearRefused: '---未清空：匿名用户不能清空日记 (refused: an anonymous client may not clear the diary)---',
  empty: '---空日记，未保存 (empty entry, not saved)---',
  notUtf8: '---不是 UTF-8 文本，未保存 (not UTF-8 text, not saved)---',
  tooLong: (bytes: number, max: number) => `---日记太长：${bytes} 字节，最多 ${max} 字节，未保存 (too long: ${bytes} bytes, at most ${max}; not saved)---`,
  storeFailed: '---保存失败，请重试 (the server could not save it; try again)---',
} as const;

/** What a datagram asks for. */
export type SeedRequest =
  | { kind: 'write'; text: string }
  | { kind: 'read' }
  | { kind: 'clear' }
  | { kind: 'empty' }
  | { kind: 'not-utf8' }
  | { kind: 'too-long'; bytes: number };

/** The 4 bytes that start every message of wharf's own protocol. */
export const WHARF_MAGIC = Buffer.from([0xff, 0x57, 0x44, 0x01]);

/** Is this datagram one of wharf's own messages (rather than a seed client's text)? */
export function isWharfMessage(datagram: Uint8Array): boolean {
  return datagram.length >= 1 && datagram[0] === 0xff;
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * Read a seed datagram. One trailing line ending is not part of the entry (`nc` and `echo | nc -u`
 * send one; the seed client does not), so `-r\n` is the read command too. Text is stored as
 * sent otherwise; an entry that is empty or only white space is not stored.
 */
export function parseSeedDatagram(datagram: Uint8Array, maxEntryBytes: number): SeedRequest {
  let end = datagram.length;
  if (end > 0 && datagram[end - 1] === 0x0a) end -= 1;
  if (end > 0 && datagram[end - 1] === 0x0d) end -= 1;
  if (end > maxEntryBytes) return { kind: 'too-long', bytes: end };
  let text: string;
  try {
    text = utf8.decode(datagram.subarray(0, end));
  } catch {
    return { kind: 'not-utf8' };
  }
  const command = text.toLowerCase();
  if (command === '-r') return { kind: 'read' };
  if (command === '-c') return { kind: 'clear' };
  if (text.trim() === '') return { kind: 'empty' };
  return { kind: 'write', text };
}

export interface ReadReplyEntry {
  ms: number;
  text: string;
}

/**
 * The seed's `-r` answer: the header, one stamped line per entry, the 28 dashes, in at most
 * `maxBytes` bytes of UTF-8. `newestFirst` are the newest entries, newest first (as many as may
 * fit); `total` is how many the diary holds. When not all of them fit, the answer holds the newest
 * that do, oldest first as always, and its first line says so:
 * `----------读取日记----------(newest 12 of 340)`.
 */
export function formatReadReply(newestFirst: readonly ReadReplyEntry[], total: number, maxBytes: number, timeZone?: string): { reply: string; shown: number } {
  const footerBytes = Buffer.byteLength(READ_FOOTER);
  const fullHeader = `${READ_HEADER}\n`;
  const lines: string[] = [];
  let bytes = 0;
  for (const entry of newestFirst) {
    const line = `${stampedLine(entry.ms, entry.text, timeZone)}\n`;
    lines.push(line);
    bytes += Buffer.byteLength(line);
  }
  const everything = lines.length === total;
  if (everything && Buffer.byteLength(fullHeader) + bytes + footerBytes <= maxBytes) {
    return { reply: fullHeader + lines.reverse().join('') + READ_FOOTER, shown: lines.length };
  }
  // Not everything fits: the header says how many are shown. Its length depends on that number,
  // so budget for the widest it can be (the digits of `total`).
  const cutHeader = (shown: number): string => `${READ_HEADER}(newest ${shown} of ${total})\n`;
  const budget = maxBytes - Buffer.byteLength(cutHeader(total)) - footerBytes;
  let used = 0;
  let shown = 0;
  for (const line of lines) {
    const size = Buffer.byteLength(line);
    if (used + size > budget) break;
    used += size;
    shown += 1;
  }
  return { reply: cutHeader(shown) + lines.slice(0, shown).reverse().join('') + READ_FOOTER, shown };
}

// ---------------------------------------------------------------------------------------------
// wharf's own protocol

/** An entry in a WRITE: the client's sequence number and the text. */
export type WireEntry = [seq: number, text: string];

export type ClientMessage =
  | { op: 'write'; c: string; tok?: string; d?: string; e: WireEntry[] }
  | { op: 'login'; rid: string; user: string; pass: string }
  | { op: 'read'; rid: string; tok?: string; d?: string; since?: number; after?: number; max?: number }
  | { op: 'clear'; rid: string; tok?: string; d?: string };

export interface PageEntry {
  /** The entry's id in the server's diary (ascending in the order entries were stored). */
  id: number;
  /** When it was stored, ms since the epoch. */
  t: number;
  text: string;
  /** Who wrote it: an account name, or the writer's address (`ip:port`). */
  by?: string;
}

export type ServerMessage =
  | {
      op: 'ack';
      c: string;
      /** Every entry of the client up to this sequence number is stored (or refused: `rej`). */
      upTo: number;
      /** Entries `from` … `upTo` were stored by this commit, at `at` (ms since the epoch). */
      from?: number;
      at?: number;
      /** When other entries of the acknowledged datagram were stored (sent again after an earlier commit). */
      t?: Array<[seq: number, ms: number]>;
      /** Entries refused: not stored, and never to be sent again. */
      rej?: Array<[seq: number, code: string, message: string]>;
      /** Entries above `upTo` the server holds, waiting behind a gap: ranges [first, last], at most 16. */
      held?: Array<[first: number, last: number]>;
    }
  | { op: 'login'; rid: string; tok: string; user: string; role: 'user' | 'admin'; exp: number }
  | { op: 'page'; rid: string; entries: PageEntry[]; more: boolean; next: number }
  | { op: 'cleared'; rid: string; removed: number }
  | { op: 'error'; rid?: string; c?: string; code: string; message: string };

export function encodeMessage(message: ClientMessage | ServerMessage): Buffer {
  const json = JSON.stringify(message);
  const datagram = Buffer.allocUnsafe(WHARF_MAGIC.length + Buffer.byteLength(json));
  WHARF_MAGIC.copy(datagram, 0);
  datagram.write(json, WHARF_MAGIC.length, 'utf8');
  return datagram;
}

/** Why a wharf message is malformed: a short sentence, sent back in an `error` reply. */
/** A server answers an address at most this many times the bytes it received from it (docs/diary.md). */
export const ANSWER_FACTOR = 3;
/** What a padding field adds besides its characters: `,"pad":""`. */
const PAD_FIELD_BYTES = 9;

/**
 * A request padded with a `pad` field (ignored by every server) to a third of the largest answer
 * it expects, so that the answer fits the server's anti-amplification budget without using the
 * small credit meant for the seed's clients. QUIC pads its first packets for the same reason.
 */
export function encodePaddedRequest(message: ClientMessage, expectedAnswerBytes: number): Buffer {
  const plain = encodeMessage(message);
  const wanted = Math.ceil(expectedAnswerBytes / ANSWER_FACTOR);
  if (plain.length >= wanted) return plain;
  const padded: ClientMessage & { pad: string } = { ...message, pad: '.'.repeat(Math.max(0, wanted - plain.length - PAD_FIELD_BYTES)) };
  return encodeMessage(padded);
}

export class DiaryProtocolError extends Error {
  constructor(
    message: string,
    readonly rid?: string,
  ) {
    super(message);
    this.name = 'DiaryProtocolError';
  }
}

/** A client id: 16 lower-case hex digits (64 random bits). */
export const CLIENT_ID = /^[0-9a-f]{16}$/;
/** A request id: 1 to 32 characters of [A-Za-z0-9_-]. */
const REQUEST_ID = /^[A-Za-z0-9_-]{1,32}$/;
/** A session token: 22 characters of base64url (128 random bits). */
const TOKEN = /^[A-Za-z0-9_-]{22}$/;
/** Sequence numbers are 1 … 2^53 − 1. */
const isSeq = (value: unknown): value is number => typeof value === 'number' && Number.isSafeInteger(value) && value >= 1;

function parseJson(datagram: Uint8Array): Record<string, unknown> {
  if (datagram.length < WHARF_MAGIC.length || !WHARF_MAGIC.equals(datagram.subarray(0, WHARF_MAGIC.length))) {
    throw new DiaryProtocolError(
      datagram.length >= 4 && datagram[1] === 0x57 && datagram[2] === 0x44 ? `unsupported protocol version ${datagram[3]}` : 'not a wharf diary message',
    );
  }
  let value: unknown;
  try {
    value = JSON.parse(utf8.decode(datagram.subarray(WHARF_MAGIC.length)));
  } catch {
    throw new DiaryProtocolError('the message is not UTF-8 JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new DiaryProtocolError('the message is not a JSON object');
  return value as Record<string, unknown>;
}

function optionalString(object: Record<string, unknown>, key: string, pattern: RegExp | undefined, rid?: string): string | undefined {
  const value = object[key];
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || (pattern && !pattern.test(value))) throw new DiaryProtocolError(`"${key}" is malformed`, rid);
  return value;
}

function optionalNumber(object: Record<string, unknown>, key: string, rid: string): number | undefined {
  const value = object[key];
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) throw new DiaryProtocolError(`"${key}" must be a whole number, 0 or more`, rid);
  return value;
}

/** A diary name on the wire: absent or "" is the public diary, else an account name (≤ 64 characters). */
function diaryName(object: Record<string, unknown>, rid?: string): string | undefined {
  const value = optionalString(object, 'd', undefined, rid);
  if (value !== undefined && [...value].length > 64) throw new DiaryProtocolError('"d" is longer than an account name can be', rid);
  return value === '' ? undefined : value;
}

/**
 * Decode and check one of wharf's own client messages. Throws DiaryProtocolError (with the
 * request id when it could be read) for anything malformed; never anything else.
 */
export function decodeClientMessage(datagram: Uint8Array, limits: { maxEntryBytes: number; maxEntriesPerWrite: number }): ClientMessage {
  const object = parseJson(datagram);
  const rid = typeof object.rid === 'string' && REQUEST_ID.test(object.rid) ? object.rid : undefined;
  switch (object.op) {
    case 'write': {
      const c = optionalString(object, 'c', CLIENT_ID);
      if (c === undefined) throw new DiaryProtocolError('"c" (the client id) is missing');
      const tok = optionalString(object, 'tok', TOKEN);
      const d = diaryName(object);
      const entries = object.e;
      if (!Array.isArray(entries) || entries.length === 0) throw new DiaryProtocolError('"e" must be a non-empty array of [seq, text]');
      if (entries.length > limits.maxEntriesPerWrite) throw new DiaryProtocolError(`at most ${limits.maxEntriesPerWrite} entries per write`);
      const e: WireEntry[] = [];
      for (const entry of entries) {
        if (!Array.isArray(entry) || entry.length !== 2 || !isSeq(entry[0]) || typeof entry[1] !== 'string') {
          throw new DiaryProtocolError('each entry must be [seq, text] with seq a whole number from 1');
        }
        e.push([entry[0], entry[1]]);
      }
      return { op: 'write', c, e, ...(tok ? { tok } : {}), ...(d ? { d } : {}) };
    }
    case 'login': {
      if (!rid) throw new DiaryProtocolError('"rid" (the request id) is missing or malformed');
      const user = object.user;
      const pass = object.pass;
      if (typeof user !== 'string' || typeof pass !== 'string') throw new DiaryProtocolError('login needs "user" and "pass"', rid);
      return { op: 'login', rid, user, pass };
    }
    case 'read': {
      if (!rid) throw new DiaryProtocolError('"rid" (the request id) is missing or malformed');
      const tok = optionalString(object, 'tok', TOKEN, rid);
      const d = diaryName(object, rid);
      const since = optionalNumber(object, 'since', rid);
      const after = optionalNumber(object, 'after', rid);
      const max = optionalNumber(object, 'max', rid);
      return {
        op: 'read',
        rid,
        ...(tok ? { tok } : {}),
        ...(d ? { d } : {}),
        ...(since !== undefined ? { since } : {}),
        ...(after !== undefined ? { after } : {}),
        ...(max !== undefined ? { max } : {}),
      };
    }
    case 'clear': {
      if (!rid) throw new DiaryProtocolError('"rid" (the request id) is missing or malformed');
      const tok = optionalString(object, 'tok', TOKEN, rid);
      const d = diaryName(object, rid);
      return { op: 'clear', rid, ...(tok ? { tok } : {}), ...(d ? { d } : {}) };
    }
    default:
      throw new DiaryProtocolError(`unknown op ${JSON.stringify(object.op)}`, rid);
  }
}

/**
 * Decode a server message (the client's side). Returns undefined for anything that is not a
 * well-formed server message: a client ignores what it cannot read, it never throws on input.
 */
export function decodeServerMessage(datagram: Uint8Array): ServerMessage | undefined {
  let object: Record<string, unknown>;
  try {
    object = parseJson(datagram);
  } catch {
    return undefined;
  }
  const str = (v: unknown): v is string => typeof v === 'string';
  const int = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
  switch (object.op) {
    case 'ack': {
      if (!str(object.c) || !int(object.upTo)) return undefined;
      const message: ServerMessage = { op: 'ack', c: object.c, upTo: object.upTo };
      if (object.from !== undefined || object.at !== undefined) {
        if (!int(object.from) || !int(object.at)) return undefined;
        message.from = object.from;
        message.at = object.at;
      }
      if (object.held !== undefined) {
        if (!Array.isArray(object.held) || object.held.length > 16 || !object.held.every((r) => Array.isArray(r) && r.length === 2 && int(r[0]) && int(r[1]))) return undefined;
        message.held = object.held as Array<[number, number]>;
      }
      if (object.t !== undefined) {
        if (!Array.isArray(object.t) || !object.t.every((p) => Array.isArray(p) && p.length === 2 && int(p[0]) && int(p[1]))) return undefined;
        message.t = object.t as Array<[number, number]>;
      }
      if (object.rej !== undefined) {
        if (!Array.isArray(object.rej) || !object.rej.every((r) => Array.isArray(r) && r.length === 3 && int(r[0]) && str(r[1]) && str(r[2]))) return undefined;
        message.rej = object.rej as Array<[number, string, string]>;
      }
      return message;
    }
    case 'login':
      if (!str(object.rid) || !str(object.tok) || !str(object.user) || (object.role !== 'user' && object.role !== 'admin') || !int(object.exp)) return undefined;
      return { op: 'login', rid: object.rid, tok: object.tok, user: object.user, role: object.role, exp: object.exp };
    case 'page': {
      if (!str(object.rid) || !Array.isArray(object.entries) || typeof object.more !== 'boolean' || !int(object.next)) return undefined;
      const entries: PageEntry[] = [];
      for (const raw of object.entries as unknown[]) {
        if (typeof raw !== 'object' || raw === null) return undefined;
        const e = raw as Record<string, unknown>;
        if (!int(e.id) || !int(e.t) || !str(e.text) || (e.by !== undefined && !str(e.by))) return undefined;
        entries.push({ id: e.id, t: e.t, text: e.text, ...(e.by !== undefined ? { by: e.by } : {}) });
      }
      return { op: 'page', rid: object.rid, entries, more: object.more, next: object.next };
    }
    case 'cleared':
      if (!str(object.rid) || !int(object.removed)) return undefined;
      return { op: 'cleared', rid: object.rid, removed: object.removed };
    case 'error':
      if (!str(object.code) || !str(object.message)) return undefined;
      return {
        op: 'error',
        code: object.code,
        message: object.message,
        ...(str(object.rid) ? { rid: object.rid } : {}),
        ...(str(object.c) ? { c: object.c } : {}),
      };
    default:
      return undefined;
  }
}

/** The bytes a WRITE datagram takes (to pack entries up to a size). */
export function writeMessageBytes(message: Extract<ClientMessage, { op: 'write' }>): number {
  return WHARF_MAGIC.length + Buffer.byteLength(JSON.stringify(message));
}

/** The bytes one entry adds to a page: its JSON and a comma. */
export function pageEntryBytes(entry: PageEntry): number {
  return Buffer.byteLength(JSON.stringify(entry)) + 1;
}

/** The bytes of a page with no entries (the envelope), for a request id and the widest `next`. */
export function emptyPageBytes(rid: string): number {
  return encodeMessage({ op: 'page', rid, entries: [], more: false, next: Number.MAX_SAFE_INTEGER }).length + 8;
}

const LONE_SURROGATE = /\p{Cs}/u;

/** The text's size in UTF-8 and whether it is well-formed (no lone surrogates). */
export function textProblem(text: string, maxEntryBytes: number): { code: 'EEMPTY' | 'ETOOLONG' | 'EENCODING'; message: string } | undefined {
  if (text.trim() === '') return { code: 'EEMPTY', message: 'an empty entry is not stored' };
  if (LONE_SURROGATE.test(text)) return { code: 'EENCODING', message: 'the text has lone surrogates (not valid UTF-8)' };
  const bytes = Buffer.byteLength(text);
  if (bytes > maxEntryBytes) return { code: 'ETOOLONG', message: `the entry is ${bytes} bytes; at most ${maxEntryBytes}` };
  return undefined;
}
