/**
 * The DICT protocol (RFC 2229), pure: command lines in, response text out, and a sans-I/O reader
 * of responses for clients. Nothing here does I/O.
 *
 * A command line is at most 1024 bytes including its CRLF (§2.2). Its words are separated by
 * spaces or tabs; a word may be quoted with `"` or `'`, and a backslash takes the next character
 * literally outside quotes and inside double quotes (as dictd's parser does). Responses are status
 * lines (`250 ok`) and text blocks: lines ending in CRLF, a line that starts with `.` sent with
 * one more `.` ("dot-stuffing"), and a line holding only `.` to end the block.
 */

export const CRLF = '\r\n';
/** RFC 2229 §2.2: "lines ... MUST NOT exceed 1024 characters, including the terminating CRLF". */
export const MAX_COMMAND_LINE_BYTES = 1024;

/** The status codes of RFC 2229 §3 (and the one this server adds for its history extension). */
export const Code = {
  DATABASES_PRESENT: 110,
  STRATEGIES_AVAILABLE: 111,
  DATABASE_INFO: 112,
  HELP: 113,
  SERVER_INFO: 114,
  DEFINITIONS_RETRIEVED: 150,
  DEFINITION: 151,
  MATCHES_FOUND: 152,
  /** wharf's extension: the account's latest lookups follow as a text block. */
  HISTORY: 160,
  STATUS: 210,
  HELLO: 220,
  BYE: 221,
  AUTH_OK: 230,
  OK: 250,
  SASL_CONTINUE: 330,
  TEMPORARILY_UNAVAILABLE: 420,
  SHUTTING_DOWN: 421,
  SYNTAX_ERROR: 500,
  ILLEGAL_PARAMETERS: 501,
  NOT_IMPLEMENTED: 502,
  PARAMETER_NOT_IMPLEMENTED: 503,
  ACCESS_DENIED: 530,
  AUTH_DENIED: 531,
  UNKNOWN_MECHANISM: 532,
  INVALID_DATABASE: 550,
  INVALID_STRATEGY: 551,
  NO_MATCH: 552,
  NO_DATABASES: 554,
  NO_STRATEGIES: 555,
} as const;

// ---------------------------------------------------------------------------------------------
// Command lines

export type ParsedLine = { ok: true; words: string[] } | { ok: false; reason: string };

const isSeparator = (c: string): boolean => c === ' ' || c === '\t' || c === '\r' || c === '\n' || c === '\v' || c === '\f';

/** Split a command line into words (RFC 2229 §2.2, with dictd's quoting rules). */
export function parseCommandLine(line: string): ParsedLine {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  let quote = '';
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quote === "'") {
      if (c === "'") quote = '';
      else word += c;
      continue;
    }
    if (c === '\\') {
      const next = line[i + 1];
      if (next === undefined) return { ok: false, reason: 'a backslash ends the line' };
      word += next;
      inWord = true;
      i++;
      continue;
    }
    if (quote === '"') {
      if (c === '"') quote = '';
      else word += c;
      continue;
    }
    if (c === '"' || c === "'") {
      quote = c;
      inWord = true;
      continue;
    }
    if (isSeparator(c)) {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
      continue;
    }
    word += c;
    inWord = true;
  }
  if (quote !== '') return { ok: false, reason: `unterminated ${quote === '"' ? 'double' : 'single'} quote` };
  if (inWord) words.push(word);
  return { ok: true, words };
}

const STRICT_UTF8 = new TextDecoder('utf-8', { fatal: true });

/** A word's bytes (as a latin1 string) as text: UTF-8 when they are UTF-8, else one character per byte. */
function decodeWordBytes(binary: string): string {
  if (!/[\x80-\xff]/.test(binary)) return binary;
  try {
    return STRICT_UTF8.decode(Buffer.from(binary, 'latin1'));
  } catch {
    return binary;
  }
}

/**
 * Split a command line given as bytes. Quoting and escapes work on bytes, as in dictd, so a
 * client that escapes every byte of a UTF-8 character (curl sends `caf\\xC3\\xA9`) is understood.
 */
export function parseCommandBytes(line: Uint8Array): ParsedLine {
  const parsed = parseCommandLine(Buffer.from(line.buffer, line.byteOffset, line.byteLength).toString('latin1'));
  return parsed.ok ? { ok: true, words: parsed.words.map(decodeWordBytes) } : parsed;
}

/** A word as a client sends it: bare when it can be, else double-quoted with `"` and `\` escaped. */
export function quoteArgument(word: string): string {
  if (word !== '' && !/[\s"'\\]/.test(word)) return word;
  return quoteWord(word);
}

/** `"word"` with `"` and `\` escaped: how headwords appear in 151 lines and MATCH results. */
export function quoteWord(word: string): string {
  return `"${word.replace(/["\\]/g, '\\$&')}"`;
}

// ---------------------------------------------------------------------------------------------
// Responses

export function statusLine(code: number, text: string): string {
  return `${code} ${text}${CRLF}`;
}

/**
 * Text as a DICT text block: every line ending becomes CRLF, a line starting with `.` gets a
 * second one, the last line is ended if it was not, and a line holding `.` closes the block.
 */
export function textBlock(text: string): string {
  if (text === '') return `.${CRLF}`;
  let body = text.indexOf('\r') === -1 ? text.replace(/\n/g, CRLF) : text.replace(/\r?\n/g, CRLF);
  if (body.charCodeAt(0) === 0x2e) body = `.${body}`;
  if (body.indexOf(`${CRLF}.`) !== -1) body = body.replace(/\r\n\./g, `${CRLF}..`);
  if (!body.endsWith(CRLF)) body += CRLF;
  return `${body}.${CRLF}`;
}

/** Undo textBlock for one block's lines (without the terminating `.`): the text a user sees. */
export function unstuffLines(lines: readonly string[]): string[] {
  return lines.map((line) => (line.startsWith('..') ? line.slice(1) : line));
}

/** The `220` greeting: `220 host text <capabilities> <msg-id>` (§3.1). */
export function bannerLine(text: string, capabilities: readonly string[], msgId: string): string {
  return statusLine(Code.HELLO, `${text} <${capabilities.join('.')}> ${msgId}`);
}

export interface DatabaseListing {
  name: string;
  description: string;
}

export interface StrategyListing {
  name: string;
  description: string;
}

function mimeHeader(mime: boolean): string {
  return mime ? CRLF : '';
}

export function databaseList(databases: readonly DatabaseListing[], mime = false): string {
  if (databases.length === 0) return statusLine(Code.NO_DATABASES, 'no databases present');
  const lines = databases.map((db) => `${db.name} ${quoteWord(db.description)}\n`).join('');
  return statusLine(Code.DATABASES_PRESENT, `${databases.length} databases present`) + mimeHeader(mime) + textBlock(lines) + statusLine(Code.OK, 'ok');
}

export function strategyList(strategies: readonly StrategyListing[], mime = false): string {
  if (strategies.length === 0) return statusLine(Code.NO_STRATEGIES, 'no strategies available');
  const lines = strategies.map((s) => `${s.name} ${quoteWord(s.description)}\n`).join('');
  return statusLine(Code.STRATEGIES_AVAILABLE, `${strategies.length} strategies present`) + mimeHeader(mime) + textBlock(lines) + statusLine(Code.OK, 'ok');
}

/** A `1yz` line, its text block, and `250 ok`: HELP, SHOW INFO, SHOW SERVER. */
export function textResponse(code: number, statusText: string, text: string, mime = false): string {
  return statusLine(code, statusText) + mimeHeader(mime) + textBlock(text) + statusLine(Code.OK, 'ok');
}

export interface MatchListing {
  database: string;
  word: string;
}

/**
 * `152 n matches found`, `db "word"` lines, `250 ok`. Like dictd, a result that repeats the one
 * before it (same database, same word) is shown once.
 */
export function matchList(matches: readonly MatchListing[], mime = false): string {
  let lines = '';
  let count = 0;
  let previous: MatchListing | undefined;
  for (const match of matches) {
    if (previous && previous.database === match.database && previous.word === match.word) continue;
    previous = match;
    lines += `${match.database} ${quoteWord(match.word)}\n`;
    count++;
  }
  return statusLine(Code.MATCHES_FOUND, `${count} matches found`) + mimeHeader(mime) + textBlock(lines) + statusLine(Code.OK, 'ok');
}

/** The `151 "word" db "description"` line that opens one definition. */
export function definitionHeader(word: string, database: string, description: string): string {
  return statusLine(Code.DEFINITION, `${quoteWord(word)} ${database} ${quoteWord(description)}`);
}

// ---------------------------------------------------------------------------------------------
// SASL PLAIN (RFC 4616): base64 of `authzid NUL authcid NUL password`

export type PlainCredentials = { ok: true; authzid: string; user: string; password: string } | { ok: false; reason: string };

export function decodeSaslPlain(base64: string): PlainCredentials {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(base64) || base64.length % 4 === 1) return { ok: false, reason: 'the response is not base64' };
  const bytes = Buffer.from(base64, 'base64');
  const first = bytes.indexOf(0);
  const second = first === -1 ? -1 : bytes.indexOf(0, first + 1);
  if (first === -1 || second === -1 || bytes.indexOf(0, second + 1) !== -1) return { ok: false, reason: 'PLAIN wants authzid NUL user NUL password' };
  const decoder = new TextDecoder('utf-8', { fatal: true });
  try {
    return {
      ok: true,
      authzid: decoder.decode(bytes.subarray(0, first)),
      user: decoder.decode(bytes.subarray(first + 1, second)),
      password: decoder.decode(bytes.subarray(second + 1)),
    };
  } catch {
    return { ok: false, reason: 'PLAIN credentials must be UTF-8' };
  }
}

export function encodeSaslPlain(user: string, password: string, authzid = ''): string {
  return Buffer.from(`${authzid}\0${user}\0${password}`, 'utf8').toString('base64');
}

// ---------------------------------------------------------------------------------------------
// History lines (the seed's `name word time`)

export interface HistoryLine {
  account: string;
  word: string;
  database: string;
  at: Date;
}

/** `2024-05-01 12:00:00Z`: the seed's MySQL timestamp, in UTC so that it means one thing. */
export function formatHistoryTime(at: Date): string {
  return `${at.toISOString().slice(0, 19).replace('T', ' ')}Z`;
}

/** One history line: `name word time`, each field quoted when it holds spaces. */
export function formatHistoryLine(entry: HistoryLine): string {
  return `${quoteArgument(entry.account)} ${quoteArgument(entry.word)} ${quoteArgument(entry.database)} ${formatHistoryTime(entry.at)}`;
}

export function parseHistoryLine(line: string): HistoryLine | undefined {
  const parsed = parseCommandLine(line);
  if (!parsed.ok || parsed.words.length !== 5) return undefined;
  const [account, word, database, day, time] = parsed.words as [string, string, string, string, string];
  const at = new Date(`${day}T${time}`);
  if (Number.isNaN(at.getTime())) return undefined;
  return { account, word, database, at };
}

// ---------------------------------------------------------------------------------------------
// Reading responses (clients)

export interface StatusReply {
  code: number;
  text: string;
}

/** A text block and the status line that announced it. */
export interface TextReply extends StatusReply {
  /** The block's lines, dot-stuffing undone, without the closing `.`. */
  lines: string[];
}

/** Everything the server sent for one command, up to its final status line. */
export interface Response {
  /** The last line: 2yz, 3yz, 4yz or 5yz. */
  final: StatusReply;
  /** The 1yz lines before it; those that carry text have `lines`. */
  preliminary: Array<StatusReply | TextReply>;
}

/** 1yz codes followed by a text block (all of them except 150 and the SASL challenge 130). */
export function codeHasText(code: number): boolean {
  return code >= 100 && code < 200 && code !== Code.DEFINITIONS_RETRIEVED && code !== 130;
}

export function parseStatusLine(line: string): StatusReply | undefined {
  const match = /^(\d{3})(?: (.*))?$/.exec(line);
  if (!match) return undefined;
  return { code: Number(match[1]), text: match[2] ?? '' };
}

/**
 * Sans-I/O response reader: feed it lines (without their CRLF) and it returns each complete
 * response. With OPTION MIME on, it also skips the MIME header that starts every text block.
 */
export class ResponseReader {
  #preliminary: Array<StatusReply | TextReply> = [];
  #text: { reply: StatusReply; lines: string[]; inHeader: boolean } | undefined;
  mime = false;

  /** Push one line; returns the response it completes, or undefined. Throws on a line that is not DICT. */
  push(line: string): Response | undefined {
    const text = this.#text;
    if (text) {
      if (text.inHeader) {
        if (line === '') text.inHeader = false;
        return undefined;
      }
      if (line === '.') {
        this.#preliminary.push({ ...text.reply, lines: unstuffLines(text.lines) });
        this.#text = undefined;
      } else {
        text.lines.push(line);
      }
      return undefined;
    }
    const status = parseStatusLine(line);
    if (!status) throw new Error(`not a DICT status line: ${JSON.stringify(line.slice(0, 80))}`);
    if (status.code < 200) {
      if (codeHasText(status.code)) this.#text = { reply: status, lines: [], inHeader: this.mime };
      else this.#preliminary.push(status);
      return undefined;
    }
    const response = { final: status, preliminary: this.#preliminary };
    this.#preliminary = [];
    return response;
  }

  /** The greeting is a single line: read it with this before any response. */
  static banner(line: string): { status: StatusReply; capabilities: string[]; msgId: string } | undefined {
    const status = parseStatusLine(line);
    if (!status) return undefined;
    const match = /<([^<>]*)>\s*(<[^<>]*>)\s*$/.exec(status.text);
    return { status, capabilities: match?.[1] ? match[1].split('.').filter(Boolean) : [], msgId: match?.[2] ?? '' };
  }
}

/** The definitions of a DEFINE response: the 151 lines parsed, with their text. */
export interface DefinitionReply {
  word: string;
  database: string;
  description: string;
  text: string;
}

export function definitionsOf(response: Response): DefinitionReply[] {
  const result: DefinitionReply[] = [];
  for (const reply of response.preliminary) {
    if (reply.code !== Code.DEFINITION || !('lines' in reply)) continue;
    const parsed = parseCommandLine(reply.text);
    const [word = '', database = '', description = ''] = parsed.ok ? parsed.words : [];
    result.push({ word, database, description, text: reply.lines.join('\n') });
  }
  return result;
}

/** The `db "word"` lines of a MATCH, SHOW DB or SHOW STRAT response as pairs. */
export function pairsOf(reply: TextReply): Array<{ name: string; value: string }> {
  const pairs: Array<{ name: string; value: string }> = [];
  for (const line of reply.lines) {
    const parsed = parseCommandLine(line);
    if (parsed.ok && parsed.words.length >= 2) pairs.push({ name: parsed.words[0]!, value: parsed.words.slice(1).join(' ') });
  }
  return pairs;
}
