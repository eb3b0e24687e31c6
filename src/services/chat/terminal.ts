import { clearScreenDown, createInterface, cursorTo, moveCursor, type Interface } from 'node:readline';

/**
 * The chat's terminal: one line being typed at the bottom, messages appearing above it. The
 * seed's client printed incoming text over its prompt (`\n` + message + `\n发言:`), tearing the
 * half-typed line apart; here each message clears the prompt row(s), is printed, and the prompt
 * is drawn again with what was typed so far and the cursor where it was.
 *
 * Without a terminal (piped input or output) it reads plain lines and prints plain lines.
 */
export interface ChatTerminalOptions {
  input: NodeJS.ReadableStream;
  output: NodeJS.WritableStream & { columns?: number; isTTY?: boolean };
  /** Draw a prompt and redraw it around incoming messages. Default: whether both ends are terminals. */
  tty?: boolean;
  prompt?: string;
}

export interface ChatTerminalHandlers {
  line(line: string): void;
  /** Ctrl-C. */
  interrupt(): void;
  /** End of input (Ctrl-D, or the pipe closed). */
  end(): void;
}

/** Characters that would move the cursor or change the terminal: shown as `�` instead. */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const UNSAFE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;

/** What a message may contain on screen: no escape sequences, no bidi overrides (a peer may send anything). */
export function sanitizeForTerminal(text: string): string {
  return text.replace(UNSAFE, '\ufffd');
}

/**
 * Columns `text` takes on a terminal: 2 for East Asian wide and fullwidth characters and emoji,
 * 0 for combining marks and joiners, 1 otherwise (what `wcwidth` would say, near enough).
 */
export function displayWidth(text: string): number {
  let width = 0;
  for (const char of text) {
    const code = char.codePointAt(0)!;
    if (/\p{Mn}|\p{Me}|\u200d|[\ufe00-\ufe0f]/u.test(char)) continue;
    if (isWide(code) || /\p{Extended_Pictographic}/u.test(char) && code > 0x2fff) width += 2;
    else width += 1;
  }
  return width;
}

function isWide(code: number): boolean {
  return (
    (code >= 0x1100 && code <= 0x115f) ||
    (code >= 0x2e80 && code <= 0x303e) ||
    (code >= 0x3041 && code <= 0x33ff) ||
    (code >= 0x3400 && code <= 0x4dbf) ||
    (code >= 0x4e00 && code <= 0x9fff) ||
    (code >= 0xa000 && code <= 0xa4cf) ||
    (code >= 0xac00 && code <= 0xd7a3) ||
    (code >= 0xf900 && code <= 0xfaff) ||
    (code >= 0xfe30 && code <= 0xfe4f) ||
    (code >= 0xff00 && code <= 0xff60) ||
    (code >= 0xffe0 && code <= 0xffe6) ||
    (code >= 0x1f300 && code <= 0x1f64f) ||
    (code >= 0x1f900 && code <= 0x1f9ff) ||
    (code >= 0x20000 && code <= 0x3fffd)
  );
}

export class ChatTerminal {
  readonly tty: boolean;
  readonly #rl: Interface;
  readonly #output: ChatTerminalOptions['output'];
  #prompt: string;
  #closed = false;
  #inputEnded = false;

  constructor(options: ChatTerminalOptions, handlers: ChatTerminalHandlers) {
    this.#output = options.output;
    this.tty = options.tty ?? ((options.input as { isTTY?: boolean }).isTTY === true && options.output.isTTY === true);
    this.#prompt = options.prompt ?? '> ';
    this.#rl = createInterface({ input: options.input, output: this.tty ? options.output : undefined, terminal: this.tty, historySize: this.tty ? 100 : 0 });
    this.#rl.setPrompt(this.tty ? this.#prompt : '');
    this.#rl.on('line', (line) => {
      if (this.tty) this.#eraseSubmitted(line);
      handlers.line(line);
    });
    this.#rl.on('SIGINT', () => handlers.interrupt());
    this.#rl.on('close', () => {
      // The input ended (Ctrl-D, or the pipe closed): messages may still be printed, plainly.
      if (this.tty && !this.#closed) {
        const output = this.#output as NodeJS.WritableStream;
        cursorTo(output, 0);
        clearScreenDown(output);
      }
      this.#inputEnded = true;
      if (!this.#closed) handlers.end();
    });
  }

  /** Show the prompt (after the first messages are printed). */
  start(): void {
    if (this.tty && !this.#closed && !this.#inputEnded) this.#rl.prompt();
  }

  setPrompt(prompt: string): void {
    this.#prompt = prompt;
    if (!this.tty || this.#inputEnded) return;
    this.#rl.setPrompt(prompt);
    this.#rl.prompt(true);
  }

  /** Print `text` above the line being typed, then redraw the prompt and the typed text. */
  print(text: string): void {
    if (this.#closed) return;
    const safe = sanitizeForTerminal(text);
    if (!this.tty || this.#inputEnded) {
      this.#output.write(`${safe}\n`);
      return;
    }
    const output = this.#output as NodeJS.WritableStream;
    // Redraw first, so that readline's idea of where the cursor is matches ours (typing at the
    // end of the line moves the cursor without readline recording the row it ends on).
    this.#rl.prompt(true);
    // The cursor may be on a later row of a long typed line: go to the prompt's first row.
    const rows = this.#rl.getCursorPos().rows;
    moveCursor(output, 0, -rows);
    cursorTo(output, 0);
    clearScreenDown(output);
    // readline redraws by going up as many rows as the cursor was down last time: leave that
    // many blank rows below the message for it to come back up through.
    output.write(`${safe}\n${'\n'.repeat(rows)}`);
    this.#rl.prompt(true);
  }

  /** The text typed so far (not yet sent). */
  get typed(): string {
    return this.#rl.line;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.tty && !this.#inputEnded) {
      const output = this.#output as NodeJS.WritableStream;
      moveCursor(output, 0, -this.#rl.getCursorPos().rows);
      cursorTo(output, 0);
      clearScreenDown(output);
    }
    this.#rl.close();
  }

  /**
   * The line just sent is still on screen as typed (readline has moved below it): remove it, so
   * that what appears is the room's copy, numbered and in order (`alice : text`).
   */
  #eraseSubmitted(line: string): void {
    const columns = this.#output.columns ?? 80;
    const width = displayWidth(this.#prompt) + displayWidth(line);
    const rows = Math.max(1, Math.ceil(width / columns) || 1);
    const output = this.#output as NodeJS.WritableStream;
    moveCursor(output, 0, -rows);
    cursorTo(output, 0);
    clearScreenDown(output);
  }
}
