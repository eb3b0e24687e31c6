import type { z } from 'zod';
import type { Logger } from './logger.js';
import { ServiceMetrics } from './metrics.js';
import type { PortalRegistry } from './portal.js';

/** Where a service listens, as printed on start: one line per address. */
export interface ListeningAddress {
  transport: 'tcp' | 'udp' | 'unix';
  /** IP address (IPv4 or IPv6) for tcp/udp, the socket path for unix. */
  address: string;
  /** 0 for unix. */
  port: number;
}

/**
 * What the host (`wharf serve`, a test, a library user) owns and hands to every service.
 * `store` is typed loosely here so that core does not depend on the store layer; services that
 * need accounts read it through the store's own interface.
 */
export interface ServiceContext {
  logger: Logger;
  metrics: ServiceMetrics;
  /** The data folder (`--data`, default ./wharf-data). Services keep their state below it. */
  dataDir: string;
  /** Aborted when the host begins to shut down. */
  signal: AbortSignal;
  /** Shared resources owned by the host (the store, for services that need accounts). */
  resources: Record<string, unknown>;
  /** True when the host reads a console, where the service's `consoleCommands` are typed. */
  console?: boolean;
  /**
   * The services this host runs at the moment of the call (the caller included, once started),
   * with where they listen: what a discovery service announces. Absent outside a host.
   */
  services?: () => ReadonlyArray<{ readonly name: string; readonly addresses: readonly ListeningAddress[] }>;
  /**
   * What `wharf status` shows of every service this host runs, at the moment of the call: the
   * portal's home and admin pages read it. Absent outside a host.
   */
  statuses?: () => Promise<ServiceStatusLine[]>;
  /**
   * The browser portal's sections (core/portal.ts): a service that has a page in the portal
   * (chat, dictionary, files, diary) adds its section here; the web service serves them. One
   * registry per host, so that no service imports another. Absent outside a host unless given.
   */
  portal?: PortalRegistry;
}

/**
 * A command typed on the server's console or sent to its control socket (`wharf stop` sends
 * `quit`): the host has `status`, `quit` and `help`, a service adds its own (the chat's `say`).
 */
export interface ConsoleCommand {
  /** The word that starts the line: `say`. */
  name: string;
  /** How it is typed, for `help`: `say TEXT`. */
  usage: string;
  summary: string;
  /**
   * A line typed on the terminal that starts with no command's name runs this command with the
   * whole line (the chat broadcasts it, as the seed's server did). One command at most claims it.
   */
  takesOtherLines?: boolean;
  /** Does it; resolves with one sentence for the person who asked. A refusal is a WharfError. */
  run(argument: string): Promise<string>;
}

/** What a service adds to `wharf status` beyond its addresses and open connections. */
export interface ServiceStatus {
  /** Transfers in progress (FTP, TFTP). */
  transfers?: number;
  /** Members here now, and the first names (a long list is cut). */
  members?: { count: number; names: string[] };
}

/** One service as `wharf status` and the portal show it. */
export interface ServiceStatusLine extends ServiceStatus {
  name: string;
  /** As the listening lines print them: `tcp://127.0.0.1:7007`, `http://127.0.0.1:8000/`. */
  addresses: string[];
  /** Connections (TCP) or peers (UDP) open now; summed over the workers with --workers. */
  connectionsOpen: number;
  /** Commands a person pastes to reach the service with a standard client (`curl -u NAME ftp://…`). */
  clientCommands?: ClientCommand[];
}

/** A standard client's command line for a running service, shown on the portal's home page. */
export interface ClientCommand {
  /** What it does, in a few words: `list your files`. */
  summary: string;
  /** The line to paste: `curl -u NAME ftp://127.0.0.1:2121/`. NAME stands for the reader's account name. */
  command: string;
}

export interface RunningService {
  readonly name: string;
  readonly addresses: ListeningAddress[];
  /** The URL scheme a person opens its TCP addresses with (`http`, `https`), when it has one. */
  readonly scheme?: string;
  /**
   * Graceful stop: stop accepting, let work in progress finish up to `deadlineMs`, then close
   * whatever is left. Resolves when every socket is closed.
   */
  stop(deadlineMs?: number): Promise<void>;
  /** Commands this service adds to the host's console. */
  readonly consoleCommands?: readonly ConsoleCommand[];
  /** What `wharf status` shows of this service beyond what the host's metrics say. */
  status?(): Promise<ServiceStatus>;
  /** Standard clients' command lines for this service's addresses (the portal's home lists them). */
  clientCommands?(): ClientCommand[];
}

/**
 * Every service exports one of these from `src/services/<name>/index.ts`, beside its config schema
 * (`<name>ConfigSchema`) and its start function (`start<Name>(ctx, config)`, which is the
 * definition's `start`). `start` binds before it resolves, so a caller that passed port 0 reads
 * the real port from `addresses`.
 */
export interface ServiceDefinition<Config = unknown> {
  name: string;
  summary: string;
  /**
   * Validates this service's section of the config and fills its defaults. The host composes
   * every service's schema into one, so an error names the full key (`services.echo.port`).
   */
  configSchema: z.ZodType<Config>;
  /**
   * Shared resources this service needs from the host: 'store' opens the database (accounts,
   * quotas, history) before start; the service reads it with the store layer's `storeOf(ctx)`
   * (or `requireStore(ctx, name)`), never by casting `ctx.resources.store`. A function of the
   * config when it depends on it (the web service needs the store only with its portal on).
   */
  uses?: ReadonlyArray<'store'> | UsesOfConfig<Config>;
  /**
   * Started only when named (`wharf serve exec`, `wharf exec serve`), never by a bare `wharf
   * serve`: a service whose mere presence is a risk (remote command execution).
   */
  namedOnly?: boolean;
  start(ctx: ServiceContext, config: Config): Promise<RunningService>;
}

/**
 * `uses` as a function of the config. Written as a method's type so that a definition of a
 * particular config is still a `ServiceDefinition<unknown>` (methods' parameters are bivariant).
 */
type UsesOfConfig<Config> = { uses(config: Config): ReadonlyArray<'store'> }['uses'];

/** The shared resources `definition` needs with this config (its `uses`). */
export function resourcesUsed<Config>(definition: Pick<ServiceDefinition<Config>, 'uses'>, config: Config): ReadonlyArray<'store'> {
  const uses = definition.uses;
  return typeof uses === 'function' ? uses(config) : (uses ?? []);
}

/**
 * A context for starting one service outside `wharf serve` (a test, a program embedding wharf):
 * what the host would give, with fresh metrics and a signal that never aborts unless one is passed.
 */
export function serviceContext(options: { name: string; logger: Logger; dataDir: string } & Partial<Omit<ServiceContext, 'logger' | 'dataDir'>>): ServiceContext {
  const { name, ...given } = options;
  return { metrics: new ServiceMetrics(name), signal: new AbortController().signal, resources: {}, ...given };
}

/**
 * An address as a person opens it: `http://127.0.0.1:8000/` for a service that speaks HTTP,
 * else `tcp://127.0.0.1:7007` (what the listening lines and `wharf status` print).
 */
export function formatServiceAddress(address: ListeningAddress, scheme?: string): string {
  if (scheme === undefined || address.transport !== 'tcp') return formatAddress(address);
  const host = address.address.includes(':') ? `[${address.address}]` : address.address;
  return `${scheme}://${host}:${address.port}/`;
}

export function formatAddress(a: ListeningAddress): string {
  if (a.transport === 'unix') return `unix:${a.address}`;
  const host = a.address.includes(':') ? `[${a.address}]` : a.address;
  return `${a.transport}://${host}:${a.port}`;
}
