/**
 * The dictionary's section of the browser portal (issue #19, core/portal.ts): the page at
 * `/dict` and its API under `/portal/api/dict/`. Anyone may look words up; a signed-in account's
 * lookups go into the same history the DICT `XHISTORY`, the seed protocol's `H` and `wharf dict`
 * read. The lookups are the DICT server's own (lookup.ts over the server's DatabaseSet): one
 * dictionary, three front ends.
 *
 *   GET /match?q=PREFIX&strategy=prefix&db=*&limit=20   headwords, per database
 *   GET /define?word=WORD&db=*                          definitions, cross-references as links
 *   GET /databases, GET /strategies                     what SHOW DB and SHOW STRAT say
 *   GET /history?limit=20                               the account's latest lookups, newest first
 *
 * Limits: the query's length and characters, the counts asked for, a request rate per address,
 * and for the regular-expression strategies the DICT server's CPU budget, a wall-clock deadline
 * and a bound on how many run at once.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { WharfError } from '../../../core/errors.js';
import type { Logger } from '../../../core/logger.js';
import { portalAssetPath, type PortalRequest, type PortalSection } from '../../../core/portal.js';
import { sendJson, sendPortalError } from '../../../core/portal-http.js';
import { RateLimiter } from '../../../core/rate-limiter.js';
import type { DictDatabase } from '../database.js';
import { DEFAULT_STRATEGY, isStrategy, STRATEGIES, type StrategyName } from '../headwords.js';
import { databasesNamed, findDefinitions, matchHeadwords, matchRegex, MatchTimeLimitError, type LookupScope } from '../lookup.js';
import type { MatchListing } from '../protocol.js';
import { RegexError } from '../regex.js';
import type { DictState } from '../session.js';
import type { DatabaseMatches, DatabasesAnswer, DefineAnswer, HistoryAnswer, MatchAnswer, StrategiesAnswer } from './api-types.js';
import { definitionSegments } from './cross-references.js';

export interface DictPortalLimits {
  /** Longest query, in characters (a DICT command line is at most 1024 bytes). */
  maxQueryChars: number;
  /** Most headwords per database one /match answers (the `limit` parameter's ceiling). */
  maxMatchesPerDatabase: number;
  /** Headwords per database when `limit` is not given: a list of suggestions. */
  defaultMatches: number;
  /** Most rows one /history answers, and the default. */
  maxHistory: number;
  defaultHistory: number;
  /** Wall-clock time one regular-expression match may take (its CPU time is the DICT server's regexTimeLimitMs). */
  regexDeadlineMs: number;
  /** Regular-expression matches running at once; more are refused (503) rather than queued. */
  regexInFlight: number;
  /** Requests per second per address, and the burst (typing sends one request per pause). */
  requestsPerSecond: number;
  requestBurst: number;
}

export const DEFAULT_PORTAL_LIMITS: DictPortalLimits = {
  maxQueryChars: 200,
  maxMatchesPerDatabase: 100,
  defaultMatches: 20,
  maxHistory: 100,
  defaultHistory: 20,
  regexDeadlineMs: 5_000,
  regexInFlight: 2,
  requestsPerSecond: 20,
  requestBurst: 60,
};

/** Headwords offered when a word has no definition: `lev`, as the `dict` client's "perhaps you mean". */
const SUGGESTIONS_PER_DATABASE = 10;

const CONTROL_CHARACTER = /\p{Cc}/u;

/** A query parameter that must be there: one line of text, not empty, not too long. */
function queryText(query: URLSearchParams, name: string, maxChars: number): string {
  const value = query.get(name);
  if (value === null || value.trim() === '') throw new WharfError('EBADVALUE', `say what to look up: ?${name}=WORD`);
  if ([...value].length > maxChars) throw new WharfError('EBADVALUE', `the ${name} is longer than ${maxChars} characters`);
  if (CONTROL_CHARACTER.test(value)) throw new WharfError('EBADVALUE', `the ${name} contains a control character (a line break, a tab)`);
  return value.trim();
}

/** `limit`: a whole number from 1 to `max`, or the default. */
function countParameter(query: URLSearchParams, name: string, fallback: number, max: number): number {
  const value = query.get(name);
  if (value === null) return fallback;
  if (!/^\d{1,6}$/.test(value) || Number(value) < 1 || Number(value) > max) throw new WharfError('EBADVALUE', `${name} is a whole number from 1 to ${max}`);
  return Number(value);
}

/** `db`: a database name, `*` (all) or `!` (the first that has the word). */
function databasesParameter(state: DictState, query: URLSearchParams): { name: string; targets: readonly DictDatabase[] } {
  const name = query.get('db') ?? '*';
  const targets = name.length <= 64 ? databasesNamed(state.databases, name) : undefined;
  if (!targets) throw new WharfError('ENODB', `there is no database ${JSON.stringify(name.slice(0, 64))}; GET databases lists them`);
  return { name, targets };
}

function strategyParameter(query: URLSearchParams): StrategyName {
  const given = (query.get('strategy') ?? 'prefix').toLowerCase();
  const strategy = given === '.' ? DEFAULT_STRATEGY : given;
  if (!isStrategy(strategy)) throw new WharfError('ENOSTRAT', `there is no strategy ${JSON.stringify(given.slice(0, 32))}; GET strategies lists them`);
  return strategy;
}

/** MATCH's listings grouped by database, a repeat of the same word in one database shown once (as dictd). */
export function groupMatches(found: readonly MatchListing[]): DatabaseMatches[] {
  const groups: Array<{ database: string; words: string[] }> = [];
  for (const { database, word } of found) {
    let group = groups[groups.length - 1];
    if (group?.database !== database) {
      group = { database, words: [] };
      groups.push(group);
    }
    if (group.words[group.words.length - 1] !== word) group.words.push(word);
  }
  return groups;
}

/** Answers the section's API; one per running dict service. */
export class DictPortalApi {
  readonly #state: DictState;
  readonly #logger: Logger;
  readonly #limits: DictPortalLimits;
  readonly #rate: RateLimiter;
  #regexRunning = 0;

  constructor(state: DictState, logger: Logger, limits: Partial<DictPortalLimits> = {}) {
    this.#state = state;
    this.#logger = logger;
    this.#limits = { ...DEFAULT_PORTAL_LIMITS, ...limits };
    this.#rate = new RateLimiter({ ratePerSecond: this.#limits.requestsPerSecond, burst: this.#limits.requestBurst, maxKeys: 10_000 });
  }

  /** The PortalSection the dict service adds to the host's registry. */
  section(): PortalSection {
    return {
      id: 'dict',
      title: { en: 'Dictionary', zh: '词典' },
      order: 20,
      needsAccount: false,
      script: portalAssetPath('pages/dict.js'),
      handle: (req, res, request) => this.handle(req, res, request),
    };
  }

  async handle(req: IncomingMessage, res: ServerResponse, request: PortalRequest): Promise<void> {
    try {
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        req.resume();
        sendJson(res, 405, { error: 'the dictionary answers GET only', code: 'EUSAGE' }, { Allow: 'GET, HEAD' });
        return;
      }
      if (!this.#rate.take(request.peer)) throw new WharfError('ETHROTTLED', 'too many lookups from your address; wait a moment');
      const answer = await this.#answer(req, res, request);
      if (answer !== undefined) sendJson(res, 200, answer);
    } catch (error) {
      if (!res.destroyed) sendPortalError(res, error, this.#logger);
    }
  }

  async #answer(req: IncomingMessage, res: ServerResponse, request: PortalRequest): Promise<unknown> {
    switch (request.path) {
      case '/match':
        return this.#match(request.query, res);
      case '/define':
        return this.#define(request, req.method === 'GET' && !fetchedForAnotherPage(req));
      case '/databases':
        return { databases: this.#state.databases.list.map((db) => ({ name: db.name, description: db.description })) } satisfies DatabasesAnswer;
      case '/strategies':
        return { strategies: STRATEGIES.map(({ name, description }) => ({ name, description })), default: DEFAULT_STRATEGY } satisfies StrategiesAnswer;
      case '/history':
        return this.#history(request);
      default:
        throw new WharfError('EMISSING', 'the dictionary has no such request: match, define, databases, strategies, history');
    }
  }

  async #match(query: URLSearchParams, res: ServerResponse): Promise<MatchAnswer | undefined> {
    const word = queryText(query, 'q', this.#limits.maxQueryChars);
    const strategy = strategyParameter(query);
    const { name, targets } = databasesParameter(this.#state, query);
    const limit = countParameter(query, 'limit', this.#limits.defaultMatches, this.#limits.maxMatchesPerDatabase);
    const scope: LookupScope = { firstOnly: name === '!', limitPer: 'database' };
    const found = strategy === 're' || strategy === 'regexp' ? await this.#matchRegex(targets, strategy, word, limit, scope, res) : matchHeadwords(targets, strategy, word, limit, scope);
    if (found === undefined) return undefined;
    this.#state.counters.matches += found.length;
    return { query: word, strategy, matches: groupMatches(found) };
  }

  /**
   * The DICT server's guarded scan: an automaton (no backtracking), in slices, within the CPU
   * budget; here also a wall-clock deadline, a bound on scans at once, and an early stop when
   * the browser gives up (a newer keystroke aborts the request). Undefined: nobody is waiting.
   */
  async #matchRegex(targets: readonly DictDatabase[], strategy: 're' | 'regexp', pattern: string, limit: number, scope: LookupScope, res: ServerResponse): Promise<MatchListing[] | undefined> {
    if (this.#regexRunning >= this.#limits.regexInFlight) throw new WharfError('EOVERLOAD', 'the server is busy with other regular-expression searches; try again in a moment');
    this.#regexRunning++;
    const deadline = performance.now() + this.#limits.regexDeadlineMs;
    const gone = () => res.destroyed || res.socket?.destroyed === true;
    let late = false;
    const stopped = () => {
      late = performance.now() > deadline;
      return late || gone();
    };
    try {
      const found = await matchRegex(targets, strategy, pattern, { ...scope, limit, timeLimitMs: this.#state.limits.regexTimeLimitMs, stopped });
      if (gone()) return undefined;
      // Stopped at the deadline: `found` is partial, and a partial list would read as the answer.
      if (late) throw new WharfError('EOVERLOAD', `the search took longer than ${this.#limits.regexDeadlineMs} ms; try a narrower pattern`);
      return found;
    } catch (error) {
      if (error instanceof RegexError) throw new WharfError('EBADVALUE', `bad regular expression: ${error.message}`);
      if (error instanceof MatchTimeLimitError) throw new WharfError('EBADVALUE', `${error.message}; try a narrower pattern`);
      throw error;
    } finally {
      this.#regexRunning--;
    }
  }

  async #define(request: PortalRequest, record: boolean): Promise<DefineAnswer> {
    const word = queryText(request.query, 'word', this.#limits.maxQueryChars);
    const { name, targets } = databasesParameter(this.#state, request.query);
    const found = findDefinitions(targets, word, this.#state.limits.maxDefinitions, name === '!');
    this.#state.counters.definitions += found.length;
    const definitions = found.map(({ db, entry }) => ({ database: db.name, description: db.description, headword: db.index.shown(entry), segments: definitionSegments(db.definition(entry)) }));
    const suggestions = found.length > 0 ? [] : groupMatches(matchHeadwords(targets, 'lev', word, SUGGESTIONS_PER_DATABASE, { firstOnly: false, limitPer: 'database' }));
    const recorded = record && (await this.#record(request, word, name));
    return { word, definitions, suggestions, recorded };
  }

  /** A signed-in account's lookup goes into its history before the answer, as the seed protocol's `Q` does, so /history right after shows it. */
  async #record(request: PortalRequest, word: string, database: string): Promise<boolean> {
    const history = this.#state.history;
    if (request.user === undefined || history === undefined) return false;
    try {
      await history.record(request.user.name, word, database, new Date());
      return true;
    } catch (error) {
      this.#logger.warn({ err: error, account: request.user.name }, 'could not record a lookup');
      return false;
    }
  }

  async #history(request: PortalRequest): Promise<HistoryAnswer> {
    const user = request.user;
    if (user === undefined) throw new WharfError('EAUTH', 'sign in to keep and see your lookup history');
    const history = this.#state.history;
    if (history === undefined) return { history: [] };
    const limit = countParameter(request.query, 'limit', this.#limits.defaultHistory, this.#limits.maxHistory);
    let rows;
    try {
      rows = await history.latest(user.name, limit);
    } catch (error) {
      this.#logger.warn({ err: error, account: user.name }, 'could not read the history');
      throw new WharfError('ESTORE', 'the lookup history cannot be read now; try again later');
    }
    return { history: rows.map((row) => ({ word: row.word, database: row.database, at: row.at.toISOString() })) };
  }
}

/**
 * A look-up the browser made for a page that is not the portal's own: an `<img>` or a link on a
 * page elsewhere on this host (another port: SameSite cookies still go with it) or another site.
 * It is answered, but not written into the account's history, which only the person's own
 * look-ups may fill. Without `Sec-Fetch-Site` (not a browser, or an old one) it is the person's.
 */
function fetchedForAnotherPage(req: IncomingMessage): boolean {
  const site = req.headers['sec-fetch-site'];
  return site === 'same-site' || site === 'cross-site';
}
