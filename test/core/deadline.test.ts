import { afterEach, describe, expect, it, vi } from 'vitest';
import { untilDeadline } from '../../src/core/deadline.js';

afterEach(() => {
  vi.useRealTimers();
});

describe('untilDeadline', () => {
  it('gives the value when the work settles before the deadline, and leaves no timer behind', async () => {
    vi.useFakeTimers();
    const outcome = await untilDeadline(Promise.resolve(42), 5_000);
    expect(outcome).toEqual({ settled: true, value: 42 });
    expect(vi.getTimerCount()).toBe(0);
  });

  it('says the deadline passed when the work is slower', async () => {
    vi.useFakeTimers();
    const waiting = untilDeadline(new Promise(() => {}), 1_000);
    await vi.advanceTimersByTimeAsync(999);
    let done = false;
    void waiting.then(() => (done = true));
    await Promise.resolve();
    expect(done).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(await waiting).toEqual({ settled: false, reason: 'deadline' });
    expect(vi.getTimerCount()).toBe(0);
  });

  it('throws the work\'s error when it fails before the deadline, and clears the timer', async () => {
    vi.useFakeTimers();
    await expect(untilDeadline(Promise.reject(new Error('broken pipe')), 5_000)).rejects.toThrow('broken pipe');
    expect(vi.getTimerCount()).toBe(0);
  });

  it('ends the wait when the signal aborts, and removes its listener', async () => {
    vi.useFakeTimers();
    const controller = new AbortController();
    const remove = vi.spyOn(controller.signal, 'removeEventListener');
    const waiting = untilDeadline(new Promise(() => {}), 60_000, { signal: controller.signal });
    controller.abort();
    expect(await waiting).toEqual({ settled: false, reason: 'aborted' });
    expect(remove).toHaveBeenCalledWith('abort', expect.any(Function));
    expect(vi.getTimerCount()).toBe(0);
  });

  it('does not wait at all on a signal already aborted', async () => {
    const controller = new AbortController();
    controller.abort();
    expect(await untilDeadline(new Promise(() => {}), 60_000, { signal: controller.signal })).toEqual({ settled: false, reason: 'aborted' });
  });
});
