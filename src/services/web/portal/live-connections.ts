/**
 * The portal's long-lived connections (a chat WebSocket, a diary's live stream) end when the
 * session that opened them does. A request is checked once, when it arrives; a connection that
 * stays open for hours would otherwise outlive a sign-out, a locked account or a changed password.
 *
 * Every section request and upgrade made with a session is tracked until it closes. The sessions
 * of the open ones are asked again right after any state-changing portal request (a sign-out here,
 * an admin locking an account) and every `sweepMs` besides (a lock by `wharf user disable` in
 * another process); a connection whose session no longer opens is cut.
 */
import type { Logger } from '../../../core/logger.js';

interface Closable {
  /** Cut the connection (a WebSocket's socket, a stream's response). */
  end(): void;
}

export interface LiveConnectionsOptions {
  /** Does the session of `token` still open? (false: signed out, expired, account locked.) */
  stillOpen(token: string): Promise<boolean>;
  logger: Logger;
  /** How often open connections' sessions are asked again without a reason. */
  sweepMs?: number;
}

export class LiveConnections {
  readonly #byToken = new Map<string, Set<Closable>>();
  readonly #options: LiveConnectionsOptions;
  readonly #sweep: NodeJS.Timeout;
  #checking: Promise<void> | undefined;
  #checkAgain = false;

  constructor(options: LiveConnectionsOptions) {
    this.#options = options;
    this.#sweep = setInterval(() => this.check(), options.sweepMs ?? 15_000);
    this.#sweep.unref();
  }

  /**
   * Track a connection of `token`'s session until `closed` emits 'close'. One already destroyed
   * (its client hung up while the session was read) is not tracked: its 'close' has been emitted
   * and will not come again, so it would stay here as long as the session lives.
   */
  track(token: string, connection: Closable, closed: { readonly destroyed: boolean; once(event: 'close', listener: () => void): unknown }): void {
    if (closed.destroyed) return;
    let set = this.#byToken.get(token);
    if (set === undefined) {
      set = new Set();
      this.#byToken.set(token, set);
    }
    set.add(connection);
    closed.once('close', () => {
      const current = this.#byToken.get(token);
      current?.delete(connection);
      if (current?.size === 0) this.#byToken.delete(token);
    });
  }

  /** Open connections (for tests and status). */
  get size(): number {
    let count = 0;
    for (const set of this.#byToken.values()) count += set.size;
    return count;
  }

  /** Ask again whether each open connection's session still opens; cut those that do not. */
  check(): void {
    if (this.#checking !== undefined) {
      // A change arrived while checking: check once more afterwards, so it is not missed.
      this.#checkAgain = true;
      return;
    }
    if (this.#byToken.size === 0) return;
    this.#checking = this.#checkAll()
      .catch((error: unknown) => this.#options.logger.warn({ err: error }, 'portal: could not check the sessions of open connections; will try again'))
      .finally(() => {
        this.#checking = undefined;
        if (this.#checkAgain) {
          this.#checkAgain = false;
          this.check();
        }
      });
  }

  async #checkAll(): Promise<void> {
    for (const token of [...this.#byToken.keys()]) {
      if (await this.#options.stillOpen(token)) continue;
      const connections = this.#byToken.get(token);
      this.#byToken.delete(token);
      if (connections === undefined) continue;
      this.#options.logger.debug({ connections: connections.size }, 'portal: session ended; its open connections are closed');
      for (const connection of connections) connection.end();
    }
  }

  close(): void {
    clearInterval(this.#sweep);
  }
}
