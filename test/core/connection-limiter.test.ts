import { describe, expect, it } from 'vitest';
import { ConnectionLimiter } from '../../src/core/connection-limiter.js';

describe('ConnectionLimiter', () => {
  it('admits up to the total cap, refuses past it, and admits again once a slot is released', () => {
    const limiter = new ConnectionLimiter({ maxTotal: 2, maxPerIp: 0 });
    expect(limiter.admit('10.0.0.1')).toBeUndefined();
    expect(limiter.admit('10.0.0.2')).toBeUndefined();
    expect(limiter.admit('10.0.0.3')).toBe('server-full');
    expect(limiter.open).toBe(2);
    limiter.release('10.0.0.1');
    expect(limiter.admit('10.0.0.3')).toBeUndefined();
  });

  it('caps one address without holding back the others, and forgets an address with nothing open', () => {
    const limiter = new ConnectionLimiter({ maxTotal: 100, maxPerIp: 2 });
    expect(limiter.admit('10.0.0.1')).toBeUndefined();
    expect(limiter.admit('10.0.0.1')).toBeUndefined();
    expect(limiter.admit('10.0.0.1')).toBe('ip-full');
    expect(limiter.admit('10.0.0.2')).toBeUndefined();
    expect(limiter.openFrom('10.0.0.1')).toBe(2);
    limiter.release('10.0.0.1');
    limiter.release('10.0.0.1');
    expect(limiter.openFrom('10.0.0.1')).toBe(0);
    expect(limiter.open).toBe(1);
    expect(limiter.admit('10.0.0.1')).toBeUndefined();
  });

  it('says server-full before ip-full when both caps are reached', () => {
    const limiter = new ConnectionLimiter({ maxTotal: 1, maxPerIp: 1 });
    limiter.admit('10.0.0.1');
    expect(limiter.admit('10.0.0.1')).toBe('server-full');
  });

  it('counts a peer without an address in the total only', () => {
    const limiter = new ConnectionLimiter({ maxTotal: 3, maxPerIp: 1 });
    expect(limiter.admit('')).toBeUndefined();
    expect(limiter.admit('')).toBeUndefined();
    expect(limiter.open).toBe(2);
    expect(limiter.admit('10.0.0.1')).toBeUndefined();
    expect(limiter.admit('10.0.0.2')).toBe('server-full');
    limiter.release('');
    expect(limiter.open).toBe(2);
  });

  it('never goes below zero when released more often than admitted', () => {
    const limiter = new ConnectionLimiter({ maxTotal: 1, maxPerIp: 1 });
    limiter.release('10.0.0.1');
    expect(limiter.open).toBe(0);
    expect(limiter.admit('10.0.0.1')).toBeUndefined();
    expect(limiter.admit('10.0.0.2')).toBe('server-full');
  });
});
