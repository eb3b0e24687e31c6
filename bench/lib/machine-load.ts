import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

/** CPU seconds all processes have spent busy since boot (/proc/stat: all but idle and iowait). */
function busySeconds(): number {
  const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = fields;
  return (user + nice + system + irq + softirq + steal) / 100; // USER_HZ is 100 on Linux
}

/**
 * How busy the machine is right now, in % of one core (200% = both cores of a 2-core machine),
 * sampled over `ms`. Benchmarks print it: on a shared machine it says how much to trust a run.
 */
export async function machineBusyPercent(ms = 1_000): Promise<number> {
  try {
    const before = busySeconds();
    const start = performance.now();
    await sleep(ms);
    return (100 * (busySeconds() - before)) / ((performance.now() - start) / 1000);
  } catch {
    return Number.NaN;
  }
}
