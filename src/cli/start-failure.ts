import { WharfError, type WharfErrorCode } from '../core/errors.js';

/**
 * The one sentence `wharf serve` prints when a service cannot listen, worded the same for every
 * service (each transport words its own error differently): which service, what it tried, why,
 * and the flag that changes it. `--set` works on `wharf serve` and on `wharf <service> serve`.
 */
export function describeStartFailure(service: string, error: unknown, config: unknown): unknown {
  if (!(error instanceof WharfError)) return error;
  const where = listenTarget(error);
  if (!where) return new WharfError(error.code, `${service}: ${error.message}`, { cause: error });
  const target = `${where.transport} ${where.host.includes(':') ? `[${where.host}]` : where.host}:${where.port}`;
  const portFlag = `--set ${service}.${portKey(config, where.port, where.transport)}=PORT`;
  const because =
    error.code === 'EPORTINUSE'
      ? `the port is in use (by another wharf, or another server); choose another with ${portFlag}`
      : error.code === 'EDENIED'
        ? `ports below 1024 need root or CAP_NET_BIND_SERVICE (see docs/running.md); choose another with ${portFlag}`
        : `that address is not on this machine; choose another with --host or --set ${service}.host=ADDRESS`;
  return new WharfError(error.code, `${service} cannot listen on ${target}: ${because}`, { cause: error });
}

interface ListenTarget {
  transport: 'tcp' | 'udp';
  host: string;
  port: number;
}

const LISTEN_CODES = new Set<WharfErrorCode>(['EPORTINUSE', 'EDENIED', 'ENOTLOCAL']);

function listenTarget(error: WharfError): ListenTarget | undefined {
  if (!LISTEN_CODES.has(error.code)) return undefined;
  // Node's own error says where (net: syscall listen, dgram: bind); a wrapped one may only say it in words.
  const cause = error.cause as { address?: unknown; port?: unknown; syscall?: unknown } | undefined;
  if (typeof cause?.address === 'string' && typeof cause.port === 'number') {
    return { transport: cause.syscall === 'bind' ? 'udp' : 'tcp', host: cause.address, port: cause.port };
  }
  const match = /(\budp )?\[?([0-9A-Za-z.:_-]*?)\]?:(\d+)\b/.exec(error.message);
  if (!match) return undefined;
  return { transport: match[1] ? 'udp' : 'tcp', host: match[2] ?? '', port: Number(match[3]) };
}

/** The setting that chose `port`: `port`, or `tcpPort` when a service has one port per transport. */
function portKey(config: unknown, port: number, transport: 'tcp' | 'udp'): string {
  if (typeof config !== 'object' || config === null) return 'port';
  const keys = Object.entries(config as Record<string, unknown>)
    .filter(([key, value]) => /port$/i.test(key) && value === port)
    .map(([key]) => key);
  return keys.find((key) => key.toLowerCase().startsWith(transport)) ?? keys.find((key) => key === 'port') ?? keys[0] ?? 'port';
}
