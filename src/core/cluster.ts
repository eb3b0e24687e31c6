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
}

type WorkerMessage = { type: 'wharf-listening'; lines: string[] } | { type: 'wharf-failed'; message: string };

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
        }
      });
      worker.on('exit', (code, signal) => {
        live.delete(worker);
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
