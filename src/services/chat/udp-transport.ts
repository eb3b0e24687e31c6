/**
 * The seed room's UDP socket: receive datagrams, and fan one datagram out to many members.
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
import dgram from 'node:dgram';
import net from 'node:net';
import { Worker } from 'node:worker_threads';
import { WharfError, isErrnoException } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import type { ListeningAddress } from '../../core/service.js';

export interface IncomingDatagram {
  data: Buffer;
  ip: string;
  port: number;
}

export interface UdpTransportOptions {
  host: string;
  port: number;
  receiveBufferBytes: number;
  sendBufferBytes: number;
  /** Larger datagrams are dropped (and counted) where they arrive. */
  maxDatagramBytes: number;
  /** Datagrams waiting in the socket's send queue before more are dropped (and counted). */
  maxSendQueue: number;
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
      options.logger.info({ reason: error.message }, 'chat: UDP sends are not batched on this Node (one system call per datagram)');
    }
  }
  return InlineUdpTransport.open(options);
}

class BatchingUnavailable extends Error {}

function bindError(code: string | undefined, message: string, where: string): WharfError {
  if (code === 'EADDRINUSE') return new WharfError('EPORTINUSE', `udp ${where} is already in use (is another server running?)`);
  if (code === 'EACCES') return new WharfError('EDENIED', `no permission to bind udp ${where} (ports below 1024 need root)`);
  if (code === 'EADDRNOTAVAIL') return new WharfError('ENOTLOCAL', `udp ${where}: that address is not on this machine`);
  return new WharfError('EBIND', `cannot bind udp ${where}: ${message}`);
}

/** A lookup that answers at once: every address sent to is an IP literal from `rinfo`. */
function literalLookup(address: string, family: unknown, callback: (error: Error | null, address: string, family: number) => void): void {
  callback(null, address, net.isIPv6(address) ? 6 : 4);
}

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
    const socket = dgram.createSocket({ type: net.isIPv6(options.host) ? 'udp6' : 'udp4', lookup: literalLookup as never });
    const transport = new InlineUdpTransport(socket, options.maxSendQueue);
    await new Promise<void>((resolve, reject) => {
      const onError = (error: Error) => reject(bindError(isErrnoException(error) ? error.code : undefined, error.message, `${options.host}:${options.port}`));
      socket.once('error', onError);
      socket.bind({ address: options.host, port: options.port }, () => {
        socket.off('error', onError);
        resolve();
      });
    });
    try {
      socket.setRecvBufferSize(options.receiveBufferBytes);
      socket.setSendBufferSize(options.sendBufferBytes);
    } catch (error) {
      options.logger.warn({ err: error }, 'could not set UDP buffer sizes');
    }
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
    await new Promise<void>((resolve) => this.#socket.close(() => resolve()));
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

/**
 * The worker's code, plain JavaScript so that it runs the same from the sources (tests) and from
 * dist/. Messages in: one array of operations per turn of the main thread. Messages out: the
 * datagrams of one turn of the worker.
 */
const WORKER_SOURCE = String.raw`
const { parentPort, workerData } = require('node:worker_threads');
const dgram = require('node:dgram');
const net = require('node:net');
const { host, port, receiveBufferBytes, sendBufferBytes, maxDatagramBytes, maxSendQueue } = workerData;
const lookup = (address, family, callback) => callback(null, address, net.isIPv6(address) ? 6 : 4);
const socket = dgram.createSocket({ type: net.isIPv6(host) ? 'udp6' : 'udp4', lookup });
const members = new Map();
let inbox = [];
let oversized = 0;
let sendDropped = 0;
let scheduled = false;
const flushInbox = () => {
  scheduled = false;
  if (inbox.length === 0 && oversized === 0 && sendDropped === 0) return;
  parentPort.postMessage({ t: 'in', d: inbox, oversized, sendDropped });
  inbox = [];
  oversized = 0;
  sendDropped = 0;
};
const schedule = () => {
  if (!scheduled) {
    scheduled = true;
    setImmediate(flushInbox);
  }
};
const send = (datagram, toPort, toIp) => {
  if (socket.getSendQueueCount() >= maxSendQueue) {
    sendDropped++;
    schedule();
    return;
  }
  socket.send(datagram, toPort, toIp);
};
socket.once('error', (error) => parentPort.postMessage({ t: 'bind-error', code: error.code, message: error.message }));
socket.bind({ address: host, port }, () => {
  socket.removeAllListeners('error');
  socket.on('error', () => {
    sendDropped++;
    schedule();
  });
  try {
    socket.setRecvBufferSize(receiveBufferBytes);
    socket.setSendBufferSize(sendBufferBytes);
  } catch {}
  socket.on('message', (data, rinfo) => {
    // A view of a larger buffer would be copied whole to the main thread: copy just the bytes.
    if (data.length > maxDatagramBytes) oversized++;
    else inbox.push(data.byteLength === data.buffer.byteLength ? data : new Uint8Array(data), rinfo.address, rinfo.port);
    schedule();
  });
  const info = socket.address();
  parentPort.postMessage({ t: 'ready', address: info.address, port: info.port });
});
parentPort.on('message', (ops) => {
  for (let i = 0; i < ops.length; ) {
    const op = ops[i];
    if (op === 'a') {
      const datagram = ops[i + 1];
      const except = ops[i + 2];
      // The queue bound is checked once per fan-out, not per datagram (the hot loop).
      let room = maxSendQueue - socket.getSendQueueCount();
      for (const [id, member] of members) {
        if (except.length !== 0 && except.includes(id)) continue;
        if (room-- > 0) socket.send(datagram, member[1], member[0]);
        else sendDropped++;
      }
      if (room < 0) schedule();
      i += 3;
    } else if (op === 'o') {
      const member = members.get(ops[i + 1]);
      if (member) send(ops[i + 2], member[1], member[0]);
      i += 3;
    } else if (op === 't') {
      send(ops[i + 3], ops[i + 2], ops[i + 1]);
      i += 4;
    } else if (op === 'm') {
      members.set(ops[i + 1], [ops[i + 2], ops[i + 3]]);
      i += 4;
    } else if (op === 'd') {
      members.delete(ops[i + 1]);
      i += 2;
    } else if (op === 'stop') {
      socket.close(() => parentPort.close());
      return;
    } else {
      return;
    }
  }
});
`;

/** The socket in a worker thread whose sends are queued, so libuv sends them 20 per `sendmmsg`. */
class WorkerUdpTransport implements UdpTransport {
  readonly mode = 'worker' as const;
  readonly counters: UdpTransportCounters = { oversized: 0, sendDropped: 0 };
  readonly #worker: Worker;
  readonly #address: ListeningAddress;
  readonly #logger: Logger;
  #ops: unknown[] = [];
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
      worker = new Worker(WORKER_SOURCE, {
        eval: true,
        execArgv: ['--test-udp-no-try-send'],
        workerData: {
          host: options.host,
          port: options.port,
          receiveBufferBytes: options.receiveBufferBytes,
          sendBufferBytes: options.sendBufferBytes,
          maxDatagramBytes: options.maxDatagramBytes,
          maxSendQueue: options.maxSendQueue,
        },
      });
    } catch (error) {
      throw new BatchingUnavailable(error instanceof Error ? error.message : String(error));
    }
    const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
    const ready = await new Promise<{ address: string; port: number }>((resolve, reject) => {
      const onMessage = (message: { t: string; address?: string; port?: number; code?: string; message?: string }) => {
        if (message.t === 'ready') {
          cleanup();
          resolve({ address: message.address!, port: message.port! });
        } else if (message.t === 'bind-error') {
          cleanup();
          void worker.terminate();
          reject(bindError(message.code, message.message ?? 'bind failed', `${options.host}:${options.port}`));
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
    worker.on('message', (message: { t: string; d?: unknown[]; oversized?: number; sendDropped?: number }) => {
      if (message.t !== 'in') return;
      transport.counters.oversized += message.oversized ?? 0;
      transport.counters.sendDropped += message.sendDropped ?? 0;
      const raw = message.d ?? [];
      if (raw.length === 0) return;
      const batch: IncomingDatagram[] = [];
      for (let i = 0; i < raw.length; i += 3) {
        const bytes = raw[i] as Uint8Array;
        batch.push({ data: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), ip: raw[i + 1] as string, port: raw[i + 2] as number });
      }
      options.onDatagrams(batch);
    });
    worker.on('error', (error) => options.logger.error({ err: error }, 'chat UDP worker failed'));
    // The worker keeps the process alive, as a listening socket on the main thread would.
    return transport;
  }

  get addresses(): ListeningAddress[] {
    return [this.#address];
  }

  #push(...op: unknown[]): void {
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
    this.#worker.postMessage(['stop']);
    const timer = setTimeout(() => {
      this.#logger.debug('chat UDP worker did not stop in time; terminating it');
      void this.#worker.terminate();
    }, 2_000);
    await this.#exited;
    clearTimeout(timer);
  }
}
