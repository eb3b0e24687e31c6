import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { isClusterWorker, joinSiblings, onWorkerShutdown, onWorkerStatusRequest, reportWorkerFailed, reportWorkerListening, runClusterPrimary, type ClusterPrimary, type SiblingChannel } from '../core/cluster.js';
import { WharfError } from '../core/errors.js';
import { ServiceHost } from '../core/host.js';
import { createLogger, type Logger } from '../core/logger.js';
import { formatServiceAddress, resourcesUsed, type ListeningAddress, type ServiceDefinition } from '../core/service.js';
import { SharedLoginThrottle, openStore, type AccountsEvent, type Store } from '../store/index.js';
import type { ResolvedConfig } from './config.js';
import { startAdmin, type ServerAdmin, type ServiceStatusLine } from './server-admin.js';
import { describeStartFailure } from './start-failure.js';

export interface ServeOptions {
  definitions: ReadonlyArray<ServiceDefinition<unknown>>;
  config: ResolvedConfig;
  /** Where the "listening" lines go (stdout). */
  print?: (line: string) => void;
  /**
   * Read the server console from standard input (status, say, quit, help): true when it is a
   * terminal, or with `--console`; `--no-console` (config.host.console false) overrides.
   */
  console?: boolean;
}

/**
 * The line printed for each listening address: `echo tcp://127.0.0.1:7007`, or a URL a person
 * can open for a service that speaks HTTP (`web http://127.0.0.1:8000/`).
 */
export function listeningLine(service: string, address: ListeningAddress, scheme?: string): string {
  return `${service} ${formatServiceAddress(address, scheme)}`;
}

/**
 * `wharf serve` and `wharf <service> serve`: start the services, print where they listen, run
 * until SIGINT/SIGTERM, stop gracefully. With `workers > 1` this process becomes the cluster
 * primary and the services run in the workers. Resolves with the process exit code.
 */
export async function serve(options: ServeOptions): Promise<number> {
  const { config } = options;
  const print = options.print ?? ((line: string) => process.stdout.write(`${line}\n`));
  const logger = createLogger({ level: config.host.logLevel, format: config.host.logFormat });
  const dataDir = resolve(config.host.data);
  try {
    mkdirSync(dataDir, { recursive: true });
  } catch (error) {
    throw new WharfError('EDATA', `cannot create the data folder ${dataDir}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
  }

  // A closed terminal sends SIGHUP, and so do service managers by habit: never a reason to stop
  // serving. The configuration and dictionaries are read at start only (docs/running.md). Set
  // before anything listens, so that no moment of the server's life dies of it.
  // Workers get the terminal's SIGHUP too: the primary alone says so.
  process.on('SIGHUP', () => {
    if (!isClusterWorker()) logger.warn('SIGHUP ignored: wharf keeps running; restart it to apply a changed configuration');
  });

  if (config.host.workers > 1 && !isClusterWorker()) return runPrimary(options, logger, dataDir, print);
  return runInThisProcess(options, logger, dataDir, print);
}

/** The admin's settings both ways of running share. */
function adminBase(options: ServeOptions, logger: Logger, dataDir: string, print: (line: string) => void) {
  const { host } = options.config;
  return { dataDir, logger, workers: host.workers, shutdownDeadlineMs: host.shutdownDeadlineMs, print };
}

function readsConsole(options: ServeOptions): boolean {
  return (options.console ?? false) && options.config.host.console;
}

/** With --workers: the services run in the workers; this process supervises, and owns the console and the control socket. */
async function runPrimary(options: ServeOptions, logger: Logger, dataDir: string, print: (line: string) => void): Promise<number> {
  const { config } = options;
  let primary: ClusterPrimary | undefined;
  let lines: string[] = [];
  const admin = await startAdmin({
    ...adminBase(options, logger, dataDir, print),
    commands: () => [],
    services: async () => clusterServices(lines, (await primary?.workerStatuses()) ?? []),
    stop: () => primary?.stop(),
    isStopping: () => primary?.stopping() ?? false,
  });
  logger.info({ workers: config.host.workers }, `starting ${config.host.workers} workers`);
  try {
    return await runClusterPrimary({
      workers: config.host.workers,
      logger,
      deadlineMs: config.host.shutdownDeadlineMs,
      scheduling: config.host.scheduling,
      onPrimary: (handle) => (primary = handle),
      onListening: (listening) => {
        lines = listening;
        announceDataFolder(logger, dataDir);
        for (const line of listening) print(line);
        if (readsConsole(options)) admin.readConsole();
      },
    });
  } finally {
    await admin.close();
  }
}

/** The services as the workers' listening lines name them, with their connections summed over the workers. */
function clusterServices(lines: readonly string[], workers: ReadonlyArray<ReadonlyArray<ServiceStatusLine>>): ServiceStatusLine[] {
  const services = new Map<string, ServiceStatusLine>();
  for (const line of lines) {
    const [name = '', address = ''] = line.split(' ');
    const service = services.get(name) ?? { name, addresses: [], connectionsOpen: 0 };
    service.addresses.push(address);
    services.set(name, service);
  }
  for (const worker of workers) {
    for (const status of worker) {
      const service = services.get(status.name);
      if (!service) continue;
      service.connectionsOpen += status.connectionsOpen;
      if (status.transfers !== undefined) service.transfers = (service.transfers ?? 0) + status.transfers;
    }
  }
  return [...services.values()];
}

/**
 * Which data folder the server uses (the accounts `wharf user` must change): a log event, so
 * JSON logs stay JSON; said once listening, so a failed start is its one sentence.
 */
function announceDataFolder(logger: Logger, dataDir: string): void {
  logger.info({ dataDir }, `data folder: ${dataDir}`);
}

/** What the console and the control socket reach of the services running in this process. */
interface Running {
  host?: ServiceHost;
  stopping: boolean;
  stop?: (reason: string) => void;
}

async function runInThisProcess(options: ServeOptions, logger: Logger, dataDir: string, print: (line: string) => void): Promise<number> {
  const running: Running = { stopping: false };
  // A worker's console and control socket are the primary's.
  if (isClusterWorker()) return runServices(options, logger, dataDir, print, running);
  const admin = await startAdmin({
    ...adminBase(options, logger, dataDir, print),
    commands: () => running.host?.running.flatMap((service) => service.consoleCommands ?? []) ?? [],
    services: () => (running.host ? running.host.statuses() : Promise.resolve([])),
    stop: (reason) => running.stop?.(reason),
    isStopping: () => running.stopping,
  });
  try {
    return await runServices(options, logger, dataDir, print, running, admin);
  } finally {
    await admin.close();
  }
}

async function runServices(options: ServeOptions, logger: Logger, dataDir: string, print: (line: string) => void, running: Running, admin?: ServerAdmin): Promise<number> {
  const { config, definitions } = options;
  const needsStore = definitions.some((d) => resourcesUsed(d, config.services.get(d.name)).includes('store'));
  const resources: Record<string, unknown> = {};
  let store: Store | undefined;
  let accountsChannel: SiblingChannel<AccountsEvent> | undefined;
  let sharedThrottle: SharedLoginThrottle | undefined;
  if (needsStore) {
    store = await openStore({ dataDir, url: config.host.db, logger, accounts: config.host.accounts });
    resources.store = store;
    if (store.dialect !== 'sqlite') {
      // A database server may be shared by several machines: the failed logins are counted
      // through it, so every process on every machine counts every failure.
      sharedThrottle = await SharedLoginThrottle.start(store, { logger });
    } else if (isClusterWorker()) {
      // Every worker counts every failed login and registration, or N workers would give N allowances.
      const accounts = store.accounts;
      const channel = await joinSiblings<AccountsEvent>('accounts', (event) => accounts.apply(event));
      accounts.share((event) => channel.publish(event));
      accountsChannel = channel;
    }
  }
  // The chat shares its rooms through Redis when given one (docs/scaling.md).
  if (config.host.redis !== undefined) resources.redis = config.host.redis;
  const host = new ServiceHost({ logger, dataDir, console: readsConsole(options), resources });
  running.host = host;
  const lines: string[] = [];
  try {
    for (const definition of definitions) {
      const serviceConfig = config.services.get(definition.name);
      const running = await host.start(definition, serviceConfig).catch((error: unknown) => {
        throw describeStartFailure(definition.name, error, serviceConfig);
      });
      for (const address of running.addresses) {
        lines.push(listeningLine(definition.name, address, running.scheme));
      }
    }
  } catch (error) {
    await host.stop(0);
    accountsChannel?.close();
    await sharedThrottle?.close();
    await store?.close();
    if (isClusterWorker()) {
      reportWorkerFailed(error instanceof Error ? error.message : String(error));
      return 1;
    }
    throw error;
  }
  if (isClusterWorker()) {
    // The primary prints; it needs the service names too.
    reportWorkerListening(lines);
    onWorkerStatusRequest(() => host.statuses());
  } else {
    announceDataFolder(logger, dataDir);
    for (const line of lines) print(line);
    if (readsConsole(options)) admin?.readConsole();
  }
  const names = definitions.map((d) => d.name);
  logger.info({ services: names }, `ready: ${names.join(', ')}`);
  // One line; the numbers ride along as fields (JSON output, or a terminal at debug level).
  const logMetrics = () => logger.info({ metrics: host.metrics.snapshot() }, `counters: ${host.metrics.summary()}`);
  const metricsTimer = config.host.metricsIntervalMs > 0 ? setInterval(logMetrics, config.host.metricsIntervalMs) : undefined;
  metricsTimer?.unref();

  return new Promise<number>((resolveExit) => {
    const stop = (reason: string) => {
      if (running.stopping) {
        // A second Ctrl-C means "now".
        logger.warn('stopping immediately');
        resolveExit(130);
        return;
      }
      running.stopping = true;
      clearInterval(metricsTimer);
      logger.info({ reason, deadlineMs: config.host.shutdownDeadlineMs }, `stopping (${reason}): connections get ${config.host.shutdownDeadlineMs / 1000} s to finish`);
      logMetrics();
      host
        .stop(config.host.shutdownDeadlineMs)
        .then(async () => {
          accountsChannel?.close();
          await sharedThrottle?.close();
          return store?.close();
        })
        .then(
        () => resolveExit(0),
        (error: unknown) => {
          logger.error({ err: error }, 'error while stopping');
          resolveExit(1);
        },
      );
    };
    running.stop = stop;
    process.on('SIGINT', () => stop('SIGINT'));
    process.on('SIGTERM', () => stop('SIGTERM'));
    if (isClusterWorker()) onWorkerShutdown(() => stop('primary asked'));
  });
}
