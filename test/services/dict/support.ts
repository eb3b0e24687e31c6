import { mkdtempSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ServiceHost } from '../../../src/core/host.js';
import { silentLogger, type Logger } from '../../../src/core/logger.js';
import type { RunningService } from '../../../src/core/service.js';
import { ResponseReader, type Response } from '../../../src/services/dict/protocol.js';
import { dictConfigSchema, dictService, type DictConfigInput } from '../../../src/services/dict/server.js';
import { openStore, type Store } from '../../../src/store/index.js';

export interface StartedDict {
  host: ServiceHost;
  service: RunningService;
  port: number;
  store?: Store;
  stop(): Promise<void>;
}

/** Start the dict service in this process on port 0 (WordNet is loaded once per process). */
export async function startDict(config: DictConfigInput = {}, options: { store?: Store; dataDir?: string; logger?: Logger } = {}): Promise<StartedDict> {
  const dataDir = options.dataDir ?? mkdtempSync(path.join(tmpdir(), 'wharf-dict-'));
  const host = new ServiceHost({ logger: options.logger ?? silentLogger(), dataDir, resources: options.store ? { store: options.store } : {} });
  const service = await host.start(dictService, dictConfigSchema.parse({ port: 0, hostname: 'test.host', ...config }));
  return { host, service, port: service.addresses[0]!.port, store: options.store, stop: () => host.stop(500) };
}

/** A fresh SQLite store in a temporary folder. */
export async function tempStore(): Promise<Store> {
  return openStore({ dataDir: mkdtempSync(path.join(tmpdir(), 'wharf-dict-store-')), accounts: { registrationsPerIpPerHour: 1000 } });
}

/** A seed-format text dictionary with Unicode headwords, as a file. */
export function seedTextFile(): string {
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'wharf-dict-text-')), 'words.txt');
  writeFileSync(
    file,
    [
      'abandon          v. go away from, leaving behind',
      'café             a small restaurant selling light meals and drinks',
      'Zürich           the largest city of Switzerland',
      '你好             hello (Mandarin greeting)',
      'naïve            lacking experience',
      '.dotted          a headword that starts with a dot',
      'twice            first meaning',
      'twice            second meaning',
      'lonely',
      '',
    ].join('\n'),
  );
  return file;
}

/**
 * A raw DICT connection: send bytes, read whole responses with the protocol's own reader.
 * `lines` keeps every line received (the greeting first).
 */
export class RawDict {
  readonly lines: string[] = [];
  readonly #socket: net.Socket;
  readonly #reader = new ResponseReader();
  readonly #responses: Response[] = [];
  #buffer = '';
  #waiters: Array<() => void> = [];
  closed = false;

  private constructor(socket: net.Socket) {
    this.#socket = socket;
    socket.setEncoding('utf8');
    socket.on('data', (text: string) => {
      this.#buffer += text;
      let at: number;
      while ((at = this.#buffer.indexOf('\r\n')) !== -1) {
        const line = this.#buffer.slice(0, at);
        this.#buffer = this.#buffer.slice(at + 2);
        this.lines.push(line);
        if (this.lines.length === 1) continue; // the greeting
        const response = this.#reader.push(line);
        if (response) this.#responses.push(response);
      }
      this.#wake();
    });
    socket.on('close', () => {
      this.closed = true;
      this.#wake();
    });
    socket.on('error', () => {});
  }

  static async connect(port: number): Promise<RawDict> {
    const socket = net.connect({ port, host: '127.0.0.1' });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    const raw = new RawDict(socket);
    await raw.until(() => raw.lines.length >= 1);
    return raw;
  }

  get greeting(): string {
    return this.lines[0] ?? '';
  }

  set mime(on: boolean) {
    this.#reader.mime = on;
  }

  write(data: string | Buffer): void {
    this.#socket.write(data);
  }

  /** Send one command, wait for its response. */
  async send(line: string, timeoutMs = 10_000): Promise<Response> {
    const before = this.#responses.length;
    this.write(`${line}\r\n`);
    await this.until(() => this.#responses.length > before, timeoutMs);
    return this.#responses.splice(before, 1)[0]!;
  }

  /** Wait for `count` responses in all (taking them). */
  async take(count: number, timeoutMs = 10_000): Promise<Response[]> {
    await this.until(() => this.#responses.length >= count, timeoutMs);
    return this.#responses.splice(0, count);
  }

  async until(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!condition()) {
      if (this.closed && !condition()) throw new Error(`closed; lines: ${this.lines.slice(-5).join(' | ')}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out; last lines: ${this.lines.slice(-5).join(' | ')}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  end(): void {
    this.#socket.end();
  }

  destroy(): void {
    this.#socket.destroy();
  }

  #wake(): void {
    for (const waiter of this.#waiters.splice(0)) waiter();
  }
}
