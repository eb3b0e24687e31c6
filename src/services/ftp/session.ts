/**
 * One FTP control connection: reads commands one at a time, in order, asks the session state
 * (protocol/session-state.ts) whether each may run, and runs its handler from the command table
 * (commands/index.ts). A transfer runs in the background so that ABOR, STAT, NOOP and QUIT are
 * answered while it runs; other commands sent meanwhile wait for it to end.
 *
 * What the handlers share lives here: replies and goodbyes, the logged-in home and path
 * resolution, quota, the data connection set up by PASV/PORT, the transfer runner, TLS.
 */
import type { Socket } from 'node:net';
import { Duplex } from 'node:stream';
import tls from 'node:tls';
import type { Connection, StreamHandler } from '../../core/connection.js';
import { WharfError, isErrnoException } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import type { ServiceMetrics } from '../../core/metrics.js';
import type { Store, VerifyResult } from '../../store/index.js';
import { FileRootRefusal } from '../../store/file-root.js';
import { COMMAND_HANDLERS, type RenameSource } from './commands/index.js';
import type { FtpConfig } from './config.js';
import { secureDataSocket, type DataConnectionSource, type PassivePortAllocator } from './data-channel.js';
import { FtpReplyError, replyForFsError, type Home } from './files.js';
import { formatTransferLine } from './log-lines.js';
import { CommandInbox, type InboxEvent } from './protocol/command-inbox.js';

type CommandEvent = Extract<InboxEvent, { kind: 'command' }>;
import { knownCommand, printable, type ParsedCommand } from './protocol/commands.js';
import { resolveVirtualPath } from './protocol/paths.js';
import { formatReply } from './protocol/replies.js';
import { FtpSessionState, type Refusal } from './protocol/session-state.js';
import type { XferlogRecord } from './protocol/xferlog.js';
import type { TransferProgress } from './transfer.js';

/** What every session shares: set up once by the server. */
export interface FtpServerContext {
  config: FtpConfig;
  store: Store;
  /** `store.accounts.verify`, with identical verifications in flight at once shared (server.ts). */
  verify: (name: string, password: string, clientIp: string) => Promise<VerifyResult>;
  logger: Logger;
  metrics: ServiceMetrics;
  /** `<root>/users`: each account's home is a folder named after it. */
  usersRoot: string;
  /** `<root>/public`: the anonymous read-only tree. */
  publicRoot: string;
  passivePorts: PassivePortAllocator;
  /** Real paths with an upload in progress (in this process): a second upload of one file waits its turn. */
  uploadLocks: Set<string>;
  /** Working files of this process's uploads in progress: a crash recovery leaves them alone. */
  workingFiles: Set<string>;
  /** Accounts whose home is being recovered (recovery.ts) before their login is answered. */
  recoveries: Map<string, Promise<void>>;
  xferlog: ((record: XferlogRecord) => void) | undefined;
  secureContext: tls.SecureContext | undefined;
  /** Open sessions (for STAT counts and shutdown). */
  sessions: Set<FtpSession>;
}

/** A virtual path inside the home: what the user sees, and its segments below the home. */
export interface VirtualTarget {
  path: string;
  segments: string[];
}

/** Commands that arrive during a transfer and must wait for it; beyond this many, reading stops. */
const MAX_DEFERRED = 16;

type AbortReason = 'abor' | 'control-closed' | 'timeout' | 'shutdown';

export class TransferState {
  readonly controller = new AbortController();
  readonly progress: TransferProgress = { bytes: 0 };
  readonly startedAt = Date.now();
  abortReason: AbortReason | undefined;
  /** ABOR arrived: after the transfer's own reply, answer 226 for the ABOR too. */
  aborReplyOwed = false;

  constructor(
    readonly verb: string,
    readonly path: string,
    readonly size: number | undefined,
  ) {}

  abort(reason: AbortReason): void {
    this.abortReason ??= reason;
    this.controller.abort();
  }
}

export interface TransferInfo {
  verb: string;
  path: string;
  opening: string;
  size?: number;
  /** For the transfer log; listings are not logged. */
  direction?: 'incoming' | 'outgoing';
}

/** What a transfer does once its data connection is open: resolves to the 226 text. */
export type TransferRun = (socket: Duplex, transfer: TransferState) => Promise<string>;

function errnoCode(error: unknown): string | undefined {
  return isErrnoException(error) ? error.code : undefined;
}

export class FtpSession {
  readonly ctx: FtpServerContext;
  readonly log: Logger;
  readonly ip: string;
  readonly state: FtpSessionState<RenameSource>;
  /** Failed PASS commands in a row, for `maxLoginFailures`. */
  loginFailures = 0;

  readonly #connection: Connection;
  readonly #inbox: CommandInbox;
  #home: Home | undefined;
  /** The data connection set up by PASV/EPSV/PORT/EPRT, for the next transfer. */
  #data: DataConnectionSource | undefined;
  #transfer: TransferState | undefined;
  readonly #deferred: CommandEvent[] = [];

  #tlsSocket: tls.TLSSocket | undefined;
  #tlsInput: Duplex | undefined;
  #pumping = false;
  #closed = false;
  /** A goodbye (221/421) was sent: no more commands. */
  #ending = false;
  #peerEnded = false;
  #shuttingDown = false;
  #readingPaused = false;
  #backlogTimer: NodeJS.Timeout | undefined;
  #badCommands = 0;

  constructor(connection: Connection, ctx: FtpServerContext) {
    this.#connection = connection;
    this.ctx = ctx;
    this.ip = connection.remoteAddress;
    this.#inbox = new CommandInbox(ctx.config.maxCommandBytes);
    this.log = ctx.logger.child({ session: connection.id, peer: this.ip });
    this.state = new FtpSessionState({ requireTls: ctx.config.requireTls });
    ctx.sessions.add(this);
  }

  /** The StreamHandler the StreamServer drives; sends the greeting. */
  start(): StreamHandler {
    this.reply(220, this.ctx.config.banner);
    return {
      data: (chunk) => {
        if (this.#tlsInput) this.#tlsInput.push(chunk);
        else this.#received(chunk);
      },
      end: () => {
        this.#peerEnded = true;
        if (this.#tlsInput) this.#tlsInput.push(null);
        // A client that closes its control connection mid-transfer is gone (killed, most likely):
        // an upload is kept as a partial, not published as a whole file.
        this.#transfer?.abort('control-closed');
        void this.#pump();
      },
      close: () => this.#onClose(),
      shutdown: () => this.#onShutdown(),
      timeout: () => this.#onIdle(),
    };
  }

  /** The account, `anonymous`, or undefined before login. */
  get user(): string | undefined {
    return this.state.account ?? (this.state.anonymousId !== undefined ? 'anonymous' : undefined);
  }

  get transferring(): boolean {
    return this.#transfer !== undefined;
  }

  /** The transfer in progress (STAT reports it, ABOR stops it). */
  get transfer(): TransferState | undefined {
    return this.#transfer;
  }

  get closed(): boolean {
    return this.#closed;
  }

  get peerEnded(): boolean {
    return this.#peerEnded;
  }

  /** The server's address on this control connection (PASV answers it; data connections start from it). */
  get localAddress(): string {
    return this.#connection.localAddress;
  }

  get controlIsIPv6(): boolean {
    return this.localAddress.includes(':');
  }

  // -------------------------------------------------------------------------------------------
  // Replies

  #write(text: string): void {
    if (this.#closed) return;
    if (this.#tlsSocket) this.#tlsSocket.write(text);
    else this.#connection.write(text);
  }

  reply(code: number, text: string | readonly string[]): void {
    this.#write(formatReply(code, text));
  }

  replyWith(refusal: Refusal): void {
    this.reply(refusal.code, refusal.message);
  }

  /** Send a goodbye and close once it is written. */
  goodbye(code: number, text: string): void {
    if (this.#ending || this.#closed) return;
    this.reply(code, text);
    this.#ending = true;
    this.#transfer?.abort('control-closed');
    this.#data?.close();
    if (this.#tlsSocket) this.#tlsSocket.end();
    else this.#connection.end();
    // A peer that never closes its side is not waited for.
    setTimeout(() => this.#connection.destroy(), 5_000).unref();
  }

  // -------------------------------------------------------------------------------------------
  // Reading commands

  #received(chunk: Buffer): void {
    this.#inbox.push(chunk);
    // While a command is being answered (a late reply to a failed login, a long HASH) the pump
    // takes nothing: stop reading here too, or a flood of commands would all be held meanwhile.
    this.#updateReading();
    void this.#pump();
  }

  #updateReading(): void {
    const backlog = this.#inbox.bufferedBytes > this.ctx.config.maxCommandBytes * 4 + 65_536 || this.#deferred.length >= MAX_DEFERRED;
    if (backlog && !this.#readingPaused) {
      this.#readingPaused = true;
      this.#connection.pauseReading();
    } else if (!backlog && this.#readingPaused) {
      this.#readingPaused = false;
      this.#connection.resumeReading();
    }
  }

  async #pump(): Promise<void> {
    if (this.#pumping) return;
    this.#pumping = true;
    let drained = false;
    try {
      while (!this.#closed && !this.#ending) {
        if (this.#repliesBacklogged()) break;
        if (!this.#transfer && this.#deferred.length > 0) {
          await this.#run(this.#deferred.shift() as CommandEvent);
          continue;
        }
        if (this.#transfer && this.#deferred.length >= MAX_DEFERRED) break;
        const event = this.#inbox.next();
        if (!event) {
          drained = true;
          break;
        }
        await this.#take(event);
      }
    } finally {
      this.#pumping = false;
    }
    if (drained && this.#peerEnded && !this.#tlsSocket) this.#inbox.dropPartialLine();
    this.#updateReading();
    if (this.#peerEnded && !this.#transfer && !this.#closed && !this.#ending && this.#inbox.bufferedBytes === 0 && this.#deferred.length === 0) {
      // The client closed its side and every command is answered.
      this.#ending = true;
      if (this.#tlsSocket) this.#tlsSocket.end();
      else this.#connection.end();
    }
  }

  async #take(event: InboxEvent): Promise<void> {
    if (event.kind === 'bad') return this.#bad(event.code, event.message);
    if (this.state.waitsForTransfer(event.command.verb)) this.#deferred.push(event);
    else await this.#run(event);
  }

  async #run(event: CommandEvent): Promise<void> {
    await this.#dispatch(event.command);
    // An AUTH that did not start TLS: the bytes after it are commands after all.
    if (event.handsOver && this.#inbox.holdingRaw) this.#inbox.resumeLines();
  }

  /**
   * A peer that sends commands and does not read the replies: past the high-water mark of what it
   * is owed, the next command waits (and so, once the inbox is full, does reading), so a
   * connection holds at most that much in replies. The Connection has no drain callback; while
   * backlogged, the pump looks again every few milliseconds.
   */
  #repliesBacklogged(): boolean {
    const owed = this.#connection.writeQueueBytes + (this.#tlsSocket?.writableLength ?? 0);
    if (owed <= this.ctx.config.writeHighWaterBytes) return false;
    this.#backlogTimer ??= setTimeout(() => {
      this.#backlogTimer = undefined;
      void this.#pump();
    }, 20);
    return true;
  }

  #bad(code: number, message: string): void {
    this.#badCommands++;
    this.reply(code, message);
    if (this.#badCommands >= this.ctx.config.maxBadCommands) this.goodbye(421, 'Too many bad commands; closing the connection.');
  }

  #onClose(): void {
    this.#closed = true;
    clearTimeout(this.#backlogTimer);
    this.#transfer?.abort('control-closed');
    this.closeData();
    this.#tlsSocket?.destroy();
    this.ctx.sessions.delete(this);
  }

  #onShutdown(): void {
    this.#shuttingDown = true;
    // A transfer in progress may finish (within the host's deadline); its end says goodbye.
    if (!this.#transfer) this.goodbye(421, 'Server shutting down; goodbye.');
  }

  #onIdle(): void {
    if (this.#transfer) return;
    this.log.debug('idle timeout');
    this.goodbye(421, `Timeout: no command for ${Math.round(this.ctx.config.idleTimeoutMs / 1000)} s; closing the connection.`);
  }

  // -------------------------------------------------------------------------------------------
  // Dispatch

  async #dispatch(command: ParsedCommand): Promise<void> {
    const verb = knownCommand(command.verb)?.verb ?? command.verb;
    const secret = verb === 'PASS' ? 'PASS ****' : verb === 'SITE' && /^register/i.test(command.argument) ? 'SITE REGISTER ****' : undefined;
    this.log.debug({ command: secret ?? `${verb} ${command.argument}`.trim() }, 'command');
    const admission = this.state.admit(command.verb, command.argument);
    if (admission.kind === 'unknown') return this.#bad(500, `Unknown command "${printable(command.verb)}".`);
    this.#badCommands = 0;
    if (admission.kind === 'refused') return this.replyWith(admission);
    try {
      await COMMAND_HANDLERS[admission.verb](this, admission);
    } catch (error) {
      this.#replyError(error, admission.verb);
    }
  }

  #replyError(error: unknown, verb: string): void {
    if (error instanceof FtpReplyError) return this.reply(error.code, error.message);
    if (error instanceof WharfError) {
      if (error.code === 'EQUOTA') return this.reply(552, `Exceeded storage allocation: ${error.message}.`);
      if (error.code === 'ESTORE') {
        this.log.warn({ err: error.message }, 'store failed');
        return this.reply(451, 'Local error: the account database is not available; try again later.');
      }
      if (error.code === 'EBADVALUE') return this.reply(501, error.message);
      this.log.info({ code: error.code, verb }, error.message);
      return this.reply(451, `Local error: ${error.message}`);
    }
    // The file system's errors, and the home's refusals (a path that leads out, a link swapped in).
    if (errnoCode(error) || error instanceof FileRootRefusal) {
      const reply = replyForFsError(error, verb);
      return this.reply(reply.code, reply.message);
    }
    this.log.error({ err: error, verb }, 'command failed');
    this.reply(451, 'Local error in processing.');
  }

  // -------------------------------------------------------------------------------------------
  // TLS on the control connection (RFC 4217): after the 234, the bytes are a TLS stream

  startTls(context: tls.SecureContext): void {
    this.state.secured();
    const connection = this.#connection;
    const input = new Duplex({
      read() {},
      write(chunk: Buffer, _encoding, callback) {
        connection.write(chunk);
        callback();
      },
      final(callback) {
        connection.end();
        callback();
      },
    });
    const secure = new tls.TLSSocket(input, { isServer: true, secureContext: context });
    this.#tlsInput = input;
    this.#tlsSocket = secure;
    const handshakeTimer = setTimeout(() => {
      this.log.info('TLS handshake timed out');
      connection.destroy();
    }, this.ctx.config.connectTimeoutMs);
    handshakeTimer.unref();
    secure.once('secure', () => clearTimeout(handshakeTimer));
    secure.on('data', (plain: Buffer) => this.#received(plain));
    secure.on('error', (error) => {
      clearTimeout(handshakeTimer);
      this.log.info({ err: error.message }, 'TLS error on the control connection');
      connection.destroy();
    });
    // The client may already have sent its ClientHello right behind the AUTH line.
    const early = this.#inbox.takeRaw();
    if (early.length > 0) input.push(early);
  }

  // -------------------------------------------------------------------------------------------
  // The home, paths, quota

  get home(): Home | undefined {
    return this.#home;
  }

  /** PASS succeeded: the home, and the account (undefined for anonymous, with its e-mail address instead). */
  loggedIn(home: Home, account: string | undefined, anonymousId?: string): void {
    this.#home = home;
    this.state.loggedInAs(account, anonymousId);
  }

  /** REIN: logged out, back to the state after the greeting (TLS stays). */
  loggedOut(): void {
    this.closeData();
    this.#home = undefined;
    this.state.reinitialize();
  }

  /** Where an argument leads from the current folder; a 5xx for one that leaves the home. */
  path(argument: string): VirtualTarget {
    const resolved = resolveVirtualPath(this.state.cwd, argument);
    if (!resolved.ok) throw new FtpReplyError(resolved.code, resolved.message);
    return resolved;
  }

  homeOrThrow(): Home {
    if (!this.#home) throw new FtpReplyError(530, 'Please log in with USER and PASS first.');
    return this.#home;
  }

  requireWritable(): Home {
    const home = this.homeOrThrow();
    if (!home.writable) throw new FtpReplyError(550, 'Permission denied: anonymous access is read-only.');
    return home;
  }

  async reserve(bytes: number): Promise<void> {
    const account = this.state.account;
    if (bytes > 0 && account !== undefined) await this.ctx.store.quota.reserve(account, bytes);
  }

  /** Give quota back; a failure is logged, not answered (the bytes are gone either way). */
  async release(bytes: number): Promise<void> {
    const account = this.state.account;
    if (bytes <= 0 || account === undefined) return;
    try {
      await this.ctx.store.quota.release(account, bytes);
    } catch (error) {
      this.log.warn({ err: (error as Error).message, bytes }, 'could not give quota back');
    }
  }

  xferlog(record: Pick<XferlogRecord, 'direction' | 'path' | 'bytes' | 'durationMs' | 'complete'>): void {
    this.ctx.xferlog?.({
      ...record,
      time: new Date(),
      remoteHost: this.ip,
      type: this.state.type,
      access: this.state.account === undefined ? 'anonymous' : 'real',
      user: this.state.account ?? this.state.anonymousId ?? '*',
    });
  }

  // -------------------------------------------------------------------------------------------
  // Data connections and transfers

  /** PASV/EPSV/PORT/EPRT set up the data connection for the next transfer (replacing any other). */
  setData(source: DataConnectionSource): void {
    this.#data?.close();
    this.#data = source;
  }

  closeData(): void {
    this.#data?.close();
    this.#data = undefined;
  }

  /** Describes the data connection for STAT. */
  get dataKind(): string | undefined {
    return this.#data?.kind;
  }

  /** A transfer may use a data connection now (checked before any file is touched). */
  checkData(): void {
    const refusal = this.state.dataRefusal(this.#data !== undefined);
    if (refusal) throw new FtpReplyError(refusal.code, refusal.message);
  }

  /**
   * Start a transfer on the data connection set up before: it runs in the background, and its
   * end sends the 226 (or why not) and lets the commands that waited go on. `abandon` cleans up
   * when the data connection never opened.
   */
  startTransfer(info: TransferInfo, run: TransferRun, abandon?: () => Promise<void>): void {
    this.checkData();
    const source = this.#data as DataConnectionSource;
    this.#data = undefined;
    const transfer = new TransferState(info.verb, info.path, info.size);
    this.#transfer = transfer;
    this.state.transferStarted();
    this.#connection.setIdleTimeout(0);
    void this.#runTransfer(source, info, transfer, run, abandon);
  }

  async #runTransfer(source: DataConnectionSource, info: TransferInfo, transfer: TransferState, run: TransferRun, abandon?: () => Promise<void>): Promise<void> {
    let raw: Socket | undefined;
    let socket: Duplex | undefined;
    let code = 226;
    let text: string;
    try {
      raw = await this.#openData(source, transfer);
      this.reply(150, info.opening);
      socket = await this.#secureData(raw, transfer);
      if (this.ctx.config.dataTimeoutMs > 0) raw.setTimeout(this.ctx.config.dataTimeoutMs, () => transfer.abort('timeout'));
      if (transfer.abortReason) throw new WharfError('EABORTED', 'aborted');
      text = await run(socket, transfer);
    } catch (error) {
      [code, text] = this.#transferFailure(error, transfer);
      if (!socket && abandon) await abandon().catch((e: unknown) => this.log.warn({ err: e }, 'cleanup after a failed transfer'));
    }
    if (raw) {
      raw.setTimeout(0);
      const closing = raw;
      if (code === 226 && socket && !socket.destroyed) socket.end();
      else socket?.destroy();
      // A client that does not close its side is not waited for.
      setTimeout(() => closing.destroy(), 5_000).unref();
    }
    this.#logTransfer(info, transfer, code, text);
    this.#transfer = undefined;
    const quit = this.state.transferEnded();
    if (this.#closed) return;
    this.#connection.setIdleTimeout(this.ctx.config.idleTimeoutMs);
    this.reply(code, text);
    if (transfer.aborReplyOwed) this.reply(226, 'ABOR command successful.');
    if (quit) this.goodbye(221, 'Goodbye.');
    else if (this.#shuttingDown) this.goodbye(421, 'Server shutting down; goodbye.');
    else void this.#pump();
  }

  async #openData(source: DataConnectionSource, transfer: TransferState): Promise<Socket> {
    try {
      return await source.open(this.ctx.config.connectTimeoutMs, transfer.controller.signal);
    } catch (error) {
      if (transfer.abortReason) throw error;
      throw new FtpReplyError(425, `Cannot open the data connection: ${(error as Error).message}.`);
    }
  }

  /** The data connection as the transfer uses it: TLS after PROT P. */
  async #secureData(raw: Socket, transfer: TransferState): Promise<Duplex> {
    if (!this.state.protectData || !this.ctx.secureContext) return raw;
    try {
      return await secureDataSocket(raw, this.ctx.secureContext, this.ctx.config.connectTimeoutMs);
    } catch (error) {
      if (transfer.abortReason) throw error;
      throw new FtpReplyError(425, `TLS negotiation on the data connection failed: ${(error as Error).message}.`);
    }
  }

  #logTransfer(info: TransferInfo, transfer: TransferState, code: number, reason: string): void {
    const bytes = transfer.progress.bytes;
    if (info.direction === 'outgoing') this.ctx.metrics.bytesOut += bytes;
    else this.ctx.metrics.bytesIn += bytes;
    if (!info.direction) return;
    const ms = Date.now() - transfer.startedAt;
    const complete = code === 226;
    this.xferlog({ direction: info.direction, path: info.path, bytes, durationMs: ms, complete });
    const line = { user: this.user ?? '-', ip: this.ip, verb: info.verb, path: info.path, bytes, ms, complete };
    this.log.info({ verb: info.verb, path: info.path, bytes, ms, outcome: complete ? 'complete' : 'aborted' }, formatTransferLine({ ...line, reason }));
  }

  #transferFailure(error: unknown, transfer: TransferState): [number, string] {
    switch (transfer.abortReason) {
      case 'abor':
        return [426, 'Connection closed; transfer aborted.'];
      case 'timeout':
        return [426, `No data for ${Math.round(this.ctx.config.dataTimeoutMs / 1000)} s; transfer aborted.`];
      case 'shutdown':
        return [426, 'Server shutting down; transfer aborted.'];
      case 'control-closed':
        return [426, 'Control connection closed; transfer aborted.'];
      default:
        break;
    }
    if (error instanceof FtpReplyError) return [error.code, error.message];
    if (error instanceof WharfError && error.code === 'EQUOTA') return [552, `Exceeded storage allocation: ${error.message}; nothing was kept.`];
    if (error instanceof WharfError && error.code === 'ESTORE') return [451, 'Local error: the account database is not available.'];
    if (error instanceof WharfError && error.code === 'ECLOSED') return [426, 'Connection closed; transfer aborted.'];
    const code = errnoCode(error);
    if (code === 'ERR_STREAM_PREMATURE_CLOSE' || code === 'ECONNRESET' || code === 'EPIPE' || code === 'ABORT_ERR') {
      return [426, 'Connection closed; transfer aborted.'];
    }
    if (code || error instanceof FileRootRefusal) {
      const reply = replyForFsError(error, transfer.path);
      return [reply.code === 550 ? 451 : reply.code, reply.message];
    }
    this.log.error({ err: error }, 'transfer failed');
    return [451, 'Local error in processing; transfer aborted.'];
  }
}
