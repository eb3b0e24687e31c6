/**
 * FTP, pure: the control connection's framing, command parsing, reply formatting, the jail's path
 * arithmetic, directory listings (`ls -l` lines and RFC 3659 facts), ASCII-mode conversion, and the
 * data-connection address formats of PORT/PASV (RFC 959) and EPRT/EPSV (RFC 2428). No I/O here:
 * the server and the client both build on these functions, and the tests drive them byte by byte.
 */

import { formatBytes } from '../../core/human-size.js';

// ---------------------------------------------------------------------------------------------
// Control connection framing

const LF = 0x0a;
const CR = 0x0d;
const IAC = 0xff;

/** The longest command line the server accepts (RFC 959 sets no limit; 4 KiB is generous). */
export const DEFAULT_MAX_COMMAND_BYTES = 4096;

export type CommandLineEvent =
  /** A complete line, without its CR LF and with Telnet controls removed. */
  | { kind: 'line'; bytes: Buffer }
  /** A line longer than the limit; its bytes (up to the next LF) are dropped. Reported once per line. */
  | { kind: 'too-long' };

/**
 * Cuts the control connection into command lines (pull style: `push` bytes, then call `next`
 * until it returns undefined). Pull rather than callbacks because the session must be able to
 * stop reading lines at any point: after `AUTH TLS` the bytes that follow are a TLS handshake,
 * not commands, and `takeBuffered` hands them over untouched.
 *
 * Lines end with LF (a CR before it is dropped). A line over `maxLineBytes` is reported as
 * `too-long` as soon as that is certain and skipped up to its LF, holding at most
 * `maxLineBytes` bytes meanwhile. One special case: Python's ftplib sends `ABOR\r\n` as TCP urgent
 * data, and without SO_OOBINLINE the kernel removes the urgent byte (the LF), so `ABOR\r` with
 * nothing after it is taken as a complete ABOR.
 */
export class CommandLineReader {
  readonly #maxLineBytes: number;
  #buffer: Buffer = Buffer.alloc(0);
  /** Bytes of #buffer already searched for LF. */
  #scanned = 0;
  #discarding = false;

  constructor(maxLineBytes = DEFAULT_MAX_COMMAND_BYTES) {
    if (!Number.isInteger(maxLineBytes) || maxLineBytes < 16) throw new RangeError('maxLineBytes must be an integer of at least 16');
    this.#maxLineBytes = maxLineBytes;
  }

  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    this.#buffer = this.#buffer.length === 0 ? Buffer.from(chunk) : Buffer.concat([this.#buffer, chunk]);
  }

  /** Bytes held and not yet returned as lines. */
  get bufferedBytes(): number {
    return this.#buffer.length;
  }

  next(): CommandLineEvent | undefined {
    while (true) {
      const newline = this.#buffer.indexOf(LF, this.#scanned);
      if (newline === -1) {
        this.#scanned = this.#buffer.length;
        if (this.#discarding) {
          this.#buffer = Buffer.alloc(0);
          this.#scanned = 0;
          return undefined;
        }
        // A CR may still be stripped, so a held line may be one byte longer than the limit.
        if (this.#buffer.length > this.#maxLineBytes + 1) {
          this.#buffer = Buffer.alloc(0);
          this.#scanned = 0;
          this.#discarding = true;
          return { kind: 'too-long' };
        }
        if (this.#buffer.length >= 5 && this.#buffer[this.#buffer.length - 1] === CR && /^ABOR$/i.test(Buffer.from(stripTelnet(this.#buffer.subarray(0, -1))).toString('latin1').trim())) {
          this.#buffer = Buffer.alloc(0);
          this.#scanned = 0;
          return { kind: 'line', bytes: Buffer.from('ABOR') };
        }
        return undefined;
      }
      let line = this.#buffer.subarray(0, newline);
      this.#buffer = this.#buffer.subarray(newline + 1);
      this.#scanned = 0;
      if (this.#discarding) {
        this.#discarding = false;
        continue;
      }
      if (line.length > 0 && line[line.length - 1] === CR) line = line.subarray(0, -1);
      if (line.length > this.#maxLineBytes) return { kind: 'too-long' };
      const cleaned = stripTelnet(line);
      // Empty lines (and a stray LF after an urgent-data ABOR) are not commands.
      if (cleaned.length === 0) continue;
      return { kind: 'line', bytes: Buffer.from(cleaned) };
    }
  }

  /** Everything buffered, as received (for the TLS handshake after AUTH TLS); the reader is emptied. */
  takeBuffered(): Buffer {
    const rest = this.#buffer;
    this.#buffer = Buffer.alloc(0);
    this.#scanned = 0;
    this.#discarding = false;
    return rest;
  }
}

/**
 * Removes Telnet commands (IAC followed by a command byte, IAC IAC meaning a literal 0xFF is not
 * used in UTF-8 text) and the Data Mark a client sends with ABOR (RFC 959 §4.1.3: IAC IP, IAC DM).
 */
export function stripTelnet(line: Uint8Array): Uint8Array {
  if (!line.includes(IAC) && line[0] !== 0xf2) return line;
  const out: number[] = [];
  for (let i = 0; i < line.length; i++) {
    const byte = line[i] as number;
    if (byte === IAC) {
      const next = line[i + 1];
      if (next === IAC) {
        out.push(IAC);
        i++;
      } else if (next !== undefined && next >= 0xf0) {
        i++;
      }
      continue;
    }
    // A Data Mark delivered in line (when the urgent byte was not pulled out of band).
    if (byte === 0xf2 && out.length === 0) continue;
    out.push(byte);
  }
  return Uint8Array.from(out);
}

// ---------------------------------------------------------------------------------------------
// Commands

export interface ParsedCommand {
  /** Upper case, e.g. `RETR`. */
  verb: string;
  /** Everything after the first space, as sent (file names may contain spaces); '' when absent. */
  argument: string;
}

export type CommandParse = { ok: true; command: ParsedCommand } | { ok: false; code: number; message: string };

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * One command line → verb and argument. RFC 2640: the text is UTF-8 (invalid sequences are
 * refused rather than guessed at, so an overlong `..` never reaches path code). NUL, CR and LF
 * cannot appear in an argument.
 */
export function parseCommand(line: Uint8Array): CommandParse {
  let text: string;
  try {
    text = utf8.decode(line);
  } catch {
    return { ok: false, code: 501, message: 'Command is not valid UTF-8.' };
  }
  // eslint-disable-next-line no-control-regex
  if (/[\u0000\r\n]/.test(text)) return { ok: false, code: 501, message: 'Command contains a NUL or line-break character.' };
  const space = text.indexOf(' ');
  const verb = (space === -1 ? text : text.slice(0, space)).toUpperCase();
  const argument = space === -1 ? '' : text.slice(space + 1);
  if (!/^[A-Z]{3,4}$/.test(verb)) return { ok: false, code: 500, message: `Syntax error, command unrecognized: ${printable(verb)}.` };
  return { ok: true, command: { verb, argument } };
}

/** Text safe to echo back in a reply: printable, short. */
export function printable(text: string, max = 40): string {
  // eslint-disable-next-line no-control-regex
  const clean = text.replace(/[\u0000-\u001f\u007f-\u009f\ufffd]/g, '?');
  return clean.length > max ? `${clean.slice(0, max)}…` : clean;
}

/** What each command needs before it runs. */
export interface CommandSpec {
  /** Needs a logged-in user. */
  login: boolean;
  /** Syntax for HELP. */
  syntax: string;
  /** Handled while a transfer is running (everything else waits for it to finish). */
  duringTransfer?: boolean;
  /** Argument required (501 when missing). */
  argument?: 'required' | 'none' | 'optional';
}

export const COMMANDS: Readonly<Record<string, CommandSpec>> = {
  ABOR: { login: false, syntax: 'ABOR (abort the transfer in progress)', duringTransfer: true, argument: 'none' },
  ACCT: { login: false, syntax: 'ACCT <account> (not needed here)', argument: 'required' },
  ALLO: { login: true, syntax: 'ALLO <bytes> (check there is room for a file)', argument: 'required' },
  APPE: { login: true, syntax: 'APPE <path> (append, or resume an interrupted upload)', argument: 'required' },
  AUTH: { login: false, syntax: 'AUTH TLS (secure the control connection)', argument: 'required' },
  CDUP: { login: true, syntax: 'CDUP (go to the parent folder)', argument: 'none' },
  CLNT: { login: false, syntax: 'CLNT <client name>', argument: 'optional' },
  CWD: { login: true, syntax: 'CWD <path>', argument: 'required' },
  DELE: { login: true, syntax: 'DELE <path>', argument: 'required' },
  EPRT: { login: true, syntax: 'EPRT |<af>|<address>|<port>|', argument: 'required' },
  EPSV: { login: true, syntax: 'EPSV [1|2|ALL]', argument: 'optional' },
  FEAT: { login: false, syntax: 'FEAT (list extensions)', argument: 'none' },
  HASH: { login: true, syntax: 'HASH <path> (digest of the file, or of the RANG range, with the OPTS HASH algorithm)', argument: 'required' },
  HELP: { login: false, syntax: 'HELP [<command>]', argument: 'optional' },
  LIST: { login: true, syntax: 'LIST [<path>] (ls -l style listing)', argument: 'optional' },
  MDTM: { login: true, syntax: 'MDTM <path> (modification time)', argument: 'required' },
  MFMT: { login: true, syntax: 'MFMT <YYYYMMDDHHMMSS> <path> (set modification time)', argument: 'required' },
  MKD: { login: true, syntax: 'MKD <path>', argument: 'required' },
  MLSD: { login: true, syntax: 'MLSD [<path>] (machine listing of a folder)', argument: 'optional' },
  MLST: { login: true, syntax: 'MLST [<path>] (machine facts about one entry)', argument: 'optional' },
  MODE: { login: false, syntax: 'MODE S', argument: 'required' },
  NLST: { login: true, syntax: 'NLST [<path>] (names only)', argument: 'optional' },
  NOOP: { login: false, syntax: 'NOOP', duringTransfer: true, argument: 'optional' },
  OPTS: { login: false, syntax: 'OPTS UTF8 ON | OPTS MLST <facts> | OPTS HASH [<algorithm>]', argument: 'required' },
  PASS: { login: false, syntax: 'PASS <password>', argument: 'optional' },
  PASV: { login: true, syntax: 'PASV (passive mode, IPv4)', argument: 'none' },
  PBSZ: { login: false, syntax: 'PBSZ 0', argument: 'required' },
  PORT: { login: true, syntax: 'PORT h1,h2,h3,h4,p1,p2', argument: 'required' },
  PROT: { login: false, syntax: 'PROT P|C', argument: 'required' },
  PWD: { login: true, syntax: 'PWD', argument: 'none' },
  QUIT: { login: false, syntax: 'QUIT', duringTransfer: true, argument: 'none' },
  RANG: { login: true, syntax: 'RANG <start> <end> (byte range for the next HASH; RANG 1 0 clears it)', argument: 'required' },
  REIN: { login: false, syntax: 'REIN (log out, keep the connection)', argument: 'none' },
  REST: { login: true, syntax: 'REST <offset> (resume the next RETR/STOR there)', argument: 'required' },
  RETR: { login: true, syntax: 'RETR <path>', argument: 'required' },
  RMD: { login: true, syntax: 'RMD <path>', argument: 'required' },
  RNFR: { login: true, syntax: 'RNFR <path>', argument: 'required' },
  RNTO: { login: true, syntax: 'RNTO <path>', argument: 'required' },
  SITE: { login: false, syntax: 'SITE REGISTER <name> <password> | SITE QUOTA | SITE CHMOD <mode> <path> | SITE HELP', argument: 'required' },
  SIZE: { login: true, syntax: 'SIZE <path>', argument: 'required' },
  STAT: { login: false, syntax: 'STAT [<path>]', duringTransfer: true, argument: 'optional' },
  STOR: { login: true, syntax: 'STOR <path>', argument: 'required' },
  STOU: { login: true, syntax: 'STOU [<name>] (store under a unique name)', argument: 'optional' },
  STRU: { login: false, syntax: 'STRU F', argument: 'required' },
  SYST: { login: false, syntax: 'SYST', argument: 'none' },
  TYPE: { login: false, syntax: 'TYPE A|I', argument: 'required' },
  USER: { login: false, syntax: 'USER <name>', argument: 'required' },
  // RFC 775 spellings some old clients still send.
  XCUP: { login: true, syntax: 'XCUP (= CDUP)', argument: 'none' },
  XCWD: { login: true, syntax: 'XCWD <path> (= CWD)', argument: 'required' },
  XMKD: { login: true, syntax: 'XMKD <path> (= MKD)', argument: 'required' },
  XPWD: { login: true, syntax: 'XPWD (= PWD)', argument: 'none' },
  XRMD: { login: true, syntax: 'XRMD <path> (= RMD)', argument: 'required' },
};

/** Canonical verb for an alias (`XPWD` → `PWD`). */
export function canonicalVerb(verb: string): string {
  switch (verb) {
    case 'XCUP':
      return 'CDUP';
    case 'XCWD':
      return 'CWD';
    case 'XMKD':
      return 'MKD';
    case 'XPWD':
      return 'PWD';
    case 'XRMD':
      return 'RMD';
    default:
      return verb;
  }
}

/** The 214 reply to HELP: every command, eight to a line. */
export function helpLines(): string[] {
  const verbs = Object.keys(COMMANDS).sort();
  const lines = ['The following commands are recognized:'];
  for (let i = 0; i < verbs.length; i += 8) lines.push(verbs.slice(i, i + 8).map((v) => v.padEnd(5)).join(' ').trimEnd());
  lines.push('Help OK.');
  return lines;
}

/** The 211 reply to FEAT (RFC 2389): one feature per line, each after a space; `*` marks the MLST facts in use. */
export function featureLines(options: { tls: boolean; facts?: readonly string[]; hash?: HashAlgorithm }): string[] {
  const selected = new Set(options.facts ?? MLST_FACTS);
  const hash = options.hash ?? DEFAULT_HASH;
  const features = [
    ...(options.tls ? ['AUTH TLS', 'PBSZ', 'PROT'] : []),
    'EPRT',
    'EPSV',
    `HASH ${HASH_ALGORITHMS.map((name) => `${name}${name === hash ? '*' : ''}`).join(';')}`,
    'MDTM',
    'MFMT',
    `MLST ${MLST_FACTS.map((fact) => `${fact}${selected.has(fact) ? '*' : ''};`).join('')}`,
    'REST STREAM',
    'SIZE',
    'TVFS',
    'UTF8',
  ];
  return ['Features:', ...features.map((feature) => ` ${feature}`), 'End'];
}

// ---------------------------------------------------------------------------------------------
// Replies

/**
 * A reply, CR LF terminated. Several lines make a multi-line reply (`211-First`, ... `211 Last`);
 * a middle line that starts with a digit is indented so it cannot be mistaken for the end
 * (RFC 959 §4.2). CR and LF inside a line (a file name can contain them) become spaces, so no
 * text can forge a reply.
 */
export function formatReply(code: number, text: string | readonly string[]): string {
  const lines = (typeof text === 'string' ? [text] : [...text]).map((line) => line.replace(/[\r\n]/g, ' '));
  if (lines.length === 0) lines.push('');
  if (lines.length === 1) return `${code} ${lines[0]}\r\n`;
  const last = lines.length - 1;
  return lines
    .map((line, index) => {
      if (index === 0) return `${code}-${line}\r\n`;
      if (index === last) return `${code} ${line}\r\n`;
      return /^\d/.test(line) || line === '' ? ` ${line}\r\n` : `${line}\r\n`;
    })
    .join('');
}

/** A path inside a 257 reply: in double quotes, a quote doubled (RFC 959 appendix II). */
export function quotePath(path: string): string {
  return `"${path.replace(/"/g, '""')}"`;
}

/** The path from a 257 reply (`257 "/a ""b""" is the current directory` → `/a "b"`). */
export function unquotePath(text: string): string | undefined {
  const match = /"((?:[^"]|"")*)"/.exec(text);
  return match ? (match[1] as string).replace(/""/g, '"') : undefined;
}

export interface Reply {
  code: number;
  /** The text of each line, without the code (the first line's text for one-line replies). */
  lines: string[];
}

/** Reply text joined, for messages. */
export function replyText(reply: Reply): string {
  return reply.lines.join('\n');
}

/**
 * The client side: control-connection text in, complete replies out, multi-line included. A line
 * that does not start a reply is an intermediate line of the current multi-line reply.
 */
export class ReplyParser {
  #partial = '';
  #code: number | undefined;
  #lines: string[] = [];
  readonly #maxReplyBytes: number;
  #size = 0;

  constructor(maxReplyBytes = 1024 * 1024) {
    this.#maxReplyBytes = maxReplyBytes;
  }

  /** Feed decoded text; returns the replies it completed. Throws when a reply passes the size limit. */
  push(text: string): Reply[] {
    const out: Reply[] = [];
    this.#partial += text;
    this.#size += text.length;
    if (this.#size > this.#maxReplyBytes) throw new Error(`a reply from the server is longer than ${this.#maxReplyBytes} bytes`);
    let newline: number;
    while ((newline = this.#partial.indexOf('\n')) !== -1) {
      const line = this.#partial.slice(0, newline).replace(/\r$/, '');
      this.#partial = this.#partial.slice(newline + 1);
      const reply = this.#line(line);
      if (reply) {
        out.push(reply);
        this.#size = this.#partial.length;
      }
    }
    return out;
  }

  #line(line: string): Reply | undefined {
    const match = /^(\d{3})([ -])(.*)$/.exec(line);
    if (this.#code === undefined) {
      if (!match) throw new Error(`not an FTP reply: ${JSON.stringify(line.slice(0, 80))}`);
      const code = Number(match[1]);
      if (match[2] === ' ') return { code, lines: [match[3] as string] };
      this.#code = code;
      this.#lines = [match[3] as string];
      return undefined;
    }
    if (match && Number(match[1]) === this.#code && match[2] === ' ') {
      const reply = { code: this.#code, lines: [...this.#lines, match[3] as string] };
      this.#code = undefined;
      this.#lines = [];
      return reply;
    }
    this.#lines.push(line.startsWith(' ') ? line.slice(1) : line);
    return undefined;
  }
}

// ---------------------------------------------------------------------------------------------
// Paths: the jail

/** Longest path argument, in bytes of UTF-8, and the longest single name (as Linux allows). */
export const MAX_PATH_BYTES = 4096;
export const MAX_NAME_BYTES = 255;

/** Files the server keeps for itself beside users' files: hidden, and refused as names. */
export const INTERNAL_PREFIX = '.wharf-';

export function isInternalName(name: string): boolean {
  return name.startsWith(INTERNAL_PREFIX);
}

export type VirtualPath = { ok: true; path: string; segments: string[] } | { ok: false; code: number; message: string };

/**
 * Where an argument leads, as a virtual absolute path inside the user's home (`/` is the home).
 * Pure string arithmetic: relative arguments start at `cwd`; `.` and empty segments vanish; `..`
 * takes a segment off, and one that would climb above `/` is refused (not clamped: a client that
 * asks for `../../etc/passwd` gets a clear "no" rather than some other file). Nothing is decoded
 * (`%2e%2e` is a name like any other). NUL and control characters are refused, and so are the
 * server's own `.wharf-*` names. The server then resolves symlinks with realpath and checks again.
 */
export function resolveVirtualPath(cwd: string, argument: string): VirtualPath {
  const deny = (message: string, code = 550): VirtualPath => ({ ok: false, code, message });
  if (Buffer.byteLength(argument) > MAX_PATH_BYTES) return deny('Path too long.', 501);
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(argument)) return deny('Control characters are not allowed in paths.', 501);
  const start = argument.startsWith('/') ? [] : cwd.split('/').filter((s) => s !== '');
  const segments = [...start];
  for (const segment of argument.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') {
      if (segments.length === 0) return deny('Permission denied: the path leads outside your home.');
      segments.pop();
      continue;
    }
    if (Buffer.byteLength(segment) > MAX_NAME_BYTES) return deny('File name too long.', 553);
    if (isInternalName(segment)) return deny(`"${printable(segment)}" is a name reserved by the server.`, 553);
    segments.push(segment);
  }
  return { ok: true, path: `/${segments.join('/')}`, segments };
}

/** The parent of a virtual path (`/` is its own parent). */
export function virtualParent(path: string): string {
  const segments = path.split('/').filter((s) => s !== '');
  segments.pop();
  return `/${segments.join('/')}`;
}

/** The last name of a virtual path ('' for `/`). */
export function virtualBaseName(path: string): string {
  const segments = path.split('/').filter((s) => s !== '');
  return segments[segments.length - 1] ?? '';
}

/** Is `candidate` the root or below it? Both absolute, normalised (realpath) paths. */
export function isInsideRoot(root: string, candidate: string): boolean {
  if (candidate === root) return true;
  const prefix = root.endsWith('/') ? root : `${root}/`;
  return candidate.startsWith(prefix);
}

const PARTIAL_PREFIX = `${INTERNAL_PREFIX}partial.`;
const WORKING_PREFIX = `${INTERNAL_PREFIX}upload.`;
/**
 * Longest name an upload's hidden files carry as it is: a working file's name adds the prefix,
 * the process id (at most 7 digits on Linux), 16 hex digits and two dots, and must stay within
 * 255 bytes. Longer names carry a digest instead.
 */
const MAX_PLAIN_UPLOAD_KEY_BYTES = MAX_NAME_BYTES - WORKING_PREFIX.length - 7 - 16 - 2;

/** What an upload's hidden files say about the file they belong to: its name, or a digest of a long one. */
function uploadKey(name: string): string {
  return Buffer.byteLength(name) <= MAX_PLAIN_UPLOAD_KEY_BYTES ? name : `#${fnv1a64(name)}`;
}

/** The hidden file that holds the bytes of an interrupted upload of `name` (see docs/ftp.md). */
export function partialNameFor(name: string): string {
  return `${PARTIAL_PREFIX}${uploadKey(name)}`;
}

/**
 * The hidden working file of one upload of `name` in progress: `.wharf-upload.<pid>.<unique>.<name>`.
 * The process id tells a later process whether the upload's writer is still alive, and the name
 * which partial its bytes become when it is not (after a crash: see `partialForWorkingName`).
 */
export function uploadTempName(unique: string, name: string, pid: number): string {
  return `${WORKING_PREFIX}${pid}.${unique}.${uploadKey(name)}`;
}

/** The writer's process id and the partial file name of a working file's name; undefined for any other name. */
export function partialForWorkingName(fileName: string): { pid: number; partial: string } | undefined {
  if (!fileName.startsWith(WORKING_PREFIX)) return undefined;
  const match = /^(\d{1,7})\.[0-9a-f]{16}\.(.+)$/s.exec(fileName.slice(WORKING_PREFIX.length));
  if (!match) return undefined;
  return { pid: Number(match[1]), partial: `${PARTIAL_PREFIX}${match[2] as string}` };
}

/** FNV-1a, 64 bits, hex: a short stable digest (not for security; names come from the user anyway). */
function fnv1a64(text: string): string {
  let hash = 0xcbf29ce484222325n;
  for (const byte of Buffer.from(text, 'utf8')) {
    hash ^= BigInt(byte);
    hash = (hash * 0x100000001b3n) & 0xffffffffffffffffn;
  }
  return hash.toString(16).padStart(16, '0');
}

// ---------------------------------------------------------------------------------------------
// Listings

export interface EntryInfo {
  name: string;
  type: 'file' | 'dir';
  size: number;
  mtime: Date;
  /** Permission bits (0o755). */
  mode: number;
  /** For the `unique` fact: device and inode. */
  dev?: number;
  ino?: number;
  /** Owner and group shown by LIST. */
  owner?: string;
  group?: string;
  /** What the user may do with it, for the `perm` fact. */
  writable?: boolean;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const SIX_MONTHS_MS = 182 * 24 * 3600 * 1000;

function modeString(type: EntryInfo['type'], mode: number): string {
  const bits = 'rwxrwxrwx'
    .split('')
    .map((letter, i) => ((mode >> (8 - i)) & 1 ? letter : '-'))
    .join('');
  return (type === 'dir' ? 'd' : '-') + bits;
}

/**
 * One `ls -l` line (the de facto LIST format every client parses): `-rw-r--r-- 1 owner group size
 * Mon DD HH:MM name`, with the year instead of the time for dates more than six months from now.
 * Times are UTC, as the MDTM/MLSD times are.
 */
export function formatListLine(entry: EntryInfo, now: Date): string {
  const date = entry.mtime;
  const month = MONTHS[date.getUTCMonth()] as string;
  const day = String(date.getUTCDate()).padStart(2, ' ');
  const recent = Math.abs(now.getTime() - date.getTime()) < SIX_MONTHS_MS;
  const timeOrYear = recent
    ? `${String(date.getUTCHours()).padStart(2, '0')}:${String(date.getUTCMinutes()).padStart(2, '0')}`
    : ` ${date.getUTCFullYear()}`;
  const owner = (entry.owner ?? 'ftp').padEnd(8);
  const group = (entry.group ?? 'ftp').padEnd(8);
  const size = String(entry.size).padStart(13);
  const links = entry.type === 'dir' ? 2 : 1;
  return `${modeString(entry.type, entry.mode)} ${links} ${owner} ${group} ${size} ${month} ${day} ${timeOrYear} ${entry.name}`;
}

/** The RFC 3659 facts wharf offers, in the order it writes them. */
export const MLST_FACTS = ['type', 'size', 'modify', 'perm', 'unique', 'unix.mode'] as const;
export type MlstFact = (typeof MLST_FACTS)[number];

/** `OPTS MLST type;size;` → the facts to show (unknown names are ignored, as RFC 3659 says). */
export function parseMlstOpts(argument: string): MlstFact[] {
  const wanted = new Set(argument.toLowerCase().split(';').map((s) => s.trim()).filter(Boolean));
  return MLST_FACTS.filter((fact) => wanted.has(fact));
}

/** `type=file;size=5;modify=20240101120000;perm=adfrw; name` (the space before the name is part of the format). */
export function formatFacts(entry: EntryInfo, facts: readonly MlstFact[], nameOverride?: string): string {
  const parts: string[] = [];
  for (const fact of facts) {
    switch (fact) {
      case 'type':
        parts.push(`type=${entry.type}`);
        break;
      case 'size':
        if (entry.type === 'file') parts.push(`size=${entry.size}`);
        break;
      case 'modify':
        parts.push(`modify=${formatTime(entry.mtime)}`);
        break;
      case 'perm':
        parts.push(`perm=${permFact(entry)}`);
        break;
      case 'unique':
        if (entry.dev !== undefined && entry.ino !== undefined) parts.push(`unique=${entry.dev.toString(16)}g${entry.ino.toString(16)}`);
        break;
      case 'unix.mode':
        parts.push(`UNIX.mode=0${(entry.mode & 0o777).toString(8)}`);
        break;
    }
  }
  return `${parts.map((p) => `${p};`).join('')} ${nameOverride ?? entry.name}`;
}

function permFact(entry: EntryInfo): string {
  if (entry.type === 'dir') return entry.writable ? 'cdeflmp' : 'el';
  return entry.writable ? 'adfrw' : 'r';
}

/** Parse one MLSD/MLST line (client side). */
export function parseFactsLine(line: string): { name: string; facts: Record<string, string> } | undefined {
  const space = line.indexOf(' ');
  if (space === -1) return undefined;
  const facts: Record<string, string> = {};
  for (const part of line.slice(0, space).split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0) facts[part.slice(0, eq).toLowerCase()] = part.slice(eq + 1);
  }
  return { name: line.slice(space + 1), facts };
}

/** LIST and NLST arguments: `-la dir` → options `la`, path `dir`. Options are accepted and ignored except `a`. */
export function splitListArgument(argument: string): { options: string; path: string } {
  let rest = argument.trim();
  let options = '';
  while (rest.startsWith('-')) {
    const space = rest.indexOf(' ');
    const token = space === -1 ? rest : rest.slice(0, space);
    // `-` alone or a token with odd characters is a name, not options.
    if (!/^-[a-zA-Z1]+$/.test(token)) break;
    options += token.slice(1);
    rest = space === -1 ? '' : rest.slice(space + 1).trimStart();
  }
  return { options, path: rest };
}

/** Does a name have shell wildcards (`*`, `?`, `[...]`)? LIST and NLST expand them in the last segment. */
export function hasWildcards(name: string): boolean {
  return /[*?[]/.test(name);
}

/** A shell wildcard (`*.txt`, `report-??.pdf`, `[ab]*`) as a matcher for one name. Dot files match only an explicit dot. */
export function wildcardMatcher(pattern: string): (name: string) => boolean {
  let source = '';
  for (let i = 0; i < pattern.length; i++) {
    const char = pattern[i] as string;
    if (char === '*') source += '[^/]*';
    else if (char === '?') source += '[^/]';
    else if (char === '[') {
      const close = pattern.indexOf(']', i + 2);
      if (close === -1) {
        source += '\\[';
        continue;
      }
      let set = pattern.slice(i + 1, close);
      const negate = set.startsWith('!') || set.startsWith('^');
      if (negate) set = set.slice(1);
      source += `[${negate ? '^' : ''}${set.replace(/[\\\]^]/g, (c) => `\\${c}`)}]`;
      i = close;
    } else source += char.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  }
  const regex = new RegExp(`^${source}$`, 'u');
  return (name) => (pattern.startsWith('.') || !name.startsWith('.')) && regex.test(name);
}

// ---------------------------------------------------------------------------------------------
// Times: MDTM, MFMT and the modify fact are YYYYMMDDHHMMSS[.sss] in UTC (RFC 3659 §2.3)

export function formatTime(date: Date): string {
  const pad = (n: number, width = 2) => String(n).padStart(width, '0');
  return `${pad(date.getUTCFullYear(), 4)}${pad(date.getUTCMonth() + 1)}${pad(date.getUTCDate())}${pad(date.getUTCHours())}${pad(date.getUTCMinutes())}${pad(date.getUTCSeconds())}`;
}

export function parseTime(text: string): Date | undefined {
  const match = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(?:\.(\d{1,3}))?$/.exec(text.trim());
  if (!match) return undefined;
  const [, y, mo, d, h, mi, s] = match.map(Number) as number[];
  const date = new Date(Date.UTC(y as number, (mo as number) - 1, d, h, mi, s, match[7] ? Number(match[7].padEnd(3, '0')) : 0));
  if (Number.isNaN(date.getTime()) || date.getUTCMonth() !== (mo as number) - 1 || date.getUTCDate() !== d) return undefined;
  return date;
}

// ---------------------------------------------------------------------------------------------
// ASCII mode (TYPE A): the network form ends lines with CR LF; files here end them with LF.

/**
 * File → network: every LF not already preceded by CR becomes CR LF. Streaming: remembers whether
 * the previous chunk ended with CR. `push` returns the converted chunk.
 */
export class AsciiEncoder {
  #lastWasCr = false;

  push(chunk: Uint8Array): Buffer {
    const previousWasCr = this.#lastWasCr;
    const input = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length);
    if (chunk.length > 0) this.#lastWasCr = chunk[chunk.length - 1] === CR;
    const extra = asciiExtraBytes(chunk, previousWasCr);
    if (extra === 0) return input;
    const out = Buffer.allocUnsafe(chunk.length + extra);
    let o = 0;
    let from = 0;
    for (let i = 0; i < chunk.length; i++) {
      if (chunk[i] === LF && !(i === 0 ? previousWasCr : chunk[i - 1] === CR)) {
        o += input.copy(out, o, from, i);
        out[o++] = CR;
        from = i;
      }
    }
    input.copy(out, o, from);
    return out;
  }
}

/**
 * Network → file: CR LF becomes LF; a CR not followed by LF is kept. Streaming: a CR at the end of
 * a chunk is held until the next chunk shows what follows it (`end` releases it).
 */
export class AsciiDecoder {
  #heldCr = false;

  push(chunk: Uint8Array): Buffer {
    const input = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length);
    const out = Buffer.allocUnsafe(chunk.length + 1);
    let o = 0;
    let i = 0;
    if (this.#heldCr) {
      this.#heldCr = false;
      if (chunk.length === 0) {
        this.#heldCr = true;
        return Buffer.alloc(0);
      }
      if (chunk[0] !== LF) out[o++] = CR;
    }
    for (; i < input.length; i++) {
      const byte = input[i] as number;
      if (byte === CR) {
        if (i === input.length - 1) {
          this.#heldCr = true;
          continue;
        }
        if (input[i + 1] === LF) continue;
      }
      out[o++] = byte;
    }
    return out.subarray(0, o);
  }

  /** A CR the stream ended with. */
  end(): Buffer {
    if (!this.#heldCr) return Buffer.alloc(0);
    this.#heldCr = false;
    return Buffer.from([CR]);
  }
}

/** How many bytes `chunk` becomes in ASCII mode (for SIZE in TYPE A), given the previous byte. */
export function asciiExtraBytes(chunk: Uint8Array, previousWasCr: boolean): number {
  let extra = 0;
  for (let i = 0; i < chunk.length; i++) {
    if (chunk[i] === LF && !(i === 0 ? previousWasCr : chunk[i - 1] === CR)) extra++;
  }
  return extra;
}

// ---------------------------------------------------------------------------------------------
// Data connection addresses

export interface HostPort {
  host: string;
  port: number;
  /** 1 (IPv4) or 2 (IPv6), the RFC 2428 protocol numbers. */
  family: 1 | 2;
}

/** `PORT 127,0,0,1,200,10` → 127.0.0.1:51210. */
export function parsePortArgument(argument: string): HostPort | undefined {
  const parts = argument.trim().split(',');
  if (parts.length !== 6 || !parts.every((p) => /^\d{1,3}$/.test(p.trim()))) return undefined;
  const numbers = parts.map((p) => Number(p.trim()));
  if (numbers.some((n) => n > 255)) return undefined;
  const port = (numbers[4] as number) * 256 + (numbers[5] as number);
  if (port === 0) return undefined;
  return { host: numbers.slice(0, 4).join('.'), port, family: 1 };
}

/** 127.0.0.1:51210 → `127,0,0,1,200,10` (PORT argument and the inside of a 227 reply). */
export function formatPortArgument(host: string, port: number): string {
  return `${host.split('.').join(',')},${port >> 8},${port & 255}`;
}

/** The 227 reply text to PASV. */
export function formatPasvReply(host: string, port: number): string {
  return `Entering Passive Mode (${formatPortArgument(host, port)}).`;
}

/** The address in a 227 reply (client side). Clients commonly ignore the host and reuse the control connection's. */
export function parsePasvReply(text: string): HostPort | undefined {
  const match = /(\d{1,3}(?:\s*,\s*\d{1,3}){5})/.exec(text);
  return match ? parsePortArgument((match[1] as string).replace(/\s/g, '')) : undefined;
}

/** The 229 reply text to EPSV. */
export function formatEpsvReply(port: number): string {
  return `Entering Extended Passive Mode (|||${port}|)`;
}

export function parseEpsvReply(text: string): number | undefined {
  const match = /\((.)\1\1(\d{1,5})\1\)/.exec(text);
  if (!match) return undefined;
  const port = Number(match[2]);
  return port > 0 && port < 65536 ? port : undefined;
}

/**
 * `EPRT |1|132.235.1.2|6275|` or `EPRT |2|1080::8:800:200C:417A|5282|` (RFC 2428 §2). The
 * delimiter is the first character, any printable ASCII from 33 to 126.
 */
export function parseEprtArgument(argument: string): HostPort | undefined {
  const text = argument.trim();
  const delimiter = text[0];
  if (delimiter === undefined || delimiter.charCodeAt(0) < 33 || delimiter.charCodeAt(0) > 126) return undefined;
  const parts = text.split(delimiter);
  // '', af, address, port, ''
  if (parts.length !== 5 || parts[0] !== '' || parts[4] !== '') return undefined;
  const [, af, address, portText] = parts as [string, string, string, string, string];
  if (!/^\d{1,5}$/.test(portText)) return undefined;
  const port = Number(portText);
  if (port < 1 || port > 65535) return undefined;
  if (af === '1' && isIPv4Literal(address)) return { host: address, port, family: 1 };
  if (af === '2' && isIPv6Literal(address)) return { host: address.toLowerCase(), port, family: 2 };
  return undefined;
}

export function formatEprtArgument(host: string, port: number): string {
  return host.includes(':') ? `|2|${host}|${port}|` : `|1|${host}|${port}|`;
}

export function isIPv4Literal(text: string): boolean {
  const parts = text.split('.');
  return parts.length === 4 && parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255);
}

function isIPv6Literal(text: string): boolean {
  if (!/^[0-9a-fA-F:.]+$/.test(text) || !text.includes(':')) return false;
  const doubleColons = text.split('::').length - 1;
  if (doubleColons > 1) return false;
  const groups = text.split(':').filter((g) => g !== '');
  const last = groups[groups.length - 1];
  const v4Tail = last !== undefined && last.includes('.');
  if (v4Tail && !isIPv4Literal(last)) return false;
  const count = groups.length + (v4Tail ? 1 : 0);
  if (doubleColons === 0 ? count !== 8 : count > 7) return false;
  return groups.every((g) => (g.includes('.') ? true : /^[0-9a-fA-F]{1,4}$/.test(g)));
}

/** `::ffff:10.0.0.1` → `10.0.0.1`; other addresses unchanged (and IPv6 lower-cased). */
export function plainAddress(address: string): string {
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(address);
  if (mapped) return mapped[1] as string;
  return address.includes(':') ? address.toLowerCase() : address;
}

/** Same host? (IPv4-mapped IPv6 and IPv4 compare equal.) */
export function sameAddress(a: string, b: string): boolean {
  return expandIPv6(plainAddress(a)) === expandIPv6(plainAddress(b));
}

function expandIPv6(address: string): string {
  if (!address.includes(':')) return address;
  const [head = '', tail = ''] = address.split('::');
  const h = head === '' ? [] : head.split(':');
  const t = address.includes('::') ? (tail === '' ? [] : tail.split(':')) : [];
  const groups = address.includes('::') ? [...h, ...Array<string>(Math.max(0, 8 - h.length - t.length)).fill('0'), ...t] : h;
  return groups.map((g) => (g.includes('.') ? g : Number.parseInt(g, 16).toString(16))).join(':');
}

/** `30000-30099` → {min, max}; `0` means "any free port the system picks". */
export function parsePortRange(text: string): { min: number; max: number } | undefined {
  const trimmed = text.trim();
  if (trimmed === '0') return { min: 0, max: 0 };
  const match = /^(\d{1,5})\s*-\s*(\d{1,5})$/.exec(trimmed);
  if (!match) return undefined;
  const min = Number(match[1]);
  const max = Number(match[2]);
  if (min < 1 || max > 65535 || min > max) return undefined;
  return { min, max };
}

// ---------------------------------------------------------------------------------------------
// The transfer log, in the xferlog format of wu-ftpd and vsftpd (`man 5 xferlog`)

export interface XferlogRecord {
  /** When the transfer ended. */
  time: Date;
  durationMs: number;
  remoteHost: string;
  bytes: number;
  /** The virtual path (as the user sees it). */
  path: string;
  type: 'ascii' | 'binary';
  direction: 'incoming' | 'outgoing' | 'deleted';
  access: 'anonymous' | 'real';
  user: string;
  complete: boolean;
}

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];

/**
 * `Thu Mar  4 08:12:30 2021 1 127.0.0.1 1024 /a/file b _ i r alice ftp 0 * c`. Time in UTC.
 * White space in a file name becomes `_` so that the line still splits into its 18 fields.
 */
export function formatXferlogLine(record: XferlogRecord): string {
  const t = record.time;
  const pad = (n: number) => String(n).padStart(2, '0');
  const stamp = `${DAYS[t.getUTCDay()]} ${MONTHS[t.getUTCMonth()]} ${String(t.getUTCDate()).padStart(2, ' ')} ${pad(t.getUTCHours())}:${pad(t.getUTCMinutes())}:${pad(t.getUTCSeconds())} ${t.getUTCFullYear()}`;
  const seconds = Math.max(1, Math.round(record.durationMs / 1000));
  // eslint-disable-next-line no-control-regex
  const path = record.path.replace(/[\s\u0000-\u001f]/g, '_');
  const user = record.user.replace(/\s/g, '_') || '*';
  return [
    stamp,
    seconds,
    record.remoteHost,
    record.bytes,
    path,
    record.type === 'ascii' ? 'a' : 'b',
    '_',
    record.direction === 'incoming' ? 'i' : record.direction === 'outgoing' ? 'o' : 'd',
    record.access === 'anonymous' ? 'a' : 'r',
    user,
    'ftp',
    '0',
    '*',
    record.complete ? 'c' : 'i',
  ].join(' ');
}

// ---------------------------------------------------------------------------------------------
// HASH (draft-bryan-ftpext-hash), RANG (draft-bryan-ftp-range) and the ALLO quota sentence

export const HASH_ALGORITHMS = ['SHA-1', 'SHA-256', 'SHA-512', 'MD5'] as const;
export type HashAlgorithm = (typeof HASH_ALGORITHMS)[number];
export const DEFAULT_HASH: HashAlgorithm = 'SHA-256';

/** `sha-256` → `SHA-256`; undefined for an algorithm this server does not have. */
export function hashAlgorithmNamed(text: string): HashAlgorithm | undefined {
  const upper = text.trim().toUpperCase();
  return HASH_ALGORITHMS.find((name) => name === upper);
}

/** The name node:crypto knows the algorithm by. */
export function nodeHashName(algorithm: HashAlgorithm): string {
  return algorithm.replace('-', '').toLowerCase();
}

/** Inclusive byte range, as RANG and the HASH reply write it (`0-49` is the first 50 bytes). */
export interface ByteRange {
  start: number;
  end: number;
}

const DECIMAL = /^\d{1,16}$/;

/** `RANG <start> <end>`: a range, `clear` for the draft's reset (`RANG 1 0`), or why not. */
export function parseRangArgument(argument: string): { ok: true; range: ByteRange | 'clear' } | { ok: false; message: string } {
  const parts = argument.trim().split(/\s+/);
  if (parts.length !== 2 || !parts.every((part) => DECIMAL.test(part))) return { ok: false, message: 'Syntax: RANG <start> <end> (byte offsets).' };
  const [start, end] = parts.map(Number) as [number, number];
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end)) return { ok: false, message: 'RANG offsets are too large.' };
  if (start === 1 && end === 0) return { ok: true, range: 'clear' };
  if (end < start) return { ok: false, message: 'RANG: the end is before the start.' };
  return { ok: true, range: { start, end } };
}

/** The range a HASH covers in a file of `size` bytes: the asked one cut at the end of the file. */
export function hashRangeFor(size: number, asked: ByteRange | undefined): ByteRange | undefined {
  if (!asked) return { start: 0, end: Math.max(0, size - 1) };
  if (asked.start >= size && !(asked.start === 0 && size === 0)) return undefined;
  return { start: asked.start, end: Math.min(asked.end, Math.max(0, size - 1)) };
}

/** The text of a 213 HASH reply: `SHA-256 0-49 <hex> <path>`. */
export function formatHashReply(algorithm: HashAlgorithm, range: ByteRange, hex: string, path: string): string {
  return `${algorithm} ${range.start}-${range.end} ${hex} ${path}`;
}

export interface HashReply {
  algorithm: string;
  range: ByteRange;
  hex: string;
  path: string;
}

/** A 213 HASH reply's text, or undefined when it is not one. */
export function parseHashReply(text: string): HashReply | undefined {
  const match = /^(\S+) (\d{1,16})-(\d{1,16}) ([0-9a-fA-F]+) (.*)$/.exec(text.trim());
  if (!match) return undefined;
  return { algorithm: (match[1] as string).toUpperCase(), range: { start: Number(match[2]), end: Number(match[3]) }, hex: (match[4] as string).toLowerCase(), path: match[5] as string };
}

/** A FEAT `HASH` line's parameters (`SHA-1;SHA-256*;MD5`): the algorithms and the selected one. */
export function parseHashFeature(parameters: string): { algorithms: string[]; selected: string | undefined } {
  const names = parameters.split(';').map((name) => name.trim()).filter(Boolean);
  const selected = names.find((name) => name.endsWith('*'))?.slice(0, -1).toUpperCase();
  return { algorithms: names.map((name) => name.replace(/\*$/, '').toUpperCase()), selected };
}

/** Why an upload does not fit (ALLO's 552, and the client's message): `5.0 MiB does not fit: 0 B free of 1.0 MiB`. */
export function quotaRefusal(bytes: number, freeBytes: number, quotaBytes: number): string {
  return `${formatBytes(bytes)} does not fit: ${formatBytes(freeBytes)} free of ${formatBytes(quotaBytes)}`;
}
