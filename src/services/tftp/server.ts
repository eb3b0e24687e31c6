import dgram from 'node:dgram';
import { setMaxListeners } from 'node:events';
import { mkdir, realpath } from 'node:fs/promises';
import net from 'node:net';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import { DEFAULT_BUSY_POLL_MICROS } from '../../core/busy-poll.js';
import { listenSchema, portSchema, sizeSchema } from '../../core/config.js';
import { formatBytes } from '../../core/human-size.js';
import { RateLimiter } from '../../core/rate-limiter.js';
import type { ListeningAddress, RunningService, ServiceContext, ServiceDefinition } from '../../core/service.js';
import { hostUdpPorts } from '../../core/udp-guard.js';
import { DatagramServer, type DatagramPeer } from '../../core/udp-server.js';
import { FileBlockSink, FileBlockSource, FileCache, NetasciiBlockSource, type BlockSource } from './files.js';
import { TftpRefusal, openForRead, resolveWriteTarget } from './paths.js';
import {
  MAX_BLOCK_SIZE,
  Opcode,
  TftpErrorCode,
  TftpPacketError,
  formatAck,
  formatError,
  formatOack,
  negotiateOptions,
  opcodeOf,
  parsePacket,
  transferModeOf,
  type RequestPacket,
  type TransferParameters,
} from './protocol.js';
import { ReceiveTransfer, SendTransfer, TftpTransferError, immediateLookup, type TransferTiming } from './transfer.js';

export const tftpConfigSchema = z
  .object({
    ...listenSchema,
    port: portSchema.default(6969),
    /** The folder served; default `<data>/files/tftp` (created). */
    root: z.string().min(1).optional(),
    /** Accept uploads (WRQ). Off by default: a TFTP server has no passwords. */
    allowWrite: z.boolean().default(false),
    /** Let an upload replace an existing file; otherwise only new files are created. */
    allowOverwrite: z.boolean().default(false),
    /** Largest upload, in bytes (or `500M`, `1G`). */
    maxUploadBytes: sizeSchema.default(256 * 1024 * 1024),
    /** Transfers at once; further requests get an error and may retry. */
    maxTransfers: z.number().int().positive().default(256),
    /** Transfers at once from one address; 0: no per-address limit. */
    maxTransfersPerIp: z.number().int().min(0).default(64),
    /** Largest blksize granted (RFC 2348: 8–65464). */
    maxBlockSize: z.number().int().min(8).max(MAX_BLOCK_SIZE).default(MAX_BLOCK_SIZE),
    /** Largest windowsize granted (RFC 7440). */
    maxWindowSize: z.number().int().min(1).max(65535).default(64),
    /** First retransmission interval (a client's `timeout` option overrides it), then doubling. */
    timeoutMs: z.number().int().positive().default(1_000),
    /** The doubling stops here. */
    maxTimeoutMs: z.number().int().positive().default(8_000),
    /** Timeouts in a row before a transfer is dropped. */
    retries: z.number().int().min(0).max(100).default(5),
    /**
     * Microseconds to keep the event loop awake after each send for the client's answer, while
     * the client answers that fast (a client on the same host); 0 turns it off. Lockstep speed on
     * loopback is mostly the cost of waking up; see core/busy-poll.ts and docs/tftp.md.
     */
    busyPollMicros: z.number().int().min(0).max(10_000).default(DEFAULT_BUSY_POLL_MICROS),
    /**
     * Memory for files kept after a download, so that the next downloads of them are sent from
     * memory (files up to half of it; octet mode). 0 turns it off.
     */
    fileCacheBytes: sizeSchema.default(128 * 1024 * 1024),
    /** Socket buffers of a transfer whose window needs more than the kernel default. */
    socketBufferBytes: z.number().int().positive().default(4 * 1024 * 1024),
  })
  .strict();

export type TftpConfig = z.infer<typeof tftpConfigSchema>;

/** The running TFTP service, with what tests and embedders want to see. */
export interface TftpRunningService extends RunningService {
  /** The folder served (its realpath). */
  readonly root: string;
  /** Transfers in progress (including uploads waiting to re-acknowledge their last block). */
  readonly activeTransfers: number;
  /** Files held in memory for downloads (`fileCacheBytes`), and downloads sent from them. */
  readonly fileCache: { files: number; bytes: number; hits: number };
}

interface TransferSockets {
  /** Carries the transfer; connect()ed to the peer when `connected`. */
  data: dgram.Socket;
  /** Same port, unconnected: everything not from the peer lands here. */
  strays: dgram.Socket | undefined;
  port: number;
  connected: boolean;
}

interface ActiveTransfer {
  /** The client's address and port, for logs. */
  key: string;
  address: string;
  /** Settles when the transfer is over and its socket is closed. */
  finished?: Promise<void>;
  abort?: (reason: string) => void;
}

/** Start a TFTP server; the function behind `tftpService.start`, usable on its own. */
/**
 * A request's source may be forged: until the client answers, its transfer's first packet goes
 * out at most this often (the first send and two retransmissions, 1 + 2 s apart with the default
 * timing), then the transfer is dropped silently. A real client answers the first one it gets.
 */
const MAX_SENDS_UNANSWERED = 3;

export async function startTftp(ctx: ServiceContext, config: TftpConfig): Promise<TftpRunningService> {
  const logger = ctx.logger;
  const metrics = ctx.metrics;
  const rootPath = resolve(config.root ?? join(ctx.dataDir, 'files', 'tftp'));
  await mkdir(rootPath, { recursive: true });
  const root = await realpath(rootPath);
  const ipv6 = net.isIPv6(config.host);
  const transfers = new Map<string, ActiveTransfer>();
  const perIp = new Map<string, number>();
  const portsInUse = new Set<number>();
  const replies = new RateLimiter({ ratePerSecond: 200, burst: 400, maxKeys: 10_000 });
  const allowStrayReply = (address: string) => replies.take(address);
  const stopping = new AbortController();
  // Every transfer listens for the stop: as many listeners as transfers, by design.
  setMaxListeners(0, stopping.signal);
  let closed = false;

  const fileCache = config.fileCacheBytes > 0 ? new FileCache(config.fileCacheBytes) : undefined;
  const limits = { maxBlockSize: config.maxBlockSize, maxWindowSize: config.maxWindowSize, maxUploadBytes: config.maxUploadBytes };

  const main = await DatagramServer.bind({
    host: config.host,
    port: config.port,
    // A burst of requests (a lab of PXE clients booting at once) must not overflow the queue.
    receiveBufferBytes: config.socketBufferBytes,
    logger,
    metrics,
    // A request forged from another responder's port would aim a whole transfer at it.
    guard: { ownPorts: hostUdpPorts(ctx) },
    onMessage(message, peer, server) {
      const opcode = opcodeOf(message);
      if (opcode !== Opcode.RRQ && opcode !== Opcode.WRQ) {
        // Never answer an ERROR (two servers could bounce errors forever); answer the rest once.
        if (opcode === Opcode.ERROR || !replies.take(peer.address)) return;
        metrics.errors++;
        if (opcode === Opcode.DATA || opcode === Opcode.ACK || opcode === Opcode.OACK) {
          server.reply(peer, formatError(TftpErrorCode.UNKNOWN_TID, 'unknown transfer ID'));
        } else {
          server.reply(peer, formatError(TftpErrorCode.ILLEGAL_OPERATION, message.length < 2 ? 'illegal TFTP operation: truncated packet' : `illegal TFTP operation: unknown opcode ${opcode}`));
        }
        return;
      }
      let request: RequestPacket;
      try {
        request = parsePacket(message) as RequestPacket;
      } catch (error) {
        metrics.errors++;
        if (error instanceof TftpPacketError && replies.take(peer.address)) server.reply(peer, formatError(TftpErrorCode.ILLEGAL_OPERATION, `illegal TFTP operation: ${error.message}`));
        return;
      }
      accept(request, message, peer, server);
    },
  });

  function refuse(server: DatagramServer, peer: DatagramPeer, code: number, message: string): void {
    server.reply(peer, formatError(code, message));
  }

  function accept(request: RequestPacket, raw: Buffer, peer: DatagramPeer, server: DatagramServer): void {
    const key = `${peer.address}:${peer.port}`;
    // The same request again from the same port: the client has not heard our first packet yet,
    // and the transfer resends it by itself. (Another request from that port is a new transfer.)
    const id = `${key} ${raw.toString('latin1')}`;
    if (transfers.has(id) || closed) return;
    if (transfers.size >= config.maxTransfers) {
      metrics.connectionsRefused++;
      refuse(server, peer, TftpErrorCode.NOT_DEFINED, 'server busy: too many transfers, try again later');
      return;
    }
    const fromIp = perIp.get(peer.address) ?? 0;
    if (config.maxTransfersPerIp > 0 && fromIp >= config.maxTransfersPerIp) {
      metrics.connectionsRefused++;
      refuse(server, peer, TftpErrorCode.NOT_DEFINED, 'server busy: too many transfers from your address, try again later');
      return;
    }
    // Reserve the slot now, before anything asynchronous, so the caps hold under a flood.
    const active: ActiveTransfer = { key, address: peer.address };
    transfers.set(id, active);
    perIp.set(peer.address, fromIp + 1);
    metrics.connectionsOpen++;
    metrics.connectionsTotal++;
    active.finished = run(request, peer, active)
      .catch((error: unknown) => {
        metrics.errors++;
        if (error instanceof TftpRefusal) {
          logger.info({ peer: key, file: request.filename, code: error.tftpCode }, `${transferName(key, request)} refused: ${error.message}`);
          refuse(server, peer, error.tftpCode, error.message);
        } else if (error instanceof TftpTransferError) {
          logger.info({ peer: key, file: request.filename, code: error.code }, `${transferName(key, request)} aborted: ${error.message}`);
        } else {
          logger.error({ err: error, peer: key, file: request.filename }, `${transferName(key, request)} failed`);
          refuse(server, peer, TftpErrorCode.NOT_DEFINED, 'internal server error');
        }
      })
      .finally(() => {
        transfers.delete(id);
        const left = (perIp.get(peer.address) ?? 1) - 1;
        if (left <= 0) perIp.delete(peer.address);
        else perIp.set(peer.address, left);
        metrics.connectionsOpen--;
      });
  }

  function timingFor(parameters: TransferParameters): TransferTiming {
    const timeoutMs = parameters.timeoutSeconds !== undefined ? parameters.timeoutSeconds * 1000 : config.timeoutMs;
    return { timeoutMs, maxTimeoutMs: Math.max(timeoutMs, config.maxTimeoutMs), retries: config.retries };
  }

  function bindSocket(socket: dgram.Socket, port: number): Promise<void> {
    return new Promise<void>((done, fail) => {
      socket.once('error', fail);
      socket.bind({ port, address: config.host }, () => {
        socket.off('error', fail);
        done();
      });
    });
  }

  function newSocket(reuseAddr: boolean): dgram.Socket {
    const socket = dgram.createSocket({ type: ipv6 ? 'udp6' : 'udp4', lookup: immediateLookup, reuseAddr });
    socket.on('error', (error) => logger.debug({ err: error }, 'transfer socket error'));
    return socket;
  }

  /**
   * A transfer's sockets on a fresh ephemeral port (its TID): one connect()ed to the peer, which
   * carries the transfer, and one unconnected on the same port, which the kernel hands everything
   * else to and which answers it with ERROR 5. Both use SO_REUSEADDR to share the port, and a
   * SO_REUSEADDR bind to port 0 may be given a port another such socket holds: ports this server
   * already uses are skipped. If the pair cannot be made, one unconnected socket does both jobs.
   */
  async function openTransfer(windowBytes: number, peer: DatagramPeer): Promise<TransferSockets> {
    let sockets: TransferSockets | undefined;
    for (let attempt = 0; attempt < 4 && sockets === undefined; attempt++) {
      const data = newSocket(true);
      let strays: dgram.Socket | undefined;
      try {
        await bindSocket(data, 0);
        const port = data.address().port;
        if (portsInUse.has(port)) throw new Error('port already used by this server');
        strays = newSocket(true);
        await bindSocket(strays, port);
        await new Promise<void>((done, fail) => {
          data.once('error', fail);
          data.connect(peer.port, peer.address, () => {
            data.off('error', fail);
            done();
          });
        });
        portsInUse.add(port);
        sockets = { data, strays, port, connected: true };
      } catch {
        await closeSocket(data);
        if (strays) await closeSocket(strays);
      }
    }
    if (sockets === undefined) {
      const data = newSocket(false);
      await bindSocket(data, 0);
      sockets = { data, strays: undefined, port: data.address().port, connected: false };
    }
    if (windowBytes > 128 * 1024) {
      const size = Math.min(config.socketBufferBytes, windowBytes * 2);
      try {
        sockets.data.setSendBufferSize(size);
        sockets.data.setRecvBufferSize(size);
      } catch {
        // The kernel's maximum wins; the transfer still works.
      }
    }
    return sockets;
  }

  async function closeTransfer(sockets: TransferSockets): Promise<void> {
    await Promise.all([closeSocket(sockets.data), sockets.strays ? closeSocket(sockets.strays) : undefined]);
    if (sockets.connected) portsInUse.delete(sockets.port);
  }

  function closeSocket(socket: dgram.Socket): Promise<void> {
    return new Promise((done) => {
      try {
        socket.close(() => done());
      } catch {
        done();
      }
    });
  }

  async function run(request: RequestPacket, peer: DatagramPeer, active: ActiveTransfer): Promise<void> {
    const mode = transferModeOf(request.mode);
    if (mode === undefined) {
      throw new TftpRefusal(TftpErrorCode.ILLEGAL_OPERATION, `illegal TFTP operation: unsupported mode ${JSON.stringify(request.mode)} (use octet or netascii)`);
    }
    if (request.type === 'RRQ') await sendFile(request, mode === 'netascii', peer, active);
    else await receiveFile(request, mode === 'netascii', peer, active);
  }

  async function sendFile(request: RequestPacket, netascii: boolean, peer: DatagramPeer, active: ActiveTransfer): Promise<void> {
    const file = await openForRead(root, request.filename);
    let source: BlockSource | undefined;
    let caching: Promise<void> | undefined;
    let sockets: TransferSockets | undefined;
    try {
      // tsize: not for netascii (its size on the wire is not the file's), and not 0: curl (7.88)
      // fails on "tsize 0" in an OACK, and leaving the option out costs the client nothing.
      const negotiation = negotiateOptions('RRQ', request.options, limits, netascii || file.size === 0 ? undefined : file.size);
      if (!negotiation.ok) throw new TftpRefusal(negotiation.code, negotiation.message);
      const { parameters, oack } = negotiation;
      const cached = netascii ? undefined : fileCache?.get(file.info);
      if (netascii) source = new NetasciiBlockSource(parameters.blockSize, file.handle);
      else if (cached) source = new FileBlockSource(parameters.blockSize, { data: cached });
      else {
        source = new FileBlockSource(parameters.blockSize, file);
        caching = fileCache?.fill(file.handle, file.info);
      }
      sockets = await openTransfer(parameters.blockSize * parameters.windowSize, peer);
      if (stopping.signal.aborted) throw new TftpTransferError('the server is shutting down', { code: 'EABORTED' });
      const engine = new SendTransfer({
        socket: sockets.data,
        connected: sockets.connected,
        straySocket: sockets.strays,
        peer,
        peerRole: 'client',
        timing: timingFor(parameters),
        source,
        windowSize: parameters.windowSize,
        oack: oack.length > 0 ? formatOack(oack) : undefined,
        maxSendsUnanswered: MAX_SENDS_UNANSWERED,
        allowStrayReply,
        busyPollMicros: config.busyPollMicros,
        signal: stopping.signal,
        onProgress: undefined,
      });
      active.abort = (reason) => engine.abort(reason);
      logger.debug({ peer: active.key, file: request.filename, blksize: parameters.blockSize, windowsize: parameters.windowSize, netascii }, 'RRQ');
      const result = await engine.start();
      metrics.bytesOut += result.bytes;
      logger.info(
        { peer: active.key, file: request.filename, bytes: result.bytes, ms: Math.round(result.durationMs), blksize: parameters.blockSize, windowsize: parameters.windowSize, retransmits: result.retransmits },
        `${transferName(active.key, request)} complete: ${formatBytes(result.bytes)} in ${Math.round(result.durationMs)} ms${result.retransmits > 0 ? `, ${result.retransmits} retransmitted` : ''}`,
      );
    } finally {
      await caching; // it reads through the same handle
      await source?.close();
      await file.handle.close().catch(() => {}); // a source from memory does not own the handle
      if (sockets) await closeTransfer(sockets);
    }
  }

  async function receiveFile(request: RequestPacket, netascii: boolean, peer: DatagramPeer, active: ActiveTransfer): Promise<void> {
    if (!config.allowWrite) throw new TftpRefusal(TftpErrorCode.ACCESS_VIOLATION, 'access violation: this server does not accept uploads');
    const target = await resolveWriteTarget(root, request.filename, config.allowOverwrite);
    const negotiation = negotiateOptions('WRQ', request.options, limits);
    if (!negotiation.ok) throw new TftpRefusal(negotiation.code, negotiation.message);
    const { parameters, oack } = negotiation;
    const sink = await FileBlockSink.create({ path: target.path, netascii, overwrite: config.allowOverwrite });
    let sockets: TransferSockets | undefined;
    try {
      sockets = await openTransfer(parameters.blockSize * parameters.windowSize, peer);
      if (stopping.signal.aborted) throw new TftpTransferError('the server is shutting down', { code: 'EABORTED' });
    } catch (error) {
      await sink.abort();
      if (sockets) await closeTransfer(sockets);
      throw error;
    }
    try {
      const timing = timingFor(parameters);
      const engine = new ReceiveTransfer({
        socket: sockets.data,
        connected: sockets.connected,
        straySocket: sockets.strays,
        peer,
        peerRole: 'client',
        timing,
        sink,
        blockSize: parameters.blockSize,
        windowSize: parameters.windowSize,
        firstPacket: oack.length > 0 ? formatOack(oack) : formatAck(0),
        maxBytes: config.maxUploadBytes,
        dallyMs: Math.min(Math.max(3 * timing.timeoutMs, 1_000), 10_000),
        maxSendsUnanswered: MAX_SENDS_UNANSWERED,
        allowStrayReply,
        busyPollMicros: config.busyPollMicros,
        signal: stopping.signal,
        onCommitted(result) {
          metrics.bytesIn += result.bytes;
          logger.info(
            { peer: active.key, file: request.filename, bytes: result.bytes, ms: Math.round(result.durationMs), blksize: parameters.blockSize, windowsize: parameters.windowSize },
            `${transferName(active.key, request)} complete: ${formatBytes(result.bytes)} in ${Math.round(result.durationMs)} ms`,
          );
        },
      });
      active.abort = (reason) => engine.abort(reason);
      logger.debug({ peer: active.key, file: request.filename, blksize: parameters.blockSize, windowsize: parameters.windowSize, netascii }, 'WRQ');
      await engine.start();
    } finally {
      await closeTransfer(sockets);
    }
  }

  const addresses: ListeningAddress[] = main.addresses;
  return {
    name: 'tftp',
    addresses,
    root,
    get fileCache() {
      return fileCache?.stats ?? { files: 0, bytes: 0, hits: 0 };
    },
    get activeTransfers() {
      return transfers.size;
    },
    status: async () => ({ transfers: transfers.size }),
    async stop(deadlineMs = 5_000) {
      if (closed) return;
      closed = true;
      await main.stop();
      const all = () => Promise.allSettled([...transfers.values()].map((t) => t.finished));
      if (transfers.size > 0) {
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([all(), new Promise((done) => (timer = setTimeout(done, deadlineMs)))]);
        clearTimeout(timer);
      }
      stopping.abort();
      for (const transfer of transfers.values()) transfer.abort?.('the server is shutting down');
      await all();
    },
  };
}

export const tftpService: ServiceDefinition<TftpConfig> = {
  name: 'tftp',
  summary: 'TFTP server (RFC 1350 with blksize, timeout, tsize and windowsize), for PXE boot and firmware',
  configSchema: tftpConfigSchema,
  start: startTftp,
};

/** How the log names a transfer: `127.0.0.1:40000 RRQ "boot/pxelinux.0"` (the name quoted: a peer chooses it). */
function transferName(peer: string, request: RequestPacket): string {
  return `${peer} ${request.type} ${JSON.stringify(request.filename)}`;
}
