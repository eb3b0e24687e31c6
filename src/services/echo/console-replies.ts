/**
 * `--reply-from-console`: the person at the server answers each message by typing (seed 001's
 * `响应数据 >>>`, seed 004's 模拟聊天). Messages wait in arrival order, from every client; the
 * oldest is shown with its sender and a prompt, and the next line typed is its answer.
 */
import { lineEnding, printLine, type Peer } from './protocol.js';

/** The seed's prompt for the answer ("response data"). */
export const REPLY_PROMPT = '响应数据 >>> ';

interface Waiting {
  peer: Peer;
  message: Buffer;
  /** Send the answer; false when the client is gone. */
  respond(answer: Buffer): boolean;
  gone(): boolean;
}

export class ConsoleReplies {
  readonly #waiting: Waiting[] = [];
  readonly #out: NodeJS.WritableStream;
  readonly #maxWaiting: number;

  constructor(out: NodeJS.WritableStream, maxWaiting: number) {
    this.#out = out;
    this.#maxWaiting = maxWaiting;
  }

  /** Queue a message for the operator; false when too many already wait (the caller refuses it). */
  add(entry: Waiting): boolean {
    if (this.#waiting.length >= this.#maxWaiting) return false;
    this.#waiting.push(entry);
    if (this.#waiting.length === 1) this.#show();
    return true;
  }

  /** A line the operator typed: the answer to the message shown. */
  typed(line: string): void {
    // The head is the message on screen, even if its client has gone since: the line was typed for it.
    const head = this.#waiting.shift();
    if (!head) {
      this.#out.write('(no message is waiting for an answer)\n');
      return;
    }
    head.respond(Buffer.from(line + lineEnding(head.message)));
    this.#show();
  }

  #dropGone(): void {
    while (this.#waiting.length > 0 && this.#waiting[0]!.gone()) this.#waiting.shift();
  }

  #show(): void {
    this.#dropGone();
    const head = this.#waiting[0];
    if (head) this.#out.write(`${printLine('from', head.peer, head.message, new Date())}\n${REPLY_PROMPT}`);
  }
}
