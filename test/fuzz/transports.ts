/**
 * How a batch reaches a server: each message on its own TCP (or TLS) connection, or as
 * datagrams from one fresh UDP socket. Both wait until the server has had its say (it closed
 * the connection, or went quiet for a moment) so that the health check that follows sees the
 * server after the batch, not during it.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import tls from 'node:tls';

export interface StreamOptions {
  port: number;
  /** Wrap the connection in TLS (with this ALPN list). */
  tls?: { alpn: string[] };
  /** After the last byte from the server, wait this long for more before hanging up. Default 40 ms. */
  quietMs?: number;
  /** Hang up after this long whatever happens. Default 1,500 ms. */
  capMs?: number;
}

/**
 * One connection: write the message, half-close (every other message: the other half stays
 * open, as a peer that just stops talking), wait for close or quiet, then destroy.
 */
function oneStream(message: Buffer, halfClose: boolean, options: StreamOptions): Promise<void> {
  const quietMs = options.quietMs ?? 40;
  const capMs = options.capMs ?? 1_500;
  return new Promise((resolve) => {
    const socket: net.Socket = options.tls
      ? tls.connect({ port: options.port, host: '127.0.0.1', rejectUnauthorized: false, ALPNProtocols: options.tls.alpn, servername: 'localhost' })
      : net.connect({ port: options.port, host: '127.0.0.1' });
    let quietTimer: NodeJS.Timeout | undefined;
    const finish = () => {
      clearTimeout(quietTimer);
      clearTimeout(capTimer);
      socket.destroy();
      resolve();
    };
    const capTimer = setTimeout(finish, capMs);
    const quiet = () => {
      clearTimeout(quietTimer);
      quietTimer = setTimeout(finish, quietMs);
    };
    socket.on('error', finish);
    socket.on('close', finish);
    socket.on('data', quiet);
    socket.once(options.tls ? 'secureConnect' : 'connect', () => {
      socket.write(message, () => quiet());
      if (halfClose) socket.end();
    });
  });
}

export async function sendStreams(messages: Buffer[], options: StreamOptions): Promise<void> {
  await Promise.all(messages.map((message, i) => oneStream(message, i % 2 === 0, options)));
}

export interface DatagramOptions {
  port: number;
  /** After the last datagram in or out, wait this long for more. Default 30 ms. */
  quietMs?: number;
  /** Stop waiting after this long. Default 1,000 ms. */
  capMs?: number;
}

/** All messages from one fresh socket (a new source port per batch), then wait for the answers to stop. */
export async function sendDatagrams(messages: Buffer[], options: DatagramOptions): Promise<void> {
  const quietMs = options.quietMs ?? 30;
  const socket = dgram.createSocket('udp4');
  socket.on('error', () => {}); // ICMP from a transfer port that closed: not the fuzzer's concern
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  await new Promise<void>((resolve) => {
    let quietTimer: NodeJS.Timeout | undefined;
    const finish = () => {
      clearTimeout(quietTimer);
      clearTimeout(capTimer);
      resolve();
    };
    const capTimer = setTimeout(finish, options.capMs ?? 1_000);
    const quiet = () => {
      clearTimeout(quietTimer);
      quietTimer = setTimeout(finish, quietMs);
    };
    socket.on('message', quiet);
    let sent = 0;
    for (const message of messages) {
      socket.send(message, options.port, '127.0.0.1', () => {
        if (++sent === messages.length) quiet();
      });
    }
  });
  socket.close();
}
