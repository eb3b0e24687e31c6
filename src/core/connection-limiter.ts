/** Why a connection (or a transfer) was not let in. */
export type ConnectionRefusal = 'server-full' | 'ip-full';

export interface ConnectionCaps {
  /** Open at once in total. */
  maxTotal: number;
  /** Open at once from one IP address; 0 disables the per-address cap. */
  maxPerIp: number;
}

/**
 * The connection caps of a server, in total and per IP address (mini-redis's `limit_connections`
 * semaphore, plus a count per address). One instance per listening service: the TCP servers, the
 * web server and the TFTP transfers all count here, so the rule is written once.
 *
 * `admit` takes a slot (or says why not) and `release` gives it back; the caller keeps them
 * paired. An empty address (a socket already gone before it was seen) counts in the total only.
 */
export class ConnectionLimiter {
  readonly #limits: ConnectionCaps;
  readonly #perIp = new Map<string, number>();
  #open = 0;

  constructor(limits: ConnectionCaps) {
    this.#limits = limits;
  }

  /** Slots taken now. */
  get open(): number {
    return this.#open;
  }

  /** Slots taken now by `ip`. */
  openFrom(ip: string): number {
    return this.#perIp.get(ip) ?? 0;
  }

  /** Take a slot for a peer at `ip`: undefined when taken, otherwise which cap refused it. */
  admit(ip: string): ConnectionRefusal | undefined {
    if (this.#open >= this.#limits.maxTotal) return 'server-full';
    const fromIp = this.openFrom(ip);
    if (ip !== '' && this.#limits.maxPerIp > 0 && fromIp >= this.#limits.maxPerIp) return 'ip-full';
    this.#open++;
    if (ip !== '') this.#perIp.set(ip, fromIp + 1);
    return undefined;
  }

  /** Give back a slot `admit` took for `ip`. */
  release(ip: string): void {
    if (this.#open > 0) this.#open--;
    if (ip === '') return;
    const left = this.openFrom(ip) - 1;
    if (left <= 0) this.#perIp.delete(ip);
    else this.#perIp.set(ip, left);
  }
}
