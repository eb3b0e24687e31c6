import dgram from 'node:dgram';

/** Ports below 1024 need root: tests that stand in for such a service skip without it (CI runs as root). */
export const canBindPrivileged = process.getuid?.() === 0;
export const privilegedSkipReason = 'binding a UDP port below 1024 needs root (CI runs the tests as root)';

/**
 * A UDP socket on 127.0.0.1:`port` that stands for another service at that address, such as an
 * RFC 862 echo on port 7: with `echo`, it answers every datagram with the same bytes. It counts
 * what reaches it.
 */
export async function udpResponder(port: number, options: { echo?: boolean } = {}): Promise<{ socket: dgram.Socket; received: number; close(): Promise<void> }> {
  const socket = dgram.createSocket('udp4');
  const state = {
    socket,
    received: 0,
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
  socket.on('error', () => {});
  socket.on('message', (message, from) => {
    state.received++;
    if (options.echo) socket.send(message, from.port, from.address);
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(port, '127.0.0.1', () => resolve());
  });
  return state;
}
