/**
 * Greedy paragraph filling as Python's `textwrap.TextWrapper` does it (break_on_hyphens on,
 * break_long_words off): the definitions of Debian's `dict-wn` were wrapped this way, at 68
 * columns, so wrapping WordNet 3.1 the same way gives the layout `dict` users know.
 */

const WS = '[\\t\\n\\x0b\\x0c\\r ]';
const NWS = '[^\\t\\n\\x0b\\x0c\\r ]';
const WORD = '[\\p{L}\\p{N}_]';
const WORD_PUNCT = `[\\p{L}\\p{N}_!"'&.,?]`;
const LETTER = '[\\p{L}_]';

/** Python's `TextWrapper.wordsep_re`: whitespace runs, em-dashes, and words split after their hyphens. */
const WORD_SEPARATOR = new RegExp(
  `(${WS}+` +
    `|(?<=${WORD_PUNCT})-{2,}(?=${WORD})` +
    `|${NWS}+?(?:-(?:(?<=${LETTER}{2}-)|(?<=${LETTER}-${LETTER}-))(?=${LETTER}-?${LETTER})|(?=${WS}|$)|(?<=${WORD_PUNCT})(?=-{2,}${WORD})))`,
  'u',
);

function chunksOf(text: string): string[] {
  // expand_tabs and replace_whitespace: every white-space character becomes one space.
  const clean = text.replace(/\t/g, '        ').replace(/[\n\v\f\r]/g, ' ');
  return clean.split(WORD_SEPARATOR).filter((chunk) => chunk !== '');
}

const isBlank = (chunk: string): boolean => chunk.trim() === '';

/** Code points, as Python's len() counts them. */
function width(text: string): number {
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0xdc00 || c > 0xdfff) n++;
  }
  return n;
}

/** The lines of `text` filled to `maxWidth` columns, the first after `initialIndent`, the others after `subsequentIndent`. */
export function wrap(text: string, maxWidth: number, initialIndent = '', subsequentIndent = ''): string[] {
  const chunks = chunksOf(text).reverse();
  const lines: string[] = [];
  while (chunks.length > 0) {
    const indent = lines.length > 0 ? subsequentIndent : initialIndent;
    const room = maxWidth - width(indent);
    if (lines.length > 0 && isBlank(chunks[chunks.length - 1]!)) chunks.pop();
    const line: string[] = [];
    let used = 0;
    while (chunks.length > 0) {
      const size = width(chunks[chunks.length - 1]!);
      if (used + size > room) break;
      line.push(chunks.pop()!);
      used += size;
    }
    // A word longer than the room goes on a line of its own (long words are not broken).
    if (chunks.length > 0 && width(chunks[chunks.length - 1]!) > room && line.length === 0) line.push(chunks.pop()!);
    if (line.length > 0 && isBlank(line[line.length - 1]!)) line.pop();
    if (line.length > 0) lines.push(indent + line.join(''));
  }
  return lines;
}
