/**
 * One FTP control connection: login, the current folder, the transfer parameters (TYPE, REST,
 * PASV/PORT, PROT), and the commands, one at a time, in order. A transfer runs in the
 * background so that ABOR, STAT, NOOP and QUIT are answered while it runs; other commands sent
 * meanwhile wait for it to end.
 */
import { randomBytes } from 'node:crypto';
import { constants as fsConstants, type Stats } from 'node:fs';
import { chmod, copyFile, lstat, mkdir, open, readdir, rename, rmdir, unlink, utimes, type FileHandle } from 'node:fs/promises';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import { Duplex } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import tls from 'node:tls';
import type { Connection, StreamHandler } from '../../core/connection.js';
import { WharfError, isErrnoException } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import type { ServiceMetrics } from '../../core/metrics.js';
import type { Store, VerifyResult } from '../../store/index.js';
import type { FtpConfig } from './config.js';
import { ActiveDataSource, PassiveDataSource, secureDataSocket, type DataConnectionSource, type PassivePortAllocator } from './data-channel.js';
import { FtpReplyError, Home, OPEN_READ_FLAGS, replyForFsError, type NewEntry } from './files.js';
import {
  COMMANDS,
  CommandLineReader,
  DEFAULT_HASH,
  MLST_FACTS,
  asciiExtraBytes,
  canonicalVerb,
  featureLines,
  formatEpsvReply,
  formatFacts,
  formatHashReply,
  formatListLine,
  formatPasvReply,
  formatReply,
  formatTime,
  hasWildcards,
  hashAlgorithmNamed,
  hashRangeFor,
  helpLines,
  isInternalName,
  parseCommand,
  parseEprtArgument,
  parseMlstOpts,
  parsePortArgument,
  parseRangArgument,
  parseTime,
  partialNameFor,
  printable,
  quotePath,
  quotaRefusal,
  resolveVirtualPath,
  sameAddress,
  splitListArgument,
  uploadTempName,
  virtualBaseName,
  virtualParent,
  wildcardMatcher,
  type ByteRange,
  type EntryInfo,
  type HashAlgorithm,
  type MlstFact,
  type ParsedCommand,
  type XferlogRecord,
} from './protocol.js';
import { hashFileRange } from './hash-file.js';
import { formatTransferLine } from './log-lines.js';
import { recoverHome, writerAliveCheck } from './recovery.js';
import { UploadSink, receiveFile, sendFile, sendText, type TransferProgress } from './transfer.js';

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

const ANONYMOUS_NAMES = new Set(['anonymous', 'ftp']);
/** Commands that arrive during a transfer and must wait for it; beyond this many, reading stops. */
const MAX_DEFERRED = 16;
/** Quota is reserved ahead of an upload's bytes in steps that start here and double up to the maximum. */
const RESERVE_STEP = 1024 * 1024;
const MAX_RESERVE_STEP = 32 * 1024 * 1024;
/** SIZE in ASCII mode reads the file to count line ends; only up to this size. */
const MAX_ASCII_SIZE_SCAN = 64 * 1024 * 1024;

type AbortReason = 'abor' | 'control-closed' | 'timeout' | 'shutdown';

class TransferState {
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

interface TransferInfo {
  verb: string;
  path: string;
  opening: string;
  size?: number;
  /** For the transfer log; listings are not logged. */
  direction?: 'incoming' | 'outgoing';
}

interface RenameSource {
  segments: string[];
  path: string;
  entry: NewEntry;
}

interface UploadPlan {
  target: NewEntry;
  /** The file being written: a fresh temporary file, or the partial being continued. */
  working: string;
  /** Where an interrupted upload's bytes are kept. */
  partial: string;
  kind: 'fresh' | 'partial' | 'copy';
  /** Offset of the first byte this upload writes. */
  start: number;
  handle: FileHandle;
  lockKey: string;
}

function errnoCode(error: unknown): string | undefined {
  return isErrnoException(error) ? error.code : undefined;
}

async function lstatOrUndefined(path: string): Promise<Stats | undefined> {
  try {
    return await lstat(path);
  } catch (error) {
    if (errnoCode(error) === 'ENOENT' || errnoCode(error) === 'ENOTDIR') return undefined;
    throw error;
  }
}

export class FtpSession {
  readonly #connection: Connection;
  readonly #ctx: FtpServerContext;
  readonly #reader: CommandLineReader;
  readonly #log: Logger;
  readonly #ip: string;

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

  #userName: string | undefined;
  #anonymousPending = false;
  /** The logged-in account (undefined for anonymous). */
  #account: string | undefined;
  #anonymousId: string | undefined;
  #home: Home | undefined;
  #cwd = '/';
  #type: 'ascii' | 'binary' = 'ascii';
  #rest = 0;
  #renameFrom: RenameSource | undefined;
  #data: DataConnectionSource | undefined;
  #epsvAll = false;
  #pbsz = false;
  #protectData = false;
  #loginFailures = 0;
  #badCommands = 0;
  #transfer: TransferState | undefined;
  readonly #deferred: ParsedCommand[] = [];
  #quitAfterTransfer = false;
  #facts: MlstFact[] = [...MLST_FACTS];
  #hashAlgorithm: HashAlgorithm = DEFAULT_HASH;
  /** Set by RANG for the command right after it (HASH). */
  #range: ByteRange | undefined;

  constructor(connection: Connection, ctx: FtpServerContext) {
    this.#connection = connection;
    this.#ctx = ctx;
    this.#ip = connection.remoteAddress;
    this.#reader = new CommandLineReader(ctx.config.maxCommandBytes);
    this.#log = ctx.logger.child({ session: connection.id, peer: this.#ip });
    ctx.sessions.add(this);
  }

  /** The StreamHandler the StreamServer drives; sends the greeting. */
  start(): StreamHandler {
    this.#reply(220, this.#ctx.config.banner);
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

  get user(): string | undefined {
    return this.#account ?? (this.#anonymousId !== undefined ? 'anonymous' : undefined);
  }

  get transferring(): boolean {
    return this.#transfer !== undefined;
  }

  // -------------------------------------------------------------------------------------------
  // Control connection plumbing

  #received(chunk: Buffer): void {
    this.#reader.push(chunk);
    void this.#pump();
  }

  #write(text: string): void {
    if (this.#closed) return;
    if (this.#tlsSocket) this.#tlsSocket.write(text);
    else this.#connection.write(text);
  }

  #reply(code: number, text: string | readonly string[]): void {
    this.#write(formatReply(code, text));
  }

  /** Send a goodbye and close once it is written. */
  #goodbye(code: number, text: string): void {
    if (this.#ending || this.#closed) return;
    this.#reply(code, text);
    this.#ending = true;
    this.#transfer?.abort('control-closed');
    this.#data?.close();
    if (this.#tlsSocket) this.#tlsSocket.end();
    else this.#connection.end();
    // A peer that never closes its side is not waited for.
    setTimeout(() => this.#connection.destroy(), 5_000).unref();
  }

  #updateReading(): void {
    const backlog = this.#reader.bufferedBytes > this.#ctx.config.maxCommandBytes * 4 + 65_536 || this.#deferred.length >= MAX_DEFERRED;
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
        let command: ParsedCommand | undefined;
        if (!this.#transfer && this.#deferred.length > 0) {
          command = this.#deferred.shift();
        } else {
          if (this.#transfer && this.#deferred.length >= MAX_DEFERRED) break;
          const event = this.#reader.next();
          if (!event) {
            drained = true;
            break;
          }
          if (event.kind === 'too-long') {
            this.#bad(500, `Command line too long (the limit is ${this.#ctx.config.maxCommandBytes} bytes).`);
            continue;
          }
          const parsed = parseCommand(event.bytes);
          if (!parsed.ok) {
            this.#bad(parsed.code, parsed.message);
            continue;
          }
          command = parsed.command;
          if (this.#transfer && !COMMANDS[command.verb]?.duringTransfer) {
            this.#deferred.push(command);
            continue;
          }
        }
        if (command) await this.#dispatch(command);
      }
    } finally {
      this.#pumping = false;
    }
    // After the peer's FIN nothing can complete a line still held: an unterminated last command
    // is dropped (as Twisted's LineReceiver does), or the session would wait for it until the
    // idle timeout, holding one of the address's connection slots.
    if (drained && this.#peerEnded && !this.#tlsSocket) this.#reader.takeBuffered();
    this.#updateReading();
    if (this.#peerEnded && !this.#transfer && !this.#closed && !this.#ending && this.#reader.bufferedBytes === 0 && this.#deferred.length === 0) {
      // The client closed its side and every command is answered.
      this.#ending = true;
      if (this.#tlsSocket) this.#tlsSocket.end();
      else this.#connection.end();
    }
  }

  /**
   * A peer that sends commands and does not read the replies: past the high-water mark of what it
   * is owed, the next command waits (and so, once the reader is full, does reading), so a
   * connection holds at most that much in replies. The Connection has no drain callback; while
   * backlogged, the pump looks again every few milliseconds.
   */
  #repliesBacklogged(): boolean {
    const owed = this.#connection.writeQueueBytes + (this.#tlsSocket?.writableLength ?? 0);
    if (owed <= this.#ctx.config.writeHighWaterBytes) return false;
    this.#backlogTimer ??= setTimeout(() => {
      this.#backlogTimer = undefined;
      void this.#pump();
    }, 20);
    return true;
  }

  #bad(code: number, message: string): void {
    this.#badCommands++;
    if (this.#badCommands >= this.#ctx.config.maxBadCommands) {
      this.#reply(code, message);
      this.#goodbye(421, 'Too many bad commands; closing the connection.');
      return;
    }
    this.#reply(code, message);
  }

  #onClose(): void {
    this.#closed = true;
    clearTimeout(this.#backlogTimer);
    this.#transfer?.abort('control-closed');
    this.#data?.close();
    this.#data = undefined;
    this.#tlsSocket?.destroy();
    this.#ctx.sessions.delete(this);
  }

  #onShutdown(): void {
    this.#shuttingDown = true;
    // A transfer in progress may finish (within the host's deadline); its end says goodbye.
    if (!this.#transfer) this.#goodbye(421, 'Server shutting down; goodbye.');
  }

  #onIdle(): void {
    if (this.#transfer) return;
    this.#log.debug('idle timeout');
    this.#goodbye(421, `Timeout: no command for ${Math.round(this.#ctx.config.idleTimeoutMs / 1000)} s; closing the connection.`);
  }

  // -------------------------------------------------------------------------------------------
  // Dispatch

  async #dispatch(command: ParsedCommand): Promise<void> {
    const spec = COMMANDS[command.verb];
    const verb = canonicalVerb(command.verb);
    this.#log.debug({ command: verb === 'PASS' ? 'PASS ****' : verb === 'SITE' && /^register/i.test(command.argument) ? 'SITE REGISTER ****' : `${verb} ${command.argument}`.trim() }, 'command');
    if (!spec) {
      this.#bad(500, `Unknown command "${printable(command.verb)}".`);
      return;
    }
    this.#badCommands = 0;
    const argument = command.argument;
    if (spec.argument === 'required' && argument.trim() === '') {
      this.#reply(501, `Syntax: ${spec.syntax}.`);
      return;
    }
    if (spec.login && !this.#home) {
      this.#reply(530, 'Please log in with USER and PASS first.');
      return;
    }
    const renameFrom = this.#renameFrom;
    this.#renameFrom = undefined;
    const range = this.#range;
    this.#range = undefined;
    // A client that sends RANG before a transfer wants part of a file: never send it the whole one.
    if (range && ['RETR', 'STOR', 'APPE', 'STOU'].includes(verb)) return this.#reply(504, 'RANG applies to HASH only on this server; the range is cleared: send the transfer again without it.');
    try {
      switch (verb) {
        case 'USER':
          return this.#user(argument);
        case 'PASS':
          return await this.#pass(argument);
        case 'REIN':
          return this.#rein();
        case 'QUIT':
          if (this.#transfer) this.#quitAfterTransfer = true;
          else this.#goodbye(221, 'Goodbye.');
          return;
        case 'NOOP':
          return this.#reply(200, 'NOOP ok.');
        case 'SYST':
          return this.#reply(215, 'UNIX Type: L8');
        case 'FEAT':
          return this.#reply(211, featureLines({ tls: this.#ctx.secureContext !== undefined, facts: this.#facts, hash: this.#hashAlgorithm }));
        case 'HELP':
          return this.#help(argument);
        case 'OPTS':
          return this.#opts(argument);
        case 'CLNT':
          return this.#reply(200, 'Noted.');
        case 'ACCT':
          return this.#reply(202, 'ACCT is not needed on this server.');
        case 'TYPE':
          return this.#typeCommand(argument);
        case 'MODE':
          return this.#only(argument, 'S', ['B', 'C'], 'Mode set to S.');
        case 'STRU':
          return this.#only(argument, 'F', ['R', 'P'], 'Structure set to F.');
        case 'STAT':
          return await this.#stat(argument);
        case 'ABOR':
          return this.#abor();
        case 'AUTH':
          return this.#auth(argument);
        case 'PBSZ':
          return this.#pbszCommand(argument);
        case 'PROT':
          return this.#prot(argument);
        case 'SITE':
          return await this.#site(argument);
        case 'PWD':
          return this.#reply(257, `${quotePath(this.#cwd)} is the current directory.`);
        case 'CWD':
          return await this.#cwdCommand(argument);
        case 'CDUP':
          this.#cwd = virtualParent(this.#cwd);
          return this.#reply(250, `Directory changed to ${quotePath(this.#cwd)}.`);
        case 'MKD':
          return await this.#mkd(argument);
        case 'RMD':
          return await this.#rmd(argument);
        case 'DELE':
          return await this.#dele(argument);
        case 'RNFR':
          return await this.#rnfr(argument);
        case 'RNTO':
          return await this.#rnto(argument, renameFrom);
        case 'SIZE':
          return await this.#size(argument);
        case 'MDTM':
          return await this.#mdtm(argument);
        case 'MFMT':
          return await this.#mfmt(argument);
        case 'MLST':
          return await this.#mlst(argument);
        case 'ALLO':
          return await this.#allo(argument);
        case 'HASH':
          return await this.#hashCommand(argument, range);
        case 'RANG':
          return this.#rang(argument);
        case 'REST':
          return this.#restCommand(argument);
        case 'PASV':
          return await this.#pasv();
        case 'EPSV':
          return await this.#epsv(argument);
        case 'PORT':
          return this.#port(argument);
        case 'EPRT':
          return this.#eprt(argument);
        case 'RETR':
          return await this.#retr(argument);
        case 'STOR':
          return await this.#upload('stor', argument);
        case 'APPE':
          return await this.#upload('appe', argument);
        case 'STOU':
          return await this.#upload('stou', argument);
        case 'LIST':
        case 'NLST':
        case 'MLSD':
          return await this.#listing(verb, argument);
        default:
          return this.#reply(502, `${verb} is not implemented.`);
      }
    } catch (error) {
      this.#replyError(error, verb);
    }
  }

  #replyError(error: unknown, verb: string): void {
    if (error instanceof FtpReplyError) return this.#reply(error.code, error.message);
    if (error instanceof WharfError) {
      if (error.code === 'EQUOTA') return this.#reply(552, `Exceeded storage allocation: ${error.message}.`);
      if (error.code === 'ESTORE') {
        this.#log.warn({ err: error.message }, 'store failed');
        return this.#reply(451, 'Local error: the account database is not available; try again later.');
      }
      if (error.code === 'EBADVALUE') return this.#reply(501, error.message);
      this.#log.info({ code: error.code, verb }, error.message);
      return this.#reply(451, `Local error: ${error.message}`);
    }
    if (errnoCode(error)) return this.#reply(...fsReply(error, verb));
    this.#log.error({ err: error, verb }, 'command failed');
    this.#reply(451, 'Local error in processing.');
  }

  // -------------------------------------------------------------------------------------------
  // Login

  #user(argument: string): void {
    if (this.#home) {
      this.#reply(530, 'Already logged in; use REIN to log in as someone else.');
      return;
    }
    const name = argument.trim();
    if (ANONYMOUS_NAMES.has(name.toLowerCase())) {
      this.#userName = name;
      this.#anonymousPending = true;
      this.#reply(331, 'Anonymous login: send your e-mail address as the password.');
      return;
    }
    if (this.#ctx.config.requireTls && !this.#tlsSocket) {
      this.#reply(530, 'This server requires encryption for logins: send AUTH TLS first.');
      return;
    }
    this.#userName = name;
    this.#anonymousPending = false;
    this.#reply(331, `Password required for ${printable(name)}.`);
  }

  async #pass(password: string): Promise<void> {
    if (this.#home) {
      this.#reply(503, 'Already logged in.');
      return;
    }
    const name = this.#userName;
    if (name === undefined) {
      this.#reply(503, 'Send USER first.');
      return;
    }
    this.#userName = undefined;
    if (this.#anonymousPending) {
      if (!this.#ctx.config.anonymous) {
        await this.#loginFailed(name, 'anonymous access is off', 1_000, 'Anonymous access is not allowed on this server.');
        return;
      }
      const home = await Home.open(this.#ctx.publicRoot, { writable: false, owner: 'ftp' });
      if (this.#closed) return;
      this.#home = home;
      this.#anonymousId = password.trim().slice(0, 64) || 'anonymous';
      this.#cwd = '/';
      this.#log.info({ user: 'anonymous', id: this.#anonymousId }, `anonymous ${this.#ip} logged in (${this.#anonymousId})`);
      this.#reply(230, 'Anonymous access granted: read-only.');
      return;
    }
    const result = await this.#ctx.verify(name, password, this.#ip);
    if (this.#closed) return;
    if (!result.ok) {
      if (result.reason === 'throttled') {
        const seconds = Math.ceil((result.retryAfterMs ?? 60_000) / 1000);
        this.#log.warn({ user: name, reason: 'locked-out' }, `${printable(name)} ${this.#ip} login refused: locked out for ${seconds} s`);
        this.#goodbye(421, `Too many failed logins; try again in ${seconds} s.`);
        return;
      }
      if (result.reason === 'disabled') {
        await this.#loginFailed(name, 'the account is disabled', result.delayMs, 'This account is disabled.');
        return;
      }
      await this.#loginFailed(name, 'wrong name or password', result.delayMs, 'Login incorrect.', result.retryAfterMs);
      return;
    }
    const account = result.account.name;
    const home = await Home.open(join(this.#ctx.usersRoot, account), { writable: true, owner: account });
    await this.#recoverHome(account, home);
    if (this.#closed) return;
    this.#home = home;
    this.#account = account;
    this.#cwd = '/';
    this.#loginFailures = 0;
    this.#log.info({ user: account }, `${account} ${this.#ip} logged in`);
    this.#reply(230, 'Login successful.');
  }

  async #loginFailed(name: string, why: string, delayMs: number, message: string, lockedForMs?: number): Promise<void> {
    this.#loginFailures++;
    const locked = lockedForMs !== undefined && lockedForMs > 0 ? `; locked out for ${Math.ceil(lockedForMs / 1000)} s` : '';
    this.#log.warn(
      { user: name, reason: why, failures: this.#loginFailures, ...(locked ? { lockedForMs } : {}) },
      `${printable(name)} ${this.#ip} login failed: ${why} (${this.#loginFailures} of ${this.#ctx.config.maxLoginFailures})${locked}`,
    );
    // Answer late (vsftpd delay_failed_login, pyftpdlib auth_failed_timeout): guessing gets slow.
    if (delayMs > 0) await sleep(delayMs);
    if (this.#closed) return;
    if (lockedForMs !== undefined && lockedForMs > 0) {
      this.#reply(530, message);
      this.#goodbye(421, `Too many failed logins; try again in ${Math.ceil(lockedForMs / 1000)} s.`);
      return;
    }
    if (this.#loginFailures >= this.#ctx.config.maxLoginFailures) {
      this.#reply(530, message);
      this.#goodbye(421, 'Too many failed logins; closing the connection.');
      return;
    }
    this.#reply(530, message);
  }

  /**
   * Before the first session of an account in this process is let in: turn what a crash left in
   * its home into resumable partials and set its quota use from the bytes on disk (docs/ftp.md,
   * "After a crash"). Logins of the account meanwhile wait for the same walk; while another of its
   * sessions is open (maybe uploading, with quota reserved ahead), nothing is recounted.
   */
  async #recoverHome(account: string, home: Home): Promise<void> {
    const recoveries = this.#ctx.recoveries;
    const running = recoveries.get(account);
    if (running) return running;
    for (const session of this.#ctx.sessions) if (session !== this && session.user === account) return;
    const recovery = (async () => {
      try {
        const found = await recoverHome(home.root, writerAliveCheck(this.#ctx.workingFiles));
        if (found.kept + found.removed > 0) {
          this.#log.warn({ user: account, ...found }, `${account}: ${found.kept} interrupted upload(s) kept as resumable partials, ${found.removed} removed`);
        }
        const { bytesUsed } = await this.#ctx.store.quota.usage(account);
        if (bytesUsed !== found.bytesOnDisk) {
          await this.#ctx.store.quota.setUsed(account, found.bytesOnDisk);
          this.#log.info({ user: account, was: bytesUsed, now: found.bytesOnDisk }, `${account}: quota use recounted from disk, ${bytesUsed} → ${found.bytesOnDisk} bytes`);
        }
      } catch (error) {
        this.#log.warn({ user: account, err: (error as Error).message }, `${account}: could not recover the home folder`);
      }
    })().finally(() => recoveries.delete(account));
    recoveries.set(account, recovery);
    return recovery;
  }

  #rein(): void {
    this.#data?.close();
    this.#data = undefined;
    this.#home = undefined;
    this.#account = undefined;
    this.#anonymousId = undefined;
    this.#userName = undefined;
    this.#cwd = '/';
    this.#rest = 0;
    this.#type = 'ascii';
    this.#epsvAll = false;
    this.#reply(220, 'Logged out; send USER to log in again.');
  }

  // -------------------------------------------------------------------------------------------
  // Simple commands

  #help(argument: string): void {
    const verb = argument.trim().toUpperCase();
    if (verb === '') return this.#reply(214, helpLines());
    const spec = COMMANDS[verb];
    if (!spec) return this.#reply(501, `Unknown command "${printable(verb)}".`);
    this.#reply(214, `Syntax: ${spec.syntax}.`);
  }

  #opts(argument: string): void {
    const [option = '', ...rest] = argument.trim().split(/\s+/);
    const name = option.toUpperCase();
    if (name === 'UTF8' || name === 'UTF-8') return this.#reply(200, 'Always in UTF8 mode.');
    if (name === 'MLST') {
      this.#facts = parseMlstOpts(rest.join(' '));
      return this.#reply(200, `MLST OPTS ${this.#facts.map((f) => `${f};`).join('')}`);
    }
    if (name === 'HASH') return this.#optsHash(rest.join(' '));
    this.#reply(501, `Option "${printable(option)}" not understood.`);
  }

  #typeCommand(argument: string): void {
    const words = argument.trim().toUpperCase().split(/\s+/);
    const [kind, format] = words;
    if (kind === 'A' && (format === undefined || format === 'N')) {
      this.#type = 'ascii';
      return this.#reply(200, 'Switching to ASCII mode.');
    }
    if (kind === 'I' || (kind === 'L' && format === '8')) {
      this.#type = 'binary';
      return this.#reply(200, 'Switching to Binary mode.');
    }
    if (kind === 'A' || kind === 'E' || kind === 'L') return this.#reply(504, `TYPE ${printable(argument)} is not supported.`);
    this.#reply(501, 'Syntax: TYPE A|I.');
  }

  #only(argument: string, accepted: string, known: string[], ok: string): void {
    const value = argument.trim().toUpperCase();
    if (value === accepted) return this.#reply(200, ok);
    if (known.includes(value)) return this.#reply(504, `${value} is not supported.`);
    this.#reply(501, `Syntax error in "${printable(argument)}".`);
  }

  async #stat(argument: string): Promise<void> {
    const transfer = this.#transfer;
    if (transfer) {
      const of = transfer.size !== undefined ? ` of ${transfer.size}` : '';
      return this.#reply(213, `Status: ${transfer.verb} ${transfer.path}, ${transfer.progress.bytes}${of} bytes transferred.`);
    }
    if (argument.trim() === '') {
      const lines = [
        'wharf FTP server status:',
        `Connected from ${this.#ip}`,
        this.#home ? `Logged in as ${this.user ?? ''}` : 'Not logged in',
        `TYPE: ${this.#type === 'ascii' ? 'ASCII' : 'BINARY'}; STRUcture: File; MODE: Stream`,
        `Control connection: ${this.#tlsSocket ? 'TLS' : 'plain'}; data connections: ${this.#protectData ? 'TLS' : 'plain'}`,
        `Data connection: ${this.#data ? this.#data.kind : 'none set up'}`,
        `Sessions open: ${this.#ctx.sessions.size}`,
        'End of status',
      ];
      return this.#reply(211, lines);
    }
    if (!this.#home) return this.#reply(530, 'Please log in with USER and PASS first.');
    const { path } = splitListArgument(argument);
    const v = this.#path(path || '.');
    const entries = await this.#entriesFor(v, 'LIST');
    const now = new Date();
    this.#reply(213, [`Status of ${quotePath(v.path)}:`, ...entries.map((e) => formatListLine(e, now)), 'End of status.']);
  }

  #abor(): void {
    const transfer = this.#transfer;
    if (!transfer) {
      this.#data?.close();
      this.#data = undefined;
      this.#reply(225, 'No transfer to abort.');
      return;
    }
    transfer.aborReplyOwed = true;
    transfer.abort('abor');
  }

  // -------------------------------------------------------------------------------------------
  // TLS (RFC 4217)

  #auth(argument: string): void {
    const mechanism = argument.trim().toUpperCase();
    const context = this.#ctx.secureContext;
    if (!['TLS', 'SSL', 'TLS-C', 'TLS-P'].includes(mechanism)) return this.#reply(504, `AUTH ${printable(mechanism)} is not supported; use AUTH TLS.`);
    if (!context) return this.#reply(502, 'AUTH TLS is not available: this server has no certificate configured.');
    if (this.#tlsSocket) return this.#reply(503, 'Already using TLS.');
    this.#reply(234, `AUTH ${mechanism} successful.`);
    // RFC 4217 §4: a new security exchange resets the login state.
    this.#userName = undefined;
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
      this.#log.info('TLS handshake timed out');
      connection.destroy();
    }, this.#ctx.config.connectTimeoutMs);
    handshakeTimer.unref();
    secure.once('secure', () => clearTimeout(handshakeTimer));
    secure.on('data', (plain: Buffer) => this.#received(plain));
    secure.on('error', (error) => {
      clearTimeout(handshakeTimer);
      this.#log.info({ err: error.message }, 'TLS error on the control connection');
      connection.destroy();
    });
    // The client may already have sent its ClientHello right behind the AUTH line.
    const early = this.#reader.takeBuffered();
    if (early.length > 0) input.push(early);
  }

  #pbszCommand(argument: string): void {
    if (!this.#tlsSocket) return this.#reply(503, 'PBSZ needs AUTH TLS first.');
    if (!/^\d+$/.test(argument.trim())) return this.#reply(501, 'Syntax: PBSZ 0.');
    this.#pbsz = true;
    this.#reply(200, 'PBSZ=0');
  }

  #prot(argument: string): void {
    if (!this.#tlsSocket) return this.#reply(503, 'PROT needs AUTH TLS first.');
    if (!this.#pbsz) return this.#reply(503, 'PROT needs PBSZ first.');
    const level = argument.trim().toUpperCase();
    if (level === 'P') {
      this.#protectData = true;
      return this.#reply(200, 'Protection level set to Private.');
    }
    if (level === 'C') {
      if (this.#ctx.config.requireTls) return this.#reply(536, 'This server requires encrypted data connections (PROT P).');
      this.#protectData = false;
      return this.#reply(200, 'Protection level set to Clear.');
    }
    if (level === 'S' || level === 'E') return this.#reply(536, `PROT ${level} is not supported.`);
    this.#reply(504, `Unknown protection level "${printable(level)}".`);
  }

  // -------------------------------------------------------------------------------------------
  // SITE

  async #site(argument: string): Promise<void> {
    const trimmed = argument.trim();
    const space = trimmed.indexOf(' ');
    const sub = (space === -1 ? trimmed : trimmed.slice(0, space)).toUpperCase();
    const rest = space === -1 ? '' : trimmed.slice(space + 1).trim();
    switch (sub) {
      case 'HELP':
        return this.#reply(214, [
          'SITE commands:',
          'SITE REGISTER <name> <password>  create an account (when self-registration is on)',
          'SITE QUOTA                       your storage quota and use',
          'SITE CHMOD <mode> <path>         set permission bits (the owner keeps read and write)',
          'End of SITE help.',
        ]);
      case 'REGISTER':
        return await this.#register(rest);
      case 'QUOTA': {
        if (!this.#home) return this.#reply(530, 'Please log in with USER and PASS first.');
        if (this.#account === undefined) return this.#reply(200, 'Quota: anonymous access has no quota (read-only).');
        const usage = await this.#ctx.store.quota.usage(this.#account);
        return this.#reply(200, `Quota: used=${usage.bytesUsed} quota=${usage.quotaBytes} free=${usage.freeBytes}`);
      }
      case 'CHMOD': {
        if (!this.#home) return this.#reply(530, 'Please log in with USER and PASS first.');
        this.#requireWritable();
        const match = /^([0-7]{3,4})\s+(.+)$/.exec(rest);
        if (!match) return this.#reply(501, 'Syntax: SITE CHMOD <mode> <path>.');
        const v = this.#path(match[2] as string);
        const entry = await this.#home.existing(v.segments, v.path);
        const bits = Number.parseInt(match[1] as string, 8) & 0o777;
        await chmod(entry.real, bits | (entry.stats.isDirectory() ? 0o700 : 0o600));
        return this.#reply(200, 'SITE CHMOD command ok.');
      }
      default:
        return this.#reply(500, `Unknown SITE command "${printable(sub)}" (try SITE HELP).`);
    }
  }

  async #register(rest: string): Promise<void> {
    const space = rest.indexOf(' ');
    if (space === -1) return this.#reply(501, 'Syntax: SITE REGISTER <name> <password>.');
    const name = rest.slice(0, space);
    const password = rest.slice(space + 1);
    if (this.#ctx.config.requireTls && !this.#tlsSocket) return this.#reply(530, 'This server requires encryption for passwords: send AUTH TLS first.');
    try {
      const account = await this.#ctx.store.accounts.register(name, password, this.#ip);
      this.#reply(200, `Account "${account.name}" created; log in with USER ${account.name}.`);
    } catch (error) {
      if (error instanceof WharfError) {
        if (error.code === 'ETAKEN') return this.#reply(550, `The name "${printable(name)}" is taken.`);
        if (error.code === 'EFORBIDDEN') return this.#reply(550, 'Self-registration is turned off on this server; ask an administrator for an account.');
        if (error.code === 'ETHROTTLED') return this.#reply(450, 'Too many registrations from your address; try again later.');
        if (error.code === 'EBADVALUE') return this.#reply(501, error.message);
      }
      throw error;
    }
  }

  // -------------------------------------------------------------------------------------------
  // Paths and folders

  #path(argument: string): { path: string; segments: string[] } {
    const resolved = resolveVirtualPath(this.#cwd, argument);
    if (!resolved.ok) throw new FtpReplyError(resolved.code, resolved.message);
    return resolved;
  }

  #homeOrThrow(): Home {
    if (!this.#home) throw new FtpReplyError(530, 'Please log in with USER and PASS first.');
    return this.#home;
  }

  #requireWritable(): void {
    if (!this.#homeOrThrow().writable) throw new FtpReplyError(550, 'Permission denied: anonymous access is read-only.');
  }

  async #cwdCommand(argument: string): Promise<void> {
    const v = this.#path(argument);
    const entry = await this.#homeOrThrow().existing(v.segments, v.path);
    if (!entry.stats.isDirectory()) throw new FtpReplyError(550, `${v.path}: not a folder.`);
    this.#cwd = v.path;
    this.#reply(250, `Directory changed to ${quotePath(v.path)}.`);
  }

  async #mkd(argument: string): Promise<void> {
    this.#requireWritable();
    const v = this.#path(argument);
    const target = await this.#homeOrThrow().creatable(v.segments, v.path);
    if (target.existing) throw new FtpReplyError(550, `${v.path}: already exists.`);
    try {
      await mkdir(target.real, { mode: 0o755 });
    } catch (error) {
      throw replyForFsError(error, v.path);
    }
    this.#reply(257, `${quotePath(v.path)} created.`);
  }

  async #rmd(argument: string): Promise<void> {
    this.#requireWritable();
    const v = this.#path(argument);
    const target = await this.#homeOrThrow().creatable(v.segments, v.path);
    if (!target.existing) throw new FtpReplyError(550, `${v.path}: no such folder.`);
    if (!target.existing.isDirectory()) throw new FtpReplyError(550, `${v.path}: not a folder.`);
    // The server's own files (interrupted uploads) do not keep a folder the user sees as empty.
    const names = await readdir(target.real);
    if (names.some((name) => !isInternalName(name))) throw new FtpReplyError(550, `${v.path}: the folder is not empty.`);
    for (const name of names) {
      const path = join(target.real, name);
      const stats = await lstatOrUndefined(path);
      if (stats?.isFile()) {
        await unlink(path);
        await this.#release(stats.size);
      }
    }
    try {
      await rmdir(target.real);
    } catch (error) {
      throw replyForFsError(error, v.path);
    }
    this.#reply(250, `${quotePath(v.path)} removed.`);
  }

  async #dele(argument: string): Promise<void> {
    this.#requireWritable();
    const v = this.#path(argument);
    const target = await this.#homeOrThrow().creatable(v.segments, v.path);
    if (this.#ctx.uploadLocks.has(target.real)) throw new FtpReplyError(450, `${v.path}: an upload of this file is in progress.`);
    const partial = join(target.parent, partialNameFor(target.name));
    const partialStats = await lstatOrUndefined(partial);
    if (!target.existing && !partialStats?.isFile()) throw new FtpReplyError(550, `${v.path}: no such file.`);
    if (target.existing?.isDirectory()) throw new FtpReplyError(550, `${v.path}: is a folder (use RMD).`);
    let freed = 0;
    if (target.existing) {
      try {
        await unlink(target.real);
      } catch (error) {
        throw replyForFsError(error, v.path);
      }
      freed += target.existing.size;
    }
    // Deleting a file also drops an interrupted upload of it.
    if (partialStats?.isFile()) {
      await unlink(partial).catch(() => {});
      freed += partialStats.size;
    }
    await this.#release(freed);
    this.#xferlog({ direction: 'deleted', path: v.path, bytes: target.existing?.size ?? 0, durationMs: 0, complete: true });
    this.#reply(250, `${quotePath(v.path)} deleted.`);
  }

  async #rnfr(argument: string): Promise<void> {
    this.#requireWritable();
    const v = this.#path(argument);
    const entry = await this.#homeOrThrow().creatable(v.segments, v.path);
    if (!entry.existing) throw new FtpReplyError(550, `${v.path}: no such file or folder.`);
    this.#renameFrom = { ...v, entry };
    this.#reply(350, 'Ready for RNTO.');
  }

  async #rnto(argument: string, from: RenameSource | undefined): Promise<void> {
    if (!from) throw new FtpReplyError(503, 'Send RNFR first.');
    this.#requireWritable();
    const v = this.#path(argument);
    const target = await this.#homeOrThrow().creatable(v.segments, v.path);
    if (this.#ctx.uploadLocks.has(target.real) || this.#ctx.uploadLocks.has(from.entry.real)) throw new FtpReplyError(450, 'An upload of that file is in progress; try again later.');
    if (target.existing?.isDirectory()) throw new FtpReplyError(550, `${v.path}: a folder of that name exists.`);
    const fromIsDir = from.entry.existing?.isDirectory() ?? false;
    if (fromIsDir && (v.path === from.path || v.path.startsWith(`${from.path}/`))) throw new FtpReplyError(553, 'A folder cannot be moved into itself.');
    try {
      await rename(from.entry.real, target.real);
    } catch (error) {
      throw replyForFsError(error, v.path);
    }
    if (target.existing?.isFile() && target.real !== from.entry.real) await this.#release(target.existing.size);
    this.#reply(250, `Renamed to ${quotePath(v.path)}.`);
  }

  async #size(argument: string): Promise<void> {
    const v = this.#path(argument);
    // An interrupted upload of this name (beside the previous version, if any): its size is where
    // a resume starts (curl -C -, lftp -c) and where APPE continues, so SIZE answers it.
    const partial = await this.#partialSize(v);
    if (partial !== undefined) return this.#reply(213, String(partial));
    const entry = await this.#homeOrThrow().existing(v.segments, v.path);
    if (!entry.stats.isFile()) throw new FtpReplyError(550, `${v.path}: not a plain file.`);
    if (this.#type === 'binary') return this.#reply(213, String(entry.stats.size));
    if (entry.stats.size > MAX_ASCII_SIZE_SCAN) throw new FtpReplyError(550, 'SIZE in ASCII mode is not available for files this large; send TYPE I first.');
    this.#reply(213, String(entry.stats.size + (await asciiSize(entry.real))));
  }

  async #partialSize(v: { segments: string[]; path: string }): Promise<number | undefined> {
    try {
      const target = await this.#homeOrThrow().creatable(v.segments, v.path);
      const stats = await lstatOrUndefined(join(target.parent, partialNameFor(target.name)));
      return stats?.isFile() ? stats.size : undefined;
    } catch {
      return undefined;
    }
  }

  async #mdtm(argument: string): Promise<void> {
    const v = this.#path(argument);
    const entry = await this.#homeOrThrow().existing(v.segments, v.path);
    this.#reply(213, formatTime(entry.stats.mtime));
  }

  async #mfmt(argument: string): Promise<void> {
    this.#requireWritable();
    const match = /^(\S+)\s+(.+)$/.exec(argument.trim());
    const time = match ? parseTime(match[1] as string) : undefined;
    if (!match || !time) throw new FtpReplyError(501, 'Syntax: MFMT YYYYMMDDHHMMSS <path>.');
    const v = this.#path(match[2] as string);
    const entry = await this.#homeOrThrow().existing(v.segments, v.path);
    await utimes(entry.real, entry.stats.atime, time);
    this.#reply(213, `Modify=${formatTime(time)}; ${v.path}`);
  }

  async #mlst(argument: string): Promise<void> {
    const v = this.#path(argument.trim() || '.');
    const home = this.#homeOrThrow();
    const entry = await home.existing(v.segments, v.path);
    const info = await home.entry(entry.real, virtualBaseName(v.path) || '/');
    if (!info) throw new FtpReplyError(550, `${v.path}: not a file or folder.`);
    this.#reply(250, [`Listing ${v.path}`, ` ${formatFacts(info, this.#facts, v.path)}`, 'End.']);
  }

  async #allo(argument: string): Promise<void> {
    const bytes = Number(argument.trim().split(/\s+/)[0]);
    if (!Number.isSafeInteger(bytes) || bytes < 0) throw new FtpReplyError(501, 'Syntax: ALLO <bytes>.');
    if (this.#account === undefined) return this.#reply(202, 'No storage allocation necessary.');
    const usage = await this.#ctx.store.quota.usage(this.#account);
    if (bytes > usage.freeBytes) throw new FtpReplyError(552, `${quotaRefusal(bytes, usage.freeBytes, usage.quotaBytes)}.`);
    this.#reply(200, `ALLO ok: ${usage.freeBytes} bytes free.`);
  }

  // HASH (draft-bryan-ftpext-hash) and RANG (draft-bryan-ftp-range): a client checks the bytes it
  // would resume from before it appends to them.

  #optsHash(argument: string): void {
    if (argument.trim() === '') return this.#reply(200, this.#hashAlgorithm);
    const algorithm = hashAlgorithmNamed(argument);
    if (!algorithm) return this.#reply(504, 'Unknown algorithm, current selection not changed.');
    this.#hashAlgorithm = algorithm;
    this.#reply(200, algorithm);
  }

  #rang(argument: string): void {
    const parsed = parseRangArgument(argument);
    if (!parsed.ok) return this.#reply(501, parsed.message);
    if (parsed.range === 'clear') return this.#reply(350, 'Restarting at 0. Ending byte at EOF.');
    this.#range = parsed.range;
    this.#reply(350, `Restarting at ${parsed.range.start}. Ending byte at ${parsed.range.end}.`);
  }

  async #hashCommand(argument: string, asked: ByteRange | undefined): Promise<void> {
    const v = this.#path(argument);
    const real = await this.#hashSource(v);
    let handle: FileHandle;
    try {
      handle = await open(real, OPEN_READ_FLAGS);
    } catch (error) {
      throw replyForFsError(error, v.path);
    }
    try {
      const size = (await handle.stat()).size;
      const range = hashRangeFor(size, asked);
      if (!range) throw new FtpReplyError(550, `${v.path}: the range starts past the end of the file (${size} bytes).`);
      const hex = await hashFileRange(handle, this.#hashAlgorithm, range, size === 0, () => this.#closed);
      if (hex !== undefined) this.#reply(213, formatHashReply(this.#hashAlgorithm, range, hex, v.path));
    } finally {
      await handle.close().catch(() => {});
    }
  }

  /** The file HASH reads: the file, or (as SIZE answers) an interrupted upload of it, never one being written. */
  async #hashSource(v: { segments: string[]; path: string }): Promise<string> {
    const home = this.#homeOrThrow();
    const target = await home.creatable(v.segments, v.path);
    if (this.#ctx.uploadLocks.has(target.real)) throw new FtpReplyError(450, `${v.path}: an upload of this file is in progress.`);
    if (target.existing) {
      const entry = await home.existing(v.segments, v.path);
      if (!entry.stats.isFile()) throw new FtpReplyError(550, `${v.path}: not a plain file.`);
      return entry.real;
    }
    const partial = join(target.parent, partialNameFor(target.name));
    if ((await lstatOrUndefined(partial))?.isFile()) return partial;
    throw new FtpReplyError(550, `${v.path}: no such file.`);
  }

  #restCommand(argument: string): void {
    const text = argument.trim();
    const offset = Number(text);
    if (!/^\d+$/.test(text) || !Number.isSafeInteger(offset)) return this.#reply(501, 'Syntax: REST <byte offset>.');
    this.#rest = offset;
    this.#reply(350, `Restarting at ${offset}. Send STOR or RETR to start the transfer.`);
  }

  #takeRest(): number {
    const rest = this.#rest;
    this.#rest = 0;
    return rest;
  }

  // -------------------------------------------------------------------------------------------
  // Data connection set-up

  #controlIsIPv6(): boolean {
    return this.#connection.localAddress.includes(':');
  }

  async #openPassive(): Promise<PassiveDataSource> {
    this.#data?.close();
    this.#data = undefined;
    let server;
    try {
      server = await this.#ctx.passivePorts.listen(this.#connection.localAddress);
    } catch (error) {
      this.#log.warn({ err: (error as Error).message }, 'no passive port');
      throw new FtpReplyError(425, 'Cannot open a passive port: all are in use; try again later.');
    }
    const source = new PassiveDataSource(server, {
      peerAddress: this.#ip,
      permitForeign: this.#ctx.config.permitForeignAddresses,
      acceptTimeoutMs: this.#ctx.config.connectTimeoutMs,
      logger: this.#log,
    });
    if (this.#closed) {
      source.close();
      throw new FtpReplyError(421, 'Closing.');
    }
    this.#data = source;
    return source;
  }

  async #pasv(): Promise<void> {
    if (this.#epsvAll) throw new FtpReplyError(503, 'EPSV ALL was sent: only EPSV is allowed now.');
    if (this.#controlIsIPv6()) throw new FtpReplyError(501, 'PASV is for IPv4 only; use EPSV.');
    const source = await this.#openPassive();
    const announced = this.#ctx.config.masqueradeAddress || this.#connection.localAddress;
    this.#reply(227, formatPasvReply(announced, source.port));
  }

  async #epsv(argument: string): Promise<void> {
    const value = argument.trim().toUpperCase();
    if (value === 'ALL') {
      this.#epsvAll = true;
      return this.#reply(200, 'EPSV ALL ok.');
    }
    const family = this.#controlIsIPv6() ? '2' : '1';
    if (value !== '' && value !== family) {
      if (value === '1' || value === '2') throw new FtpReplyError(522, `Network protocol not supported, use (${family})`);
      throw new FtpReplyError(501, 'Syntax: EPSV [1|2|ALL].');
    }
    const source = await this.#openPassive();
    this.#reply(229, formatEpsvReply(source.port));
  }

  #checkActiveTarget(host: string, port: number): void {
    if (!this.#ctx.config.permitForeignAddresses && !sameAddress(host, this.#ip)) {
      this.#log.warn({ target: host, port }, 'refused PORT/EPRT to a foreign address');
      throw new FtpReplyError(501, 'Rejected: the data connection must go to your own address.');
    }
    if (!this.#ctx.config.permitPrivilegedPorts && port < 1024) throw new FtpReplyError(501, 'Rejected: ports below 1024 are not allowed.');
  }

  #port(argument: string): void {
    if (this.#epsvAll) throw new FtpReplyError(503, 'EPSV ALL was sent: only EPSV is allowed now.');
    const target = parsePortArgument(argument);
    if (!target) throw new FtpReplyError(501, 'Illegal PORT command.');
    if (this.#controlIsIPv6() && !sameAddress(this.#ip, target.host)) throw new FtpReplyError(522, 'Network protocol not supported, use (2)');
    this.#checkActiveTarget(target.host, target.port);
    this.#data?.close();
    this.#data = new ActiveDataSource(target.host, target.port, this.#connection.localAddress);
    this.#reply(200, 'PORT command successful. Consider using PASV.');
  }

  #eprt(argument: string): void {
    if (this.#epsvAll) throw new FtpReplyError(503, 'EPSV ALL was sent: only EPSV is allowed now.');
    const target = parseEprtArgument(argument);
    if (!target) throw new FtpReplyError(501, 'Illegal EPRT command.');
    const family = this.#controlIsIPv6() && !/^\d+\.\d+\.\d+\.\d+$/.test(this.#ip) ? 2 : 1;
    if (target.family !== family) throw new FtpReplyError(522, `Network protocol not supported, use (${family})`);
    this.#checkActiveTarget(target.host, target.port);
    this.#data?.close();
    this.#data = new ActiveDataSource(target.host, target.port, this.#connection.localAddress);
    this.#reply(200, 'EPRT command successful.');
  }

  /** The data connection set up by PASV/EPSV/PORT/EPRT, for this one transfer. */
  #takeDataSource(): DataConnectionSource {
    this.#checkDataSource();
    const source = this.#data as DataConnectionSource;
    this.#data = undefined;
    return source;
  }

  #checkDataSource(): void {
    if (!this.#data) throw new FtpReplyError(425, 'Use PORT, PASV, EPRT or EPSV first.');
    if (this.#ctx.config.requireTls && !this.#protectData) throw new FtpReplyError(522, 'Data connections must be encrypted: send PBSZ 0 and PROT P first.');
  }

  // -------------------------------------------------------------------------------------------
  // Transfers

  #transferWith(
    source: DataConnectionSource,
    info: TransferInfo,
    run: (socket: Duplex, transfer: TransferState) => Promise<string>,
    abandon?: () => Promise<void>,
  ): void {
    const transfer = new TransferState(info.verb, info.path, info.size);
    this.#transfer = transfer;
    this.#connection.setIdleTimeout(0);
    void this.#runTransfer(source, info, transfer, run, abandon);
  }

  async #runTransfer(
    source: DataConnectionSource,
    info: TransferInfo,
    transfer: TransferState,
    run: (socket: Duplex, transfer: TransferState) => Promise<string>,
    abandon?: () => Promise<void>,
  ): Promise<void> {
    const config = this.#ctx.config;
    let socket: Duplex | undefined;
    let raw: Socket | undefined;
    let started = false;
    let code = 226;
    let text: string;
    try {
      try {
        raw = await source.open(config.connectTimeoutMs, transfer.controller.signal);
      } catch (error) {
        if (transfer.abortReason) throw error;
        throw new FtpReplyError(425, `Cannot open the data connection: ${(error as Error).message}.`);
      }
      this.#reply(150, info.opening);
      if (this.#protectData && this.#ctx.secureContext) {
        try {
          socket = await secureDataSocket(raw, this.#ctx.secureContext, config.connectTimeoutMs);
        } catch (error) {
          if (transfer.abortReason) throw error;
          throw new FtpReplyError(425, `TLS negotiation on the data connection failed: ${(error as Error).message}.`);
        }
      } else {
        socket = raw;
      }
      if (config.dataTimeoutMs > 0) raw.setTimeout(config.dataTimeoutMs, () => transfer.abort('timeout'));
      started = true;
      if (transfer.abortReason) throw new WharfError('EABORTED', 'aborted');
      text = await run(socket, transfer);
    } catch (error) {
      [code, text] = this.#transferFailure(error, transfer);
      if (!started && abandon) await abandon().catch((e: unknown) => this.#log.warn({ err: e }, 'cleanup after a failed transfer'));
    }
    if (raw) {
      raw.setTimeout(0);
      const closing = raw;
      if (code === 226 && socket && !socket.destroyed) socket.end();
      else socket?.destroy();
      // A client that does not close its side is not waited for.
      setTimeout(() => closing.destroy(), 5_000).unref();
    }
    const bytes = transfer.progress.bytes;
    if (info.direction === 'outgoing') this.#ctx.metrics.bytesOut += bytes;
    else this.#ctx.metrics.bytesIn += bytes;
    if (info.direction) {
      this.#xferlog({ direction: info.direction, path: info.path, bytes, durationMs: Date.now() - transfer.startedAt, complete: code === 226 });
      const ms = Date.now() - transfer.startedAt;
      const line = { user: this.user ?? '-', ip: this.#ip, verb: info.verb, path: info.path, bytes, ms, complete: code === 226 };
      this.#log.info({ verb: info.verb, path: info.path, bytes, ms, outcome: line.complete ? 'complete' : 'aborted' }, formatTransferLine({ ...line, reason: text }));
    }
    this.#transfer = undefined;
    if (this.#closed) return;
    this.#connection.setIdleTimeout(config.idleTimeoutMs);
    this.#reply(code, text);
    if (transfer.aborReplyOwed) this.#reply(226, 'ABOR command successful.');
    if (this.#quitAfterTransfer) this.#goodbye(221, 'Goodbye.');
    else if (this.#shuttingDown) this.#goodbye(421, 'Server shutting down; goodbye.');
    else void this.#pump();
  }

  #transferFailure(error: unknown, transfer: TransferState): [number, string] {
    switch (transfer.abortReason) {
      case 'abor':
        return [426, 'Connection closed; transfer aborted.'];
      case 'timeout':
        return [426, `No data for ${Math.round(this.#ctx.config.dataTimeoutMs / 1000)} s; transfer aborted.`];
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
    const code = errnoCode(error);
    if (code === 'ERR_STREAM_PREMATURE_CLOSE' || code === 'ECONNRESET' || code === 'EPIPE' || code === 'ABORT_ERR' || code === 'ECLOSED') {
      return [426, 'Connection closed; transfer aborted.'];
    }
    if (code) {
      const reply = replyForFsError(error, transfer.path);
      return [reply.code === 550 ? 451 : reply.code, reply.message];
    }
    this.#log.error({ err: error }, 'transfer failed');
    return [451, 'Local error in processing; transfer aborted.'];
  }

  #xferlog(record: Pick<XferlogRecord, 'direction' | 'path' | 'bytes' | 'durationMs' | 'complete'>): void {
    this.#ctx.xferlog?.({
      ...record,
      time: new Date(),
      remoteHost: this.#ip,
      type: this.#type,
      access: this.#account === undefined ? 'anonymous' : 'real',
      user: this.#account ?? this.#anonymousId ?? '*',
    });
  }

  async #retr(argument: string): Promise<void> {
    const v = this.#path(argument);
    const entry = await this.#homeOrThrow().existing(v.segments, v.path);
    if (!entry.stats.isFile()) throw new FtpReplyError(550, `${v.path}: not a plain file.`);
    const offset = this.#takeRest();
    if (offset > entry.stats.size) throw new FtpReplyError(554, `Invalid REST parameter: ${v.path} has ${entry.stats.size} bytes.`);
    this.#checkDataSource();
    let handle: FileHandle;
    try {
      handle = await open(entry.real, OPEN_READ_FLAGS);
    } catch (error) {
      throw replyForFsError(error, v.path);
    }
    const source = this.#takeDataSource();
    const size = entry.stats.size;
    const mode = this.#type === 'ascii' ? 'ASCII' : 'BINARY';
    this.#transferWith(
      source,
      { verb: 'RETR', path: v.path, size, direction: 'outgoing', opening: `Opening ${mode} mode data connection for ${v.path} (${size - offset} bytes).` },
      async (socket, transfer) => {
        try {
          await sendFile(handle, socket, { start: offset, ascii: this.#type === 'ascii', chunkBytes: this.#ctx.config.retrChunkBytes, signal: transfer.controller.signal, progress: transfer.progress });
        } finally {
          await handle.close().catch(() => {});
        }
        return 'Transfer complete.';
      },
      () => handle.close(),
    );
  }

  async #entriesFor(v: { segments: string[]; path: string }, verb: string): Promise<EntryInfo[]> {
    const home = this.#homeOrThrow();
    const entry = await home.existing(v.segments, v.path);
    if (entry.stats.isDirectory()) {
      try {
        return await home.list(entry.real);
      } catch (error) {
        throw replyForFsError(error, v.path);
      }
    }
    if (verb === 'MLSD') throw new FtpReplyError(501, `${v.path}: not a folder (MLST describes a file).`);
    const info = await home.entry(entry.real, virtualBaseName(v.path));
    return info ? [info] : [];
  }

  /** LIST/NLST of `dir/*.txt` (what `mget *.txt` sends): the matching names of the folder, when no file has that very name. */
  async #entriesOrMatches(v: { segments: string[]; path: string }, verb: string): Promise<EntryInfo[]> {
    const last = virtualBaseName(v.path);
    if (!hasWildcards(last)) return this.#entriesFor(v, verb);
    try {
      return await this.#entriesFor(v, verb);
    } catch (error) {
      if (!(error instanceof FtpReplyError) || error.code !== 550) throw error;
    }
    const parent = { segments: v.segments.slice(0, -1), path: virtualParent(v.path) };
    const folder = await this.#homeOrThrow().existing(parent.segments, parent.path);
    if (!folder.stats.isDirectory()) throw new FtpReplyError(550, `${parent.path}: not a folder.`);
    const matches = wildcardMatcher(last);
    const entries = (await this.#homeOrThrow().list(folder.real)).filter((entry) => matches(entry.name));
    if (entries.length === 0) throw new FtpReplyError(550, `${v.path}: no files match.`);
    return entries;
  }

  async #listing(verb: 'LIST' | 'NLST' | 'MLSD', argument: string): Promise<void> {
    const path = verb === 'MLSD' ? argument.trim() : splitListArgument(argument).path;
    const v = this.#path(path || '.');
    this.#checkDataSource();
    const entries = verb === 'MLSD' ? await this.#entriesFor(v, verb) : await this.#entriesOrMatches(v, verb);
    const now = new Date();
    let lines: string[];
    if (verb === 'LIST') lines = entries.map((e) => formatListLine(e, now));
    else if (verb === 'NLST') lines = entries.map((e) => e.name);
    else lines = entries.map((e) => formatFacts(e, this.#facts));
    const text = lines.map((line) => `${line}\r\n`).join('');
    const source = this.#takeDataSource();
    this.#transferWith(source, { verb, path: v.path, opening: `Here comes the listing of ${v.path}.` }, async (socket, transfer) => {
      await sendText(text, socket, { signal: transfer.controller.signal, progress: transfer.progress });
      return 'Listing sent.';
    });
  }

  // -------------------------------------------------------------------------------------------
  // Uploads: see docs/ftp.md, "Uploads, partial files and resuming"

  async #reserve(bytes: number): Promise<void> {
    if (bytes > 0 && this.#account !== undefined) await this.#ctx.store.quota.reserve(this.#account, bytes);
  }

  async #release(bytes: number): Promise<void> {
    if (bytes <= 0 || this.#account === undefined) return;
    try {
      await this.#ctx.store.quota.release(this.#account, bytes);
    } catch (error) {
      this.#log.warn({ err: (error as Error).message, bytes }, 'could not give quota back');
    }
  }

  async #uniqueTarget(argument: string): Promise<{ path: string; segments: string[] }> {
    const base = argument.trim() || 'file';
    const home = this.#homeOrThrow();
    for (let i = 0; i < 1000; i++) {
      const v = this.#path(i === 0 ? base : `${base}.${i}`);
      const target = await home.creatable(v.segments, v.path);
      const partial = await lstatOrUndefined(join(target.parent, partialNameFor(target.name)));
      if (!target.existing && !partial && !this.#ctx.uploadLocks.has(target.real)) return v;
    }
    throw new FtpReplyError(553, 'Could not find a unique name.');
  }

  async #upload(mode: 'stor' | 'appe' | 'stou', argument: string): Promise<void> {
    this.#requireWritable();
    const home = this.#homeOrThrow();
    const v = mode === 'stou' ? await this.#uniqueTarget(argument) : this.#path(argument);
    const target = await home.creatable(v.segments, v.path);
    if (target.existing && !target.existing.isFile()) throw new FtpReplyError(550, `${v.path}: ${target.existing.isDirectory() ? 'is a folder' : 'not a plain file'}.`);
    const rest = this.#takeRest();
    this.#checkDataSource();
    const locks = this.#ctx.uploadLocks;
    if (locks.has(target.real)) throw new FtpReplyError(450, `${v.path}: another upload of this file is in progress; try again later.`);
    locks.add(target.real);
    let plan: UploadPlan;
    try {
      plan = await this.#prepareUpload(target, mode, rest, v.path);
    } catch (error) {
      locks.delete(target.real);
      throw error;
    }
    const source = this.#takeDataSource();
    const mode150 = this.#type === 'ascii' ? 'ASCII' : 'BINARY';
    const opening =
      mode === 'stou'
        ? `FILE: ${target.name}`
        : plan.start > 0
          ? `Opening ${mode150} mode data connection for ${v.path}, resuming at ${plan.start}.`
          : `Opening ${mode150} mode data connection for ${v.path}.`;
    this.#transferWith(
      source,
      { verb: mode.toUpperCase(), path: v.path, direction: 'incoming', opening },
      (socket, transfer) => this.#receive(plan, socket, transfer, mode, v.path),
      () => this.#abandonUpload(plan),
    );
  }

  async #prepareUpload(target: NewEntry, mode: 'stor' | 'appe' | 'stou', rest: number, display: string): Promise<UploadPlan> {
    const partial = join(target.parent, partialNameFor(target.name));
    const partialStats = await lstatOrUndefined(partial);
    const partialSize = partialStats?.isFile() ? partialStats.size : undefined;
    const existingSize = target.existing?.isFile() ? target.existing.size : undefined;
    let kind: UploadPlan['kind'];
    let start = 0;
    if (mode === 'appe') {
      if (partialSize !== undefined) [kind, start] = ['partial', partialSize];
      else if (existingSize !== undefined) [kind, start] = ['copy', existingSize];
      else kind = 'fresh';
    } else if (rest > 0) {
      if (partialSize !== undefined && rest <= partialSize) [kind, start] = ['partial', rest];
      else if (existingSize !== undefined && rest <= existingSize) [kind, start] = ['copy', rest];
      else throw new FtpReplyError(554, `Invalid REST parameter: ${display} has ${Math.max(partialSize ?? 0, existingSize ?? 0)} bytes to resume from.`);
    } else {
      kind = 'fresh';
    }
    const temp = join(target.parent, uploadTempName(randomBytes(8).toString('hex'), target.name, process.pid));
    this.#ctx.workingFiles.add(temp);
    const createFlags = fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_NOFOLLOW;
    try {
      if (kind === 'fresh') {
        // A new upload from the start supersedes an interrupted one.
        if (partialSize !== undefined) {
          await unlink(partial);
          await this.#release(partialSize);
        }
        const handle = await open(temp, createFlags, 0o644);
        return { target, working: temp, partial, kind, start: 0, handle, lockKey: target.real };
      }
      if (kind === 'partial') {
        const handle = await open(partial, fsConstants.O_WRONLY | fsConstants.O_NOFOLLOW);
        if (start < (partialSize as number)) {
          await handle.truncate(start);
          await this.#release((partialSize as number) - start);
        }
        return { target, working: partial, partial, kind, start, handle, lockKey: target.real };
      }
      // Continue a complete file: work on a copy (a clone where the file system can), so readers
      // and an interruption never see the original half-appended.
      await this.#reserve(start);
      try {
        await copyFile(target.real, temp, fsConstants.COPYFILE_FICLONE);
        const handle = await open(temp, fsConstants.O_WRONLY | fsConstants.O_NOFOLLOW);
        await handle.truncate(start);
        return { target, working: temp, partial, kind, start, handle, lockKey: target.real };
      } catch (error) {
        await unlink(temp).catch(() => {});
        await this.#release(start);
        throw error;
      }
    } catch (error) {
      this.#ctx.workingFiles.delete(temp);
      if (error instanceof FtpReplyError || error instanceof WharfError) throw error;
      throw replyForFsError(error, display);
    }
  }

  async #abandonUpload(plan: UploadPlan): Promise<void> {
    try {
      await plan.handle.close().catch(() => {});
      if (plan.kind === 'fresh') await unlink(plan.working).catch(() => {});
      if (plan.kind === 'copy') {
        await unlink(plan.working).catch(() => {});
        await this.#release(plan.start);
      }
    } finally {
      this.#ctx.workingFiles.delete(plan.working);
      this.#ctx.uploadLocks.delete(plan.lockKey);
    }
  }

  async #receive(plan: UploadPlan, socket: Duplex, transfer: TransferState, mode: string, display: string): Promise<string> {
    const sink = new UploadSink(plan.handle, {
      position: plan.start,
      quota: this.#account === undefined ? undefined : { reserve: (bytes) => this.#reserve(bytes) },
      reserveStep: RESERVE_STEP,
      maxReserveStep: MAX_RESERVE_STEP,
      progress: transfer.progress,
    });
    let handleOpen = true;
    try {
      await receiveFile(socket, sink, { ascii: this.#type === 'ascii', signal: transfer.controller.signal });
      // A client killed mid-upload closes its data and control connections together, and the data
      // connection's end looks like a finished file. Let the event loop take one more turn, so that
      // a control connection closing at the same moment is seen and the upload kept as a partial.
      // (If it is missed, the file is published short; SIZE then APPE or REST+STOR still resume it.)
      await new Promise((resolve) => setImmediate(resolve));
      if (this.#closed || this.#peerEnded || transfer.abortReason) throw new WharfError('ECLOSED', 'the control connection closed during the upload');
      handleOpen = false;
      await plan.handle.close();
      const current = await lstatOrUndefined(plan.target.real);
      if (current && !current.isFile()) throw new FtpReplyError(550, `${display}: something that is not a file appeared under this name.`);
      await rename(plan.working, plan.target.real);
      // The previous version (if any) is gone: its bytes leave the quota.
      if (current) await this.#release(current.size);
      return mode === 'stou' ? `Transfer complete; stored as ${plan.target.name}.` : 'Transfer complete.';
    } catch (error) {
      if (handleOpen) await plan.handle.close().catch(() => {});
      if (error instanceof WharfError && error.code === 'EQUOTA') {
        // Over quota: the account is left as it was before this upload.
        if (plan.kind === 'partial') {
          await truncateFile(plan.working, plan.start);
          await this.#release(sink.written);
        } else {
          await unlink(plan.working).catch(() => {});
          await this.#release(sink.written + (plan.kind === 'copy' ? plan.start : 0));
        }
      } else if (plan.kind === 'fresh' && sink.written === 0) {
        await unlink(plan.working).catch(() => {});
      } else if (plan.working !== plan.partial) {
        // Interrupted: keep the bytes as the partial that REST+STOR or APPE continues.
        await rename(plan.working, plan.partial).catch(async (renameError: unknown) => {
          this.#log.warn({ err: renameError }, 'could not keep a partial upload');
          const stats = await lstatOrUndefined(plan.working);
          await unlink(plan.working).catch(() => {});
          if (stats) await this.#release(stats.size);
        });
      }
      throw error;
    } finally {
      const unused = sink.reserved - sink.written;
      if (unused > 0) await this.#release(unused);
      this.#ctx.workingFiles.delete(plan.working);
      this.#ctx.uploadLocks.delete(plan.lockKey);
    }
  }
}

async function truncateFile(path: string, size: number): Promise<void> {
  const handle = await open(path, fsConstants.O_WRONLY | fsConstants.O_NOFOLLOW);
  try {
    await handle.truncate(size);
  } finally {
    await handle.close();
  }
}

/** Extra bytes ASCII mode adds to a file (one CR per bare LF). */
async function asciiSize(path: string): Promise<number> {
  const handle = await open(path, OPEN_READ_FLAGS);
  try {
    let extra = 0;
    let previousWasCr = false;
    const buffer = Buffer.allocUnsafe(1024 * 1024);
    while (true) {
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, null);
      if (bytesRead === 0) return extra;
      const chunk = buffer.subarray(0, bytesRead);
      extra += asciiExtraBytes(chunk, previousWasCr);
      previousWasCr = chunk[bytesRead - 1] === 0x0d;
    }
  } finally {
    await handle.close();
  }
}

function fsReply(error: unknown, what: string): [number, string] {
  const reply = replyForFsError(error, what);
  return [reply.code, reply.message];
}
