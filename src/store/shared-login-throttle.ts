/**
 * Login throttling shared by every process that uses one database server, on any machine: each
 * process writes what its throttle counts (failed logins, successes, forgotten names,
 * self-registrations) to `login_throttle_events`, and reads what the others wrote since it last
 * looked right before it checks a login or a registration. So N machines give an attacker one
 * allowance, not N. The events of the longest lock-out are replayed at start (a restarted node
 * remembers the locks), and older rows are deleted as they go.
 *
 * Used with PostgreSQL and MySQL (`--db`). With SQLite the processes are on one machine, and its
 * `--workers` share the counts through the cluster primary instead (core/cluster.ts).
 */
import { randomBytes } from 'node:crypto';
import type { Generated, Kysely } from 'kysely';
import type { Logger } from '../core/logger.js';
import type { Accounts, AccountsEvent } from './accounts.js';
import type { Store } from './database.js';
import { LateIds } from './late-ids.js';
import { LOGIN_THROTTLE_DEFAULTS } from './login-throttle.js';

interface LoginThrottleEventsTable {
  id: Generated<number>;
  at: number | string | bigint;
  origin: string;
  event: string;
}

interface EventsSchema {
  login_throttle_events: LoginThrottleEventsTable;
}

export interface SharedLoginThrottleOptions {
  logger?: Logger;
  /** Events older than this are neither replayed nor kept (default: the longest lock-out plus the window). */
  keepMs?: number;
  /** Most events replayed at start (the newest). */
  maxReplay?: number;
  /** How often old rows are deleted. */
  pruneEveryMs?: number;
  now?: () => number;
  /**
   * How long an id missing below the newest one read is asked for again: a row another process
   * inserted but had not committed yet (default 60 s; see late-ids.ts).
   */
  lateMs?: number;
}

const ROWS_PER_READ = 5_000;

export class SharedLoginThrottle {
  readonly #origin = randomBytes(8).toString('hex');
  readonly #db: Kysely<EventsSchema>;
  readonly #accounts: Accounts;
  readonly #logger: Logger | undefined;
  readonly #keepMs: number;
  readonly #now: () => number;
  /** The ids read so far, and the gaps below the newest: rows that commit after a later one. */
  readonly #ids: LateIds;
  #writes: Promise<void> = Promise.resolve();
  #reading: Promise<void> | undefined;
  #pruneTimer: NodeJS.Timeout | undefined;
  #readFailed = false;

  private constructor(db: Kysely<unknown>, accounts: Accounts, options: SharedLoginThrottleOptions) {
    // The table is this module's own (migration 0008); the shared Schema type does not list it.
    this.#db = db as Kysely<EventsSchema>;
    this.#accounts = accounts;
    this.#logger = options.logger;
    this.#keepMs = options.keepMs ?? LOGIN_THROTTLE_DEFAULTS.maxLockoutMs + LOGIN_THROTTLE_DEFAULTS.windowMs;
    this.#now = options.now ?? Date.now;
    this.#ids = new LateIds({ lateMs: options.lateMs });
  }

  /** Replay the recent events into `accounts`, then share its events through the database from now on. */
  static async start(store: Pick<Store, 'db' | 'accounts'>, options: SharedLoginThrottleOptions = {}): Promise<SharedLoginThrottle> {
    const shared = new SharedLoginThrottle(store.db as unknown as Kysely<unknown>, store.accounts, options);
    await shared.#replay(options.maxReplay ?? 20_000);
    store.accounts.share((event) => shared.#write(event), { catchUp: () => shared.catchUp(), written: () => shared.#writes });
    const every = options.pruneEveryMs ?? 10 * 60_000;
    shared.#pruneTimer = setInterval(() => void shared.#prune(), every);
    shared.#pruneTimer.unref();
    return shared;
  }

  async #replay(limit: number): Promise<void> {
    const since = this.#now() - this.#keepMs;
    const rows = (await this.#db.selectFrom('login_throttle_events').select(['id', 'event']).where('at', '>', since).orderBy('id', 'desc').limit(limit).execute()).reverse();
    if (rows.length === 0) {
      const top = await this.#db.selectFrom('login_throttle_events').select((eb) => eb.fn.max('id').as('top')).executeTakeFirst();
      this.#ids.startAfter(Number(top?.top ?? 0));
      return;
    }
    // Gaps between the rows replayed may be rows still being committed: they are read when they are.
    this.#ids.startAfter(Number(rows[0]!.id) - 1);
    const now = this.#now();
    for (const row of rows) if (this.#ids.saw(Number(row.id), now)) this.#apply(row.event);
  }

  #write(event: AccountsEvent): void {
    const row = { at: this.#now(), origin: this.#origin, event: JSON.stringify(event) };
    // In order, one at a time; a failure loses this event for the others, not the login.
    this.#writes = this.#writes
      .then(async () => {
        await this.#db.insertInto('login_throttle_events').values(row).execute();
      })
      .catch((error: unknown) => this.#logger?.warn({ err: error }, 'could not share a login-throttle event with the other wharf processes'));
  }

  /** Apply what the other processes wrote since the last look (concurrent callers share one read). */
  catchUp(): Promise<void> {
    this.#reading ??= this.#read().finally(() => (this.#reading = undefined));
    return this.#reading;
  }

  async #read(): Promise<void> {
    try {
      for (;;) {
        const now = this.#now();
        const late = this.#ids.waitingFor(now);
        // Ranges of the primary key: the new rows, and those that committed after a later one was read.
        const rows = await this.#db
          .selectFrom('login_throttle_events')
          .select(['id', 'origin', 'event'])
          .where((eb) => eb.or([eb('id', '>', this.#ids.highest), ...late.map(({ lo, hi }) => eb.between('id', lo, hi))]))
          .orderBy('id')
          .limit(ROWS_PER_READ)
          .execute();
        for (const row of rows) {
          if (this.#ids.saw(Number(row.id), now) && row.origin !== this.#origin) this.#apply(row.event);
        }
        if (rows.length < ROWS_PER_READ) break;
      }
      if (this.#readFailed) this.#logger?.info('login-throttle events are read from the database again');
      this.#readFailed = false;
    } catch (error) {
      // The local counts still apply; said once until reading works again.
      if (!this.#readFailed) this.#logger?.warn({ err: error }, "could not read the other wharf processes' login-throttle events; counting this process's only");
      this.#readFailed = true;
    }
  }

  #apply(text: string): void {
    try {
      this.#accounts.apply(JSON.parse(text) as AccountsEvent);
    } catch {
      // An event this version cannot read (a newer sibling's, say): ignored.
    }
  }

  async #prune(): Promise<void> {
    try {
      await this.#db.deleteFrom('login_throttle_events').where('at', '<', this.#now() - this.#keepMs).execute();
    } catch (error) {
      this.#logger?.debug({ err: error }, 'could not delete old login-throttle events');
    }
  }

  /** Finish the writes under way and stop pruning. */
  async close(): Promise<void> {
    clearInterval(this.#pruneTimer);
    await this.#writes;
  }
}
