/**
 * A UDP socket that receives datagrams in batches and fans one datagram out to many members
 * (the chat's seed room is its user).
 *
 * Where the time goes (docs/chat.md, "Fan-out"): on loopback a datagram costs about as much in
 * the kernel as in Node, and most of the kernel part is the system call itself. Node sends each
 * datagram with its own `sendmsg` (libuv's `uv_udp_try_send`); Python's `sendto` does the same
 * with less work around it, so a plain Node fan-out is slower than the seed's. libuv can send
 * queued datagrams 20 to a call (`sendmmsg`), but Node only queues when the kernel pushes back,
 * which on loopback it never does. Node's `--test-udp-no-try-send` option makes every send
 * queue: the datagrams of one event-loop turn then leave in batches of 20, at about half the
 * CPU per datagram. The option is per thread, so the batching transport runs the socket in a
 * worker thread started with it; the room logic stays on the main thread and talks to the
 * worker with one message per turn each way. Where that option is refused (a Node without it),
 * the socket stays on the main thread and sends one datagram per call (`inline`).
 */
import type dgram from 'node:dgram';
import type { Worker } from 'node:worker_threads';
import type { BatchedUdpOps, BatchedUdpWorkerData, BatchedUdpWorkerMessage } from './batched-udp-worker.js';
import { untilDeadline } from './deadline.js';
import type { Logger } from './logger.js';
import { siblingModule, startModuleWorker } from './module-entry.js';
import type { ListeningAddress } from './service.js';
import { bindUdpSocket, closeUdpSocket, createUdpSocket, setUdpBufferSizes, udpBindError } from './udp-socket.js';

export interface IncomingDatagram {
  data: Buffer;
  ip: string;
  port: number;
}

/** The socket's settings (what the worker thread is handed, when there is one), and who hears what arrives. */
export interface UdpTransportOptions extends BatchedUdpWorkerData {
  logger: Logger;
  /** Datagrams in arrival order, a batch at a time. */
  onDatagrams(batch: IncomingDatagram[]): void;
}

export interface UdpTransportCounters {
  oversized: number;
  /** Sends dropped because the send queue was full, or that failed. */
  sendDropped: number;
}

export interface UdpTransport {
  readonly mode: 'worker' | 'inline';
  readonly addresses: ListeningAddress[];
  readonly counters: UdpTransportCounters;
  setMember(id: number, ip: string, port: number): void;
  deleteMember(id: number): void;
  /** One datagram to every member but those in `except`. */
  toMembers(datagram: Buffer, except: readonly number[]): void;
  toMember(id: number, datagram: Buffer): void;
  toAddress(ip: string, port: number, datagram: Buffer): void;
  stop(): Promise<void>;
}

export type UdpSendMode = 'auto' | 'worker' | 'inline';

export async function openUdpTransport(options: UdpTransportOptions, mode: UdpSendMode): Promise<UdpTransport> {
  if (mode !== 'inline') {
    try {
      return await WorkerUdpTransport.open(options);
    } catch (error) {
      if (mode === 'worker' || !(error instanceof BatchingUnavailable)) throw error;
      options.logger.info({ reason: error.message }, 'UDP sends are not batched on this Node (one system call per datagram)');
    }
  }
  return InlineUdpTransport.open(options);
}

class BatchingUnavailable extends Error {}

// ---------------------------------------------------------------------------------------------

/** The socket on the main thread: one `sendmsg` per datagram. */
class InlineUdpTransport implements UdpTransport {
  readonly mode = 'inline' as const;
  readonly counters: UdpTransportCounters = { oversized: 0, sendDropped: 0 };
  readonly #socket: dgram.Socket;
  readonly #members = new Map<number, { ip: string; port: number }>();
  readonly #maxSendQueue: number;
  #address: ListeningAddress | undefined;

  private constructor(socket: dgram.Socket, maxSendQueue: number) {
    this.#socket = socket;
    this.#maxSendQueue = maxSendQueue;
  }

  static async open(options: UdpTransportOptions): Promise<InlineUdpTransport> {
    const socket = createUdpSocket(options.host, { literalPeers: true });
    const transport = new InlineUdpTransport(socket, options.maxSendQueue);
    await bindUdpSocket(socket, options.port, options.host).catch((error: unknown) => {
      throw udpBindError(error, `${options.host}:${options.port}`);
    });
    const refused = setUdpBufferSizes(socket, { receiveBytes: options.receiveBufferBytes, sendBytes: options.sendBufferBytes });
    if (refused) options.logger.warn({ err: refused }, 'could not set UDP buffer sizes');
    const info = socket.address();
    transport.#address = { transport: 'udp', address: info.address, port: info.port };
    let batch: IncomingDatagram[] = [];
    let scheduled = false;
    socket.on('message', (data, rinfo) => {
      if (data.length > options.maxDatagramBytes) {
        transport.counters.oversized++;
        return;
      }
      batch.push({ data, ip: rinfo.address, port: rinfo.port });
      if (!scheduled) {
        scheduled = true;
        setImmediate(() => {
          scheduled = false;
          const ready = batch;
          batch = [];
          options.onDatagrams(ready);
        });
      }
    });
    // ICMP port-unreachable from a vanished member and full buffers land here: counted, never fatal.
    socket.on('error', () => transport.counters.sendDropped++);
    return transport;
  }

  get addresses(): ListeningAddress[] {
    return this.#address ? [this.#address] : [];
  }

  setMember(id: number, ip: string, port: number): void {
    this.#members.set(id, { ip, port });
  }

  deleteMember(id: number): void {
    this.#members.delete(id);
  }

  #send(datagram: Buffer, port: number, ip: string): void {
    if (this.#socket.getSendQueueCount() >= this.#maxSendQueue) {
      this.counters.sendDropped++;
      return;
    }
    this.#socket.send(datagram, port, ip);
  }

  toMembers(datagram: Buffer, except: readonly number[]): void {
    for (const [id, member] of this.#members) if (!except.includes(id)) this.#send(datagram, member.port, member.ip);
  }

  toMember(id: number, datagram: Buffer): void {
    const member = this.#members.get(id);
    if (member) this.#send(datagram, member.port, member.ip);
  }

  toAddress(ip: string, port: number, datagram: Buffer): void {
    this.#send(datagram, port, ip);
  }

  async stop(): Promise<void> {
    await closeUdpSocket(this.#socket);
  }
}

// ---------------------------------------------------------------------------------------------

/**
 * The bytes of `datagram` in a buffer of their own. Posting a view (a small Buffer is a slice of
 * an 8 KiB pool) to a worker copies its whole underlying buffer.
 */
function ownBytes(datagram: Buffer): Uint8Array {
  return datagram.byteLength === datagram.buffer.byteLength ? datagram : new Uint8Array(datagram);
}

const WORKER_ENTRY = siblingModule(import.meta.url, 'batched-udp-worker');

/** The socket in a worker thread whose sends are queued, so libuv sends them 20 per `sendmmsg`. */
class WorkerUdpTransport implements UdpTransport {
  readonly mode = 'worker' as const;
  readonly counters: UdpTransportCounters = { oversized: 0, sendDropped: 0 };
  readonly #worker: Worker;
  readonly #address: ListeningAddress;
  readonly #logger: Logger;
  #ops: BatchedUdpOps = [];
  #flushScheduled = false;
  #exited: Promise<void>;
  #stopped = false;

  private constructor(worker: Worker, address: ListeningAddress, logger: Logger, exited: Promise<void>) {
    this.#worker = worker;
    this.#address = address;
    this.#logger = logger;
    this.#exited = exited;
  }

  static async open(options: UdpTransportOptions): Promise<WorkerUdpTransport> {
    let worker: Worker;
    try {
      // The settings only: functions cannot cross to a thread.
      const { logger: _logger, onDatagrams: _onDatagrams, ...settings } = options;
      const workerData: BatchedUdpWorkerData = settings;
      worker = startModuleWorker(WORKER_ENTRY, { execArgv: ['--test-udp-no-try-send'], workerData });
    } catch (error) {
      throw new BatchingUnavailable(error instanceof Error ? error.message : String(error));
    }
    const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
    const ready = await new Promise<{ address: string; port: number }>((resolve, reject) => {
      const onMessage = (message: BatchedUdpWorkerMessage) => {
        if (message.t === 'ready') {
          cleanup();
          resolve({ address: message.address, port: message.port });
        } else if (message.t === 'bind-error') {
          cleanup();
          void worker.terminate();
          reject(udpBindError(message, `${options.host}:${options.port}`));
        }
      };
      const onError = (error: Error) => {
        cleanup();
        reject(new BatchingUnavailable(error.message));
      };
      const onExit = () => {
        cleanup();
        reject(new BatchingUnavailable('the UDP worker exited before it was ready'));
      };
      const cleanup = () => {
        worker.off('message', onMessage);
        worker.off('error', onError);
        worker.off('exit', onExit);
      };
      worker.on('message', onMessage);
      worker.on('error', onError);
      worker.on('exit', onExit);
    });
    const transport = new WorkerUdpTransport(worker, { transport: 'udp', address: ready.address, port: ready.port }, options.logger, exited);
    worker.on('message', (message: BatchedUdpWorkerMessage) => {
      if (message.t !== 'in') return;
      transport.counters.oversized += message.oversized;
      transport.counters.sendDropped += message.sendDropped;
      const raw = message.d;
      if (raw.length === 0) return;
      const batch: IncomingDatagram[] = [];
      for (let i = 0; i < raw.length; i += 3) {
        const bytes = raw[i] as Uint8Array;
        batch.push({ data: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), ip: raw[i + 1] as string, port: raw[i + 2] as number });
      }
      options.onDatagrams(batch);
    });
    worker.on('error', (error) => options.logger.error({ err: error }, 'UDP worker failed'));
    // The worker keeps the process alive, as a listening socket on the main thread would.
    return transport;
  }

  get addresses(): ListeningAddress[] {
    return [this.#address];
  }

  #push(...op: BatchedUdpOps): void {
    if (this.#stopped) return;
    for (const part of op) this.#ops.push(part);
    if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      setImmediate(() => this.#flush());
    }
  }

  #flush(): void {
    this.#flushScheduled = false;
    if (this.#ops.length === 0) return;
    const ops = this.#ops;
    this.#ops = [];
    this.#worker.postMessage(ops);
  }

  setMember(id: number, ip: string, port: number): void {
    this.#push('m', id, ip, port);
  }

  deleteMember(id: number): void {
    this.#push('d', id);
  }

  toMembers(datagram: Buffer, except: readonly number[]): void {
    this.#push('a', ownBytes(datagram), except);
  }

  toMember(id: number, datagram: Buffer): void {
    this.#push('o', id, ownBytes(datagram));
  }

  toAddress(ip: string, port: number, datagram: Buffer): void {
    this.#push('t', ip, port, ownBytes(datagram));
  }

  async stop(): Promise<void> {
    if (this.#stopped) return this.#exited;
    this.#flush();
    this.#stopped = true;
    const stop: BatchedUdpOps = ['stop'];
    this.#worker.postMessage(stop);
    if (!(await untilDeadline(this.#exited, 2_000)).settled) {
      this.#logger.debug('UDP worker did not stop in time; terminating it');
      void this.#worker.terminate();
      await this.#exited;
    }
  }
}
