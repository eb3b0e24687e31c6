import type { Logger } from './logger.js';
import { MetricsRegistry } from './metrics.js';
import { PortalRegistry } from './portal.js';
import { formatServiceAddress, type RunningService, type ServiceDefinition, type ServiceStatusLine } from './service.js';

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
  /** The browser portal's sections, added by the services that have a page (core/portal.ts). */
  readonly portal = new PortalRegistry();
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
        statuses: () => this.statuses(),
        portal: this.portal,
      },
      config,
    );
    this.running.push(service);
    return service;
  }

  /** Each running service as `wharf status` shows it. */
  async statuses(): Promise<ServiceStatusLine[]> {
    return Promise.all(
      this.running.map(async (service) => {
        const commands = service.clientCommands?.();
        return {
          name: service.name,
          addresses: service.addresses.map((address) => formatServiceAddress(address, service.scheme)),
          connectionsOpen: this.metrics.for(service.name).connectionsOpen,
          ...((await service.status?.()) ?? {}),
          ...(commands !== undefined && commands.length > 0 ? { clientCommands: commands } : {}),
        };
      }),
    );
  }

  /** Stop every service, all at once, each with the same deadline. */
  async stop(deadlineMs = 5_000): Promise<void> {
    this.#abort.abort();
    const services = this.running.splice(0);
    await Promise.allSettled(services.map((service) => service.stop(deadlineMs)));
  }
}
