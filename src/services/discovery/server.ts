import { hostname } from 'node:os';
import { z } from 'zod';
import { listenSchema, portSchema } from '../../core/config.js';
import { RateLimiter } from '../../core/rate-limiter.js';
import type { RunningService, ServiceContext, ServiceDefinition } from '../../core/service.js';
import { hostUdpPorts } from '../../core/udp-guard.js';
import { DatagramServer, type DatagramPeer } from '../../core/udp-server.js';
import { WHARF_VERSION as version } from '../../core/version.js';
import { MAX_PROBE_BYTES, PROTOCOL_VERSION, advertisedAddresses, formatJsonAnnouncement, formatTextAnnouncement, parseProbe, type Announcement } from './protocol.js';

export const DEFAULT_DISCOVERY_PORT = 7788;

export const discoveryConfigSchema = z
  .object({
    ...listenSchema,
    port: portSchema.default(DEFAULT_DISCOVERY_PORT),
    /** The name announced; the machine's host name by default. */
    name: z.string().min(1).max(255).optional(),
    /** Answers per second to one address (a token bucket with `answerBurst`): an answer is larger than a probe. */
    answersPerSecond: z.number().positive().max(10_000).default(2),
    answerBurst: z.number().int().positive().max(10_000).default(10),
  })
  .strict();

export type DiscoveryConfig = z.infer<typeof discoveryConfigSchema>;

export interface DiscoveryRunningService extends RunningService {
  /** Probes answered and probes left unanswered (malformed, privileged port, over the rate). */
  readonly stats: { answered: number; ignored: number };
}

/**
 * Answers "which wharf servers are here, and what do they run?" on UDP port 7788, the seed's
 * broadcast port. It announces the services of the host it runs in (`ctx.services`).
 */
export async function startDiscovery(ctx: ServiceContext, config: DiscoveryConfig): Promise<DiscoveryRunningService> {
  const name = config.name ?? hostname();
  const limiter = new RateLimiter({ ratePerSecond: config.answersPerSecond, burst: config.answerBurst, maxKeys: 10_000 });
  const stats = { answered: 0, ignored: 0 };
  const server = await DatagramServer.bind({
    host: config.host,
    port: config.port,
    maxDatagramBytes: MAX_PROBE_BYTES,
    logger: ctx.logger,
    metrics: ctx.metrics,
    guard: { ownPorts: hostUdpPorts(ctx) },
    onMessage(message: Buffer, peer: DatagramPeer, self: DatagramServer) {
      const probe = parseProbe(message);
      if (!probe || !limiter.take(peer.address)) {
        stats.ignored++;
        return;
      }
      const announcement: Announcement = {
        wharf: PROTOCOL_VERSION,
        version,
        name,
        ...(probe.kind === 'wharf' ? { nonce: probe.nonce } : {}),
        services: advertisedAddresses(ctx.services?.() ?? [], peer.address),
      };
      self.reply(peer, probe.kind === 'wharf' ? formatJsonAnnouncement(announcement) : formatTextAnnouncement(announcement));
      stats.answered++;
    },
  });
  ctx.logger.debug({ address: server.addresses[0] }, 'discovery listening');
  return {
    name: 'discovery',
    addresses: server.addresses,
    stats,
    stop: () => server.stop(),
  };
}

export const discoveryService: ServiceDefinition<DiscoveryConfig> = {
  name: 'discovery',
  summary: 'answers LAN discovery probes (UDP broadcast, the seed\'s "Hi" on port 7788) with this server\'s services',
  configSchema: discoveryConfigSchema,
  start: startDiscovery,
};
