import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compareKeys, HeadwordIndex, soundex } from '../../../src/services/dict/headwords.js';

/** An all-characters index like dict-wn's: lower-case headwords compared byte for byte. */
const WORDS = [
  "'hood",
  '.22',
  '00-database-short',
  'bellow',
  'cello',
  'fellow',
  'hail-fellow',
  'hall',
  'halle',
  'hallo',
  'halloo',
  'hallow',
  'halo',
  'hell',
  'hell to pay',
  "hell's kitchen",
  'hello',
  'hello',
  'hello girl',
  'hollo',
  'hullo',
  'othello',
  'say hello',
  'yellow',
];
const allChars = new HeadwordIndex(WORDS, { flags: { allChars: true } });
const shown = (index: HeadwordIndex, entries: number[]) => entries.map((e) => index.shown(e));

describe('headword index: all characters significant (dict-wn)', () => {
  it('exact finds every entry of a headword, case-folded query, spaces kept', () => {
    expect(shown(allChars, allChars.exact('HELLO'))).toEqual(['hello', 'hello']);
    expect(shown(allChars, allChars.exact('hell to pay'))).toEqual(['hell to pay']);
    expect(allChars.exact('hell  to pay')).toEqual([]);
    expect(shown(allChars, allChars.exact('.22'))).toEqual(['.22']);
    expect(allChars.exact('nothing')).toEqual([]);
  });

  it('prefix, nprefix and first', () => {
    expect(shown(allChars, allChars.prefix('hell'))).toEqual(['hell', 'hell to pay', "hell's kitchen", 'hello', 'hello', 'hello girl']);
    expect(shown(allChars, allChars.prefix('hell', 2))).toEqual(['hell', 'hell to pay']);
    expect(shown(allChars, allChars.nprefix('1#2#hell'))).toEqual(['hell to pay', "hell's kitchen"]);
    expect(shown(allChars, allChars.first('hell'))).toEqual(['hell', 'hell to pay', "hell's kitchen"]);
  });

  it('substring, suffix, word and last', () => {
    expect(shown(allChars, allChars.substring('ELLO'))).toEqual(['bellow', 'cello', 'fellow', 'hail-fellow', 'hello', 'hello', 'hello girl', 'othello', 'say hello', 'yellow']);
    expect(shown(allChars, allChars.suffix('llo'))).toEqual(['cello', 'hallo', 'hello', 'hello', 'hollo', 'hullo', 'othello', 'say hello']);
    expect(shown(allChars, allChars.word('fellow'))).toEqual(['fellow', 'hail-fellow']);
    expect(shown(allChars, allChars.word('hello'))).toEqual(['hello', 'hello', 'hello girl', 'say hello']);
    expect(shown(allChars, allChars.last('hello'))).toEqual(['hello', 'hello', 'say hello']);
    expect(shown(allChars, allChars.suffix('llo', 3))).toEqual(['cello', 'hallo', 'hello']);
  });

  it('lev answers a query longer than every headword by two or more at once, without building a candidate (a peer\'s 200-character word costs nothing)', () => {
    const index = new HeadwordIndex(['hello', 'help', 'world'], { alphabet: 'abcdefghijklmnopqrstuvwxyz的是不了' });
    let probes = 0;
    const lowerBound = index.lowerBound.bind(index);
    index.lowerBound = (key: string) => {
      probes++;
      return lowerBound(key);
    };
    expect(index.lev('x'.repeat(200))).toEqual([]);
    expect(index.lev('helloo' + 'o')).toEqual([]);
    expect(probes).toBe(0);
    // One longer than the longest headword can still be one deletion away.
    expect(shown(index, index.lev('helloo'))).toEqual(['hello']);
  });

  it('lev tries edits in dictd\'s order (deletions, transpositions, insertions, substitutions)', () => {
    // "hallo" itself comes back from the transposition of its two l's; "hello" once (the first entry).
    expect(shown(allChars, allChars.lev('hallo'))).toEqual(['halo', 'hall', 'hallo', 'halloo', 'hallow', 'hello', 'hollo', 'hullo', 'halle']);
    expect(shown(allChars, allChars.lev('hallo', 3))).toEqual(['halo', 'hall', 'hallo']);
  });

  it('soundex keeps the first letter and compares codes (dictd\'s txt_soundex2)', () => {
    expect(soundex('hello')).toBe('H400');
    expect(soundex('Robert')).toBe('R163');
    expect(soundex('Ashcraft')).toBe('A226');
    expect(soundex('')).toBe('Z000');
    expect(shown(allChars, allChars.soundex('hallo'))).toEqual(['hall', 'halle', 'hallo', 'halloo', 'hallow', 'halo', 'hell', 'hello', 'hello', 'hollo', 'hullo']);
  });

  it('regular expressions run on column 1', () => {
    expect(shown(allChars, allChars.match('re', '^h.l+o$'))).toEqual(['hallo', 'halo', 'hello', 'hello', 'hollo', 'hullo']);
    expect(shown(allChars, allChars.match('regexp', 'l\\{2\\}o w'))).toEqual([]);
  });
});

describe('headword index: letters, digits and spaces only (dictfmt\'s default)', () => {
  const index = new HeadwordIndex(['Hell-Bent', 'hell', 'hello', 'Hello!', 'Zürich'], { shown: [undefined, undefined, undefined, undefined, 'ZÜRICH'] });

  it('compares ignoring case and punctuation on both sides, and sorts by that key', () => {
    expect(shown(index, index.exact('hellbent'))).toEqual(['Hell-Bent']);
    expect(shown(index, index.exact("HELL-BENT!"))).toEqual(['Hell-Bent']);
    expect(shown(index, index.exact('hello'))).toEqual(['hello', 'Hello!']);
    expect(shown(index, index.prefix('hell'))).toEqual(['hell', 'Hell-Bent', 'hello', 'Hello!']);
    expect(shown(index, index.exact('zürich'))).toEqual(['ZÜRICH']);
    expect(index.exact('!!!')).toEqual([]);
  });

  it('keeps where each entry came from when it had to sort', () => {
    expect(index.source(index.exact('hellbent')[0]!)).toBe(0);
    expect(index.source(index.exact('zürich')[0]!)).toBe(4);
  });
});

describe('compareKeys', () => {
  it('orders by code point, as the UTF-8 bytes sort (property)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }), fc.string({ unit: 'grapheme' }), (a, b) => {
        const bytes = Buffer.compare(Buffer.from(a), Buffer.from(b));
        expect(Math.sign(compareKeys(a, b))).toBe(bytes);
      }),
    );
  });
});
