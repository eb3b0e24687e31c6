import dgram from 'node:dgram';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { AnswerSpin, BusyPoller } from '../../src/core/busy-poll.js';

/** Wait (bounded) until `condition` holds: a loaded machine may run the loop late, never wrongly. */
/** A clock that only moves when the test says so: the assertions cannot depend on scheduling. */
function manualClock(): { now: () => number; advance: (ms: number) => void } {
  let at = 1_000;
  return { now: () => at, advance: (ms) => void (at += ms) };
}

async function until(condition: () => boolean, limitMs = 2_000): Promise<void> {
  const deadline = performance.now() + limitMs;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error('condition not met in time');
    await sleep(1);
  }
}

describe('BusyPoller', () => {
  it('keeps the loop turning until the deadline, then stops by itself', async () => {
    const clock = manualClock();
    const poller = new BusyPoller(clock.now);
    poller.spinUntil(clock.now() + 3);
    expect(poller.spinning).toBe(true);
    // The clock stands still, so the poller must keep turning, however slow the machine is.
    await until(() => poller.turns >= 5);
    expect(poller.spinning).toBe(true);
    clock.advance(3);
    await until(() => !poller.spinning);
    const after = poller.turns;
    await sleep(5);
    expect(poller.turns).toBe(after);
  });

  it('does nothing for a deadline already past, and only ever moves the deadline forward', async () => {
    const clock = manualClock();
    const poller = new BusyPoller(clock.now);
    poller.spinUntil(clock.now() - 1);
    expect(poller.spinning).toBe(false);
    expect(poller.turns).toBe(0);
    poller.spinUntil(clock.now() + 500);
    poller.spinUntil(clock.now() + 1); // an earlier deadline does not cut the spin short
    clock.advance(2);
    await sleep(5);
    expect(poller.spinning).toBe(true);
    clock.advance(500);
    await until(() => !poller.spinning);
    poller.spinUntil(clock.now() + 10);
    expect(poller.spinning).toBe(true);
    poller.stop(); // stop() ends it whatever the deadline
    await until(() => !poller.spinning);
  });

  it('serves timers and sockets while it spins (it never blocks the loop)', async () => {
    const clock = manualClock();
    const poller = new BusyPoller(clock.now);
    const receiver = dgram.createSocket('udp4');
    const sender = dgram.createSocket('udp4');
    try {
      await new Promise<void>((resolve) => receiver.bind(0, '127.0.0.1', resolve));
      const { port } = receiver.address();
      poller.spinUntil(clock.now() + 1); // the clock stands still: it spins until stopped
      const got = new Promise<string>((resolve) => receiver.once('message', (message) => resolve(message.toString())));
      const fired = new Promise<boolean>((resolve) => setTimeout(() => resolve(true), 2));
      sender.send('ping', port, '127.0.0.1');
      await expect(got).resolves.toBe('ping');
      await expect(fired).resolves.toBe(true);
      expect(poller.spinning).toBe(true); // both arrived while it spun
    } finally {
      poller.stop();
      receiver.close();
      sender.close();
    }
  });
});

describe('AnswerSpin', () => {
  it('spins after a send while the peer answers within the budget', async () => {
    const clock = manualClock();
    const poller = new BusyPoller(clock.now);
    const spin = new AnswerSpin(50, poller);
    spin.sent();
    expect(poller.spinning).toBe(true);
    clock.advance(0.04); // answered in 40 us
    spin.answered();
    expect(spin.peerIsFast).toBe(true);
    spin.sent();
    expect(poller.spinning).toBe(true);
    poller.stop();
    await until(() => !poller.spinning);
  });

  it('stops spinning for a slow peer, except for one probe in PROBE_EVERY sends', async () => {
    const clock = manualClock();
    const poller = new BusyPoller(clock.now);
    const spin = new AnswerSpin(1_000, poller); // 1 ms
    spin.sent();
    clock.advance(10); // the peer takes 10 ms
    spin.answered();
    expect(spin.peerIsFast).toBe(false);
    await until(() => !poller.spinning);
    for (let i = 1; i < AnswerSpin.PROBE_EVERY; i++) {
      spin.sent();
      expect(poller.spinning, `send ${i}`).toBe(false);
      clock.advance(10);
    }
    spin.sent(); // the probe
    expect(poller.spinning).toBe(true);
    spin.answered(); // ... answered at once: fast again
    expect(spin.peerIsFast).toBe(true);
    poller.stop();
    await until(() => !poller.spinning);
    spin.sent(); // and the next send spins again
    expect(poller.spinning).toBe(true);
    poller.stop();
    await until(() => !poller.spinning);
  });

  it('a budget of 0 never spins', () => {
    const poller = new BusyPoller();
    const spin = new AnswerSpin(0, poller);
    expect(spin.enabled).toBe(false);
    for (let i = 0; i < 40; i++) spin.sent();
    expect(poller.spinning).toBe(false);
    expect(poller.turns).toBe(0);
  });

  it('the real clock: a spin of a few milliseconds ends by itself', async () => {
    const poller = new BusyPoller();
    const started = performance.now();
    poller.spinUntil(started + 3);
    await until(() => !poller.spinning);
    expect(performance.now() - started).toBeGreaterThanOrEqual(3); // never before the deadline
    expect(poller.turns).toBeGreaterThanOrEqual(1);
  });
});
