/**
 * A count of bytes a server may hold at once (buffers read for a peer and not yet taken by the
 * kernel), shared by whatever draws on it: one budget per connection, one per process. Work that
 * cannot get its bytes waits in line (first come, first served) instead of allocating more, which
 * is the back-pressure rule applied to memory: a peer that stops reading stops costing memory.
 */
export class ByteBudget {
  #used = 0;
  readonly #waiting: Array<{ bytes: number; grant: () => void }> = [];

  constructor(readonly limit: number) {}

  /** Bytes held right now. */
  get used(): number {
    return this.#used;
  }

  /** Requests waiting for bytes. */
  get waiting(): number {
    return this.#waiting.length;
  }

  /**
   * Resolves with true once `bytes` are held (release them with `release`), or with false if
   * `abandon` settles first (the peer went away while waiting: nothing is held). A request larger
   * than the whole budget is granted when nothing else is held, so it cannot wait forever.
   */
  acquire(bytes: number, abandon?: Promise<unknown>): Promise<boolean> {
    if (this.#waiting.length === 0 && this.#fits(bytes)) {
      this.#used += bytes;
      return Promise.resolve(true);
    }
    return new Promise<boolean>((resolve) => {
      const waiter = {
        bytes,
        grant: () => {
          this.#used += bytes;
          resolve(true);
        },
      };
      this.#waiting.push(waiter);
      abandon?.then(
        () => this.#abandon(waiter, resolve),
        () => this.#abandon(waiter, resolve),
      );
    });
  }

  release(bytes: number): void {
    this.#used = Math.max(0, this.#used - bytes);
    this.#grantWaiting();
  }

  #fits(bytes: number): boolean {
    return this.#used + bytes <= this.limit || this.#used === 0;
  }

  #abandon(waiter: { bytes: number; grant: () => void }, resolve: (held: boolean) => void): void {
    const at = this.#waiting.indexOf(waiter);
    if (at < 0) return; // already granted
    this.#waiting.splice(at, 1);
    resolve(false);
    // The one that left may have been blocking smaller requests behind it.
    this.#grantWaiting();
  }

  #grantWaiting(): void {
    while (this.#waiting.length > 0 && this.#fits((this.#waiting[0] as { bytes: number }).bytes)) {
      (this.#waiting.shift() as { grant: () => void }).grant();
    }
  }
}
