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
}
