/**
 * The file-server protocols of the seeds, as pure parsers (no I/O): seed 000 §9 (raw `LIST` /
 * `STOR` / `RETR` / `EXIT`, files ended by `##`), seed 002's JSON commands, and seed 001's
 * header-framed transfers (the framing itself is the codec's HeaderFrameDecoder). docs/ftp.md,
 * "The seeds' own file protocols", says what each one can and cannot do.
 */

// ---------------------------------------------------------------------------------------------
// Seed 000 §9: one command per TCP read, no terminator (the seed's server does recv(1024)).

/** The seed's server reads commands with recv(1024): a longer one is not a command. */
export const SEED_000_MAX_COMMAND_BYTES = 1024;
/** What ends an upload, and what follows a download (the seed's design: see docs/ftp.md). */
export const SEED_000_END_MARKER = Buffer.from('##');

export type Seed000Command =
  | { verb: 'LIST' }
  | { verb: 'EXIT' }
  | { verb: 'STOR' | 'RETR'; name: string }
  | { verb: 'BAD'; why: string };

/**
 * One command: the whole of what one read delivered, as the seed's server takes it. A trailing
 * CR/LF is dropped (telnet and nc send one); the file name is the last space-separated word, as
 * the seed's `data.split(' ')[-1]`.
 */
export function parseSeed000Command(chunk: Buffer): Seed000Command {
  if (chunk.length > SEED_000_MAX_COMMAND_BYTES) return { verb: 'BAD', why: `a command longer than ${SEED_000_MAX_COMMAND_BYTES} bytes` };
  const text = chunk.toString('utf8').replace(/\r?\n$/, '');
  if (text === 'LIST') return { verb: 'LIST' };
  if (text === 'EXIT') return { verb: 'EXIT' };
  const verb = text.slice(0, 4);
  if (verb === 'STOR' || verb === 'RETR') {
    const name = text.split(' ').at(-1) ?? '';
    if (text.length < 6 || name === '') return { verb: 'BAD', why: `${verb} without a file name` };
    return { verb, name };
  }
  return { verb: 'BAD', why: 'an unknown command' };
}

/**
 * Does this read end an upload? The seed's client sends `##` 0.1 s after the file, so it arrives
 * as a read of its own, or glued to the file's last bytes when the network is slow: a read that
 * ends with `##` ends the upload either way, and a file with `##` at a read boundary is cut there.
 */
export function endsWithMarker(chunk: Buffer): boolean {
  return chunk.length >= SEED_000_END_MARKER.length && chunk.subarray(chunk.length - SEED_000_END_MARKER.length).equals(SEED_000_END_MARKER);
}

// ---------------------------------------------------------------------------------------------
// Seed 002: JSON objects with nothing between them, then (for `put`) the file's bytes.

/** The seed's max_packet_size: its server reads a command with recv(8192). */
export const SEED_002_MAX_COMMAND_BYTES = 8192;

/** The seed's replies, byte for byte (its client compares them with ==). */
export const SEED_002_REPLIES = {
  greeting: '欢迎使用... ',
  registered: '注册成功',
  loggedIn: '登陆成功',
  wrongPassword: '密码错误',
  noSuchUser: '用户名不存在',
  start: 'Start',
  invalidCommand: 'Invalid command...',
  // Not in the seed, which has no answer for these cases; its client prints them and asks again
  // (register, check_user) or stops with int()'s error showing the text (put).
  nameTaken: '用户名已存在',
  registrationOff: '本服务器不开放注册',
  tooManyRegistrations: '注册过于频繁,请稍后再试',
  badNameOrPassword: '用户名或密码不合法',
  tooManyFailures: '登录失败次数过多,请稍后再试',
  disabled: '账户已停用',
  notLoggedIn: '请先登录',
  overQuota: '磁盘配额不足',
  tooLarge: '文件过大',
  badFile: '文件名不合法',
  busy: '该文件正在上传',
  serverError: '服务器错误',
} as const;

export class JsonCommandError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'JsonCommandError';
  }
}

/**
 * Cuts one JSON object off the front of a byte stream by matching braces outside strings. The
 * seed's client sends `json.dumps(...)` with no delimiter and its server hopes each recv() is one
 * object; this finds the object's end however TCP cut or glued the bytes. Anything before the
 * `{` other than whitespace, or an object longer than the limit, is an error.
 */
export class JsonObjectScanner {
  readonly #maxBytes: number;
  #held: Buffer = Buffer.alloc(0);
  #scanned = 0;
  #depth = 0;
  #inString = false;
  #escaped = false;

  constructor(maxBytes = SEED_002_MAX_COMMAND_BYTES) {
    this.#maxBytes = maxBytes;
  }

  get bufferedBytes(): number {
    return this.#held.length;
  }

  /** Add bytes; returns a complete object's bytes and what follows it, or undefined for "need more". */
  push(chunk: Buffer): { object: Buffer; rest: Buffer } | undefined {
    this.#held = this.#held.length === 0 ? chunk : Buffer.concat([this.#held, chunk]);
    for (; this.#scanned < this.#held.length; this.#scanned++) {
      const byte = this.#held[this.#scanned] as number;
      if (this.#depth === 0) {
        if (byte === 0x20 || byte === 0x0a || byte === 0x0d || byte === 0x09) continue;
        if (byte !== 0x7b) throw new JsonCommandError('a command must be a JSON object');
      }
      if (this.#scanned >= this.#maxBytes) throw new JsonCommandError(`a command longer than ${this.#maxBytes} bytes`);
      if (this.#inString) {
        if (this.#escaped) this.#escaped = false;
        else if (byte === 0x5c) this.#escaped = true;
        else if (byte === 0x22) this.#inString = false;
      } else if (byte === 0x22) this.#inString = true;
      else if (byte === 0x7b) this.#depth++;
      else if (byte === 0x7d && --this.#depth === 0) return this.#cut(this.#scanned + 1);
    }
    if (this.#held.length > this.#maxBytes) throw new JsonCommandError(`a command longer than ${this.#maxBytes} bytes`);
    return undefined;
  }

  /** The bytes held that are not part of an object yet (the start of the next command). */
  takeHeld(): Buffer {
    const held = this.#held;
    this.#reset(Buffer.alloc(0));
    return held;
  }

  #cut(end: number): { object: Buffer; rest: Buffer } {
    const object = this.#held.subarray(0, end);
    const rest = this.#held.subarray(end);
    this.#reset(Buffer.alloc(0));
    return { object, rest };
  }

  #reset(held: Buffer): void {
    this.#held = held;
    this.#scanned = 0;
    this.#depth = 0;
    this.#inString = false;
    this.#escaped = false;
  }
}

export type Seed002Command =
  | { cmd: 'register' | 'check_user'; username: string; password: string }
  | { cmd: 'put'; filename: string; filesize: number }
  | { cmd: 'unknown' }
  | { cmd: 'bad'; why: string };

const MAX_FIELD_CHARS = 1024;

function stringField(value: Record<string, unknown>, key: string): string | undefined {
  const field = value[key];
  return typeof field === 'string' && field.length <= MAX_FIELD_CHARS ? field : undefined;
}

/** A command object as the seed's server reads it (`file_owner` is ignored: the login says whose home). */
export function parseSeed002Command(bytes: Buffer): Seed002Command {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch {
    return { cmd: 'bad', why: 'a command that is not UTF-8 JSON' };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { cmd: 'bad', why: 'a command that is not a JSON object' };
  const object = value as Record<string, unknown>;
  const cmd = object.cmd;
  if (cmd === 'register' || cmd === 'check_user') {
    const username = stringField(object, 'username');
    const password = stringField(object, 'password');
    if (username === undefined || password === undefined) return { cmd: 'bad', why: `${cmd} without a username and password` };
    return { cmd, username, password };
  }
  if (cmd === 'put') {
    const filename = stringField(object, 'filename');
    const filesize = object.filesize;
    if (filename === undefined || typeof filesize !== 'number' || !Number.isSafeInteger(filesize) || filesize < 0) {
      return { cmd: 'bad', why: 'put without a filename and a whole filesize' };
    }
    return { cmd, filename, filesize };
  }
  return { cmd: 'unknown' };
}

// ---------------------------------------------------------------------------------------------
// Seed 001: `{action, filename, filesize}` headers (framing: codec/header-frame.ts).

/** Longest JSON header accepted. */
export const SEED_001_MAX_HEADER_BYTES = 8192;

export type Seed001Request = { action: 'put' | 'get'; filename: string } | { action: 'bad'; why: string };

/** A header as a request: `put` (body = the file) or `get` (no body; the answer is a frame). */
export function parseSeed001Header(header: Record<string, unknown>): Seed001Request {
  const action = header.action;
  const filename = stringField(header, 'filename');
  if (action !== 'put' && action !== 'get') return { action: 'bad', why: 'the action must be "put" or "get"' };
  if (filename === undefined || filename === '') return { action: 'bad', why: 'a header without a filename' };
  return { action, filename };
}

/**
 * The name a seed client's file lands under: its last path component, as seed 002's client sends
 * (os.path.basename) and seed 001's sends whole (a local path).
 */
export function seedFileName(sent: string): string {
  return sent.split(/[\\/]/).at(-1) ?? '';
}
