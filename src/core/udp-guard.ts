/**
 * The rule every wharf UDP service follows before it answers a datagram: a UDP source address is
 * not proof of anything, so a service must never answer a source that could be another
 * automatic responder. A datagram forged with the source of a second echo server (or a chargen,
 * a DNS server, another wharf) would otherwise start a loop that never ends, or turn wharf into a
 * reflector aimed at that service.
 *
 * Refused, before the service sees the datagram (so it is neither answered nor stored):
 * - every source port below 1024 (echo 7, daytime 13, chargen 19, DNS 53, TFTP 69, NTP 123,
 *   SNMP 161...): no ordinary client sends from there;
 * - the well-known responders above 1023 (REFLECTOR_PORTS: SSDP 1900, mDNS 5353, memcached
 *   11211...);
 * - wharf's own service ports: the defaults of every wharf UDP service and the ports the running
 *   host actually listens on (this covers a datagram "from" the very socket that receives it);
 * - past a per-address rate (a token bucket), so a forged victim gets a bounded trickle.
 *
 * Refusals are counted (`metrics.datagramsRefused`) and summarised in one log line at most once
 * a minute, so a flood of forged datagrams cannot flood the log too.
 */
import { isLoopbackAddress } from './address.js';
import type { Logger } from './logger.js';
import type { ServiceMetrics } from './metrics.js';
import { RateLimiter } from './rate-limiter.js';
import type { ServiceContext } from './service.js';

/** The default UDP ports of wharf's services: echo, tftp, diary, chat, discovery. */
export const WHARF_DEFAULT_UDP_PORTS: readonly number[] = [7007, 6969, 8888, 8000, 7788];

/**
 * UDP responders above 1023 that answer unasked-for datagrams (the amplification lists of
 * CISA/US-CERT TA14-017A and Shadowserver): SSDP, ARD, WS-Discovery, SIP, mDNS, CoAP, Ubiquiti
 * discovery, memcached, VxWorks WDB, Quake, Steam/Source A2S, Quake 3. Only ports below 32768:
 * above, operating systems hand ports to clients (Linux 32768-60999, Windows 49152-65535), and a
 * client that drew one would never be answered; the responders there (a DVR's 37810, BACnet
 * 47808) are left to the per-address rate.
 */
export const REFLECTOR_PORTS: readonly number[] = [1900, 3283, 3702, 5060, 5353, 5683, 10001, 11211, 17185, 26000, 27015, 27960];

const REFLECTORS = new Set(REFLECTOR_PORTS);
const LOG_EVERY_MS = 60_000;
/** How often the set of the host's own ports is read again (services start and stop). */
const OWN_PORTS_REFRESH_MS = 1_000;

export type RefusalReason = 'reflectorPort' | 'ownPort' | 'rate';

/** True for a source port no client should send from: privileged, or a known responder's. */
export function isReflectorPort(port: number): boolean {
  return port < 1024 || REFLECTORS.has(port);
}

export interface DatagramGuardOptions {
  /** The ports this host's UDP services listen on (read again once a second); defaults are always in. */
  ownPorts?: () => Iterable<number>;
  /** Datagrams handled per second from one IP address (a token bucket). Default 500. */
  perSourcePerSecond?: number;
  /** Datagrams from one IP address at once. Default twice the rate. */
  perSourceBurst?: number;
  /**
   * Also rate-limit loopback sources. Off by default: the kernel drops datagrams that arrive from
   * the network with a loopback source, so only this machine can send them, and local clients
   * and benchmarks may go as fast as they like.
   */
  limitLoopback?: boolean;
  /** Addresses remembered by the rate limit (the oldest idle ones are forgotten). Default 10,000. */
  maxSources?: number;
  logger?: Logger;
  metrics?: ServiceMetrics;
  now?: () => number;
}

export class DatagramGuard {
  readonly refused: Record<RefusalReason, number> = { reflectorPort: 0, ownPort: 0, rate: 0 };
  readonly #options: DatagramGuardOptions;
  readonly #limiter: RateLimiter;
  readonly #now: () => number;
  readonly #extraOwnPorts = new Set<number>();
  #ownPorts = new Set<number>(WHARF_DEFAULT_UDP_PORTS);
  #ownPortsReadAt = -Infinity;
  #lastLogAt = -Infinity;
  #refusedSinceLog = 0;

  constructor(options: DatagramGuardOptions = {}) {
    this.#options = options;
    this.#now = options.now ?? (() => performance.now());
    const rate = options.perSourcePerSecond ?? 500;
    this.#limiter = new RateLimiter({ ratePerSecond: rate, burst: options.perSourceBurst ?? rate * 2, maxKeys: options.maxSources ?? 10_000, now: this.#now });
  }

  /** A port this process listens on (the socket the guard protects), refused as a source. */
  addOwnPort(port: number): void {
    this.#extraOwnPorts.add(port);
    this.#ownPortsReadAt = -Infinity;
  }

  /** Handle a datagram from `address`:`port`? False means drop it unanswered (it is counted). */
  admits(address: string, port: number): boolean {
    const now = this.#now();
    let reason: RefusalReason | undefined;
    if (isReflectorPort(port)) reason = 'reflectorPort';
    else if (this.#ownPortSet(now).has(port)) reason = 'ownPort';
    else if ((this.#options.limitLoopback || !isLoopbackAddress(address)) && !this.#limiter.take(address)) reason = 'rate';
    if (reason === undefined) return true;
    this.#refuse(reason, address, port, now);
    return false;
  }

  #ownPortSet(now: number): Set<number> {
    if (now - this.#ownPortsReadAt >= OWN_PORTS_REFRESH_MS) {
      this.#ownPortsReadAt = now;
      const ports = new Set<number>([...WHARF_DEFAULT_UDP_PORTS, ...this.#extraOwnPorts]);
      for (const port of this.#options.ownPorts?.() ?? []) if (port > 0) ports.add(port);
      this.#ownPorts = ports;
    }
    return this.#ownPorts;
  }

  #refuse(reason: RefusalReason, address: string, port: number, now: number): void {
    this.refused[reason]++;
    this.#refusedSinceLog++;
    if (this.#options.metrics) this.#options.metrics.datagramsRefused++;
    if (now - this.#lastLogAt < LOG_EVERY_MS) return;
    this.#options.logger?.warn(
      { refused: this.#refusedSinceLog, totals: { ...this.refused }, last: { address, port, reason } },
      'udp: refused datagrams from sources that could be another service (reflection/loop guard)',
    );
    this.#lastLogAt = now;
    this.#refusedSinceLog = 0;
  }
}

/** The UDP ports the host's running services listen on, for `DatagramGuardOptions.ownPorts`. */
export function hostUdpPorts(ctx: Pick<ServiceContext, 'services'>): () => number[] {
  return () => (ctx.services?.() ?? []).flatMap((service) => service.addresses.filter((a) => a.transport === 'udp').map((a) => a.port));
}
