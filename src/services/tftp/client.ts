import type dgram from 'node:dgram';
import { lookup } from 'node:dns/promises';
import { open, stat } from 'node:fs/promises';
import type { Writable } from 'node:stream';
import { DEFAULT_BUSY_POLL_MICROS } from '../../core/busy-poll.js';
import { portUnreachable } from '../../core/client.js';
import { WharfError } from '../../core/errors.js';
import { bindUdpSocket, closeUdpSocket, createUdpSocket, setUdpBufferSizes } from '../../core/udp-socket.js';
import { FileBlockSink, FileBlockSource, NetasciiBlockSource, StreamBlockSink, type BlockSink, type BlockSource } from './files.js';
import {
  DEFAULT_PARAMETERS,
  MAX_BLOCK_SIZE,
  MIN_BLOCK_SIZE,
  NetasciiEncoder,
  TftpErrorCode,
  TftpPacketError,
  acceptOack,
  clientOptions,
  formatAck,
  formatError,
  formatRequest,
  parsePacket,
  type ClientOptionRequest,
  type RequestType,
  type TransferMode,
  type TransferParameters,
} from './protocol.js';
import { ReceiveTransfer, SendTransfer, TftpTransferError, describeRemoteError, type TransferPeer, type TransferResult, type TransferTiming } from './transfer.js';

export interface TftpClientOptions {
  /** Server name or address. */
  host: string;
  /** Server port. Default 6969 (wharf's); real TFTP servers listen on 69. */
  port?: number;
  /** Default `octet`. `netascii` converts line ends both ways. */
  mode?: TransferMode;
  /** blksize to ask for (8–65464). Default 1468, which fits an Ethernet frame; 512 sends no option. */
  blockSize?: number;
  /** windowsize to ask for (RFC 7440). Default 1: lockstep, which every server speaks. */
  windowSize?: number;
  /** Ask for / announce the transfer size (tsize). Default true. */
  transferSize?: boolean;
  /** First retransmission interval, doubling on each retry. Default 1,000 ms. */
  timeoutMs?: number;
  /** Retransmissions in a row before giving up. Default 5. */
  retries?: number;
  /**
   * Microseconds to keep the event loop awake after each send for the server's answer, while
   * it answers that fast (core/busy-poll.ts). Default 50; 0 turns it off.
   */
  busyPollMicros?: number;
  /** Called as the transfer progresses: bytes so far and the total when known. */
  onProgress?: (bytes: number, total: number | undefined) => void;
  signal?: AbortSignal;
}

export interface TftpClientResult extends TransferResult {
  blockSize: number;
  windowSize: number;
  /** The size the server announced (get) or we announced (put), when options were agreed. */
  transferSize: number | undefined;
  /** False when the server ignored our options (an old server) and the RFC 1350 defaults applied. */
  optionsAccepted: boolean;
}

interface Settings {
  host: string;
  port: number;
  mode: TransferMode;
  blockSize: number;
  windowSize: number;
  transferSize: boolean;
  timing: TransferTiming;
  busyPollMicros: number;
  onProgress: ((bytes: number, total: number | undefined) => void) | undefined;
  signal: AbortSignal | undefined;
}

function settingsFrom(options: TftpClientOptions): Settings {
  const blockSize = options.blockSize ?? 1468;
  if (!Number.isInteger(blockSize) || blockSize < MIN_BLOCK_SIZE || blockSize > MAX_BLOCK_SIZE) {
    throw new WharfError('EUSAGE', `blksize must be a whole number from ${MIN_BLOCK_SIZE} to ${MAX_BLOCK_SIZE}, got ${blockSize}`);
  }
  const windowSize = options.windowSize ?? 1;
  if (!Number.isInteger(windowSize) || windowSize < 1 || windowSize > 65535) throw new WharfError('EUSAGE', `windowsize must be a whole number from 1 to 65535, got ${windowSize}`);
  const timeoutMs = options.timeoutMs ?? 1_000;
  return {
    host: options.host,
    port: options.port ?? 6969,
    mode: options.mode ?? 'octet',
    blockSize,
    windowSize,
    transferSize: options.transferSize ?? true,
    timing: { timeoutMs, maxTimeoutMs: Math.max(timeoutMs, Math.min(8 * timeoutMs, 10_000)), retries: options.retries ?? 5 },
    busyPollMicros: options.busyPollMicros ?? DEFAULT_BUSY_POLL_MICROS,
    onProgress: options.onProgress,
    signal: options.signal,
  };
}

interface Answer {
  socket: dgram.Socket;
  peer: TransferPeer;
  reply: Buffer;
}

/**
 * A TFTP client: `get` and `put` with option negotiation (blksize, tsize, windowsize), windows,
 * retransmission with back-off, and a fallback for servers that refuse options. Works with wharf,
 * atftpd, tftp-hpa and the TFTP servers in switches and boot ROMs.
 */
export class TftpClient {
  readonly #options: TftpClientOptions;
  /** Aborted by `close`: every transfer in progress listens to it. */
  readonly #closing = new AbortController();
  readonly #transfers = new Set<Promise<unknown>>();

  private constructor(options: TftpClientOptions) {
    this.#options = options;
  }

  /**
   * Check the options and resolve the server's name, so that a typo fails here and not after a
   * transfer's retries. TFTP has no connection: each `get` and `put` is one exchange of its own.
   */
  static async connect(options: TftpClientOptions): Promise<TftpClient> {
    settingsFrom(options);
    try {
      await lookup(options.host);
    } catch (error) {
      throw new WharfError('ENOHOST', `cannot resolve ${options.host}`, { cause: error });
    }
    return new TftpClient(options);
  }

  /** Abort the transfers in progress (each fails with its own error) and resolve once they have ended. */
  async close(): Promise<void> {
    this.#closing.abort();
    await Promise.allSettled(this.#transfers);
  }

  /** Download `remote` into the file `destination` (written whole or not at all) or a stream. */
  get(remote: string, destination: string | Writable, overrides: Partial<TftpClientOptions> = {}): Promise<TftpClientResult> {
    return this.#track((settings) => this.#get(remote, destination, settings), overrides);
  }

  /** Upload the file at `source` (or these bytes) as `remote`. */
  put(source: string | Uint8Array, remote: string, overrides: Partial<TftpClientOptions> = {}): Promise<TftpClientResult> {
    return this.#track((settings) => this.#put(source, remote, settings), overrides);
  }

  #track(transfer: (settings: Settings) => Promise<TftpClientResult>, overrides: Partial<TftpClientOptions>): Promise<TftpClientResult> {
    if (this.#closing.signal.aborted) return Promise.reject(new WharfError('ECLOSED', 'the TFTP client is closed'));
    const options = { ...this.#options, ...overrides };
    const signal = options.signal ? AbortSignal.any([options.signal, this.#closing.signal]) : this.#closing.signal;
    const running = transfer(settingsFrom({ ...options, signal }));
    this.#transfers.add(running);
    void running.catch(() => undefined).finally(() => this.#transfers.delete(running));
    return running;
  }

  async #get(remote: string, destination: string | Writable, settings: Settings): Promise<TftpClientResult> {
    const request: ClientOptionRequest = {
      blockSize: settings.blockSize === 512 ? undefined : settings.blockSize,
      windowSize: settings.windowSize === 1 ? undefined : settings.windowSize,
      transferSize: settings.transferSize && settings.mode === 'octet' ? 0 : undefined,
    };
    const { answer, sentOptions, parameters } = await this.#negotiate('RRQ', remote, settings, request);
    const { socket, peer, reply } = answer;
    sizeBuffers(socket, parameters);
    try {
      const first = parsePacket(reply);
      let sink: BlockSink;
      try {
        sink = typeof destination === 'string' ? await FileBlockSink.create({ path: destination, netascii: settings.mode === 'netascii', overwrite: true }) : new StreamBlockSink(destination, settings.mode === 'netascii');
      } catch (error) {
        socket.send(formatError(TftpErrorCode.NOT_DEFINED, 'the client cannot write the file'), peer.port, peer.address);
        throw new TftpTransferError(`cannot write ${String(destination)}: ${(error as Error).message}`, { cause: error });
      }
      const total = parameters.transferSize;
      const engine = new ReceiveTransfer({
        socket,
        peer,
        peerRole: 'server',
        timing: settings.timing,
        busyPollMicros: settings.busyPollMicros,
        sink,
        blockSize: parameters.blockSize,
        windowSize: parameters.windowSize,
        firstPacket: first.type === 'OACK' ? formatAck(0) : undefined,
        reackRepeatedOack: first.type === 'OACK',
        onProgress: settings.onProgress ? (bytes) => settings.onProgress!(bytes, total) : undefined,
        signal: settings.signal,
      });
      const result = await engine.start(first.type === 'DATA' ? reply : undefined);
      return { ...result, blockSize: parameters.blockSize, windowSize: parameters.windowSize, transferSize: total, optionsAccepted: first.type === 'OACK' || !sentOptions };
    } finally {
      await closeUdpSocket(socket);
    }
  }

  async #put(source: string | Uint8Array, remote: string, settings: Settings): Promise<TftpClientResult> {
    const netascii = settings.mode === 'netascii';
    let data: Uint8Array | undefined;
    let size: number | undefined;
    if (typeof source === 'string') {
      try {
        const info = await stat(source);
        if (!info.isFile()) throw new WharfError('ENOTFILE', `${source} is not a regular file`);
        size = netascii ? undefined : info.size;
      } catch (error) {
        if (error instanceof WharfError) throw error;
        throw new WharfError('EMISSING', `cannot read ${source}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
      }
    } else {
      data = netascii ? new NetasciiEncoder().push(source) : source;
      size = data.length;
    }
    const request: ClientOptionRequest = {
      blockSize: settings.blockSize === 512 ? undefined : settings.blockSize,
      windowSize: settings.windowSize === 1 ? undefined : settings.windowSize,
      transferSize: settings.transferSize && size !== undefined ? size : undefined,
    };
    const { answer, sentOptions, parameters } = await this.#negotiate('WRQ', remote, settings, request);
    const { socket, peer, reply } = answer;
    sizeBuffers(socket, parameters);
    let blocks: BlockSource | undefined;
    try {
      const first = parsePacket(reply);
      if (first.type === 'ACK' && first.block !== 0) {
        socket.send(formatError(TftpErrorCode.ILLEGAL_OPERATION, 'expected ACK 0'), peer.port, peer.address);
        throw new TftpTransferError(`the server acknowledged block ${first.block} before any data`, { tftpCode: TftpErrorCode.ILLEGAL_OPERATION });
      }
      if (data !== undefined) {
        blocks = new FileBlockSource(parameters.blockSize, { data });
      } else {
        const handle = await open(source as string, 'r');
        const info = await handle.stat();
        blocks = netascii ? new NetasciiBlockSource(parameters.blockSize, handle) : new FileBlockSource(parameters.blockSize, { handle, size: info.size });
      }
      const total = blocks.totalBytes;
      const engine = new SendTransfer({
        socket,
        peer,
        peerRole: 'server',
        timing: settings.timing,
        busyPollMicros: settings.busyPollMicros,
        source: blocks,
        windowSize: parameters.windowSize,
        onProgress: settings.onProgress ? (bytes) => settings.onProgress!(bytes, total) : undefined,
        signal: settings.signal,
      });
      const result = await engine.start();
      return { ...result, blockSize: parameters.blockSize, windowSize: parameters.windowSize, transferSize: parameters.transferSize, optionsAccepted: first.type === 'OACK' || !sentOptions };
    } finally {
      await blocks?.close();
      await closeUdpSocket(socket);
    }
  }

  /**
   * Send the request and settle the options. An ERROR 8 (options refused) is retried once
   * without options, for servers that refuse what they do not know.
   */
  async #negotiate(
    type: RequestType,
    remote: string,
    settings: Settings,
    request: ClientOptionRequest,
  ): Promise<{ answer: Answer; sentOptions: boolean; parameters: TransferParameters }> {
    let options = clientOptions(request);
    for (;;) {
      const answer = await this.#request(formatRequest(type, remote, settings.mode, options), settings);
      let packet;
      try {
        packet = parsePacket(answer.reply);
      } catch (error) {
        await closeUdpSocket(answer.socket);
        const text = error instanceof TftpPacketError ? error.message : String(error);
        throw new TftpTransferError(`the server answered with a malformed packet: ${text}`, { tftpCode: TftpErrorCode.ILLEGAL_OPERATION });
      }
      if (packet.type === 'ERROR') {
        await closeUdpSocket(answer.socket);
        if (packet.code === TftpErrorCode.OPTION_REFUSED && options.length > 0) {
          options = [];
          continue;
        }
        throw new TftpTransferError(`the server refused: ${describeRemoteError(packet.code, packet.message)}`, { tftpCode: packet.code, fromPeer: true });
      }
      if (packet.type === 'OACK') {
        const accepted = acceptOack(options.length > 0 ? request : {}, packet.options);
        if (!accepted.ok) {
          answer.socket.send(formatError(TftpErrorCode.OPTION_REFUSED, accepted.message), answer.peer.port, answer.peer.address);
          await closeUdpSocket(answer.socket);
          throw new TftpTransferError(`option negotiation failed: ${accepted.message}`, { tftpCode: TftpErrorCode.OPTION_REFUSED });
        }
        return { answer, sentOptions: options.length > 0, parameters: accepted.parameters };
      }
      const expected = type === 'RRQ' ? 'DATA' : 'ACK';
      if (packet.type !== expected) {
        answer.socket.send(formatError(TftpErrorCode.ILLEGAL_OPERATION, `expected ${expected} or OACK`), answer.peer.port, answer.peer.address);
        await closeUdpSocket(answer.socket);
        throw new TftpTransferError(`the server answered the ${type} with ${packet.type}`, { tftpCode: TftpErrorCode.ILLEGAL_OPERATION });
      }
      // The server ignored the options: RFC 1350 defaults.
      return { answer, sentOptions: options.length > 0, parameters: { ...DEFAULT_PARAMETERS } };
    }
  }

  /** Send a request until the server answers from its transfer port; resend with back-off. */
  async #request(packet: Buffer, settings: Settings): Promise<Answer> {
    let address: string;
    try {
      ({ address } = await lookup(settings.host));
    } catch (error) {
      throw new WharfError('ENOHOST', `cannot resolve ${settings.host}`, { cause: error });
    }
    const socket = createUdpSocket(address, { literalPeers: true });
    socket.on('error', () => {
      // ICMP errors and the like: the request times out with a clear message instead.
    });
    await bindUdpSocket(socket, 0);
    const { timeoutMs, maxTimeoutMs, retries } = settings.timing;
    const where = `${address.includes(':') ? `[${address}]` : address}:${settings.port}`;
    try {
      return await new Promise<Answer>((done, fail) => {
        let tries = 0;
        let timer: NodeJS.Timeout | undefined;
        let probe: dgram.Socket | undefined;
        const finish = (error: Error | undefined, answer?: Answer) => {
          clearTimeout(timer);
          probe?.close();
          probe = undefined;
          socket.off('message', onMessage);
          settings.signal?.removeEventListener('abort', onAbort);
          if (error) fail(error);
          else done(answer!);
        };
        const onMessage = (reply: Buffer, from: dgram.RemoteInfo) => {
          if (from.address !== address) return;
          finish(undefined, { socket, peer: { address: from.address, port: from.port }, reply });
        };
        const onAbort = () => finish(new WharfError('EABORTED', 'the transfer was cancelled'));
        // The request socket cannot be connected (the answer comes from another port), so it never
        // hears ICMP port unreachable. After the first silence, one empty datagram from a
        // connected socket asks the kernel: ECONNREFUSED means nothing listens, and waiting out
        // the retries (half a minute) would tell the user nothing more. A server ignores it.
        const probeOnce = () => {
          probe = createUdpSocket(address, { literalPeers: true });
          probe.on('error', (error: NodeJS.ErrnoException) => {
            if (error.code === 'ECONNREFUSED') finish(portUnreachable(address, settings.port, 'TFTP server'));
          });
          probe.on('message', () => undefined);
          probe.connect(settings.port, address, () => probe?.send(Buffer.alloc(0)));
        };
        const attempt = () => {
          socket.send(packet, settings.port, address);
          timer = setTimeout(() => {
            tries++;
            if (tries > retries) {
              finish(new WharfError('EDEADLINE', `no answer from tftp://${where} after ${retries + 1} tries (is a TFTP server running there?)`));
              return;
            }
            if (tries === 1) probeOnce();
            attempt();
          }, Math.min(maxTimeoutMs, timeoutMs * 2 ** tries));
        };
        socket.on('message', onMessage);
        if (settings.signal?.aborted) {
          onAbort();
          return;
        }
        settings.signal?.addEventListener('abort', onAbort, { once: true });
        attempt();
      });
    } catch (error) {
      await closeUdpSocket(socket);
      throw error;
    }
  }
}

/** A window larger than the kernel's default socket buffer would overflow it: ask for more. */
function sizeBuffers(socket: dgram.Socket, parameters: TransferParameters): void {
  const windowBytes = parameters.blockSize * parameters.windowSize;
  if (windowBytes <= 128 * 1024) return;
  const size = Math.min(4 * 1024 * 1024, windowBytes * 2);
  // The kernel's maximum wins; retransmission covers the rest.
  setUdpBufferSizes(socket, { receiveBytes: size, sendBytes: size });
}

/** One download with a fresh client: `tftpGet({ host }, 'pxelinux.0', './pxelinux.0')`. */
export async function tftpGet(options: TftpClientOptions, remote: string, destination: string | Writable): Promise<TftpClientResult> {
  const client = await TftpClient.connect(options);
  return client.get(remote, destination).finally(() => client.close());
}

/** One upload with a fresh client. */
export async function tftpPut(options: TftpClientOptions, source: string | Uint8Array, remote: string): Promise<TftpClientResult> {
  const client = await TftpClient.connect(options);
  return client.put(source, remote).finally(() => client.close());
}
