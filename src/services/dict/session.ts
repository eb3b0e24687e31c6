/**
 * One DICT connection's commands: each command line in, its whole response out as one string.
 * Most commands answer at once (lookups are in memory); logging in, registering, reading the
 * history and regular-expression MATCHes answer later (a Promise), and the caller keeps replies
 * in order.
 *
 * The seed's dictionary features ride on top as extension commands no standard client sends:
 * `SASLAUTH PLAIN` logs in with a wharf account (SASLAUTH is RFC 2229's own SASL command), `XREGISTER`
 * creates an account, `XHISTORY` lists the account's latest lookups, `XLOGOUT` forgets the login.
 * Every DEFINE by a logged-in account is recorded with its time.
 */
import { WharfError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import { loginFailureLine, type Account, type VerifyResult } from '../../store/index.js';
import type { DictDatabase } from './database.js';
import type { DatabaseSet } from './databases.js';
import { DEFAULT_STRATEGY, isStrategy, STRATEGIES } from './headwords.js';
import type { LookupHistory } from './history.js';
import { databasesNamed, findDefinitions, matchHeadwords, matchRegex, MatchTimeLimitError, type LookupScope } from './lookup.js';
import {
  bannerLine,
  Code,
  CRLF,
  databaseList,
  decodeSaslPlain,
  definitionHeader,
  formatHistoryLine,
  matchList,
  parseCommandBytes,
  parseCommandLine,
  statusLine,
  strategyList,
  textBlock,
  textResponse,
  type MatchListing,
} from './protocol.js';
import { RegexError } from './regex.js';

/** The account operations the session uses (the store's Accounts fits). */
export interface SessionAccounts {
  verify(name: string, password: string, clientIp: string): Promise<VerifyResult>;
  register(name: string, password: string, clientIp: string): Promise<Account>;
}

export interface DictLimits {
  /** Most headwords one MATCH returns (dictd: limit_matches, 2000). */
  maxMatches: number;
  /** Most definitions one DEFINE returns (dictd: limit_definitions, 200). */
  maxDefinitions: number;
  /** CPU time one regular-expression MATCH may take before it is refused. */
  regexTimeLimitMs: number;
  /** Lookups XHISTORY returns by default (the seed's 10). */
  historyLength: number;
}

export const DEFAULT_LIMITS: DictLimits = { maxMatches: 2_000, maxDefinitions: 200, regexTimeLimitMs: 2_000, historyLength: 10 };

/** Most recently used definitions, as ready-to-send text blocks. */
export class DefinitionCache {
  readonly #blocks = new Map<string, string>();
  readonly #capacity: number;
  hits = 0;
  misses = 0;

  constructor(capacity: number) {
    this.#capacity = capacity;
  }

  block(db: DictDatabase, entry: number): string {
    if (this.#capacity === 0) return textBlock(db.definition(entry));
    const key = `${db.name}\n${entry}`;
    const cached = this.#blocks.get(key);
    if (cached !== undefined) {
      this.hits++;
      this.#blocks.delete(key);
      this.#blocks.set(key, cached);
      return cached;
    }
    this.misses++;
    const block = textBlock(db.definition(entry));
    this.#blocks.set(key, block);
    if (this.#blocks.size > this.#capacity) this.#blocks.delete(this.#blocks.keys().next().value!);
    return block;
  }
}

export interface ServerCounters {
  startedAt: number;
  connections: number;
  open: number;
  definitions: number;
  matches: number;
}

/** What every session of one server shares. */
export interface DictState {
  databases: DatabaseSet;
  cache: DefinitionCache;
  limits: DictLimits;
  /** `wharf 0.1.0 on Linux 6.8.0`: the banner's and SHOW SERVER's first words. */
  software: string;
  hostname: string;
  counters: ServerCounters;
  accounts?: SessionAccounts;
  history?: LookupHistory;
  logger?: Logger;
}

export interface Reply {
  text: string;
  /** Close the connection once this is written (QUIT). */
  close?: boolean;
}

const HELP_TEXT = `DEFINE database word         -- look up word in database
MATCH database strategy word -- match word in database using strategy
SHOW DB                      -- list all accessible databases
SHOW DATABASES               -- list all accessible databases
SHOW STRAT                   -- list available matching strategies
SHOW STRATEGIES              -- list available matching strategies
SHOW INFO database           -- provide information about the database
SHOW SERVER                  -- provide site-specific information
OPTION MIME                  -- use MIME headers
CLIENT info                  -- identify client to server
SASLAUTH PLAIN [response]    -- log in with a wharf account (SASL PLAIN)
SASLRESP response            -- the response SASLAUTH asked for
STATUS                       -- display status information
HELP                         -- display this help information
QUIT                         -- terminate connection

wharf's extensions (the online dictionary's accounts and history):

XREGISTER user password      -- create an account
XHISTORY [count]             -- your latest lookups (default 10)
XLOGOUT                      -- forget the login
`;

let sessionCounter = 0;

function reply(code: number, text: string, close = false): Reply {
  return { text: statusLine(code, text), close };
}

const ILLEGAL = (detail?: string) => reply(Code.ILLEGAL_PARAMETERS, detail ? `syntax error, illegal parameters: ${detail}` : 'syntax error, illegal parameters');

function formatUptime(ms: number): string {
  let seconds = Math.floor(ms / 1000);
  const days = Math.floor(seconds / 86_400);
  seconds -= days * 86_400;
  const hours = Math.floor(seconds / 3600);
  seconds -= hours * 3600;
  const minutes = Math.floor(seconds / 60);
  seconds -= minutes * 60;
  return [days ? `${days}d` : '', hours ? `${hours}h` : '', minutes ? `${minutes}m` : '', `${seconds}s`].filter(Boolean).join(' ');
}

function sizeColumn(bytes: number): string {
  const kb = Math.floor(bytes / 1024);
  return kb > 10240 ? `${String(Math.floor(kb / 1024)).padStart(10)} MB` : `${String(kb).padStart(10)} kB`;
}

export class DictSession {
  readonly #state: DictState;
  readonly #clientIp: string;
  readonly #msgId: string;
  #user: string | undefined;
  #mime = false;
  #saslPending = false;
  #closed = false;
  /** History writes in flight: XHISTORY waits for them, so it sees the lookups made before it. */
  #writes: Promise<void> = Promise.resolve();

  constructor(state: DictState, peer: { address: string }) {
    this.#state = state;
    this.#clientIp = peer.address;
    this.#msgId = `<${++sessionCounter}.${process.pid}.${Math.floor(Date.now() / 1000)}@${state.hostname}>`;
  }

  /** The logged-in account, if any. */
  get user(): string | undefined {
    return this.#user;
  }

  greeting(): string {
    const capabilities = ['mime'];
    if (this.#state.accounts) capabilities.push('sasl', 'xregister');
    if (this.#state.history) capabilities.push('xhistory');
    return bannerLine(`${this.#state.hostname} ${this.#state.software}`, capabilities, this.#msgId);
  }

  /** The connection is gone: stop any long MATCH. */
  close(): void {
    this.#closed = true;
  }

  /** Answer one command line (without its CRLF; bytes, or text). An empty line gets no answer, as in dictd. */
  execute(line: string | Uint8Array): Reply | Promise<Reply> {
    const parsed = typeof line === 'string' ? parseCommandLine(line) : parseCommandBytes(line);
    if (!parsed.ok) return ILLEGAL(parsed.reason);
    const [command, ...args] = parsed.words;
    if (command === undefined) return { text: '' };
    const name = command.toUpperCase();
    if (name !== 'SASLRESP') this.#saslPending = false;
    switch (name) {
      case 'DEFINE':
        return this.#define(args);
      case 'MATCH':
        return this.#match(args);
      case 'SHOW':
        return this.#show(args);
      case 'OPTION':
        if (args.length === 1 && args[0]!.toUpperCase() === 'MIME') {
          this.#mime = true;
          return reply(Code.OK, 'ok - using MIME headers');
        }
        return ILLEGAL();
      case 'CLIENT':
        this.#state.logger?.debug({ client: args.join(' ').slice(0, 200), peer: this.#clientIp }, 'client');
        return reply(Code.OK, 'ok');
      case 'STATUS': {
        const c = this.#state.counters;
        return reply(Code.STATUS, `status [d/m = ${c.definitions}/${c.matches}; up ${formatUptime(Date.now() - c.startedAt)}; ${c.connections} connections, ${c.open} open]`);
      }
      case 'HELP':
        return { text: textResponse(Code.HELP, 'help text follows', HELP_TEXT, this.#mime) };
      case 'QUIT':
        return reply(Code.BYE, 'bye', true);
      case 'AUTH':
        return reply(Code.NOT_IMPLEMENTED, 'command not implemented: AUTH needs the shared secret and wharf keeps only scrypt hashes; use SASLAUTH PLAIN');
      case 'SASLAUTH':
        return this.#saslAuth(args);
      case 'SASLRESP':
        if (!this.#saslPending) return ILLEGAL('no SASLAUTH is waiting for a response');
        this.#saslPending = false;
        if (args.length !== 1) return ILLEGAL();
        return this.#plain(args[0]!);
      case 'XREGISTER':
        return this.#register(args);
      case 'XHISTORY':
        return this.#history(args);
      case 'XLOGOUT':
        this.#user = undefined;
        return reply(Code.OK, 'ok, logged out');
      default:
        return reply(Code.SYNTAX_ERROR, 'unknown command');
    }
  }

  #define(args: string[]): Reply {
    if (args.length !== 2) return ILLEGAL();
    const [dbName, word] = args as [string, string];
    const targets = databasesNamed(this.#state.databases, dbName);
    if (!targets) return reply(Code.INVALID_DATABASE, 'invalid database, use SHOW DB for list');
    this.#remember(word, dbName);
    const found = findDefinitions(targets, word, this.#state.limits.maxDefinitions, dbName === '!');
    if (found.length === 0) return reply(Code.NO_MATCH, 'no match');
    this.#state.counters.definitions += found.length;
    const cache = this.#state.cache;
    let text = statusLine(Code.DEFINITIONS_RETRIEVED, `${found.length} definitions retrieved`);
    for (const { db, entry } of found) {
      text += definitionHeader(db.index.shown(entry), db.name, db.description);
      if (this.#mime) text += db.utf8 ? `Content-Type: text/plain; charset=utf-8${CRLF}${CRLF}` : CRLF;
      text += cache.block(db, entry);
    }
    return { text: text + statusLine(Code.OK, 'ok') };
  }

  #match(args: string[]): Reply | Promise<Reply> {
    if (args.length !== 3) return ILLEGAL();
    const [dbName, strategyName, word] = args as [string, string, string];
    const strategy = strategyName === '.' ? DEFAULT_STRATEGY : strategyName.toLowerCase();
    if (!isStrategy(strategy)) return reply(Code.INVALID_STRATEGY, 'invalid strategy, use SHOW STRAT for a list');
    const targets = databasesNamed(this.#state.databases, dbName);
    if (!targets) return reply(Code.INVALID_DATABASE, 'invalid database, use SHOW DB for list');
    const scope = { firstOnly: dbName === '!', limitPer: 'all' } as const;
    if (strategy === 're' || strategy === 'regexp') return this.#matchRegex(targets, scope, strategy, word);
    return this.#matchReply(matchHeadwords(targets, strategy, word, this.#state.limits.maxMatches, scope));
  }

  #matchReply(found: MatchListing[]): Reply {
    if (found.length === 0) return reply(Code.NO_MATCH, 'no match');
    this.#state.counters.matches += found.length;
    return { text: matchList(found, this.#mime) };
  }

  /** `re` and `regexp` run in slices within a CPU budget (lookup.ts); other connections are served meanwhile. */
  async #matchRegex(targets: readonly DictDatabase[], scope: LookupScope, strategy: 're' | 'regexp', pattern: string): Promise<Reply> {
    const { maxMatches, regexTimeLimitMs } = this.#state.limits;
    let found: MatchListing[];
    try {
      found = await matchRegex(targets, strategy, pattern, { ...scope, limit: maxMatches, timeLimitMs: regexTimeLimitMs, stopped: () => this.#closed });
    } catch (error) {
      if (error instanceof RegexError) return ILLEGAL(`bad regular expression: ${error.message}`);
      if (error instanceof MatchTimeLimitError) return ILLEGAL(error.message);
      throw error;
    }
    if (this.#closed) return { text: '' };
    return this.#matchReply(found);
  }

  #show(args: string[]): Reply {
    const what = args[0]?.toUpperCase();
    const databases = this.#state.databases.list;
    switch (what) {
      case 'DB':
      case 'DATABASES':
        if (args.length !== 1) return ILLEGAL();
        return { text: databaseList(databases.map((db) => ({ name: db.name, description: db.description })), this.#mime) };
      case 'STRAT':
      case 'STRATEGIES':
        if (args.length !== 1) return ILLEGAL();
        return { text: strategyList(STRATEGIES, this.#mime) };
      case 'INFO': {
        if (args.length !== 2) return ILLEGAL();
        const db = args[1] === '*' || args[1] === '!' ? undefined : this.#state.databases.get(args[1]!);
        if (!db) return reply(Code.INVALID_DATABASE, 'invalid database, use SHOW DB for list');
        return { text: textResponse(Code.DATABASE_INFO, `information for ${db.name}`, db.info(), this.#mime) };
      }
      case 'SERVER':
        if (args.length !== 1) return ILLEGAL();
        return { text: textResponse(Code.SERVER_INFO, 'server information', this.#serverInfo(), this.#mime) };
      default:
        return ILLEGAL();
    }
  }

  #serverInfo(): string {
    const { counters, hostname, software, databases } = this.#state;
    const lines = [software, `On ${hostname}: up ${formatUptime(Date.now() - counters.startedAt)}, ${counters.connections} connections (${counters.open} open)`, ''];
    if (databases.list.length > 0) {
      const width = Math.max(8, ...databases.list.map((db) => db.name.length));
      lines.push(`${'Database'.padEnd(width)}  Headwords         Index          Data  Uncompressed`);
      for (const db of databases.list) {
        const s = db.stats;
        lines.push(`${db.name.padEnd(width)} ${String(s.headwords).padStart(10)} ${sizeColumn(s.indexBytes)} ${sizeColumn(s.dataBytes)} ${sizeColumn(s.textBytes)}`);
      }
      lines.push('');
    }
    return `${lines.join('\n')}\n`;
  }

  /** Record a DEFINE by a logged-in account (in the background; XHISTORY waits for it). */
  #remember(word: string, database: string): void {
    const history = this.#state.history;
    const user = this.#user;
    if (!history || !user) return;
    const at = new Date();
    this.#writes = this.#writes
      .then(() => history.record(user, word, database, at))
      .catch((error: unknown) => this.#state.logger?.warn({ err: error, account: user }, 'could not record a lookup'));
  }

  #saslAuth(args: string[]): Reply | Promise<Reply> {
    if (!this.#state.accounts) return reply(Code.NOT_IMPLEMENTED, 'command not implemented: this server has no accounts');
    if (args.length < 1 || args.length > 2) return ILLEGAL();
    if (args[0]!.toUpperCase() !== 'PLAIN') return reply(Code.UNKNOWN_MECHANISM, 'access denied, unknown mechanism (this server offers PLAIN)');
    if (args.length === 1) {
      this.#saslPending = true;
      return reply(Code.SASL_CONTINUE, 'send response');
    }
    return this.#plain(args[1]!);
  }

  async #plain(response: string): Promise<Reply> {
    const accounts = this.#state.accounts!;
    const credentials = decodeSaslPlain(response);
    if (!credentials.ok) return ILLEGAL(credentials.reason);
    if (credentials.authzid !== '' && credentials.authzid !== credentials.user) {
      return reply(Code.AUTH_DENIED, 'access denied, use "SHOW INFO" for server information (no acting for another account)');
    }
    let result: VerifyResult;
    try {
      result = await accounts.verify(credentials.user, credentials.password, this.#clientIp);
    } catch (error) {
      this.#state.logger?.warn({ err: error }, 'login check failed');
      return reply(Code.TEMPORARILY_UNAVAILABLE, 'server temporarily unavailable: the account store did not answer');
    }
    if (!result.ok) {
      this.#state.logger?.warn({ account: credentials.user.slice(0, 64), peer: this.#clientIp, reason: result.reason }, loginFailureLine(credentials.user, this.#clientIp, result));
      if (result.delayMs > 0) await new Promise((resolve) => setTimeout(resolve, result.delayMs));
      const why = result.reason === 'throttled' ? ' (too many failed logins: try again later)' : '';
      return reply(Code.AUTH_DENIED, `access denied, use "SHOW INFO" for server information${why}`);
    }
    this.#user = result.account.name;
    return reply(Code.AUTH_OK, 'authentication successful');
  }

  async #register(args: string[]): Promise<Reply> {
    const accounts = this.#state.accounts;
    if (!accounts) return reply(Code.NOT_IMPLEMENTED, 'command not implemented: this server has no accounts');
    if (args.length !== 2) return ILLEGAL('XREGISTER user password');
    try {
      const account = await accounts.register(args[0]!, args[1]!, this.#clientIp);
      return reply(Code.OK, `ok, account ${account.name} created`);
    } catch (error) {
      if (error instanceof WharfError) {
        if (error.code === 'EBADVALUE') return ILLEGAL(error.message);
        if (error.code === 'ETAKEN' || error.code === 'EFORBIDDEN' || error.code === 'ETHROTTLED') return reply(Code.ACCESS_DENIED, `access denied: ${error.message}`);
      }
      this.#state.logger?.warn({ err: error }, 'registration failed');
      return reply(Code.TEMPORARILY_UNAVAILABLE, 'server temporarily unavailable: the account store did not answer');
    }
  }

  async #history(args: string[]): Promise<Reply> {
    const history = this.#state.history;
    if (!history) return reply(Code.NOT_IMPLEMENTED, 'command not implemented: this server keeps no history');
    if (args.length > 1) return ILLEGAL('XHISTORY [count]');
    const count = args.length === 1 ? Number(args[0]) : this.#state.limits.historyLength;
    if (!Number.isInteger(count) || count < 1 || count > 1000) return ILLEGAL('the count is a whole number from 1 to 1000');
    const user = this.#user;
    if (!user) return reply(Code.ACCESS_DENIED, 'access denied: log in first (SASLAUTH PLAIN)');
    await this.#writes;
    try {
      const rows = await history.latest(user, count);
      const text = rows.map((row) => `${formatHistoryLine(row)}\n`).join('');
      return { text: statusLine(Code.HISTORY, `${rows.length} lookups follow`) + (this.#mime ? CRLF : '') + textBlock(text) + statusLine(Code.OK, 'ok') };
    } catch (error) {
      this.#state.logger?.warn({ err: error }, 'could not read the history');
      return reply(Code.TEMPORARILY_UNAVAILABLE, 'server temporarily unavailable: the history store did not answer');
    }
  }
}
