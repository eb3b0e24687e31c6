/**
 * A definition's text as segments of plain text and cross-references, so that the portal's page
 * makes links of them with text nodes, never by parsing or writing HTML. Pure.
 *
 * The forms found in DICT databases:
 *   - `{word}`: WordNet's synonyms and antonyms (`[syn: {hello}, {hullo}]`) and dictd's convention
 *     for a link (the Jargon File, FOLDOC, GCIDE). A reference wrapped over two lines
 *     (`{how-\n        do-you-do}`) names the word with the line break taken out: nothing after
 *     a hyphen (the wrapper breaks after hyphens), one space elsewhere; WordNet's adjective markers
 *     (`{well(p)}`) are not part of the word. The braces are not shown.
 *   - `See also X, Y and Z` (or `See also: X; Y`, any case) without braces: each listed term on
 *     the same line, up to `.`, `)` or the end of the line, is a link.
 * A brace that does not close within {@link MAX_REFERENCE_CHARS}, or encloses nothing, is text.
 */

/** Text as it is, or a word to look up shown as `text`. */
export type DefinitionSegment = { readonly text: string } | { readonly link: string; readonly text: string };

/** The longest cross-reference read as one (longer braces are text). */
export const MAX_REFERENCE_CHARS = 100;

const SEE_ALSO = /\bsee also\b:?[ \t]*/giu;
/** One word of a "See also" term: letters, digits, inner hyphens, apostrophes and dots (`a.out`). */
const TERM_WORD = /[\p{L}\p{N}][\p{L}\p{N}\p{M}'-]*(?:\.[\p{L}\p{N}]+)*/uy;
/** Most words in one "See also" term: past it the list is prose, not names. */
const MAX_TERM_WORDS = 4;
const TERM_SEPARATOR = /(?:[ \t]*[,;][ \t]*(?:(?:and|or)[ \t]+)?|[ \t]+(?:and|or)[ \t]+)/iuy;
const CONJUNCTION = /^(?:and|or)$/iu;

/** WordNet's adjective markers (`{well(p)}`: predicative only), not part of the headword. */
const WORDNET_MARKER = /\((?:a|p|ip)\)$/;

/**
 * The word a `{…}` reference names: its line breaks taken out as the wrapper put them in, and
 * WordNet's adjective marker dropped (`{in effect(p)}` names `in effect`).
 */
export function referenceWord(inner: string): string {
  return inner
    .replace(/-[ \t]*\r?\n[ \t]*/g, '-')
    .replace(/\s+/g, ' ')
    .trim()
    .replace(WORDNET_MARKER, '')
    .trim();
}

/** The segments of one definition. Joining their texts gives the definition without the braces of its references. */
export function definitionSegments(text: string): DefinitionSegment[] {
  const out: DefinitionSegment[] = [];
  const pushText = (piece: string) => {
    if (piece === '') return;
    const last = out[out.length - 1];
    if (last !== undefined && !('link' in last)) out[out.length - 1] = { text: last.text + piece };
    else out.push({ text: piece });
  };
  const lists = seeAlsoLists(text);
  let nextList = 0;
  let at = 0;
  let plainFrom = 0;
  while (at < text.length) {
    const open = text.indexOf('{', at);
    while (nextList < lists.length && lists[nextList]!.start < at) nextList++;
    const list = lists[nextList];
    if (list !== undefined && (open === -1 || list.start < open)) {
      nextList++;
      pushText(text.slice(plainFrom, list.start));
      for (const piece of list.pieces) {
        if ('link' in piece) out.push(piece);
        else pushText(piece.text);
      }
      at = plainFrom = list.end;
      continue;
    }
    if (open === -1) break;
    // Only a short way ahead: a stray brace costs a bounded look, so the whole read stays linear.
    const ahead = text.slice(open + 1, open + 2 + MAX_REFERENCE_CHARS).indexOf('}');
    const close = ahead === -1 ? -1 : open + 1 + ahead;
    const inner = close === -1 ? '' : text.slice(open + 1, close);
    const word = referenceWord(inner);
    if (close === -1 || close - open - 1 > MAX_REFERENCE_CHARS || inner.includes('{') || word === '') {
      at = open + 1;
      continue;
    }
    pushText(text.slice(plainFrom, open));
    out.push({ link: word, text: inner });
    at = plainFrom = close + 1;
  }
  pushText(text.slice(plainFrom));
  return out;
}

interface SeeAlsoList {
  start: number;
  end: number;
  /** The words "See also", then links and the separators between them. */
  pieces: DefinitionSegment[];
}

/** Every "See also" list whose first term is not in braces (a braced list is read by the brace rule), in order. */
function seeAlsoLists(text: string): SeeAlsoList[] {
  const lists: SeeAlsoList[] = [];
  for (const found of text.matchAll(SEE_ALSO)) {
    const pieces: DefinitionSegment[] = [{ text: found[0] }];
    let at = found.index + found[0].length;
    while (true) {
      const term = termAt(text, at);
      if (term === undefined) break;
      pieces.push({ link: term, text: term });
      at += term.length;
      TERM_SEPARATOR.lastIndex = at;
      const separator = TERM_SEPARATOR.exec(text);
      if (!separator) break;
      pieces.push({ text: separator[0] });
      at += separator[0].length;
    }
    // A separator the list ended on belongs to the text that follows.
    while (pieces.length > 1 && !('link' in pieces[pieces.length - 1]!)) at -= pieces.pop()!.text.length;
    if (pieces.length > 1) lists.push({ start: found.index, end: at, pieces });
  }
  return lists;
}

/**
 * The term of a "See also" list at `at`: up to {@link MAX_TERM_WORDS} words joined by single
 * spaces, never "and" or "or". Words and separators hold no line break, so a list ends with its line.
 */
function termAt(text: string, at: number): string | undefined {
  let end = at;
  let words = 0;
  while (words < MAX_TERM_WORDS) {
    if (words > 0 && text[end] !== ' ') break;
    TERM_WORD.lastIndex = words === 0 ? end : end + 1;
    const word = TERM_WORD.exec(text);
    if (!word || CONJUNCTION.test(word[0])) break;
    end = TERM_WORD.lastIndex;
    words++;
  }
  const term = text.slice(at, end);
  return words === 0 || term.length > MAX_REFERENCE_CHARS ? undefined : term;
}

/**
 * The segments as the page lays them out under the headword's own heading: the headword line
 * that opens a dictd entry taken out, and the indentation every line shares (WordNet's four
 * spaces) too, so that a phone's narrow column is not spent on margins. Display only: the words
 * linked stay the same.
 */
export function bodySegments(segments: readonly DefinitionSegment[], headword: string): DefinitionSegment[] {
  const first = segments[0];
  let rest = [...segments];
  if (first !== undefined && !('link' in first) && first.text.startsWith(`${headword}\n`)) {
    const text = first.text.slice(headword.length + 1);
    rest = text === '' ? rest.slice(1) : [{ text }, ...rest.slice(1)];
  }
  const joined = rest.map((segment) => segment.text).join('');
  const indents = joined
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => /^ */.exec(line)![0].length);
  const indent = indents.length === 0 ? 0 : Math.min(...indents);
  if (indent === 0) return rest;
  const margin = ' '.repeat(indent);
  let atLineStart = true;
  return rest.map((segment) => {
    // A segment's first characters start a line only when the text before it ended one.
    let text = segment.text.split(`\n${margin}`).join('\n');
    if (atLineStart && text.startsWith(margin)) text = text.slice(indent);
    atLineStart = segment.text === '' ? atLineStart : segment.text.endsWith('\n');
    return 'link' in segment ? { link: segment.link, text } : { text };
  });
}

/**
 * The lines the database's own wrapping cut, joined again, so that the page wraps a sense at the
 * reader's width (a phone's column is narrower than 68 characters). A line indented deeper than
 * the line that began its paragraph continues it (WordNet's and dict-wn's hanging indent): the
 * break becomes a space, or nothing after a hyphen (the wrapper breaks after hyphens). Lines at
 * the same indentation stay apart (lists, verse, seed entries), and so do blank lines.
 */
export function unwrapSegments(segments: readonly DefinitionSegment[]): DefinitionSegment[] {
  const whole = segments.map((segment) => segment.text).join('');
  // Where each line break goes: kept, or replaced by a space or by nothing (with its indentation).
  const replaced = new Map<number, { length: number; by: string }>();
  let paragraphIndent = /^ */.exec(whole)![0].length;
  for (let at = whole.indexOf('\n'); at !== -1; at = whole.indexOf('\n', at + 1)) {
    let end = at + 1;
    while (whole[end] === ' ') end++;
    const indent = end - at - 1;
    const blank = end >= whole.length || whole[end] === '\n' || at === 0 || whole[at - 1] === '\n';
    if (blank) continue;
    if (indent > paragraphIndent) replaced.set(at, { length: end - at, by: whole[at - 1] === '-' ? '' : ' ' });
    else paragraphIndent = indent;
  }
  let offset = 0;
  return segments.map((segment) => {
    let text = '';
    for (let i = 0; i < segment.text.length; ) {
      const cut = replaced.get(offset + i);
      if (cut === undefined) {
        text += segment.text[i];
        i++;
        continue;
      }
      text += cut.by;
      // The indentation may run on into the next segment; what is left of it is skipped there.
      const inHere = Math.min(cut.length, segment.text.length - i);
      if (inHere < cut.length) replaced.set(offset + i + inHere, { length: cut.length - inHere, by: '' });
      i += inHere;
    }
    offset += segment.text.length;
    return 'link' in segment ? { link: segment.link, text } : { text };
  });
}
