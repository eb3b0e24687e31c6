import { describe, expect, it } from 'vitest';
import { bodySegments, definitionSegments, MAX_REFERENCE_CHARS, referenceWord, unwrapSegments, type DefinitionSegment } from '../../../src/services/dict/portal/cross-references.js';

/** What the page shows: the texts joined. */
const shown = (segments: readonly DefinitionSegment[]): string => segments.map((s) => s.text).join('');
const links = (segments: readonly DefinitionSegment[]): string[] => segments.flatMap((s) => ('link' in s ? [s.link] : []));

describe('cross-references in a definition, as text and link segments', () => {
  it("reads WordNet's braces, a reference wrapped after a hyphen included, byte by byte", () => {
    const hello = 'hello\n    n 1: an expression of greeting; "every morning they exchanged\n         polite hellos" [syn: {hello}, {hullo}, {hi}, {howdy}, {how-\n         do-you-do}]\n';
    expect(definitionSegments(hello)).toEqual([
      { text: 'hello\n    n 1: an expression of greeting; "every morning they exchanged\n         polite hellos" [syn: ' },
      { link: 'hello', text: 'hello' },
      { text: ', ' },
      { link: 'hullo', text: 'hullo' },
      { text: ', ' },
      { link: 'hi', text: 'hi' },
      { text: ', ' },
      { link: 'howdy', text: 'howdy' },
      { text: ', ' },
      { link: 'how-do-you-do', text: 'how-\n         do-you-do' },
      { text: ']\n' },
    ]);
    expect(shown(definitionSegments(hello))).toBe(hello.replace(/[{}]/g, ''));
  });

  it('joins a reference wrapped at a space with one space, and drops WordNet adjective markers from the word only', () => {
    expect(definitionSegments('[syn: {trade\n        good}, {in effect(p)}, {well(p)}]')).toEqual([
      { text: '[syn: ' },
      { link: 'trade good', text: 'trade\n        good' },
      { text: ', ' },
      { link: 'in effect', text: 'in effect(p)' },
      { text: ', ' },
      { link: 'well', text: 'well(p)' },
      { text: ']' },
    ]);
    expect(referenceWord(' a\tb \n c ')).toBe('a b c');
  });

  it("reads dictd's {link} in prose, and Chinese", () => {
    expect(definitionSegments('A {Unix} shell; cf. {你好}.')).toEqual([{ text: 'A ' }, { link: 'Unix', text: 'Unix' }, { text: ' shell; cf. ' }, { link: '你好', text: '你好' }, { text: '.' }]);
  });

  it('reads "See also" lists without braces up to the end of the sentence or line', () => {
    expect(definitionSegments('A greeting. See also goodbye, farewell and so long.\nMore text')).toEqual([
      { text: 'A greeting. See also ' },
      { link: 'goodbye', text: 'goodbye' },
      { text: ', ' },
      { link: 'farewell', text: 'farewell' },
      { text: ' and ' },
      { link: 'so long', text: 'so long' },
      { text: '.\nMore text' },
    ]);
    expect(definitionSegments('see also: café; naïve')).toEqual([{ text: 'see also: ' }, { link: 'café', text: 'café' }, { text: '; ' }, { link: 'naïve', text: 'naïve' }]);
    // A list in braces is read by the brace rule; the line's end ends a list.
    expect(definitionSegments('See also {ftp}, {tftp}.')).toEqual([{ text: 'See also ' }, { link: 'ftp', text: 'ftp' }, { text: ', ' }, { link: 'tftp', text: 'tftp' }, { text: '.' }]);
    expect(definitionSegments('See also\nnext')).toEqual([{ text: 'See also\nnext' }]);
    // "See also" with nothing to link, and a word that only contains the phrase, stay text.
    expect(definitionSegments('See also.')).toEqual([{ text: 'See also.' }]);
    expect(definitionSegments('oversee also')).toEqual([{ text: 'oversee also' }]);
  });

  it('leaves braces that are not references as text: unclosed, empty, nested, too long, markup', () => {
    for (const text of ['a { b', '{}', '{ }', 'x}{', `{${'a'.repeat(MAX_REFERENCE_CHARS + 1)}}`, 'close } first']) {
      expect(definitionSegments(text), text).toEqual([{ text }]);
    }
    expect(definitionSegments('{a {b} c}')).toEqual([{ text: '{a ' }, { link: 'b', text: 'b' }, { text: ' c}' }]);
    // Markup in a definition is text like any other; a link to "<script>" is a word to look up, nothing more.
    expect(definitionSegments('<b>x</b> {<script>alert(1)</script>}')).toEqual([{ text: '<b>x</b> ' }, { link: '<script>alert(1)</script>', text: '<script>alert(1)</script>' }]);
    expect(definitionSegments('')).toEqual([]);
  });

  it('is linear: a long definition of unclosed braces and "see also"s is read at once', () => {
    const hostile = `${'{ see also '.repeat(20_000)}${'{a '.repeat(20_000)}`;
    const started = performance.now();
    const segments = definitionSegments(hostile);
    expect(performance.now() - started).toBeLessThan(1_000);
    expect(shown(segments)).toBe(hostile);
    expect(links(segments)).toEqual([]);
  });
});

describe('the body under the headword, as the page lays it out', () => {
  it('drops the headword line and the shared indentation, inside wrapped links too', () => {
    const hello = definitionSegments('hello\n    n 1: greeting [syn: {hello}, {how-\n         do-you-do}]\n');
    expect(bodySegments(hello, 'hello')).toEqual([
      { text: 'n 1: greeting [syn: ' },
      { link: 'hello', text: 'hello' },
      { text: ', ' },
      { link: 'how-do-you-do', text: 'how-\n     do-you-do' },
      { text: ']\n' },
    ]);
    expect(bodySegments([{ text: 'other\n  x\n' }], 'hello')).toEqual([{ text: 'other\n  x\n' }]);
    expect(bodySegments([{ text: '你好\n    hello (Mandarin greeting)\n' }], '你好')).toEqual([{ text: 'hello (Mandarin greeting)\n' }]);
    expect(bodySegments([], 'x')).toEqual([]);
  });
});

describe("the database's wrapping undone, for the reader's width", () => {
  it('joins hanging-indent continuations (after a hyphen without a space), keeps senses, lists and blank lines apart', () => {
    const body = bodySegments(definitionSegments('good\n    adv 1: in a good or proper or\n           satisfactory manner (a well-\n           argued thesis) [syn: {well}, {how-\n           do-you-do}]\n    2: completely\n       and absolutely\n\n    3: last\n'), 'good');
    expect(unwrapSegments(body)).toEqual([
      { text: 'adv 1: in a good or proper or satisfactory manner (a well-argued thesis) [syn: ' },
      { link: 'well', text: 'well' },
      { text: ', ' },
      { link: 'how-do-you-do', text: 'how-do-you-do' },
      { text: ']\n2: completely and absolutely\n\n3: last\n' },
    ]);
    const list = [{ text: 'one\ntwo\n  indented\nthree' }];
    expect(unwrapSegments(list)).toEqual([{ text: 'one\ntwo indented\nthree' }]);
    expect(unwrapSegments([{ text: '你好\n    hello\n' }])).toEqual([{ text: '你好 hello\n' }]);
    expect(unwrapSegments([])).toEqual([]);
  });
});

describe('unwrapping across segments', () => {
  it('joins a break that follows a link or whose indentation runs into the next segment', () => {
    expect(unwrapSegments([{ text: 'n 1: a ' }, { link: 'x', text: 'x' }, { text: '\n     b\n' }])).toEqual([{ text: 'n 1: a ' }, { link: 'x', text: 'x' }, { text: ' b\n' }]);
    expect(unwrapSegments([{ text: 'n 1: a\n  ' }, { text: '   b' }])).toEqual([{ text: 'n 1: a ' }, { text: 'b' }]);
  });
});
