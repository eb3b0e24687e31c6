import { isIPv6 } from 'node:net';

/**
 * Login throttling, kept in memory (see docs/accounts.md for the policy and how it compares with
 * vsftpd and pyftpdlib). Processes that serve one user base together (`--workers N`) share their
 * counters by exchanging `ThrottleEvent`s: see `share` and `apply`.
 *
 * - Every failure earns a delay the caller applies before it answers: 1 s, 2 s, 4 s, then 5 s
 *   for each further failure of that name from that address.
 * - Per client address (strict): `maxFailuresPerIp` failures within `windowMs`, for any names,
 *   lock the address out for `lockoutMs`, doubling with each lock-out, capped at `maxLockoutMs`.
 * - Per name, the lock applies only to the addresses that failed for that name:
 *   `maxFailuresPerName` failures of one name from one address lock that pair. The real user,
 *   elsewhere, still gets in. When a name collects `nameAlarmFailures` failures from all
 *   addresses within the window (a distributed guess), every address that fails for it is locked
 *   after `maxFailuresPerNameUnderAttack` failures instead.
 * - A success forgives that pair's failures (and takes them off the address's count), so a user
 *   who mistyped is not punished later; failures made against other names stay.
 * - Locks expire by themselves; a key whose last failure is older than `maxLockoutMs` starts
 *   over. The maps are bounded (`maxEntries`, least recently failed dropped first).
 *
 * IPv4-mapped IPv6 addresses count as IPv4, and an IPv6 address counts as its /64 network (one
 * host usually owns the whole /64).
 */
export interface LoginThrottleOptions {
  windowMs?: number;
  maxFailuresPerIp?: number;
  maxFailuresPerName?: number;
  nameAlarmFailures?: number;
  maxFailuresPerNameUnderAttack?: number;
  lockoutMs?: number;
  maxLockoutMs?: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
  maxEntries?: number;
  /** Milliseconds; injectable so that tests do not sleep. */
  now?: () => number;
}

export const LOGIN_THROTTLE_DEFAULTS: Required<Omit<LoginThrottleOptions, 'now'>> = {
  windowMs: 15 * 60_000,
  maxFailuresPerIp: 10,
  maxFailuresPerName: 5,
  nameAlarmFailures: 20,
  maxFailuresPerNameUnderAttack: 2,
  lockoutMs: 15 * 60_000,
  maxLockoutMs: 4 * 60 * 60_000,
  baseDelayMs: 1000,
  maxDelayMs: 5000,
  maxEntries: 50_000,
};

export type ThrottleCheck = { allowed: true } | { allowed: false; retryAfterMs: number };

export interface ThrottleFailure {
  /** How long the caller should wait before it answers this failed attempt. */
  delayMs: number;
  /** > 0 when this failure locked the address (or the name for this address) out. */
  lockedForMs: number;
}

/**
 * What one process tells the others, so that every process counts every failure. A failure
 * carries its time, so that replaying a log of events rebuilds the same counters.
 */
export type ThrottleEvent =
  | { kind: 'failure'; name: string; clientIp: string; at: number }
  | { kind: 'success'; name: string; clientIp: string }
  | { kind: 'forget'; name: string };

interface Counter {
  failures: number;
  /** When the current lock began (meaningful while lockedUntil is in the future). */
  lockedAt: number;
  firstFailureAt: number;
  lastFailureAt: number;
  lockedUntil: number;
  lockouts: number;
}

/** `::ffff:10.0.0.1` → `10.0.0.1`; an IPv6 address → its /64 prefix; anything else as given. */
export function throttleKeyForAddress(address: string): string {
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(address);
  if (mapped) return mapped[1] as string;
  const bare = address.replace(/%.*$/, '');
  if (!isIPv6(bare) || bare.includes('.')) return address;
  const [head = '', tail = ''] = bare.split('::');
  const headGroups = head === '' ? [] : head.split(':');
  const tailGroups = bare.includes('::') ? (tail === '' ? [] : tail.split(':')) : [];
  const groups = bare.includes('::') ? [...headGroups, ...Array<string>(8 - headGroups.length - tailGroups.length).fill('0'), ...tailGroups] : headGroups;
  return `${groups.slice(0, 4).map((group) => Number.parseInt(group, 16).toString(16)).join(':')}::/64`;
}

export class LoginThrottle {
  readonly #options: Required<Omit<LoginThrottleOptions, 'now'>>;
  readonly #now: () => number;
  readonly #byIp = new Map<string, Counter>();
  readonly #byPair = new Map<string, Counter>();
  readonly #byName = new Map<string, Counter>();
  #publish: ((event: ThrottleEvent) => void) | undefined;

  constructor(options: LoginThrottleOptions = {}) {
    const { now, ...rest } = options;
    this.#options = { ...LOGIN_THROTTLE_DEFAULTS, ...Object.fromEntries(Object.entries(rest).filter(([, value]) => value !== undefined)) };
    this.#now = now ?? Date.now;
  }

  /** May this address try this name now? Ask before checking the password. */
  check(name: string, clientIp: string): ThrottleCheck {
    const now = this.#now();
    const ip = throttleKeyForAddress(clientIp);
    const until = Math.max(this.#byIp.get(ip)?.lockedUntil ?? 0, this.#byPair.get(pairKey(name, ip))?.lockedUntil ?? 0);
    return until > now ? { allowed: false, retryAfterMs: until - now } : { allowed: true };
  }

  /**
   * When this name was locked for this address, if that lock alone stands in the way (the
   * address itself is not locked); otherwise undefined. Accounts uses it to lift a lock that a
   * password change has made pointless.
   */
  nameLockedAt(name: string, clientIp: string): number | undefined {
    const now = this.#now();
    const ip = throttleKeyForAddress(clientIp);
    if ((this.#byIp.get(ip)?.lockedUntil ?? 0) > now) return undefined;
    const pair = this.#byPair.get(pairKey(name, ip));
    return pair && pair.lockedUntil > now ? pair.lockedAt : undefined;
  }

  failure(name: string, clientIp: string): ThrottleFailure {
    const at = this.#now();
    const result = this.#failure(name, clientIp, at);
    this.#publish?.({ kind: 'failure', name, clientIp, at });
    return result;
  }

  success(name: string, clientIp: string): void {
    this.#success(name, clientIp);
    this.#publish?.({ kind: 'success', name, clientIp });
  }

  /**
   * Send every failure, success and forgetting of this throttle to `publish` from now on, for
   * the other processes to `apply`. Events that come in through `apply` are not sent again.
   */
  share(publish: (event: ThrottleEvent) => void): void {
    this.#publish = publish;
  }

  /** Count what another process saw. Unknown kinds are ignored (a newer sibling, say). */
  apply(event: ThrottleEvent): void {
    if (event.kind === 'failure') this.#failure(event.name, event.clientIp, event.at);
    else if (event.kind === 'success') this.#success(event.name, event.clientIp);
    else if (event.kind === 'forget') this.#forgetName(event.name);
  }

  #failure(name: string, clientIp: string, now: number): ThrottleFailure {
    const options = this.#options;
    const ip = throttleKeyForAddress(clientIp);
    const nameCounter = this.#bump(this.#byName, name, Number.POSITIVE_INFINITY, now);
    const pairLimit = nameCounter.counter.failures >= options.nameAlarmFailures ? options.maxFailuresPerNameUnderAttack : options.maxFailuresPerName;
    const pair = this.#bump(this.#byPair, pairKey(name, ip), pairLimit, now);
    const address = this.#bump(this.#byIp, ip, options.maxFailuresPerIp, now);
    const delayMs = Math.min(options.baseDelayMs * 2 ** Math.min(30, pair.counter.failures - 1), options.maxDelayMs);
    return { delayMs, lockedForMs: Math.max(pair.lockedForMs, address.lockedForMs) };
  }

  #success(name: string, clientIp: string): void {
    const ip = throttleKeyForAddress(clientIp);
    const key = pairKey(name, ip);
    const pair = this.#byPair.get(key);
    if (!pair) return;
    this.#byPair.delete(key);
    for (const [map, mapKey] of [[this.#byIp, ip], [this.#byName, name]] as const) {
      const counter = map.get(mapKey);
      if (counter) counter.failures = Math.max(0, counter.failures - pair.failures);
    }
  }

  /** Forget everything about a name (an administrator reset its password or deleted it). */
  forgetName(name: string): void {
    this.#forgetName(name);
    this.#publish?.({ kind: 'forget', name });
  }

  #forgetName(name: string): void {
    this.#byName.delete(name);
    const suffix = `\u0000${name}`;
    for (const key of this.#byPair.keys()) if (key.endsWith(suffix)) this.#byPair.delete(key);
  }

  /** Number of tracked keys, for metrics and tests. */
  get size(): number {
    return this.#byIp.size + this.#byPair.size + this.#byName.size;
  }

  #bump(map: Map<string, Counter>, key: string, limit: number, now: number): { counter: Counter; lockedForMs: number } {
    const options = this.#options;
    let counter = map.get(key);
    if (counter) {
      map.delete(key); // re-inserted below: the map's order is "least recently failed first"
      if (now - counter.lastFailureAt > options.maxLockoutMs && counter.lockedUntil <= now) counter.lockouts = 0;
      const lockExpired = counter.lockedUntil !== 0 && counter.lockedUntil <= now;
      if (lockExpired || now - counter.firstFailureAt > options.windowMs) {
        counter.failures = 0;
        counter.firstFailureAt = now;
        counter.lockedUntil = 0;
      }
    } else {
      if (map.size >= options.maxEntries) this.#evict(map);
      counter = { failures: 0, firstFailureAt: now, lastFailureAt: now, lockedUntil: 0, lockedAt: 0, lockouts: 0 };
    }
    map.set(key, counter);
    counter.failures += 1;
    // Another process's failure may arrive after a later one of ours: time only moves forward.
    counter.lastFailureAt = Math.max(counter.lastFailureAt, now);
    let lockedForMs = 0;
    if (counter.failures >= limit && counter.lockedUntil <= now) {
      lockedForMs = Math.min(options.lockoutMs * 2 ** Math.min(30, counter.lockouts), options.maxLockoutMs);
      counter.lockedUntil = now + lockedForMs;
      counter.lockedAt = now;
      counter.lockouts += 1;
    }
    return { counter, lockedForMs };
  }

  /** Drop the least recently failed tenth: amortised O(1), however the map is flooded. */
  #evict(map: Map<string, Counter>): void {
    let drop = Math.max(1, Math.floor(this.#options.maxEntries / 10));
    for (const key of map.keys()) {
      if (drop-- <= 0) break;
      map.delete(key);
    }
  }
}

function pairKey(name: string, ip: string): string {
  return `${ip}\u0000${name}`;
}
