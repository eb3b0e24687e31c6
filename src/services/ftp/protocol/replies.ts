/**
 * FTP replies, pure: formatting them on the server side (RFC 959 §4.2, multi-line included) and
 * reading them on the client side, the quoted paths of 257 replies, and the quota sentence.
 */
import { formatBytes } from '../../../core/human-size.js';

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

/** Why an upload does not fit (ALLO's 552, and the client's message): `5.0 MiB does not fit: 0 B free of 1.0 MiB`. */
export function quotaRefusal(bytes: number, freeBytes: number, quotaBytes: number): string {
  return `${formatBytes(bytes)} does not fit: ${formatBytes(freeBytes)} free of ${formatBytes(quotaBytes)}`;
}
