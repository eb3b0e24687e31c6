import { afterEach, describe, expect, it } from 'vitest';
import { canBindPrivileged, privilegedSkipReason, udpResponder } from '../../helpers/udp-source.js';
import { waitFor } from '../../helpers/net.js';
import { allEntries, openClient, seedSocket, startDiary, stopAll } from './support.js';

afterEach(() => stopAll());

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('the diary against forged sources', () => {
  it.skipIf(!canBindPrivileged)(
    `neither stores nor answers a datagram from an echo port: a forged one cannot fill the diary${canBindPrivileged ? '' : ` (skipped: ${privilegedSkipReason})`}`,
    async () => {
      const { port, store } = await startDiary();
      const echo = await udpResponder(7, { echo: true });
      try {
        for (let i = 0; i < 20; i++) echo.socket.send(`junk ${i}`, port, '127.0.0.1');
        echo.socket.send('-r', port, '127.0.0.1');
        await pause(500);
        expect(echo.received).toBe(0);
        expect(await allEntries(store)).toEqual([]);
      } finally {
        await echo.close();
      }
    },
  );

  it('sends an address that has not shown it receives at most 3× what it sent, plus a small credit', async () => {
    const credit = 4096;
    const { port, server } = await startDiary({ answerBudgetOnLoopback: true, answerCreditBytes: credit, answerCreditBytesPerSecond: 256 });
    const writer = await openClient(port);
    await Promise.all(Array.from({ length: 60 }, (_, i) => writer.write(`entry ${i} ${'日记'.repeat(10)}`)));
    // The "victim": every -r below is what a forged request makes the server send it.
    const victim = await seedSocket(port, '127.0.0.3');
    const started = performance.now();
    for (let i = 0; i < 300; i++) victim.send('-r');
    await waitFor(() => server.answersOverBudget > 0);
    await pause(300);
    const seconds = (performance.now() - started) / 1000;
    const bytesBack = victim.received.reduce((sum, m) => sum + m.length, 0);
    expect(victim.received.length).toBeGreaterThan(0);
    expect(bytesBack).toBeLessThanOrEqual(3 * 300 * 2 + credit + 256 * seconds);
  });

  it("the seed's client still reads its diary and writes short lines under the bound", async () => {
    const { port } = await startDiary({ answerBudgetOnLoopback: true });
    const writer = await openClient(port);
    await Promise.all(Array.from({ length: 40 }, (_, i) => writer.write(`entry ${i} ${'x'.repeat(20)}`)));
    const seed = await seedSocket(port);
    expect(await seed.ask('-r')).toContain('entry 39');
    for (let i = 0; i < 30; i++) expect(await seed.ask(`l${i}`)).toMatch(new RegExp(`\\] l${i}$`));
  });

  it("wharf's client reads a whole diary of many pages under the bound (it pads its requests)", async () => {
    const { port, server } = await startDiary({ answerBudgetOnLoopback: true, answerCreditBytes: 0 });
    const writer = await openClient(port);
    await Promise.all(Array.from({ length: 300 }, (_, i) => writer.write(`entry ${i} ${'字'.repeat(30)}`)));
    const reader = await openClient(port);
    const entries = await reader.read();
    expect(entries).toHaveLength(300);
    expect(server.answersOverBudget).toBe(0);
  });
});
