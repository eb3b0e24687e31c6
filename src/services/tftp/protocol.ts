/**
 * TFTP, pure: packets (RFC 1350), option negotiation (RFC 2347, 2348, 2349, 7440), netascii as
 * streaming transforms, and the two transfer state machines (the sending window and the receiving
 * window) as decisions an I/O layer carries out. Nothing here touches a socket, a file or a clock.
 *
 * Bad bytes from a peer end in a `TftpPacketError` (a CodecError) and never in any other exception.
 */
import { CodecError } from '../../codec/errors.js';

export const Opcode = { RRQ: 1, WRQ: 2, DATA: 3, ACK: 4, ERROR: 5, OACK: 6 } as const;

/** RFC 1350 error codes (and 8 from RFC 2347). */
export const TftpErrorCode = {
  NOT_DEFINED: 0,
  FILE_NOT_FOUND: 1,
  ACCESS_VIOLATION: 2,
  DISK_FULL: 3,
  ILLEGAL_OPERATION: 4,
  UNKNOWN_TID: 5,
  FILE_EXISTS: 6,
  NO_SUCH_USER: 7,
  OPTION_REFUSED: 8,
} as const;

const ERROR_NAMES: Record<number, string> = {
  0: 'error',
  1: 'file not found',
  2: 'access violation',
  3: 'disk full or allocation exceeded',
  4: 'illegal TFTP operation',
  5: 'unknown transfer ID',
  6: 'file already exists',
  7: 'no such user',
  8: 'option negotiation refused',
};

/** What an error code means, in words: `file not found`. */
export function describeErrorCode(code: number): string {
  return ERROR_NAMES[code] ?? `error ${code}`;
}

/** Size of the DATA header (opcode + block number). */
export const DATA_HEADER_BYTES = 4;
/** RFC 1350's block size, used whenever blksize is not negotiated. */
export const DEFAULT_BLOCK_SIZE = 512;
/** RFC 2348's range. 65464 keeps a DATA packet inside one IPv4 datagram with room for headers. */
export const MIN_BLOCK_SIZE = 8;
export const MAX_BLOCK_SIZE = 65464;
/** RFC 7440's range. */
export const MAX_WINDOW_SIZE = 65535;
/** Block numbers are 16 bits; they wrap from 65535 to 0. */
export const BLOCK_MODULUS = 65536;

export type TransferMode = 'octet' | 'netascii';
export type RequestType = 'RRQ' | 'WRQ';

export interface TftpOption {
  /** As it appeared on the wire; compare names case-insensitively. */
  name: string;
  value: string;
}

export interface RequestPacket {
  type: RequestType;
  filename: string;
  /** Lower-cased, as sent: `octet`, `netascii`, `mail`, or anything a peer made up. */
  mode: string;
  options: TftpOption[];
}
export interface DataPacket {
  type: 'DATA';
  block: number;
  /** A view into the datagram: no copy. */
  data: Buffer;
}
export interface AckPacket {
  type: 'ACK';
  block: number;
}
export interface ErrorPacket {
  type: 'ERROR';
  code: number;
  message: string;
}
export interface OackPacket {
  type: 'OACK';
  options: TftpOption[];
}
export type TftpPacket = RequestPacket | DataPacket | AckPacket | ErrorPacket | OackPacket;

export type TftpPacketErrorReason = 'truncated' | 'opcode' | 'format';

/** The bytes are not a TFTP packet (or not one we can send). `reason` says which way. */
export class TftpPacketError extends CodecError {
  readonly reason: TftpPacketErrorReason;
  constructor(reason: TftpPacketErrorReason, message: string) {
    super(reason === 'truncated' ? 'ETFTPTRUNCATED' : reason === 'opcode' ? 'ETFTPOPCODE' : 'ETFTPFORMAT', message);
    this.name = 'TftpPacketError';
    this.reason = reason;
  }
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });
const lenientUtf8 = new TextDecoder('utf-8');

/** The opcode of a datagram, or 0 if it is too short to have one. Cheap: for the fast paths. */
export function opcodeOf(datagram: Uint8Array): number {
  return datagram.length >= 2 ? (datagram[0]! << 8) | datagram[1]! : 0;
}

/** Parse one datagram. Throws only TftpPacketError. */
export function parsePacket(datagram: Buffer): TftpPacket {
  if (datagram.length < 2) throw new TftpPacketError('truncated', `a TFTP packet has at least 2 bytes, got ${datagram.length}`);
  const opcode = opcodeOf(datagram);
  switch (opcode) {
    case Opcode.RRQ:
    case Opcode.WRQ:
      return parseRequest(datagram, opcode === Opcode.RRQ ? 'RRQ' : 'WRQ');
    case Opcode.DATA:
      if (datagram.length < 4) throw new TftpPacketError('truncated', 'a DATA packet has at least 4 bytes');
      return { type: 'DATA', block: datagram.readUInt16BE(2), data: datagram.subarray(4) };
    case Opcode.ACK:
      // Exactly 4 bytes by the RFC; a few old stacks pad, so trailing bytes are ignored.
      if (datagram.length < 4) throw new TftpPacketError('truncated', 'an ACK packet has 4 bytes');
      return { type: 'ACK', block: datagram.readUInt16BE(2) };
    case Opcode.ERROR: {
      if (datagram.length < 4) throw new TftpPacketError('truncated', 'an ERROR packet has at least 4 bytes');
      const end = datagram.indexOf(0, 4);
      // The message should end with NUL; a missing one is forgiven (the message is only shown).
      const message = lenientUtf8.decode(datagram.subarray(4, end < 0 ? datagram.length : end));
      return { type: 'ERROR', code: datagram.readUInt16BE(2), message };
    }
    case Opcode.OACK:
      return { type: 'OACK', options: parseOptions(datagram, 2, 'OACK') };
    default:
      throw new TftpPacketError('opcode', `unknown TFTP opcode ${opcode}`);
  }
}

/** Read a NUL-terminated UTF-8 string at `offset`; returns it and the offset after the NUL. */
function readString(datagram: Buffer, offset: number, what: string): [string, number] {
  const end = datagram.indexOf(0, offset);
  if (end < 0) throw new TftpPacketError('truncated', `${what} is not terminated by a NUL byte`);
  try {
    return [strictUtf8.decode(datagram.subarray(offset, end)), end + 1];
  } catch {
    throw new TftpPacketError('format', `${what} is not valid UTF-8`);
  }
}

function parseRequest(datagram: Buffer, type: RequestType): RequestPacket {
  const [filename, afterName] = readString(datagram, 2, 'the file name');
  const [mode, afterMode] = readString(datagram, afterName, 'the transfer mode');
  if (filename === '') throw new TftpPacketError('format', 'the file name is empty');
  if (mode === '') throw new TftpPacketError('format', 'the transfer mode is empty');
  return { type, filename, mode: mode.toLowerCase(), options: parseOptions(datagram, afterMode, type) };
}

function parseOptions(datagram: Buffer, start: number, what: string): TftpOption[] {
  const options: TftpOption[] = [];
  let offset = start;
  while (offset < datagram.length) {
    const [name, afterName] = readString(datagram, offset, `an option name in the ${what}`);
    if (afterName >= datagram.length) throw new TftpPacketError('truncated', `option ${JSON.stringify(name)} in the ${what} has no value`);
    const [value, afterValue] = readString(datagram, afterName, `the value of option ${JSON.stringify(name)}`);
    if (name === '') throw new TftpPacketError('format', `an option name in the ${what} is empty`);
    options.push({ name, value });
    offset = afterValue;
  }
  return options;
}

function checkBlock(block: number): void {
  if (!Number.isInteger(block) || block < 0 || block > 0xffff) throw new TftpPacketError('format', `block number ${block} is outside 0–65535`);
}

function checkString(text: string, what: string): Buffer {
  if (text.includes('\0')) throw new TftpPacketError('format', `${what} must not contain a NUL character`);
  return Buffer.from(text, 'utf8');
}

/** RRQ or WRQ with its options, in order. */
export function formatRequest(type: RequestType, filename: string, mode: string, options: readonly TftpOption[] = []): Buffer {
  if (filename === '') throw new TftpPacketError('format', 'the file name is empty');
  const parts = [checkString(filename, 'the file name'), checkString(mode, 'the mode')];
  for (const option of options) parts.push(checkString(option.name, 'an option name'), checkString(option.value, 'an option value'));
  const size = 2 + parts.reduce((sum, part) => sum + part.length + 1, 0);
  const packet = Buffer.alloc(size);
  packet.writeUInt16BE(type === 'RRQ' ? Opcode.RRQ : Opcode.WRQ, 0);
  let offset = 2;
  for (const part of parts) {
    part.copy(packet, offset);
    offset += part.length + 1;
  }
  return packet;
}

export function formatData(block: number, data: Uint8Array): Buffer {
  checkBlock(block);
  const packet = Buffer.allocUnsafe(DATA_HEADER_BYTES + data.length);
  writeDataHeader(packet, block);
  packet.set(data, DATA_HEADER_BYTES);
  return packet;
}

/** Write a DATA header into the first 4 bytes of `target` (the fast path fills the rest itself). */
export function writeDataHeader(target: Uint8Array, block: number): void {
  target[0] = 0;
  target[1] = Opcode.DATA;
  target[2] = (block >>> 8) & 0xff;
  target[3] = block & 0xff;
}

export function formatAck(block: number): Buffer {
  checkBlock(block);
  return Buffer.from([0, Opcode.ACK, block >>> 8, block & 0xff]);
}

export function formatError(code: number, message: string): Buffer {
  if (!Number.isInteger(code) || code < 0 || code > 0xffff) throw new TftpPacketError('format', `error code ${code} is outside 0–65535`);
  const text = checkString(message, 'the error message');
  const packet = Buffer.alloc(4 + text.length + 1);
  packet.writeUInt16BE(Opcode.ERROR, 0);
  packet.writeUInt16BE(code, 2);
  text.copy(packet, 4);
  return packet;
}

export function formatOack(options: readonly TftpOption[]): Buffer {
  const parts: Buffer[] = [];
  for (const option of options) parts.push(checkString(option.name, 'an option name'), checkString(option.value, 'an option value'));
  const packet = Buffer.alloc(2 + parts.reduce((sum, part) => sum + part.length + 1, 0));
  packet.writeUInt16BE(Opcode.OACK, 0);
  let offset = 2;
  for (const part of parts) {
    part.copy(packet, offset);
    offset += part.length + 1;
  }
  return packet;
}

/** Any packet back to bytes (the inverse of parsePacket). */
export function formatPacket(packet: TftpPacket): Buffer {
  switch (packet.type) {
    case 'RRQ':
    case 'WRQ':
      return formatRequest(packet.type, packet.filename, packet.mode, packet.options);
    case 'DATA':
      return formatData(packet.block, packet.data);
    case 'ACK':
      return formatAck(packet.block);
    case 'ERROR':
      return formatError(packet.code, packet.message);
    case 'OACK':
      return formatOack(packet.options);
    default: {
      const unreachable: never = packet;
      return unreachable;
    }
  }
}

/** `octet` / `netascii` (any case); `binary` and `ascii` are old aliases some clients send. */
export function transferModeOf(mode: string): TransferMode | undefined {
  switch (mode.toLowerCase()) {
    case 'octet':
    case 'binary':
      return 'octet';
    case 'netascii':
    case 'ascii':
      return 'netascii';
    default:
      return undefined;
  }
}

// ---------------------------------------------------------------------------------------------
// Option negotiation (RFC 2347 and friends)
// ---------------------------------------------------------------------------------------------

/** What a transfer runs with once the options are settled. */
export interface TransferParameters {
  blockSize: number;
  windowSize: number;
  /** RFC 2349 timeout the peer asked for, in seconds (the retransmission interval), if any. */
  timeoutSeconds: number | undefined;
  /** RFC 2349 transfer size: the file size (RRQ, from the server) or the upload size (WRQ). */
  transferSize: number | undefined;
}

export const DEFAULT_PARAMETERS: Readonly<TransferParameters> = {
  blockSize: DEFAULT_BLOCK_SIZE,
  windowSize: 1,
  timeoutSeconds: undefined,
  transferSize: undefined,
};

export interface ServerOptionLimits {
  /** Largest blksize granted; a larger request is answered with this (RFC 2348 allows less). */
  maxBlockSize: number;
  /** Largest windowsize granted; a larger request is answered with this. */
  maxWindowSize: number;
  /** Largest upload (WRQ) accepted; a larger tsize is refused with error 3. */
  maxUploadBytes: number;
}

export type NegotiationResult =
  | { ok: true; parameters: TransferParameters; oack: TftpOption[] }
  | { ok: false; code: number; message: string };

/**
 * A decimal option value: digits only, no sign, no spaces (`Number()` would take `0x10`, `1e3`
 * and ` 8`). More than 15 digits reads as Infinity, which the callers clamp or refuse.
 */
export function parseOptionNumber(value: string): number | undefined {
  if (!/^[0-9]+$/.test(value)) return undefined;
  if (value.length > 15) return Number.POSITIVE_INFINITY;
  return Number(value);
}

/**
 * The server's side of RFC 2347: which requested options it takes and what the OACK says.
 * Unknown options are ignored; an option with an unusable value (`blksize 3`, `timeout 0`,
 * `windowsize abc`) is ignored too, so the transfer runs with that option's default; a value
 * larger than the server's limit is lowered to the limit, as RFC 2348 and 7440 allow. `fileSize`
 * is what an RRQ's tsize is answered with (undefined: tsize is left out, as for netascii, whose
 * size on the wire is not the file's). The only refusal is a WRQ whose tsize exceeds the upload
 * limit (error 3).
 */
export function negotiateOptions(
  type: RequestType,
  requested: readonly TftpOption[],
  limits: ServerOptionLimits,
  fileSize?: number,
): NegotiationResult {
  const parameters: TransferParameters = { ...DEFAULT_PARAMETERS };
  const oack: TftpOption[] = [];
  const seen = new Set<string>();
  for (const { name: rawName, value } of requested) {
    const name = rawName.toLowerCase();
    if (seen.has(name)) continue;
    seen.add(name);
    const n = parseOptionNumber(value);
    switch (name) {
      case 'blksize':
        if (n === undefined || n < MIN_BLOCK_SIZE) break;
        parameters.blockSize = Math.min(n, limits.maxBlockSize, MAX_BLOCK_SIZE);
        oack.push({ name, value: String(parameters.blockSize) });
        break;
      case 'windowsize':
        if (n === undefined || n < 1) break;
        parameters.windowSize = Math.min(n, limits.maxWindowSize, MAX_WINDOW_SIZE);
        oack.push({ name, value: String(parameters.windowSize) });
        break;
      case 'timeout':
        // RFC 2349: 1–255 seconds, and the server may not change it: accept as is or ignore.
        if (n === undefined || n < 1 || n > 255) break;
        parameters.timeoutSeconds = n;
        oack.push({ name, value: String(n) });
        break;
      case 'tsize':
        if (n === undefined || !Number.isSafeInteger(n)) break;
        if (type === 'WRQ') {
          if (n > limits.maxUploadBytes) {
            return { ok: false, code: TftpErrorCode.DISK_FULL, message: `file too large: ${n} bytes, the limit is ${limits.maxUploadBytes}` };
          }
          parameters.transferSize = n;
          oack.push({ name, value: String(n) });
        } else if (fileSize !== undefined) {
          parameters.transferSize = fileSize;
          oack.push({ name, value: String(fileSize) });
        }
        break;
      default:
        // RFC 2347: options the server does not know are left out of the OACK.
        break;
    }
  }
  return { ok: true, parameters, oack };
}

/** What a client asks for; `undefined` means "do not send that option". */
export interface ClientOptionRequest {
  blockSize?: number;
  windowSize?: number;
  timeoutSeconds?: number;
  /** 0 on an RRQ (asking for the size), the upload size on a WRQ. */
  transferSize?: number;
}

export function clientOptions(request: ClientOptionRequest): TftpOption[] {
  const options: TftpOption[] = [];
  if (request.blockSize !== undefined) options.push({ name: 'blksize', value: String(request.blockSize) });
  if (request.timeoutSeconds !== undefined) options.push({ name: 'timeout', value: String(request.timeoutSeconds) });
  if (request.transferSize !== undefined) options.push({ name: 'tsize', value: String(request.transferSize) });
  if (request.windowSize !== undefined) options.push({ name: 'windowsize', value: String(request.windowSize) });
  return options;
}

/**
 * The client's side: check a server's OACK against what was asked (RFC 2347: an option that was
 * not requested, or a value the client cannot live with, means error 8).
 */
export function acceptOack(request: ClientOptionRequest, oack: readonly TftpOption[]): NegotiationResult {
  const parameters: TransferParameters = { ...DEFAULT_PARAMETERS };
  const refuse = (message: string): NegotiationResult => ({ ok: false, code: TftpErrorCode.OPTION_REFUSED, message });
  for (const { name: rawName, value } of oack) {
    const name = rawName.toLowerCase();
    const n = parseOptionNumber(value);
    switch (name) {
      case 'blksize':
        if (request.blockSize === undefined) return refuse('the server answered blksize, which was not requested');
        if (n === undefined || n < MIN_BLOCK_SIZE || n > request.blockSize) return refuse(`the server offered blksize ${value}, not within ${MIN_BLOCK_SIZE}–${request.blockSize}`);
        parameters.blockSize = n;
        break;
      case 'windowsize':
        if (request.windowSize === undefined) return refuse('the server answered windowsize, which was not requested');
        if (n === undefined || n < 1 || n > request.windowSize) return refuse(`the server offered windowsize ${value}, not within 1–${request.windowSize}`);
        parameters.windowSize = n;
        break;
      case 'timeout':
        if (request.timeoutSeconds === undefined) return refuse('the server answered timeout, which was not requested');
        if (n === undefined || n < 1 || n > 255) return refuse(`the server answered timeout ${value}, not within 1–255`);
        parameters.timeoutSeconds = n;
        break;
      case 'tsize':
        if (request.transferSize === undefined) return refuse('the server answered tsize, which was not requested');
        if (n === undefined || !Number.isSafeInteger(n)) return refuse(`the server answered tsize ${value}, which is not a size`);
        parameters.transferSize = n;
        break;
      default:
        return refuse(`the server answered option ${JSON.stringify(rawName)}, which was not requested`);
    }
  }
  return { ok: true, parameters, oack: [...oack] };
}

// ---------------------------------------------------------------------------------------------
// netascii (RFC 764 via RFC 1350): CR LF is end of line, CR NUL is a bare CR
// ---------------------------------------------------------------------------------------------

const CR = 0x0d;
const LF = 0x0a;
const NUL = 0x00;

/** How many bytes `chunk` takes on the wire in netascii. */
export function netasciiEncodedLength(chunk: Uint8Array): number {
  let extra = 0;
  for (let i = 0; i < chunk.length; i++) {
    const byte = chunk[i];
    if (byte === LF || byte === CR) extra++;
  }
  return chunk.length + extra;
}

/**
 * Local text to netascii: LF → CR LF, CR → CR NUL. Each byte maps on its own, so no state is
 * carried between chunks; the class form matches the decoder for streaming use.
 */
export class NetasciiEncoder {
  push(chunk: Uint8Array): Buffer {
    const out = Buffer.allocUnsafe(netasciiEncodedLength(chunk));
    let o = 0;
    for (let i = 0; i < chunk.length; i++) {
      const byte = chunk[i]!;
      if (byte === LF) {
        out[o++] = CR;
        out[o++] = LF;
      } else if (byte === CR) {
        out[o++] = CR;
        out[o++] = NUL;
      } else {
        out[o++] = byte;
      }
    }
    return out;
  }
}

/**
 * netascii to local text: CR LF → LF, CR NUL → CR. A CR at the end of a chunk waits for the next
 * chunk (blocks split pairs anywhere). A CR followed by anything else is kept with that byte: a
 * sloppy peer's text survives rather than losing bytes.
 */
export class NetasciiDecoder {
  #pendingCR = false;

  push(chunk: Uint8Array): Buffer {
    const out = Buffer.allocUnsafe(chunk.length + 1);
    let o = 0;
    let i = 0;
    if (this.#pendingCR && chunk.length > 0) {
      this.#pendingCR = false;
      const first = chunk[0]!;
      if (first === LF) {
        out[o++] = LF;
        i = 1;
      } else if (first === NUL) {
        out[o++] = CR;
        i = 1;
      } else {
        out[o++] = CR;
      }
    }
    for (; i < chunk.length; i++) {
      const byte = chunk[i]!;
      if (byte !== CR) {
        out[o++] = byte;
        continue;
      }
      if (i + 1 === chunk.length) {
        this.#pendingCR = true;
        break;
      }
      const next = chunk[i + 1]!;
      if (next === LF) {
        out[o++] = LF;
        i++;
      } else if (next === NUL) {
        out[o++] = CR;
        i++;
      } else {
        out[o++] = CR;
      }
    }
    return out.subarray(0, o);
  }

  /** The end of the transfer: a CR still waiting is written as it is. */
  end(): Buffer {
    if (!this.#pendingCR) return Buffer.alloc(0);
    this.#pendingCR = false;
    return Buffer.from([CR]);
  }
}

// ---------------------------------------------------------------------------------------------
// Transfer state machines
// ---------------------------------------------------------------------------------------------

/**
 * Blocks are counted with plain integers from 1 (0 is the request's answer: the OACK, or ACK 0 of
 * a WRQ) and go on the wire modulo 65536, so a transfer may run past 65,535 blocks (RFC 1350 does
 * not forbid it; curl, tftp-hpa, atftp and PXE ROMs all wrap to 0).
 */
export function wireBlock(absolute: number): number {
  return absolute & 0xffff;
}

/** The retransmission interval after `tries` timeouts in a row: doubling, capped. */
export function backoffDelay(baseMs: number, tries: number, maxMs: number): number {
  return Math.min(maxMs, baseMs * 2 ** Math.min(tries, 16));
}

export type SendDecision =
  /** An ACK for a block before the window (late, or a duplicate of an old one): nothing to do. */
  | { kind: 'stale' }
  /** The same ACK again. Never a reason to resend: that is the Sorcerer's Apprentice bug. */
  | { kind: 'duplicate' }
  /** Send blocks `from`..`to` (absolute) now: new blocks, or a resend after a partial ACK. */
  | { kind: 'send'; from: number; to: number }
  /** The last block is acknowledged. */
  | { kind: 'complete' };

export type TimeoutDecision = { kind: 'resend'; from: number; to: number; delayMs: number } | { kind: 'give-up' };

/**
 * The sender of RFC 1350 with RFC 7440 windows. The window is `acked+1 .. acked+windowSize`;
 * an ACK of block n inside the window slides it to start at n+1 (an ACK short of the window end
 * means the receiver missed n+1, so n+1 onwards is sent again). Only a timeout resends otherwise.
 */
export class SendWindow {
  /** Highest block acknowledged (-1 before the OACK is acknowledged when one was sent). */
  acked: number;
  /** Highest block handed to the wire at least once. */
  sent: number;
  /** The last block, once known (the first one shorter than blksize). */
  last: number | undefined;
  /** Timeouts in a row without progress. */
  tries = 0;

  constructor(
    readonly windowSize: number,
    readonly retries: number,
    readonly baseTimeoutMs: number,
    readonly maxTimeoutMs: number,
    /** True when block 0 (the OACK) must be acknowledged before block 1 goes out. */
    awaitingOackAck = false,
  ) {
    this.acked = awaitingOackAck ? -1 : 0;
    this.sent = 0;
  }

  /** The window end right now. */
  get windowEnd(): number {
    const end = this.acked + this.windowSize;
    return this.last === undefined ? end : Math.min(end, this.last);
  }

  /** What to send first: block 0 (the OACK) or the first window. */
  start(): { from: number; to: number } {
    if (this.acked < 0) return { from: 0, to: 0 };
    return { from: 1, to: this.windowEnd };
  }

  /** Record that blocks up to `block` have been sent. */
  markSent(block: number): void {
    if (block > this.sent) this.sent = block;
  }

  onAck(block16: number): SendDecision {
    const base = this.acked < 0 ? 0 : this.acked;
    const delta = (block16 - wireBlock(base) + BLOCK_MODULUS) % BLOCK_MODULUS;
    const absolute = base + delta;
    if (this.acked >= 0 && delta === 0) return { kind: 'duplicate' };
    if (absolute > this.sent) return { kind: 'stale' };
    this.acked = absolute;
    this.tries = 0;
    if (this.last !== undefined && absolute >= this.last) return { kind: 'complete' };
    return { kind: 'send', from: absolute + 1, to: this.windowEnd };
  }

  /** No ACK in time: resend everything outstanding, or give up after `retries` tries. */
  onTimeout(): TimeoutDecision {
    this.tries++;
    if (this.tries > this.retries) return { kind: 'give-up' };
    const from = this.acked < 0 ? 0 : this.acked + 1;
    const to = this.acked < 0 ? 0 : Math.max(from, Math.min(this.sent, this.windowEnd));
    return { kind: 'resend', from, to, delayMs: backoffDelay(this.baseTimeoutMs, this.tries, this.maxTimeoutMs) };
  }
}

export type ReceiveDecision =
  /** Not a block we want now (a duplicate or from after a gap); `ack` set: answer with that ACK. */
  | { kind: 'discard'; ack: number | undefined }
  /** The next block in order: keep its data; `ack` set: acknowledge through that block now. */
  | { kind: 'accept'; absolute: number; ack: number | undefined; last: boolean }
  /** More data than blksize allows: the peer is broken. */
  | { kind: 'illegal'; message: string };

/**
 * The receiver with RFC 7440 windows. It ACKs every `windowSize` blocks, at once on the last
 * block, and once on a gap (the ACK names the last block received in order, so the sender starts
 * again after it). A duplicate is answered with one re-ACK until new data arrives (lockstep:
 * every duplicate, which is RFC 1350's rule), so a resent window costs one ACK, not a burst.
 */
export class ReceiveWindow {
  /** The next block wanted, absolute. */
  expected = 1;
  /** The block named by the last ACK sent. */
  lastAck = 0;
  done = false;
  /** Timeouts in a row without progress. */
  tries = 0;
  #gapAcked = false;
  #duplicateAcked = false;

  constructor(
    readonly blockSize: number,
    readonly windowSize: number,
    readonly retries: number,
    readonly baseTimeoutMs: number,
    readonly maxTimeoutMs: number,
  ) {}

  onData(block16: number, length: number): ReceiveDecision {
    if (length > this.blockSize) return { kind: 'illegal', message: `a DATA block of ${length} bytes is larger than the block size ${this.blockSize}` };
    if (this.done) {
      // After the last block: the final ACK was lost; say it again.
      return { kind: 'discard', ack: wireBlock(block16) === wireBlock(this.expected - 1) ? this.expected - 1 : undefined };
    }
    const delta = (block16 - wireBlock(this.expected) + BLOCK_MODULUS) % BLOCK_MODULUS;
    if (delta === 0) {
      const absolute = this.expected;
      this.expected++;
      this.tries = 0;
      this.#gapAcked = false;
      this.#duplicateAcked = false;
      const last = length < this.blockSize;
      if (last) this.done = true;
      const ack = last || absolute - this.lastAck >= this.windowSize ? absolute : undefined;
      if (ack !== undefined) this.lastAck = ack;
      return { kind: 'accept', absolute, ack, last };
    }
    if (delta < BLOCK_MODULUS / 2) {
      // From after a gap: something was lost or overtaken. Say once where to start again.
      if (this.#gapAcked) return { kind: 'discard', ack: undefined };
      this.#gapAcked = true;
      this.lastAck = this.expected - 1;
      return { kind: 'discard', ack: this.lastAck };
    }
    // Already received: the sender did not hear our ACK.
    if (this.#duplicateAcked && this.windowSize > 1) return { kind: 'discard', ack: undefined };
    this.#duplicateAcked = true;
    this.lastAck = this.expected - 1;
    return { kind: 'discard', ack: this.lastAck };
  }

  /** Nothing new in time: ACK again where we are, or give up after `retries` tries. */
  onTimeout(): { kind: 'reack'; ack: number; delayMs: number } | { kind: 'give-up' } {
    this.tries++;
    if (this.tries > this.retries) return { kind: 'give-up' };
    this.#gapAcked = false;
    this.#duplicateAcked = false;
    this.lastAck = this.expected - 1;
    return { kind: 'reack', ack: this.lastAck, delayMs: backoffDelay(this.baseTimeoutMs, this.tries, this.maxTimeoutMs) };
  }
}
