/**
 * Looking words up in a server's databases: what DEFINE and MATCH do, apart from how their
 * answers are written. The DICT session (session.ts) and the portal's dictionary API
 * (portal/section.ts) both call these, so a browser and a `dict` client get the same entries, in
 * the same order, under the same limits: there is one dictionary implementation.
 */
import { performance } from 'node:perf_hooks';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import type { DictDatabase } from './database.js';
import type { DatabaseSet } from './databases.js';
import type { StrategyName } from './headwords.js';
import type { MatchListing } from './protocol.js';

/** One definition found: the database and its entry number. */
export interface FoundDefinition {
  db: DictDatabase;
  entry: number;
}

/** How a lookup spreads its limit over the databases. */
export interface LookupScope {
  /** `!`: stop at the first database that has something. */
  firstOnly: boolean;
  /** The limit counts all databases together (DICT's `limit_matches`), or each database on its own (the portal's suggestions). */
  limitPer: 'all' | 'database';
}

/** DICT's reading of a database name: one, or all for `*` and `!`; undefined for an unknown name. */
export function databasesNamed(databases: DatabaseSet, name: string): readonly DictDatabase[] | undefined {
  if (name === '*' || name === '!') return databases.list;
  const db = databases.get(name);
  return db ? [db] : undefined;
}

/** DEFINE's entries for `word`, at most `limit`, an entry that repeats the text just before it shown once (as dictd). */
export function findDefinitions(targets: readonly DictDatabase[], word: string, limit: number, firstOnly: boolean): FoundDefinition[] {
  const found: FoundDefinition[] = [];
  for (const db of targets) {
    const entries = db.index.exact(word, limit - found.length);
    for (const entry of entries) {
      const previous = found[found.length - 1];
      if (previous && previous.db === db && db.sameDefinition(previous.entry, entry)) continue;
      found.push({ db, entry });
    }
    if ((firstOnly && entries.length > 0) || found.length >= limit) break;
  }
  return found;
}

/** MATCH for every strategy but the regular expressions (which run in slices: {@link matchRegex}). */
export function matchHeadwords(targets: readonly DictDatabase[], strategy: Exclude<StrategyName, 're' | 'regexp'>, word: string, limit: number, scope: LookupScope): MatchListing[] {
  const found: MatchListing[] = [];
  for (const db of targets) {
    const room = scope.limitPer === 'all' ? limit - found.length : limit;
    const entries = db.index.match(strategy, word, room);
    for (const entry of entries) found.push({ database: db.name, word: db.index.shown(entry) });
    if ((scope.firstOnly && entries.length > 0) || (scope.limitPer === 'all' && found.length >= limit)) break;
  }
  return found;
}

/** A regular-expression MATCH used up its CPU time. */
export class MatchTimeLimitError extends Error {
  constructor(readonly limitMs: number) {
    super(`the regular expression took more than ${limitMs} ms`);
    this.name = 'MatchTimeLimitError';
  }
}

export interface RegexMatchOptions extends LookupScope {
  limit: number;
  /** CPU time the scan may take over all databases. */
  timeLimitMs: number;
  /** Polled between slices: true ends the scan early (the peer left); the result is then partial. */
  stopped(): boolean;
}

/**
 * `re` and `regexp`: the pattern runs as an automaton (linear time per headword, regex.ts), over
 * the headwords in slices of a few milliseconds with the event loop free in between, within a CPU
 * budget; other connections and requests are served meanwhile. Throws RegexError for a pattern
 * that cannot be compiled (or run cheaply), MatchTimeLimitError past the budget.
 */
export async function matchRegex(targets: readonly DictDatabase[], strategy: 're' | 'regexp', pattern: string, options: RegexMatchOptions): Promise<MatchListing[]> {
  const compiled = new Map<boolean, ReturnType<DictDatabase['index']['compileRegex']>>();
  const found: MatchListing[] = [];
  let spent = 0;
  for (const db of targets) {
    let regex = compiled.get(db.index.flags.caseSensitive);
    if (!regex) {
      regex = db.index.compileRegex(pattern, strategy === 're' ? 'extended' : 'basic');
      compiled.set(db.index.flags.caseSensitive, regex);
    }
    const room = options.limitPer === 'all' ? options.limit - found.length : options.limit;
    const entries: number[] = [];
    const size = db.index.size;
    let at = 0;
    while (at < size && entries.length < room) {
      const started = performance.now();
      const sliceEnd = started + 5;
      do at = db.index.regexScan(regex, at, Math.min(at + 256, size), entries, room);
      while (at < size && entries.length < room && performance.now() < sliceEnd);
      spent += performance.now() - started;
      if (spent > options.timeLimitMs) throw new MatchTimeLimitError(options.timeLimitMs);
      if (at < size) await yieldToLoop();
      if (options.stopped()) return found;
    }
    for (const entry of entries) found.push({ database: db.name, word: db.index.shown(entry) });
    if ((options.firstOnly && entries.length > 0) || (options.limitPer === 'all' && found.length >= options.limit)) break;
  }
  return found;
}
