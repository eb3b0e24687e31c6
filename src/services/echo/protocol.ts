/**
 * The echo service's protocol, pure: what to answer to a message.
 *
 * RFC 862 echo sends back every byte it receives. The seeds add two "reply modes": a fixed answer
 * (`Thanks`, `ok`) and a prefix (`收到！` + the message). A reply keeps the message's line ending,
 * so a seed client that sends `hello` gets `Thanks` back, while `nc` (which sends `hello\n`)
 * gets `Thanks\n` and sees its answer on its own line.
 */

export type EchoMode =
  | { kind: 'echo' }
  | { kind: 'reply'; text: string }
  | { kind: 'prefix'; text: string };

/** How a TCP stream is cut into messages in the reply modes. */
export type EchoFraming =
  /** Each chunk TCP delivers is one message: what the seeds' send()/recv(1024) clients expect. */
  | 'raw'
  /** Each line is one message: well defined however TCP splits or glues the bytes. */
  | 'line';

const LF = 0x0a;
const CR = 0x0d;

/** The line ending a message ends with: '\r\n', '\n', or ''. */
export function lineEnding(message: Uint8Array): string {
  const n = message.length;
  if (n > 0 && message[n - 1] === LF) return n > 1 && message[n - 2] === CR ? '\r\n' : '\n';
  return '';
}

/** The answer to one message in the given mode. For `echo` it is the message itself. */
export function answerFor(mode: EchoMode, message: Buffer): Buffer {
  switch (mode.kind) {
    case 'echo':
      return message;
    case 'reply':
      return Buffer.from(mode.text + lineEnding(message));
    case 'prefix':
      return Buffer.concat([Buffer.from(mode.text), message]);
    default: {
      const unreachable: never = mode;
      return unreachable;
    }
  }
}

/**
 * The seeds' TCP clients end a session by sending `##` (seed 000 §2). In the reply modes a
 * message that is exactly `##` (optionally with a line ending) closes the connection.
 */
export function isEndMarker(message: Buffer): boolean {
  const text = message.toString('latin1');
  return text === '##' || text === '##\n' || text === '##\r\n';
}

export function modeFrom(options: { reply?: string | undefined; prefix?: string | undefined }): EchoMode {
  if (options.reply !== undefined && options.prefix !== undefined) throw new Error('choose one of reply and prefix, not both');
  if (options.reply !== undefined) return { kind: 'reply', text: options.reply };
  if (options.prefix !== undefined) return { kind: 'prefix', text: options.prefix };
  return { kind: 'echo' };
}
