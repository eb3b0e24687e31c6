import { formatBytes } from './human-size.js';

/**
 * Counters per service. Plain numbers on a plain object: incrementing one is as cheap as it can
 * be, which matters on the per-chunk data path.
 */
export class ServiceMetrics {
  /** Connections (TCP) or peers (UDP) open right now. */
  connectionsOpen = 0;
  /** Connections accepted since start. */
  connectionsTotal = 0;
  /** Connections refused by a limit (total or per IP) or during shutdown. */
  connectionsRefused = 0;
  bytesIn = 0;
  bytesOut = 0;
  datagramsIn = 0;
  datagramsOut = 0;
  /** Datagrams dropped unanswered by the UDP source guard (core/udp-guard.ts). */
  datagramsRefused = 0;
  /** Protocol errors, timeouts, peers dropped for a limit. */
  errors = 0;

  constructor(readonly service: string) {}

  snapshot(): Record<string, number | string> {
    return {
      service: this.service,
      connectionsOpen: this.connectionsOpen,
      connectionsTotal: this.connectionsTotal,
      connectionsRefused: this.connectionsRefused,
      bytesIn: this.bytesIn,
      bytesOut: this.bytesOut,
      datagramsIn: this.datagramsIn,
      datagramsOut: this.datagramsOut,
      datagramsRefused: this.datagramsRefused,
      errors: this.errors,
    };
  }
}

export class MetricsRegistry {
  readonly #byService = new Map<string, ServiceMetrics>();

  for(service: string): ServiceMetrics {
    let metrics = this.#byService.get(service);
    if (!metrics) {
      metrics = new ServiceMetrics(service);
      this.#byService.set(service, metrics);
    }
    return metrics;
  }

  snapshot(): Array<Record<string, number | string>> {
    return [...this.#byService.values()].map((m) => m.snapshot());
  }

  /** One line a person reads at shutdown: `echo 3 connections, 1.2 kB in, 1.2 kB out; tftp ...`. */
  summary(): string {
    const parts = [...this.#byService.values()].map(summarize).filter((part) => part !== undefined);
    return parts.length > 0 ? parts.join('; ') : 'no traffic';
  }
}

function summarize(m: ServiceMetrics): string | undefined {
  const counts = [
    plural(m.connectionsTotal, 'connection'),
    plural(m.connectionsRefused, 'refused', 'refused'),
    plural(m.datagramsIn, 'datagram in', 'datagrams in'),
    plural(m.datagramsOut, 'datagram out', 'datagrams out'),
    m.bytesIn > 0 ? `${formatBytes(m.bytesIn)} in` : undefined,
    m.bytesOut > 0 ? `${formatBytes(m.bytesOut)} out` : undefined,
    plural(m.errors, 'error'),
  ].filter((count) => count !== undefined);
  return counts.length > 0 ? `${m.service} ${counts.join(', ')}` : undefined;
}

function plural(n: number, one: string, many = `${one}s`): string | undefined {
  return n === 0 ? undefined : `${n} ${n === 1 ? one : many}`;
}

