/**
 * The small steps every UDP socket of wharf takes (make, bind, connect, size, close), written
 * once: node:dgram reports them through events and callbacks, and these turn them into promises
 * that clean up their listeners and say what went wrong in a sentence.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import { WharfError, isErrnoException } from './errors.js';

/** `udp6` for an IPv6 address, `udp4` for anything else (an IPv4 address or a host name). */
export function udpSocketType(address: string): 'udp4' | 'udp6' {
  return net.isIPv6(address) ? 'udp6' : 'udp4';
}

/**
 * A `lookup` that answers at once, for sockets that only ever send to IP literals (addresses
 * taken from `rinfo`, or resolved once). Node's default defers every unconnected send to the next
 * tick through dns.lookup; with this one a datagram leaves inside the callback that sends it.
 */
export function literalLookup(address: string, _options: unknown, callback: (error: Error | null, address: string, family: number) => void): void {
  callback(null, address, net.isIPv6(address) ? 6 : 4);
}

export interface UdpSocketOptions {
  /** SO_REUSEADDR, for two sockets sharing one port (TFTP's transfer and stray sockets). */
  reuseAddr?: boolean;
  /** Send only to IP literals, without a DNS lookup per datagram (`literalLookup`). */
  literalPeers?: boolean;
}

/** A UDP socket of the family of `host`. */
export function createUdpSocket(host: string, options: UdpSocketOptions = {}): dgram.Socket {
  return dgram.createSocket({ type: udpSocketType(host), reuseAddr: options.reuseAddr, ...(options.literalPeers ? { lookup: literalLookup } : {}) });
}

/** Bind `socket` (port 0: any free port); rejects with the socket's error, listeners removed either way. */
export function bindUdpSocket(socket: dgram.Socket, port: number, address?: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind({ port, ...(address !== undefined ? { address } : {}) }, () => {
      socket.off('error', reject);
      resolve();
    });
  });
}

/** Connect `socket` to one peer: the kernel then drops datagrams from anyone else. */
export function connectUdpSocket(socket: dgram.Socket, port: number, address: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.connect(port, address, () => {
      socket.off('error', reject);
      resolve();
    });
  });
}

/** Close `socket`; resolves once it is closed, or at once if it already was. Never rejects. */
export function closeUdpSocket(socket: dgram.Socket): Promise<void> {
  return new Promise<void>((resolve) => {
    try {
      socket.close(() => resolve());
    } catch {
      resolve(); // already closed
    }
  });
}

/**
 * Ask for kernel buffers (SO_RCVBUF / SO_SNDBUF) of these sizes; an undefined or 0 size is left
 * as it is. Returns the error when the kernel refused: the socket still works with its defaults,
 * so the caller only decides whether that is worth a log line.
 */
export function setUdpBufferSizes(socket: dgram.Socket, sizes: { receiveBytes?: number; sendBytes?: number }): Error | undefined {
  try {
    if (sizes.receiveBytes) socket.setRecvBufferSize(sizes.receiveBytes);
    if (sizes.sendBytes) socket.setSendBufferSize(sizes.sendBytes);
    return undefined;
  } catch (error) {
    return error instanceof Error ? error : new Error(String(error));
  }
}

/** A failed UDP bind (an errno error, or its code and message posted from a worker) as a sentence a user understands. */
export function udpBindError(error: unknown, where: string): WharfError {
  const code = isErrnoException(error) ? error.code : (error as { code?: unknown } | undefined)?.code;
  const message = error instanceof Error ? error.message : String((error as { message?: unknown } | undefined)?.message ?? error);
  const cause = error;
  if (code === 'EADDRINUSE') return new WharfError('EPORTINUSE', `udp ${where} is already in use (is another server running?)`, { cause });
  if (code === 'EACCES') return new WharfError('EDENIED', `no permission to bind udp ${where} (ports below 1024 need root)`, { cause });
  if (code === 'EADDRNOTAVAIL') return new WharfError('ENOTLOCAL', `udp ${where}: that address is not on this machine`, { cause });
  return new WharfError('EBIND', `cannot bind udp ${where}: ${message}`, { cause });
}
