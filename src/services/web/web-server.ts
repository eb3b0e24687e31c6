import { resolve } from 'node:path';
import { silentLogger, type Logger } from '../../core/logger.js';
import { ServiceMetrics } from '../../core/metrics.js';
import { formatAddress, serviceContext, type ListeningAddress } from '../../core/service.js';
import { WharfError } from '../../core/errors.js';
import { startWeb, webConfigSchema, type WebConfigInput, type WebServerHandle } from './server.js';

export interface WebServerOptions extends Omit<WebConfigInput, 'root'> {
  /** The folder to serve. Default: the current directory (dotfiles are never served). */
  root?: string;
  /** The seed's name for `root` (seed 000 §10: `WebServer(host, port, html)`). */
  html?: string;
  /** Where log lines (and the access log, at level info) go. Default: nowhere. */
  logger?: Logger;
}

/**
 * The seed's `WebServer` class (seed 000 §10), one line to use:
 *
 * ```ts
 * const server = new WebServer({ host: '127.0.0.1', port: 8000, root: './static' });
 * await server.start();           // resolves once listening, with the addresses
 * await server.stop();
 * ```
 *
 * The seed's positional form works too: `new WebServer('0.0.0.0', 8000, './static')`. Unlike the
 * seed's select loop it speaks real HTTP/1.1 (keep-alive, ranges, ETags, compression) and, with
 * `cert` and `key`, HTTPS and HTTP/2; every option of `wharf web serve` is accepted.
 */
export class WebServer {
  readonly #options: WebServerOptions;
  #running: WebServerHandle | undefined;
  #starting: Promise<ListeningAddress[]> | undefined;
  readonly metrics = new ServiceMetrics('web');

  constructor(options?: WebServerOptions);
  constructor(host: string, port?: number, html?: string);
  constructor(hostOrOptions: WebServerOptions | string = {}, port?: number, html?: string) {
    if (typeof hostOrOptions === 'string') {
      this.#options = { host: hostOrOptions, ...(port !== undefined ? { port } : {}), ...(html !== undefined ? { root: html } : {}) };
    } else {
      this.#options = { ...hostOrOptions };
    }
  }

  /** Listen. Resolves with the addresses (with port 0, the port the system chose). */
  start(): Promise<ListeningAddress[]> {
    this.#starting ??= (async () => {
      const { logger, html, root, ...rest } = this.#options;
      const config = webConfigSchema.parse({ host: '127.0.0.1', ...rest, root: resolve(root ?? html ?? '.') });
      this.#running = await startWeb(serviceContext({ name: 'web', logger: logger ?? silentLogger(), metrics: this.metrics, dataDir: process.cwd() }), config);
      return this.#running.addresses;
    })();
    this.#starting.catch(() => {
      this.#starting = undefined;
    });
    return this.#starting;
  }

  get addresses(): ListeningAddress[] {
    return this.#running?.addresses ?? [];
  }

  get port(): number {
    return this.addresses[0]?.port ?? 0;
  }

  /** `http://127.0.0.1:8000/` (or https), once started. */
  get url(): string {
    const address = this.addresses[0];
    if (!this.#running || !address) throw new WharfError('ENOTSTARTED', 'the web server is not started');
    return `${formatAddress(address).replace(/^tcp/, this.#running.scheme)}/`;
  }

  /** Stop accepting, let requests in progress finish for up to `deadlineMs`, then close everything. */
  async stop(deadlineMs = 5_000): Promise<void> {
    const running = this.#running;
    this.#running = undefined;
    this.#starting = undefined;
    await running?.stop(deadlineMs);
  }
}
