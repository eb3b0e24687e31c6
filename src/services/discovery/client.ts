import { randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import net from 'node:net';
import { WharfError } from '../../core/errors.js';
import { untilDeadline } from '../../core/deadline.js';
import { formatProbe, parseAnnouncement, serviceUrl, type Announcement } from './protocol.js';

export interface DiscoverOptions {
  /** Where the probe goes: the broadcast address (default), a subnet's broadcast, or one server. */
  address?: string;
  port?: number;
  /** How long to collect answers, in ms. */
  timeoutMs?: number;
  /** Stop as soon as this many servers have answered (asking one server: 1). */
  maxServers?: number;
}

export interface FoundServer {
  /** The address and port the answer came from. */
  address: string;
  port: number;
  name: string;
  version: string;
  /** Every service address it announced, `*` resolved: `tcp://192.0.2.7:2121`. */
  services: Array<{ service: string; url: string }>;
}

/**
 * A discovery client: a UDP socket allowed to broadcast, bound once. Each `find` sends one probe
 * (with a fresh nonce) and collects the answers of every wharf server that hears it, for
 * `timeoutMs`. Answers to other probes (another client's nonce) and anything that is not an
 * announcement are ignored; a server that answers twice is listed once.
 */
export class DiscoveryClient {
  readonly #socket: dgram.Socket;
  readonly #address: string;
  readonly #port: number;
  /** The collectors of the `find`s in progress (each keeps only the answers to its own nonce). */
  readonly #collectors = new Set<(message: Buffer, from: dgram.RemoteInfo) => void>();

  private constructor(socket: dgram.Socket, address: string, port: number) {
    this.#socket = socket;
    this.#address = address;
    this.#port = port;
    socket.on('message', (message, from) => {
      for (const collect of this.#collectors) collect(message, from);
    });
    socket.on('error', () => {}); // ICMP unreachable from a host with nothing on the port: not an error here
  }

  /** Bind the socket that sends probes to `address` (the broadcast address by default) and hears the answers. */
  static async connect(options: Pick<DiscoverOptions, 'address' | 'port'> = {}): Promise<DiscoveryClient> {
    const address = options.address ?? '255.255.255.255';
    const socket = dgram.createSocket(net.isIPv6(address) ? 'udp6' : 'udp4');
    try {
      await new Promise<void>((resolve, reject) => {
        socket.once('error', reject);
        socket.bind(0, () => {
          socket.off('error', reject);
          resolve();
        });
      });
      if (!net.isIPv6(address)) socket.setBroadcast(true);
    } catch (error) {
      socket.close();
      throw new WharfError('EBIND', `cannot open a UDP socket: ${(error as Error).message}`, { cause: error });
    }
    return new DiscoveryClient(socket, address, options.port ?? 7788);
  }

  /** Send one probe and resolve with the servers that answered within `timeoutMs` (or once `maxServers` have). */
  async find(options: Pick<DiscoverOptions, 'timeoutMs' | 'maxServers'> = {}): Promise<FoundServer[]> {
    const nonce = randomBytes(12).toString('base64url');
    const found = new Map<string, FoundServer>();
    let enough: () => void = () => undefined;
    const enoughAnswers = new Promise<void>((resolve) => (enough = resolve));
    const collect = (message: Buffer, from: dgram.RemoteInfo) => {
      const announcement: Announcement | undefined = parseAnnouncement(message);
      if (!announcement || announcement.nonce !== nonce) return;
      const key = `${from.address}:${from.port}`;
      if (found.has(key)) return;
      found.set(key, {
        address: from.address,
        port: from.port,
        name: announcement.name,
        version: announcement.version,
        services: announcement.services.map((entry) => ({ service: entry.service, url: serviceUrl(entry, from.address) })),
      });
      if (options.maxServers !== undefined && found.size >= options.maxServers) enough();
    };
    this.#collectors.add(collect);
    try {
      await new Promise<void>((resolve, reject) => {
        this.#socket.send(formatProbe(nonce), this.#port, this.#address, (error) => {
          if (error) reject(new WharfError('ENETWORK', `cannot send to ${this.#address}:${this.#port}: ${(error as NodeJS.ErrnoException).code ?? error.message}`));
          else resolve();
        });
      });
      await untilDeadline(enoughAnswers, options.timeoutMs ?? 1_000);
    } finally {
      this.#collectors.delete(collect);
    }
    return [...found.values()].sort((a, b) => a.address.localeCompare(b.address) || a.port - b.port);
  }

  /** Close the socket; resolves once it is closed. */
  async close(): Promise<void> {
    await new Promise<void>((resolve) => {
      try {
        this.#socket.close(() => resolve());
      } catch {
        resolve(); // already closed
      }
    });
  }
}

/** One probe with a fresh client: `discover({ timeoutMs: 2000 })` lists the wharf servers on this LAN. */
export async function discover(options: DiscoverOptions = {}): Promise<FoundServer[]> {
  const client = await DiscoveryClient.connect(options);
  try {
    return await client.find(options);
  } finally {
    await client.close();
  }
}
