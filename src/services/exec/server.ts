import { readFileSync } from 'node:fs';
import net, { type Socket } from 'node:net';
import tls from 'node:tls';
import { UsageError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import type { ListeningAddress, RunningService, ServiceContext, ServiceDefinition } from '../../core/service.js';
import { listenError } from '../../core/tcp-server.js';
import { untilDeadline } from '../../core/deadline.js';
import type { Store } from '../../store/index.js';
import { storeOf } from '../../store/service-store.js';
import { AuditTrail } from './audit.js';
import { commandEnvironment, compileCommands, execConfigSchema, type ExecConfig } from './config.js';
import { isLoopbackAddress, seedPeerAllowed, sniffProtocol, SEED_ERROR, type CompiledCommand } from './protocol.js';
import { startRun, type Run } from './runner.js';
import { SeedSession, WharfSession, type ExecHost } from './session.js';

export { execConfigSchema, type ExecConfig } from './config.js';

/** The refusals that keep the service from starting in an unsafe shape; each is one sentence. */
function checkSafeToStart(config: ExecConfig, commandCount: number): void {
  if (commandCount === 0) throw new UsageError('exec: no commands configured: list the allowed commands under services.exec.commands (see docs/exec.md)');
  if (!isLoopbackAddress(config.host) && config.tlsCert === undefined && !config.insecure) {
    throw new UsageError(`exec: ${config.host} is not a loopback address and no TLS certificate is configured: passwords and output would cross the network in clear text (set tlsCert and tlsKey, or pass --insecure)`);
  }
  const asRoot = process.getuid?.() === 0;
  if ((config.uid !== undefined || config.gid !== undefined) && !asRoot) throw new UsageError('exec: uid/gid need wharf to run as root (it switches to them for each command)');
}

function loadTls(config: ExecConfig): tls.SecureContextOptions | undefined {
  if (config.tlsCert === undefined || config.tlsKey === undefined) return undefined;
  try {
    return { cert: readFileSync(config.tlsCert), key: readFileSync(config.tlsKey), minVersion: 'TLSv1.2' };
  } catch (error) {
    throw new UsageError(`exec: cannot use the TLS certificate ${config.tlsCert} / key ${config.tlsKey}: ${(error as Error).message}`);
  }
}

/** Run slots: per account (the seed protocol counts as one account) and in total. */
class RunSlots {
  readonly #perAccount = new Map<string | null, number>();
  #total = 0;
  constructor(
    private readonly maxTotal: number,
    private readonly maxPerAccount: number,
  ) {}

  acquire(account: string | null): boolean {
    const mine = this.#perAccount.get(account) ?? 0;
    if (this.#total >= this.maxTotal || mine >= this.maxPerAccount) return false;
    this.#total++;
    this.#perAccount.set(account, mine + 1);
    return true;
  }

  release(account: string | null): void {
    this.#total--;
    const left = (this.#perAccount.get(account) ?? 1) - 1;
    if (left <= 0) this.#perAccount.delete(account);
    else this.#perAccount.set(account, left);
  }

  get total(): number {
    return this.#total;
  }
}

async function listen(server: net.Server, host: string, port: number): Promise<ListeningAddress[]> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error) => reject(listenError(error, `${host}:${port}`)));
    server.listen({ host, port }, () => resolve());
  });
  const address = server.address();
  return typeof address === 'object' && address !== null ? [{ transport: 'tcp', address: address.address, port: address.port }] : [];
}

type ExecSession = WharfSession | SeedSession;

/** One exec listener: its connections, their sessions and the runs they started. */
class ExecServer {
  /** Whether a TLS certificate is configured (the listener speaks TLS). */
  readonly overTls: boolean;
  readonly #audit: AuditTrail | undefined;
  readonly #config: ExecConfig;
  readonly #logger: Logger;
  readonly #host: ExecHost;
  readonly #runs = new Set<Run>();
  readonly #sessions = new Map<Socket, ExecSession>();
  readonly #sockets = new Set<Socket>();
  readonly #server: net.Server;
  #stopping = false;

  constructor(config: ExecConfig, commands: ReadonlyMap<string, CompiledCommand>, store: Store | undefined, logger: Logger) {
    this.#config = config;
    this.#logger = logger;
    this.#audit = store ? new AuditTrail(store, logger) : undefined;
    this.#host = this.#createHost(commands, store);
    const tlsOptions = loadTls(config);
    const accept = (socket: Socket) => this.#accept(socket);
    this.#server = tlsOptions ? tls.createServer(tlsOptions, accept) : net.createServer(accept);
    this.overTls = tlsOptions !== undefined;
    // A failed TLS handshake is the peer's problem, never ours.
    this.#server.on('tlsClientError', () => {});
  }

  /** What the sessions may use: the commands, the accounts, run slots, and a way to start runs this server tracks. */
  #createHost(commands: ReadonlyMap<string, CompiledCommand>, store: Store | undefined): ExecHost {
    const config = this.#config;
    const env = commandEnvironment(config, process.env);
    const slots = new RunSlots(config.maxRuns, config.maxRunsPerAccount);
    const runs = this.#runs;
    const limits = { timeoutMs: config.timeoutMs, maxOutputBytes: config.maxOutputBytes };
    return {
      commands,
      groups: config.groups,
      accounts: store?.accounts,
      audit: this.#audit,
      logger: this.#logger,
      limits,
      acquire: (account) => slots.acquire(account),
      release: (account) => slots.release(account),
      start(argv, handlers) {
        const run = startRun({
          argv,
          cwd: config.workingDirectory,
          env,
          ...limits,
          ...(config.uid !== undefined ? { uid: config.uid } : {}),
          ...(config.gid !== undefined ? { gid: config.gid } : {}),
          onStdout: handlers.onStdout,
          onStderr: handlers.onStderr,
          onExit(status) {
            runs.delete(run);
            handlers.onExit(status);
          },
        });
        runs.add(run);
        return run;
      },
    };
  }

  /** Binds the configured address; returns where it listens. */
  async listen(): Promise<ListeningAddress[]> {
    const addresses = await listen(this.#server, this.#config.host, this.#config.port);
    this.#server.on('error', (error) => this.#logger.error({ err: error }, 'exec: accept failed'));
    return addresses;
  }

  #accept(socket: Socket): void {
    const config = this.#config;
    socket.on('error', () => {});
    if (this.#stopping || this.#sockets.size >= config.maxConnections) {
      socket.destroy();
      return;
    }
    this.#sockets.add(socket);
    socket.setNoDelay(true);
    const loginTimer = setTimeout(() => socket.destroy(), config.loginTimeoutMs);
    socket.setTimeout(config.idleTimeoutMs, () => {
      if (!this.#sessions.get(socket)?.running) socket.destroy();
    });
    socket.on('close', () => {
      clearTimeout(loginTimer);
      this.#sessions.delete(socket);
      this.#sockets.delete(socket);
    });
    socket.once('data', (first: Buffer) => {
      const session = this.#openSession(socket, first[0] ?? 0, () => clearTimeout(loginTimer));
      if (session === undefined) return;
      this.#sessions.set(socket, session);
      if (session instanceof SeedSession) clearTimeout(loginTimer);
      session.push(first);
      socket.on('data', (chunk: Buffer) => session.push(chunk));
    });
  }

  /** The first byte tells the protocol: wharf's own, or the seed's (only when enabled and from an allowed address). */
  #openSession(socket: Socket, firstByte: number, loggedIn: () => void): ExecSession | undefined {
    if (sniffProtocol(firstByte) === 'wharf') return new WharfSession(socket, this.#host, loggedIn);
    if (!this.#config.seedProtocol) {
      socket.destroy();
      return undefined;
    }
    if (!seedPeerAllowed(socket.remoteAddress ?? '', this.#config.seedFrom)) {
      this.#logger.warn(`exec: (seed protocol) ${socket.remoteAddress ?? '?'} refused: not an address allowed to use the seed protocol (seedFrom)`);
      socket.end(SEED_ERROR);
      return undefined;
    }
    return new SeedSession(socket, this.#host);
  }

  async stop(deadlineMs: number): Promise<void> {
    this.#stopping = true;
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    for (const socket of this.#sockets) {
      const session = this.#sessions.get(socket);
      if (session) session.shutdown();
      else socket.end();
    }
    // Every group is killed at once; the sessions then send each run's exit and end.
    for (const run of this.#runs) run.stop('server-stopping');
    await untilDeadline(closed, deadlineMs);
    for (const socket of this.#sockets) socket.destroy();
    await closed;
    await this.#audit?.flush();
  }
}

function compileOrRefuse(config: ExecConfig): Map<string, CompiledCommand> {
  try {
    return compileCommands(config);
  } catch (error) {
    throw new UsageError(`exec: ${(error as Error).message}`);
  }
}

export async function startExec(ctx: ServiceContext, config: ExecConfig): Promise<RunningService> {
  const commands = compileOrRefuse(config);
  checkSafeToStart(config, commands.size);
  const logger = ctx.logger;
  if (process.getuid?.() === 0 && config.uid === undefined) logger.warn('exec: wharf runs as root and no uid is configured: every command runs as root');
  const exec = new ExecServer(config, commands, storeOf(ctx), logger);
  const addresses = await exec.listen();
  logger.info({ commands: [...commands.keys()], tls: exec.overTls, seedProtocol: config.seedProtocol }, `exec ready: ${commands.size} command(s)${config.seedProtocol ? ', seed protocol on' : ''}`);
  return {
    name: 'exec',
    addresses,
    stop: (deadlineMs = 5_000) => exec.stop(deadlineMs),
  };
}

export const execService: ServiceDefinition<ExecConfig> = {
  name: 'exec',
  summary: 'named commands run for logged-in accounts, no shell (the seed\'s remote command execution, made safe)',
  configSchema: execConfigSchema,
  uses: ['store'],
  namedOnly: true,
  start: startExec,
};
