/**
 * A database's headwords in memory, sorted, and the MATCH strategies over them: pure functions
 * that return entry numbers in index order, as dictd does, so that the same index gives the same
 * answers here and there.
 *
 * How dictd compares (index.c) depends on the flags a dictd index carries as headwords:
 *   - `00-database-allchars`, `-utf8` or `-8bit-new`: the query, normalised (white space to a
 *     space, letters lowered, and, without allchars, everything but letters, digits and spaces
 *     dropped), is compared byte for byte with column 1 of the index;
 *   - none of them: both sides are compared ignoring everything but letters, digits and spaces,
 *     and ignoring case ("sort -df" order).
 * Column 1 is what is compared; column 4, when present, is the headword as shown.
 */
import { compileRegex, type CompiledRegex, type RegexSyntax } from './regex.js';

export interface IndexFlags {
  /** `00-database-allchars`: every character counts, not only letters, digits and spaces. */
  allChars: boolean;
  /** `00-database-utf8`. */
  utf8: boolean;
  /** `00-database-8bit-new`: Latin-1 or another 8-bit character set. */
  eightBit: boolean;
  /** `00-database-case-sensitive`. */
  caseSensitive: boolean;
}

export const DEFAULT_FLAGS: IndexFlags = { allChars: false, utf8: false, eightBit: false, caseSensitive: false };

export interface StrategyDescription {
  name: string;
  description: string;
}

/** The strategies, in the order and with the words dictd uses for them. */
export const STRATEGIES: readonly StrategyDescription[] = [
  { name: 'exact', description: 'Match headwords exactly' },
  { name: 'prefix', description: 'Match prefixes' },
  { name: 'nprefix', description: 'Match prefixes (skip, count)' },
  { name: 'substring', description: 'Match substring occurring anywhere in a headword' },
  { name: 'suffix', description: 'Match suffixes' },
  { name: 're', description: 'POSIX 1003.2 (modern) regular expressions' },
  { name: 'regexp', description: 'Old (basic) regular expressions' },
  { name: 'soundex', description: 'Match using SOUNDEX algorithm' },
  { name: 'lev', description: 'Match headwords within Levenshtein distance one' },
  { name: 'word', description: 'Match separate words within headwords' },
  { name: 'first', description: 'Match the first word within headwords' },
  { name: 'last', description: 'Match the last word within headwords' },
];

export type StrategyName = 'exact' | 'prefix' | 'nprefix' | 'substring' | 'suffix' | 're' | 'regexp' | 'soundex' | 'lev' | 'word' | 'first' | 'last';

/** What `.` means in MATCH: dictd's default. */
export const DEFAULT_STRATEGY: StrategyName = 'lev';

export function isStrategy(name: string): name is StrategyName {
  return STRATEGIES.some((s) => s.name === name);
}

// ---------------------------------------------------------------------------------------------
// Characters

const isAsciiSpace = (c: number): boolean => c === 0x20 || (c >= 0x09 && c <= 0x0d);
const isAsciiAlnum = (c: number): boolean => (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
const isAsciiPunct = (c: number): boolean => (c >= 0x21 && c <= 0x2f) || (c >= 0x3a && c <= 0x40) || (c >= 0x5b && c <= 0x60) || (c >= 0x7b && c <= 0x7e);
const isLatin1Letter = (c: number): boolean => c >= 0xc0 && c <= 0xff && c !== 0xd7 && c !== 0xf7;

const UNICODE_SPACE = /^\s$/u;
const UNICODE_ALNUM = /^[\p{L}\p{N}]$/u;

/** One character lowered, only when it lowers to one character (C's towlower is one to one). */
function lowerChar(ch: string): string {
  const lower = ch.toLowerCase();
  return lower.length === ch.length || Array.from(lower).length === 1 ? lower : ch;
}

function lowerAscii(text: string): string {
  return /[A-Z]/.test(text) ? text.replace(/[A-Z]+/g, (s) => s.toLowerCase()) : text;
}

/** dictd's isspacepuncttab, with the end of the headword (its tab) counting as a separator. */
function separates(text: string, at: number): boolean {
  if (at < 0 || at >= text.length) return true;
  const c = text.charCodeAt(at);
  return isAsciiSpace(c) || isAsciiPunct(c);
}

/**
 * Compare two strings by code point (the byte order of their UTF-8). Plain `<` compares UTF-16
 * units, which puts U+10000 and above before U+E000–U+FFFF.
 */
export function compareKeys(a: string, b: string): number {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x !== y) {
      if (x >= 0xd800 && y >= 0xd800) {
        x = x >= 0xe000 ? x - 0x800 : x + 0x2000;
        y = y >= 0xe000 ? y - 0x800 : y + 0x2000;
      }
      return x - y;
    }
  }
  return a.length - b.length;
}

/** dictd's txt_soundex2: Knuth's soundex, where H and W separate like vowels. */
export function soundex(text: string): string {
  const map = '01230120022455012623010202';
  let result = '';
  let previous = '';
  for (let i = 0; i < text.length && result.length < 4; i++) {
    const c = text.charCodeAt(i);
    const upper = c >= 0x61 && c <= 0x7a ? c - 32 : c;
    if (upper < 0x41 || upper > 0x5a) continue;
    const transform = map[upper - 0x41]!;
    if (result.length === 0) result = String.fromCharCode(upper);
    else if (transform !== '0' && transform !== previous) result += transform;
    previous = transform;
  }
  return (result || 'Z').padEnd(4, '0');
}

// ---------------------------------------------------------------------------------------------
// The index

export interface HeadwordIndexOptions {
  /** Column 4 of the index, the headword as shown, where it differs from column 1 (same positions as the keys). */
  shown?: ReadonlyArray<string | undefined>;
  flags?: Partial<IndexFlags>;
  /** The letters `lev` tries (`00-database-alphabet`); default a–z. */
  alphabet?: string;
}

const DEFAULT_ALPHABET = 'abcdefghijklmnopqrstuvwxyz';

export class HeadwordIndex {
  readonly size: number;
  readonly flags: IndexFlags;
  readonly alphabet: readonly string[];
  /** Column 1, in sorted order. */
  readonly #raw: string[];
  /** What is compared: column 1 itself, or column 1 reduced to letters, digits and spaces, lowered. */
  readonly #keys: string[];
  /** The longest key's length in UTF-16 units: a query of more code points than this plus one is no edit away from any. */
  readonly #longestKey: number;
  /** Column 4 where it differs from column 1. */
  readonly #shown: Array<string | undefined>;
  /** What the substring strategies search: the key with ASCII letters lowered (dictd's tolowertab). */
  readonly #search: string[];
  /** Sorted position → position in the caller's list (undefined when the list was already sorted). */
  readonly #source: Int32Array | undefined;
  #suffixes: { reversed: string[]; entries: Int32Array } | undefined;
  readonly #bytewise: boolean;

  /** `columnOne`: column 1 of each index line, in the file's order. */
  constructor(columnOne: readonly string[], options: HeadwordIndexOptions = {}) {
    this.flags = { ...DEFAULT_FLAGS, ...options.flags };
    this.#bytewise = this.flags.allChars || this.flags.utf8 || this.flags.eightBit;
    this.alphabet = Array.from(options.alphabet ?? DEFAULT_ALPHABET);
    let raw = columnOne.slice();
    let keys = this.#bytewise ? raw : raw.map((r) => this.#reduce(r));
    let shown = options.shown ?? [];
    let sorted = true;
    for (let i = 1; i < keys.length && sorted; i++) sorted = compareKeys(keys[i - 1]!, keys[i]!) <= 0;
    if (!sorted) {
      const unsorted = keys;
      const order = Array.from(unsorted.keys()).sort((a, b) => compareKeys(unsorted[a]!, unsorted[b]!) || a - b);
      this.#source = Int32Array.from(order);
      const [r, s] = [raw, shown];
      raw = order.map((i) => r[i]!);
      keys = order.map((i) => unsorted[i]!);
      shown = s.length > 0 ? order.map((i) => s[i]) : [];
    }
    this.size = raw.length;
    this.#raw = raw;
    this.#keys = keys;
    let longest = 0;
    for (const key of keys) if (key.length > longest) longest = key.length;
    this.#longestKey = longest;
    this.#shown = shown.length > 0 ? shown.map((s, i) => (s !== undefined && s !== raw[i] ? s : undefined)) : [];
    const caseSensitive = this.flags.caseSensitive;
    let search = keys;
    if (!caseSensitive) {
      for (let i = 0; i < keys.length; i++) {
        if (/[A-Z]/.test(keys[i]!)) {
          search = keys.map(lowerAscii);
          break;
        }
      }
    }
    this.#search = search;
  }

  /** Letters, digits and spaces of `raw`, lowered (dictd's isspacealnum and tolowertab). */
  #reduce(raw: string): string {
    let out = '';
    for (const ch of raw) {
      const c = ch.codePointAt(0)!;
      if (isAsciiSpace(c) || isAsciiAlnum(c) || c >= 0x80) out += c < 0x80 && !this.flags.caseSensitive ? ch.toLowerCase() : ch;
    }
    return out;
  }

  /** The headword as MATCH and DEFINE show it. */
  shown(entry: number): string {
    return this.#shown[entry] ?? this.#raw[entry]!;
  }

  /** Column 1 of the entry. */
  raw(entry: number): string {
    return this.#raw[entry]!;
  }

  /** Where the entry was in the list given to the constructor. */
  source(entry: number): number {
    return this.#source ? this.#source[entry]! : entry;
  }

  /** A query as dictd's tolower_alnumspace prepares it. */
  normalize(word: string): string {
    const { allChars, caseSensitive, eightBit } = this.flags;
    let out = '';
    for (const ch of word) {
      const c = ch.codePointAt(0)!;
      if (c < 0x80 ? isAsciiSpace(c) : UNICODE_SPACE.test(ch)) {
        out += ' ';
        continue;
      }
      const keep = allChars || (c < 0x80 ? isAsciiAlnum(c) : eightBit ? isLatin1Letter(c) : UNICODE_ALNUM.test(ch));
      if (!keep) continue;
      out += caseSensitive ? ch : c < 0x80 ? (c >= 0x41 && c <= 0x5a ? String.fromCharCode(c + 32) : ch) : lowerChar(ch);
    }
    return out;
  }

  /** The first sorted position whose key is not below `key`. */
  lowerBound(key: string): number {
    let lo = 0;
    let hi = this.size;
    const keys = this.#keys;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (compareKeys(keys[mid]!, key) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  // ------------------------------------------------------------------------------------------
  // Strategies. Each takes the query as the client sent it and returns at most `limit` entries.

  /** Every entry whose key equals the query (DEFINE, and MATCH exact). */
  exact(word: string, limit = Infinity): number[] {
    const key = this.#query(word);
    if (key === undefined) return [];
    const out: number[] = [];
    for (let i = this.lowerBound(key); i < this.size && out.length < limit && this.#keys[i] === key; i++) out.push(i);
    return out;
  }

  /** Is there an entry with exactly this key? */
  has(word: string): boolean {
    return this.exact(word, 1).length > 0;
  }

  prefix(word: string, limit = Infinity, skip = 0): number[] {
    const key = this.#query(word);
    if (key === undefined) return [];
    const out: number[] = [];
    let toSkip = skip;
    for (let i = this.lowerBound(key); i < this.size && out.length < limit && this.#keys[i]!.startsWith(key); i++) {
      if (toSkip > 0) toSkip--;
      else out.push(i);
    }
    return out;
  }

  /** `skip#count#word`: `count` prefix matches after the first `skip` (dictd's nprefix). */
  nprefix(word: string, limit = Infinity): number[] {
    const match = /^(\d+)#(\d+)#/.exec(word);
    if (!match) return this.prefix(word, limit);
    const count = Number(match[2]);
    if (count <= 0) return [];
    return this.prefix(word.slice(match[0].length), Math.min(limit, count), Number(match[1]));
  }

  /** Prefix matches followed by the end of the headword, a space or punctuation. */
  first(word: string, limit = Infinity): number[] {
    const key = this.#query(word);
    if (key === undefined) return [];
    const out: number[] = [];
    for (let i = this.lowerBound(key); i < this.size && out.length < limit && this.#keys[i]!.startsWith(key); i++) {
      if (separates(this.#keys[i]!, key.length)) out.push(i);
    }
    return out;
  }

  substring(word: string, limit = Infinity): number[] {
    const key = this.#searchQuery(word);
    if (key === undefined) return [];
    const out: number[] = [];
    const search = this.#search;
    for (let i = 0; i < this.size && out.length < limit; i++) if (search[i]!.includes(key)) out.push(i);
    return out;
  }

  /** Headwords ending in the query, found through a reversed-word index built on first use. */
  suffix(word: string, limit = Infinity): number[] {
    const key = this.#searchQuery(word);
    if (key === undefined) return [];
    return this.#endingWith(key, limit, () => true);
  }

  /** Suffix matches preceded by the start of the headword, a space or punctuation. */
  last(word: string, limit = Infinity): number[] {
    const key = this.#searchQuery(word);
    if (key === undefined) return [];
    const search = this.#search;
    return this.#endingWith(key, limit, (i) => separates(search[i]!, search[i]!.length - key.length - 1));
  }

  /** The query as a whole word of the headword: bounded by its ends, spaces or punctuation. */
  word(word: string, limit = Infinity): number[] {
    const key = this.#searchQuery(word);
    if (key === undefined) return [];
    const out: number[] = [];
    const search = this.#search;
    for (let i = 0; i < this.size && out.length < limit; i++) {
      const text = search[i]!;
      for (let at = text.indexOf(key); at !== -1; at = text.indexOf(key, at + 1)) {
        if (separates(text, at - 1) && separates(text, at + key.length)) {
          out.push(i);
          break;
        }
      }
    }
    return out;
  }

  /** Headwords that start with the query's first character and share its soundex code. */
  soundex(word: string, limit = Infinity): number[] {
    const key = this.#query(word);
    if (key === undefined || key === '') return [];
    const first = String.fromCodePoint(key.codePointAt(0)!);
    const code = soundex(key);
    const out: number[] = [];
    for (let i = this.lowerBound(first); i < this.size && out.length < limit && this.#keys[i]!.startsWith(first); i++) {
      if (soundex(this.#raw[i]!) === code) out.push(i);
    }
    return out;
  }

  /**
   * Headwords one edit away, generated in dictd's order: deletions, transpositions, insertions
   * after each character, insertions at the start, substitutions (UTF-8 databases: dictd's own
   * order for them). The query itself is found too when an edit gives it back.
   */
  lev(word: string, limit = Infinity): number[] {
    const key = this.#query(word);
    if (key === undefined) return [];
    const chars = Array.from(key);
    // Every candidate one edit away has at least n - 1 code points, so at least as many UTF-16
    // units: past the longest key there is nothing to find, and building ~2 × n × alphabet
    // candidates of a long query (a peer's 200 characters, a CJK alphabet of thousands) would
    // cost a core for nothing.
    if (chars.length - 1 > this.#longestKey) return [];
    const alphabet = this.alphabet;
    const out: number[] = [];
    const tried = new Set<string>();
    const check = (candidate: string): boolean => {
      if (tried.has(candidate)) return out.length < limit;
      tried.add(candidate);
      const at = this.lowerBound(candidate);
      if (at < this.size && this.#keys[at] === candidate) out.push(at);
      return out.length < limit;
    };
    const n = chars.length;
    const join = (parts: string[]) => parts.join('');
    if (this.flags.utf8) {
      for (let i = 1; i < n; i++) {
        const t = chars.slice();
        [t[i - 1], t[i]] = [t[i]!, t[i - 1]!];
        if (!check(join(t))) return out;
      }
      for (const letter of alphabet) if (!check(key + letter)) return out;
      for (let i = 0; i < n; i++) {
        const head = join(chars.slice(0, i));
        if (!check(head + join(chars.slice(i + 1)))) return out;
        for (const letter of alphabet) {
          if (!check(head + letter + join(chars.slice(i)))) return out;
          if (!check(head + letter + join(chars.slice(i + 1)))) return out;
        }
      }
      return out;
    }
    for (let i = 0; i < n; i++) if (!check(join(chars.slice(0, i)) + join(chars.slice(i + 1)))) return out;
    for (let i = 1; i < n; i++) {
      const t = chars.slice();
      [t[i - 1], t[i]] = [t[i]!, t[i - 1]!];
      if (!check(join(t))) return out;
    }
    for (let i = 0; i < n; i++) {
      const head = join(chars.slice(0, i + 1));
      const tail = join(chars.slice(i + 1));
      for (const letter of alphabet) if (!check(head + letter + tail)) return out;
    }
    for (const letter of alphabet) if (!check(letter + key)) return out;
    for (let i = 0; i < n; i++) {
      const head = join(chars.slice(0, i));
      const tail = join(chars.slice(i + 1));
      for (const letter of alphabet) {
        if (letter !== chars[i] && !check(head + letter + tail)) return out;
      }
    }
    return out;
  }

  /** Compile a `re` or `regexp` pattern; scan with regexScan (in slices, so a long scan can yield). */
  compileRegex(pattern: string, syntax: RegexSyntax): CompiledRegex {
    return compileRegex(pattern, { syntax, ignoreCase: !this.flags.caseSensitive });
  }

  /** Test entries [from, to) against `regex`, appending matches to `out` until it holds `limit`. Returns where it stopped. */
  regexScan(regex: CompiledRegex, from: number, to: number, out: number[], limit: number): number {
    const raw = this.#raw;
    let i = from;
    for (; i < to && out.length < limit; i++) if (regex.test(raw[i]!)) out.push(i);
    return i;
  }

  /** Run one strategy to completion (re and regexp included, in one go). */
  match(strategy: StrategyName, word: string, limit = Infinity): number[] {
    switch (strategy) {
      case 'exact':
        return this.exact(word, limit);
      case 'prefix':
        return this.prefix(word, limit);
      case 'nprefix':
        return this.nprefix(word, limit);
      case 'substring':
        return this.substring(word, limit);
      case 'suffix':
        return this.suffix(word, limit);
      case 'soundex':
        return this.soundex(word, limit);
      case 'lev':
        return this.lev(word, limit);
      case 'word':
        return this.word(word, limit);
      case 'first':
        return this.first(word, limit);
      case 'last':
        return this.last(word, limit);
      case 're':
      case 'regexp': {
        const out: number[] = [];
        this.regexScan(this.compileRegex(word, strategy === 're' ? 'extended' : 'basic'), 0, this.size, out, limit);
        return out;
      }
      default: {
        const unreachable: never = strategy;
        return unreachable;
      }
    }
  }

  /** The normalised query, or undefined when normalising emptied a non-empty query (dictd: no match). */
  #query(word: string): string | undefined {
    const key = this.normalize(word);
    return key === '' && word !== '' ? undefined : key;
  }

  #searchQuery(word: string): string | undefined {
    const key = this.#query(word);
    if (key === undefined || key === '') return key === '' ? '' : undefined;
    return this.flags.caseSensitive ? key : lowerAscii(key);
  }

  #endingWith(key: string, limit: number, accept: (entry: number) => boolean): number[] {
    const suffixes = this.#suffixIndex();
    const reversed = Array.from(key).reverse().join('');
    const found: number[] = [];
    let lo = 0;
    let hi = suffixes.reversed.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (suffixes.reversed[mid]! < reversed) lo = mid + 1;
      else hi = mid;
    }
    for (let i = lo; i < suffixes.reversed.length && suffixes.reversed[i]!.startsWith(reversed); i++) {
      const entry = suffixes.entries[i]!;
      if (accept(entry)) found.push(entry);
    }
    found.sort((a, b) => a - b);
    return found.length > limit ? found.slice(0, limit) : found;
  }

  #suffixIndex(): { reversed: string[]; entries: Int32Array } {
    if (this.#suffixes) return this.#suffixes;
    const reversedWords = this.#search.map((text) => (/[\ud800-\udfff]/.test(text) ? Array.from(text).reverse().join('') : text.split('').reverse().join('')));
    // Any consistent order keeps the words that share a prefix together: UTF-16 order is the fastest.
    const order = Array.from(reversedWords.keys()).sort((a, b) => {
      const x = reversedWords[a]!;
      const y = reversedWords[b]!;
      return x < y ? -1 : x > y ? 1 : a - b;
    });
    this.#suffixes = { reversed: order.map((i) => reversedWords[i]!), entries: Int32Array.from(order) };
    return this.#suffixes;
  }
}
