import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger, type Logger } from '../../../src/core/logger.js';
import { ServiceMetrics } from '../../../src/core/metrics.js';
import { serviceContext } from '../../../src/core/service.js';
import { ftpConfigSchema, startFtp, type FtpConfigInput, type FtpRunningService } from '../../../src/services/ftp/server.js';
import { openStore, type Store } from '../../../src/store/index.js';
import { parseEpsvReply } from '../../../src/services/ftp/protocol/addresses.js';
import { ReplyParser, type Reply } from '../../../src/services/ftp/protocol/replies.js';

export interface TestFtpServer {
  service: FtpRunningService;
  port: number;
  dataDir: string;
  store: Store;
  /** `<data>/files/users/<name>`. */
  home(name: string): string;
  metrics: ServiceMetrics;
}

const running: Array<{ service: FtpRunningService; store: Store; dataDir: string }> = [];

/** Fast login throttling in tests: no second-long delays unless a test asks for them. */
export const FAST_THROTTLE = { baseDelayMs: 0, maxDelayMs: 0 };

/**
 * A wharf FTP server on 127.0.0.1:0 with a fresh data folder and SQLite store; account `alice`
 * (password `secret`) exists. Passive ports: a free range found at random (`passivePorts` overrides).
 */
export async function startTestFtp(
  overrides: FtpConfigInput = {},
  options: { throttle?: Record<string, number>; selfRegistration?: boolean; quota?: number; users?: Record<string, string>; logger?: Logger } = {},
): Promise<TestFtpServer> {
  const dataDir = await mkdtemp(join(tmpdir(), 'wharf-ftp-'));
  const store = await openStore({
    dataDir,
    accounts: { selfRegistration: options.selfRegistration ?? true, throttle: options.throttle ?? FAST_THROTTLE },
  });
  const users = Object.entries(options.users ?? { alice: 'secret' });
  for (const [name, password] of users) {
    await store.accounts.add(name, password, options.quota !== undefined ? { quota: options.quota } : {});
  }
  const metrics = new ServiceMetrics('ftp');
  const passivePorts = overrides.passivePorts ?? (await freePortRange(20));
  const service = await startFtp(serviceContext({ name: 'ftp', logger: options.logger ?? silentLogger(), metrics, dataDir, resources: { store } }), ftpConfigSchema.parse({ port: 0, ...overrides, passivePorts }));
  running.push({ service, store, dataDir });
  // Homes appear at first login; tests that plant files before that need them now.
  for (const [name] of users) await mkdir(join(service.root, 'users', name), { recursive: true });
  return { service, port: service.port, dataDir, store, metrics, home: (name) => join(service.root, 'users', name) };
}

export async function stopTestFtps(): Promise<void> {
  const all = running.splice(0);
  await Promise.all(
    all.map(async ({ service, store, dataDir }) => {
      await service.stop(200);
      await store.close();
      await rm(dataDir, { recursive: true, force: true });
    }),
  );
}

async function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen({ host: '127.0.0.1', port, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/** A range of `count` ports that are free right now, from the dynamic range, as `MIN-MAX`. */
export async function freePortRange(count: number): Promise<string> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const min = 20_000 + Math.floor(Math.random() * 9_000);
    let ok = true;
    for (let port = min; port < min + count && ok; port++) ok = await portFree(port);
    if (ok) return `${min}-${min + count - 1}`;
  }
  throw new Error('no free port range');
}

export function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

export function sha256File(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    createReadStream(path)
      .on('data', (chunk) => hash.update(chunk))
      .on('error', reject)
      .on('end', () => resolve(hash.digest('hex')));
  });
}

export async function tempDir(prefix = 'wharf-ftp-local-'): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
}

export async function randomFile(path: string, size: number): Promise<Buffer> {
  const data = randomBytes(size);
  await writeFile(path, data);
  return data;
}

/**
 * A big file without holding it in memory: `head -c` from /dev/urandom would be slow; a 1 MiB
 * random block repeated with a counter in each block keeps every block distinct.
 */
export function bigFile(path: string, size: number): void {
  execFileSync('python3', [
    '-c',
    `import os,sys
size=int(sys.argv[2]); block=os.urandom(1<<20)
with open(sys.argv[1],'wb') as f:
    n=0
    while n<size:
        chunk=(n.to_bytes(8,'big')+block)[:min(1<<20,size-n)]
        f.write(chunk); n+=len(chunk)`,
    path,
    String(size),
  ]);
}

/** A self-signed certificate for 127.0.0.1/localhost (openssl), or undefined when openssl is missing. */
export function selfSignedCertificate(dir: string): { cert: string; key: string } | undefined {
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  if (existsSync(cert)) return { cert, key };
  try {
    execFileSync(
      'openssl',
      ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'],
      { stdio: 'ignore' },
    );
    return { cert, key };
  } catch {
    return undefined;
  }
}

/**
 * A bare control connection for tests that need exact bytes: send lines (or raw bytes) and read
 * replies one at a time.
 */
export class RawControl {
  readonly socket: net.Socket;
  readonly #parser = new ReplyParser();
  readonly #replies: Reply[] = [];
  readonly #waiters: Array<(reply: Reply | undefined) => void> = [];
  closed = false;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.on('data', (chunk: Buffer) => {
      for (const reply of this.#parser.push(chunk.toString('utf8'))) {
        const waiter = this.#waiters.shift();
        if (waiter) waiter(reply);
        else this.#replies.push(reply);
      }
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      this.closed = true;
      for (const waiter of this.#waiters.splice(0)) waiter(undefined);
    });
  }

  static async open(port: number, host = '127.0.0.1'): Promise<RawControl> {
    const socket = net.connect({ port, host });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', () => resolve());
      socket.once('error', reject);
    });
    return new RawControl(socket);
  }

  /** The next reply, or undefined when the server closed the connection. */
  next(timeoutMs = 5_000): Promise<Reply | undefined> {
    const ready = this.#replies.shift();
    if (ready) return Promise.resolve(ready);
    if (this.closed) return Promise.resolve(undefined);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no reply in time')), timeoutMs);
      this.#waiters.push((reply) => {
        clearTimeout(timer);
        resolve(reply);
      });
    });
  }

  write(data: string | Buffer): void {
    this.socket.write(data);
  }

  async cmd(line: string, timeoutMs?: number): Promise<Reply> {
    this.socket.write(`${line}\r\n`);
    const reply = await this.next(timeoutMs);
    if (!reply) throw new Error(`connection closed after ${line}`);
    return reply;
  }

  async login(user = 'alice', password = 'secret', timeoutMs = 10_000): Promise<void> {
    const greeting = await this.next(timeoutMs);
    if (greeting?.code !== 220) throw new Error(`greeting: ${JSON.stringify(greeting)}`);
    await this.cmd(`USER ${user}`, timeoutMs);
    const reply = await this.cmd(`PASS ${password}`, timeoutMs);
    if (reply.code !== 230) throw new Error(`login failed: ${JSON.stringify(reply)}`);
  }

  /** EPSV and connect a data socket. */
  async passive(): Promise<net.Socket> {
    const reply = await this.cmd('EPSV');
    const port = parseEpsvReply(reply.lines.join(' '));
    if (!port) throw new Error(`EPSV: ${JSON.stringify(reply)}`);
    const socket = net.connect({ port, host: '127.0.0.1' });
    socket.on('error', () => {});
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    return socket;
  }

  close(): void {
    this.socket.destroy();
  }
}

export function readAll(socket: net.Socket): Promise<Buffer> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('close', () => resolve(Buffer.concat(chunks)));
  });
}
