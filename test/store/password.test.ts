import { describe, expect, it } from 'vitest';
import { hashPassword, verifyPassword } from '../../src/store/index.js';

describe('password hashes', () => {
  it('round-trips, with a fresh salt each time', async () => {
    const [a, b] = await Promise.all([hashPassword('hunter2'), hashPassword('hunter2')]);
    expect(a).not.toBe(b);
    expect(await verifyPassword('hunter2', a)).toBe(true);
    expect(await verifyPassword('hunter3', a)).toBe(false);
    expect(await verifyPassword('', a)).toBe(false);
  });

  it('treats a composed and a decomposed accent as the same password', async () => {
    const hash = await hashPassword('caf\u00e9');
    expect(await verifyPassword('cafe\u0301', hash)).toBe(true);
  });

  it('never matches a malformed or greedy hash, and does not throw', async () => {
    const good = await hashPassword('x');
    const [, , r, p, salt, key] = good.split('$');
    for (const bad of ['', 'plain', 'md5$abc', `scrypt$1000$${r}$${p}$${salt}$${key}`, `scrypt$${2 ** 30}$${r}$${p}$${salt}$${key}`, `scrypt$16384$8$1$${salt}$`, good.replace('scrypt', 'bcrypt')]) {
      expect(await verifyPassword('x', bad), bad).toBe(false);
    }
  });
});
