/**
 * Data connection addresses, pure: PORT/PASV (RFC 959), EPRT/EPSV (RFC 2428), address literals,
 * and the passive port range of the configuration.
 */

export interface HostPort {
  host: string;
  port: number;
  /** 1 (IPv4) or 2 (IPv6), the RFC 2428 protocol numbers. */
  family: 1 | 2;
}

/** `PORT 127,0,0,1,200,10` → 127.0.0.1:51210. */
export function parsePortArgument(argument: string): HostPort | undefined {
  const parts = argument.trim().split(',');
  if (parts.length !== 6 || !parts.every((p) => /^\d{1,3}$/.test(p.trim()))) return undefined;
  const numbers = parts.map((p) => Number(p.trim()));
  if (numbers.some((n) => n > 255)) return undefined;
  const port = (numbers[4] as number) * 256 + (numbers[5] as number);
  if (port === 0) return undefined;
  return { host: numbers.slice(0, 4).join('.'), port, family: 1 };
}

/** 127.0.0.1:51210 → `127,0,0,1,200,10` (PORT argument and the inside of a 227 reply). */
export function formatPortArgument(host: string, port: number): string {
  return `${host.split('.').join(',')},${port >> 8},${port & 255}`;
}

/** The 227 reply text to PASV. */
export function formatPasvReply(host: string, port: number): string {
  return `Entering Passive Mode (${formatPortArgument(host, port)}).`;
}

/** The address in a 227 reply (client side). Clients commonly ignore the host and reuse the control connection's. */
export function parsePasvReply(text: string): HostPort | undefined {
  const match = /(\d{1,3}(?:\s*,\s*\d{1,3}){5})/.exec(text);
  return match ? parsePortArgument((match[1] as string).replace(/\s/g, '')) : undefined;
}

/** The 229 reply text to EPSV. */
export function formatEpsvReply(port: number): string {
  return `Entering Extended Passive Mode (|||${port}|)`;
}

export function parseEpsvReply(text: string): number | undefined {
  const match = /\((.)\1\1(\d{1,5})\1\)/.exec(text);
  if (!match) return undefined;
  const port = Number(match[2]);
  return port > 0 && port < 65536 ? port : undefined;
}

/**
 * `EPRT |1|132.235.1.2|6275|` or `EPRT |2|1080::8:800:200C:417A|5282|` (RFC 2428 §2). The
 * delimiter is the first character, any printable ASCII from 33 to 126.
 */
export function parseEprtArgument(argument: string): HostPort | undefined {
  const text = argument.trim();
  const delimiter = text[0];
  if (delimiter === undefined || delimiter.charCodeAt(0) < 33 || delimiter.charCodeAt(0) > 126) return undefined;
  const parts = text.split(delimiter);
  // '', af, address, port, ''
  if (parts.length !== 5 || parts[0] !== '' || parts[4] !== '') return undefined;
  const [, af, address, portText] = parts as [string, string, string, string, string];
  if (!/^\d{1,5}$/.test(portText)) return undefined;
  const port = Number(portText);
  if (port < 1 || port > 65535) return undefined;
  if (af === '1' && isIPv4Literal(address)) return { host: address, port, family: 1 };
  if (af === '2' && isIPv6Literal(address)) return { host: address.toLowerCase(), port, family: 2 };
  return undefined;
}

export function formatEprtArgument(host: string, port: number): string {
  return host.includes(':') ? `|2|${host}|${port}|` : `|1|${host}|${port}|`;
}

export function isIPv4Literal(text: string): boolean {
  const parts = text.split('.');
  return parts.length === 4 && parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255);
}

function isIPv6Literal(text: string): boolean {
  if (!/^[0-9a-fA-F:.]+$/.test(text) || !text.includes(':')) return false;
  const doubleColons = text.split('::').length - 1;
  if (doubleColons > 1) return false;
  const groups = text.split(':').filter((g) => g !== '');
  const last = groups[groups.length - 1];
  const v4Tail = last !== undefined && last.includes('.');
  if (v4Tail && !isIPv4Literal(last)) return false;
  const count = groups.length + (v4Tail ? 1 : 0);
  if (doubleColons === 0 ? count !== 8 : count > 7) return false;
  return groups.every((g) => (g.includes('.') ? true : /^[0-9a-fA-F]{1,4}$/.test(g)));
}

/** `::ffff:10.0.0.1` → `10.0.0.1`; other addresses unchanged (and IPv6 lower-cased). */
export function plainAddress(address: string): string {
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(address);
  if (mapped) return mapped[1] as string;
  return address.includes(':') ? address.toLowerCase() : address;
}

/** Same host? (IPv4-mapped IPv6 and IPv4 compare equal.) */
export function sameAddress(a: string, b: string): boolean {
  return expandIPv6(plainAddress(a)) === expandIPv6(plainAddress(b));
}

function expandIPv6(address: string): string {
  if (!address.includes(':')) return address;
  const [head = '', tail = ''] = address.split('::');
  const h = head === '' ? [] : head.split(':');
  const t = address.includes('::') ? (tail === '' ? [] : tail.split(':')) : [];
  const groups = address.includes('::') ? [...h, ...Array<string>(Math.max(0, 8 - h.length - t.length)).fill('0'), ...t] : h;
  return groups.map((g) => (g.includes('.') ? g : Number.parseInt(g, 16).toString(16))).join(':');
}

/** `30000-30099` → {min, max}; `0` means "any free port the system picks". */
export function parsePortRange(text: string): { min: number; max: number } | undefined {
  const trimmed = text.trim();
  if (trimmed === '0') return { min: 0, max: 0 };
  const match = /^(\d{1,5})\s*-\s*(\d{1,5})$/.exec(trimmed);
  if (!match) return undefined;
  const min = Number(match[1]);
  const max = Number(match[2]);
  if (min < 1 || max > 65535 || min > max) return undefined;
  return { min, max };
}
