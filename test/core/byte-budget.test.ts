import { describe, expect, it } from 'vitest';
import { ByteBudget } from '../../src/core/byte-budget.js';

describe('ByteBudget', () => {
  it('grants up to its limit, then makes requests wait in line until bytes are released', async () => {
    const budget = new ByteBudget(100);
    expect(await budget.acquire(60)).toBe(true);
    const order: string[] = [];
    const second = budget.acquire(60).then((held) => order.push(`second ${held}`));
    const third = budget.acquire(10).then((held) => order.push(`third ${held}`));
    await Promise.resolve();
    expect(order).toEqual([]); // the small one does not jump the line
    expect(budget.waiting).toBe(2);
    budget.release(60);
    await Promise.all([second, third]);
    expect(order).toEqual(['second true', 'third true']);
    expect(budget.used).toBe(70);
  });

  it('gives up a wait when the requester goes away, and lets the next one through', async () => {
    const budget = new ByteBudget(100);
    await budget.acquire(90);
    let leave!: () => void;
    const gone = new Promise<void>((resolve) => (leave = resolve));
    const big = budget.acquire(50, gone);
    const small = budget.acquire(10);
    leave();
    expect(await big).toBe(false);
    expect(await small).toBe(true);
    expect(budget.used).toBe(100);
  });

  it('grants a request larger than the whole budget when nothing else is held', async () => {
    const budget = new ByteBudget(10);
    expect(await budget.acquire(50)).toBe(true);
    budget.release(50);
    expect(budget.used).toBe(0);
  });
});
