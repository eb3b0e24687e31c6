import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compileRegex, RegexError } from '../../../src/services/dict/regex.js';

const ere = (pattern: string) => compileRegex(pattern, { syntax: 'extended' });
const bre = (pattern: string) => compileRegex(pattern, { syntax: 'basic' });

describe('POSIX extended regular expressions (MATCH re)', () => {
  it.each([
    ['^hel+o$', 'hello', true],
    ['^hel+o$', 'hello!', false],
    ['ell', 'HELLO', true],
    ['^(ab|cd)+$', 'abcdab', true],
    ['^(ab|cd)+$', 'abc', false],
    ['colou?r', 'color', true],
    ['x{2,3}', 'axxb', true],
    ['^x{2,3}$', 'xxxx', false],
    ['^x{2,}$', 'xxxx', true],
    ['[[:digit:]][[:alpha:]]', 'a1b', true],
    ['[^a-c]', 'abc', false],
    ['[^a]', 'A', false],
    ['[]x]', ']', true],
    ['[a-]', '-', true],
    ['a.c', 'a c', true],
    ['\\.', 'a.b', true],
    ['\\.', 'ab', false],
    ['\\w+\\s\\w+', 'hell to', true],
    ['^$', '', true],
    ['a$b', 'a$b', false],
    ['caf.', 'café', true],
    ['^你', '你好', true],
    ['', 'anything', true],
  ])('%s against %j is %s', (pattern, text, expected) => {
    expect(ere(pattern).test(text)).toBe(expected);
  });

  it('agrees with JavaScript RegExp on the syntax both share (property)', () => {
    const atom = fc.oneof(fc.constantFrom('a', 'b', '.', '[ab]', '[^a]'), fc.constant('(a|b)'));
    const piece = fc.tuple(atom, fc.constantFrom('', '*', '+', '?', '{1,2}')).map(([a, q]) => a + q);
    const pattern = fc.tuple(fc.constantFrom('', '^'), fc.array(piece, { minLength: 1, maxLength: 5 }), fc.constantFrom('', '$')).map(([s, p, e]) => s + p.join('') + e);
    fc.assert(
      fc.property(pattern, fc.stringMatching(/^[abAB]{0,8}$/), (p, text) => {
        expect(ere(p).test(text)).toBe(new RegExp(p, 'i').test(text));
      }),
      { numRuns: 500 },
    );
  });

  it('takes linear time on patterns built to make a backtracking engine run forever', () => {
    const text = `${'a'.repeat(20_000)}!`;
    for (const pattern of ['^(a+)+$', '^(a|aa)*$', '(a*)*b', '^(a|a?)+$', '(.*a){12}b']) {
      const started = performance.now();
      expect(ere(pattern).test(text)).toBe(false);
      expect(performance.now() - started).toBeLessThan(5_000); // backtracking would take years
    }
  });

  it('explains what it refuses', () => {
    for (const [pattern, reason] of [
      ['(ab', /unmatched \(/],
      ['ab)', /unmatched \)/],
      ['*a', /nothing to repeat/],
      ['a{3', /unmatched \{/],
      ['a{2,1}', /invalid repetition range/],
      ['a{300}', /above 255/],
      ['[z-a]', /invalid range/],
      ['[[:nope:]]', /unknown character class/],
      ['(a)\\1', /back-references/],
      ['\\bword', /boundary/],
      ['((a{100}){100}){100}', /too large/],
      ['[abc', /unmatched \[/],
    ] as const) {
      expect(() => ere(pattern), pattern).toThrow(RegexError);
      expect(() => ere(pattern), pattern).toThrow(reason);
    }
  });
});

describe('POSIX basic regular expressions (MATCH regexp)', () => {
  it.each([
    ['\\(ab\\)*c$', 'ababc', true],
    ['a+', 'a+', true],
    ['a+', 'aa', false],
    ['a\\+', 'aa', true],
    ['a\\{2\\}', 'xaay', true],
    ['^*a', '*a', true],
    ['a|b', 'a|b', true],
    ['x\\|y', 'y', true],
    ['a^b', 'a^b', true],
    ['a$b', 'a$b', true],
    ['^ab$', 'ab', true],
    ['\\(^a\\)', 'ba', false],
  ])('%s against %j is %s', (pattern, text, expected) => {
    expect(bre(pattern).test(text)).toBe(expected);
  });
});
