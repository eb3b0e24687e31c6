/**
 * The control connection's input, pure: bytes in, parsed commands out, in order, pulled one at a
 * time (the session must be able to stop between any two commands: a transfer runs, replies back
 * up), and cut from the bytes only when pulled. Lines are cut by the codec's LineDecoder (CR LF or a bare LF, at most `maxCommandBytes`;
 * a longer line is dropped up to its LF and reported once).
 *
 * After each line the decoder hands the rest of its bytes back (LineDecoder.takeRemaining,
 * Twisted's setRawMode/clearLineBuffer). So after `AUTH`, whose following bytes may be a TLS
 * handshake rather than commands, they are still as received, and stay so until the session has
 * answered the AUTH: `takeRaw` when TLS starts, `resumeLines` when not.
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
  /** Received bytes not yet cut into lines (views of the chunks as they came). */
  readonly #pending: Buffer[] = [];
  #pendingBytes = 0;
  /** What the decoder made of the last bytes it was given: one event at most (or two with a too-long report). */
  readonly #events: InboxEvent[] = [];
  /** After AUTH: the pending bytes stay as they are until the session has answered it. */
  #holding = false;
  /** The last byte given to the decoder was a CR (see the urgent-data ABOR above). */
  #lastWasCr = false;

  constructor(maxCommandBytes: number) {
    if (!Number.isInteger(maxCommandBytes) || maxCommandBytes < 16) throw new RangeError('maxCommandBytes must be an integer of at least 16');
    const tooLong = `Command line too long (the limit is ${maxCommandBytes} bytes).`;
    this.#decoder = new LineDecoder({
      maxLineBytes: maxCommandBytes,
      output: 'buffer',
      onTooLong: 'discard',
      onDiscard: () => this.#stopAfter({ kind: 'bad', code: 500, message: tooLong }),
    });
  }

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.#pending.push(chunk);
    this.#pendingBytes += chunk.length;
  }

  /**
   * The next command or bad line, oldest first. Lines are cut one at a time, as they are asked
   * for, so what is held stays raw bytes (a peer that pipelines thousands of commands costs its
   * bytes, not thousands of objects).
   */
  next(): InboxEvent | undefined {
    while (this.#events.length === 0 && !this.#holding) {
      const chunk = this.#pending.shift();
      if (!chunk) {
        if (this.#lastWasCr) this.#urgentAbor();
        break;
      }
      this.#pendingBytes -= chunk.length;
      this.#lastWasCr = chunk[chunk.length - 1] === CR;
      this.#decoder.push(chunk, (line) => this.#line(line));
    }
    return this.#events.shift();
  }

  /** What is held: bytes not yet read as commands (an unfinished line included). */
  get bufferedBytes(): number {
    return this.#pendingBytes + this.#decoder.bufferedBytes + this.#events.length;
  }

  /** Bytes after an AUTH line are held raw until `takeRaw` or `resumeLines`. */
  get holdingRaw(): boolean {
    return this.#holding;
  }

  /** TLS starts: the bytes after the AUTH line, as received; later bytes are the caller's (they go to TLS). */
  takeRaw(): Buffer {
    const raw = Buffer.concat(this.#pending.splice(0));
    this.#pendingBytes = 0;
    this.#holding = false;
    return raw;
  }

  /** The AUTH was refused: the bytes after it are commands after all. */
  resumeLines(): void {
    this.#holding = false;
  }

  /** The peer closed and `next` has nothing more: an unterminated last line can never end, and is dropped (as Twisted's LineReceiver does). */
  dropPartialLine(): void {
    if (!this.#holding && this.#pending.length === 0) this.#decoder.takeRemaining();
  }

  #line(line: Buffer): void {
    const cleaned = stripTelnet(line);
    // Empty lines (and a stray LF after an urgent-data ABOR) are not commands.
    if (cleaned.length === 0) return;
    const parsed = parseCommand(cleaned);
    if (!parsed.ok) return this.#stopAfter({ kind: 'bad', code: parsed.code, message: parsed.message });
    const handsOver = parsed.command.verb === 'AUTH';
    this.#stopAfter({ kind: 'command', command: parsed.command, handsOver });
    if (handsOver) this.#holding = true;
  }

  /** One event is out: the rest of the chunk goes back to the pending bytes, uncut (LineDecoder.takeRemaining). */
  #stopAfter(event: InboxEvent): void {
    this.#events.push(event);
    const rest = this.#decoder.takeRemaining();
    if (rest.length > 0) {
      this.#pending.unshift(rest);
      this.#pendingBytes += rest.length;
    }
  }

  /** `ABOR\r` held with nothing after it: the urgent-data ABOR (see above). */
  #urgentAbor(): void {
    this.#lastWasCr = false;
    const held = this.#decoder.bufferedBytes;
    if (held < 5 || held > MAX_URGENT_ABOR_BYTES) return;
    const bytes = this.#decoder.takeRemaining();
    if (/^ABOR$/i.test(Buffer.from(stripTelnet(bytes.subarray(0, -1))).toString('latin1').trim())) {
      this.#events.push({ kind: 'command', command: { verb: 'ABOR', argument: '' }, handsOver: false });
      return;
    }
    this.#decoder.push(bytes, (line) => this.#line(line));
  }
}
