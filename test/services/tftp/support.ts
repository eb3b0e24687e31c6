import { createHash, randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import { createReadStream } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../../../src/core/logger.js';
import { ServiceMetrics } from '../../../src/core/metrics.js';
import { serviceContext } from '../../../src/core/service.js';
import { startTftp, tftpConfigSchema, type TftpRunningService } from '../../../src/services/tftp/server.js';

export interface TestServer {
  service: TftpRunningService;
  port: number;
  root: string;
  metrics: ServiceMetrics;
}

const running: TftpRunningService[] = [];

/** A wharf TFTP server on 127.0.0.1, port 0, serving a fresh temporary folder. */
export async function startTestServer(overrides: Record<string, unknown> = {}): Promise<TestServer> {
  const root = (overrides.root as string | undefined) ?? (await mkdtemp(join(tmpdir(), 'wharf-tftp-')));
  const metrics = new ServiceMetrics('tftp');
  const service = await startTftp(serviceContext({ name: 'tftp', logger: silentLogger(), metrics, dataDir: tmpdir() }), tftpConfigSchema.parse({ port: 0, ...overrides, root }));
  running.push(service);
  return { service, port: service.addresses[0]!.port, root: service.root, metrics };
}

export async function stopTestServers(): Promise<void> {
  await Promise.all(running.splice(0).map((s) => s.stop(100)));
}

export async function writeRandomFile(dir: string, name: string, size: number): Promise<Buffer> {
  const data = randomBytes(size);
  await writeFile(join(dir, name), data);
  return data;
}

export function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

export function sha256File(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    createReadStream(path)
      .on('data', (chunk) => hash.update(chunk))
      .on('end', () => resolve(hash.digest('hex')))
      .on('error', reject);
  });
}

export interface Received {
  message: Buffer;
  port: number;
  address: string;
}

/** A bare UDP socket playing a (possibly misbehaving) TFTP peer. */
export class RawPeer {
  readonly socket: dgram.Socket;
  readonly inbox: Received[] = [];
  #waiters: Array<() => void> = [];

  private constructor(socket: dgram.Socket) {
    this.socket = socket;
    socket.on('message', (message, from) => {
      this.inbox.push({ message, port: from.port, address: from.address });
      for (const wake of this.#waiters.splice(0)) wake();
    });
  }

  static async open(): Promise<RawPeer> {
    const socket = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', () => resolve()));
    return new RawPeer(socket);
  }

  get port(): number {
    return this.socket.address().port;
  }

  send(packet: Buffer, port: number): void {
    this.socket.send(packet, port, '127.0.0.1');
  }

  /** The next datagram (FIFO), or undefined after `timeoutMs`. */
  async next(timeoutMs = 2_000): Promise<Received | undefined> {
    const deadline = Date.now() + timeoutMs;
    while (this.inbox.length === 0) {
      const left = deadline - Date.now();
      if (left <= 0) return undefined;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return this.inbox.shift();
  }

  /** Everything that arrives within `ms`. */
  async collect(ms: number): Promise<Received[]> {
    await new Promise((resolve) => setTimeout(resolve, ms));
    return this.inbox.splice(0);
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }
}

export async function waitUntil(condition: () => boolean, timeoutMs = 5_000, what = 'condition'): Promise<void> {
  const start = Date.now();
  while (!condition()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
