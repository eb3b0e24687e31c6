/**
 * The two transfer engines, shared by the server and the client: `SendTransfer` puts a file on
 * the wire (a server's RRQ, a client's WRQ) and `ReceiveTransfer` takes one off it (a server's
 * WRQ, a client's RRQ). They run the pure state machines of protocol.ts on one UDP socket
 * talking to one peer (address and port: the peer's transfer ID).
 *
 * Datagrams from any other address or port get ERROR 5 and change nothing. An ERROR from the
 * peer ends the transfer without an answer. Timeouts back off and are bounded.
 */
import type dgram from 'node:dgram';
import { AnswerSpin } from '../../core/busy-poll.js';
import { WharfError, type WharfErrorCode } from '../../core/errors.js';
import { SINK_HIGH_WATER_BYTES, packetBytes, type BlockSink, type BlockSource, type DataPacket } from './files.js';
import { TftpRefusal } from './paths.js';
import {
  Opcode,
  ReceiveWindow,
  SendWindow,
  TftpErrorCode,
  TftpPacketError,
  describeErrorCode,
  formatAck,
  formatError,
  parsePacket,
  wireBlock,
} from './protocol.js';

/** An ERROR packet in words: `file not found`, or `access violation: ".." is not allowed`. */
export function describeRemoteError(code: number, message: string): string {
  const meaning = describeErrorCode(code);
  if (message === '') return meaning;
  if (code === TftpErrorCode.NOT_DEFINED || message.toLowerCase().includes(meaning)) return message;
  return `${meaning}: ${message}`;
}

/** A failed transfer: `tftpCode` is the TFTP error code involved, `fromPeer` says who raised it. */
export class TftpTransferError extends WharfError {
  readonly tftpCode: number | undefined;
  readonly fromPeer: boolean;
  constructor(message: string, options: { tftpCode?: number; fromPeer?: boolean; code?: WharfErrorCode; cause?: unknown } = {}) {
    super(options.code ?? 'ETFTP', message, { cause: options.cause });
    this.name = 'TftpTransferError';
    this.tftpCode = options.tftpCode;
    this.fromPeer = options.fromPeer ?? false;
  }
}

export interface TransferPeer {
  address: string;
  port: number;
}

export interface TransferTiming {
  /** First retransmission interval. */
  timeoutMs: number;
  /** Longest interval the back-off reaches. */
  maxTimeoutMs: number;
  /** Timeouts in a row before the transfer is dropped. */
  retries: number;
}

export interface TransferResult {
  /** File bytes moved (after netascii conversion on the receiving side: bytes on the wire). */
  bytes: number;
  blocks: number;
  /** Packets sent again after a timeout or a partial ACK. */
  retransmits: number;
  durationMs: number;
}

interface EngineOptions {
  socket: dgram.Socket;
  /**
   * `socket` is connect()ed to the peer. Sends then skip the per-packet address handling in
   * Node and the route lookup in the kernel, which is most of what lockstep speed is made of.
   */
  connected?: boolean;
  /**
   * An unconnected socket bound to the same port (SO_REUSEADDR): the kernel hands it every
   * datagram that is not from the peer, and the ERROR 5 answers go out from it.
   */
  straySocket?: dgram.Socket;
  peer: TransferPeer;
  /** What the peer is, for error messages ("the server stopped the transfer"). Default "peer". */
  peerRole?: 'server' | 'client';
  timing: TransferTiming;
  /**
   * Until the peer's first datagram, send the first packet at most this many times (timer
   * retransmissions included), then drop the transfer without a word. A server sets it: a
   * request's source address may be forged, and the transfer's packets would all go to the
   * victim. Default: no such bound (the peer has already answered when a client's engine starts).
   */
  maxSendsUnanswered?: number;
  /** Datagrams from another address or port: may we answer this one with ERROR 5? */
  allowStrayReply?: (address: string) => boolean;
  /** Progress in bytes; called as acknowledgements (or data) arrive. */
  onProgress?: (bytes: number) => void;
  /**
   * After each send, keep the event loop awake this many microseconds for the peer's answer,
   * while the peer answers that fast (core/busy-poll.ts). 0: never. Default 0.
   */
  busyPollMicros?: number;
  signal?: AbortSignal;
}

/** The part both engines share: the socket, the peer check, the timer, the end. */
abstract class Engine {
  protected readonly socket: dgram.Socket;
  readonly #connected: boolean;
  readonly #straySocket: dgram.Socket | undefined;
  protected readonly peerAddress: string;
  protected readonly peerPort: number;
  protected readonly peerRole: string;
  protected readonly timing: TransferTiming;
  readonly #maxSendsUnanswered: number;
  /** Has anything come from the peer's address and port yet? Until then it has shown nothing. */
  protected peerAnswered = false;
  protected readonly onProgress: ((bytes: number) => void) | undefined;
  readonly #allowStrayReply: ((address: string) => boolean) | undefined;
  readonly #signal: AbortSignal | undefined;
  readonly #spin: AnswerSpin;
  readonly #listener = (message: Buffer, from: dgram.RemoteInfo) => this.#onDatagram(message, from);
  /**
   * A connected socket hears the ICMP "port unreachable" of a peer that has closed its socket
   * (a client that gave up, or a stale duplicate request): end at once instead of retrying.
   */
  readonly #errorListener = (error: Error) => {
    if ((error as NodeJS.ErrnoException).code === 'ECONNREFUSED' && !this.finished) {
      this.fail(new TftpTransferError(`the ${this.peerRole} is gone (port unreachable)`, { code: 'ENOLISTENER' }), undefined);
    }
  };
  readonly #abortListener = () => this.abort('the transfer was cancelled');
  #timer: NodeJS.Timeout | undefined;
  #timerDelay = 0;
  #resolve!: (result: TransferResult) => void;
  #reject!: (error: Error) => void;
  protected finished = false;
  protected readonly startedAt = performance.now();
  protected retransmits = 0;
  readonly done: Promise<TransferResult>;

  constructor(options: EngineOptions) {
    this.socket = options.socket;
    this.#connected = options.connected ?? false;
    this.#straySocket = options.straySocket;
    this.peerAddress = options.peer.address;
    this.peerPort = options.peer.port;
    this.peerRole = options.peerRole ?? 'peer';
    this.timing = options.timing;
    this.#maxSendsUnanswered = options.maxSendsUnanswered ?? Infinity;
    this.onProgress = options.onProgress;
    this.#allowStrayReply = options.allowStrayReply;
    this.#signal = options.signal;
    this.#spin = new AnswerSpin(options.busyPollMicros ?? 0);
    this.done = new Promise((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    // Callers may only look at `done` later; never let a failure count as unhandled meanwhile.
    this.done.catch(() => {});
  }

  /** Start listening; subclasses then send their first packet. */
  protected attach(): void {
    this.socket.on('message', this.#listener);
    if (this.#connected) this.socket.on('error', this.#errorListener);
    this.#straySocket?.on('message', this.#listener);
    if (this.#signal) {
      if (this.#signal.aborted) queueMicrotask(this.#abortListener);
      else this.#signal.addEventListener('abort', this.#abortListener, { once: true });
    }
  }

  #onDatagram(message: Buffer, from: dgram.RemoteInfo): void {
    if (this.finished) return;
    if (from.port !== this.peerPort || from.address !== this.peerAddress) {
      // Another transfer ID: tell it so (unless it is itself an error), and carry on.
      if (message.length >= 2 && !(message[0] === 0 && message[1] === Opcode.ERROR) && (this.#allowStrayReply?.(from.address) ?? true)) {
        this.sendTo(formatError(TftpErrorCode.UNKNOWN_TID, 'unknown transfer ID'), from.port, from.address);
      }
      return;
    }
    this.#spin.answered();
    this.peerAnswered = true;
    try {
      this.onPeerDatagram(message);
    } catch (error) {
      if (error instanceof TftpPacketError) {
        this.fail(new TftpTransferError(`the ${this.peerRole} sent a malformed packet: ${error.message}`, { tftpCode: TftpErrorCode.ILLEGAL_OPERATION }), TftpErrorCode.ILLEGAL_OPERATION, error.message);
      } else {
        this.fail(error instanceof Error ? error : new Error(String(error)), TftpErrorCode.NOT_DEFINED, 'internal error');
      }
    }
  }

  /** One datagram from the peer. Fast paths look at the bytes; the rest goes through parsePacket. */
  protected abstract onPeerDatagram(message: Buffer): void;
  protected abstract onTimeout(): void;
  /** The peer repeated the start of the transfer. Never a reason to resend data (no Sorcerer's Apprentice). */
  protected onRepeatedStart(_type: 'RRQ' | 'WRQ' | 'OACK'): void {}
  /** Release what the engine holds (blocks, sinks). Called once, on any end. */
  protected abstract cleanup(success: boolean): Promise<void>;

  /**
   * Anything but the fast-path packet. An ERROR ends the transfer. A request (RRQ/WRQ) or an OACK
   * from the peer is an echo of the start of the transfer (a resent request, a duplicated OACK):
   * `onRepeatedStart` decides, by default nothing happens. Anything else ends with ERROR 4.
   */
  protected unexpected(message: Buffer): void {
    const packet = parsePacket(message);
    if (packet.type === 'RRQ' || packet.type === 'WRQ' || packet.type === 'OACK') {
      this.onRepeatedStart(packet.type);
      return;
    }
    if (packet.type === 'ERROR') {
      this.fail(
        new TftpTransferError(`the ${this.peerRole} stopped the transfer: ${describeRemoteError(packet.code, packet.message)}`, { tftpCode: packet.code, fromPeer: true }),
        undefined,
      );
      return;
    }
    this.fail(new TftpTransferError(`the ${this.peerRole} sent an unexpected ${packet.type} packet`, { tftpCode: TftpErrorCode.ILLEGAL_OPERATION }), TftpErrorCode.ILLEGAL_OPERATION, `unexpected ${packet.type} packet`);
  }

  protected send(packet: DataPacket): void {
    try {
      if (this.#connected) this.socket.send(packet);
      else this.socket.send(packet, this.peerPort, this.peerAddress);
    } catch {
      // The socket is closing; the transfer is ending anyway.
      return;
    }
    this.#spin.sent();
  }

  /** A datagram to someone other than the peer (an ERROR 5). */
  protected sendTo(packet: Buffer, port: number, address: string): void {
    try {
      (this.#straySocket ?? this.socket).send(packet, port, address);
    } catch {
      // Closing, or a connected socket without a stray socket: nothing to answer with.
    }
  }

  /** (Re)arm the retransmission timer. The common case (same delay) only refreshes it. */
  protected armTimer(delayMs: number): void {
    if (this.finished) return;
    if (this.#timer && this.#timerDelay === delayMs) {
      this.#timer.refresh();
      return;
    }
    if (this.#timer) clearTimeout(this.#timer);
    this.#timerDelay = delayMs;
    this.#timer = setTimeout(() => {
      if (!this.finished) this.onTimeout();
    }, delayMs);
  }

  protected disarmTimer(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** Stop now: tell the peer why (ERROR 0 unless a code is given) and fail. */
  abort(reason: string, tftpCode: number = TftpErrorCode.NOT_DEFINED): void {
    this.fail(new TftpTransferError(reason, { tftpCode, code: 'EABORTED' }), tftpCode, reason);
  }

  /**
   * Send a packet and resolve once it has left: the last packet of a transfer must not be lost
   * to the socket closing first (an unconnected dgram socket sends on the next tick).
   */
  protected sendFinal(packet: Buffer): Promise<void> {
    return new Promise((resolve) => {
      try {
        if (this.#connected) this.socket.send(packet, () => resolve());
        else this.socket.send(packet, this.peerPort, this.peerAddress, () => resolve());
      } catch {
        resolve();
      }
    });
  }

  /** End in failure; `tellPeer` is the ERROR code to send, or undefined to send nothing. */
  protected fail(error: Error, tellPeer: number | undefined, message?: string): void {
    if (this.finished) return;
    this.#end();
    // Clean up first (an upload's temporary file goes), then tell the peer: once it has our
    // ERROR, what it finds on the server is final.
    const packet = tellPeer !== undefined ? formatError(tellPeer, message ?? error.message) : undefined;
    void this.cleanup(false)
      .catch(() => {})
      .then(() => (packet ? this.sendFinal(packet) : undefined))
      .finally(() => this.#reject(error));
  }

  protected succeed(result: Omit<TransferResult, 'durationMs' | 'retransmits'>): void {
    if (this.finished) return;
    this.#end();
    const full = { ...result, retransmits: this.retransmits, durationMs: performance.now() - this.startedAt };
    void this.cleanup(true).then(
      () => this.#resolve(full),
      (error: unknown) => this.#reject(error instanceof Error ? error : new Error(String(error))),
    );
  }

  #end(): void {
    this.finished = true;
    this.disarmTimer();
    this.socket.off('message', this.#listener);
    this.socket.off('error', this.#errorListener);
    this.#straySocket?.off('message', this.#listener);
    this.#signal?.removeEventListener('abort', this.#abortListener);
  }

  /** A timer fired before the peer ever answered: is that the end (`sendsSoFar` first packets sent)? */
  protected gaveUpUnanswered(sendsSoFar: number): boolean {
    if (this.peerAnswered || sendsSoFar < this.#maxSendsUnanswered) return false;
    // Not even an ERROR: the address never showed it wants anything from us.
    this.fail(new TftpTransferError(`no answer to the first ${sendsSoFar} packets; the transfer was dropped`, { code: 'EDEADLINE' }), undefined);
    return true;
  }

  protected timedOut(): void {
    this.fail(new TftpTransferError(`no answer after ${this.timing.retries} retries; the transfer was dropped`, { code: 'EDEADLINE' }), TftpErrorCode.NOT_DEFINED, 'transfer timed out');
  }
}

export interface SendTransferOptions extends EngineOptions {
  source: BlockSource;
  windowSize: number;
  /** Block 0: the OACK to send first and have acknowledged (a server's RRQ with options). */
  oack?: Buffer;
}

/** Puts a file on the wire: windows of DATA, each acknowledged before the next. */
export class SendTransfer extends Engine {
  readonly #source: BlockSource;
  readonly #window: SendWindow;
  readonly #oack: Buffer | undefined;
  /** Next block to put on the wire, and the last one to send in this burst. */
  #next = 1;
  #burstEnd = 0;
  #loading = false;
  /** Bytes in the last block, once it has been sent (the exact total of a netascii transfer). */
  #lastBlockBytes: number | undefined;

  constructor(options: SendTransferOptions) {
    super(options);
    this.#source = options.source;
    this.#source.canRecycle = () => {
      try {
        return this.socket.getSendQueueCount() === 0;
      } catch {
        return false; // the socket is closed: its queue is unknown
      }
    };
    this.#oack = options.oack;
    const { timeoutMs, maxTimeoutMs, retries } = options.timing;
    this.#window = new SendWindow(options.windowSize, retries, timeoutMs, maxTimeoutMs, options.oack !== undefined);
    this.#window.last = this.#source.last;
  }

  /** Send the OACK or the first window; `done` settles at the end. */
  start(): Promise<TransferResult> {
    this.attach();
    const { from, to } = this.#window.start();
    this.#next = from;
    this.#burstEnd = to;
    this.#pump();
    this.armTimer(this.timing.timeoutMs);
    return this.done;
  }

  protected onPeerDatagram(message: Buffer): void {
    if (message.length >= 4 && message[0] === 0 && message[1] === Opcode.ACK) {
      this.#onAck((message[2]! << 8) | message[3]!);
      return;
    }
    this.unexpected(message);
  }

  #onAck(block16: number): void {
    const decision = this.#window.onAck(block16);
    switch (decision.kind) {
      case 'send': {
        const resent = decision.from <= this.#window.sent ? Math.min(this.#window.sent, decision.to) - decision.from + 1 : 0;
        this.#next = decision.from;
        this.#burstEnd = decision.to;
        // Lockstep speed is the time from an ACK to the next DATA: send first, account after.
        this.#pump();
        this.retransmits += resent;
        this.armTimer(this.timing.timeoutMs);
        this.#source.release(decision.from);
        this.onProgress?.(this.#bytesAcked());
        return;
      }
      case 'complete':
        this.onProgress?.(this.#bytesAcked());
        this.succeed({ bytes: this.#bytesAcked(), blocks: this.#window.acked });
        return;
      default:
        // stale or duplicate: nothing, by design.
        return;
    }
  }

  #bytesAcked(): number {
    const acked = Math.max(0, this.#window.acked);
    const { blockSize, totalBytes, last } = this.#source;
    if (totalBytes !== undefined) return Math.min(totalBytes, acked * blockSize);
    if (last !== undefined && acked >= last && this.#lastBlockBytes !== undefined) return (last - 1) * blockSize + this.#lastBlockBytes;
    return acked * blockSize;
  }

  /** Send blocks #next..#burstEnd that are in memory; load the first missing one and come back. */
  #pump(): void {
    const source = this.#source;
    const window = this.#window;
    while (!this.finished) {
      const last = source.last;
      if (last !== undefined) window.last = last;
      const end = last === undefined ? this.#burstEnd : Math.min(this.#burstEnd, last);
      const n = this.#next;
      if (n > end) return;
      if (n === 0) {
        this.send(this.#oack!);
        window.markSent(0);
        this.#next = 1;
        return;
      }
      const packet = source.peek(n);
      if (packet === undefined) {
        if (this.#loading) return;
        this.#loading = true;
        source.load(n).then(
          () => {
            this.#loading = false;
            this.#pump();
          },
          (error: unknown) => {
            this.#loading = false;
            const text = error instanceof Error ? error.message : String(error);
            this.fail(new TftpTransferError(`cannot read the file: ${text}`, { cause: error }), TftpErrorCode.NOT_DEFINED, 'cannot read the file');
          },
        );
        return;
      }
      this.send(packet);
      if (n === last) this.#lastBlockBytes = packetBytes(packet) - 4;
      window.markSent(n);
      this.#next = n + 1;
    }
  }

  protected onTimeout(): void {
    if (this.gaveUpUnanswered(this.retransmits + 1)) return;
    const decision = this.#window.onTimeout();
    if (decision.kind === 'give-up') {
      this.timedOut();
      return;
    }
    this.retransmits += decision.to - decision.from + 1;
    this.#next = decision.from;
    this.#burstEnd = decision.to;
    this.#pump();
    this.armTimer(decision.delayMs);
  }

  protected async cleanup(): Promise<void> {
    // The owner closes the source (it opened it).
  }
}

export interface ReceiveTransferOptions extends EngineOptions {
  sink: BlockSink;
  blockSize: number;
  windowSize: number;
  /** What answers the request: ACK 0 or an OACK (a server's WRQ), or ACK 0 after a client got an OACK. */
  firstPacket?: Buffer;
  /** Refuse with ERROR 3 past this many bytes. */
  maxBytes?: number;
  /**
   * After the final ACK, stay this long to ACK a resent last block again (the final ACK may be
   * lost, RFC 1350 section 6); every resent last block restarts the wait.
   */
  dallyMs?: number;
  /** Called when the file is committed and the final ACK is out (before the dally). */
  onCommitted?: (result: TransferResult) => void;
  /**
   * A client that answered an OACK with ACK 0: the same OACK again means the ACK 0 was lost, so
   * it is answered again (until the first DATA arrives).
   */
  reackRepeatedOack?: boolean;
}

/** Takes a file off the wire: in-order blocks go to the sink, ACKs go back every window. */
export class ReceiveTransfer extends Engine {
  readonly #sink: BlockSink;
  readonly #window: ReceiveWindow;
  readonly #firstPacket: Buffer | undefined;
  readonly #maxBytes: number;
  readonly #dallyMs: number;
  readonly #onCommitted: ((result: TransferResult) => void) | undefined;
  readonly #reackRepeatedOack: boolean;
  #bytes = 0;
  #committing = false;
  #committed = false;
  #result: TransferResult | undefined;
  #heldAck: number | undefined;
  #holding = false;

  constructor(options: ReceiveTransferOptions) {
    super(options);
    this.#sink = options.sink;
    this.#firstPacket = options.firstPacket;
    this.#maxBytes = options.maxBytes ?? Number.POSITIVE_INFINITY;
    this.#dallyMs = options.dallyMs ?? 0;
    this.#onCommitted = options.onCommitted;
    this.#reackRepeatedOack = options.reackRepeatedOack ?? false;
    const { timeoutMs, maxTimeoutMs, retries } = options.timing;
    this.#window = new ReceiveWindow(options.blockSize, options.windowSize, retries, timeoutMs, maxTimeoutMs);
  }

  /** Send the first packet (if any) and, if the request was answered with DATA, take it. */
  start(firstData?: Buffer): Promise<TransferResult> {
    this.attach();
    if (this.#firstPacket) this.send(this.#firstPacket);
    this.armTimer(this.timing.timeoutMs);
    if (firstData) this.onPeerDatagram(firstData);
    return this.done;
  }

  protected onPeerDatagram(message: Buffer): void {
    if (message.length >= 4 && message[0] === 0 && message[1] === Opcode.DATA) {
      this.#onData((message[2]! << 8) | message[3]!, message.subarray(4));
      return;
    }
    if (this.#committed) {
      // The file is in place; whatever the peer says now cannot undo that.
      this.#endDally();
      return;
    }
    this.unexpected(message);
  }

  protected override onRepeatedStart(type: 'RRQ' | 'WRQ' | 'OACK'): void {
    if (type === 'OACK' && this.#reackRepeatedOack && this.#window.expected === 1 && this.#firstPacket) this.send(this.#firstPacket);
  }

  override abort(reason: string, tftpCode?: number): void {
    if (this.#committed) this.#endDally();
    else super.abort(reason, tftpCode);
  }

  #endDally(): void {
    this.succeed({ bytes: this.#bytes, blocks: this.#result?.blocks ?? 0 });
  }

  #onData(block16: number, data: Buffer): void {
    if (this.#committed) {
      // Dallying: the final ACK was lost and the last block came again. Answer, and stay a
      // while longer, as long as the sender keeps asking (each time restarts the dally).
      if (block16 === wireBlock(this.#window.expected - 1)) {
        this.#sendAck(this.#window.expected - 1);
        this.armTimer(this.#dallyMs);
      }
      return;
    }
    if (this.#committing) return;
    const decision = this.#window.onData(block16, data.length);
    switch (decision.kind) {
      case 'illegal':
        this.fail(new TftpTransferError(decision.message, { tftpCode: TftpErrorCode.ILLEGAL_OPERATION }), TftpErrorCode.ILLEGAL_OPERATION, decision.message);
        return;
      case 'discard':
        if (decision.ack !== undefined) this.#ack(decision.ack);
        return;
      case 'accept':
        break;
    }
    this.#bytes += data.length;
    if (this.#bytes > this.#maxBytes) {
      this.fail(new TftpTransferError(`the upload exceeds the limit of ${this.#maxBytes} bytes`, { tftpCode: TftpErrorCode.DISK_FULL }), TftpErrorCode.DISK_FULL, `file too large: the limit is ${this.#maxBytes} bytes`);
      return;
    }
    if (data.length > 0) this.#sink.write(data);
    this.onProgress?.(this.#bytes);
    this.armTimer(this.timing.timeoutMs);
    if (decision.last) {
      this.#commit(decision.absolute);
      return;
    }
    if (decision.ack !== undefined) this.#ack(decision.ack);
  }

  /** ACK now, unless the disk is behind: then hold the ACK (the newest one) until it catches up. */
  #ack(block: number): void {
    if (this.#holding || this.#sink.backlog >= SINK_HIGH_WATER_BYTES) {
      this.#heldAck = block;
      if (this.#holding) return;
      this.#holding = true;
      this.#sink.drained().then(
        () => {
          this.#holding = false;
          const held = this.#heldAck;
          this.#heldAck = undefined;
          if (held !== undefined && !this.finished && !this.#committing) this.#sendAck(held);
        },
        (error: unknown) => this.#writeFailed(error),
      );
      return;
    }
    this.#sendAck(block);
  }

  #sendAck(block: number): void {
    if (block === 0 && this.#firstPacket) this.send(this.#firstPacket);
    else this.send(formatAck(wireBlock(block)));
  }

  #commit(lastBlock: number): void {
    this.#committing = true;
    this.disarmTimer();
    this.#sink.finish().then(
      () => {
        if (this.finished) return;
        this.#committed = true;
        this.#result = { bytes: this.#bytes, blocks: lastBlock, retransmits: this.retransmits, durationMs: performance.now() - this.startedAt };
        this.#onCommitted?.(this.#result);
        if (this.#dallyMs > 0) {
          this.#sendAck(lastBlock);
          this.armTimer(this.#dallyMs);
        } else {
          void this.sendFinal(formatAck(wireBlock(lastBlock))).then(() => this.succeed({ bytes: this.#bytes, blocks: lastBlock }));
        }
      },
      (error: unknown) => this.#writeFailed(error),
    );
  }

  #writeFailed(error: unknown): void {
    if (error instanceof TftpRefusal) {
      this.fail(new TftpTransferError(error.message, { tftpCode: error.tftpCode, cause: error }), error.tftpCode, error.message);
      return;
    }
    const text = error instanceof Error ? error.message : String(error);
    this.fail(new TftpTransferError(`cannot write the file: ${text}`, { cause: error }), TftpErrorCode.NOT_DEFINED, 'write error');
  }

  protected onTimeout(): void {
    if (this.#committed) {
      this.#endDally();
      return;
    }
    if (this.gaveUpUnanswered(this.retransmits + 1)) return;
    const decision = this.#window.onTimeout();
    if (decision.kind === 'give-up') {
      this.timedOut();
      return;
    }
    this.retransmits++;
    this.#sendAck(decision.ack);
    this.armTimer(decision.delayMs);
  }

  protected async cleanup(success: boolean): Promise<void> {
    if (!success && !this.#committed) await this.#sink.abort();
  }
}
