import type { Logger } from './logger.js';
import { MetricsRegistry } from './metrics.js';
import type { RunningService, ServiceDefinition } from './service.js';

export interface HostOptions {
  logger: Logger;
  dataDir: string;
  resources?: Record<string, unknown>;
  console?: boolean;
  metrics?: MetricsRegistry;
}

/**
 * Runs several services in one process (twistd, inetd): starts them in order, and if one fails
 * to start, stops those already running so no port is left half-open.
 */
export class ServiceHost {
  readonly running: RunningService[] = [];
  readonly metrics: MetricsRegistry;
  readonly #abort = new AbortController();
  readonly #options: HostOptions;

  constructor(options: HostOptions) {
    this.#options = options;
    this.metrics = options.metrics ?? new MetricsRegistry();
  }

  async start<C>(definition: ServiceDefinition<C>, config: C): Promise<RunningService> {
    const { logger, dataDir, resources, console } = this.#options;
    const service = await definition.start(
      {
        logger: logger.child({ service: definition.name }),
        metrics: this.metrics.for(definition.name),
        dataDir,
        signal: this.#abort.signal,
        resources: resources ?? {},
        console: console ?? false,
        services: () => this.running.map((running) => ({ name: running.name, addresses: running.addresses })),
      },
      config,
    );
    this.running.push(service);
    return service;
  }

  /** Stop every service, all at once, each with the same deadline. */
  async stop(deadlineMs = 5_000): Promise<void> {
    this.#abort.abort();
    const services = this.running.splice(0);
    await Promise.allSettled(services.map((service) => service.stop(deadlineMs)));
  }
}
