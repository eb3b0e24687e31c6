import { describe, expect, it } from 'vitest';
import { LoginThrottle, throttleKeyForAddress, type ThrottleEvent } from '../../src/store/index.js';

const MINUTE = 60_000;

function throttle(options: ConstructorParameters<typeof LoginThrottle>[0] = {}): { t: LoginThrottle; clock: { now: number } } {
  const clock = { now: 0 };
  return { t: new LoginThrottle({ ...options, now: () => clock.now }), clock };
}

function fail(t: LoginThrottle, name: string, ip: string, times: number): number {
  let lockedForMs = 0;
  for (let i = 0; i < times; i++) lockedForMs = Math.max(lockedForMs, t.failure(name, ip).lockedForMs);
  return lockedForMs;
}

describe('LoginThrottle', () => {
  it('grows the delay after each failure, up to the cap', () => {
    const { t } = throttle();
    const delays = Array.from({ length: 4 }, () => t.failure('alice', '10.0.0.1').delayMs);
    expect(delays).toEqual([1000, 2000, 4000, 5000]);
  });

  it('locks a name for the failing address only, after five failures', () => {
    const { t } = throttle();
    expect(fail(t, 'alice', '10.0.0.1', 4)).toBe(0);
    expect(t.check('alice', '10.0.0.1')).toEqual({ allowed: true });
    expect(t.failure('alice', '10.0.0.1').lockedForMs).toBe(15 * MINUTE);
    expect(t.check('alice', '10.0.0.1')).toEqual({ allowed: false, retryAfterMs: 15 * MINUTE });
    expect(t.check('alice', '10.0.0.2')).toEqual({ allowed: true }); // the real user, elsewhere
    expect(t.check('bob', '10.0.0.1')).toEqual({ allowed: true }); // five failures are not ten
  });

  it('locks an address for every name after ten failures, whatever the names', () => {
    const { t } = throttle();
    for (let i = 0; i < 9; i++) expect(t.failure(`name${i}`, '10.0.0.1').lockedForMs).toBe(0);
    expect(t.failure('name9', '10.0.0.1').lockedForMs).toBe(15 * MINUTE);
    expect(t.check('anyone', '10.0.0.1')).toMatchObject({ allowed: false });
    expect(t.check('anyone', '10.0.0.2')).toEqual({ allowed: true });
  });

  it('lets a lock expire by itself, doubles the next one, and caps it', () => {
    const { t, clock } = throttle();
    const locks: number[] = [];
    for (let round = 0; round < 7; round++) {
      locks.push(fail(t, 'alice', '10.0.0.1', 5));
      expect(t.check('alice', '10.0.0.1').allowed).toBe(false);
      clock.now += locks.at(-1)!;
      expect(t.check('alice', '10.0.0.1').allowed).toBe(true);
    }
    expect(locks.map((ms) => ms / MINUTE)).toEqual([15, 30, 60, 120, 240, 240, 240]);
    // After a quiet period as long as the cap, the next lock is short again.
    clock.now += 4 * 60 * MINUTE + 1;
    expect(fail(t, 'alice', '10.0.0.1', 5)).toBe(15 * MINUTE);
  });

  it('forgets failures older than the window', () => {
    const { t, clock } = throttle();
    fail(t, 'alice', '10.0.0.1', 4);
    clock.now += 15 * MINUTE + 1;
    expect(fail(t, 'alice', '10.0.0.1', 4)).toBe(0);
    expect(t.check('alice', '10.0.0.1').allowed).toBe(true);
  });

  it("forgives a pair's failures on success, so a user who mistyped is not punished later", () => {
    const { t } = throttle();
    fail(t, 'alice', '10.0.0.1', 4);
    t.success('alice', '10.0.0.1');
    expect(t.failure('alice', '10.0.0.1')).toEqual({ delayMs: 1000, lockedForMs: 0 });
    // The address's count lost alice's four failures too: nine more failures elsewhere do not lock it.
    expect(fail(t, 'other', '10.0.0.1', 3) + fail(t, 'third', '10.0.0.1', 4)).toBe(0);
    expect(t.check('fourth', '10.0.0.1').allowed).toBe(true);
  });

  it("does not let a success on the attacker's own account wipe failures against other names", () => {
    const { t } = throttle();
    fail(t, 'victim', '10.0.0.1', 4);
    fail(t, 'victim2', '10.0.0.1', 4);
    t.success('attacker', '10.0.0.1');
    expect(fail(t, 'victim3', '10.0.0.1', 2)).toBe(15 * MINUTE);
  });

  it('locks failing addresses sooner while a name is under a distributed attack, never the others', () => {
    const { t } = throttle();
    // 20 addresses, one guess each: the name is now "under attack".
    for (let i = 0; i < 20; i++) expect(t.failure('alice', `10.9.0.${i}`).lockedForMs).toBe(0);
    expect(t.failure('alice', '10.9.1.1').lockedForMs).toBe(0);
    expect(t.failure('alice', '10.9.1.1').lockedForMs).toBe(15 * MINUTE); // two, not five
    expect(t.check('alice', '10.9.1.1').allowed).toBe(false);
    expect(t.check('alice', '192.0.2.50').allowed).toBe(true); // an address that has not failed
  });

  it('treats IPv4-mapped addresses as IPv4 and an IPv6 /64 as one client', () => {
    expect(throttleKeyForAddress('::ffff:192.0.2.1')).toBe('192.0.2.1');
    expect(throttleKeyForAddress('2001:db8:1:2:aaaa::1')).toBe('2001:db8:1:2::/64');
    expect(throttleKeyForAddress('2001:db8:1:2::dead:beef')).toBe('2001:db8:1:2::/64');
    expect(throttleKeyForAddress('::1')).toBe('0:0:0:0::/64');
    expect(throttleKeyForAddress('fe80::1%eth0')).toBe('fe80:0:0:0::/64');
    expect(throttleKeyForAddress('192.0.2.1')).toBe('192.0.2.1');
    const { t } = throttle();
    fail(t, 'alice', '2001:db8:1:2::1', 3);
    fail(t, 'alice', '2001:db8:1:2::2', 2);
    expect(t.check('alice', '2001:db8:1:2::3').allowed).toBe(false);
    expect(t.check('alice', '2001:db8:1:3::1').allowed).toBe(true);
  });

  it('stays bounded under a flood of names and addresses', () => {
    const { t } = throttle({ maxEntries: 1000 });
    for (let i = 0; i < 10_000; i++) t.failure(`name${i}`, `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`);
    expect(t.size).toBeLessThanOrEqual(3000);
  });
});

describe('LoginThrottle shared between processes', () => {
  /** Two throttles wired as two workers are: each one's events applied by the other, and logged. */
  function pair(): { a: LoginThrottle; b: LoginThrottle; clock: { now: number }; log: ThrottleEvent[] } {
    const clock = { now: 0 };
    const log: ThrottleEvent[] = [];
    const a = new LoginThrottle({ now: () => clock.now });
    const b = new LoginThrottle({ now: () => clock.now });
    a.share((event) => {
      log.push(event);
      b.apply(event);
    });
    b.share((event) => {
      log.push(event);
      a.apply(event);
    });
    return { a, b, clock, log };
  }

  it('counts failures seen by either process: five and five lock the address in both', () => {
    const { a, b } = pair();
    for (let i = 0; i < 5; i++) expect(a.failure(`name${i}`, '10.0.0.1').lockedForMs).toBe(0);
    for (let i = 5; i < 9; i++) expect(b.failure(`name${i}`, '10.0.0.1').lockedForMs).toBe(0);
    expect(b.failure('name9', '10.0.0.1').lockedForMs).toBe(15 * MINUTE);
    expect(a.check('anyone', '10.0.0.1')).toEqual({ allowed: false, retryAfterMs: 15 * MINUTE });
    expect(b.check('anyone', '10.0.0.1')).toEqual({ allowed: false, retryAfterMs: 15 * MINUTE });
    // The delay grows with the pair's failures wherever they happened.
    expect(a.failure('alice', '10.0.0.2').delayMs).toBe(1000);
    expect(b.failure('alice', '10.0.0.2').delayMs).toBe(2000);
  });

  it('a success or a forgotten name in one process clears it in the other', () => {
    const { a, b } = pair();
    fail(a, 'alice', '10.0.0.1', 4);
    b.success('alice', '10.0.0.1');
    expect(a.failure('alice', '10.0.0.1').delayMs).toBe(1000); // forgiven: the count starts over
    fail(b, 'bob', '10.0.0.3', 5);
    expect(a.check('bob', '10.0.0.3').allowed).toBe(false);
    a.forgetName('bob');
    expect(b.check('bob', '10.0.0.3').allowed).toBe(true);
  });

  it('does not send on what it was told (no echo between processes)', () => {
    const { a, b, log } = pair();
    a.failure('alice', '10.0.0.1');
    b.success('alice', '10.0.0.1');
    a.forgetName('alice');
    expect(log.map((event) => event.kind)).toEqual(['failure', 'success', 'forget']);
  });

  it('rebuilds the same state from a replayed log, lock times included', () => {
    const { a, clock, log } = pair();
    fail(a, 'alice', '10.0.0.1', 5);
    clock.now += MINUTE;
    fail(a, 'carol', '10.0.0.2', 3);
    a.success('carol', '10.0.0.2');
    const late = new LoginThrottle({ now: () => clock.now });
    for (const event of log) late.apply(event);
    expect(late.check('alice', '10.0.0.1')).toEqual(a.check('alice', '10.0.0.1'));
    expect(late.check('alice', '10.0.0.1')).toEqual({ allowed: false, retryAfterMs: 14 * MINUTE });
    expect(late.size).toBe(a.size);
    expect(late.failure('carol', '10.0.0.2').delayMs).toBe(a.failure('carol', '10.0.0.2').delayMs);
  });

  it('ignores events of a kind it does not know', () => {
    const { t } = throttle();
    t.apply({ kind: 'something-new' } as unknown as ThrottleEvent);
    expect(t.size).toBe(0);
  });
});
