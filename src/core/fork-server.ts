import { fork, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { normaliseAddress } from './connection.js';
import { listenError } from './tcp-server.js';
import { untilDeadline } from './deadline.js';
import { forkExecArgv, siblingModule } from './module-entry.js';
import { silentLogger, type Logger } from './logger.js';
import { ServiceMetrics } from './metrics.js';
import type { ListeningAddress } from './service.js';

/**
 * Python's ForkingTCPServer for Node: one child process per connection, for handlers that need
 * isolation (a crash, a leak or a blocking call in one session cannot touch another). The parent
 * accepts and hands the socket to a fresh child over IPC; the child imports `handlerModule`,
 * builds the handler with `handlerExport(options)`, serves that one connection and exits.
 *
 * It is honest about cost: a Node child takes tens of milliseconds and ~40 MB to start, so this
 * model serves hundreds of sessions, not tens of thousands (docs/concurrency.md has numbers).
 */
export interface ForkingServerOptions {
  host?: string;
  port?: number;
  backlog?: number;
  /** Absolute file URL or path of the module that exports the handler factory. */
  handlerModule: string;
  /** Name of the export: `(options) => (connection) => StreamHandler`. */
  handlerExport: string;
  /** Structured-cloneable options passed to the factory in the child. */
  handlerOptions?: unknown;
  /** Children alive at once; the next connection is refused. Default 64. */
  maxChildren?: number;
  /** Per-connection limits applied in the child. */
  idleTimeoutMs?: number;
  refusal?: () => string | Buffer | undefined;
  logger?: Logger;
  metrics?: ServiceMetrics;
}

export interface ForkChildMessage {
  type: 'wharf-fork-connection';
  handlerModule: string;
  handlerExport: string;
  handlerOptions: unknown;
  idleTimeoutMs: number;
}

/** child → parent as it ends: what its connection moved. */
export interface ForkCountersMessage {
  type: 'wharf-fork-counters';
  bytesIn: number;
  bytesOut: number;
  errors: number;
}

const childEntry = siblingModule(import.meta.url, 'fork-child');

export class ForkingServer {
  readonly #server: net.Server;
  readonly #options: ForkingServerOptions;
  readonly #logger: Logger;
  readonly metrics: ServiceMetrics;
  readonly #children = new Set<ChildProcess>();
  #address: ListeningAddress | undefined;
  #stopping = false;

  private constructor(options: ForkingServerOptions) {
    this.#options = options;
    this.#logger = options.logger ?? silentLogger();
    this.metrics = options.metrics ?? new ServiceMetrics('fork');
    // pauseOnConnect: no byte may be read by the parent, or the child would miss it.
    this.#server = net.createServer({ pauseOnConnect: true, allowHalfOpen: true }, (socket) => this.#accept(socket));
    this.#server.on('error', (error) => {
      // A failed listen() is reported once, by listen() itself.
      if (!this.#server.listening) return;
      this.metrics.errors++;
      this.#logger.error({ err: error }, 'accept failed');
    });
  }

  static async listen(options: ForkingServerOptions): Promise<ForkingServer> {
    const server = new ForkingServer(options);
    const host = options.host ?? '127.0.0.1';
    const port = options.port ?? 0;
    await new Promise<void>((resolve, reject) => {
      server.#server.once('error', (error) => reject(listenError(error, `${host}:${port}`)));
      server.#server.listen({ host, port, backlog: options.backlog ?? 511 }, () => resolve());
    });
    const address = server.#server.address() as net.AddressInfo;
    server.#address = { transport: 'tcp', address: address.address, port: address.port };
    return server;
  }

  get addresses(): ListeningAddress[] {
    return this.#address ? [this.#address] : [];
  }

  get childCount(): number {
    return this.#children.size;
  }

  #accept(socket: net.Socket): void {
    const metrics = this.metrics;
    if (this.#stopping || this.#children.size >= (this.#options.maxChildren ?? 64)) {
      metrics.connectionsRefused++;
      socket.on('error', () => {});
      const goodbye = this.#options.refusal?.();
      if (goodbye !== undefined) socket.end(goodbye);
      else socket.destroy();
      return;
    }
    metrics.connectionsTotal++;
    metrics.connectionsOpen++;
    const peer = normaliseAddress(socket.remoteAddress ?? '');
    const child = fork(childEntry.path, [], { execArgv: forkExecArgv(childEntry), stdio: ['ignore', 'ignore', 'inherit', 'ipc'], serialization: 'advanced' });
    this.#children.add(child);
    child.on('exit', (code, signal) => {
      this.#children.delete(child);
      metrics.connectionsOpen--;
      if (code !== 0) {
        metrics.errors++;
        this.#logger.warn({ peer, code, signal }, 'connection process ended abnormally');
      }
      socket.destroy();
    });
    child.on('message', (message: Partial<ForkCountersMessage>) => {
      if (message?.type !== 'wharf-fork-counters') return;
      metrics.bytesIn += Number(message.bytesIn) || 0;
      metrics.bytesOut += Number(message.bytesOut) || 0;
      metrics.errors += Number(message.errors) || 0;
    });
    child.on('error', (error) => {
      this.#logger.error({ err: error }, 'could not start connection process');
      socket.destroy();
    });
    const message: ForkChildMessage = {
      type: 'wharf-fork-connection',
      handlerModule: this.#options.handlerModule,
      handlerExport: this.#options.handlerExport,
      handlerOptions: this.#options.handlerOptions ?? null,
      idleTimeoutMs: this.#options.idleTimeoutMs ?? 300_000,
    };
    // keepOpen: false — the parent's copy is closed once the child has it.
    child.send(message, socket, { keepOpen: false }, (error) => {
      if (error) {
        this.#logger.error({ err: error }, 'could not hand the connection to its process');
        child.kill();
      }
    });
  }

  /** Stop accepting; ask children to finish (SIGTERM), and kill those still alive at the deadline. */
  async stop(deadlineMs = 5_000): Promise<void> {
    this.#stopping = true;
    // Not waited for: a socket handed to a child stays counted by the server until the child
    // reports it closed (Node's child_process bookkeeping), which a child that exited never
    // does, so the close callback may never come. Once every child has exited, none is open.
    this.#server.close();
    const exits = [...this.#children].map((child) => new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
    }));
    const finished = Promise.all(exits);
    if (!(await untilDeadline(finished, deadlineMs)).settled) {
      for (const child of this.#children) child.kill('SIGKILL');
    }
    await finished;
  }
}
