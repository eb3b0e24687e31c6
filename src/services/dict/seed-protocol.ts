/**
 * The online dictionary's own protocol (seed 000 §11), pure: what its client sends and what its
 * server answers. One command per message, fields split on spaces:
 *
 * | client sends      | server answers                                                      |
 * |-------------------|---------------------------------------------------------------------|
 * | `R name pass`     | `OK`, or `FAIL` (name taken, refused, bad)                          |
 * | `L name pass`     | `OK`, or `FAIL`                                                     |
 * | `Q name word`     | the meaning, or `Not Found` (the lookup is recorded either way)     |
 * | `H name`          | the latest 10 lookups, one message each: `name    word   time`, then `##` |
 * | `E`               | nothing: the connection ends                                        |
 *
 * The seed has no delimiter: a message is whatever one `recv(1024)` returns, and the history's
 * records are kept apart only by a `sleep(0.1)` between sends. The server paces them the same way
 * (see seed-server.ts); every answer fits in the client's 1024-byte `recv` so that one read is one
 * answer. DICT (RFC 2229) is the sound protocol for the same features.
 */

export const SEED_OK = 'OK';
export const SEED_FAIL = 'FAIL';
export const SEED_NOT_FOUND = 'Not Found';
/** The end of a history listing. */
export const SEED_END = '##';
/** The seed client reads every answer with `recv(1024)` (the login with `recv(128)`). */
export const SEED_RECV_BYTES = 1024;
/** The seed's `H` lists the latest 10 lookups. */
export const SEED_HISTORY_LENGTH = 10;

export type SeedCommand =
  | { kind: 'register'; name: string; password: string }
  | { kind: 'login'; name: string; password: string }
  | { kind: 'query'; name: string; word: string }
  | { kind: 'history'; name: string }
  | { kind: 'exit' }
  /** A blank line (a telnet user's Enter): no answer. */
  | { kind: 'empty' }
  /** Unknown or malformed: answered `FAIL` (the seed's server died on these, leaving its client hanging). */
  | { kind: 'bad' };

/**
 * One message of the seed client (or one line a telnet user typed, its line end removed).
 * The word of `Q` is the rest of the message, so `Q name ice cream` looks up "ice cream".
 */
export function parseSeedCommand(message: string): SeedCommand {
  if (message.trim() === '') return { kind: 'empty' };
  const fields = message.split(' ');
  const [verb, name = '', second = ''] = fields;
  switch (verb) {
    case 'E':
      return { kind: 'exit' };
    case 'R':
    case 'L':
      if (fields.length !== 3 || name === '' || second === '') return { kind: 'bad' };
      return verb === 'R' ? { kind: 'register', name, password: second } : { kind: 'login', name, password: second };
    case 'Q': {
      const word = fields.slice(2).join(' ');
      if (name === '' || word.trim() === '') return { kind: 'bad' };
      return { kind: 'query', name, word };
    }
    case 'H':
      if (fields.length !== 2 || name === '') return { kind: 'bad' };
      return { kind: 'history', name };
    default:
      return { kind: 'bad' };
  }
}

/** `2024-05-01 09:30:00`: how pymysql's DATETIME prints in the seed's `"%s    %s   %s"`, local time. */
export function seedTimestamp(at: Date): string {
  const two = (n: number) => String(n).padStart(2, '0');
  return `${at.getFullYear()}-${two(at.getMonth() + 1)}-${two(at.getDate())} ${two(at.getHours())}:${two(at.getMinutes())}:${two(at.getSeconds())}`;
}

/** One history record, as the seed's server formats it: `name    word   time`. */
export function seedHistoryRecord(name: string, word: string, at: Date): string {
  return fitSeedAnswer(`${name}    ${word}   ${seedTimestamp(at)}`);
}

const ELLIPSIS = '…';

/**
 * An answer cut to what one `recv(1024)` of the seed client takes in, at a character boundary:
 * longer, its tail would arrive as the next answer, and a UTF-8 character split between two
 * reads makes the client's `decode()` raise.
 */
export function fitSeedAnswer(text: string, maxBytes = SEED_RECV_BYTES): string {
  if (Buffer.byteLength(text) <= maxBytes) return text;
  const room = maxBytes - Buffer.byteLength(ELLIPSIS);
  let bytes = 0;
  let end = 0;
  for (const char of text) {
    const size = Buffer.byteLength(char);
    if (bytes + size > room) break;
    bytes += size;
    end += char.length;
  }
  return text.slice(0, end) + ELLIPSIS;
}

/**
 * The meaning in a database entry: its text without the headword line that opens it, the common
 * indentation removed (a seed word list's entry comes back as the line it was imported from).
 */
export function seedMeaning(definition: string): string {
  const lines = definition.replace(/\s+$/, '').split('\n');
  const body = lines.length > 1 ? lines.slice(1) : lines;
  const indents = body.filter((line) => line.trim() !== '').map((line) => /^[ \t]*/.exec(line)![0].length);
  const indent = indents.length > 0 ? Math.min(...indents) : 0;
  const meaning = body
    .map((line) => line.slice(indent).trimEnd())
    .join('\n')
    .trim();
  return fitSeedAnswer(meaning === '' ? definition.trim() : meaning);
}
