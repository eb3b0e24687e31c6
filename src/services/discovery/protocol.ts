/**
 * The discovery protocol, pure: which datagrams get an answer, and what the answer says.
 *
 * Seed 004 sends `Hi` to `<broadcast>:7788` and prints every reply. wharf keeps that: any short
 * text gets a one-line, human-readable announcement of the services this server runs. wharf's
 * own client sends `WHARF-DISCOVER 1 <nonce>` and gets the same facts as JSON, with the nonce
 * echoed so that it can tell the answers to its probe from anything else on the port.
 *
 * Three rules keep a UDP responder from being turned against others:
 * - it never answers what looks like an answer (JSON, or a line starting `wharf `), so two
 *   discovery servers cannot be made to talk to each other forever;
 * - like every wharf UDP service, it never answers a source that could be another responder
 *   (a privileged port, a known reflector's, a wharf service's: core/udp-guard.ts);
 * - the server rate-limits answers per address (server.ts), since an announcement is larger
 *   than the probe.
 */
import { z } from 'zod';
import { isLoopbackAddress as isLoopback } from '../../core/address.js';

export const PROTOCOL_VERSION = 1;
export const PROBE_MAGIC = 'WHARF-DISCOVER';
/** Probes longer than this are not answered (the seed's is 2 bytes; wharf's is under 100). */
export const MAX_PROBE_BYTES = 512;
/** An announcement is one datagram; beyond this many services the list is cut (none are that big). */
export const MAX_ADVERTISED_SERVICES = 64;
/** Largest announcement a client accepts (a UDP datagram over IPv4 carries at most 65,507 bytes). */
export const MAX_ANNOUNCEMENT_BYTES = 65_507;

export type Probe =
  /** wharf's client: answer in JSON, echoing the nonce. */
  | { kind: 'wharf'; nonce: string }
  /** Anything else short and textual, such as the seed's `Hi`: answer in one line of text. */
  | { kind: 'text' };

/** One address a service listens on, as announced. `address` `*` means "the address that answered". */
export interface AdvertisedAddress {
  service: string;
  transport: 'tcp' | 'udp';
  address: string;
  port: number;
}

export interface Announcement {
  /** The protocol version, PROTOCOL_VERSION. */
  wharf: number;
  /** The answering wharf's package version. */
  version: string;
  /** The name the server goes by (its host name, unless configured). */
  name: string;
  /** The probe's nonce (JSON answers only). */
  nonce?: string;
  services: AdvertisedAddress[];
}

const NONCE = /^[A-Za-z0-9_-]{1,64}$/;

/** What to do with a datagram: the probe it is, or undefined for "do not answer". */
export function parseProbe(datagram: Uint8Array): Probe | undefined {
  if (datagram.length === 0 || datagram.length > MAX_PROBE_BYTES) return undefined;
  const text = Buffer.from(datagram.buffer, datagram.byteOffset, datagram.byteLength).toString('latin1');
  if (text.startsWith(PROBE_MAGIC)) {
    const match = /^WHARF-DISCOVER (\d{1,3}) (\S+)\r?\n?$/.exec(text);
    if (!match || Number(match[1]) !== PROTOCOL_VERSION || !NONCE.test(match[2]!)) return undefined;
    return { kind: 'wharf', nonce: match[2]! };
  }
  // Someone's answer (ours or a look-alike): answering it could start a loop between two servers.
  if (text.startsWith('{') || text.startsWith('wharf ')) return undefined;
  return { kind: 'text' };
}

export function formatProbe(nonce: string): Buffer {
  if (!NONCE.test(nonce)) throw new RangeError('a nonce is 1 to 64 letters, digits, - or _');
  return Buffer.from(`${PROBE_MAGIC} ${PROTOCOL_VERSION} ${nonce}\n`, 'latin1');
}

export function formatJsonAnnouncement(announcement: Announcement): Buffer {
  return Buffer.from(JSON.stringify(announcement), 'utf8');
}

/** The seed's answer: one line a person reads, e.g. `wharf 0.1.0 on box: echo tcp 7007, ftp tcp 2121`. */
export function formatTextAnnouncement(announcement: Announcement): Buffer {
  const services = announcement.services.map((s) => `${s.service} ${s.transport} ${s.address === '*' ? '' : `${s.address}:`}${s.port}`);
  return Buffer.from(`wharf ${announcement.version} on ${announcement.name}: ${services.join(', ') || 'no services'}\n`, 'utf8');
}

const announcementSchema = z.object({
  wharf: z.literal(PROTOCOL_VERSION),
  version: z.string().max(64),
  name: z.string().max(255),
  nonce: z.string().regex(NONCE).optional(),
  services: z
    .array(
      z.object({
        service: z.string().min(1).max(64),
        transport: z.enum(['tcp', 'udp']),
        address: z.string().min(1).max(64),
        port: z.number().int().min(1).max(65535),
      }),
    )
    .max(MAX_ADVERTISED_SERVICES),
});

/** A JSON announcement, checked field by field; undefined for anything else. */
export function parseAnnouncement(datagram: Uint8Array): Announcement | undefined {
  if (datagram.length === 0 || datagram.length > MAX_ANNOUNCEMENT_BYTES || datagram[0] !== 0x7b /* { */) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(datagram.buffer, datagram.byteOffset, datagram.byteLength).toString('utf8'));
  } catch {
    return undefined;
  }
  const parsed = announcementSchema.safeParse(value);
  return parsed.success ? parsed.data : undefined;
}

const isWildcard = (address: string): boolean => address === '0.0.0.0' || address === '::';

/**
 * The addresses worth telling an asker about: a wildcard listener as `*` (the client fills in
 * the address that answered), a loopback listener only to an asker on loopback (anyone else
 * could not reach it), Unix sockets never.
 */
export function advertisedAddresses(
  services: ReadonlyArray<{ name: string; addresses: ReadonlyArray<{ transport: string; address: string; port: number }> }>,
  askerAddress: string,
): AdvertisedAddress[] {
  const askerIsLocal = isLoopback(askerAddress);
  const out: AdvertisedAddress[] = [];
  for (const service of services) {
    for (const { transport, address, port } of service.addresses) {
      if (transport !== 'tcp' && transport !== 'udp') continue;
      if (isLoopback(address) && !askerIsLocal) continue;
      out.push({ service: service.name, transport, address: isWildcard(address) ? '*' : address, port });
      if (out.length === MAX_ADVERTISED_SERVICES) return out;
    }
  }
  return out;
}

/** `tcp://192.0.2.7:2121` for an advertised address, `*` resolved to the address that answered. */
export function serviceUrl(entry: AdvertisedAddress, answeredFrom: string): string {
  const address = entry.address === '*' ? answeredFrom : entry.address;
  return `${entry.transport}://${address.includes(':') ? `[${address}]` : address}:${entry.port}`;
}
