/**
 * Token buckets keyed by peer (an IP, an ip:port): `ratePerSecond` sustained, `burst` at once.
 * UDP servers use it to keep one flooding address from starving everyone else. The map is
 * bounded: idle full buckets are forgotten first, so a spoofed-source flood cannot grow it
 * without limit.
 */
export class RateLimiter {
  readonly #buckets = new Map<string, { tokens: number; updated: number }>();
  readonly #rate: number;
  readonly #burst: number;
  readonly #maxKeys: number;
  readonly #now: () => number;

  constructor(options: { ratePerSecond: number; burst?: number; maxKeys?: number; now?: () => number }) {
    this.#rate = options.ratePerSecond;
    this.#burst = options.burst ?? Math.max(1, options.ratePerSecond);
    this.#maxKeys = options.maxKeys ?? 100_000;
    this.#now = options.now ?? (() => performance.now());
  }

  /** Take one token for `key`; false means "over the limit, drop it". */
  take(key: string, cost = 1): boolean {
    const bucket = this.#refill(key, this.#now());
    if (bucket.tokens < cost) return false;
    bucket.tokens -= cost;
    return true;
  }

  /**
   * Count a take that another process allowed at time `at` (same clock), so that processes
   * sharing one limit (`--workers N`) do not each grant the whole of it. The bucket may go below
   * zero: the key then waits until the refill covers what was spent everywhere.
   */
  spent(key: string, at: number, cost = 1): void {
    this.#refill(key, at).tokens -= cost;
  }

  #refill(key: string, now: number): { tokens: number; updated: number } {
    let bucket = this.#buckets.get(key);
    if (!bucket) {
      if (this.#buckets.size >= this.#maxKeys) this.#evict(now);
      bucket = { tokens: this.#burst, updated: now };
      this.#buckets.set(key, bucket);
    } else if (now > bucket.updated) {
      // A take from another process can be a little older than the last one here: no refill.
      bucket.tokens = Math.min(this.#burst, bucket.tokens + ((now - bucket.updated) / 1000) * this.#rate);
      bucket.updated = now;
    }
    return bucket;
  }

  get size(): number {
    return this.#buckets.size;
  }

  #evict(now: number): void {
    // Drop buckets that have refilled (their peers are idle); if none, drop the oldest one.
    for (const [key, bucket] of this.#buckets) {
      if (bucket.tokens + ((now - bucket.updated) / 1000) * this.#rate >= this.#burst) this.#buckets.delete(key);
    }
    if (this.#buckets.size >= this.#maxKeys) {
      const oldest = this.#buckets.keys().next();
      if (!oldest.done) this.#buckets.delete(oldest.value);
    }
  }
}
