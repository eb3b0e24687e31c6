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

/** How a printing server shows each message (`--print`): the seeds' two styles. */
export type PrintStyle =
  /** Seed 000 §1: `print("From", addr, ":", data.decode())` → `From ('127.0.0.1', 5000) : text`. */
  | 'from'
  /** Seed 004's UDP "chat room": `print('【%s】%s:%s' % (ctime(), ip, data))` → `【Sun Dec  6 07:30:46 2026】127.0.0.1:text`. */
  | 'ctime';

export interface Peer {
  address: string;
  port: number;
}

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** Python's time.ctime(), local time: `Sun Dec  6 07:30:46 2026`. */
export function ctime(at: Date): string {
  const two = (n: number) => String(n).padStart(2, '0');
  return `${DAYS[at.getDay()]} ${MONTHS[at.getMonth()]} ${String(at.getDate()).padStart(2, ' ')} ${two(at.getHours())}:${two(at.getMinutes())}:${two(at.getSeconds())} ${at.getFullYear()}`;
}

/**
 * A peer's message as text safe to print on the operator's terminal: UTF-8, its line ending
 * dropped, and control characters (escape sequences could repaint or retitle the terminal)
 * shown as `\xHH`.
 */
export function printableMessage(message: Uint8Array): string {
  const text = Buffer.from(message).toString('utf8').replace(/\r?\n$/, '');
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u0008\u000a-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g, (c) => {
    const code = c.charCodeAt(0);
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}

/** The line a printing server shows for one message (no trailing newline). */
export function printLine(style: PrintStyle, peer: Peer, message: Uint8Array, at: Date): string {
  const text = printableMessage(message);
  return style === 'from' ? `From ('${peer.address}', ${peer.port}) : ${text}` : `【${ctime(at)}】${peer.address}:${text}`;
}
