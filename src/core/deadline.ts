/** How a wait for a deadline ended: the work settled first, or the deadline (or an abort) came first. */
export type DeadlineOutcome<T> = { settled: true; value: T } | { settled: false; reason: 'deadline' | 'aborted' };

/**
 * Wait for `work`, but no longer than `deadlineMs`, and no longer than until `signal` aborts.
 * The timer is always cleared and the abort listener removed, so a wait that ends early leaves
 * nothing behind to keep the process alive. A rejection of `work` before the deadline is thrown.
 * The work itself is not cancelled: the caller decides what a passed deadline means (destroy the
 * sockets left, kill the children, take the answer it has).
 */
export async function untilDeadline<T>(work: PromiseLike<T>, deadlineMs: number, options: { signal?: AbortSignal } = {}): Promise<DeadlineOutcome<T>> {
  const { signal } = options;
  if (signal?.aborted) return { settled: false, reason: 'aborted' };
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  const cut = new Promise<DeadlineOutcome<T>>((resolve) => {
    timer = setTimeout(() => resolve({ settled: false, reason: 'deadline' }), Math.max(0, deadlineMs));
    if (signal) {
      onAbort = () => resolve({ settled: false, reason: 'aborted' });
      signal.addEventListener('abort', onAbort, { once: true });
    }
  });
  try {
    return await Promise.race([Promise.resolve(work).then((value): DeadlineOutcome<T> => ({ settled: true, value })), cut]);
  } finally {
    clearTimeout(timer);
    if (onAbort) signal?.removeEventListener('abort', onAbort);
  }
}
