import type dgram from 'node:dgram';
import type { Logger } from '../../core/logger.js';
import { bindUdpSocket, closeUdpSocket, connectUdpSocket, createUdpSocket, setUdpBufferSizes } from '../../core/udp-socket.js';
import type { DatagramPeer } from '../../core/udp-server.js';

/** The sockets of one transfer, on the port that is its TID. */
export interface TransferSockets {
  /** Carries the transfer; connect()ed to the peer when `connected`. */
  data: dgram.Socket;
  /** Same port, unconnected: everything not from the peer lands here. */
  strays: dgram.Socket | undefined;
  port: number;
  connected: boolean;
}

/**
 * Opens and closes the transfer sockets of one TFTP server, and remembers the ports they hold.
 *
 * A transfer's sockets are on a fresh ephemeral port (its TID): one connect()ed to the peer,
 * which carries the transfer, and one unconnected on the same port, which the kernel hands
 * everything else to and which answers it with ERROR 5. Both use SO_REUSEADDR to share the port,
 * and a SO_REUSEADDR bind to port 0 may be given a port another such socket holds: ports this
 * server already uses are skipped. If the pair cannot be made, one unconnected socket does both jobs.
 */
export class TransferPorts {
  readonly #portsInUse = new Set<number>();

  constructor(
    readonly host: string,
    /** The largest socket buffers a transfer asks for. */
    readonly maxBufferBytes: number,
    readonly logger: Logger,
  ) {}

  async open(windowBytes: number, peer: DatagramPeer): Promise<TransferSockets> {
    let sockets: TransferSockets | undefined;
    for (let attempt = 0; attempt < 4 && sockets === undefined; attempt++) sockets = await this.#openPair(peer);
    if (sockets === undefined) {
      const data = this.#newSocket(false);
      await bindUdpSocket(data, 0, this.host);
      sockets = { data, strays: undefined, port: data.address().port, connected: false };
    }
    // A window larger than the kernel's default buffers would overflow them: ask for more.
    // The kernel's maximum wins; the transfer still works.
    if (windowBytes > 128 * 1024) {
      const size = Math.min(this.maxBufferBytes, windowBytes * 2);
      setUdpBufferSizes(sockets.data, { sendBytes: size, receiveBytes: size });
    }
    return sockets;
  }

  async close(sockets: TransferSockets): Promise<void> {
    await Promise.all([closeUdpSocket(sockets.data), sockets.strays ? closeUdpSocket(sockets.strays) : undefined]);
    if (sockets.connected) this.#portsInUse.delete(sockets.port);
  }

  /** The connected socket and its stray catcher on one new port, or undefined when that failed. */
  async #openPair(peer: DatagramPeer): Promise<TransferSockets | undefined> {
    const data = this.#newSocket(true);
    let strays: dgram.Socket | undefined;
    try {
      await bindUdpSocket(data, 0, this.host);
      const port = data.address().port;
      if (this.#portsInUse.has(port)) throw new Error('port already used by this server');
      strays = this.#newSocket(true);
      await bindUdpSocket(strays, port, this.host);
      await connectUdpSocket(data, peer.port, peer.address);
      this.#portsInUse.add(port);
      return { data, strays, port, connected: true };
    } catch {
      await closeUdpSocket(data);
      if (strays) await closeUdpSocket(strays);
      return undefined;
    }
  }

  #newSocket(reuseAddr: boolean): dgram.Socket {
    const socket = createUdpSocket(this.host, { reuseAddr, literalPeers: true });
    socket.on('error', (error) => this.logger.debug({ err: error }, 'transfer socket error'));
    return socket;
  }
}
