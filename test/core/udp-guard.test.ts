import { describe, expect, it } from 'vitest';
import { AnswerBudget } from '../../src/core/answer-budget.js';
import { ServiceMetrics } from '../../src/core/metrics.js';
import { DatagramGuard, isReflectorPort } from '../../src/core/udp-guard.js';

describe('DatagramGuard', () => {
  it('refuses privileged and known-responder source ports, admits ordinary client ports', () => {
    const guard = new DatagramGuard();
    for (const port of [0, 7, 13, 17, 19, 37, 53, 69, 111, 123, 137, 161, 389, 1023, 1900, 5353, 11211, 27015]) {
      expect(guard.admits('192.0.2.1', port), String(port)).toBe(false);
    }
    for (const port of [1024, 40_000, 55_555, 60_999]) expect(guard.admits('192.0.2.1', port), String(port)).toBe(true);
    expect(isReflectorPort(3702)).toBe(true);
  });

  it('never refuses a port an operating system hands out as ephemeral: a client there would never be answered', () => {
    // Linux picks client ports in 32768-60999, Windows and the BSDs in 49152-65535. A responder
    // living there (BACnet 47808, a DVR's 37810) is left to the per-address rate instead.
    for (let port = 32_768; port <= 65_535; port++) if (isReflectorPort(port)) expect.fail(`port ${port} is refused`);
  });

  it("refuses wharf's default ports, its own port and the host's running ports, read again as they change", () => {
    let now = 0;
    const running = [41_000];
    const guard = new DatagramGuard({ ownPorts: () => running, now: () => now });
    guard.addOwnPort(42_000);
    for (const port of [7007, 6969, 8888, 8000, 7788, 41_000, 42_000]) expect(guard.admits('127.0.0.1', port), String(port)).toBe(false);
    running.push(43_000);
    now += 1_000;
    expect(guard.admits('127.0.0.1', 43_000)).toBe(false);
    expect(guard.refused.ownPort).toBe(8);
  });

  it('rate-limits each source address with a token bucket; other addresses are not affected', () => {
    let now = 0;
    const metrics = new ServiceMetrics('test');
    const guard = new DatagramGuard({ perSourcePerSecond: 10, perSourceBurst: 5, now: () => now, metrics });
    const admitted = Array.from({ length: 20 }, () => guard.admits('192.0.2.1', 40_000)).filter(Boolean).length;
    expect(admitted).toBe(5);
    expect(guard.admits('192.0.2.2', 40_000)).toBe(true);
    now += 1_000;
    expect(Array.from({ length: 20 }, () => guard.admits('192.0.2.1', 40_000)).filter(Boolean).length).toBe(5);
    expect(guard.refused.rate).toBe(30);
    expect(metrics.datagramsRefused).toBe(30);
  });

  it('leaves loopback sources unlimited unless told (only this machine can send them)', () => {
    const open = new DatagramGuard({ perSourcePerSecond: 1, perSourceBurst: 1, now: () => 0 });
    expect(Array.from({ length: 10 }, () => open.admits('127.0.0.1', 40_000)).every(Boolean)).toBe(true);
    const strict = new DatagramGuard({ perSourcePerSecond: 1, perSourceBurst: 1, limitLoopback: true, now: () => 0 });
    expect(Array.from({ length: 10 }, () => strict.admits('::1', 40_000)).filter(Boolean).length).toBe(1);
  });

  it('logs refusals at most once a minute, with the count since the last line', () => {
    let now = 0;
    const lines: unknown[] = [];
    const logger = { warn: (fields: unknown) => lines.push(fields) } as never;
    const guard = new DatagramGuard({ now: () => now, logger });
    for (let i = 0; i < 1_000; i++) guard.admits('192.0.2.1', 7);
    expect(lines).toHaveLength(1);
    now += 60_000;
    guard.admits('192.0.2.1', 19);
    expect(lines).toHaveLength(2);
    expect(lines[1]).toMatchObject({ refused: 1000, totals: { reflectorPort: 1001 } });
  });
});

describe('AnswerBudget', () => {
  it('lets an address get 3× what it sent plus a credit that refills slowly, per IP address', () => {
    let now = 0;
    const budget = new AnswerBudget({ creditBytes: 100, creditBytesPerSecond: 10, limitLoopback: true, now: () => now });
    budget.received('192.0.2.1', 2);
    expect(budget.spend('192.0.2.1', 106)).toBe(true); // 100 of credit + 3 × 2
    expect(budget.spend('192.0.2.1', 1)).toBe(false);
    budget.received('192.0.2.1', 10);
    expect(budget.spend('192.0.2.1', 30)).toBe(true);
    expect(budget.spend('192.0.2.1', 1)).toBe(false);
    now += 2_000; // 20 bytes of credit back
    expect(budget.spend('192.0.2.1', 21)).toBe(false);
    expect(budget.spend('192.0.2.1', 20)).toBe(true);
    expect(budget.spend('192.0.2.2', 100)).toBe(true); // another address has its own
    expect(budget.dropped).toBe(3);
  });

  it('leaves loopback alone unless told, and forgets the least recently seen addresses first', () => {
    const open = new AnswerBudget({ creditBytes: 0 });
    expect(open.spend('127.0.0.1', 65_507)).toBe(true);
    const small = new AnswerBudget({ creditBytes: 10, maxAddresses: 2, now: () => 0 });
    expect(small.spend('192.0.2.1', 10)).toBe(true);
    small.spend('192.0.2.2', 1);
    small.spend('192.0.2.3', 1); // 192.0.2.1 is forgotten: it starts again with the credit
    expect(small.spend('192.0.2.1', 10)).toBe(true);
  });
});
