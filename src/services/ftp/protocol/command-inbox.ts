/**
 * The control connection's input, pure: bytes in, parsed commands out, in order, pulled one at a
 * time (the session must be able to stop between any two commands: a transfer runs, replies back
 * up). Lines are cut by the codec's LineDecoder (CR LF or a bare LF, at most `maxCommandBytes`;
 * a longer line is dropped up to its LF and reported once).
 *
 * After `AUTH`, the bytes that follow may be a TLS handshake, not commands: the inbox takes them
 * out of the decoder (LineDecoder.takeRemaining, Twisted's setRawMode) and holds them untouched
 * until the session has answered the AUTH: `takeRaw` when TLS starts, `resumeLines` when not.
 *
 * One special case: Python's ftplib sends `ABOR\r\n` as TCP urgent data, and without SO_OOBINLINE
 * the kernel removes the urgent byte (the LF), so `ABOR\r` with nothing after it is taken as a
 * complete ABOR.
 */
import { LineDecoder } from '../../../codec/line.js';
import { parseCommand, stripTelnet, type ParsedCommand } from './commands.js';

const CR = 0x0d;
/** Held bytes this short that end with CR may be an urgent-data ABOR (with Telnet IP and DM before it). */
const MAX_URGENT_ABOR_BYTES = 32;
/** What a queued command is counted as beyond its bytes, so that a flood of tiny lines pauses reading too. */
const EVENT_OVERHEAD_BYTES = 64;

export type InboxEvent =
  | {
      kind: 'command';
      command: ParsedCommand;
      /** AUTH: what follows it is held raw until the session has answered it. */
      handsOver: boolean;
    }
  /** A line that is not a command (too long, not UTF-8, no verb): the reply to send. */
  | { kind: 'bad'; code: number; message: string };

export class CommandInbox {
  readonly #decoder: LineDecoder<'buffer'>;
  readonly #events: InboxEvent[] = [];
  #eventBytes = 0;
  /** The bytes after an AUTH line, while the AUTH is not answered. */
  #raw: Buffer[] | undefined;

  constructor(maxCommandBytes: number) {
    if (!Number.isInteger(maxCommandBytes) || maxCommandBytes < 16) throw new RangeError('maxCommandBytes must be an integer of at least 16');
    const tooLong = `Command line too long (the limit is ${maxCommandBytes} bytes).`;
    this.#decoder = new LineDecoder({
      maxLineBytes: maxCommandBytes,
      output: 'buffer',
      onTooLong: 'discard',
      onDiscard: () => this.#queue({ kind: 'bad', code: 500, message: tooLong }, 0),
    });
  }

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    if (this.#raw) {
      this.#raw.push(Buffer.from(chunk));
      return;
    }
    this.#decoder.push(chunk, (line) => this.#line(line));
    if (!this.#raw && chunk[chunk.length - 1] === CR) this.#urgentAbor();
  }

  /** The next command or bad line, oldest first. */
  next(): InboxEvent | undefined {
    const event = this.#events.shift();
    if (event) this.#eventBytes -= event.kind === 'command' ? Buffer.byteLength(event.command.argument) + EVENT_OVERHEAD_BYTES : EVENT_OVERHEAD_BYTES;
    return event;
  }

  /** What is held: queued commands, an unfinished line, bytes after an AUTH. */
  get bufferedBytes(): number {
    return this.#eventBytes + this.#decoder.bufferedBytes + (this.#raw?.reduce((sum, part) => sum + part.length, 0) ?? 0);
  }

  /** Bytes after an AUTH line are held raw until `takeRaw` or `resumeLines`. */
  get holdingRaw(): boolean {
    return this.#raw !== undefined;
  }

  /** TLS starts: the bytes after the AUTH line, as received; later bytes are the caller's (they go to TLS). */
  takeRaw(): Buffer {
    const raw = Buffer.concat(this.#raw ?? []);
    this.#raw = undefined;
    return raw;
  }

  /** The AUTH was refused: the bytes after it are commands after all. */
  resumeLines(): void {
    const raw = this.takeRaw();
    this.push(raw);
  }

  /** The peer closed: an unterminated last line can never end, and is dropped (as Twisted's LineReceiver does). */
  dropPartialLine(): void {
    if (!this.#raw) this.#decoder.takeRemaining();
  }

  #line(line: Buffer): void {
    const cleaned = stripTelnet(line);
    // Empty lines (and a stray LF after an urgent-data ABOR) are not commands.
    if (cleaned.length === 0) return;
    const parsed = parseCommand(cleaned);
    if (!parsed.ok) return this.#queue({ kind: 'bad', code: parsed.code, message: parsed.message }, 0);
    const handsOver = parsed.command.verb === 'AUTH';
    this.#queue({ kind: 'command', command: parsed.command, handsOver }, Buffer.byteLength(parsed.command.argument));
    if (handsOver) this.#raw = [this.#decoder.takeRemaining()];
  }

  #queue(event: InboxEvent, bytes: number): void {
    this.#events.push(event);
    this.#eventBytes += bytes + EVENT_OVERHEAD_BYTES;
  }

  /** `ABOR\r` held with nothing after it: the urgent-data ABOR (see above). */
  #urgentAbor(): void {
    const held = this.#decoder.bufferedBytes;
    if (held < 5 || held > MAX_URGENT_ABOR_BYTES) return;
    const bytes = this.#decoder.takeRemaining();
    if (/^ABOR$/i.test(Buffer.from(stripTelnet(bytes.subarray(0, -1))).toString('latin1').trim())) {
      this.#queue({ kind: 'command', command: { verb: 'ABOR', argument: '' }, handsOver: false }, 0);
      return;
    }
    this.#decoder.push(bytes, (line) => this.#line(line));
  }
}
