import cluster, { type Worker } from 'node:cluster';
import type { Logger } from './logger.js';

/**
 * Multi-core, Node's way: N worker processes share the listening sockets (node:cluster), and the
 * primary only supervises. A worker that dies is restarted with a growing delay (1 s doubling to
 * 30 s, reset after a minute of good health), so a crash loop cannot spin the CPU.
 *
 * Messages between primary and workers:
 *   worker → primary  { type: 'wharf-listening', lines }       once its services listen (one line per address)
 *   worker → primary  { type: 'wharf-failed', message }          it could not start (no restart)
 *   primary → worker  { type: 'wharf-shutdown', deadlineMs }     graceful stop
 *   primary → worker  { type: 'wharf-status', id }              what do you serve now? (`wharf status`)
 *   worker → primary  { type: 'wharf-status', id, status }      the answer
 *
 * and, for state the workers keep together (the login throttle's counters; see `joinSiblings`):
 *   worker → primary  { type: 'wharf-join', topic }             send me the topic's log
 *   primary → worker  { type: 'wharf-replay', topic, events }    the log, oldest first
 *   worker → primary  { type: 'wharf-event', topic, event }     log it and pass it to the others
 *   primary → worker  { type: 'wharf-event', topic, event }     one of the others saw this
 */
export interface ClusterOptions {
  workers: number;
  logger: Logger;
  /** Graceful-shutdown deadline handed to the workers. */
  deadlineMs?: number;
  /**
   * Called once, when every worker of the first generation reports that it listens (one line per
   * address). Waiting for all of them matters: if the only listening worker died before its
   * siblings joined, the primary would close the shared socket, and with port 0 the siblings
   * would open a new one on another port.
   */
  onListening?: (lines: string[]) => void;
  /** 'round-robin' (the primary deals out connections evenly) or 'kernel' (workers accept directly). */
  scheduling?: 'round-robin' | 'kernel';
  /** Called at once with the handle the primary's console and control socket use. */
  onPrimary?: (primary: ClusterPrimary) => void;
}

/** The running primary, for its console: stop it, ask the workers what they serve. */
export interface ClusterPrimary {
  /** Graceful stop, as SIGTERM. */
  stop(): void;
  stopping(): boolean;
  /** Each ready worker's answer to `onWorkerStatusRequest`; a worker silent for 2 s is left out. */
  workerStatuses<T>(): Promise<T[]>;
}

const STATUS_TIMEOUT_MS = 2_000;

type WorkerMessage =
  | { type: 'wharf-listening'; lines: string[] }
  | { type: 'wharf-failed'; message: string }
  | { type: 'wharf-join'; topic: string }
  | { type: 'wharf-event'; topic: string; event: unknown }
  | { type: 'wharf-status'; id: number; status: unknown };

/**
 * How many events the primary keeps per topic for workers that start later (a restart). The
 * oldest go first; for the login throttle, 20,000 failures are hours of a determined attack.
 */
export const SIBLING_LOG_LIMIT = 20_000;

export const isClusterWorker = (): boolean => cluster.isWorker;

/**
 * Runs in the primary: forks the workers and supervises them until SIGINT/SIGTERM.
 * Resolves with the exit code the process should use.
 */
export function runClusterPrimary(options: ClusterOptions): Promise<number> {
  cluster.schedulingPolicy = options.scheduling === 'kernel' ? cluster.SCHED_NONE : cluster.SCHED_RR;
  return new Promise((resolve) => new ClusterSupervisor(options, resolve).start());
}

/**
 * The topics workers keep together (see `joinSiblings`). Only workers that joined a topic get its
 * events: a joining worker gets the log instead, and the events after it, so it sees each event
 * exactly once.
 */
class SiblingTopics {
  readonly #logs = new Map<string, unknown[]>();
  readonly #members = new Map<string, Set<Worker>>();

  join(worker: Worker, topic: string): void {
    if (!worker.isConnected()) return;
    worker.send({ type: 'wharf-replay', topic, events: this.#logs.get(topic) ?? [] });
    let set = this.#members.get(topic);
    if (!set) this.#members.set(topic, (set = new Set()));
    set.add(worker);
  }

  relay(from: Worker, topic: string, event: unknown): void {
    let log = this.#logs.get(topic);
    if (!log) this.#logs.set(topic, (log = []));
    log.push(event);
    // Trim in batches, so that a long log costs O(1) per event.
    if (log.length > SIBLING_LOG_LIMIT * 1.1) log.splice(0, log.length - SIBLING_LOG_LIMIT);
    for (const worker of this.#members.get(topic) ?? []) {
      if (worker !== from && worker.isConnected()) worker.send({ type: 'wharf-event', topic, event });
    }
  }

  forget(worker: Worker): void {
    for (const set of this.#members.values()) set.delete(worker);
  }
}

/** `wharf status` under --workers: ask each worker, give up on one silent for STATUS_TIMEOUT_MS. */
class StatusRequests {
  readonly #waiters = new Map<number, (status: unknown) => void>();
  #lastId = 0;

  ask(worker: Worker): Promise<unknown> {
    return new Promise((resolve) => {
      const id = ++this.#lastId;
      const timer = setTimeout(() => {
        this.#waiters.delete(id);
        resolve(undefined);
      }, STATUS_TIMEOUT_MS);
      this.#waiters.set(id, (status) => {
        clearTimeout(timer);
        this.#waiters.delete(id);
        resolve(status);
      });
      worker.send({ type: 'wharf-status', id });
    });
  }

  answer(id: number, status: unknown): void {
    this.#waiters.get(id)?.(status);
  }
}

/** The primary's whole job: fork, restart with back-off, relay, stop. */
class ClusterSupervisor {
  readonly #options: ClusterOptions;
  readonly #resolve: (exitCode: number) => void;
  readonly #deadlineMs: number;
  readonly #live = new Set<Worker>();
  /** Workers (by id) that said they listen. */
  readonly #ready = new Set<number>();
  readonly #topics = new SiblingTopics();
  readonly #statuses = new StatusRequests();
  #stopping = false;
  #announced = false;
  #failed: string | undefined;
  #exitCode = 0;
  #restartDelayMs = 1_000;
  #healthyTimer: NodeJS.Timeout | undefined;
  #hardStop: NodeJS.Timeout | undefined;
  readonly #onSignal = (): void => this.#shutdown(0);

  constructor(options: ClusterOptions, resolve: (exitCode: number) => void) {
    this.#options = options;
    this.#resolve = resolve;
    this.#deadlineMs = options.deadlineMs ?? 5_000;
  }

  start(): void {
    process.on('SIGINT', this.#onSignal);
    process.on('SIGTERM', this.#onSignal);
    this.#options.onPrimary?.({
      stop: this.#onSignal,
      stopping: () => this.#stopping,
      workerStatuses: async <T>() => {
        const connected = [...this.#live].filter((worker) => worker.isConnected());
        const answers = await Promise.all(connected.map((worker) => this.#statuses.ask(worker)));
        return answers.filter((answer) => answer !== undefined) as T[];
      },
    });
    for (let i = 0; i < this.#options.workers; i++) this.#spawn();
  }

  #spawn(): void {
    const worker = cluster.fork({ WHARF_WORKER: '1' });
    this.#live.add(worker);
    worker.on('message', (message: WorkerMessage) => this.#onMessage(worker, message));
    worker.on('exit', (code, signal) => this.#onExit(worker, code, signal));
  }

  #onMessage(worker: Worker, message: WorkerMessage): void {
    switch (message?.type) {
      case 'wharf-listening':
        this.#ready.add(worker.id);
        if (this.#stopping) {
          worker.send({ type: 'wharf-shutdown', deadlineMs: this.#deadlineMs });
        } else if (!this.#announced && this.#ready.size >= this.#options.workers) {
          this.#announced = true;
          this.#options.onListening?.(message.lines);
        }
        break;
      case 'wharf-failed':
        this.#failed = message.message;
        this.#shutdown(1);
        break;
      case 'wharf-join':
        this.#topics.join(worker, message.topic);
        break;
      case 'wharf-event':
        this.#topics.relay(worker, message.topic, message.event);
        break;
      case 'wharf-status':
        this.#statuses.answer(message.id, message.status);
        break;
    }
  }

  #onExit(worker: Worker, code: number, signal: string): void {
    this.#live.delete(worker);
    this.#topics.forget(worker);
    this.#ready.delete(worker.id);
    if (this.#stopping || this.#failed) {
      if (this.#live.size === 0) this.#finish();
      return;
    }
    this.#options.logger.warn({ worker: worker.process.pid, code, signal, restartInMs: this.#restartDelayMs }, 'worker died; restarting');
    const delay = this.#restartDelayMs;
    this.#restartDelayMs = Math.min(this.#restartDelayMs * 2, 30_000);
    clearTimeout(this.#healthyTimer);
    this.#healthyTimer = setTimeout(() => {
      this.#restartDelayMs = 1_000;
    }, 60_000);
    setTimeout(() => {
      if (!this.#stopping) this.#spawn();
    }, delay);
  }

  #shutdown(code: number): void {
    if (this.#stopping) return;
    this.#stopping = true;
    this.#exitCode = code;
    for (const worker of this.#live) {
      if (this.#ready.has(worker.id) && worker.isConnected()) {
        worker.send({ type: 'wharf-shutdown', deadlineMs: this.#deadlineMs });
      } else {
        // Still starting (a restart, say): it may not listen for our message yet, and it serves
        // no one, so a plain SIGTERM ends it without waiting for the deadline.
        worker.process.kill('SIGTERM');
      }
    }
    // Workers get the deadline plus a margin; then they are killed.
    this.#hardStop = setTimeout(() => {
      for (const worker of this.#live) worker.process.kill('SIGKILL');
    }, this.#deadlineMs + 3_000);
    if (this.#live.size === 0) this.#finish();
  }

  #finish(): void {
    clearTimeout(this.#healthyTimer);
    clearTimeout(this.#hardStop);
    process.off('SIGINT', this.#onSignal);
    process.off('SIGTERM', this.#onSignal);
    if (this.#failed) this.#options.logger.error(this.#failed);
    this.#resolve(this.#failed ? 1 : this.#exitCode);
  }
}

/** In a worker: tell the primary where we listen, and stop gracefully when it asks. */
export function reportWorkerListening(lines: string[]): void {
  process.send?.({ type: 'wharf-listening', lines });
}

export function reportWorkerFailed(message: string): void {
  process.send?.({ type: 'wharf-failed', message });
}

export function onWorkerShutdown(handler: (deadlineMs: number) => void): void {
  process.on('message', (message: { type?: string; deadlineMs?: number }) => {
    if (message?.type === 'wharf-shutdown') handler(message.deadlineMs ?? 5_000);
  });
}

/** In a worker: answer the primary's status requests (`wharf status` with --workers). */
export function onWorkerStatusRequest(status: () => Promise<unknown>): void {
  process.on('message', (message: { type?: string; id?: number }) => {
    if (message?.type !== 'wharf-status' || typeof message.id !== 'number') return;
    const id = message.id;
    void status().then((answer) => {
      if (process.connected) process.send?.({ type: 'wharf-status', id, status: answer });
    });
  });
}

/** A worker's end of state it keeps together with its siblings. */
export interface SiblingChannel<T> {
  /** Tell the other workers (and the primary's log, for workers that start later). */
  publish(event: T): void;
  /** Stop listening. */
  close(): void;
}

/**
 * In a worker: share a topic's events with the sibling workers, through the primary. Resolves
 * once the events published before this worker started have been handed to `onEvent` (or after
 * `timeoutMs`, if the primary does not answer), so a restarted worker starts with what the others
 * know. Outside a cluster it is a channel to nobody.
 *
 * Delivery is asynchronous: two workers may each act on an event before hearing of the other's,
 * so state kept this way must tolerate a few milliseconds of lag (counters do).
 */
export function joinSiblings<T>(topic: string, onEvent: (event: T) => void, timeoutMs = 2_000): Promise<SiblingChannel<T>> {
  if (!cluster.isWorker || !process.send) return Promise.resolve({ publish: () => {}, close: () => {} });
  return new Promise((resolve) => {
    let replayed = false;
    const channel: SiblingChannel<T> = {
      publish: (event) => {
        if (process.connected) process.send?.({ type: 'wharf-event', topic, event });
      },
      close: () => {
        process.off('message', onMessage);
        clearTimeout(timer);
      },
    };
    const ready = () => {
      if (replayed) return;
      replayed = true;
      clearTimeout(timer);
      resolve(channel);
    };
    const onMessage = (message: { type?: string; topic?: string; event?: T; events?: T[] }) => {
      if (message?.topic !== topic) return;
      if (message.type === 'wharf-event') onEvent(message.event as T);
      else if (message.type === 'wharf-replay' && !replayed) {
        for (const event of message.events ?? []) onEvent(event);
        ready();
      }
    };
    const timer = setTimeout(ready, timeoutMs);
    process.on('message', onMessage);
    process.send?.({ type: 'wharf-join', topic });
  });
}
