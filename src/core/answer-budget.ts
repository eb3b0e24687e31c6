import { isLoopbackAddress } from './address.js';

export interface AnswerBudgetOptions {
  /** Bytes an address may get back per byte it sent (QUIC's anti-amplification rule: 3). */
  factor?: number;
  /** Bytes an address may get beyond `factor` × what it sent, at once. Default 4,096. */
  creditBytes?: number;
  /** How fast that credit comes back, bytes per second. Default 256. */
  creditBytesPerSecond?: number;
  /** Bound loopback sources too (off by default: only this machine can send from them). */
  limitLoopback?: boolean;
  /** Addresses remembered (the least recently seen are forgotten first). Default 10,000. */
  maxAddresses?: number;
  now?: () => number;
}

interface Allowance {
  bytes: number;
  updated: number;
}

/**
 * How many bytes a UDP service may send to an address that has not shown it receives them. A
 * UDP source can be forged, so a request "from" a victim can aim the answer at the victim: a
 * small request with a large answer is an amplifier. The rule (QUIC's, RFC 9000 §8): answer at
 * most `factor` times the bytes received from that address, plus a small credit that refills
 * slowly, so that a client whose first request is tiny (the seed's 2-byte `-r`) still gets its
 * answer. Keyed by IP address, not IP:port, so that varying the forged port gains nothing.
 */
export class AnswerBudget {
  readonly #allowances = new Map<string, Allowance>();
  readonly #factor: number;
  readonly #credit: number;
  readonly #creditRate: number;
  readonly #limitLoopback: boolean;
  readonly #maxAddresses: number;
  readonly #now: () => number;
  /** Answers not sent because they were over the budget. */
  dropped = 0;

  constructor(options: AnswerBudgetOptions = {}) {
    this.#factor = options.factor ?? 3;
    this.#credit = options.creditBytes ?? 4_096;
    this.#creditRate = options.creditBytesPerSecond ?? 256;
    this.#limitLoopback = options.limitLoopback ?? false;
    this.#maxAddresses = options.maxAddresses ?? 10_000;
    this.#now = options.now ?? (() => performance.now());
  }

  /** `bytes` arrived from `address`: it may get `factor` times as many back. */
  received(address: string, bytes: number): void {
    if (this.#exempt(address)) return;
    const allowance = this.#allowance(address);
    // Capped, so that an address cannot bank a flood's worth of answers for later.
    allowance.bytes = Math.min(allowance.bytes + this.#factor * bytes, this.#credit + this.#factor * 65_507);
  }

  /** May `bytes` go to `address` now? True spends them; false counts a dropped answer. */
  spend(address: string, bytes: number): boolean {
    if (this.#exempt(address)) return true;
    const allowance = this.#allowance(address);
    if (allowance.bytes < bytes) {
      this.dropped++;
      return false;
    }
    allowance.bytes -= bytes;
    return true;
  }

  #exempt(address: string): boolean {
    return !this.#limitLoopback && isLoopbackAddress(address);
  }

  #allowance(address: string): Allowance {
    const now = this.#now();
    let allowance = this.#allowances.get(address);
    if (allowance) {
      this.#allowances.delete(address);
      if (allowance.bytes < this.#credit) allowance.bytes = Math.min(this.#credit, allowance.bytes + ((now - allowance.updated) / 1000) * this.#creditRate);
      allowance.updated = now;
    } else {
      if (this.#allowances.size >= this.#maxAddresses) this.#allowances.delete(this.#allowances.keys().next().value!);
      allowance = { bytes: this.#credit, updated: now };
    }
    // Re-inserted: the map's order is then least recently seen first, the order of eviction.
    this.#allowances.set(address, allowance);
    return allowance;
  }
}
