/**
 * Busy polling for request/answer protocols over UDP (TFTP's lockstep, a ping): after sending,
 * keep the event loop awake for a few tens of microseconds instead of letting it sleep in
 * epoll_wait, so an answer that comes back that fast is read at once.
 *
 * Why: on loopback, between containers or VMs of one host, a round trip is shorter than the cost
 * of waking a sleeping thread (a scheduler switch, on a VM an inter-processor interrupt and an
 * exit to the hypervisor). Measured with curl fetching 32 MiB over TFTP, blksize 512: a minimal
 * Node server reached 0.80-0.82x atftpd, and 0.97-0.98x spinning 50 us after each send; a minimal
 * C server, 1.03x (bench/experiments/tftp-lockstep-floor.mts). This is the idea of Linux's
 * SO_BUSY_POLL (which does not apply to loopback), done in user space.
 *
 * How: a chain of setImmediate callbacks. While one is pending, libuv polls for I/O with a zero
 * timeout, so every other socket, timer and service of the process is still served between
 * turns; the spinning only costs CPU, and only until the deadline. There is one poller per
 * process (the event loop is one), and callers only ever push its deadline forward.
 */
export class BusyPoller {
  #until = 0;
  #spinning = false;
  #turns = 0;
  /** The clock deadlines are read against, in milliseconds (tests pass a manual one). */
  readonly now: () => number;
  readonly #turn = (): void => {
    this.#turns++;
    if (this.now() < this.#until) setImmediate(this.#turn);
    else this.#spinning = false;
  };

  constructor(now: () => number = () => performance.now()) {
    this.now = now;
  }

  /** Keep the event loop awake until `now()` reaches `deadlineMs`. */
  spinUntil(deadlineMs: number): void {
    if (deadlineMs > this.#until) this.#until = deadlineMs;
    if (this.#spinning || this.now() >= this.#until) return;
    this.#spinning = true;
    setImmediate(this.#turn);
  }

  /** Stop at the next turn, whatever deadline was asked for. */
  stop(): void {
    this.#until = 0;
  }

  /** True while a turn is pending. */
  get spinning(): boolean {
    return this.#spinning;
  }

  /** Turns taken since the process started (for tests and metrics). */
  get turns(): number {
    return this.#turns;
  }
}

/** A budget that covers a round trip on one host; Linux suggests the same for SO_BUSY_POLL. */
export const DEFAULT_BUSY_POLL_MICROS = 50;

/** The process's poller: every user shares it, since they share the event loop. */
export const busyPoller = new BusyPoller();

/**
 * When to spin, for one conversation with one peer: only while the peer answers within the
 * budget. A peer that takes longer (a real network, a slow disk) would make every spin a waste,
 * so it is not spun for, except for one probe send in `PROBE_EVERY` (its answers may speed up;
 * and without spinning, the measured wait also includes our own wake-up, so only a probe can
 * tell). The cost of a slow peer is therefore at most budget/PROBE_EVERY of CPU per send.
 */
export class AnswerSpin {
  static readonly PROBE_EVERY = 16;
  readonly #budgetMs: number;
  readonly #poller: BusyPoller;
  #sentAt = 0;
  #fast = true;
  #sinceProbe = 0;

  /** `budgetMicros` 0 turns spinning off. */
  constructor(budgetMicros: number, poller: BusyPoller = busyPoller) {
    this.#budgetMs = Math.max(0, budgetMicros) / 1000;
    this.#poller = poller;
  }

  get enabled(): boolean {
    return this.#budgetMs > 0;
  }

  /** Is the peer currently answering within the budget? */
  get peerIsFast(): boolean {
    return this.#fast;
  }

  /** We sent something the peer will answer: spin if it answers fast (or it is a probe). */
  sent(): void {
    if (this.#budgetMs === 0) return;
    const now = this.#poller.now();
    this.#sentAt = now;
    if (!this.#fast && ++this.#sinceProbe < AnswerSpin.PROBE_EVERY) return;
    this.#sinceProbe = 0;
    this.#poller.spinUntil(now + this.#budgetMs);
  }

  /** The peer answered: was it within the budget? */
  answered(): void {
    if (this.#budgetMs === 0 || this.#sentAt === 0) return;
    this.#fast = this.#poller.now() - this.#sentAt <= this.#budgetMs;
  }
}
