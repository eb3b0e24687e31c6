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
  const { logger, workers } = options;
  const deadlineMs = options.deadlineMs ?? 5_000;
  cluster.schedulingPolicy = options.scheduling === 'kernel' ? cluster.SCHED_NONE : cluster.SCHED_RR;
  return new Promise((resolve) => {
    let stopping = false;
    let announced = false;
    const ready = new Set<number>();
    let failed: string | undefined;
    let restartDelayMs = 1_000;
    let healthyTimer: NodeJS.Timeout | undefined;
    const live = new Set<Worker>();
    const statusWaiters = new Map<number, (status: unknown) => void>();
    let statusId = 0;
    const askStatus = (worker: Worker) =>
      new Promise<unknown>((resolveStatus) => {
        const id = ++statusId;
        const timer = setTimeout(() => {
          statusWaiters.delete(id);
          resolveStatus(undefined);
        }, STATUS_TIMEOUT_MS);
        statusWaiters.set(id, (status) => {
          clearTimeout(timer);
          statusWaiters.delete(id);
          resolveStatus(status);
        });
        worker.send({ type: 'wharf-status', id });
      });
    const logs = new Map<string, unknown[]>();
    // Only workers that joined a topic get its events: a joining worker gets the log instead, and
    // the events after it, so it sees each event exactly once.
    const members = new Map<string, Set<Worker>>();
    const join = (worker: Worker, topic: string) => {
      if (!worker.isConnected()) return;
      worker.send({ type: 'wharf-replay', topic, events: logs.get(topic) ?? [] });
      let set = members.get(topic);
      if (!set) members.set(topic, (set = new Set()));
      set.add(worker);
    };
    const relay = (from: Worker, topic: string, event: unknown) => {
      let log = logs.get(topic);
      if (!log) logs.set(topic, (log = []));
      log.push(event);
      // Trim in batches, so that a long log costs O(1) per event.
      if (log.length > SIBLING_LOG_LIMIT * 1.1) log.splice(0, log.length - SIBLING_LOG_LIMIT);
      for (const worker of members.get(topic) ?? []) {
        if (worker !== from && worker.isConnected()) worker.send({ type: 'wharf-event', topic, event });
      }
    };

    const spawn = () => {
      const worker = cluster.fork({ WHARF_WORKER: '1' });
      live.add(worker);
      worker.on('message', (message: WorkerMessage) => {
        if (message?.type === 'wharf-listening') {
          ready.add(worker.id);
          if (stopping) {
            worker.send({ type: 'wharf-shutdown', deadlineMs });
          } else if (!announced && ready.size >= workers) {
            announced = true;
            options.onListening?.(message.lines);
          }
        } else if (message?.type === 'wharf-failed') {
          failed = message.message;
          shutdown(1);
        } else if (message?.type === 'wharf-join') {
          join(worker, message.topic);
        } else if (message?.type === 'wharf-event') {
          relay(worker, message.topic, message.event);
        } else if (message?.type === 'wharf-status') {
          statusWaiters.get(message.id)?.(message.status);
        }
      });
      worker.on('exit', (code, signal) => {
        live.delete(worker);
        for (const set of members.values()) set.delete(worker);
        ready.delete(worker.id);
        if (stopping || failed) {
          if (live.size === 0) finish();
          return;
        }
        logger.warn({ worker: worker.process.pid, code, signal, restartInMs: restartDelayMs }, 'worker died; restarting');
        const delay = restartDelayMs;
        restartDelayMs = Math.min(restartDelayMs * 2, 30_000);
        clearTimeout(healthyTimer);
        healthyTimer = setTimeout(() => {
          restartDelayMs = 1_000;
        }, 60_000);
        setTimeout(() => {
          if (!stopping) spawn();
        }, delay);
      });
    };

    let exitCode = 0;
    let hardStop: NodeJS.Timeout | undefined;
    const finish = () => {
      clearTimeout(healthyTimer);
      clearTimeout(hardStop);
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      if (failed) logger.error(failed);
      resolve(failed ? 1 : exitCode);
    };
    const shutdown = (code: number) => {
      if (stopping) return;
      stopping = true;
      exitCode = code;
      for (const worker of live) {
        if (ready.has(worker.id) && worker.isConnected()) {
          worker.send({ type: 'wharf-shutdown', deadlineMs });
        } else {
          // Still starting (a restart, say): it may not listen for our message yet, and it serves
          // no one, so a plain SIGTERM ends it without waiting for the deadline.
          worker.process.kill('SIGTERM');
        }
      }
      // Workers get the deadline plus a margin; then they are killed.
      hardStop = setTimeout(() => {
        for (const worker of live) worker.process.kill('SIGKILL');
      }, deadlineMs + 3_000);
      if (live.size === 0) finish();
    };
    const onSignal = () => shutdown(0);
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    options.onPrimary?.({
      stop: onSignal,
      stopping: () => stopping,
      async workerStatuses<T>() {
        const connected = [...live].filter((worker) => worker.isConnected());
        const answers = await Promise.all(connected.map(askStatus));
        return answers.filter((answer) => answer !== undefined) as T[];
      },
    });
    for (let i = 0; i < workers; i++) spawn();
  });
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
