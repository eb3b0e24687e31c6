import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { isClusterWorker, joinSiblings, onWorkerShutdown, reportWorkerFailed, reportWorkerListening, runClusterPrimary, type SiblingChannel } from '../core/cluster.js';
import { WharfError } from '../core/errors.js';
import { ServiceHost } from '../core/host.js';
import { createLogger, type Logger } from '../core/logger.js';
import { formatAddress, type ListeningAddress, type ServiceDefinition } from '../core/service.js';
import { openStore, type AccountsEvent, type Store } from '../store/index.js';
import type { ResolvedConfig } from './config.js';
import { describeStartFailure } from './start-failure.js';

export interface ServeOptions {
  definitions: ReadonlyArray<ServiceDefinition<unknown>>;
  config: ResolvedConfig;
  /** Where the "listening" lines go (stdout). */
  print?: (line: string) => void;
  /** Standard input is a terminal a service may read (the chat's admin console); `--no-console` overrides. */
  console?: boolean;
}

/**
 * The line printed for each listening address: `echo tcp://127.0.0.1:7007`, or a URL a person
 * can open for a service that speaks HTTP (`web http://127.0.0.1:8000/`).
 */
export function listeningLine(service: string, address: ListeningAddress, scheme?: string): string {
  if (scheme === undefined || address.transport !== 'tcp') return `${service} ${formatAddress(address)}`;
  const host = address.address.includes(':') ? `[${address.address}]` : address.address;
  return `${service} ${scheme}://${host}:${address.port}/`;
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

  if (config.host.workers > 1 && !isClusterWorker()) {
    logger.info({ workers: config.host.workers }, `starting ${config.host.workers} workers`);
    return runClusterPrimary({
      workers: config.host.workers,
      logger,
      deadlineMs: config.host.shutdownDeadlineMs,
      scheduling: config.host.scheduling,
      onListening: (lines) => {
        announceDataFolder(logger, dataDir);
        for (const line of lines) print(line);
      },
    });
  }
  return runInThisProcess(options, logger, dataDir, print);
}

/**
 * Which data folder the server uses (the accounts `wharf user` must change): a log event, so
 * JSON logs stay JSON; said once listening, so a failed start is its one sentence.
 */
function announceDataFolder(logger: Logger, dataDir: string): void {
  logger.info({ dataDir }, `data folder: ${dataDir}`);
}

async function runInThisProcess(options: ServeOptions, logger: Logger, dataDir: string, print: (line: string) => void): Promise<number> {
  const { config, definitions } = options;
  const needsStore = definitions.some((d) => d.uses?.includes('store'));
  const resources: Record<string, unknown> = {};
  let store: Store | undefined;
  let accountsChannel: SiblingChannel<AccountsEvent> | undefined;
  if (needsStore) {
    store = await openStore({ dataDir, url: config.host.db, logger, accounts: config.host.accounts });
    resources.store = store;
    if (isClusterWorker()) {
      // Every worker counts every failed login and registration, or N workers would give N allowances.
      const accounts = store.accounts;
      const channel = await joinSiblings<AccountsEvent>('accounts', (event) => accounts.apply(event));
      accounts.share((event) => channel.publish(event));
      accountsChannel = channel;
    }
  }
  const host = new ServiceHost({ logger, dataDir, console: (options.console ?? false) && config.host.console, resources });
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
  } else {
    announceDataFolder(logger, dataDir);
    for (const line of lines) print(line);
  }
  const names = definitions.map((d) => d.name);
  logger.info({ services: names }, `ready: ${names.join(', ')}`);
  // One line; the numbers ride along as fields (JSON output, or a terminal at debug level).
  const logMetrics = () => logger.info({ metrics: host.metrics.snapshot() }, `counters: ${host.metrics.summary()}`);
  const metricsTimer = config.host.metricsIntervalMs > 0 ? setInterval(logMetrics, config.host.metricsIntervalMs) : undefined;
  metricsTimer?.unref();

  return new Promise<number>((resolveExit) => {
    let stopping = false;
    const stop = (reason: string) => {
      if (stopping) {
        // A second Ctrl-C means "now".
        logger.warn('stopping immediately');
        resolveExit(130);
        return;
      }
      stopping = true;
      clearInterval(metricsTimer);
      logger.info({ reason, deadlineMs: config.host.shutdownDeadlineMs }, `stopping (${reason}): connections get ${config.host.shutdownDeadlineMs / 1000} s to finish`);
      logMetrics();
      host
        .stop(config.host.shutdownDeadlineMs)
        .then(() => {
          accountsChannel?.close();
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
    process.on('SIGINT', () => stop('SIGINT'));
    process.on('SIGTERM', () => stop('SIGTERM'));
    if (isClusterWorker()) onWorkerShutdown(() => stop('primary asked'));
  });
}
