import dgram from 'node:dgram';

/** Ports below 1024 need root: tests that stand in for such a service skip without it (CI runs as root). */
export const canBindPrivileged = process.getuid?.() === 0;
export const privilegedSkipReason = 'binding a UDP port below 1024 needs root (CI runs the tests as root)';

/**
 * A UDP socket on `port` of a loopback address of its own that stands for another service there,
 * such as an RFC 862 echo on port 7: with `echo`, it answers every datagram with the same bytes.
 * It counts what reaches it. The address is drawn from 127.0.0.0/8 (all of it is loopback on
 * Linux), so test files running at once never fight over 127.0.0.1:7.
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
    socket.bind(port, randomLoopbackAddress(), () => resolve());
  });
  return state;
}

function randomLoopbackAddress(): string {
  const octet = () => 1 + Math.floor(Math.random() * 254);
  return `127.${octet()}.${octet()}.${octet()}`;
}
