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
 * Broadcast a probe and collect the answers of every wharf server that hears it, for
 * `timeoutMs`. Answers to other probes (another client's nonce) and anything that is not an
 * announcement are ignored; a server that answers twice is listed once.
 */
export async function discover(options: DiscoverOptions = {}): Promise<FoundServer[]> {
  const address = options.address ?? '255.255.255.255';
  const port = options.port ?? 7788;
  const timeoutMs = options.timeoutMs ?? 1_000;
  const socket = dgram.createSocket(net.isIPv6(address) ? 'udp6' : 'udp4');
  const nonce = randomBytes(12).toString('base64url');
  const found = new Map<string, FoundServer>();
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(0, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    if (!net.isIPv6(address)) socket.setBroadcast(true);
    socket.on('message', (message, from) => {
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
    });
    socket.on('error', () => {}); // ICMP unreachable from a host with nothing on the port: not an error here
    let enough: () => void = () => undefined;
    const enoughAnswers = new Promise<void>((resolve) => (enough = resolve));
    await new Promise<void>((resolve, reject) => {
      socket.send(formatProbe(nonce), port, address, (error) => {
        if (error) reject(new WharfError('ENETWORK', `cannot send to ${address}:${port}: ${(error as NodeJS.ErrnoException).code ?? error.message}`));
        else resolve();
      });
    });
    await untilDeadline(enoughAnswers, timeoutMs);
  } finally {
    socket.close();
  }
  return [...found.values()].sort((a, b) => a.address.localeCompare(b.address) || a.port - b.port);
}
