/**
 * POSIX regular expressions for the `re` (extended) and `regexp` (basic) MATCH strategies,
 * evaluated without backtracking.
 *
 * dictd hands a client's pattern to the C library's regcomp/regexec (REG_ICASE | REG_NOSUB); a
 * JavaScript RegExp would backtrack, so `(a+)+$` against a long headword could stall the event
 * loop for every client. Here a pattern is parsed into a Thompson NFA and run as a lazily built
 * DFA (the RE2 approach): time is linear in the length of the headword, whatever the pattern.
 * The NFA's size is capped, and so is the DFA's cache (it is emptied and rebuilt past the cap).
 *
 * Supported: alternation, grouping, `* + ? {m} {m,} {m,n}`, `.`, bracket expressions with
 * ranges, `[:class:]`, `[=c=]` and `[.c.]`, anchors `^ $`, escaped characters, and the GNU
 * shorthands `\w \W \s \S`; in basic syntax `\( \) \{ \} \| \+ \?` and context-dependent `^ $ *`.
 * Not supported (an error explains it): back-references `\1`…`\9` and word-boundary assertions
 * `\b \B \< \>`, which a finite automaton cannot or does not express.
 *
 * Matching is case-insensitive, as dictd's, and a pattern matches if it matches anywhere in the
 * headword.
 */

export type RegexSyntax = 'extended' | 'basic';

export class RegexError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RegexError';
  }
}

export interface RegexOptions {
  syntax: RegexSyntax;
  /** Most NFA states a pattern may compile to (repetition counts multiply). Default 5,000. */
  maxStates?: number;
  /** Most DFA states kept before the cache is emptied. Default 2,000. */
  maxCachedStates?: number;
  /** Default true (dictd uses REG_ICASE). */
  ignoreCase?: boolean;
}

// ---------------------------------------------------------------------------------------------
// Character sets

type CharTest = (codePoint: number) => boolean;

interface CharSet {
  negated: boolean;
  singles: Set<number>;
  ranges: Array<[number, number]>;
  classes: CharTest[];
}

const CLASS_TESTS: Record<string, CharTest> = {
  alpha: (c) => /\p{L}/u.test(String.fromCodePoint(c)),
  digit: (c) => c >= 0x30 && c <= 0x39,
  alnum: (c) => /[\p{L}\p{Nd}]/u.test(String.fromCodePoint(c)),
  upper: (c) => /\p{Lu}/u.test(String.fromCodePoint(c)),
  lower: (c) => /\p{Ll}/u.test(String.fromCodePoint(c)),
  space: (c) => /\s/u.test(String.fromCodePoint(c)),
  blank: (c) => c === 0x20 || c === 0x09,
  punct: (c) => (c >= 0x21 && c <= 0x2f) || (c >= 0x3a && c <= 0x40) || (c >= 0x5b && c <= 0x60) || (c >= 0x7b && c <= 0x7e) || (c > 0x7f && /\p{P}|\p{S}/u.test(String.fromCodePoint(c))),
  print: (c) => c >= 0x20 && c !== 0x7f && !/\p{Cc}/u.test(String.fromCodePoint(c)),
  graph: (c) => c > 0x20 && c !== 0x7f && !/[\p{Cc}\s]/u.test(String.fromCodePoint(c)),
  cntrl: (c) => /\p{Cc}/u.test(String.fromCodePoint(c)),
  xdigit: (c) => (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66),
};

const WORD_TEST: CharTest = (c) => c === 0x5f || /[\p{L}\p{Nd}]/u.test(String.fromCodePoint(c));

function inSet(set: CharSet, c: number): boolean {
  if (set.singles.has(c)) return true;
  for (const [lo, hi] of set.ranges) if (c >= lo && c <= hi) return true;
  for (const test of set.classes) if (test(c)) return true;
  return false;
}

/** `variants`: the character and, ignoring case, its other cases; a negated set excludes them all. */
function setMatches(set: CharSet, variants: readonly number[]): boolean {
  let found = false;
  for (const v of variants) {
    if (inSet(set, v)) {
      found = true;
      break;
    }
  }
  return found !== set.negated;
}

function singleSet(c: number): CharSet {
  return { negated: false, singles: new Set([c]), ranges: [], classes: [] };
}

const ANY: CharSet = { negated: true, singles: new Set(), ranges: [], classes: [] };

// ---------------------------------------------------------------------------------------------
// Syntax tree

type Node =
  | { kind: 'empty' }
  | { kind: 'set'; set: CharSet }
  | { kind: 'bol' }
  | { kind: 'eol' }
  | { kind: 'concat'; items: Node[] }
  | { kind: 'alt'; items: Node[] }
  | { kind: 'repeat'; item: Node; min: number; max: number /* Infinity for unbounded */ };

const DUP_MAX = 255;

class Parser {
  #pos = 0;
  readonly #chars: number[];
  readonly #basic: boolean;

  constructor(pattern: string, syntax: RegexSyntax) {
    this.#chars = Array.from(pattern, (ch) => ch.codePointAt(0)!);
    this.#basic = syntax === 'basic';
  }

  parse(): Node {
    const node = this.#alternation(0);
    if (this.#pos < this.#chars.length) throw new RegexError(this.#basic ? 'unmatched \\)' : 'unmatched )');
    return node;
  }

  #peek(offset = 0): number | undefined {
    return this.#chars[this.#pos + offset];
  }

  #atAlternationBar(): boolean {
    return this.#basic ? this.#peek() === 0x5c && this.#peek(1) === 0x7c : this.#peek() === 0x7c;
  }

  #atGroupClose(): boolean {
    return this.#basic ? this.#peek() === 0x5c && this.#peek(1) === 0x29 : this.#peek() === 0x29;
  }

  #alternation(depth: number): Node {
    const items = [this.#concatenation(depth)];
    while (this.#atAlternationBar()) {
      this.#pos += this.#basic ? 2 : 1;
      items.push(this.#concatenation(depth));
    }
    return items.length === 1 ? items[0]! : { kind: 'alt', items };
  }

  #concatenation(depth: number): Node {
    const items: Node[] = [];
    while (this.#pos < this.#chars.length && !this.#atAlternationBar() && !(depth > 0 && this.#atGroupClose())) {
      if (!this.#basic && this.#atGroupClose()) break; // unmatched ')' reported by the caller
      // In a basic RE, `^` and `*` are special at the start (and `*` right after a leading `^`).
      const atStart = items.length === 0 || (this.#basic && items.length === 1 && items[0]!.kind === 'bol');
      let atom = this.#atom(atStart, items.length === 0);
      if (!(this.#basic && atom.kind === 'bol')) atom = this.#quantifiers(atom);
      items.push(atom);
    }
    if (items.length === 0) return { kind: 'empty' };
    return items.length === 1 ? items[0]! : { kind: 'concat', items };
  }

  #atom(atStart: boolean, first: boolean): Node {
    const c = this.#peek()!;
    if (this.#basic) return this.#basicAtom(c, atStart, first);
    switch (c) {
      case 0x28: {
        // (
        this.#pos++;
        const inner = this.#alternation(1);
        if (this.#peek() !== 0x29) throw new RegexError('unmatched (');
        this.#pos++;
        return inner;
      }
      case 0x2a:
      case 0x2b:
      case 0x3f:
        throw new RegexError(`${String.fromCodePoint(c)} has nothing to repeat`);
      case 0x7b:
        // A `{` that does not start an interval is an error in POSIX ERE.
        throw new RegexError('{ has nothing to repeat');
      case 0x5e:
        this.#pos++;
        return { kind: 'bol' };
      case 0x24:
        this.#pos++;
        return { kind: 'eol' };
      case 0x2e:
        this.#pos++;
        return { kind: 'set', set: ANY };
      case 0x5b:
        return { kind: 'set', set: this.#bracket() };
      case 0x5c:
        return this.#escape();
      default:
        this.#pos++;
        return { kind: 'set', set: singleSet(c) };
    }
  }

  #basicAtom(c: number, atStart: boolean, first: boolean): Node {
    if (c === 0x5c) {
      const next = this.#peek(1);
      if (next === 0x28) {
        this.#pos += 2;
        const inner = this.#alternation(1);
        if (!this.#atGroupClose()) throw new RegexError('unmatched \\(');
        this.#pos += 2;
        return inner;
      }
      if (next === 0x7b) throw new RegexError('\\{ has nothing to repeat');
      return this.#escape();
    }
    if (c === 0x5e && first) {
      this.#pos++;
      return { kind: 'bol' };
    }
    if (c === 0x24 && this.#atBasicEnd(this.#pos + 1)) {
      this.#pos++;
      return { kind: 'eol' };
    }
    if (c === 0x2a && atStart) {
      // A leading `*` is an ordinary character in a basic RE.
      this.#pos++;
      return { kind: 'set', set: singleSet(c) };
    }
    if (c === 0x2e) {
      this.#pos++;
      return { kind: 'set', set: ANY };
    }
    if (c === 0x5b) return { kind: 'set', set: this.#bracket() };
    this.#pos++;
    return { kind: 'set', set: singleSet(c) };
  }

  /** In a basic RE, `$` anchors only at the end of the RE or of a group or alternative. */
  #atBasicEnd(at: number): boolean {
    const c = this.#chars[at];
    if (c === undefined) return true;
    return c === 0x5c && (this.#chars[at + 1] === 0x29 || this.#chars[at + 1] === 0x7c);
  }

  #escape(): Node {
    const next = this.#peek(1);
    if (next === undefined) throw new RegexError('trailing backslash');
    this.#pos += 2;
    if (next >= 0x31 && next <= 0x39) throw new RegexError('back-references (\\1 to \\9) are not supported');
    switch (next) {
      case 0x77: // w
        return { kind: 'set', set: { negated: false, singles: new Set(), ranges: [], classes: [WORD_TEST] } };
      case 0x57: // W
        return { kind: 'set', set: { negated: true, singles: new Set(), ranges: [], classes: [WORD_TEST] } };
      case 0x73: // s
        return { kind: 'set', set: { negated: false, singles: new Set(), ranges: [], classes: [CLASS_TESTS.space!] } };
      case 0x53: // S
        return { kind: 'set', set: { negated: true, singles: new Set(), ranges: [], classes: [CLASS_TESTS.space!] } };
      case 0x62: // b
      case 0x42: // B
      case 0x3c: // <
      case 0x3e: // >
      case 0x60: // `
      case 0x27: // '
        throw new RegexError(`\\${String.fromCodePoint(next)} (a word or buffer boundary) is not supported`);
      default:
        return { kind: 'set', set: singleSet(next) };
    }
  }

  #bracket(): CharSet {
    const chars = this.#chars;
    this.#pos++; // [
    const set: CharSet = { negated: false, singles: new Set(), ranges: [], classes: [] };
    if (chars[this.#pos] === 0x5e) {
      set.negated = true;
      this.#pos++;
    }
    let first = true;
    while (true) {
      const c = chars[this.#pos];
      if (c === undefined) throw new RegexError('unmatched [');
      if (c === 0x5d && !first) {
        this.#pos++;
        return set;
      }
      first = false;
      let low: number;
      if (c === 0x5b && (chars[this.#pos + 1] === 0x3a || chars[this.#pos + 1] === 0x3d || chars[this.#pos + 1] === 0x2e)) {
        const kind = chars[this.#pos + 1]!;
        const close = this.#findBracketTerm(kind);
        const name = String.fromCodePoint(...chars.slice(this.#pos + 2, close));
        this.#pos = close + 2;
        if (kind === 0x3a) {
          const test = CLASS_TESTS[name];
          if (!test) throw new RegexError(`unknown character class [:${name}:]`);
          set.classes.push(test);
          continue;
        }
        const symbol = Array.from(name);
        if (symbol.length !== 1) throw new RegexError(`unknown collating element ${name}`);
        low = symbol[0]!.codePointAt(0)!;
        if (kind === 0x3d) {
          set.singles.add(low);
          continue;
        }
      } else {
        low = c;
        this.#pos++;
      }
      if (chars[this.#pos] === 0x2d && chars[this.#pos + 1] !== undefined && chars[this.#pos + 1] !== 0x5d) {
        this.#pos++;
        let high = chars[this.#pos]!;
        if (high === 0x5b && chars[this.#pos + 1] === 0x2e) {
          const close = this.#findBracketTerm(0x2e);
          const symbol = Array.from(String.fromCodePoint(...chars.slice(this.#pos + 2, close)));
          if (symbol.length !== 1) throw new RegexError('bad range end');
          high = symbol[0]!.codePointAt(0)!;
          this.#pos = close + 2;
        } else {
          this.#pos++;
        }
        if (high < low) throw new RegexError(`invalid range ${String.fromCodePoint(low)}-${String.fromCodePoint(high)}`);
        set.ranges.push([low, high]);
      } else {
        set.singles.add(low);
      }
    }
  }

  /** The index of the `:`/`=`/`.` of the `:]` that ends a bracket term opened at #pos. */
  #findBracketTerm(kind: number): number {
    for (let i = this.#pos + 2; i + 1 < this.#chars.length; i++) {
      if (this.#chars[i] === kind && this.#chars[i + 1] === 0x5d) return i;
    }
    throw new RegexError('unterminated [: :], [= =] or [. .] in a bracket expression');
  }

  #quantifiers(atom: Node): Node {
    let node = atom;
    while (this.#pos < this.#chars.length) {
      const c = this.#peek()!;
      let min: number;
      let max: number;
      if (c === 0x2a) {
        this.#pos++;
        [min, max] = [0, Infinity];
      } else if (!this.#basic && (c === 0x2b || c === 0x3f)) {
        this.#pos++;
        [min, max] = c === 0x2b ? [1, Infinity] : [0, 1];
      } else if (this.#basic && c === 0x5c && (this.#peek(1) === 0x2b || this.#peek(1) === 0x3f)) {
        const which = this.#peek(1);
        this.#pos += 2;
        [min, max] = which === 0x2b ? [1, Infinity] : [0, 1];
      } else if ((!this.#basic && c === 0x7b) || (this.#basic && c === 0x5c && this.#peek(1) === 0x7b)) {
        this.#pos += this.#basic ? 2 : 1;
        [min, max] = this.#interval();
      } else {
        break;
      }
      if (node.kind === 'bol' || node.kind === 'eol') throw new RegexError('an anchor cannot be repeated');
      node = { kind: 'repeat', item: node, min, max };
    }
    return node;
  }

  #interval(): [number, number] {
    const readNumber = (): number | undefined => {
      let text = '';
      while (this.#peek() !== undefined && this.#peek()! >= 0x30 && this.#peek()! <= 0x39) text += String.fromCodePoint(this.#chars[this.#pos++]!);
      return text === '' ? undefined : Number(text);
    };
    const min = readNumber();
    if (min === undefined) throw new RegexError('invalid repetition count');
    let max = min;
    if (this.#peek() === 0x2c) {
      this.#pos++;
      max = readNumber() ?? Infinity;
    }
    const closes = this.#basic ? this.#peek() === 0x5c && this.#peek(1) === 0x7d : this.#peek() === 0x7d;
    if (!closes) throw new RegexError(this.#basic ? 'unmatched \\{' : 'unmatched {');
    this.#pos += this.#basic ? 2 : 1;
    if (min > DUP_MAX || (max !== Infinity && max > DUP_MAX)) throw new RegexError(`repetition counts above ${DUP_MAX} are not allowed`);
    if (max < min) throw new RegexError('invalid repetition range');
    return [min, max];
  }
}

// ---------------------------------------------------------------------------------------------
// NFA (Thompson construction)

const enum Op {
  Char,
  Split,
  Bol,
  Eol,
  Match,
}

interface NfaState {
  op: Op;
  set?: CharSet;
  out: number;
  out1: number;
}

class NfaBuilder {
  readonly states: NfaState[] = [];
  readonly #maxStates: number;

  constructor(maxStates: number) {
    this.#maxStates = maxStates;
  }

  add(op: Op, set?: CharSet): number {
    if (this.states.length >= this.#maxStates) throw new RegexError(`the pattern is too large (over ${this.#maxStates} states)`);
    this.states.push({ op, set, out: -1, out1: -1 });
    return this.states.length - 1;
  }

  /** Compile `node` so that it continues at `next`; returns its entry state. Built back to front. */
  compile(node: Node, next: number): number {
    switch (node.kind) {
      case 'empty':
        return next;
      case 'set': {
        const s = this.add(Op.Char, node.set);
        this.states[s]!.out = next;
        return s;
      }
      case 'bol':
      case 'eol': {
        const s = this.add(node.kind === 'bol' ? Op.Bol : Op.Eol);
        this.states[s]!.out = next;
        return s;
      }
      case 'concat': {
        let entry = next;
        for (let i = node.items.length - 1; i >= 0; i--) entry = this.compile(node.items[i]!, entry);
        return entry;
      }
      case 'alt': {
        let entry = this.compile(node.items[node.items.length - 1]!, next);
        for (let i = node.items.length - 2; i >= 0; i--) {
          const split = this.add(Op.Split);
          this.states[split]!.out = this.compile(node.items[i]!, next);
          this.states[split]!.out1 = entry;
          entry = split;
        }
        return entry;
      }
      case 'repeat': {
        const { item, min, max } = node;
        let entry = next;
        if (max === Infinity) {
          // item* : split(item → split, next)
          const split = this.add(Op.Split);
          this.states[split]!.out1 = next;
          this.states[split]!.out = this.compile(item, split);
          entry = split;
        } else {
          for (let i = min; i < max; i++) {
            const split = this.add(Op.Split);
            this.states[split]!.out = this.compile(item, entry);
            this.states[split]!.out1 = next;
            entry = split;
          }
        }
        for (let i = 0; i < min; i++) entry = this.compile(item, entry);
        return entry;
      }
      default: {
        const unreachable: never = node;
        return unreachable;
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Lazy DFA

interface DfaState {
  key: string;
  /** The NFA states after following every ε edge (Bol only in the initial state; Eol kept as a member). */
  states: Int32Array;
  /** A Match state is among them: the pattern has matched. */
  matched: boolean;
  /** The pattern matches if the input ends here (an Eol leads to Match). */
  matchesAtEnd: boolean;
  ascii: Array<DfaState | undefined>;
  other: Map<number, DfaState> | undefined;
}

function foldVariants(c: number): number[] {
  const ch = String.fromCodePoint(c);
  const lower = ch.toLowerCase();
  const upper = ch.toUpperCase();
  const result = [c];
  if (lower !== ch && Array.from(lower).length === 1) result.push(lower.codePointAt(0)!);
  if (upper !== ch && Array.from(upper).length === 1) result.push(upper.codePointAt(0)!);
  return result;
}

/** A compiled pattern: `test(headword)` says whether it matches anywhere in it. */
export class CompiledRegex {
  readonly source: string;
  readonly stateCount: number;
  readonly #nfa: NfaState[];
  readonly #start: number;
  readonly #ignoreCase: boolean;
  readonly #maxCached: number;
  #cache = new Map<string, DfaState>();
  #initial: DfaState;
  /**
   * The state with no thread alive but the restart at the next position, when that restart can
   * never match (the pattern starts with `^`): reaching it ends the search early.
   */
  readonly #deadKey: string | undefined;
  /** Scratch for closures: the generation each NFA state was last added in. */
  readonly #mark: Int32Array;
  #generation = 0;

  constructor(pattern: string, options: RegexOptions) {
    this.source = pattern;
    this.#ignoreCase = options.ignoreCase ?? true;
    this.#maxCached = options.maxCachedStates ?? 2_000;
    const tree = new Parser(pattern, options.syntax).parse();
    const builder = new NfaBuilder(options.maxStates ?? 5_000);
    const match = builder.add(Op.Match);
    this.#start = builder.compile(tree, match);
    this.#nfa = builder.states;
    this.stateCount = this.#nfa.length;
    this.#mark = new Int32Array(this.#nfa.length);
    this.#initial = this.#state(this.#closure([this.#start], true));
    const restart = this.#closure([this.#start], false);
    this.#deadKey = this.#canMatchFrom(restart) ? undefined : restart.join(',');
  }

  /** Can Match be reached from these states by any input, without passing a `^`? */
  #canMatchFrom(seeds: number[]): boolean {
    const seen = new Set<number>();
    const stack = [...seeds];
    while (stack.length > 0) {
      const s = stack.pop()!;
      if (s < 0 || seen.has(s)) continue;
      seen.add(s);
      const nfa = this.#nfa[s]!;
      if (nfa.op === Op.Match) return true;
      if (nfa.op === Op.Split) stack.push(nfa.out, nfa.out1);
      else if (nfa.op !== Op.Bol) stack.push(nfa.out);
    }
    return false;
  }

  /** Does the pattern match anywhere in `text`? Linear in text.length. */
  test(text: string): boolean {
    let state = this.#initial;
    if (state.matched) return true;
    for (let i = 0; i < text.length; i++) {
      let c = text.charCodeAt(i);
      if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
        const low = text.charCodeAt(i + 1);
        if (low >= 0xdc00 && low <= 0xdfff) {
          c = (c - 0xd800) * 0x400 + (low - 0xdc00) + 0x10000;
          i++;
        }
      }
      const cached = c < 128 ? state.ascii[c] : state.other?.get(c);
      state = cached ?? this.#step(state, c);
      if (state.matched) return true;
      if (state.key === this.#deadKey) return false;
    }
    return state.matchesAtEnd;
  }

  #step(from: DfaState, c: number): DfaState {
    const variants = this.#ignoreCase ? foldVariants(c) : [c];
    const next: number[] = [];
    for (const s of from.states) {
      const nfa = this.#nfa[s]!;
      if (nfa.op !== Op.Char) continue;
      if (setMatches(nfa.set!, variants)) next.push(nfa.out);
    }
    next.push(this.#start); // unanchored search: a match may begin at any position
    if (this.#cache.size >= this.#maxCached) {
      // Past the cap: start the cache afresh (the initial state is rebuilt on demand too).
      this.#cache = new Map();
      this.#initial = this.#state(this.#closure([this.#start], true));
    }
    const target = this.#state(this.#closure(next, false));
    if (c < 128) from.ascii[c] = target;
    else (from.other ??= new Map()).set(c, target);
    return target;
  }

  #closure(seeds: number[], atStart: boolean): number[] {
    const generation = ++this.#generation;
    const mark = this.#mark;
    const result: number[] = [];
    const stack = seeds.slice().reverse();
    while (stack.length > 0) {
      const s = stack.pop()!;
      if (s < 0 || mark[s] === generation) continue;
      mark[s] = generation;
      const nfa = this.#nfa[s]!;
      switch (nfa.op) {
        case Op.Split:
          stack.push(nfa.out1, nfa.out);
          break;
        case Op.Bol:
          if (atStart) stack.push(nfa.out);
          break;
        case Op.Eol:
          result.push(s);
          break;
        default:
          result.push(s);
      }
    }
    return result.sort((a, b) => a - b);
  }

  #state(states: number[]): DfaState {
    const key = states.join(',');
    const cached = this.#cache.get(key);
    if (cached) return cached;
    let matched = false;
    const eols: number[] = [];
    for (const s of states) {
      const op = this.#nfa[s]!.op;
      if (op === Op.Match) matched = true;
      else if (op === Op.Eol) eols.push(this.#nfa[s]!.out);
    }
    let matchesAtEnd = matched;
    if (!matchesAtEnd && eols.length > 0) matchesAtEnd = this.#acceptsAtEnd(eols);
    const state: DfaState = { key, states: Int32Array.from(states), matched, matchesAtEnd, ascii: new Array<DfaState | undefined>(128), other: undefined };
    this.#cache.set(key, state);
    return state;
  }

  /** From the states after an `$`, can Match be reached by ε edges at the end of the input? */
  #acceptsAtEnd(seeds: number[]): boolean {
    const seen = new Set<number>();
    const stack = [...seeds];
    while (stack.length > 0) {
      const s = stack.pop()!;
      if (s < 0 || seen.has(s)) continue;
      seen.add(s);
      const nfa = this.#nfa[s]!;
      if (nfa.op === Op.Match) return true;
      if (nfa.op === Op.Split) stack.push(nfa.out, nfa.out1);
      else if (nfa.op === Op.Eol) stack.push(nfa.out);
      // Bol at the end can only hold for empty input, which the initial state covers.
    }
    return false;
  }
}

/** Compile a POSIX pattern; throws RegexError with a reason a user can act on. */
export function compileRegex(pattern: string, options: RegexOptions): CompiledRegex {
  return new CompiledRegex(pattern, options);
}
