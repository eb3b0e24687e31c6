/**
 * The worker thread of the batching UDP transport (batched-udp-transport.ts): it owns the socket.
 * Started with Node's `--test-udp-no-try-send`, every send is queued, so the sends of one turn
 * leave 20 per `sendmmsg`. In: one array of operations per turn of the main thread. Out: the
 * datagrams received in one turn of this thread.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type dgram from 'node:dgram';
import { bindUdpSocket, createUdpSocket, setUdpBufferSizes } from './udp-socket.js';

/** What the main thread hands the worker: the socket's settings. */
export interface BatchedUdpWorkerData {
  host: string;
  port: number;
  /** SO_RCVBUF and SO_SNDBUF. */
  receiveBufferBytes: number;
  sendBufferBytes: number;
  /** Larger datagrams are dropped (and counted) where they arrive. */
  maxDatagramBytes: number;
  /** Datagrams waiting in the socket's send queue before more are dropped (and counted). */
  maxSendQueue: number;
}

/**
 * The operations of one turn, flat (one array, no object per operation: this is the hot path):
 *   'a', datagram, except   to every member whose id is not in `except`
 *   'o', id, datagram       to one member
 *   't', ip, port, datagram to an address
 *   'm', id, ip, port       add or move a member
 *   'd', id                 remove a member
 *   'stop'                  close the socket and end the thread
 */
export type BatchedUdpOps = Array<string | number | Uint8Array | readonly number[]>;

/** worker → main thread. `in.d` is flat too: bytes, ip, port for each datagram. */
export type BatchedUdpWorkerMessage =
  | { t: 'ready'; address: string; port: number }
  | { t: 'bind-error'; code: string | undefined; message: string }
  | { t: 'in'; d: Array<Uint8Array | string | number>; oversized: number; sendDropped: number };

class BatchedUdpWorker {
  readonly #port: NonNullable<typeof parentPort>;
  readonly #settings: BatchedUdpWorkerData;
  readonly #socket: dgram.Socket;
  readonly #members = new Map<number, [ip: string, port: number]>();
  #inbox: Array<Uint8Array | string | number> = [];
  #oversized = 0;
  #sendDropped = 0;
  #scheduled = false;

  constructor(port: NonNullable<typeof parentPort>, settings: BatchedUdpWorkerData) {
    this.#port = port;
    this.#settings = settings;
    this.#socket = createUdpSocket(settings.host, { literalPeers: true });
  }

  async start(): Promise<void> {
    const { host, port, receiveBufferBytes, sendBufferBytes } = this.#settings;
    try {
      await bindUdpSocket(this.#socket, port, host);
    } catch (error) {
      const { code, message } = error as NodeJS.ErrnoException;
      this.#post({ t: 'bind-error', code, message });
      return;
    }
    this.#socket.on('error', () => {
      this.#sendDropped++;
      this.#schedule();
    });
    setUdpBufferSizes(this.#socket, { receiveBytes: receiveBufferBytes, sendBytes: sendBufferBytes });
    this.#socket.on('message', (data, rinfo) => this.#received(data, rinfo));
    this.#port.on('message', (ops: BatchedUdpOps) => this.#run(ops));
    const info = this.#socket.address();
    this.#post({ t: 'ready', address: info.address, port: info.port });
  }

  #post(message: BatchedUdpWorkerMessage): void {
    this.#port.postMessage(message);
  }

  #received(data: Buffer, rinfo: dgram.RemoteInfo): void {
    if (data.length > this.#settings.maxDatagramBytes) this.#oversized++;
    // A view of a larger buffer would be copied whole to the main thread: copy just the bytes.
    else this.#inbox.push(data.byteLength === data.buffer.byteLength ? data : new Uint8Array(data), rinfo.address, rinfo.port);
    this.#schedule();
  }

  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(() => this.#flushInbox());
  }

  #flushInbox(): void {
    this.#scheduled = false;
    if (this.#inbox.length === 0 && this.#oversized === 0 && this.#sendDropped === 0) return;
    this.#post({ t: 'in', d: this.#inbox, oversized: this.#oversized, sendDropped: this.#sendDropped });
    this.#inbox = [];
    this.#oversized = 0;
    this.#sendDropped = 0;
  }

  #send(datagram: Uint8Array, port: number, ip: string): void {
    if (this.#socket.getSendQueueCount() >= this.#settings.maxSendQueue) {
      this.#sendDropped++;
      this.#schedule();
      return;
    }
    this.#socket.send(datagram, port, ip);
  }

  #toMembers(datagram: Uint8Array, except: readonly number[]): void {
    // The queue bound is checked once per fan-out, not per datagram (the hot loop).
    let room = this.#settings.maxSendQueue - this.#socket.getSendQueueCount();
    for (const [id, member] of this.#members) {
      if (except.length !== 0 && except.includes(id)) continue;
      if (room-- > 0) this.#socket.send(datagram, member[1], member[0]);
      else this.#sendDropped++;
    }
    if (room < 0) this.#schedule();
  }

  #run(ops: BatchedUdpOps): void {
    for (let i = 0; i < ops.length; ) {
      const op = ops[i];
      if (op === 'a') {
        this.#toMembers(ops[i + 1] as Uint8Array, ops[i + 2] as readonly number[]);
        i += 3;
      } else if (op === 'o') {
        const member = this.#members.get(ops[i + 1] as number);
        if (member) this.#send(ops[i + 2] as Uint8Array, member[1], member[0]);
        i += 3;
      } else if (op === 't') {
        this.#send(ops[i + 3] as Uint8Array, ops[i + 2] as number, ops[i + 1] as string);
        i += 4;
      } else if (op === 'm') {
        this.#members.set(ops[i + 1] as number, [ops[i + 2] as string, ops[i + 3] as number]);
        i += 4;
      } else if (op === 'd') {
        this.#members.delete(ops[i + 1] as number);
        i += 2;
      } else if (op === 'stop') {
        this.#socket.close(() => this.#port.close());
        return;
      } else {
        return; // nothing this version sends: the rest of the turn cannot be read
      }
    }
  }
}

if (parentPort !== null) void new BatchedUdpWorker(parentPort, workerData as BatchedUdpWorkerData).start();
